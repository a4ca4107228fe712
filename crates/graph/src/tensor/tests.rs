//! The tensor graph against its definition: the interpreter equals the scalar interpreter on the
//! unrolled graph, bit for bit, on random tensor graphs and data.

use super::*;
use crate::Graph;
use crate::interp::{self, Data};
use crate::random::SplitMix;

/// Random tensor graphs over a scalar parameter, a vector [3], a matrix [2][3] and per-row
/// inputs (a scalar and a vector [3]).
struct Random {
    rng: SplitMix,
    graph: TGraph,
    /// Nodes built so far, by shape.
    pool: Vec<TId>,
}

const PARAMS: usize = 1 + 3 + 6;
const INPUTS: usize = 1 + 3;

impl Random {
    fn new(seed: u64) -> Random {
        let mut graph = TGraph::new();
        let pool = vec![
            graph.param(0, vec![]),
            graph.param(1, vec![3]),
            graph.param(4, vec![2, 3]),
            graph.input(0, vec![]),
            graph.input(1, vec![3]),
            graph.constant(0.5),
            graph.constant(-2.0),
            graph.iota(3),
        ];
        Random {
            rng: SplitMix::new(seed),
            graph,
            pool,
        }
    }

    fn pick(&mut self) -> TId {
        self.pool[self.rng.below(self.pool.len())]
    }

    fn pick_shape(&mut self, shape: &[usize]) -> Option<TId> {
        let fitting: Vec<TId> = self
            .pool
            .iter()
            .copied()
            .filter(|&id| self.graph.shape(id) == shape)
            .collect();
        (!fitting.is_empty()).then(|| fitting[self.rng.below(fitting.len())])
    }

    /// One more node; `None` when the random choice does not fit the operands drawn.
    fn step(&mut self) -> Option<TId> {
        let a = self.pick();
        let shape = self.graph.shape(a).to_vec();
        let node = match self.rng.below(12) {
            0..=2 => {
                let op = [Op::Add, Op::Sub, Op::Mul, Op::Div, Op::Max, Op::Pow][self.rng.below(6)];
                let b = if self.rng.below(2) == 0 {
                    self.pick_shape(&shape)?
                } else {
                    self.pick_shape(&[])?
                };
                self.graph.map(op, &[a, b])
            }
            3 | 4 => {
                let op = [
                    Op::Exp,
                    Op::Tanh,
                    Op::Sigmoid,
                    Op::Log,
                    Op::Neg,
                    Op::Softplus,
                    Op::Abs,
                ][self.rng.below(7)];
                self.graph.map(op, &[a])
            }
            5 => match shape.as_slice() {
                [2, 3] => {
                    let x = self.pick_shape(&[3])?;
                    self.graph.contract("ij,j->i", &[a, x])
                }
                [3] => {
                    let b = self.pick_shape(&[3])?;
                    let spec = ["i,i->", "i,j->ij"][self.rng.below(2)];
                    self.graph.contract(spec, &[a, b])
                }
                [3, 3] => {
                    let spec = ["ii->i", "ij->ji", "ij,jk->ik"][self.rng.below(3)];
                    if spec.contains(',') {
                        let b = self.pick_shape(&[3, 3])?;
                        self.graph.contract(spec, &[a, b])
                    } else {
                        self.graph.contract(spec, &[a])
                    }
                }
                [2] => {
                    let w = self.pick_shape(&[2, 3])?;
                    self.graph.contract("i,ij->j", &[a, w])
                }
                _ => return None,
            },
            6 => match shape.len() {
                0 => return None,
                1 => self.graph.sum_all(a),
                _ => {
                    let spec = ["ij->i", "ij->j", "ij->ji", "ij->"][self.rng.below(4)];
                    self.graph.contract(spec, &[a])
                }
            },
            7 if !shape.is_empty() => {
                let fold = [FoldOp::Max, FoldOp::Min, FoldOp::LogSumExp][self.rng.below(3)];
                let axes = 1 + self.rng.below(shape.len()) as u8;
                if fold != FoldOp::LogSumExp && self.rng.below(3) == 0 {
                    self.graph.apply(TOp::Selected { op: fold, axes }, &[a])
                } else {
                    self.graph.apply(TOp::Fold { op: fold, axes }, &[a])
                }
            }
            8 if !shape.is_empty() => {
                let axis = self.rng.below(shape.len());
                let position = self.rng.below(shape[axis]) as u32;
                self.graph.apply(
                    TOp::Index {
                        axis: axis as u8,
                        position,
                    },
                    &[a],
                )
            }
            9 if shape.len() < 2 => {
                if self.rng.below(2) == 0 {
                    let b = self.pick_shape(&shape)?;
                    self.graph.apply(TOp::Stack, &[a, b])
                } else {
                    let extent = 1 + self.rng.below(3) as u32;
                    self.graph.apply(TOp::Broadcast { extent }, &[a])
                }
            }
            10 if shape.len() < 2 => {
                let extent = 2 + self.rng.below(2) as u32;
                let position = self.rng.below(extent as usize) as u32;
                let axis = self.rng.below(shape.len() + 1) as u8;
                self.graph.apply(
                    TOp::Scatter {
                        axis,
                        position,
                        extent,
                    },
                    &[a],
                )
            }
            11 if self.graph.info(a).per_row => {
                let op = [TOp::RowMean, TOp::RowSum][self.rng.below(2)];
                self.graph.apply(op, &[a])
            }
            _ => return None,
        };
        self.pool.push(node);
        Some(node)
    }
}

fn data(rng: &mut SplitMix, rows: usize) -> Data {
    Data {
        n_rows: rows,
        columns: (0..INPUTS)
            .map(|_| (0..rows).map(|_| rng.uniform(-2.0, 2.0)).collect())
            .collect(),
    }
}

fn bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn the_interpreter_computes_what_unrolling_defines() {
    let mut compared = 0;
    for seed in 0..300u64 {
        let mut random = Random::new(seed);
        for _ in 0..25 {
            random.step();
        }
        let mut rng = SplitMix::new(seed ^ 0x5eed);
        let params: Vec<f64> = (0..PARAMS).map(|_| rng.uniform(-1.5, 1.5)).collect();
        let rows = 1 + rng.below(5);
        let data = data(&mut rng, rows);
        let tensors = &random.graph;
        let roots: Vec<TId> = tensors.ids().collect();
        let mut scalar = Graph::new();
        let unrolled = unroll(tensors, &roots, &mut scalar);
        // Row-free nodes over all rows.
        let row_free: Vec<TId> = roots
            .iter()
            .copied()
            .filter(|&r| !tensors.info(r).per_row)
            .collect();
        let tensor_values =
            super::interp::evaluate(tensors, &row_free, &params, &data, None).expect("evaluates");
        for (&root, value) in row_free.iter().zip(&tensor_values) {
            let elements = unrolled.of(root);
            let scalar_values =
                interp::evaluate(&scalar, elements, &params, &data).expect("evaluates");
            assert_eq!(
                bits(value),
                bits(&scalar_values),
                "seed {seed}, node {root:?}"
            );
            compared += 1;
        }
        // Per-row nodes on every row.
        let per_row_values =
            super::interp::evaluate_per_row(tensors, &roots, &params, &data).expect("evaluates");
        let all: Vec<NodeIdList> = roots.iter().map(|&r| unrolled.of(r).to_vec()).collect();
        let flat: Vec<crate::NodeId> = all.iter().flatten().copied().collect();
        let scalar_rows =
            interp::evaluate_per_row(&scalar, &flat, &params, &data).expect("evaluates");
        for (row, values) in per_row_values.iter().enumerate() {
            let tensor_flat: Vec<f64> = values.iter().flatten().copied().collect();
            assert_eq!(
                bits(&tensor_flat),
                bits(&scalar_rows[row]),
                "seed {seed}, row {row}"
            );
        }
    }
    assert!(compared > 3000, "{compared}");
}

type NodeIdList = Vec<crate::NodeId>;

#[test]
fn shapes_follow_the_operations() {
    let mut g = TGraph::new();
    let w = g.param(0, vec![4, 3]);
    let x = g.input(12, vec![3]);
    let z = g.contract("ij,j->i", &[w, x]);
    assert_eq!(g.shape(z), &[4]);
    assert!(g.info(z).per_row && g.info(z).depends_on_param);
    let outer = g.contract("i,j->ij", &[z, x]);
    assert_eq!(g.shape(outer), &[4, 3]);
    let mean = g.apply(TOp::RowMean, &[outer]);
    assert!(!g.info(mean).per_row);
    let lse = g.apply(
        TOp::Fold {
            op: FoldOp::LogSumExp,
            axes: 1,
        },
        &[z],
    );
    assert_eq!(g.shape(lse), &[] as &[usize]);
    assert!(g.result_shape(TOp::Map(Op::Add), &[w, x]).is_err());
    assert!(
        g.result_shape(
            TOp::Contract(Contraction::parse("ij,j->i").unwrap()),
            &[w, z]
        )
        .is_err()
    );
    // Hash-consing: the same node once.
    assert_eq!(g.contract("ij,j->i", &[w, x]), z);
}

#[test]
fn a_huge_parameter_is_one_node() {
    let mut g = TGraph::new();
    let w = g.param(0, vec![100_000, 100_000]);
    let sq = g.map(Op::Mul, &[w, w]);
    let total = g.sum_all(sq);
    assert_eq!(g.len(), 3);
    assert_eq!(g.shape(total), &[] as &[usize]);
}

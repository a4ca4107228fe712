//! Random expressions over every operation, for property tests of every stage.
//!
//! One generator serves the differentiator, the simplifier and the code generator, so that all
//! of them are checked on the same population of expressions. It is driven by a seed (proptest
//! supplies it) and is deterministic.

use crate::graph::{Graph, NodeId};
use crate::op::{CmpOp, Op};

/// A small deterministic generator (SplitMix64); the tests need reproducibility, not quality.
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in `[low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        low + (high - low) * unit
    }
}

/// What a random model looks like.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub params: usize,
    pub inputs: usize,
    /// Roughly the number of operations in each generated expression.
    pub size: usize,
}

/// A random row-free objective: `mean(per-row expression) + row-free expression` (either part
/// may be missing when the shape has no inputs). Returns the root.
pub fn random_objective(graph: &mut Graph, seed: u64, shape: Shape) -> NodeId {
    let mut rng = SplitMix::new(seed);
    let row_free = random_expression(graph, &mut rng, shape, false, shape.size);
    if shape.inputs == 0 {
        return row_free;
    }
    let per_row = random_expression(graph, &mut rng, shape, true, shape.size);
    let reduction = if rng.below(2) == 0 {
        Op::RowMean
    } else {
        Op::RowSum
    };
    let reduced = graph.unary(reduction, per_row);
    graph.add2(reduced, row_free)
}

/// A random expression of about `size` operations over params (and inputs when `per_row`).
pub fn random_expression(
    graph: &mut Graph,
    rng: &mut SplitMix,
    shape: Shape,
    per_row: bool,
    size: usize,
) -> NodeId {
    if size == 0 {
        return random_leaf(graph, rng, shape, per_row);
    }
    match rng.below(10) {
        0..=2 => {
            let op = Op::UNARY_FUNCTIONS[rng.below(Op::UNARY_FUNCTIONS.len())];
            let a = random_expression(graph, rng, shape, per_row, size - 1);
            graph.unary(op, a)
        }
        3..=7 => {
            const BINARY: [Op; 10] = [
                Op::Add,
                Op::Sub,
                Op::Mul,
                Op::Div,
                Op::Pow,
                Op::Max,
                Op::Min,
                Op::LeakyRelu,
                Op::Elu,
                Op::GuardMul,
            ];
            let op = BINARY[rng.below(BINARY.len())];
            let left = (size - 1) / 2;
            let mut a = random_expression(graph, rng, shape, per_row, left);
            let b = if op == Op::Pow && rng.below(2) == 0 {
                let exponent = [2.0, 3.0, 0.5, -1.0][rng.below(4)];
                graph.constant(exponent)
            } else {
                if op == Op::Pow {
                    // A variable exponent needs a positive base: the derivative in the exponent,
                    // b^e · log b, does not exist for a negative base.
                    a = graph.unary(Op::Exp, a);
                }
                random_expression(graph, rng, shape, per_row, size - 1 - left)
            };
            graph.binary(op, a, b)
        }
        8 => {
            let third = (size - 1) / 3;
            let a = random_expression(graph, rng, shape, per_row, third);
            let b = random_expression(graph, rng, shape, per_row, third);
            let cmp = graph.binary(Op::Cmp(CmpOp::ALL[rng.below(6)]), a, b);
            let t = random_expression(graph, rng, shape, per_row, third);
            // Reusing an operand of the condition in a branch exercises shared branch nodes.
            let f = if rng.below(2) == 0 {
                a
            } else {
                random_expression(graph, rng, shape, per_row, third)
            };
            graph.if_then_else(cmp, t, f)
        }
        _ => {
            let n = 2 + rng.below(3);
            let parts: Vec<NodeId> = (0..n)
                .map(|_| random_expression(graph, rng, shape, per_row, (size - 1) / n))
                .collect();
            graph.add(Op::LogSumExp, &parts)
        }
    }
}

fn random_leaf(graph: &mut Graph, rng: &mut SplitMix, shape: Shape, per_row: bool) -> NodeId {
    match rng.below(5) {
        0 => {
            let value = [0.5, 1.0, 2.0, -1.5, 3.0][rng.below(5)];
            graph.constant(value)
        }
        1 if per_row && shape.inputs > 0 => graph.input(rng.below(shape.inputs) as u32),
        _ if shape.params > 0 => graph.param(rng.below(shape.params) as u32),
        _ => graph.constant(0.75),
    }
}

//! The tensor interpreter: the reference for executors of tensor graphs.
//!
//! It computes what [`super::unroll`] defines, in the same order of operations, so that its
//! results equal the scalar interpreter's on the unrolled graph bit for bit: element-wise work
//! through [`Op::apply`], contractions and folds term by term in their defined order, row
//! reductions summed over the rows in order from zero.

use super::unroll::{AxisSlice, Plan};
use super::{FoldOp, TGraph, TId, TOp, size};
use crate::interp::{Data, EvalError};
use crate::op::Op;

/// Evaluates row-free roots over all data rows (or the rows of a mini-batch, with the scaling
/// of LANGUAGE.md §4): one vector of elements per root.
pub fn evaluate(
    graph: &TGraph,
    roots: &[TId],
    params: &[f64],
    data: &Data,
    rows: Option<&[usize]>,
) -> Result<Vec<Vec<f64>>, EvalError> {
    let all: Vec<usize>;
    let rows = match rows {
        Some(rows) => rows,
        None => {
            all = (0..data.n_rows).collect();
            &all
        }
    };
    let env = Env::new(graph, params, data, roots)?;
    for &row in rows {
        if row >= data.n_rows {
            return Err(EvalError::RowOutOfRange {
                row,
                n_rows: data.n_rows,
            });
        }
    }
    let mut values: Vec<Option<Vec<f64>>> = vec![None; graph.len()];
    for id in graph.cone(roots) {
        if graph.info(id).per_row {
            continue;
        }
        let value = match graph.op(id) {
            TOp::RowSum | TOp::RowMean => env.reduce(id, &values, rows),
            _ => env.node(id, &values, &[], 0),
        };
        values[id.index()] = Some(value);
    }
    roots
        .iter()
        .map(|&r| {
            if graph.info(r).per_row {
                return Err(EvalError::PerRowRoot(crate::NodeId(r.0)));
            }
            Ok(values[r.index()].clone().unwrap_or_default())
        })
        .collect()
}

/// Evaluates roots (per-row or not) on every row: `result[row][root]` holds the elements.
pub fn evaluate_per_row(
    graph: &TGraph,
    roots: &[TId],
    params: &[f64],
    data: &Data,
) -> Result<Vec<Vec<Vec<f64>>>, EvalError> {
    let env = Env::new(graph, params, data, roots)?;
    let rows: Vec<usize> = (0..data.n_rows).collect();
    let mut row_free: Vec<Option<Vec<f64>>> = vec![None; graph.len()];
    let cone = graph.cone(roots);
    for &id in &cone {
        if graph.info(id).per_row {
            continue;
        }
        let value = match graph.op(id) {
            TOp::RowSum | TOp::RowMean => env.reduce(id, &row_free, &rows),
            _ => env.node(id, &row_free, &[], 0),
        };
        row_free[id.index()] = Some(value);
    }
    let per_row: Vec<TId> = cone
        .into_iter()
        .filter(|&id| graph.info(id).per_row)
        .collect();
    Ok(rows
        .iter()
        .map(|&row| {
            let on_row = env.row(&per_row, &row_free, row);
            roots
                .iter()
                .map(|r| {
                    on_row[r.index()]
                        .clone()
                        .or_else(|| row_free[r.index()].clone())
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect())
}

/// What an evaluation reads.
struct Env<'a> {
    graph: &'a TGraph,
    params: &'a [f64],
    data: &'a Data,
}

impl<'a> Env<'a> {
    fn new(
        graph: &'a TGraph,
        params: &'a [f64],
        data: &'a Data,
        roots: &[TId],
    ) -> Result<Env<'a>, EvalError> {
        for id in graph.cone(roots) {
            let n = size(graph.shape(id));
            match graph.op(id) {
                TOp::Param(offset) if offset as usize + n > params.len() => {
                    return Err(EvalError::MissingParam {
                        index: offset as usize + n - 1,
                        given: params.len(),
                    });
                }
                TOp::Input(offset) => {
                    for k in offset as usize..offset as usize + n {
                        let column = data.columns.get(k).ok_or(EvalError::MissingColumn {
                            index: k,
                            given: data.columns.len(),
                        })?;
                        if column.len() != data.n_rows {
                            return Err(EvalError::RaggedColumn {
                                index: k,
                                len: column.len(),
                                n_rows: data.n_rows,
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(Env {
            graph,
            params,
            data,
        })
    }

    /// A row reduction: its per-row operand evaluated on every row, summed in order.
    fn reduce(&self, id: TId, row_free: &[Option<Vec<f64>>], rows: &[usize]) -> Vec<f64> {
        let graph = self.graph;
        let arg = graph.args(id)[0];
        let per_row: Vec<TId> = graph
            .cone(&[arg])
            .into_iter()
            .filter(|&n| graph.info(n).per_row)
            .collect();
        let mut sums = vec![0.0; size(graph.shape(id))];
        for &row in rows {
            let on_row = self.row(&per_row, row_free, row);
            let value = on_row[arg.index()]
                .as_deref()
                .or(row_free[arg.index()].as_deref())
                .unwrap_or(&[]);
            for (sum, v) in sums.iter_mut().zip(value) {
                *sum += v;
            }
        }
        let batch = rows.len() as f64;
        for sum in &mut sums {
            *sum = match graph.op(id) {
                TOp::RowMean => *sum / batch,
                _ if rows.len() == self.data.n_rows => *sum,
                _ => *sum * (self.data.n_rows as f64 / batch),
            };
        }
        sums
    }

    /// The per-row nodes `per_row` (topologically ordered) on one row.
    fn row(
        &self,
        per_row: &[TId],
        row_free: &[Option<Vec<f64>>],
        row: usize,
    ) -> Vec<Option<Vec<f64>>> {
        let mut values: Vec<Option<Vec<f64>>> = vec![None; self.graph.len()];
        for &id in per_row {
            let value = {
                let merged = Merged {
                    row: &values,
                    row_free,
                };
                self.node_with(id, &merged, row)
            };
            values[id.index()] = Some(value);
        }
        values
    }

    fn node(&self, id: TId, values: &[Option<Vec<f64>>], _: &[()], row: usize) -> Vec<f64> {
        let merged = Merged {
            row: values,
            row_free: &[],
        };
        self.node_with(id, &merged, row)
    }

    /// One node's elements, its operands' taken from `values`.
    fn node_with(&self, id: TId, values: &Merged, row: usize) -> Vec<f64> {
        let graph = self.graph;
        let n = size(graph.shape(id));
        let operand = |k: usize| values.get(graph.args(id)[k]);
        match graph.op(id) {
            TOp::Const(bits) => vec![f64::from_bits(bits)],
            TOp::Iota(n) => (0..n).map(f64::from).collect(),
            TOp::Param(offset) => self.params[offset as usize..offset as usize + n].to_vec(),
            TOp::Input(offset) => (offset as usize..offset as usize + n)
                .map(|k| self.data.columns[k][row])
                .collect(),
            TOp::Map(op) => {
                let operands: Vec<&[f64]> = (0..graph.args(id).len()).map(&operand).collect();
                let mut scalars = Vec::with_capacity(operands.len());
                (0..n)
                    .map(|k| {
                        scalars.clear();
                        scalars
                            .extend(operands.iter().map(|e| e[if e.len() == 1 { 0 } else { k }]));
                        op.apply(&scalars)
                    })
                    .collect()
            }
            TOp::Contract(c) => {
                let args = graph.args(id);
                let a = operand(0);
                let b = (args.len() == 2).then(|| operand(1));
                let plan = Plan::new(
                    &c,
                    graph.shape(args[0]),
                    args.get(1).map(|&b| graph.shape(b)),
                    graph.shape(id),
                );
                (0..n)
                    .map(|o| {
                        let mut total: Option<f64> = None;
                        plan.for_each_term(o, |ia, ib| {
                            let term = match (b, ib) {
                                (Some(b), Some(ib)) => Op::Mul.apply(&[a[ia], b[ib]]),
                                _ => a[ia],
                            };
                            total = Some(match total {
                                None => term,
                                Some(sum) => Op::Add.apply(&[sum, term]),
                            });
                        });
                        total.unwrap_or(0.0)
                    })
                    .collect()
            }
            TOp::Fold { op: fold, .. } => {
                let v = operand(0);
                let m = v.len() / n.max(1);
                v.chunks(m.max(1))
                    .map(|block| match fold {
                        FoldOp::LogSumExp => Op::LogSumExp.apply(block),
                        FoldOp::Max | FoldOp::Min => {
                            let op = if fold == FoldOp::Max {
                                Op::Max
                            } else {
                                Op::Min
                            };
                            block[1..]
                                .iter()
                                .fold(block[0], |acc, &x| op.apply(&[acc, x]))
                        }
                    })
                    .collect()
            }
            TOp::Selected { op: fold, axes } => {
                let v = operand(0);
                let shape = graph.shape(graph.args(id)[0]);
                let m: usize = shape[shape.len() - axes as usize..].iter().product();
                let (op, cmp) = match fold {
                    FoldOp::Min => (Op::Min, crate::op::CmpOp::Le),
                    _ => (Op::Max, crate::op::CmpOp::Ge),
                };
                let mut out = Vec::with_capacity(v.len());
                for block in v.chunks(m.max(1)) {
                    // As `unroll::selected`, operation for operation.
                    let mut kept = Vec::with_capacity(block.len());
                    let mut running = block[0];
                    for &x in &block[1..] {
                        kept.push(Op::Cmp(cmp).apply(&[running, x]));
                        running = op.apply(&[running, x]);
                    }
                    let mut selected = vec![1.0; block.len()];
                    let mut suffix = 1.0;
                    for k in (0..block.len()).rev() {
                        let won = if k == 0 {
                            1.0
                        } else {
                            Op::Sub.apply(&[1.0, kept[k - 1]])
                        };
                        selected[k] = Op::Mul.apply(&[won, suffix]);
                        if k > 0 {
                            suffix = Op::Mul.apply(&[suffix, kept[k - 1]]);
                        }
                    }
                    out.extend(selected);
                }
                out
            }
            TOp::Index { axis, position } => {
                let source = operand(0);
                let at = AxisSlice::new(graph.shape(graph.args(id)[0]), axis, position);
                (0..n).map(|o| source[at.offset(o)]).collect()
            }
            TOp::Stack => (0..graph.args(id).len())
                .flat_map(|k| operand(k).iter().copied())
                .collect(),
            TOp::Broadcast { extent } => {
                let source = operand(0);
                (0..extent).flat_map(|_| source.iter().copied()).collect()
            }
            TOp::Scatter { axis, position, .. } => {
                let slice = operand(0);
                let mut out = vec![0.0; n];
                let at = AxisSlice::new(graph.shape(id), axis, position);
                for (o, &v) in slice.iter().enumerate() {
                    out[at.offset(o)] = v;
                }
                out
            }
            // Reductions are computed by `reduce`; a per-row pass reads their values.
            TOp::RowSum | TOp::RowMean => values.get(id).to_vec(),
        }
    }
}

/// The values of one row's per-row nodes over the row-free ones.
struct Merged<'v> {
    row: &'v [Option<Vec<f64>>],
    row_free: &'v [Option<Vec<f64>>],
}

impl Merged<'_> {
    fn get(&self, id: TId) -> &[f64] {
        self.row
            .get(id.index())
            .and_then(Option::as_deref)
            .or_else(|| self.row_free.get(id.index()).and_then(Option::as_deref))
            .unwrap_or(&[])
    }
}

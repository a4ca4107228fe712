//! The reference interpreter: the oracle that the simplifier and the native code are tested
//! against.
//!
//! It evaluates in f64, stage by stage (see [`NodeFlags::stage`]): first the row-free nodes
//! that need no reduction, then one pass over the rows per nesting level of row reductions. Both
//! branches of an `if` are evaluated and one is selected, exactly as the generated code does;
//! the derivative graph is built so that the branch not taken cannot leak into the result.

use crate::graph::{Graph, NodeFlags, NodeId};
use crate::op::Op;

/// Data columns, column-major: `columns[flat input index][row]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Data {
    pub n_rows: usize,
    pub columns: Vec<Vec<f64>>,
}

impl Data {
    /// Data with no columns and no rows, for models without inputs.
    pub fn empty() -> Data {
        Data::default()
    }

    /// Builds column-major data from rows.
    pub fn from_rows(rows: &[Vec<f64>]) -> Data {
        let width = rows.first().map_or(0, Vec::len);
        let columns = (0..width)
            .map(|c| rows.iter().map(|r| r[c]).collect())
            .collect();
        Data {
            n_rows: rows.len(),
            columns,
        }
    }
}

/// Why an evaluation could not run. These are caller errors (wrong lengths), not numeric
/// problems: non-finite values are returned as values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("the graph reads parameter {index} but only {given} parameters were given")]
    MissingParam { index: usize, given: usize },
    #[error("the graph reads data column {index} but only {given} columns were given")]
    MissingColumn { index: usize, given: usize },
    #[error("data column {index} has {len} rows, expected {n_rows}")]
    RaggedColumn {
        index: usize,
        len: usize,
        n_rows: usize,
    },
    #[error("row index {row} is out of range for {n_rows} rows")]
    RowOutOfRange { row: usize, n_rows: usize },
    #[error("root {0:?} is per-row; use evaluate_per_row")]
    PerRowRoot(NodeId),
}

/// Evaluates row-free roots over all data rows.
pub fn evaluate(
    graph: &Graph,
    roots: &[NodeId],
    params: &[f64],
    data: &Data,
) -> Result<Vec<f64>, EvalError> {
    evaluate_rows(graph, roots, params, data, None)
}

/// Evaluates row-free roots over a subset of rows (a mini-batch) or all rows (`None`).
///
/// On a subset of B of the N rows, a row mean is the mean over the subset and a row sum is the
/// subset's sum scaled by N/B, an unbiased estimate of the full sum (LANGUAGE.md §4).
pub fn evaluate_rows(
    graph: &Graph,
    roots: &[NodeId],
    params: &[f64],
    data: &Data,
    rows: Option<&[usize]>,
) -> Result<Vec<f64>, EvalError> {
    if let Some(&root) = roots.iter().find(|r| graph.flags(**r).per_row) {
        return Err(EvalError::PerRowRoot(root));
    }
    let plan = Plan::new(graph, roots);
    check_inputs(graph, &plan.cone, params, data, rows)?;
    let values = plan.run(graph, params, data, rows);
    Ok(roots.iter().map(|r| values[r.index()]).collect())
}

/// Evaluates roots (per-row or not) on every row: `result[row][root]`.
pub fn evaluate_per_row(
    graph: &Graph,
    roots: &[NodeId],
    params: &[f64],
    data: &Data,
) -> Result<Vec<Vec<f64>>, EvalError> {
    let plan = Plan::new(graph, roots);
    check_inputs(graph, &plan.cone, params, data, None)?;
    let mut values = plan.run(graph, params, data, None);
    let per_row: Vec<NodeId> = plan
        .cone
        .iter()
        .copied()
        .filter(|&id| graph.flags(id).per_row)
        .collect();
    let mut out = Vec::with_capacity(data.n_rows);
    for row in 0..data.n_rows {
        for &id in &per_row {
            values[id.index()] = eval_node(graph, id, &values, params, data, row);
        }
        out.push(roots.iter().map(|r| values[r.index()]).collect());
    }
    Ok(out)
}

/// Values beyond this magnitude make a point unfit for comparing a rewritten graph with its
/// original (see [`magnitude`]).
pub const MAGNITUDE_LIMIT: f64 = 1e6;

/// The relative tolerance of "a rewrite computes the same value": rounding may differ by this
/// much times the [`magnitude`] of the values involved.
pub const ROUNDING_TOLERANCE: f64 = 1e-9;

/// The scale of the rounding error that rewriting `roots` may introduce at a point: the largest
/// magnitude of any value in their cone, on any row, and at least 1. `None` when some value
/// there is not finite or beyond [`MAGNITUDE_LIMIT`]: a rewritten graph may then overflow or
/// round quite differently, and there is nothing meaningful to compare.
///
/// The simplifier's property tests and `gradc::fuzzing` judge "simplified = original" with it
/// (see [`within_rounding`]), so both hold the simplifier to the same standard.
pub fn magnitude(
    graph: &Graph,
    roots: &[NodeId],
    params: &[f64],
    data: &Data,
) -> Result<Option<f64>, EvalError> {
    let cone = graph.cone(roots);
    // Row-free values are evaluated on their own, so that they are judged even without rows.
    let (per_row, row_free): (Vec<NodeId>, Vec<NodeId>) =
        cone.iter().partition(|&&id| graph.flags(id).per_row);
    let row_free_values = evaluate(graph, &row_free, params, data)?;
    let per_row_values = evaluate_per_row(graph, &per_row, params, data)?;
    let mut scale: f64 = 1.0;
    for &v in row_free_values
        .iter()
        .chain(per_row_values.iter().flatten())
    {
        if !v.is_finite() || v.abs() > MAGNITUDE_LIMIT {
            return Ok(None);
        }
        scale = scale.max(v.abs());
    }
    Ok(Some(scale))
}

/// Whether `rewritten` is `original` up to the rounding that a rewrite may change, at a point
/// whose [`magnitude`] is `scale`.
pub fn within_rounding(original: f64, rewritten: f64, scale: f64) -> bool {
    (original - rewritten).abs() <= ROUNDING_TOLERANCE * scale
}

/// Which nodes to evaluate, grouped by stage.
struct Plan {
    cone: Vec<NodeId>,
    /// Row-free nodes (not leaves, not reductions) of each stage, topologically ordered.
    row_free: Vec<Vec<NodeId>>,
    /// Row reductions of each stage, with the per-row nodes their arguments need.
    reductions: Vec<(Vec<NodeId>, Vec<NodeId>)>,
}

impl Plan {
    fn new(graph: &Graph, roots: &[NodeId]) -> Plan {
        let cone = graph.cone(roots);
        let max_stage = cone
            .iter()
            .map(|&id| graph.flags(id).stage)
            .max()
            .unwrap_or(0) as usize;
        let mut row_free = vec![Vec::new(); max_stage + 1];
        let mut reductions: Vec<(Vec<NodeId>, Vec<NodeId>)> =
            vec![Default::default(); max_stage + 1];
        for &id in &cone {
            let NodeFlags { per_row, stage, .. } = graph.flags(id);
            let op = graph.op(id);
            if op.is_row_reduction() {
                reductions[stage as usize].0.push(id);
            } else if !per_row {
                row_free[stage as usize].push(id);
            }
        }
        for (reduced, per_row_nodes) in reductions.iter_mut() {
            let args: Vec<NodeId> = reduced.iter().map(|&r| graph.args(r)[0]).collect();
            *per_row_nodes = per_row_cone(graph, &args);
        }
        Plan {
            cone,
            row_free,
            reductions,
        }
    }

    fn run(&self, graph: &Graph, params: &[f64], data: &Data, rows: Option<&[usize]>) -> Vec<f64> {
        let mut values = vec![f64::NAN; graph.len()];
        let all_rows: Vec<usize>;
        let rows: &[usize] = match rows {
            Some(r) => r,
            None => {
                all_rows = (0..data.n_rows).collect();
                &all_rows
            }
        };
        for stage in 0..self.row_free.len() {
            let (reduced, per_row_nodes) = &self.reductions[stage];
            if !reduced.is_empty() {
                let mut sums = vec![0.0; reduced.len()];
                for &row in rows {
                    for &id in per_row_nodes {
                        values[id.index()] = eval_node(graph, id, &values, params, data, row);
                    }
                    for (sum, &r) in sums.iter_mut().zip(reduced) {
                        *sum += values[graph.args(r)[0].index()];
                    }
                }
                let batch = rows.len() as f64;
                for (sum, &r) in sums.iter().zip(reduced) {
                    values[r.index()] = match graph.op(r) {
                        Op::RowMean => sum / batch,
                        _ if rows.len() == data.n_rows => *sum,
                        _ => sum * (data.n_rows as f64 / batch),
                    };
                }
            }
            for &id in &self.row_free[stage] {
                values[id.index()] = eval_node(graph, id, &values, params, data, 0);
            }
        }
        values
    }
}

/// The per-row nodes needed to compute `roots` on one row, in topological order. Row-free
/// operands are not entered: they are computed once per stage.
fn per_row_cone(graph: &Graph, roots: &[NodeId]) -> Vec<NodeId> {
    let mut seen = vec![false; graph.len()];
    let mut stack: Vec<NodeId> = roots.to_vec();
    while let Some(id) = stack.pop() {
        if !graph.flags(id).per_row || std::mem::replace(&mut seen[id.index()], true) {
            continue;
        }
        stack.extend(graph.args(id).iter().copied());
    }
    (0..graph.len() as u32)
        .map(NodeId)
        .filter(|id| seen[id.index()])
        .collect()
}

fn eval_node(
    graph: &Graph,
    id: NodeId,
    values: &[f64],
    params: &[f64],
    data: &Data,
    row: usize,
) -> f64 {
    let node = graph.node(id);
    match node.op {
        Op::Const(bits) => f64::from_bits(bits),
        Op::Param(i) => params[i as usize],
        Op::Input(i) => data.columns[i as usize][row],
        op => match node.args.as_slice() {
            [a] => op.apply(&[values[a.index()]]),
            [a, b] => op.apply(&[values[a.index()], values[b.index()]]),
            [a, b, c] => op.apply(&[values[a.index()], values[b.index()], values[c.index()]]),
            args => {
                let xs: Vec<f64> = args.iter().map(|a| values[a.index()]).collect();
                op.apply(&xs)
            }
        },
    }
}

fn check_inputs(
    graph: &Graph,
    cone: &[NodeId],
    params: &[f64],
    data: &Data,
    rows: Option<&[usize]>,
) -> Result<(), EvalError> {
    for &id in cone {
        match graph.op(id) {
            Op::Param(i) if i as usize >= params.len() => {
                return Err(EvalError::MissingParam {
                    index: i as usize,
                    given: params.len(),
                });
            }
            Op::Input(i) => {
                let column = data
                    .columns
                    .get(i as usize)
                    .ok_or(EvalError::MissingColumn {
                        index: i as usize,
                        given: data.columns.len(),
                    })?;
                if column.len() != data.n_rows {
                    return Err(EvalError::RaggedColumn {
                        index: i as usize,
                        len: column.len(),
                        n_rows: data.n_rows,
                    });
                }
            }
            _ => {}
        }
    }
    if let Some(&row) = rows.into_iter().flatten().find(|&&r| r >= data.n_rows) {
        return Err(EvalError::RowOutOfRange {
            row,
            n_rows: data.n_rows,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sum_over_rows_and_batches() {
        let mut g = Graph::new();
        let x = g.input(0);
        let w = g.param(0);
        let wx = g.mul(w, x);
        let mean = g.unary(Op::RowMean, wx);
        let sum = g.unary(Op::RowSum, wx);
        let data = Data::from_rows(&[vec![1.0], vec![2.0], vec![3.0], vec![6.0]]);
        let v = evaluate(&g, &[mean, sum], &[2.0], &data).unwrap();
        assert_eq!(v, vec![6.0, 24.0]);
        let v = evaluate_rows(&g, &[mean, sum], &[2.0], &data, Some(&[0, 3])).unwrap();
        assert_eq!(v, vec![7.0, 28.0]);
    }

    #[test]
    fn nested_reductions_use_the_inner_value() {
        // mean((x - mean(x))^2): the variance of 1, 2, 3, 6 is 3.5.
        let mut g = Graph::new();
        let x = g.input(0);
        let m = g.unary(Op::RowMean, x);
        let d = g.sub(x, m);
        let two = g.constant(2.0);
        let sq = g.binary(Op::Pow, d, two);
        let var = g.unary(Op::RowMean, sq);
        let data = Data::from_rows(&[vec![1.0], vec![2.0], vec![3.0], vec![6.0]]);
        assert_eq!(evaluate(&g, &[var], &[], &data).unwrap(), vec![3.5]);
    }

    #[test]
    fn lengths_are_checked() {
        let mut g = Graph::new();
        let p = g.param(1);
        assert_eq!(
            evaluate(&g, &[p], &[1.0], &Data::empty()),
            Err(EvalError::MissingParam { index: 1, given: 1 })
        );
    }
}

/// Where a non-finite value of a root first appeared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The node whose value is non-finite although its operands are finite.
    pub node: NodeId,
    /// The data row, for a per-row node.
    pub row: Option<usize>,
}

/// Follows a non-finite root back to where the non-finite value was born: from the root, step to
/// an operand that is itself non-finite (only the branch an `if` takes; the first row where a
/// reduction's argument is non-finite), until every operand is finite. `None` when the root is
/// finite.
pub fn trace_non_finite(
    graph: &Graph,
    root: NodeId,
    params: &[f64],
    data: &Data,
) -> Result<Option<Origin>, EvalError> {
    let cone = graph.cone(&[root]);
    let row_free: Vec<NodeId> = cone
        .iter()
        .copied()
        .filter(|&id| !graph.flags(id).per_row)
        .collect();
    let values = evaluate(graph, &row_free, params, data)?;
    let mut value_of: Vec<f64> = vec![f64::NAN; graph.len()];
    for (id, v) in row_free.iter().zip(&values) {
        value_of[id.index()] = *v;
    }
    if value_of[root.index()].is_finite() {
        return Ok(None);
    }
    let mut node = root;
    let mut row: Option<usize> = None;
    let mut row_values: Vec<f64> = Vec::new();
    loop {
        let value = |id: NodeId| match row {
            Some(_) if graph.flags(id).per_row => row_values[id.index()],
            _ => value_of[id.index()],
        };
        let args = graph.args(node).to_vec();
        let next = match graph.op(node) {
            Op::If => {
                let taken = if value(args[0]) != 0.0 {
                    args[1]
                } else {
                    args[2]
                };
                (!value(taken).is_finite()).then_some(taken)
            }
            op if op.is_row_reduction() && row.is_none() => {
                let argument = args[0];
                let per_row = per_row_cone(graph, &[argument]);
                let mut found = None;
                for r in 0..data.n_rows {
                    let mut values = value_of.clone();
                    for &id in &per_row {
                        values[id.index()] = eval_node(graph, id, &values, params, data, r);
                    }
                    if !values[argument.index()].is_finite() {
                        found = Some((r, values));
                        break;
                    }
                }
                match found {
                    Some((r, values)) => {
                        row = Some(r);
                        row_values = values;
                        Some(argument)
                    }
                    None => None,
                }
            }
            _ => args.iter().copied().find(|&a| !value(a).is_finite()),
        };
        match next {
            Some(operand) => node = operand,
            None => return Ok(Some(Origin { node, row })),
        }
    }
}

#[cfg(test)]
mod trace_tests {
    use super::*;

    #[test]
    fn finds_the_operation_and_row_where_nan_is_born() {
        // mean(log(w * x)) with x = 1, 2, −3, 4 and w = 1: log(−3) is NaN in row 2.
        let mut g = Graph::new();
        let w = g.param(0);
        let x = g.input(0);
        let wx = g.mul(w, x);
        let log = g.unary(Op::Log, wx);
        let two = g.constant(2.0);
        let scaled = g.mul(two, log);
        let mean = g.unary(Op::RowMean, scaled);
        let data = Data::from_rows(&[vec![1.0], vec![2.0], vec![-3.0], vec![4.0]]);
        let origin = trace_non_finite(&g, mean, &[1.0], &data).expect("evaluates");
        assert_eq!(
            origin,
            Some(Origin {
                node: log,
                row: Some(2)
            })
        );
        let data = Data::from_rows(&[vec![1.0]]);
        assert_eq!(
            trace_non_finite(&g, mean, &[1.0], &data).expect("evaluates"),
            None
        );
    }
}

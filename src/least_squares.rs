//! Least squares for `--optimizer lm` and `--errors`: recognizing an objective that is a sum of
//! squares, and its residual vector with the Jacobian from the symbolic graph.
//!
//! Recognized (LANGUAGE.md has no "residual" statement, so the shape of the objective decides):
//! `sum(r^2)` and `mean(r^2)` of per-row residuals (also `sum(r1^2 + r2^2)`), explicitly written
//! terms `r1^2 + r2^2 + …` (a `let` for each residual reads best), `r * r` for `r^2`, and
//! non-negative constant multiples (`0.5 * …`, `… / n`) and sums of all these.

use crate::objective::NativeError;
use gradc_compile::{Kernel, KernelData, KernelOptions, RowSet, Threads};
use gradc_graph::interp::Data;
use gradc_graph::{Graph, NodeId, Op, Program};
use gradc_minimize::Residuals;

/// One group of residuals: `weight · Σ_rows r²` (or `weight · r²` for a row-free `r`).
#[derive(Clone, Debug, PartialEq)]
struct Term {
    weight: f64,
    residual: NodeId,
    /// `Some(mean)` for a per-row residual under `mean` (true) or `sum` (false).
    reduction: Option<bool>,
}

/// Why an objective is not a sum of squares.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "--optimizer lm needs an objective that is a sum of squares (sum(r^2), mean(r^2), r1^2 + r2^2, \
     or a positive multiple or sum of these); {reason}"
)]
pub struct NotLeastSquares {
    pub reason: String,
    /// The node that does not fit, for locating it in the source.
    pub node: NodeId,
}

fn terms(
    graph: &Graph,
    node: NodeId,
    weight: f64,
    inside: Option<bool>,
    out: &mut Vec<Term>,
) -> Result<(), NotLeastSquares> {
    let args = graph.args(node);
    let not = |reason: &str| NotLeastSquares {
        reason: reason.to_string(),
        node,
    };
    let constant = |id: NodeId| graph.op(id).const_value();
    match graph.op(node) {
        Op::Add => {
            terms(graph, args[0], weight, inside, out)?;
            terms(graph, args[1], weight, inside, out)
        }
        Op::Mul if constant(args[0]).is_some_and(|c| c >= 0.0) => terms(
            graph,
            args[1],
            weight * constant(args[0]).unwrap_or(0.0),
            inside,
            out,
        ),
        Op::Mul if constant(args[1]).is_some_and(|c| c >= 0.0) => terms(
            graph,
            args[0],
            weight * constant(args[1]).unwrap_or(0.0),
            inside,
            out,
        ),
        Op::Div if constant(args[1]).is_some_and(|c| c > 0.0) => terms(
            graph,
            args[0],
            weight / constant(args[1]).unwrap_or(1.0),
            inside,
            out,
        ),
        Op::RowMean | Op::RowSum if inside.is_none() => terms(
            graph,
            args[0],
            weight,
            Some(graph.op(node) == Op::RowMean),
            out,
        ),
        Op::RowMean | Op::RowSum => Err(not("a reduction inside a reduction is not a residual")),
        Op::Pow if constant(args[1]) == Some(2.0) => push(graph, args[0], weight, inside, out),
        Op::Mul if args[0] == args[1] => push(graph, args[0], weight, inside, out),
        // `c * r * r`, parsed as `(c * r) * r`.
        Op::Mul
            if graph.op(args[0]) == Op::Mul
                && graph.args(args[0])[1] == args[1]
                && constant(graph.args(args[0])[0]).is_some_and(|c| c >= 0.0) =>
        {
            let c = constant(graph.args(args[0])[0]).unwrap_or(0.0);
            push(graph, args[1], weight * c, inside, out)
        }
        Op::Const(_) => Err(not("a constant term is not a square")),
        _ => Err(not("this term is not a square")),
    }
}

fn push(
    graph: &Graph,
    residual: NodeId,
    weight: f64,
    inside: Option<bool>,
    out: &mut Vec<Term>,
) -> Result<(), NotLeastSquares> {
    let per_row = graph.flags(residual).per_row;
    if per_row && inside.is_none() {
        return Err(NotLeastSquares {
            reason: "a per-row residual must be inside sum or mean".to_string(),
            node: residual,
        });
    }
    out.push(Term {
        weight,
        residual,
        reduction: if per_row { inside } else { None },
    });
    Ok(())
}

/// The residuals of a least-squares objective, with their derivatives, as native code: the
/// simplified residual-and-Jacobian graph compiled into row kernels (per-row residuals: one
/// output row per data row) and row-free kernels (explicitly written terms). The residual
/// vector is scaled so that the objective is exactly `Σ ρ²`.
pub struct LeastSquares {
    terms: Vec<Term>,
    n_params: usize,
    n_rows: usize,
    /// The per-row terms' residuals, and the same with their Jacobian rows.
    per_row: Option<(Kernel, Kernel)>,
    /// The row-free terms' residuals, and the same with their gradients.
    row_free: Option<(Kernel, Kernel)>,
    data: KernelData,
    threads: Threads,
}

/// Why the residuals of a sum of squares are not available.
#[derive(Debug, thiserror::Error)]
pub enum LeastSquaresError {
    #[error(transparent)]
    Not(#[from] NotLeastSquares),
    #[error(transparent)]
    Native(#[from] NativeError),
}

impl LeastSquares {
    /// Recognizes `program`'s objective as a sum of squares, derives the Jacobian and compiles
    /// both for `data`, evaluated on `threads` threads (0: all cores).
    pub fn new(
        program: &Program,
        data: &Data,
        threads: usize,
    ) -> Result<LeastSquares, LeastSquaresError> {
        let mut found = Vec::new();
        terms(&program.graph, program.objective, 1.0, None, &mut found)?;
        let n = program.param_count();
        let mut graph = program.graph.clone();
        let mut roots = Vec::new();
        for term in &found {
            let derivatives = if graph.flags(term.residual).per_row {
                gradc_grad::grad_per_row(&mut graph, term.residual, n)
            } else {
                gradc_grad::grad(&mut graph, term.residual, n)
            };
            roots.push(term.residual);
            roots.extend(&derivatives);
        }
        let simplified =
            gradc_simplify::simplify(&graph, &roots, &gradc_simplify::SimplifyConfig::default());
        // Per term: its residual and its derivatives, in the simplified graph.
        let mut residuals = [Vec::new(), Vec::new()];
        let mut with_jacobian = [Vec::new(), Vec::new()];
        for (term, chunk) in found.iter().zip(simplified.roots.chunks(n + 1)) {
            let kind = usize::from(term.reduction.is_some());
            residuals[kind].push(chunk[0]);
            with_jacobian[kind].extend_from_slice(chunk);
        }
        let inputs = program.input_count();
        let options = KernelOptions::default();
        let compile = |roots: &[NodeId], per_row: bool| {
            if per_row {
                Kernel::compile_rows(&simplified.graph, roots, n, inputs, options)
            } else {
                Kernel::compile_with(&simplified.graph, roots, n, inputs, options)
            }
        };
        let mut kernels = [None, None];
        for kind in 0..2 {
            if !residuals[kind].is_empty() {
                kernels[kind] = Some((
                    compile(&residuals[kind], kind == 1).map_err(NativeError::from)?,
                    compile(&with_jacobian[kind], kind == 1).map_err(NativeError::from)?,
                ));
            }
        }
        let [row_free, per_row] = kernels;
        Ok(LeastSquares {
            terms: found,
            n_params: n,
            n_rows: data.n_rows,
            per_row,
            row_free,
            data: KernelData::from_data(data).map_err(NativeError::from)?,
            threads: crate::objective::threads(threads)?,
        })
    }

    fn rows(&self, term: &Term) -> usize {
        match term.reduction {
            Some(_) => self.n_rows,
            None => 1,
        }
    }

    /// `√(weight / N)` for a mean, `√weight` otherwise.
    fn factor(&self, term: &Term) -> f64 {
        match term.reduction {
            Some(true) => (term.weight / self.n_rows as f64).sqrt(),
            _ => term.weight.sqrt(),
        }
    }

    fn fill(
        &self,
        params: &[f64],
        r: &mut [f64],
        mut jac: Option<&mut [f64]>,
    ) -> Result<(), gradc_compile::EvalError> {
        let n = self.n_params;
        let with_jacobian = jac.is_some();
        fn pick(kernels: &Option<(Kernel, Kernel)>, with_jacobian: bool) -> Option<&Kernel> {
            kernels
                .as_ref()
                .map(|(residuals, both)| if with_jacobian { both } else { residuals })
        }
        // Per-row terms: one output row per data row; row-free terms: one value each.
        let mut rows = Vec::new();
        if let Some(kernel) = pick(&self.per_row, with_jacobian) {
            rows = vec![0.0; self.n_rows * kernel.n_roots()];
            kernel.eval_rows(params, &self.data, RowSet::All, &mut rows, &self.threads)?;
        }
        let mut free = Vec::new();
        if let Some(kernel) = pick(&self.row_free, with_jacobian) {
            free = vec![0.0; kernel.n_roots()];
            kernel.eval_threads(params, &self.data, RowSet::All, &mut free, &self.threads)?;
        }
        let width = self
            .per_row
            .as_ref()
            .map_or(0, |_| rows.len() / self.n_rows.max(1));
        let per_term = if jac.is_some() { 1 + n } else { 1 };
        let (mut row_column, mut free_at, mut at) = (0, 0, 0);
        for term in &self.terms {
            let factor = self.factor(term);
            for k in 0..self.rows(term) {
                let values = match term.reduction {
                    Some(_) => &rows[k * width + row_column..][..per_term],
                    None => &free[free_at..free_at + per_term],
                };
                r[at] = factor * values[0];
                if let Some(j) = jac.as_deref_mut() {
                    for p in 0..n {
                        j[at * n + p] = factor * values[1 + p];
                    }
                }
                at += 1;
            }
            match term.reduction {
                Some(_) => row_column += per_term,
                None => free_at += per_term,
            }
        }
        Ok(())
    }
}

impl Residuals for LeastSquares {
    fn param_count(&self) -> usize {
        self.n_params
    }

    fn residual_count(&self) -> usize {
        self.terms.iter().map(|t| self.rows(t)).sum()
    }

    fn residuals(&self, params: &[f64], r: &mut [f64]) {
        if self.fill(params, r, None).is_err() {
            r.fill(f64::NAN);
        }
    }

    fn jacobian(&self, params: &[f64], r: &mut [f64], jac: &mut [f64]) {
        if self.fill(params, r, Some(jac)).is_err() {
            r.fill(f64::NAN);
            jac.fill(f64::NAN);
        }
    }

    fn scale(&self) -> f64 {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(source: &str) -> Program {
        gradc_lower::compile(source).expect("compiles")
    }

    /// The terms recognized in the objective of `source`, one per line as `weight · how
    /// residual` (`how`: over the rows by `mean` or `sum`, or `once` for a row-free residual),
    /// or the reason it is not a sum of squares.
    fn recognized(source: &str) -> String {
        let p = program(source);
        let mut out = Vec::new();
        if let Err(error) = terms(&p.graph, p.objective, 1.0, None, &mut out) {
            return format!("not a sum of squares: {}", error.reason);
        }
        let lines: Vec<String> = out
            .iter()
            .map(|term| {
                let how = match term.reduction {
                    Some(true) => "mean",
                    Some(false) => "sum",
                    None => "once",
                };
                let residual = p.graph.sexpr(term.residual);
                format!("{} · {how} {residual}", term.weight)
            })
            .collect();
        lines.join("\n")
    }

    #[test]
    fn recognized_shapes() {
        insta::assert_snapshot!(
            recognized("input x\ninput y\nparam a\nminimize sum((a * x - y)^2)\n"),
            @"1 · sum (- (* param#0 input#0) input#1)"
        );
        insta::assert_snapshot!(
            recognized("input x\ninput y\nparam a\nminimize mean((a * x - y)^2) / 2\n"),
            @"0.5 · mean (- (* param#0 input#0) input#1)"
        );
        insta::assert_snapshot!(
            recognized("param x = -1.2\nparam y = 1\nlet r1 = 10 * (y - x^2)\nlet r2 = 1 - x\nminimize r1^2 + r2^2\n"),
            @"
        1 · once (* 10 (- param#1 (^ param#0 2)))
        1 · once (- 1 param#0)
        "
        );
        insta::assert_snapshot!(
            recognized("param x = 1\nminimize (1 - x)^2 + 100 * (x - 3) * (x - 3)\n"),
            @"
        1 · once (- 1 param#0)
        100 · once (- param#0 3)
        "
        );
        insta::assert_snapshot!(recognized("param x = 1\nminimize x^4\n"), @"not a sum of squares: this term is not a square");
        insta::assert_snapshot!(
            recognized("input x\nparam a\nminimize mean(log(1 + (a * x)^2))\n"),
            @"not a sum of squares: this term is not a square"
        );
        insta::assert_snapshot!(recognized("param x = 1\nminimize (x - 1)^2 + 3\n"), @"not a sum of squares: a constant term is not a square");
        insta::assert_snapshot!(recognized("param x = 1\nminimize -2 * (x - 1)^2\n"), @"not a sum of squares: this term is not a square");
    }

    /// Σρ² is the objective, 2Jᵀρ its gradient (interpreter), and `residuals` the first half
    /// of `jacobian`, on `threads` threads.
    fn check_against_the_objective(source: &str, data: &Data, params: &[f64], threads: usize) {
        let p = program(source);
        let n = params.len();
        let ls = LeastSquares::new(&p, data, threads).expect("least squares");
        let m = ls.residual_count();
        let mut r = vec![0.0; m];
        let mut j = vec![0.0; m * n];
        ls.jacobian(params, &mut r, &mut j);
        let mut alone = vec![0.0; m];
        ls.residuals(params, &mut alone);
        assert_eq!(alone, r);
        let value =
            gradc_graph::interp::evaluate(&p.graph, &[p.objective], params, data).unwrap()[0];
        let sum: f64 = r.iter().map(|v| v * v).sum();
        assert!(
            (sum - value).abs() < 1e-12 * value.abs(),
            "{sum} vs {value}"
        );
        let mut g = p.graph.clone();
        let grad = gradc_grad::grad(&mut g, p.objective, n);
        let expected = gradc_graph::interp::evaluate(&g, &grad, params, data).unwrap();
        for k in 0..n {
            let jtr: f64 = (0..m).map(|i| 2.0 * j[i * n + k] * r[i]).sum();
            assert!(
                (jtr - expected[k]).abs() < 1e-10 * expected[k].abs().max(1e-3),
                "∂/∂{k}: {jtr} vs {}",
                expected[k]
            );
        }
    }

    #[test]
    fn residuals_reproduce_the_objective_and_the_jacobian_its_gradient() {
        let source = "input x\ninput y\nparam a = 0.5\nparam b = -1\n\
            minimize 0.5 * mean((a * exp(b * x) - y)^2) + (a - 1)^2\n";
        let data = Data::from_rows(&[vec![0.0, 1.0], vec![1.0, 0.5], vec![2.0, 0.3]]);
        check_against_the_objective(source, &data, &[0.7, -0.4], 1);
        // Many chunks of rows on two threads, and explicit row-free terms with a per-row one.
        let rows: Vec<Vec<f64>> = (0..20_000)
            .map(|i| {
                let x = i as f64 / 5000.0;
                vec![
                    x,
                    2.5 * (-1.3 * x).exp() + 0.1 + 0.01 * (i as f64 * 0.7).sin(),
                ]
            })
            .collect();
        let data = Data::from_rows(&rows);
        let source = "input x\ninput y\nparam a = 1\nparam b = -1\nparam c = 0\n\
            let r1 = a - 2\nminimize sum((a * exp(b * x) + c - y)^2) + 3 * r1^2 + (c * b)^2\n";
        check_against_the_objective(source, &data, &[2.0, -1.1, 0.2], 2);
    }
}

//! Least squares for `--optimizer lm` and `--errors`: recognizing an objective that is a sum of
//! squares, and its residual vector with the Jacobian from the symbolic graph.
//!
//! Recognized (LANGUAGE.md has no "residual" statement, so the shape of the objective decides):
//! `sum(r^2)` and `mean(r^2)` of per-row residuals (also `sum(r1^2 + r2^2)`), explicitly written
//! terms `r1^2 + r2^2 + …` (a `let` for each residual reads best), `r * r` for `r^2`, and
//! non-negative constant multiples (`0.5 * …`, `… / n`) and sums of all these.

use gradc_graph::interp::{Data, EvalError, evaluate_per_row};
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

/// The residuals of a least-squares objective, with their derivatives, evaluated by the
/// reference interpreter on the simplified residual-and-Jacobian graph. The residual vector is
/// scaled so that the objective is exactly `Σ ρ²`.
pub struct LeastSquares {
    graph: Graph,
    /// Per term: the residual node and its gradient nodes.
    terms: Vec<(Term, NodeId, Vec<NodeId>)>,
    data: Data,
    n_params: usize,
}

impl LeastSquares {
    /// Recognizes `program`'s objective as a sum of squares and derives the Jacobian.
    pub fn new(program: &Program, data: &Data) -> Result<LeastSquares, NotLeastSquares> {
        let mut found = Vec::new();
        terms(&program.graph, program.objective, 1.0, None, &mut found)?;
        let n = program.param_count();
        let mut graph = program.graph.clone();
        let mut roots = Vec::new();
        let mut shapes = Vec::new();
        for term in &found {
            let derivatives = if graph.flags(term.residual).per_row {
                gradc_grad::grad_per_row(&mut graph, term.residual, n)
            } else {
                gradc_grad::grad(&mut graph, term.residual, n)
            };
            roots.push(term.residual);
            roots.extend(&derivatives);
            shapes.push(term.clone());
        }
        let simplified =
            gradc_simplify::simplify(&graph, &roots, &gradc_simplify::SimplifyConfig::default());
        let mut chunks = simplified.roots.chunks(n + 1);
        let terms = shapes
            .into_iter()
            .map(|term| {
                let chunk = chunks.next().unwrap_or(&[]);
                (term, chunk[0], chunk[1..].to_vec())
            })
            .collect();
        Ok(LeastSquares {
            graph: simplified.graph,
            terms,
            data: data.clone(),
            n_params: n,
        })
    }

    fn rows(&self, term: &Term) -> usize {
        match term.reduction {
            Some(_) => self.data.n_rows,
            None => 1,
        }
    }

    /// `√(weight / N)` for a mean, `√weight` otherwise.
    fn factor(&self, term: &Term) -> f64 {
        match term.reduction {
            Some(true) => (term.weight / self.data.n_rows as f64).sqrt(),
            _ => term.weight.sqrt(),
        }
    }

    fn fill(
        &self,
        params: &[f64],
        r: &mut [f64],
        jac: Option<&mut [f64]>,
    ) -> Result<(), EvalError> {
        let n = self.n_params;
        let mut jac = jac;
        let mut at = 0;
        for (term, residual, derivatives) in &self.terms {
            let mut roots = vec![*residual];
            if jac.is_some() {
                roots.extend(derivatives);
            }
            let factor = self.factor(term);
            let values = evaluate_per_row(&self.graph, &roots, params, &self.data)?;
            let rows = self.rows(term);
            for k in 0..rows {
                // A row-free residual has the same value on every row; take row 0 (or evaluate
                // on no rows at all for a model without data).
                let row: Vec<f64> = match values.get(k) {
                    Some(v) => v.clone(),
                    None => gradc_graph::interp::evaluate(&self.graph, &roots, params, &self.data)?,
                };
                r[at] = factor * row[0];
                if let Some(j) = jac.as_deref_mut() {
                    for p in 0..n {
                        j[at * n + p] = factor * row[1 + p];
                    }
                }
                at += 1;
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
        self.terms.iter().map(|(t, _, _)| self.rows(t)).sum()
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

    #[test]
    fn recognized_shapes() {
        for source in [
            "input x\ninput y\nparam a\nminimize sum((a * x - y)^2)\n",
            "input x\ninput y\nparam a\nminimize mean((a * x - y)^2) / 2\n",
            "param x = -1.2\nparam y = 1\nlet r1 = 10 * (y - x^2)\nlet r2 = 1 - x\nminimize r1^2 + r2^2\n",
            "param x = 1\nminimize (1 - x)^2 + 100 * (x - 3) * (x - 3)\n",
        ] {
            let p = program(source);
            let mut out = Vec::new();
            terms(&p.graph, p.objective, 1.0, None, &mut out)
                .unwrap_or_else(|e| panic!("{source}: {e}"));
            assert!(!out.is_empty());
        }
        for source in [
            "param x = 1\nminimize x^4\n",
            "input x\nparam a\nminimize mean(log(1 + (a * x)^2))\n",
            "param x = 1\nminimize (x - 1)^2 + 3\n",
            "param x = 1\nminimize -2 * (x - 1)^2\n",
        ] {
            let p = program(source);
            let mut out = Vec::new();
            assert!(
                terms(&p.graph, p.objective, 1.0, None, &mut out).is_err(),
                "{source}"
            );
        }
    }

    #[test]
    fn residuals_reproduce_the_objective_and_the_jacobian_its_gradient() {
        let source = "input x\ninput y\nparam a = 0.5\nparam b = -1\n\
            minimize 0.5 * mean((a * exp(b * x) - y)^2) + (a - 1)^2\n";
        let p = program(source);
        let data = Data::from_rows(&[vec![0.0, 1.0], vec![1.0, 0.5], vec![2.0, 0.3]]);
        let ls = LeastSquares::new(&p, &data).expect("least squares");
        assert_eq!(ls.residual_count(), 4);
        let params = [0.7, -0.4];
        let mut r = vec![0.0; 4];
        let mut j = vec![0.0; 8];
        ls.jacobian(&params, &mut r, &mut j);
        let value =
            gradc_graph::interp::evaluate(&p.graph, &[p.objective], &params, &data).unwrap()[0];
        let sum: f64 = r.iter().map(|v| v * v).sum();
        assert!((sum - value).abs() < 1e-14, "{sum} vs {value}");
        // ∇f = 2 Jᵀ r
        let mut g = p.graph.clone();
        let grad = gradc_grad::grad(&mut g, p.objective, 2);
        let expected = gradc_graph::interp::evaluate(&g, &grad, &params, &data).unwrap();
        for k in 0..2 {
            let jtr: f64 = (0..4).map(|i| 2.0 * j[i * 2 + k] * r[i]).sum();
            assert!(
                (jtr - expected[k]).abs() < 1e-12,
                "{jtr} vs {}",
                expected[k]
            );
        }
    }
}

//! The derivative of each operation, as text: `check!(expression, @partials)` with both sides
//! s-expressions (see `gradc_graph::sexpr`), the partials unsimplified, as `grad` builds them.

use crate::{grad, hessian};
use gradc_graph::{Graph, Op};

/// Differentiates the expression written in `input` with respect to `param#0` up to the
/// largest parameter it reads, and returns one line per partial. The only place these tests
/// call `grad`.
fn partials(input: &str) -> String {
    let (mut graph, root) = Graph::from_sexpr(input).unwrap_or_else(|e| panic!("{input}: {e}"));
    let n = param_count(&graph);
    let gradient = grad(&mut graph, root, n);
    lines(&graph, &gradient, |k| format!("∂/∂param#{k}"))
}

/// The Hessian of the expression written in `input`, one line per entry of the upper
/// triangle (the lower one is the same nodes).
fn second_partials(input: &str) -> String {
    let (mut graph, root) = Graph::from_sexpr(input).unwrap_or_else(|e| panic!("{input}: {e}"));
    let n = param_count(&graph);
    let gradient = grad(&mut graph, root, n);
    let rows = hessian(&mut graph, &gradient, n);
    let upper: Vec<_> = (0..n).flat_map(|i| (i..n).map(move |j| (i, j))).collect();
    let entries: Vec<_> = upper.iter().map(|&(i, j)| rows[i][j]).collect();
    lines(&graph, &entries, |k| {
        let (i, j) = upper[k];
        format!("∂²/∂param#{i}∂param#{j}")
    })
}

/// One more than the largest parameter index in the graph.
fn param_count(graph: &Graph) -> usize {
    graph
        .ids()
        .filter_map(|id| match graph.op(id) {
            Op::Param(k) => Some(k as usize + 1),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// `name = expression` for each root, one per line.
fn lines(graph: &Graph, roots: &[gradc_graph::NodeId], name: impl Fn(usize) -> String) -> String {
    if roots.is_empty() {
        return "(no parameters)".to_string();
    }
    let lines: Vec<String> = roots
        .iter()
        .enumerate()
        .map(|(k, &r)| format!("{} = {}", name(k), graph.sexpr(r)))
        .collect();
    lines.join("\n")
}

/// `check!(input, @expected)`: `partials(input)` pinned as an insta inline snapshot. A macro
/// because insta updates the literal at the line of the call.
macro_rules! check {
    ($input:expr, @$expect:literal) => {
        insta::assert_snapshot!(partials($input), @$expect)
    };
}

/// `check_hessian!(input, @expected)`: `second_partials(input)`, likewise.
macro_rules! check_hessian {
    ($input:expr, @$expect:literal) => {
        insta::assert_snapshot!(second_partials($input), @$expect)
    };
}

#[test]
fn arithmetic() {
    check!("(+ param#0 param#1)", @"
    ∂/∂param#0 = 1
    ∂/∂param#1 = 1
    ");
    check!("(- param#0 param#1)", @"
    ∂/∂param#0 = 1
    ∂/∂param#1 = (neg 1)
    ");
    check!("(* param#0 param#1)", @"
    ∂/∂param#0 = param#1
    ∂/∂param#1 = param#0
    ");
    check!("(/ param#0 param#1)", @"
    ∂/∂param#0 = (/ 1 param#1)
    ∂/∂param#1 = (neg (/ (/ param#0 param#1) param#1))
    ");
    check!("(neg param#0)", @"∂/∂param#0 = (neg 1)");
    check!("(* param#0 param#0)", @"∂/∂param#0 = (+ param#0 param#0)");
}

#[test]
fn powers() {
    check!("(^ param#0 3)", @"∂/∂param#0 = (* 3 (^ param#0 2))");
    check!("(^ param#0 param#1)", @"
    ∂/∂param#0 = (* param#1 (^ param#0 (- param#1 1)))
    ∂/∂param#1 = (* (^ param#0 param#1) (log param#0))
    ");
    check!("(sqrt param#0)", @"∂/∂param#0 = (/ 1 (* 2 (sqrt param#0)))");
}

#[test]
fn functions() {
    check!("(exp param#0)", @"∂/∂param#0 = (exp param#0)");
    check!("(log param#0)", @"∂/∂param#0 = (/ 1 param#0)");
    check!("(sin param#0)", @"∂/∂param#0 = (cos param#0)");
    check!("(cos param#0)", @"∂/∂param#0 = (neg (sin param#0))");
    check!("(tan param#0)", @"∂/∂param#0 = (+ 1 (* (tan param#0) (tan param#0)))");
    check!("(atan param#0)", @"∂/∂param#0 = (/ 1 (+ 1 (* param#0 param#0)))");
    check!("(tanh param#0)", @"∂/∂param#0 = (- 1 (* (tanh param#0) (tanh param#0)))");
    check!("(sigmoid param#0)", @"∂/∂param#0 = (* (sigmoid param#0) (- 1 (sigmoid param#0)))");
    check!("(softplus param#0)", @"∂/∂param#0 = (sigmoid param#0)");
    check!("(log1p param#0)", @"∂/∂param#0 = (/ 1 (+ 1 param#0))");
    check!("(expm1 param#0)", @"∂/∂param#0 = (exp param#0)");
    check!("(logsumexp param#0 param#1)", @"
    ∂/∂param#0 = (exp (- param#0 (logsumexp param#0 param#1)))
    ∂/∂param#1 = (exp (- param#1 (logsumexp param#0 param#1)))
    ");
}

#[test]
fn kinks() {
    check!("(abs param#0)", @"∂/∂param#0 = (sign param#0)");
    check!("(relu param#0)", @"∂/∂param#0 = (step param#0)");
    check!("(sign param#0)", @"∂/∂param#0 = 0");
    check!("(step param#0)", @"∂/∂param#0 = 0");
    check!("(max param#0 param#1)", @"
    ∂/∂param#0 = (if (>= param#0 param#1) 1 0)
    ∂/∂param#1 = (if (>= param#0 param#1) 0 1)
    ");
    check!("(min param#0 param#1)", @"
    ∂/∂param#0 = (if (<= param#0 param#1) 1 0)
    ∂/∂param#1 = (if (<= param#0 param#1) 0 1)
    ");
    check!("(leaky_relu param#0 param#1)", @"
    ∂/∂param#0 = (if (> param#0 0) 1 param#1)
    ∂/∂param#1 = (if (> param#0 0) 0 param#0)
    ");
    check!("(elu param#0 param#1)", @"
    ∂/∂param#0 = (if (> param#0 0) 1 (* param#1 (exp param#0)))
    ∂/∂param#1 = (if (> param#0 0) 0 (expm1 param#0))
    ");
}

#[test]
fn branches() {
    check!("(if (> param#0 0) (sqrt param#0) (* 2 param#0))", @"∂/∂param#0 = (if (> param#0 0) (/ 1 (* 2 (sqrt param#0))) 2)");
    check!("(if (> param#0 param#1) (exp param#1) param#1)", @"
    ∂/∂param#0 = 0
    ∂/∂param#1 = (if (> param#0 param#1) (exp param#1) 1)
    ");
}

#[test]
fn row_reductions() {
    check!("(mean (^ (- (* param#0 input#0) input#1) 2))", @"∂/∂param#0 = (mean (* (* 2 (^ (- (* param#0 input#0) input#1) 1)) input#0))");
    check!("(sum (* param#0 input#0))", @"∂/∂param#0 = (sum input#0)");
    check!("(mean (- input#0 (mean (* param#0 input#0))))", @"∂/∂param#0 = (* (mean (neg 1)) (mean input#0))");
}

#[test]
fn a_root_without_parameters_has_no_partials() {
    check!("(exp 1)", @"(no parameters)");
    check!("(+ param#1 2)", @"
    ∂/∂param#0 = 0
    ∂/∂param#1 = 1
    ");
}

#[test]
fn second_derivatives() {
    check_hessian!("(* param#0 (exp param#1))", @"
    ∂²/∂param#0∂param#0 = 0
    ∂²/∂param#0∂param#1 = (exp param#1)
    ∂²/∂param#1∂param#1 = (* param#0 (exp param#1))
    ");
}

//! Tests of the simplifier: `check!` cases from s-expression to s-expression, the rule table
//! (`rule_table`), names, limits, and value preservation on random expressions.

mod rule_table;

use super::*;
use gradc_graph::interp::{Data, evaluate, magnitude, within_rounding};
use gradc_graph::random::{Shape, SplitMix, random_objective};
use gradc_graph::{Op, Program};
use proptest::prelude::*;

/// Simplifies the expressions written in `input` (s-expressions separated by whitespace) together,
/// with the default configuration, and returns the simplified expressions one per line. The
/// only place these tests call `simplify` on text.
fn simplified(input: &str) -> String {
    let (graph, roots) = Graph::from_sexprs(input).unwrap_or_else(|e| panic!("{input}: {e}"));
    let out = simplify(&graph, &roots, &SimplifyConfig::default());
    let lines: Vec<String> = out.roots.iter().map(|&r| out.graph.sexpr(r)).collect();
    lines.join("\n")
}

/// `check!(input, @expected)`: `simplified(input)` pinned as an insta inline snapshot. A macro
/// because insta updates the literal at the line of the call.
macro_rules! check {
    ($input:expr, @$expect:literal) => {
        insta::assert_snapshot!(simplified($input), @$expect)
    };
}

fn text(graph: &Graph, root: NodeId) -> String {
    graph.sexpr(root)
}

fn contains_op(graph: &Graph, root: NodeId, op: Op) -> bool {
    graph.cone(&[root]).iter().any(|&id| graph.op(id) == op)
}

#[test]
fn log_sigmoid_becomes_softplus() {
    let mut g = Graph::new();
    let z = g.param(0);
    let s = g.unary(Op::Sigmoid, z);
    let root = g.unary(Op::Log, s);
    let out = simplify(&g, &[root], &SimplifyConfig::default());
    let r = out.roots[0];
    assert!(
        !contains_op(&out.graph, r, Op::Log),
        "{}",
        text(&out.graph, r)
    );
    assert!(
        contains_op(&out.graph, r, Op::Softplus),
        "{}",
        text(&out.graph, r)
    );
    // Where the original underflows to log(0) = -inf, the rewrite stays finite.
    let v = evaluate(&out.graph, &[r], &[-800.0], &Data::empty()).unwrap()[0];
    assert_eq!(v, -800.0);
}

#[test]
fn stable_forms_of_logarithms() {
    check!("(log (- 1 (sigmoid param#0)))", @"(neg (softplus param#0))");
    check!("(log (+ 1 (exp param#0)))", @"(softplus param#0)");
    check!("(log (sigmoid param#0))", @"(- param#0 (softplus param#0))");
    check!("(log (+ (exp param#0) (+ (exp param#1) (exp param#2))))", @"(logsumexp param#0 param#1 param#2)");
}

#[test]
fn log_of_a_sum_of_exponentials_is_logsumexp() {
    let mut g = Graph::new();
    let terms: Vec<NodeId> = (0..3)
        .map(|i| {
            let p = g.param(i);
            g.unary(Op::Exp, p)
        })
        .collect();
    let sum = g.sum_of(&terms);
    let root = g.unary(Op::Log, sum);
    let out = simplify(&g, &[root], &SimplifyConfig::default());
    let r = out.roots[0];
    assert_eq!(out.graph.op(r), Op::LogSumExp, "{}", text(&out.graph, r));
    assert_eq!(out.graph.args(r).len(), 3);
    let v = evaluate(&out.graph, &[r], &[1000.0, 1000.0, 0.0], &Data::empty()).unwrap()[0];
    assert!((v - (1000.0 + 2f64.ln())).abs() < 1e-9, "{v}");
}

#[test]
fn x_over_x_needs_a_proof_that_x_is_not_zero() {
    check!("(/ param#0 param#0)", @"(/ param#0 param#0)");
    check!("(/ (exp param#0) (exp param#0))", @"1");
    check!("(/ 3 3)", @"1");
    check!("(/ (sigmoid param#0) (sigmoid param#0))", @"1");
    check!("(/ (- 1 (sigmoid param#0)) (- 1 (sigmoid param#0)))", @"1");
    check!("(/ (neg (exp param#0)) (neg (exp param#0)))", @"1");
}

#[test]
fn roots_simplified_together_share_their_work() {
    // Several roots go into one e-graph: the factor leaves the first mean, which is then the
    // second root, computed once for both.
    check!("(mean (* param#0 input#0)) (mean input#0)", @"
    (* param#0 (mean input#0))
    (mean input#0)
    ");
}

#[test]
fn constants_fold_through_op_apply() {
    let mut g = Graph::new();
    let two = g.constant(2.0);
    let three = g.constant(3.0);
    let p = g.binary(Op::Pow, two, three);
    let l = g.unary(Op::Log, p);
    let x = g.param(0);
    let root = g.mul(l, x);
    let out = simplify(&g, &[root], &SimplifyConfig::default());
    let r = out.roots[0];
    assert_eq!(out.report.ops_after, 1, "{}", text(&out.graph, r));
    let v = evaluate(&out.graph, &[r], &[2.0], &Data::empty()).unwrap()[0];
    assert_eq!(v, 8f64.ln() * 2.0);
}

#[test]
fn sigmoid_derivative_cancels_against_the_log() {
    // d/dz log σ(z) = σ(1 − σ)/σ = 1 − σ(z).
    check!("(/ (* (sigmoid param#0) (- 1 (sigmoid param#0))) (sigmoid param#0))", @"(- 1 (sigmoid param#0))");
}

#[test]
fn row_free_factors_leave_a_mean() {
    // 2·w·mean(x) + mean(x): the mean is computed once.
    check!("(+ (mean (* (* 2 input#0) param#0)) (mean input#0))", @"(+ (* 2 (* param#0 (mean input#0))) (mean input#0))");
}

#[test]
fn a_tiny_node_limit_still_never_makes_things_worse() {
    let mut g = Graph::new();
    let root = random_objective(
        &mut g,
        7,
        Shape {
            params: 3,
            inputs: 2,
            size: 30,
        },
    );
    let config = SimplifyConfig {
        node_limit: 1,
        ..SimplifyConfig::default()
    };
    let out = simplify(&g, &[root], &config);
    assert!(out.report.ops_after <= out.report.ops_before);
    assert_eq!(out.report.stop_reason, "node limit");
    assert!(out.report.to_string().contains("stopped: node limit"));
}

#[test]
fn names_follow_the_values_they_name() {
    let program: Program = {
        let mut g = Graph::new();
        let w = g.param(0);
        let x = g.param(1);
        let z = g.mul(w, x);
        let one = g.constant(1.0);
        let y = g.mul(z, one);
        let objective = g.unary(Op::Tanh, y);
        let mut p = Program {
            graph: g,
            objective,
            ..Program::default()
        };
        p.names.insert(z, "z".to_string());
        p
    };
    let (out, names) = simplify_named(
        &program.graph,
        &[program.objective],
        &program.names,
        &SimplifyConfig::default(),
    );
    let r = out.roots[0];
    let z = out.graph.args(r)[0];
    assert_eq!(names.get(&z).map(String::as_str), Some("z"));
}

fn random_point(rng: &mut SplitMix, shape: Shape, rows: usize) -> (Vec<f64>, Data) {
    let params = (0..shape.params).map(|_| rng.uniform(-2.0, 2.0)).collect();
    let data_rows: Vec<Vec<f64>> = (0..rows)
        .map(|_| (0..shape.inputs).map(|_| rng.uniform(-2.0, 2.0)).collect())
        .collect();
    (params, Data::from_rows(&data_rows))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, max_global_rejects: 100_000, ..ProptestConfig::default() })]

    /// Value, gradient and (for small expressions) Hessian simplified together compute what the
    /// originals compute, and never with more operations.
    #[test]
    fn simplified_equals_original(seed in any::<u64>(), size in 1usize..16) {
        let shape = Shape { params: 3, inputs: 2, size };
        let mut g = Graph::new();
        let root = random_objective(&mut g, seed, shape);
        let gradient = gradc_grad::grad(&mut g, root, shape.params);
        let mut roots = vec![root];
        roots.extend(&gradient);
        if size < 8 {
            let hessian = gradc_grad::hessian(&mut g, &gradient, shape.params);
            roots.extend(hessian.iter().flatten());
        }
        let out = simplify(&g, &roots, &SimplifyConfig::default());
        prop_assert!(out.report.ops_after <= out.report.ops_before);
        prop_assert_eq!(op_count(&out.graph, &out.roots), out.report.ops_after);
        let mut rng = SplitMix::new(seed ^ 0x5EED);
        for _ in 0..3 {
            let (params, data) = random_point(&mut rng, shape, 3);
            let Some(scale) = magnitude(&g, &roots, &params, &data).unwrap() else { continue };
            let before = evaluate(&g, &roots, &params, &data).unwrap();
            let after = evaluate(&out.graph, &out.roots, &params, &data).unwrap();
            for (i, (a, b)) in before.iter().zip(&after).enumerate() {
                prop_assert!(
                    within_rounding(*a, *b, scale),
                    "root {}: {} before, {} after\n{}\n{}",
                    i, a, b, g.sexpr(roots[i]), out.graph.sexpr(out.roots[i])
                );
            }
        }
    }
}

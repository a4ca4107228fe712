//! Tests of the differentiator: the lecture notes' worked numbers, the `if` rule, and
//! gradient = finite differences on random expressions.

mod partials;

use super::*;
use gradc_graph::CmpOp;
use gradc_graph::interp::{Data, evaluate};
use gradc_graph::random::{Shape, SplitMix, random_objective};
use proptest::prelude::*;

/// Value and gradient of `root` at `params`, via the interpreter.
fn value_and_gradient(
    graph: &mut Graph,
    root: NodeId,
    params: &[f64],
    data: &Data,
) -> (f64, Vec<f64>) {
    let gradient = grad(graph, root, params.len());
    let mut roots = vec![root];
    roots.extend(&gradient);
    let values = evaluate(graph, &roots, params, data).expect("evaluation");
    (values[0], values[1..].to_vec())
}

#[test]
fn worked_example_max_node() {
    // f = 2(xy + max(z, w)) at (3, −4, 2, −1): f = −20, ∇f = (−8, 6, 2, 0).
    let mut g = Graph::new();
    let [x, y, z, w] = [0, 1, 2, 3].map(|i| g.param(i));
    let xy = g.mul(x, y);
    let m = g.binary(Op::Max, z, w);
    let s = g.add2(xy, m);
    let two = g.constant(2.0);
    let f = g.mul(two, s);
    let (value, gradient) = value_and_gradient(&mut g, f, &[3.0, -4.0, 2.0, -1.0], &Data::empty());
    assert_eq!(value, -20.0);
    assert_eq!(gradient, vec![-8.0, 6.0, 2.0, 0.0]);
}

#[test]
fn worked_example_sum_times_z() {
    // f = (x + y)z at (−2, 5, −4): f = −12, ∇f = (−4, −4, 3).
    let mut g = Graph::new();
    let [x, y, z] = [0, 1, 2].map(|i| g.param(i));
    let s = g.add2(x, y);
    let f = g.mul(s, z);
    let (value, gradient) = value_and_gradient(&mut g, f, &[-2.0, 5.0, -4.0], &Data::empty());
    assert_eq!(value, -12.0);
    assert_eq!(gradient, vec![-4.0, -4.0, 3.0]);
}

#[test]
fn max_ties_go_to_the_first_operand() {
    let mut g = Graph::new();
    let [a, b] = [0, 1].map(|i| g.param(i));
    let m = g.binary(Op::Max, a, b);
    let (_, gradient) = value_and_gradient(&mut g, m, &[1.0, 1.0], &Data::empty());
    assert_eq!(gradient, vec![1.0, 0.0]);
}

#[test]
fn abs_and_relu_have_zero_derivative_at_zero() {
    let mut g = Graph::new();
    let x = g.param(0);
    let a = g.unary(Op::Abs, x);
    let r = g.unary(Op::Relu, x);
    let f = g.add2(a, r);
    let (_, gradient) = value_and_gradient(&mut g, f, &[0.0], &Data::empty());
    assert_eq!(gradient, vec![0.0]);
}

#[test]
fn branch_not_taken_never_leaks_nan() {
    // if x > 0 then sqrt(x) * log(x) else 2x, at x = 0 and x = −1: the taken branch's
    // derivative is 2, while the other branch's derivative is NaN or infinite there.
    let mut g = Graph::new();
    let x = g.param(0);
    let zero = g.constant(0.0);
    let c = g.binary(Op::Cmp(CmpOp::Gt), x, zero);
    let sqrt = g.unary(Op::Sqrt, x);
    let log = g.unary(Op::Log, x);
    let t = g.mul(sqrt, log);
    let two = g.constant(2.0);
    let f_branch = g.mul(two, x);
    let f = g.if_then_else(c, t, f_branch);
    for at in [0.0, -1.0] {
        let (_, gradient) = value_and_gradient(&mut g, f, &[at], &Data::empty());
        assert_eq!(gradient, vec![2.0], "at x = {at}");
    }
}

#[test]
fn hessians_through_a_branch_are_right_where_the_adjoint_is_zero() {
    // w · (if w > −1 then sin(sin(w)) else sin(w)) at w = 0: the adjoint of the `if` is w,
    // exactly 0 there, and the Hessian is 2·cos(0)·cos(sin 0) = 2 (found by the pipeline fuzz
    // target; guarding with `if a != 0` lost the (da)·l term and gave 1).
    let mut g = Graph::new();
    let w = g.param(0);
    let minus_one = g.constant(-1.0);
    let c = g.binary(Op::Cmp(CmpOp::Gt), w, minus_one);
    let sin = g.unary(Op::Sin, w);
    let sin_sin = g.unary(Op::Sin, sin);
    let branch = g.if_then_else(c, sin_sin, sin);
    let f = g.mul(w, branch);
    let gradient = grad(&mut g, f, 1);
    let h = hessian(&mut g, &gradient, 1);
    for (at, expected) in [
        (0.0, 2.0),
        (-2.0, 2.0 * (-2.0f64).cos() + 2.0 * (-2.0f64).sin()),
    ] {
        let value = evaluate(&g, &[h[0][0]], &[at], &Data::empty()).unwrap()[0];
        assert!(
            (value - expected).abs() < 1e-12,
            "at {at}: {value} vs {expected}"
        );
    }
    // The branch not taken still cannot leak: at w = −2 the first branch is not taken.
    let value = evaluate(&g, &[gradient[0]], &[-2.0], &Data::empty()).unwrap()[0];
    let expected = (-2.0f64).sin() + -2.0 * (-2.0f64).cos();
    assert!((value - expected).abs() < 1e-12);
}

#[test]
fn reductions_give_mean_of_per_row_derivatives() {
    // mean((w·x + b − y)²): ∂/∂w = mean(2(wx + b − y)x), ∂/∂b = mean(2(wx + b − y)).
    let mut g = Graph::new();
    let [w, b] = [0, 1].map(|i| g.param(i));
    let [x, y] = [0, 1].map(|i| g.input(i));
    let wx = g.mul(w, x);
    let z = g.add2(wx, b);
    let r = g.sub(z, y);
    let two = g.constant(2.0);
    let sq = g.binary(Op::Pow, r, two);
    let loss = g.unary(Op::RowMean, sq);
    let data = Data::from_rows(&[vec![1.0, 2.0], vec![2.0, 3.0], vec![3.0, 7.0]]);
    let (w0, b0) = (0.5, -1.0);
    let (_, gradient) = value_and_gradient(&mut g, loss, &[w0, b0], &data);
    let rows = [(1.0, 2.0), (2.0, 3.0), (3.0, 7.0)];
    let dw: f64 = rows
        .iter()
        .map(|(x, y)| 2.0 * (w0 * x + b0 - y) * x)
        .sum::<f64>()
        / 3.0;
    let db: f64 = rows
        .iter()
        .map(|(x, y)| 2.0 * (w0 * x + b0 - y))
        .sum::<f64>()
        / 3.0;
    assert!((gradient[0] - dw).abs() < 1e-12 && (gradient[1] - db).abs() < 1e-12);
}

#[test]
fn gradient_graph_is_linear_in_the_forward_graph() {
    // A deep chain of tanh layers: the gradient adds a bounded number of nodes per node.
    let mut g = Graph::new();
    let mut h = g.param(0);
    let w = g.param(1);
    for _ in 0..2000 {
        let wh = g.mul(w, h);
        h = g.unary(Op::Tanh, wh);
    }
    let forward = g.len();
    let gradient = grad(&mut g, h, 2);
    assert_eq!(gradient.len(), 2);
    assert!(
        g.len() < 6 * forward,
        "{} nodes for {} forward",
        g.len(),
        forward
    );
}

/// Central finite difference of `root` in parameter `i` with its rounding noise, or `None`
/// where finite differences cannot resolve the derivative: the function is not smooth at this
/// scale (central differences at h and h/8 disagree — a kink, a pole of tan nearby) or a value
/// is not finite.
fn finite_difference(
    g: &Graph,
    root: NodeId,
    params: &[f64],
    i: usize,
    data: &Data,
) -> Option<(f64, f64)> {
    let at = |delta: f64| {
        let mut p = params.to_vec();
        p[i] += delta;
        evaluate(g, &[root], &p, data)
            .ok()
            .map(|v| v[0])
            .filter(|v| v.is_finite())
    };
    let center = at(0.0)?;
    let central = |h: f64| -> Option<(f64, f64)> {
        let (minus, plus) = (at(-h)?, at(h)?);
        let noise = 100.0 * f64::EPSILON * center.abs().max(plus.abs()).max(minus.abs()) / h;
        Some(((plus - minus) / (2.0 * h), noise))
    };
    let h = 1e-5 * params[i].abs().max(1.0);
    let (coarse, _) = central(h)?;
    let (fine, noise) = central(h / 8.0)?;
    let scale = coarse.abs().max(fine.abs()).max(1.0);
    if (coarse - fine).abs() > 1e-4 * scale + noise {
        return None;
    }
    Some((fine, noise))
}

/// Whether the point is regular: every node the root reads is finite and below 1e6 in
/// magnitude, taken branch or not, and no computed node is exactly zero. Beyond 1e6 a step of
/// finite differences can be absorbed (`tan(1e18 + h) = tan(1e18)`) and they measure nothing. Elsewhere the function may be flat or degenerate nearby (a
/// `−∞` entry of a logsumexp, `sqrt(relu(u))` at `u < 0` where `sqrt′(0) · relu′ = ∞ · 0`), and
/// the exact derivative is NaN — as in every AD system — while finite differences see 0.
fn regular_point(g: &Graph, root: NodeId, params: &[f64], data: &Data) -> bool {
    let cone: Vec<NodeId> = g
        .cone(&[root])
        .into_iter()
        .filter(|&id| !matches!(g.op(id), Op::Const(_) | Op::Step | Op::Sign | Op::Cmp(_)))
        .collect();
    match gradc_graph::interp::evaluate_per_row(g, &cone, params, data) {
        Ok(rows) => rows.iter().flatten().all(|v| v.abs() < 1e6 && *v != 0.0),
        Err(_) => false,
    }
}

fn close(a: f64, (b, noise): (f64, f64), tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * a.abs().max(b.abs()).max(1.0) + noise
}

fn random_point(seed: u64, shape: Shape, rows: usize) -> (Vec<f64>, Data) {
    let mut rng = SplitMix::new(seed ^ 0xA5A5);
    let params = (0..shape.params).map(|_| rng.uniform(-2.0, 2.0)).collect();
    let data_rows: Vec<Vec<f64>> = (0..rows)
        .map(|_| (0..shape.inputs).map(|_| rng.uniform(-2.0, 2.0)).collect())
        .collect();
    let data = if shape.inputs == 0 {
        Data::empty()
    } else {
        Data::from_rows(&data_rows)
    };
    (params, data)
}

proptest! {
    #![proptest_config(ProptestConfig { max_global_rejects: 100_000, ..ProptestConfig::default() })]

    #[test]
    fn gradient_equals_finite_differences(seed in any::<u64>(), size in 1usize..14) {
        let shape = Shape { params: 3, inputs: 2, size };
        let mut g = Graph::new();
        let root = random_objective(&mut g, seed, shape);
        let (params, data) = random_point(seed, shape, 4);
        prop_assume!(regular_point(&g, root, &params, &data));
        let (_, gradient) = value_and_gradient(&mut g, root, &params, &data);
        for (i, &derivative) in gradient.iter().enumerate() {
            if let Some(fd) = finite_difference(&g, root, &params, i, &data) {
                prop_assert!(
                    derivative.is_finite() && close(derivative, fd, 1e-4),
                    "param {i}: gradient {derivative}, finite difference {fd:?}"
                );
            }
        }
    }

    #[test]
    fn hessian_is_symmetric_and_equals_differences_of_the_gradient(seed in any::<u64>(), size in 1usize..8) {
        let shape = Shape { params: 2, inputs: 1, size };
        let mut g = Graph::new();
        let root = random_objective(&mut g, seed, shape);
        let (params, data) = random_point(seed, shape, 3);
        let gradient = grad(&mut g, root, 2);
        let h = hessian(&mut g, &gradient, 2);
        prop_assert_eq!(h[0][1], h[1][0]);
        prop_assume!(regular_point(&g, root, &params, &data));
        for (i, row) in h.iter().enumerate() {
            for (j, &entry) in row.iter().enumerate() {
                let exact = evaluate(&g, &[entry], &params, &data).expect("evaluation")[0];
                if let Some(fd) = finite_difference(&g, gradient[i], &params, j, &data) {
                    prop_assert!(
                        exact.is_finite() && close(exact, fd, 1e-3),
                        "H[{i}][{j}] = {exact}, finite difference of the gradient {fd:?}"
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, max_global_rejects: 100_000, ..ProptestConfig::default() })]

    /// The per-row derivatives of a per-row expression (Jacobian rows) equal central finite
    /// differences on every row.
    #[test]
    fn per_row_derivatives_equal_finite_differences(seed in any::<u64>(), size in 1usize..10) {
        let shape = Shape { params: 3, inputs: 2, size };
        let mut g = Graph::new();
        let mut rng = SplitMix::new(seed);
        let root = gradc_graph::random::random_expression(&mut g, &mut rng, shape, true, size);
        let (params, data) = random_point(seed, shape, 3);
        prop_assume!(regular_point(&g, root, &params, &data));
        let derivatives = crate::grad_per_row(&mut g, root, shape.params);
        let rows = gradc_graph::interp::evaluate_per_row(&g, &derivatives, &params, &data)
            .expect("per-row evaluation");
        prop_assert_eq!(rows.len(), 3);
        for i in 0..shape.params {
            let h = 1e-6;
            let at = |delta: f64| {
                let mut p = params.clone();
                p[i] += delta;
                gradc_graph::interp::evaluate_per_row(&g, &[root], &p, &data).unwrap()
            };
            let (plus, minus, mid) = (at(h), at(-h), at(0.0));
            let (plus2, minus2) = (at(2.0 * h), at(-2.0 * h));
            for (r, row) in rows.iter().enumerate() {
                let fd = (plus[r][0] - minus[r][0]) / (2.0 * h);
                // Where the finite difference itself is unreliable (it changes with the step:
                // cancellation in log1p(tanh(z)) near z = −9 loses most digits), it is no oracle.
                let fd2 = (plus2[r][0] - minus2[r][0]) / (4.0 * h);
                if (fd - fd2).abs() > 1e-5 * (1.0 + fd.abs()) {
                    continue;
                }
                let ok = !mid[r][0].is_finite() || !fd.is_finite() || mid[r][0].abs() > 1e6
                    || (row[i] - fd).abs() <= 1e-4 * (1.0 + fd.abs());
                // Kinks: a finite difference across a kink is not a derivative; skip rows where
                // the one-sided differences disagree.
                let left = (mid[r][0] - minus[r][0]) / h;
                let right = (plus[r][0] - mid[r][0]) / h;
                let smooth = (left - right).abs() <= 1e-3 * (1.0 + left.abs());
                prop_assert!(ok || !smooth, "row {r}, param {i}: {} vs {fd}", row[i]);
            }
        }
    }
}

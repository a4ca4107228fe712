//! The tensor gradient against the scalar one of the unrolled graph, on models that use every
//! tensor operation, at random points on random data.

use super::*;
use gradc_graph::interp::{self, Data};
use gradc_graph::random::SplitMix;
use gradc_graph::tensor::{TensorProgram, interp as tinterp};

/// The parameter leaves of a program, in declaration order.
fn param_nodes(program: &TensorProgram) -> Vec<TId> {
    program
        .params
        .iter()
        .map(|p| {
            program
                .graph
                .ids()
                .find(|&id| program.graph.op(id) == TOp::Param(p.offset as u32))
                .expect("every param is a leaf of the graph")
        })
        .collect()
}

/// Compares the tensor gradient of `source` with the scalar gradient of its unrolled graph at
/// a few random points; returns the largest relative difference.
fn compare(source: &str, seed: u64) -> f64 {
    let mut program =
        gradc_lower::compile_tensor(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
    let scalar = program.unroll();
    let n = program.param_count();
    let inputs = program.input_count();
    let params = param_nodes(&program);
    let objective = program.objective;
    let gradient = grad_tensor(&mut program.graph, objective, &params).expect("differentiable");
    let mut scalar_graph = scalar.graph.clone();
    let scalar_gradient = crate::grad(&mut scalar_graph, scalar.objective, n);
    let mut rng = SplitMix::new(seed);
    let mut worst: f64 = 0.0;
    for _ in 0..4 {
        let point: Vec<f64> = (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let rows = 1 + rng.below(6);
        let data = Data {
            n_rows: rows,
            columns: (0..inputs)
                .map(|_| (0..rows).map(|_| rng.uniform(-2.0, 2.0)).collect())
                .collect(),
        };
        let tensor_values =
            tinterp::evaluate(&program.graph, &gradient, &point, &data, None).expect("evaluates");
        let flat: Vec<f64> = tensor_values.into_iter().flatten().collect();
        let expected =
            interp::evaluate(&scalar_graph, &scalar_gradient, &point, &data).expect("evaluates");
        assert_eq!(flat.len(), expected.len(), "{source}");
        for (k, (a, b)) in flat.iter().zip(&expected).enumerate() {
            if a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()) {
                continue;
            }
            let scale = a.abs().max(b.abs()).max(1.0);
            let difference = (a - b).abs() / scale;
            assert!(
                difference < 1e-11,
                "{source}\n∂/∂[{k}]: tensor {a} vs scalar {b} at {point:?}"
            );
            worst = worst.max(difference);
        }
    }
    worst
}

const MODELS: &[&str] = &[
    // Logistic regression, as in the notes.
    "input x[3] = a, b, c\ninput y = label\nparam w[3] = 0.1\nparam b = 0\n\
     let z = dot(w, x) + b\nlet p = sigmoid(z)\n\
     minimize mean(-(y * log(p) + (1 - y) * log(1 - p))) + 0.01 * sum(w^2)\n",
    // Softmax regression with matrix notation.
    "input x[3] = a, b, c\ninput y[2] = d, e\nparam W[2][3] = 0.1\nparam b[2] = 0\n\
     let z = W @ x + b\nminimize mean(logsumexp(z) - dot(y, z))\n",
    // A 3-4-1 network in matrix notation and in index notation.
    "input x[3] = a, b, c\ninput t = d\nparam W1[4][3] = 0.3\nparam b1[4] = 0.1\n\
     param W2[4] = 0.2\nparam b2 = 0\nlet h = tanh(W1 @ x + b1)\n\
     let out = sigmoid(dot(W2, h) + b2)\nminimize mean((out - t)^2)\n",
    "input x[3] = a, b, c\ninput t = d\nparam W1[4][3] = 0.3\nparam b1[4] = 0.1\n\
     param W2[4] = 0.2\nparam b2 = 0\nlet h[i] = tanh(sum(j) W1[i][j] * x[j] + b1[i])\n\
     let out = sigmoid(sum(i) W2[i] * h[i] + b2)\nminimize mean((out - t)^2)\n",
    // Nested reductions (a standardization), max, min, norm, softmax, if, leaky_relu.
    "input x\ninput y\nparam w = 0.5\nparam c = 0.1\n\
     let s = (x - mean(x)) / sqrt(mean((x - mean(x))^2))\n\
     minimize mean((w * s + c - y)^2)\n",
    "param v[4] = 0.3\nparam u[4] = -0.2\n\
     minimize max(v * u) + min(v) + norm(v - u) + sum(softmax(v) * u)\n",
    "input x[2] = a, b\nparam w[2] = 0.4\nparam k = 0.5\n\
     minimize mean(sum(if w * x > 0 then leaky_relu(w * x, k) else exp(w * x) - 1))\n",
    // Matrix products both ways, rows, transposes through index notation.
    "param A[2][3] = 0.1\nparam B[3][2] = 0.2\nparam u[2] = 0.3\n\
     let M[i][j] = sum(k) A[i][k] * B[k][j]\nminimize sum((A @ B - M + 1)^2) + sum(u @ A) + sum(A[1])\n",
    // A function over vectors, a positional index, iota.
    "param v[4] = 0.2\nfn sq(t) = t * t + 1\nlet s[i] = v[i] * i\n\
     let shifted[i] = v[i] * 2 + s[i]\nminimize sum(sq(v)) + sum(shifted) + sum(i) v[i] * v[3 - i]\n",
    // Per-row vector reductions and a mean over a free index.
    "input x[3] = a, b, c\nparam w[3] = 0.5\n\
     minimize mean(sum(exp(w * x))) + sum(mean(w * x)) + mean(mean(i) w[i] * x[i])\n",
];

#[test]
fn the_tensor_gradient_equals_the_scalar_gradient_of_the_unrolled_graph() {
    for (k, source) in MODELS.iter().enumerate() {
        let worst = compare(source, k as u64 + 1);
        assert!(worst < 1e-11, "{source}: {worst}");
    }
}

#[test]
fn the_gradient_of_a_large_parameter_is_a_few_nodes() {
    let source = "input x[784] = columns 0..784\ninput y[10] = columns 784..794\n\
                  param W[10][784] = 0\nparam b[10] = 0\nlet z = W @ x + b\n\
                  minimize mean(logsumexp(z) - dot(y, z))\n";
    let mut program = gradc_lower::compile_tensor(source).expect("compiles");
    let params = param_nodes(&program);
    let before = program.graph.len();
    let objective = program.objective;
    let gradient = grad_tensor(&mut program.graph, objective, &params).expect("differentiable");
    assert!(
        program.graph.len() - before < 60,
        "{} nodes",
        program.graph.len() - before
    );
    assert_eq!(program.graph.shape(gradient[0]), &[10, 784]);
    assert_eq!(program.graph.shape(gradient[1]), &[10]);
}

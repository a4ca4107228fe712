//! The safe API: every length is checked (errors, never a panic or UB), empty data, models
//! without inputs, nested reductions, many accumulators, threads on more than one chunk, and
//! the `Objective` wrapper.

use gradc_compile::{
    CompileError, EvalError, Kernel, KernelData, KernelOptions, Objective, RowSet, Threads,
};
use gradc_graph::interp::{Data, evaluate, evaluate_rows};
use gradc_graph::random::SplitMix;
use gradc_graph::{Graph, NodeId, Op};

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// mean(w * x) and sum(w * x) over one column.
fn mean_and_sum() -> (Graph, Vec<NodeId>) {
    let mut g = Graph::new();
    let x = g.input(0);
    let w = g.param(0);
    let wx = g.mul(w, x);
    let mean = g.unary(Op::RowMean, wx);
    let sum = g.unary(Op::RowSum, wx);
    (g, vec![mean, sum])
}

#[test]
fn mean_and_sum_over_rows_and_batches() {
    let (g, roots) = mean_and_sum();
    let kernel = Kernel::compile(&g, &roots, 1, 1).unwrap();
    let data = KernelData::from_data(&Data::from_rows(&[
        vec![1.0],
        vec![2.0],
        vec![3.0],
        vec![6.0],
    ]))
    .unwrap();
    let mut out = [0.0; 2];
    kernel.eval(&[2.0], &data, RowSet::All, &mut out).unwrap();
    assert_eq!(out, [6.0, 24.0]);
    kernel
        .eval(&[2.0], &data, RowSet::Subset(&[0, 3]), &mut out)
        .unwrap();
    assert_eq!(out, [7.0, 28.0]);
    // A subset as large as the data (with a repeat) is not scaled, as in the interpreter.
    kernel
        .eval(&[2.0], &data, RowSet::Subset(&[3, 3, 3, 3]), &mut out)
        .unwrap();
    assert_eq!(out, [12.0, 48.0]);
}

#[test]
fn empty_data_and_empty_batches_match_the_interpreter() {
    let (g, roots) = mean_and_sum();
    let kernel = Kernel::compile(&g, &roots, 1, 1).unwrap();
    let empty = Data {
        n_rows: 0,
        columns: vec![Vec::new()],
    };
    let kdata = KernelData::from_data(&empty).unwrap();
    let mut out = [0.0; 2];
    kernel.eval(&[2.0], &kdata, RowSet::All, &mut out).unwrap();
    let expected = evaluate(&g, &roots, &[2.0], &empty).unwrap();
    assert!(out[0].is_nan() && expected[0].is_nan(), "mean of no rows");
    assert!(same(out[1], expected[1]) && out[1] == 0.0, "sum of no rows");

    let data = Data::from_rows(&[vec![1.0], vec![2.0]]);
    let kdata = KernelData::from_data(&data).unwrap();
    kernel
        .eval(&[2.0], &kdata, RowSet::Subset(&[]), &mut out)
        .unwrap();
    let expected = evaluate_rows(&g, &roots, &[2.0], &data, Some(&[])).unwrap();
    for k in 0..2 {
        assert!(same(out[k], expected[k]), "{} vs {}", out[k], expected[k]);
    }
    // Threaded, too.
    let threads = Threads::new(2).unwrap();
    kernel
        .eval_threads(&[2.0], &kdata, RowSet::Subset(&[]), &mut out, &threads)
        .unwrap();
    for k in 0..2 {
        assert!(same(out[k], expected[k]));
    }
}

#[test]
fn models_without_inputs() {
    // Rosenbrock: (1 - a)^2 + 100 (b - a^2)^2, with gradient and Hessian.
    let mut g = Graph::new();
    let a = g.param(0);
    let b = g.param(1);
    let one = g.constant(1.0);
    let two = g.constant(2.0);
    let hundred = g.constant(100.0);
    let d1 = g.sub(one, a);
    let t1 = g.binary(Op::Pow, d1, two);
    let a2 = g.binary(Op::Pow, a, two);
    let d2 = g.sub(b, a2);
    let s2 = g.binary(Op::Pow, d2, two);
    let t2 = g.mul(hundred, s2);
    let f = g.add2(t1, t2);
    let gradient = gradc_grad::grad(&mut g, f, 2);
    let hessian = gradc_grad::hessian(&mut g, &gradient, 2);
    let objective = Objective::compile(&g, 0, f, &gradient, Some(&hessian)).unwrap();
    let params = [-1.2, 1.0];
    let mut grad = [0.0; 2];
    let mut hess = [0.0; 4];
    let data = KernelData::empty();
    let v = objective
        .value_grad_hess(&params, &data, RowSet::All, &mut grad, &mut hess)
        .unwrap();
    let mut roots = vec![f];
    roots.extend(&gradient);
    roots.extend(hessian.iter().flatten());
    let expected = evaluate(&g, &roots, &params, &Data::empty()).unwrap();
    assert_eq!(v, expected[0]);
    assert_eq!(grad.as_slice(), &expected[1..3]);
    assert_eq!(hess.as_slice(), &expected[3..]);
    assert_eq!(v, 24.199999999999996);
    assert_eq!(objective.value(&params, &data, RowSet::All).unwrap(), v);
    // Data is irrelevant to a model without inputs, even with rows.
    let rows = KernelData::from_row_major(3, 0, Vec::new()).unwrap();
    assert_eq!(objective.value(&params, &rows, RowSet::All).unwrap(), v);
}

#[test]
fn roots_that_are_leaves() {
    let mut g = Graph::new();
    let p = g.param(1);
    let c = g.constant(-0.0);
    let x = g.input(0);
    let m = g.unary(Op::RowMean, x);
    let kernel = Kernel::compile(&g, &[p, c, m, p], 2, 1).unwrap();
    let data = KernelData::from_row_major(2, 1, vec![1.0, 4.0]).unwrap();
    let mut out = [0.0; 4];
    kernel
        .eval(&[5.0, 7.0], &data, RowSet::All, &mut out)
        .unwrap();
    assert_eq!(out, [7.0, -0.0, 2.5, 7.0]);
    assert!(out[1].is_sign_negative());
}

#[test]
fn lengths_are_checked() {
    let (g, roots) = mean_and_sum();
    let kernel = Kernel::compile(&g, &roots, 1, 1).unwrap();
    let data = KernelData::from_row_major(2, 1, vec![1.0, 2.0]).unwrap();
    let mut out = [0.0; 2];
    assert_eq!(
        kernel.eval(&[], &data, RowSet::All, &mut out),
        Err(EvalError::ParamCount {
            expected: 1,
            given: 0
        })
    );
    assert_eq!(
        kernel.eval(&[1.0, 2.0], &data, RowSet::All, &mut out),
        Err(EvalError::ParamCount {
            expected: 1,
            given: 2
        })
    );
    assert_eq!(
        kernel.eval(&[1.0], &data, RowSet::All, &mut [0.0; 3]),
        Err(EvalError::OutputLength {
            expected: 2,
            given: 3
        })
    );
    assert_eq!(
        kernel.eval(&[1.0], &KernelData::empty(), RowSet::All, &mut out),
        Err(EvalError::DataWidth {
            needed: 1,
            given: 0
        })
    );
    assert_eq!(
        kernel.eval(&[1.0], &data, RowSet::Subset(&[0, 2]), &mut out),
        Err(EvalError::RowOutOfRange { row: 2, n_rows: 2 })
    );
    let threads = Threads::new(2).unwrap();
    assert_eq!(
        kernel.eval_threads(
            &[1.0],
            &data,
            RowSet::Subset(&[usize::MAX]),
            &mut out,
            &threads
        ),
        Err(EvalError::RowOutOfRange {
            row: usize::MAX,
            n_rows: 2
        })
    );
    // Wider data than the model reads is fine.
    let wide = KernelData::from_row_major(2, 3, vec![1.0, 9.0, 9.0, 2.0, 9.0, 9.0]).unwrap();
    kernel.eval(&[1.0], &wide, RowSet::All, &mut out).unwrap();
    assert_eq!(out, [1.5, 3.0]);

    assert!(matches!(
        KernelData::from_row_major(2, 3, vec![1.0]),
        Err(EvalError::BufferShape { .. })
    ));
    let ragged = Data {
        n_rows: 2,
        columns: vec![vec![1.0, 2.0], vec![1.0]],
    };
    assert_eq!(
        KernelData::from_data(&ragged),
        Err(EvalError::RaggedColumn {
            index: 1,
            len: 1,
            n_rows: 2
        })
    );
}

#[test]
fn compile_errors() {
    let mut g = Graph::new();
    let x = g.input(0);
    let p = g.param(3);
    let m = g.unary(Op::RowMean, x);
    assert_eq!(
        Kernel::compile(&g, &[x], 0, 1).unwrap_err(),
        CompileError::PerRowRoot(x)
    );
    assert_eq!(
        Kernel::compile(&g, &[p], 3, 0).unwrap_err(),
        CompileError::ParamOutOfRange {
            index: 3,
            n_params: 3
        }
    );
    assert_eq!(
        Kernel::compile(&g, &[m], 0, 0).unwrap_err(),
        CompileError::InputOutOfRange {
            index: 0,
            n_inputs: 0
        }
    );
    assert_eq!(
        Kernel::compile(&g, &[NodeId(99)], 0, 0).unwrap_err(),
        CompileError::UnknownNode(NodeId(99))
    );
    assert_eq!(
        Kernel::compile_with(
            &g,
            &[m],
            0,
            1,
            KernelOptions {
                chunk_rows: 0,
                ..KernelOptions::default()
            }
        )
        .unwrap_err(),
        CompileError::ZeroChunk
    );
    let options = KernelOptions {
        segment_nodes: 0,
        ..KernelOptions::default()
    };
    assert_eq!(
        Kernel::compile_with(&g, &[m], 0, 1, options).unwrap_err(),
        CompileError::ZeroSegment
    );
    let hessian = vec![vec![m]];
    assert_eq!(
        Objective::compile(&g, 1, m, &[], Some(&hessian)).unwrap_err(),
        CompileError::HessianShape { n_params: 0 }
    );
    // No roots at all is a valid (empty) kernel.
    let empty = Kernel::compile(&g, &[], 0, 0).unwrap();
    empty
        .eval(&[], &KernelData::empty(), RowSet::All, &mut [])
        .unwrap();
}

#[test]
fn objective_lengths_are_checked() {
    let (g, roots) = mean_and_sum();
    let gradient = vec![roots[1]];
    let objective = Objective::compile(&g, 1, roots[0], &gradient, None).unwrap();
    let data = KernelData::from_row_major(1, 1, vec![3.0]).unwrap();
    assert_eq!(
        objective.value_grad(&[1.0], &data, RowSet::All, &mut [0.0; 2]),
        Err(EvalError::OutputLength {
            expected: 1,
            given: 2
        })
    );
    assert_eq!(
        objective.value_grad_hess(&[1.0], &data, RowSet::All, &mut [0.0], &mut [0.0]),
        Err(EvalError::NoHessian)
    );
    let mut grad = [0.0];
    let v = objective
        .value_grad(&[2.0], &data, RowSet::All, &mut grad)
        .unwrap();
    assert_eq!((v, grad[0]), (6.0, 6.0));
}

/// The variance by nested means, `mean((x - mean(x))^2)`, and a third level.
#[test]
fn nested_reductions() {
    let mut g = Graph::new();
    let x = g.input(0);
    let m = g.unary(Op::RowMean, x);
    let d = g.sub(x, m);
    let two = g.constant(2.0);
    let sq = g.binary(Op::Pow, d, two);
    let var = g.unary(Op::RowMean, sq);
    let sd = g.unary(Op::Sqrt, var);
    let z = g.div(d, sd);
    let z4 = g.binary(Op::Pow, z, two);
    let kurt = g.unary(Op::RowSum, z4);
    let data = Data::from_rows(&[vec![1.0], vec![2.0], vec![3.0], vec![6.0]]);
    let kdata = KernelData::from_data(&data).unwrap();
    let kernel = Kernel::compile(&g, &[var, kurt], 0, 1).unwrap();
    let mut out = [0.0; 2];
    kernel.eval(&[], &kdata, RowSet::All, &mut out).unwrap();
    assert_eq!(out[0], 3.5);
    assert_eq!(
        out.to_vec(),
        evaluate(&g, &[var, kurt], &[], &data).unwrap()
    );
    for subset in [&[0usize, 3][..], &[1, 1, 2], &[3]] {
        kernel
            .eval(&[], &kdata, RowSet::Subset(subset), &mut out)
            .unwrap();
        let expected = evaluate_rows(&g, &[var, kurt], &[], &data, Some(subset)).unwrap();
        for k in 0..2 {
            assert!(same(out[k], expected[k]));
        }
    }
}

/// Reductions of a row-free argument sum the same value once per row, as the interpreter does.
#[test]
fn reduction_of_a_row_free_argument() {
    let mut g = Graph::new();
    let p = g.param(0);
    let e = g.unary(Op::Exp, p);
    let m = g.unary(Op::RowMean, e);
    let s = g.unary(Op::RowSum, p);
    let data = Data::from_rows(&vec![vec![0.0]; 7]);
    let kdata = KernelData::from_data(&data).unwrap();
    let kernel = Kernel::compile(&g, &[m, s], 1, 1).unwrap();
    let mut out = [0.0; 2];
    kernel.eval(&[0.1], &kdata, RowSet::All, &mut out).unwrap();
    let expected = evaluate(&g, &[m, s], &[0.1], &data).unwrap();
    assert_eq!(out.to_vec(), expected);
}

fn random_rows(n_rows: usize, width: usize, seed: u64) -> Data {
    let mut rng = SplitMix::new(seed);
    let rows: Vec<Vec<f64>> = (0..n_rows)
        .map(|_| (0..width).map(|_| rng.uniform(-1.0, 1.0)).collect())
        .collect();
    Data::from_rows(&rows)
}

/// More accumulators than fit in registers (they live in memory): still the interpreter's
/// values.
#[test]
fn many_accumulators() {
    let mut g = Graph::new();
    let mut roots = Vec::new();
    for j in 0..3 {
        let x = g.input(j);
        for i in 0..20 {
            let w = g.param(i);
            let wx = g.mul(w, x);
            let t = g.unary(Op::Tanh, wx);
            roots.push(g.unary(if i % 2 == 0 { Op::RowMean } else { Op::RowSum }, t));
        }
    }
    let data = random_rows(100, 3, 1);
    let kdata = KernelData::from_data(&data).unwrap();
    let params: Vec<f64> = (0..20).map(|i| i as f64 * 0.1 - 1.0).collect();
    for segment_nodes in [1, 7, 4096] {
        let options = KernelOptions {
            segment_nodes,
            ..KernelOptions::default()
        };
        let kernel = Kernel::compile_with(&g, &roots, 20, 3, options).unwrap();
        let mut out = vec![0.0; roots.len()];
        kernel.eval(&params, &kdata, RowSet::All, &mut out).unwrap();
        assert_eq!(out, evaluate(&g, &roots, &params, &data).unwrap());
        let subset: Vec<usize> = (0..50).map(|i| (i * 7) % 100).collect();
        kernel
            .eval(&params, &kdata, RowSet::Subset(&subset), &mut out)
            .unwrap();
        assert_eq!(
            out,
            evaluate_rows(&g, &roots, &params, &data, Some(&subset)).unwrap()
        );
    }
}

/// More rows than one chunk: threads give the serial result bit for bit whatever their number,
/// and the chunked sums agree with the interpreter to rounding.
#[test]
fn threads_on_many_chunks_are_bit_identical() {
    let mut g = Graph::new();
    let x = g.input(0);
    let y = g.input(1);
    let w = g.param(0);
    let b = g.param(1);
    let wx = g.mul(w, x);
    let z = g.add2(wx, b);
    let s = g.unary(Op::Sigmoid, z);
    let d = g.sub(s, y);
    let two = g.constant(2.0);
    let sq = g.binary(Op::Pow, d, two);
    let loss = g.unary(Op::RowMean, sq);
    let inner = g.unary(Op::RowMean, x);
    let centered = g.sub(x, inner);
    let c2 = g.mul(centered, d);
    let nested = g.unary(Op::RowSum, c2);
    let root = g.add2(loss, nested);
    let gradient = gradc_grad::grad(&mut g, root, 2);
    let mut roots = vec![root];
    roots.extend(&gradient);
    let data = random_rows(20_000, 2, 7);
    let kdata = KernelData::from_data(&data).unwrap();
    let kernel = Kernel::compile(&g, &roots, 2, 2).unwrap();
    let params = [0.7, -0.2];
    let subset: Vec<usize> = (0..9000).map(|i| (i * 7919) % 20_000).collect();
    for set in [RowSet::All, RowSet::Subset(&subset)] {
        let mut serial = vec![0.0; roots.len()];
        kernel.eval(&params, &kdata, set, &mut serial).unwrap();
        for n in [2, 3, 4] {
            let threads = Threads::new(n).unwrap();
            assert_eq!(threads.count(), n);
            let mut threaded = vec![0.0; roots.len()];
            kernel
                .eval_threads(&params, &kdata, set, &mut threaded, &threads)
                .unwrap();
            assert_eq!(
                serial.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                threaded.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{n} threads"
            );
        }
        let rows = match set {
            RowSet::All => None,
            RowSet::Subset(s) => Some(s),
        };
        let expected = evaluate_rows(&g, &roots, &params, &data, rows).unwrap();
        for k in 0..roots.len() {
            let err = (serial[k] - expected[k]).abs() / expected[k].abs();
            assert!(err <= 1e-12, "root {k}: {} vs {}", serial[k], expected[k]);
        }
    }
}

/// The chunked sum is exactly: each chunk from zero, then the chunk sums in order.
#[test]
fn chunked_sum_order_is_fixed() {
    let mut g = Graph::new();
    let x = g.input(0);
    let s = g.unary(Op::RowSum, x);
    let values: Vec<f64> = (0..10)
        .map(|i| 1.0 / (i as f64 + 1.0) * 1e16_f64.powi(i % 3))
        .collect();
    let data = KernelData::from_row_major(10, 1, values.clone()).unwrap();
    let kernel = Kernel::compile_with(
        &g,
        &[s],
        0,
        1,
        KernelOptions {
            chunk_rows: 4,
            ..KernelOptions::default()
        },
    )
    .unwrap();
    let mut out = [0.0];
    kernel.eval(&[], &data, RowSet::All, &mut out).unwrap();
    let mut total = 0.0;
    for chunk in values.chunks(4) {
        total += chunk.iter().fold(0.0, |a, b| a + b);
    }
    assert_eq!(out[0].to_bits(), total.to_bits());
}

#[test]
fn kernels_are_send_and_sync_and_free_their_code() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Kernel>();
    assert_send_sync::<Objective>();
    let (g, roots) = mean_and_sum();
    let data = KernelData::from_row_major(2, 1, vec![1.0, 2.0]).unwrap();
    for _ in 0..200 {
        let kernel = Kernel::compile(&g, &roots, 1, 1).unwrap();
        let mut out = [0.0; 2];
        kernel.eval(&[1.0], &data, RowSet::All, &mut out).unwrap();
        assert_eq!(out, [1.5, 3.0]);
    }
    // Shared between threads.
    let kernel = Kernel::compile(&g, &roots, 1, 1).unwrap();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let kernel = &kernel;
            let data = &data;
            scope.spawn(move || {
                let mut out = [0.0; 2];
                kernel
                    .eval(&[t as f64], data, RowSet::All, &mut out)
                    .unwrap();
                assert_eq!(out, [1.5 * t as f64, 3.0 * t as f64]);
            });
        }
    });
}

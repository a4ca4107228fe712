//! Differential property tests: native kernels against the reference interpreter on random
//! graphs from `gradc_graph::random` (every operation, kinks, `if`, reductions), for the value,
//! the gradient and the Hessian, on all rows and on random subsets, serial and threaded.

mod common;

use common::{random_data, same, shape};
use gradc_compile::{Kernel, KernelData, KernelOptions, RowSet, Threads};
use gradc_graph::interp::{Data, evaluate_rows};
use gradc_graph::random::{Shape, SplitMix, random_expression, random_objective};
use gradc_graph::{Graph, NodeId, Op};
use proptest::prelude::*;
use std::sync::OnceLock;

fn threads() -> &'static Threads {
    static THREADS: OnceLock<Threads> = OnceLock::new();
    THREADS.get_or_init(|| Threads::new(3).expect("thread pool"))
}

/// The brief's tolerance: relative error ≤ 1e-12, or both NaN, or the same infinity.
fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

struct Case {
    graph: Graph,
    roots: Vec<NodeId>,
    n_params: usize,
    n_inputs: usize,
    params: Vec<f64>,
    data: Data,
    subset: Vec<usize>,
}

/// The objective with its gradient and Hessian as roots.
fn with_derivatives(graph: &mut Graph, root: NodeId, n_params: usize) -> Vec<NodeId> {
    let gradient = gradc_grad::grad(graph, root, n_params);
    let hessian = gradc_grad::hessian(graph, &gradient, n_params);
    let mut roots = vec![root];
    roots.extend(&gradient);
    roots.extend(hessian.iter().flatten());
    roots
}

fn case(seed: u64, shape: Shape, n_rows: usize, nested: bool) -> Case {
    let mut graph = Graph::new();
    let root = if nested && shape.inputs > 0 {
        // mean(e1) used inside a second reduction: stage 2, plus a row-free part.
        let mut rng = SplitMix::new(seed);
        let e1 = random_expression(&mut graph, &mut rng, shape, true, shape.size);
        let inner = graph.unary(Op::RowMean, e1);
        let e2 = random_expression(&mut graph, &mut rng, shape, true, shape.size);
        let mixed = if rng.below(2) == 0 {
            graph.sub(e2, inner)
        } else {
            graph.mul(e2, inner)
        };
        let outer = graph.unary(Op::RowSum, mixed);
        let rest = random_expression(&mut graph, &mut rng, shape, false, shape.size / 2);
        let outer = graph.mul(outer, rest);
        graph.add2(outer, inner)
    } else {
        random_objective(&mut graph, seed, shape)
    };
    let roots = with_derivatives(&mut graph, root, shape.params);
    let mut rng = SplitMix::new(seed ^ 0xDA7A);
    let params = (0..shape.params).map(|_| rng.uniform(-2.0, 2.0)).collect();
    let data = random_data(&mut rng, n_rows, shape.inputs);
    let subset = if n_rows == 0 {
        Vec::new()
    } else {
        (0..rng.below(n_rows + 3))
            .map(|_| rng.below(n_rows))
            .collect()
    };
    Case {
        graph,
        roots,
        n_params: shape.params,
        n_inputs: shape.inputs,
        params,
        data,
        subset,
    }
}

fn check_against_interpreter(case: &Case, segment_nodes: usize) -> Result<(), TestCaseError> {
    // Default options, or tiny segments (many functions, values passed through slots and the
    // scratch array): the same bits either way.
    let options = KernelOptions {
        segment_nodes,
        ..KernelOptions::default()
    };
    let kernel = Kernel::compile_with(
        &case.graph,
        &case.roots,
        case.n_params,
        case.n_inputs,
        options,
    )
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let kdata = KernelData::from_data(&case.data).expect("converts");
    for rows in [None, Some(case.subset.as_slice())] {
        let set = rows.map_or(RowSet::All, RowSet::Subset);
        let expected = evaluate_rows(&case.graph, &case.roots, &case.params, &case.data, rows)
            .expect("interprets");
        let mut native = vec![0.0; case.roots.len()];
        kernel
            .eval(&case.params, &kdata, set, &mut native)
            .expect("evaluates");
        let mut threaded = vec![0.0; case.roots.len()];
        kernel
            .eval_threads(&case.params, &kdata, set, &mut threaded, threads())
            .expect("evaluates");
        for k in 0..case.roots.len() {
            prop_assert!(
                close(native[k], expected[k]),
                "root {k} ({}) on {:?}: native {} interpreter {}",
                if case.graph.len() < 200 {
                    case.graph.sexpr(case.roots[k])
                } else {
                    String::from("…")
                },
                rows,
                native[k],
                expected[k]
            );
            // At most one chunk of rows: the very same sums as the interpreter.
            prop_assert!(
                same(native[k], expected[k]),
                "root {k} not bit-identical: {} vs {}",
                native[k],
                expected[k]
            );
            prop_assert!(same(native[k], threaded[k]));
        }
    }
    Ok(())
}

/// Tiny chunks so that small data has many chunks: threaded = serial, bit for bit.
fn check_threads_deterministic(case: &Case) -> Result<(), TestCaseError> {
    let options = KernelOptions {
        chunk_rows: 3,
        segment_nodes: 4,
        ..KernelOptions::default()
    };
    let kernel = Kernel::compile_with(
        &case.graph,
        &case.roots,
        case.n_params,
        case.n_inputs,
        options,
    )
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let kdata = KernelData::from_data(&case.data).expect("converts");
    for set in [RowSet::All, RowSet::Subset(&case.subset)] {
        let mut serial = vec![0.0; case.roots.len()];
        kernel
            .eval(&case.params, &kdata, set, &mut serial)
            .expect("evaluates");
        let mut threaded = vec![0.0; case.roots.len()];
        kernel
            .eval_threads(&case.params, &kdata, set, &mut threaded, threads())
            .expect("evaluates");
        for k in 0..case.roots.len() {
            prop_assert!(
                same(serial[k], threaded[k]),
                "root {k}: serial {} threaded {}",
                serial[k],
                threaded[k]
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn value_gradient_hessian_match_interpreter(
        seed: u64,
        shape in shape(0..3),
        n_rows in 0usize..24,
        segment_nodes in prop_oneof![Just(gradc_compile::DEFAULT_SEGMENT_NODES), 1usize..6],
    ) {
        let case = case(seed, shape, n_rows, false);
        check_against_interpreter(&case, segment_nodes)?;
    }

    #[test]
    fn nested_reductions_match_interpreter(
        seed: u64,
        shape in shape(0..3),
        n_rows in 0usize..24,
        segment_nodes in prop_oneof![Just(gradc_compile::DEFAULT_SEGMENT_NODES), 1usize..6],
    ) {
        let shape = Shape { inputs: shape.inputs.max(1), ..shape };
        let case = case(seed, shape, n_rows, true);
        check_against_interpreter(&case, segment_nodes)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn threads_do_not_change_results(
        seed: u64,
        shape in shape(0..3),
        n_rows in 0usize..40,
        nested: bool,
    ) {
        let shape = Shape { inputs: shape.inputs.max(1), ..shape };
        let case = case(seed, shape, n_rows, nested);
        check_threads_deterministic(&case)?;
    }
}

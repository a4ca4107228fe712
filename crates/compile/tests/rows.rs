//! Row kernels ([`Kernel::compile_rows`], [`Kernel::eval_rows`]): per-row roots (predictions,
//! residuals and their Jacobian rows) on every row, against the interpreter's per-row
//! evaluation on random graphs — per-row expressions that use reductions (nested ones too),
//! row-free roots, constants, parameters and repeated roots — bit for bit, with segments,
//! threads and row subsets.

mod common;

use common::{random_data, same, shape};
use gradc_compile::{EvalError, Kernel, KernelData, KernelOptions, RowSet, Threads};
use gradc_graph::interp::{Data, evaluate_per_row};
use gradc_graph::random::{Shape, SplitMix, random_expression};
use gradc_graph::{Graph, NodeId, Op};
use proptest::prelude::*;

struct Case {
    graph: Graph,
    roots: Vec<NodeId>,
    n_params: usize,
    n_inputs: usize,
    params: Vec<f64>,
    data: Data,
    /// Whether a root uses a row reduction (then a subset of rows changes its values).
    reduces: bool,
}

fn case(seed: u64, shape: Shape, n_rows: usize, with_reductions: bool) -> Case {
    let mut rng = SplitMix::new(seed);
    let mut graph = Graph::new();
    let mut residual = random_expression(&mut graph, &mut rng, shape, true, shape.size);
    if with_reductions {
        // r − mean(e), and a second level: r · sum(e' − mean(e)).
        let e = random_expression(&mut graph, &mut rng, shape, true, shape.size / 2);
        let mean = graph.unary(Op::RowMean, e);
        residual = graph.sub(residual, mean);
        if rng.below(2) == 0 {
            let e2 = random_expression(&mut graph, &mut rng, shape, true, 2);
            let centred = graph.sub(e2, mean);
            let outer = graph.unary(Op::RowSum, centred);
            residual = graph.mul(residual, outer);
        }
    }
    let mut roots = vec![residual];
    roots.extend(gradc_grad::grad_per_row(&mut graph, residual, shape.params));
    let row_free = random_expression(&mut graph, &mut rng, shape, false, 3);
    let constant = graph.constant(2.5);
    let param = graph.param(0);
    roots.extend([row_free, constant, param, residual]);
    let params = (0..shape.params).map(|_| rng.uniform(-2.0, 2.0)).collect();
    let data = random_data(&mut rng, n_rows, shape.inputs);
    let reduces = roots.iter().any(|&r| graph.flags(r).has_reduction);
    Case {
        graph,
        roots,
        n_params: shape.params,
        n_inputs: shape.inputs,
        params,
        data,
        reduces,
    }
}

fn compile(case: &Case, options: KernelOptions) -> Result<Kernel, TestCaseError> {
    Kernel::compile_rows(
        &case.graph,
        &case.roots,
        case.n_params,
        case.n_inputs,
        options,
    )
    .map_err(|e| TestCaseError::fail(e.to_string()))
}

fn check(case: &Case, segment_nodes: usize) -> Result<(), TestCaseError> {
    let width = case.roots.len();
    let kdata = KernelData::from_data(&case.data).expect("converts");
    let options = KernelOptions {
        segment_nodes,
        ..KernelOptions::default()
    };
    let kernel = compile(case, options)?;
    prop_assert!(kernel.per_row());
    let n_rows = case.data.n_rows;
    let mut native = vec![0.0; n_rows * width];
    kernel
        .eval_rows(
            &case.params,
            &kdata,
            RowSet::All,
            &mut native,
            &Threads::serial(),
        )
        .expect("evaluates");
    let expected =
        evaluate_per_row(&case.graph, &case.roots, &case.params, &case.data).expect("interprets");
    for (row, values) in expected.iter().enumerate() {
        for (k, &e) in values.iter().enumerate() {
            let got = native[row * width + k];
            prop_assert!(
                same(got, e),
                "row {row} root {k}: native {got} interpreter {e}"
            );
        }
    }
    // Tiny chunks on a pool: the same bits.
    let chunked = compile(
        case,
        KernelOptions {
            chunk_rows: 3,
            segment_nodes,
            ..KernelOptions::default()
        },
    )?;
    let pool = Threads::new(3).expect("pool");
    let mut threaded = vec![0.0; n_rows * width];
    chunked
        .eval_rows(&case.params, &kdata, RowSet::All, &mut threaded, &pool)
        .expect("evaluates");
    let mut serial = vec![0.0; n_rows * width];
    chunked
        .eval_rows(
            &case.params,
            &kdata,
            RowSet::All,
            &mut serial,
            &Threads::serial(),
        )
        .expect("evaluates");
    for (k, (&a, &b)) in threaded.iter().zip(&serial).enumerate() {
        prop_assert!(same(a, b), "value {k}: threaded {a} serial {b}");
        if !case.reduces {
            prop_assert!(
                same(a, native[k]),
                "value {k}: chunked {a} vs {}",
                native[k]
            );
        }
    }
    // A subset of rows, repeated and shuffled: without reductions, each position is its row.
    if !case.reduces && n_rows > 0 {
        let subset: Vec<usize> = (0..n_rows + 3).map(|i| (i * 7 + 1) % n_rows).collect();
        let mut out = vec![0.0; subset.len() * width];
        kernel
            .eval_rows(
                &case.params,
                &kdata,
                RowSet::Subset(&subset),
                &mut out,
                &pool,
            )
            .expect("evaluates");
        for (p, &row) in subset.iter().enumerate() {
            for k in 0..width {
                let (got, want) = (out[p * width + k], native[row * width + k]);
                prop_assert!(same(got, want), "position {p} (row {row}) root {k}");
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn row_outputs_match_the_interpreter(
        seed: u64,
        shape in shape(1..3),
        n_rows in 0usize..30,
        with_reductions: bool,
        segment_nodes in prop_oneof![Just(gradc_compile::DEFAULT_SEGMENT_NODES), 1usize..6],
    ) {
        check(&case(seed, shape, n_rows, with_reductions), segment_nodes)?;
    }
}

#[test]
fn row_kernels_and_row_free_kernels_are_not_mixed_up() {
    let case = case(
        3,
        Shape {
            params: 2,
            inputs: 2,
            size: 5,
        },
        10,
        true,
    );
    let kdata = KernelData::from_data(&case.data).expect("converts");
    let rows = compile(&case, KernelOptions::default()).expect("compiles");
    let mut one = vec![0.0; case.roots.len()];
    assert_eq!(
        rows.eval(&case.params, &kdata, RowSet::All, &mut one),
        Err(EvalError::PerRow)
    );
    let mut short = vec![0.0; 10 * case.roots.len() - 1];
    assert!(matches!(
        rows.eval_rows(
            &case.params,
            &kdata,
            RowSet::All,
            &mut short,
            &Threads::serial()
        ),
        Err(EvalError::OutputLength { .. })
    ));
    let row_free =
        Kernel::compile(&case.graph, &[case.roots[case.roots.len() - 4]], 2, 2).expect("compiles");
    let mut out = vec![0.0; 10];
    assert_eq!(
        row_free.eval_rows(
            &case.params,
            &kdata,
            RowSet::All,
            &mut out,
            &Threads::serial()
        ),
        Err(EvalError::NotPerRow)
    );
    // No rows: nothing to write, and no error.
    let empty = KernelData::from_data(&Data {
        columns: vec![Vec::new(); 2],
        n_rows: 0,
    })
    .expect("converts");
    let mut nothing: Vec<f64> = Vec::new();
    rows.eval_rows(
        &case.params,
        &empty,
        RowSet::All,
        &mut nothing,
        &Threads::serial(),
    )
    .expect("no rows");
}

//! Native code on every example: it agrees with the reference interpreter, `gradc check` passes,
//! and every first-order optimizer reduces the loss; the MLP learns the two moons.

mod common;

use gradc::objective::{Batch, Objective};
use gradc_graph::interp::evaluate;
use gradc_minimize::{Method, Settings, Silent};
use std::sync::atomic::AtomicBool;

/// Every example but the 2-64-64-1 network, which is checked by hand (see the README).
fn examples() -> Vec<String> {
    let mut files = Vec::new();
    for dir in [
        "examples",
        "examples/seeds",
        "examples/nist",
        "examples/mgh",
    ] {
        for entry in std::fs::read_dir(dir).expect("examples") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "loss") && !path.ends_with("mlp_64.loss") {
                files.push(path.display().to_string());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn native_code_equals_the_interpreter_on_every_example() {
    for path in examples() {
        let program = common::compile(&path);
        let data = common::load_data(&path, &program);
        let built = gradc::build(&program, &data, false, 2).expect("builds");
        let params = common::initial_params(&program);
        let mut grad = vec![0.0; params.len()];
        let value = built.objective.value_grad(&params, Batch::All, &mut grad);
        let mut roots = vec![built.derived.objective];
        roots.extend(&built.derived.gradient);
        let expected = evaluate(&built.derived.graph, &roots, &params, &data).expect("evaluates");
        let close = |a: f64, b: f64| a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
        assert!(
            close(value, expected[0]),
            "{path}: {value} vs {}",
            expected[0]
        );
        for (i, (g, e)) in grad.iter().zip(&expected[1..]).enumerate() {
            assert!(close(*g, *e), "{path}: ∂/∂{i}: {g} vs {e}");
        }
    }
}

#[test]
fn gradient_check_passes_on_every_example() {
    for path in examples() {
        let program = common::compile(&path);
        let data = common::load_data(&path, &program);
        let built = gradc::build(&program, &data, false, 1).expect("builds");
        let params = common::initial_params(&program);
        let report = gradc::check::check(&built.objective, &params);
        assert!(
            report.max_relative_error <= gradc::check::DEFAULT_TOLERANCE,
            "{path}: largest relative error {}",
            report.max_relative_error
        );
    }
}

fn methods() -> Vec<Method> {
    [
        "gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
    ]
    .iter()
    .map(|name| gradc::run::method(name, &gradc::run::Hyper::default()).expect("method"))
    .collect()
}

#[test]
fn every_optimizer_reduces_the_loss_on_every_example() {
    // The NIST and Moré–Garbow–Hillstrom problems are for the second-order methods (their
    // scales span ten decades; see tests/nist.rs).
    for path in examples()
        .into_iter()
        .filter(|p| !p.contains("/nist/") && !p.contains("/mgh/"))
    {
        let program = common::compile(&path);
        let data = common::load_data(&path, &program);
        let built = gradc::build(&program, &data, false, 1).expect("builds");
        let start = common::initial_params(&program);
        let initial = built.objective.value(&start, Batch::All);
        for method in methods() {
            // Rosenbrock's curvature at (−1.2, 1) is ~1000: the default rates would diverge.
            let cap = if path.ends_with("rosenbrock.loss") {
                1e-4
            } else {
                f64::INFINITY
            };
            let settings = Settings {
                method,
                learning_rate: gradc::run::default_learning_rate(&method).min(cap),
                steps: 200,
                ..Settings::default()
            };
            let outcome = gradc_minimize::minimize(
                &built.objective,
                &start,
                &settings,
                &AtomicBool::new(false),
                &mut Silent,
            );
            let last = built.objective.value(&outcome.params, Batch::All);
            assert!(
                last < initial,
                "{path}, {}: loss {initial} → {last} ({})",
                method.name(),
                outcome.stop_reason.as_str()
            );
        }
    }
}

#[test]
fn the_mlp_learns_the_two_moons() {
    for path in ["examples/mlp_index.loss", "examples/mlp_matrix.loss"] {
        let program = common::compile(path);
        let data = common::load_data(path, &program);
        let built = gradc::build(&program, &data, false, 1).expect("builds");
        let settings = Settings {
            method: gradc::run::method("adam", &gradc::run::Hyper::default()).unwrap(),
            learning_rate: 0.01,
            steps: 3000,
            ..Settings::default()
        };
        let start = common::initial_params(&program);
        let outcome = gradc_minimize::minimize(
            &built.objective,
            &start,
            &settings,
            &AtomicBool::new(false),
            &mut Silent,
        );
        let predict = built.program.predicts[0].nodes[0];
        let rows = gradc_graph::interp::evaluate_per_row(
            &built.program.graph,
            &[predict],
            &outcome.params,
            &data,
        )
        .expect("predicts");
        let label = data.columns.last().expect("label column");
        let correct = rows
            .iter()
            .zip(label)
            .filter(|(p, t)| (p[0] > 0.5) == (**t > 0.5))
            .count();
        let accuracy = correct as f64 / data.n_rows as f64;
        assert!(accuracy > 0.97, "{path}: training accuracy {accuracy}");
    }
}

#[test]
fn threads_do_not_change_a_bit() {
    let path = "examples/logistic_regression.loss";
    let program = common::compile(path);
    let data = common::load_data(path, &program);
    let params: Vec<f64> = (0..program.param_count())
        .map(|i| 0.1 * i as f64 - 0.3)
        .collect();
    let results: Vec<(u64, Vec<u64>)> = [1, 2, 3]
        .iter()
        .map(|&threads| {
            let built = gradc::build(&program, &data, false, threads).expect("builds");
            let mut grad = vec![0.0; params.len()];
            let v = built.objective.value_grad(&params, Batch::All, &mut grad);
            (v.to_bits(), grad.iter().map(|g| g.to_bits()).collect())
        })
        .collect();
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
}

/// `Native` with its fused loops hidden: `minimize` drives the kernels step by step.
struct StepByStep<'a>(&'a gradc::objective::Native);

impl Objective for StepByStep<'_> {
    fn param_count(&self) -> usize {
        self.0.param_count()
    }
    fn row_count(&self) -> usize {
        self.0.row_count()
    }
    fn value(&self, params: &[f64], batch: Batch) -> f64 {
        self.0.value(params, batch)
    }
    fn value_grad(&self, params: &[f64], batch: Batch, grad: &mut [f64]) -> f64 {
        self.0.value_grad(params, batch, grad)
    }
}

#[test]
fn fused_loops_change_no_result_on_the_data_free_examples() {
    let mut fused = Vec::new();
    for path in examples().into_iter().filter(|p| !p.contains("/nist/")) {
        let program = common::compile(&path);
        let data = common::load_data(&path, &program);
        let built = gradc::build(&program, &data, false, 1).expect("builds");
        let data_free = program.input_count() == 0;
        let start = common::initial_params(&program);
        for method in methods() {
            let offered = built.objective.fused(method).is_some();
            assert_eq!(
                offered,
                data_free && !method.is_nesterov(),
                "{path}, {}",
                method.name()
            );
            if !offered {
                continue;
            }
            let settings = Settings {
                method,
                learning_rate: 1e-4,
                steps: 3000,
                history_every: 100,
                ..Settings::default()
            };
            let interrupt = AtomicBool::new(false);
            let run = |objective: &dyn Objective| {
                let outcome =
                    gradc_minimize::minimize(objective, &start, &settings, &interrupt, &mut Silent);
                format!("{outcome:?}")
            };
            assert_eq!(
                run(&built.objective),
                run(&StepByStep(&built.objective)),
                "{path}, {}",
                method.name()
            );
        }
        if data_free {
            fused.push(path);
        }
    }
    assert!(fused.len() >= 5, "{fused:?}");
}

#[test]
fn gradient_check_passes_at_the_fitted_optimum() {
    // At a minimum the partials are ~0 and finite differences are all error: the check must
    // not call a correct gradient wrong there (`gradc run … --out fit.json` then
    // `gradc check … --at fit.json`).
    for path in [
        "examples/rosenbrock.loss",
        "examples/logistic_regression.loss",
        "examples/softmax_regression.loss",
        "examples/nist/misra1a.loss",
    ] {
        let program = common::compile(path);
        let data = common::load_data(path, &program);
        let built = gradc::build(&program, &data, false, 1).expect("builds");
        let start = common::initial_params(&program);
        let outcome = gradc_minimize::lbfgs(
            &built.objective,
            &start,
            &gradc_minimize::SecondOrderSettings::default(),
            &AtomicBool::new(false),
            &mut Silent,
        );
        let mut grad = vec![0.0; start.len()];
        built
            .objective
            .value_grad(&outcome.params, Batch::All, &mut grad);
        let norm = gradc_minimize::norm(&grad);
        let report = gradc::check::check(&built.objective, &outcome.params);
        assert!(
            report.max_relative_error <= gradc::check::DEFAULT_TOLERANCE,
            "{path} at the optimum (‖∇L‖ = {norm:e}): {report:?}"
        );
    }
}

#[test]
fn large_models_get_the_stable_logarithms_without_equality_saturation() {
    // The logistic model as a "large" one (large_graph = 5 nodes) whose e-graph budget is
    // spent at once: the stable forms must come from the direct pass. At weights
    // that saturate σ on some rows, the loss and gradient stay finite — as written on the
    // slide they are NaN (0 · log 0).
    let path = "examples/logistic_regression.loss";
    let program = common::compile(path);
    let data = common::load_data(path, &program);
    let n = program.param_count();
    let saturated: Vec<f64> = (0..n).map(|i| if i == 0 { 60.0 } else { 0.0 }).collect();
    let written =
        gradc_graph::interp::evaluate(&program.graph, &[program.objective], &saturated, &data)
            .expect("evaluates")[0];
    assert!(written.is_nan(), "{written}");
    for for_run in [true, false] {
        let mut config = gradc::DeriveConfig {
            for_run,
            ..gradc::DeriveConfig::default()
        };
        config.simplify.large_graph = 5;
        // And a budget that lets saturation do nothing, as on a graph of 10⁵ nodes.
        config.simplify.node_limit = 1;
        let derived = gradc::derive(&program, &config);
        let mut roots = vec![derived.objective];
        roots.extend(&derived.gradient);
        let values = gradc_graph::interp::evaluate(&derived.graph, &roots, &saturated, &data)
            .expect("evaluates");
        assert!(
            values.iter().all(|v| v.is_finite()),
            "for_run {for_run}: {values:?}"
        );
        // And the same values as written where those are finite.
        let start = vec![0.1; n];
        let value =
            gradc_graph::interp::evaluate(&derived.graph, &[derived.objective], &start, &data)
                .expect("evaluates")[0];
        let expected =
            gradc_graph::interp::evaluate(&program.graph, &[program.objective], &start, &data)
                .expect("evaluates")[0];
        assert!(
            (value - expected).abs() <= 1e-12 * expected.abs(),
            "{value} vs {expected}"
        );
    }
}

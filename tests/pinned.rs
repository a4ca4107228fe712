//! The results the issue pins: the lecture notes' worked numbers, the logistic-regression and
//! least-squares gradients in the notes' form, and the op-count targets.

mod common;

use gradc::Format;
use gradc_graph::interp::evaluate;

/// Value and gradient of an example at its initial parameters.
fn value_and_gradient(path: &str) -> (f64, Vec<f64>) {
    let program = common::compile(path);
    let derived = common::derive(&program);
    let data = common::load_data(path, &program);
    let params = common::initial_params(&program);
    let mut roots = vec![derived.objective];
    roots.extend(&derived.gradient);
    let values = evaluate(&derived.graph, &roots, &params, &data).expect("evaluates");
    (values[0], values[1..].to_vec())
}

fn json(path: &str) -> serde_json::Value {
    let program = common::compile(path);
    let derived = common::derive(&program);
    serde_json::from_str(&gradc::render(&program, &derived, Format::Json)).expect("json")
}

/// A partial or binding with its `where` names replaced by their definitions, once.
fn resolve(json: &serde_json::Value, text: &str) -> String {
    let bindings = json["where"].as_object().expect("where");
    match bindings.get(text) {
        Some(definition) => definition.as_str().unwrap_or_default().to_string(),
        None => text.to_string(),
    }
}

#[test]
fn worked_example_two_times_xy_plus_max() {
    let (value, gradient) = value_and_gradient("examples/seeds/backprop_max.loss");
    assert_eq!(value, -20.0);
    assert_eq!(gradient, vec![-8.0, 6.0, 2.0, 0.0]);
}

#[test]
fn worked_example_sum_times_z() {
    let (value, gradient) = value_and_gradient("examples/seeds/sum_times.loss");
    assert_eq!(value, -12.0);
    assert_eq!(gradient, vec![-4.0, -4.0, 3.0]);
}

#[test]
fn worked_example_gradient_steps_on_x_squared() {
    // One gradient step on x² from 2 with α = 0.01 gives 1.96; from −3 with α = 0.1, −2.4.
    let program = common::compile("examples/seeds/square.loss");
    let derived = common::derive(&program);
    let data = gradc_graph::interp::Data::empty();
    for (x, lr, expected) in [(2.0, 0.01, 1.96), (-3.0, 0.1, -2.4)] {
        let g = evaluate(&derived.graph, &derived.gradient, &[x], &data).expect("evaluates")[0];
        assert!(
            (x - lr * g - expected).abs() < 1e-15,
            "from {x}: {}",
            x - lr * g
        );
    }
}

#[test]
fn worked_example_quadratic_step_sizes_and_newton() {
    // F = ½ax² + bx + c with a = 4, b = −2 from x = 3: η = 1/a reaches the minimum −b/a = 0.5;
    // η = 2/a jumps to the mirror point, 2·0.5 − 3 = −2; Newton's step x − F'/F'' lands on 0.5.
    let program = common::compile("examples/seeds/quadratic.loss");
    let derived = gradc::derive(
        &program,
        &gradc::DeriveConfig {
            hessian: true,
            ..Default::default()
        },
    );
    let data = gradc_graph::interp::Data::empty();
    let h = derived.hessian.as_ref().expect("hessian")[0][0];
    let at = |x: f64| {
        let v =
            evaluate(&derived.graph, &[derived.gradient[0], h], &[x], &data).expect("evaluates");
        (v[0], v[1])
    };
    let (g, hessian) = at(3.0);
    assert_eq!(hessian, 4.0);
    assert_eq!(3.0 - g / 4.0, 0.5);
    assert_eq!(3.0 - 2.0 * g / 4.0, -2.0);
    assert_eq!(
        at(-2.0).0,
        -at(3.0).0,
        "η = 2/a oscillates between 3 and −2"
    );
    assert_eq!(3.0 - g / hessian, 0.5);
}

#[test]
fn logistic_regression_gradient_is_the_notes_form() {
    let path = "examples/logistic_regression.loss";
    let json = json(path);
    let b = json["partials"]["b"].as_str().expect("scalar partial");
    let inner = b
        .strip_prefix("mean(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("∂L/∂b = {b}"));
    let residual = resolve(&json, inner);
    assert!(
        ["p - y", "sigmoid(z) - y"].contains(&residual.as_str()),
        "∂L/∂b = mean({residual})"
    );
    for (j, w) in json["partials"]["w"]
        .as_array()
        .expect("vector")
        .iter()
        .enumerate()
    {
        let w = w.as_str().expect("string");
        let products = [
            format!("mean({inner} * x[{j}])"),
            format!("mean(x[{j}] * {inner})"),
        ];
        assert!(products.contains(&w.to_string()), "∂L/∂w[{j}] = {w}");
    }
    let text = serde_json::to_string(&json["partials"]).expect("json");
    assert!(
        !text.contains("log"),
        "a log is left in the gradient: {text}"
    );
    let ops = json["ops"]["gradient"].as_u64().expect("count");
    assert!(ops <= 55, "logistic regression gradient takes {ops} ops");

    // And numerically: ∂L/∂b = mean(σ(z) − y) at a point where z is not trivial.
    let program = common::compile(path);
    let derived = common::derive(&program);
    let data = common::load_data(path, &program);
    let params: Vec<f64> = (0..11).map(|i| 0.1 * i as f64 - 0.4).collect();
    let got = evaluate(&derived.graph, &derived.gradient, &params, &data).expect("evaluates");
    let (mut db, mut dw) = (0.0, vec![0.0; 10]);
    for row in 0..data.n_rows {
        let x: Vec<f64> = (0..10).map(|j| data.columns[j][row]).collect();
        let z: f64 = x.iter().zip(&params).map(|(a, b)| a * b).sum::<f64>() + params[10];
        let r = gradc_graph::op::sigmoid(z) - data.columns[10][row];
        db += r / data.n_rows as f64;
        for j in 0..10 {
            dw[j] += r * x[j] / data.n_rows as f64;
        }
    }
    assert!((got[10] - db).abs() < 1e-12);
    for j in 0..10 {
        assert!((got[j] - dw[j]).abs() < 1e-12);
    }
}

#[test]
fn least_squares_gradient_is_mean_of_two_residual_times_x() {
    let path = "examples/linear_regression.loss";
    let program = common::compile(path);
    let derived = common::derive(&program);
    let data = common::load_data(path, &program);
    let params = vec![0.3, -0.2, 0.1, 0.5];
    let got = evaluate(&derived.graph, &derived.gradient, &params, &data).expect("evaluates");
    let mut expected = [0.0; 4];
    for row in 0..data.n_rows {
        let x: Vec<f64> = (0..3).map(|j| data.columns[j][row]).collect();
        let z = x[0] * params[0] + x[1] * params[1] + x[2] * params[2] + params[3];
        let r = 2.0 * (z - data.columns[3][row]) / data.n_rows as f64;
        for j in 0..3 {
            expected[j] += r * x[j];
        }
        expected[3] += r;
    }
    for j in 0..4 {
        assert!(
            (got[j] - expected[j]).abs() < 1e-12,
            "{j}: {} vs {}",
            got[j],
            expected[j]
        );
    }
    let json = json(path);
    for w in json["partials"]["w"].as_array().expect("vector") {
        assert!(w.as_str().expect("string").starts_with("mean("), "{w}");
    }
}

#[test]
fn mlp_gradient_costs_at_most_three_forward_passes() {
    for path in ["examples/mlp_index.loss", "examples/mlp_matrix.loss"] {
        let program = common::compile(path);
        let ops = common::derive(&program).ops;
        assert!(
            ops.gradient <= 3 * ops.forward,
            "{path}: gradient {} vs forward {}",
            ops.gradient,
            ops.forward
        );
    }
}

#[test]
fn index_and_matrix_notation_give_the_same_network() {
    let a = value_and_gradient("examples/mlp_index.loss");
    let b = value_and_gradient("examples/mlp_matrix.loss");
    assert!((a.0 - b.0).abs() < 1e-12);
    for (x, y) in a.1.iter().zip(&b.1) {
        assert!((x - y).abs() < 1e-12);
    }
}

#[test]
fn sigmoid_derivative_is_sigma_times_one_minus_sigma() {
    let program = gradc::compile_source("s.loss", "param z = 0.3\nminimize sigmoid(z)\n", false)
        .expect("compiles");
    let derived = common::derive(&program);
    let text = gradc::render(&program, &derived, Format::Text);
    assert!(
        text.contains("∂L/∂z = t1 * (1 - t1)") || text.contains("∂L/∂z = (1 - t1) * t1"),
        "{text}"
    );
}

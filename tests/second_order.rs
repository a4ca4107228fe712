//! `--optimizer newton | lbfgs | lm` and `--errors` through the command line.

use serde_json::Value;
use std::process::{Command, Output};

fn gradc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("gradc runs")
}

fn run_json(args: &[&str]) -> Value {
    let out = gradc(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().expect("number")],
        other => panic!("not a number: {other}"),
    }
}

#[test]
fn newton_reaches_the_minimum_of_a_quadratic_in_one_step() {
    let v = run_json(&[
        "run",
        "examples/seeds/quadratic.loss",
        "--optimizer",
        "newton",
        "--steps",
        "1",
        "--json",
    ]);
    assert_eq!(v["params"]["x"], 0.5);
}

#[test]
fn rosenbrock_converges_with_every_second_order_method() {
    for optimizer in ["newton", "lbfgs", "lm"] {
        let v = run_json(&[
            "run",
            "examples/rosenbrock.loss",
            "--optimizer",
            optimizer,
            "--json",
        ]);
        for name in ["x", "y"] {
            let x = v["params"][name].as_f64().expect("number");
            assert!((x - 1.0).abs() <= 1e-10, "{optimizer}: {name} = {x}");
        }
        let reason = v["stop_reason"].as_str().unwrap();
        assert!(
            ["gradient", "tolerance"].contains(&reason),
            "{optimizer}: {reason}"
        );
        assert!(v["stop_detail"].is_string());
    }
}

#[test]
fn lm_refuses_an_objective_that_is_not_a_sum_of_squares() {
    let out = gradc(&[
        "run",
        "examples/logistic_regression.loss",
        "--optimizer",
        "lm",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sum of squares"), "{err}");
    assert!(err.contains("logistic_regression.loss:10:"), "{err}");
    // Rendered like the compiler's errors: the code, the source line and a caret.
    assert!(err.contains("error[E0200]"), "{err}");
    assert!(err.contains("| minimize mean("), "{err}");
    assert!(err.contains('^'), "{err}");
}

/// The first-order methods reach the optimum that Newton's method finds, to 1e-6.
#[test]
fn logistic_regression_reaches_the_newton_optimum() {
    let newton = run_json(&[
        "run",
        "examples/logistic_regression.loss",
        "--optimizer",
        "newton",
        "--json",
    ]);
    let optimum = flat(&newton["params"]["w"]);
    for (optimizer, lr, steps) in [("adam", "0.05", "6000"), ("gd", "2", "6000")] {
        let v = run_json(&[
            "run",
            "examples/logistic_regression.loss",
            "--optimizer",
            optimizer,
            "--lr",
            lr,
            "--steps",
            steps,
            "--json",
        ]);
        let w = flat(&v["params"]["w"]);
        for (a, b) in w.iter().zip(&optimum) {
            assert!((a - b).abs() <= 1e-6, "{optimizer}: {a} vs newton's {b}");
        }
        let b = v["params"]["b"].as_f64().unwrap();
        let b_newton = newton["params"]["b"].as_f64().unwrap();
        assert!(
            (b - b_newton).abs() <= 1e-6,
            "{optimizer}: b {b} vs {b_newton}"
        );
    }
}

/// Reads the rows of `examples/data/linear.csv` (x1, x2, x3, y).
fn linear_data() -> Vec<[f64; 4]> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/linear.csv"),
    )
    .expect("data");
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|c| c.parse().unwrap()).collect();
            [v[0], v[1], v[2], v[3]]
        })
        .collect()
}

/// Inverts a small matrix by Gauss–Jordan elimination with partial pivoting — the independent
/// oracle for the textbook formula, written out here on purpose.
fn invert(mut a: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    let n = a.len();
    let mut inv: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap();
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let p = a[col][col];
        for j in 0..n {
            a[col][j] /= p;
            inv[col][j] /= p;
        }
        for i in 0..n {
            if i != col {
                let f = a[i][col];
                for j in 0..n {
                    a[i][j] -= f * a[col][j];
                    inv[i][j] -= f * inv[col][j];
                }
            }
        }
    }
    inv
}

#[test]
fn standard_errors_of_a_linear_fit_are_the_textbook_ols_errors() {
    // linear_regression.loss: y ≈ w·x + b with the mean squared error.
    let rows = linear_data();
    let (m, n) = (rows.len(), 4);
    let design: Vec<[f64; 4]> = rows.iter().map(|r| [r[0], r[1], r[2], 1.0]).collect();
    let mut xtx = vec![vec![0.0; n]; n];
    let mut xty = [0.0; 4];
    for (x, r) in design.iter().zip(&rows) {
        for i in 0..n {
            xty[i] += x[i] * r[3];
            for j in 0..n {
                xtx[i][j] += x[i] * x[j];
            }
        }
    }
    let inv = invert(xtx);
    let beta: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| inv[i][j] * xty[j]).sum())
        .collect();
    let rss: f64 = design
        .iter()
        .zip(&rows)
        .map(|(x, r)| {
            let fit: f64 = (0..n).map(|i| x[i] * beta[i]).sum();
            (r[3] - fit).powi(2)
        })
        .sum();
    let s2 = rss / (m - n) as f64;
    let expected: Vec<f64> = (0..n).map(|i| (s2 * inv[i][i]).sqrt()).collect();

    for optimizer in ["lm", "newton"] {
        let v = run_json(&[
            "run",
            "examples/linear_regression.loss",
            "--optimizer",
            optimizer,
            "--errors",
            "--json",
        ]);
        let mut got = flat(&v["errors"]["w"]);
        got.push(v["errors"]["b"].as_f64().expect("b"));
        let mut fitted = flat(&v["params"]["w"]);
        fitted.push(v["params"]["b"].as_f64().unwrap());
        for i in 0..n {
            assert!(
                (fitted[i] - beta[i]).abs() <= 1e-10 * beta[i].abs().max(1.0),
                "{optimizer}: β{i} {} vs {}",
                fitted[i],
                beta[i]
            );
            assert!(
                (got[i] - expected[i]).abs() <= 1e-9 * expected[i],
                "{optimizer}: se{i} {} vs {}",
                got[i],
                expected[i]
            );
        }
    }
}

#[test]
fn tol_stops_every_second_order_method_on_the_change_of_the_loss() {
    // LANGUAGE.md §5: the run stops when |L_k − L_(k−1)| < --tol, whatever the optimizer.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("second-order-tol");
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let model = dir.join("quartic.loss");
    std::fs::write(&model, "param w = 0\nminimize ((w - 3)^2)^2\n").expect("model");
    let model = model.display().to_string();
    for optimizer in ["newton", "lbfgs", "lm"] {
        let v = run_json(&[
            "run",
            &model,
            "--optimizer",
            optimizer,
            "--tol",
            "1e-3",
            "--json",
        ]);
        assert_eq!(v["stop_reason"], "tolerance", "{optimizer}: {v}");
        let losses: Vec<f64> = v["history"]
            .as_array()
            .expect("history")
            .iter()
            .map(|pair| pair[1].as_f64().expect("loss"))
            .collect();
        let changes: Vec<f64> = losses.windows(2).map(|w| (w[0] - w[1]).abs()).collect();
        let (last, before) = changes.split_last().expect("at least two steps");
        assert!(*last < 1e-3, "{optimizer}: {changes:?}");
        assert!(
            before.iter().all(|&c| c >= 1e-3),
            "{optimizer}: {changes:?}"
        );
    }
}

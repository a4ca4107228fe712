//! The command line as a user runs it: exit codes, formats, determinism, error reports.

use std::process::{Command, Output};

fn gradc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("gradc runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn grad_prints_every_partial_and_exits_zero() {
    let out = gradc(&["grad", "examples/rosenbrock.loss"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("∂L/∂x = "), "{text}");
    assert!(text.contains("∂L/∂y = "), "{text}");
}

#[test]
fn text_output_is_deterministic() {
    let a = gradc(&["grad", "examples/mlp_index.loss"]);
    let b = gradc(&["grad", "examples/mlp_index.loss"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn json_output_is_one_object_with_op_counts() {
    let out = gradc(&[
        "grad",
        "examples/logistic_regression.loss",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["params"], serde_json::json!(["w", "b"]));
    for key in ["forward", "gradient", "gradient_unsimplified"] {
        assert!(json["ops"][key].as_u64().is_some(), "ops.{key}");
    }
    assert!(json["ops"].get("hessian").is_none());
    let out = gradc(&[
        "grad",
        "examples/rosenbrock.loss",
        "--format",
        "json",
        "--hessian",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(json["ops"]["hessian"].as_u64().is_some());
}

#[test]
fn latex_and_dot_formats() {
    let out = gradc(&["grad", "examples/rosenbrock.loss", "--format", "latex"]);
    assert!(
        stdout(&out).starts_with("\\begin{aligned}"),
        "{}",
        stdout(&out)
    );
    let out = gradc(&["grad", "examples/rosenbrock.loss", "--format", "dot"]);
    assert!(stdout(&out).starts_with("digraph"), "{}", stdout(&out));
}

#[test]
fn no_simplify_shows_the_raw_derivative() {
    // The raw derivative still has the power rule's `t1 ^ 1`, which the simplifier removes.
    let out = gradc(&["grad", "examples/seeds/neuron.loss", "--no-simplify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out), @"
    L = mean(t1 ^ 2)
    ∂L/∂w = mean(t2 * x)
    ∂L/∂b = mean(t2)

    where
      y_hat = sigmoid(w * x + b)
      t1 = y_hat - y
      t2 = 2 * t1 ^ 1 * y_hat * (1 - y_hat)
    ");
    // The simplifier makes logistic regression's gradient smaller, and `--no-simplify` prints
    // the gradient whose size the simplified run reports as unsimplified.
    let ops = |extra: &[&str]| {
        let mut args = vec![
            "grad",
            "examples/logistic_regression.loss",
            "--format",
            "json",
        ];
        args.extend(extra);
        let out = gradc(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let count = |key: &str| json["ops"][key].as_u64().expect("an op count");
        (count("gradient"), count("gradient_unsimplified"))
    };
    let (simplified, unsimplified) = ops(&[]);
    assert!(simplified < unsimplified, "{simplified} vs {unsimplified}");
    let (raw, _) = ops(&["--no-simplify"]);
    assert_eq!(raw, unsimplified);
}

#[test]
fn verbose_reports_stages_and_stop_reason() {
    let out = gradc(&["grad", "examples/rosenbrock.loss", "-v"]);
    let err = stderr(&out);
    for stage in ["parse+lower", "differentiate", "simplify", "simplifier:"] {
        assert!(err.contains(stage), "{err}");
    }
}

#[test]
fn model_errors_exit_two_with_file_line_and_column() {
    let dir = std::env::temp_dir().join(format!("gradc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let model = dir.join("bad.loss");
    std::fs::write(&model, "param w = 1\nminimize w + q\n").expect("write");
    let out = gradc(&["grad", model.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad.loss:2:14"), "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn missing_file_and_bad_usage_exit_two() {
    let out = gradc(&["grad", "no/such/model.loss"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read no/such/model.loss"),
        "{}",
        stderr(&out)
    );
    let out = gradc(&["grad", "examples/rosenbrock.loss", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
}

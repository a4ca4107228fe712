//! `gradc run` and `gradc eval` as a user runs them: the JSON object, `--out`, `--quiet`,
//! `--validate`, `--plot`, divergence reports, exit codes.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gradc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("gradc runs")
}

fn gradc(args: &[&str]) -> Output {
    gradc_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> Value {
    serde_json::from_str(&stdout(output))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(output), stderr(output)))
}

/// A fresh directory under the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-run-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

#[test]
fn json_is_the_object_of_the_contract() {
    let out = gradc(&[
        "run",
        "examples/softmax_regression.loss",
        "--optimizer",
        "adam",
        "--lr",
        "0.05",
        "--steps",
        "50",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    for key in [
        "params",
        "loss",
        "steps",
        "stop_reason",
        "optimizer",
        "seconds",
        "history",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["optimizer"], "adam");
    assert_eq!(v["steps"], 50);
    assert_eq!(v["stop_reason"], "max_steps");
    // W[3][2] is a list of lists, b[3] a list.
    assert_eq!(v["params"]["W"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["params"]["W"][0].as_array().map(Vec::len), Some(2));
    assert_eq!(v["params"]["b"].as_array().map(Vec::len), Some(3));
    let history = v["history"].as_array().expect("history");
    assert_eq!(history.first().map(|h| h[0].clone()), Some(Value::from(0)));
    assert_eq!(history.last().map(|h| h[0].clone()), Some(Value::from(50)));
}

#[test]
fn the_notes_step_sizes_on_a_quadratic() {
    // F = 2x² − 2x + 1 (a = 4): 1/a reaches the minimum 0.5 in one step.
    let out = gradc(&[
        "run",
        "examples/seeds/quadratic.loss",
        "--lr",
        "0.25",
        "--steps",
        "1",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["params"]["x"], 0.5);
    // 2/a oscillates between 3 and −2.
    let out = gradc(&[
        "run",
        "examples/seeds/quadratic.loss",
        "--lr",
        "0.5",
        "--steps",
        "3",
        "--json",
    ]);
    assert_eq!(json(&out)["params"]["x"], -2.0);
    // More than 2/a diverges: exit 1, the last finite parameters, the step named.
    let out = gradc(&[
        "run",
        "examples/seeds/quadratic.loss",
        "--lr",
        "0.6",
        "--steps",
        "500",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["stop_reason"], "diverged");
    assert!(v["params"]["x"].as_f64().is_some_and(f64::is_finite));
    assert!(
        stderr(&out).contains("diverged at step"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_nan_names_the_term_and_the_data_row() {
    let dir = scratch("nan");
    std::fs::write(dir.join("d.csv"), "x\n1\n2\n-3\n4\n").unwrap();
    std::fs::write(
        dir.join("m.loss"),
        "data \"d.csv\"\ninput x\nparam w = 1\nminimize mean((w - 2)^2 + sqrt(w * x + 3.5))\n",
    )
    .unwrap();
    let out = gradc_in(&dir, &["run", "m.loss", "--lr", "0.1", "--out", "fit.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("m.loss:4:27"), "{err}");
    assert!(err.contains("sqrt(w * x + 3.5)"), "{err}");
    assert!(err.contains("row 3"), "{err}");
    // The last finite parameters are written.
    let fit: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("fit.json")).unwrap())
        .expect("fit.json");
    assert_eq!(fit["params"]["w"], 1.0);
    assert_eq!(fit["stop_reason"], "diverged");
    // With a validation split the row is still named by its place in the file.
    let mut diverged = 0;
    for seed in ["0", "1", "2", "3", "4", "5"] {
        let out = gradc_in(
            &dir,
            &[
                "run",
                "m.loss",
                "--lr",
                "0.1",
                "--validate",
                "0.25",
                "--seed",
                seed,
            ],
        );
        if out.status.code() == Some(1) {
            diverged += 1;
            let err = stderr(&out);
            assert!(
                err.contains("data row 3 (line 4 of the data file)"),
                "{err}"
            );
        }
    }
    assert!(diverged > 0);
}

#[test]
fn a_non_finite_gradient_names_the_partial_and_the_term() {
    // A finite loss whose gradient is not: ‖v‖ at v = 0, √y at y = 0.
    let dir = scratch("gradient");
    std::fs::write(dir.join("n.loss"), "param v[3] = 0\nminimize norm(v)\n").unwrap();
    let out = gradc_in(&dir, &["run", "n.loss", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("gradient is not finite at step 0"), "{err}");
    assert!(err.contains("∂L/∂v[0] = NaN"), "{err}");
    assert!(err.contains("n.loss:2:10: `norm(v)`"), "{err}");
    let v = json(&out);
    assert_eq!(v["stop_reason"], "diverged");
    // The start is kept, with its (finite) loss.
    assert_eq!(v["loss"], 0.0);
    assert!(
        v["stop_detail"].as_str().unwrap().contains("gradient"),
        "{v}"
    );
    std::fs::write(
        dir.join("s.loss"),
        "param x = 3\nparam y = 0.01\nminimize (x - 1)^2 + sqrt(y)\n",
    )
    .unwrap();
    // y reaches 0 (or below) after a few steps; the step's parameters are kept.
    let out = gradc_in(&dir, &["run", "s.loss", "--lr", "0.1", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("s.loss:3:22: `sqrt(y)`"), "{err}");
    let v = json(&out);
    assert!(v["loss"].as_f64().is_some_and(f64::is_finite), "{v}");
}

#[test]
fn out_is_written_whole_and_quiet_prints_nothing() {
    let dir = scratch("out");
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rosenbrock.loss");
    let model = model.to_str().unwrap();
    let out = gradc_in(
        &dir,
        &[
            "run", model, "--lr", "0.001", "--steps", "20", "--quiet", "--out", "fit.json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    let text = std::fs::read_to_string(dir.join("fit.json")).unwrap();
    let v: Value = serde_json::from_str(&text).expect("whole JSON");
    assert_eq!(v["steps"], 20);
    // Only the file itself: the temporary file was renamed over it.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["fit.json"]);
    // Same object as --json prints.
    let out = gradc_in(
        &dir,
        &["run", model, "--lr", "0.001", "--steps", "20", "--json"],
    );
    let printed = json(&out);
    assert_eq!(printed["params"], v["params"]);
    assert_eq!(printed["history"], v["history"]);
}

#[test]
fn validation_loss_is_reported_and_seeded() {
    let args = [
        "run",
        "examples/logistic_regression.loss",
        "--optimizer",
        "adam",
        "--lr",
        "0.05",
        "--steps",
        "40",
        "--validate",
        "0.2",
        "--json",
    ];
    let out = gradc(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    let loss = v["validation_loss"].as_f64().expect("validation_loss");
    assert!(loss.is_finite() && loss > 0.0);
    let history = v["validation_history"].as_array().expect("history");
    assert_eq!(history.len(), v["history"].as_array().unwrap().len());
    assert_eq!(json(&gradc(&args))["validation_loss"], loss);
    let out = gradc(&["run", "examples/rosenbrock.loss", "--validate", "1.5"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn plot_writes_svg_and_png() {
    let dir = scratch("plot");
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rosenbrock.loss");
    let model = model.to_str().unwrap();
    for name in ["loss.svg", "loss.png"] {
        let out = gradc_in(
            &dir,
            &[
                "run", model, "--lr", "0.001", "--steps", "50", "--quiet", "--plot", name,
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let size = std::fs::metadata(dir.join(name))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(size > 1000, "{name}: {size} bytes");
    }
    let svg = std::fs::read_to_string(dir.join("loss.svg")).unwrap();
    assert!(svg.contains("path on the loss contours"));
    let out = gradc_in(&dir, &["run", model, "--steps", "5", "--plot", "loss.gif"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(".svg or .png"), "{}", stderr(&out));
}

#[test]
fn eval_writes_the_predict_columns() {
    let dir = scratch("eval");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("examples/seeds/neuron.loss");
    let model = model.to_str().unwrap();
    let out = gradc_in(
        &dir,
        &[
            "run", model, "--steps", "10", "--quiet", "--out", "fit.json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // New rows without the label column.
    std::fs::write(dir.join("new.csv"), "x\n0\n0.5\n1\n").unwrap();
    let out = gradc_in(
        &dir,
        &["eval", model, "--params", "fit.json", "--data", "new.csv"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let fit: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("fit.json")).unwrap()).unwrap();
    let (w, b) = (
        fit["params"]["w"].as_f64().unwrap(),
        fit["params"]["b"].as_f64().unwrap(),
    );
    let predicted: f64 = lines[2].parse().expect("a number");
    let expected = 1.0 / (1.0 + (-(w * 0.5 + b)).exp());
    assert!(
        (predicted - expected).abs() < 1e-12,
        "{predicted} vs {expected}"
    );
    let out = gradc_in(
        &dir,
        &[
            "eval", model, "--params", "fit.json", "--data", "new.csv", "--out", "p.csv",
        ],
    );
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(dir.join("p.csv")).unwrap(), text);
}

#[test]
fn a_closed_stdout_is_no_panic_and_out_is_still_written() {
    // `gradc run … | head -c 0`: the reader is gone before anything is printed.
    let dir = scratch("closed-stdout");
    let out = dir.join("fit.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gradc"))
        .args(["run", "examples/rosenbrock.loss", "--optimizer", "adam"])
        .args([
            "--lr",
            "1e-3",
            "--steps",
            "20000",
            "--grad-tol",
            "0",
            "--json",
            "--out",
        ])
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("gradc starts");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("gradc ends");
    let errors = stderr(&output);
    assert!(!errors.contains("panicked"), "{errors}");
    assert_eq!(output.status.code(), Some(0), "{errors}");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("--out written")).expect("json");
    assert_eq!(written["steps"], 20000);
}

#[test]
fn meaningless_flag_values_are_usage_errors() {
    let model = "examples/seeds/quadratic.loss";
    for bad in [
        ["--batch", "0"],
        ["--lr", "nan"],
        ["--lr", "inf"],
        ["--lr", "0"],
        ["--eps", "0"],
        ["--beta1", "1"],
        ["--momentum", "1.5"],
        ["--tol", "nan"],
    ] {
        let out = gradc(&["run", model, "--steps", "3", bad[0], bad[1]]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(bad[0]), "{bad:?}: {}", stderr(&out));
    }
    // exp:0 is a constant rate, and a bad schedule is named once.
    let out = gradc(&[
        "run",
        model,
        "--steps",
        "3",
        "--schedule",
        "exp:0",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = gradc(&["run", model, "--schedule", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).matches("unknown schedule").count(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_model_with_inputs_and_no_data_file_points_at_its_input() {
    let dir = scratch("no-data");
    std::fs::write(
        dir.join("m.loss"),
        "param w\ninput a\nminimize mean((w - a)^2)\n",
    )
    .unwrap();
    for command in ["run", "check"] {
        let out = gradc_in(&dir, &[command, "m.loss"]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("error[E0201]"), "{err}");
        assert!(err.contains("m.loss:2:1"), "{err}");
        assert!(err.contains("| input a"), "{err}");
    }
}

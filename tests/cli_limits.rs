//! Inputs that used to crash gradc, take all memory or give a misleading result get a clear
//! error, quickly, or the right answer (issue 9, items 6–14 and the smaller things).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn gradc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradc"))
        .args(args)
        .current_dir(dir)
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

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(output), stderr(output)))
}

/// A fresh directory holding `files`.
fn scratch(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-limits-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    for (file, text) in files {
        std::fs::write(dir.join(file), text).expect("write");
    }
    dir
}

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_long_sum_of_parameters_prints_its_gradient() {
    // 20,000 squares: a chain of 20,000 additions, once a stack overflow in the printer.
    let dir = scratch(
        "sum",
        &[("m.loss", "param w[20000] = 1\nminimize sum(w^2)\n")],
    );
    let out = gradc_in(&dir, &["grad", "m.loss"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("∂L/∂w[19999] = 2 * w[19999]"));
}

#[test]
fn threads_are_capped_at_what_the_rows_can_use() {
    let dir = scratch(
        "threads",
        &[
            ("m.loss", "input x\nparam a = 0\nminimize mean((a - x)^2)\n"),
            ("d.csv", "x\n1\n2\n3\n"),
        ],
    );
    let started = Instant::now();
    let out = gradc_in(
        &dir,
        &[
            "run",
            "m.loss",
            "--data",
            "d.csv",
            "--threads",
            "10000",
            "-v",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(stderr(&out).contains("; 1 thread\n"), "{}", stderr(&out));
}

#[test]
fn a_hessian_too_large_is_refused_before_the_work() {
    for args in [
        &["grad", "examples/mlp_64.loss", "--hessian"][..],
        &["run", "examples/mlp_64.loss", "--optimizer", "newton"][..],
    ] {
        let started = Instant::now();
        let out = gradc_in(repository(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(started.elapsed() < Duration::from_secs(30), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("of 4417 parameters"), "{err}");
        assert!(err.contains("too large to derive"), "{err}");
    }
    let out = gradc_in(
        repository(),
        &["run", "examples/mlp_64.loss", "--optimizer", "newton"],
    );
    assert!(
        stderr(&out).contains("use --optimizer lbfgs"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_device_as_data_is_refused_at_the_line_limit() {
    let dir = scratch(
        "zero",
        &[("m.loss", "input x\nparam a = 0\nminimize mean((a - x)^2)\n")],
    );
    let started = Instant::now();
    let out = gradc_in(&dir, &["run", "m.loss", "--data", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        stderr(&out).contains("line 1 is longer than"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_objective_unbounded_below_diverges_with_every_method() {
    let dir = scratch("unbounded", &[("m.loss", "param x = 1\nminimize -x^2\n")]);
    // (Adam's steps have about the size of the learning rate, so in 1000 steps it gets only
    // as far as x ≈ 2: a run that stops at max_steps, rightly.)
    for optimizer in ["gd", "momentum", "newton", "lbfgs"] {
        let out = gradc_in(&dir, &["run", "m.loss", "--optimizer", optimizer, "--json"]);
        assert_eq!(out.status.code(), Some(1), "{optimizer}: {}", stderr(&out));
        let v = json(&out);
        assert_eq!(v["stop_reason"], "diverged", "{optimizer}: {v}");
        assert!(stderr(&out).contains("unbounded below"), "{}", stderr(&out));
    }
}

/// The standardization's means and deviations, as a user would compute them by hand.
fn moments(xs: &[f64]) -> (f64, f64) {
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
    (mean, var.sqrt())
}

#[test]
fn eval_uses_the_data_reductions_the_fit_was_made_with() {
    let model = "data \"own.csv\"\ninput x\ninput y\nparam w = 0\nparam b = 0\n\
                 let s = (x - mean(x)) / sqrt(mean((x - mean(x))^2))\n\
                 minimize mean((w * s + b - y)^2)\npredict p = w * s + b\n";
    let own: Vec<f64> = (0..20).map(|k| k as f64).collect();
    let train: Vec<f64> = (0..20).map(|k| 100.0 + 5.0 * k as f64).collect();
    let csv = |xs: &[f64]| {
        let mut text = String::from("x,y\n");
        for x in xs {
            text.push_str(&format!("{x},{}\n", 3.0 * x + 1.0));
        }
        text
    };
    let (own_csv, train_csv) = (csv(&own), csv(&train));
    let dir = scratch(
        "reductions",
        &[
            ("m.loss", model),
            ("own.csv", &own_csv),
            ("train.csv", &train_csv),
        ],
    );
    let out = gradc_in(
        &dir,
        &[
            "run",
            "m.loss",
            "--data",
            "train.csv",
            "--optimizer",
            "lbfgs",
            "--out",
            "fit.json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let fit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("fit.json")).expect("fit"))
            .expect("JSON");
    let (mean, sd) = moments(&train);
    let stored = &fit["data_reductions"];
    assert_eq!(stored["mean(x)"].as_f64(), Some(mean), "{stored}");
    // Predictions on new rows use the training rows' mean and deviation: the fit is exact, so
    // they are 3x + 1 at any x.
    std::fs::write(dir.join("new.csv"), "x\n0\n110\n1000\n").expect("new data");
    let out = gradc_in(
        &dir,
        &[
            "eval", "m.loss", "--params", "fit.json", "--data", "new.csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let predictions: Vec<f64> = stdout(&out)
        .lines()
        .skip(1)
        .map(|l| l.parse().expect("number"))
        .collect();
    let w = fit["params"]["w"].as_f64().expect("w");
    let b = fit["params"]["b"].as_f64().expect("b");
    for (x, p) in [0.0, 110.0, 1000.0].iter().zip(&predictions) {
        let expected = w * (x - mean) / sd + b;
        assert!(
            (p - expected).abs() <= 1e-9 * expected.abs().max(1.0),
            "{x}: {p} vs {expected}"
        );
        assert!(
            (p - (3.0 * x + 1.0)).abs() < 1e-6 * (3.0 * x + 1.0).abs().max(1.0),
            "{x}: {p}"
        );
    }
    // A parameters file without the values (written by hand) falls back to the model's own
    // data file, and says so.
    let bare = serde_json::json!({ "params": fit["params"] });
    std::fs::write(dir.join("bare.json"), bare.to_string()).expect("bare");
    let out = gradc_in(
        &dir,
        &[
            "eval",
            "m.loss",
            "--params",
            "bare.json",
            "--data",
            "new.csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning: bare.json does not hold the values of `mean(x)`"));
}

#[test]
fn check_at_a_non_finite_point_says_what_is_not_finite() {
    let dir = scratch(
        "check",
        &[(
            "m.loss",
            "param x = 0\nparam y = 1\nminimize log(x) + y^2\n",
        )],
    );
    let out = gradc_in(&dir, &["check", "m.loss"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out), @r"
    value -inf: the objective is not finite at this point, so no derivative can be checked
    FAILED: check at a point where the objective is finite (--at F.json)
    ");
    let dir = scratch(
        "check-gradient",
        &[(
            "m.loss",
            "param x = 0\nparam y = 1\nminimize sqrt(x) + y^2\n",
        )],
    );
    let out = gradc_in(&dir, &["check", "m.loss"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("x                    not finite  (∂L/∂x = inf)"),
        "{text}"
    );
    assert!(text.contains("\ny          "), "{text}");
    assert!(text.starts_with("value 1\n"), "{text}");
}

#[test]
fn columns_past_the_file_point_at_the_input_statement() {
    let dir = scratch(
        "columns",
        &[
            (
                "m.loss",
                "data \"d.csv\"\ninput x[11] = columns 0..11\nparam w[11] = 0\nminimize mean(dot(w, x))\n",
            ),
            ("d.csv", "a,b,c\n1,2,3\n"),
        ],
    );
    let out = gradc_in(&dir, &["run", "m.loss"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    insta::assert_snapshot!(stderr(&out), @r"
    error: bad data
    d.csv: input `x` reads column 3 (0-based) but the file has 3 columns
    error[E0202]: input `x` does not match the columns of d.csv
      --> m.loss:2:7
      |
    2 | input x[11] = columns 0..11
      |       ^ input `x` reads column 3 (0-based) but the file has 3 columns
    ");
}

#[test]
fn meaningless_values_are_usage_errors() {
    let dir = scratch(
        "usage",
        &[
            (
                "m.loss",
                "data \"d.csv\"\ninput x\nparam a = 0\nminimize mean((a - x)^2)\n",
            ),
            ("d.csv", "x\n1\n"),
        ],
    );
    for args in [
        &["check", "m.loss", "--tol", "nan"][..],
        &["check", "m.loss", "--tol=-1"][..],
        &["run", "m.loss", "--threads", "0"][..],
        &["run", "m.loss", "--validate", "0.5"][..],
        &["run", "m.loss", "--validate", "1"][..],
        &["run", "m.loss", "--schedule", "step:1:0"][..],
        &["run", "m.loss", "--lr", "-1"][..],
    ] {
        let out = gradc_in(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let out = gradc_in(&dir, &["run", "m.loss", "--validate", "0.5"]);
    assert!(
        stderr(&out).contains("--validate needs at least 2 data rows"),
        "{}",
        stderr(&out)
    );
    let out = gradc_in(&dir, &["run", "m.loss", "--schedule", "step:1:0"]);
    assert!(stderr(&out).contains("FACTOR must be a finite number above 0, got `0`"));
    let out = gradc_in(&dir, &["run", "m.loss", "--lr", "-1"]);
    assert!(
        stderr(&out).contains("'-1' for '--lr <LR>': must be above 0"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn every_command_has_examples_in_its_help() {
    for command in ["grad", "check", "run", "eval"] {
        let out = gradc_in(repository(), &[command, "--help"]);
        assert!(out.status.success());
        let text = stdout(&out);
        assert!(text.contains("Examples:\n  gradc "), "{command}: {text}");
    }
}

#[test]
fn the_table_prints_numbers_as_numpy_does() {
    let out = gradc_in(
        repository(),
        &["run", "examples/rosenbrock.loss", "--optimizer", "newton"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("x                                   1\n"),
        "{text}"
    );
    assert!(text.contains("loss        1.2325952e-32\n"), "{text}");
    let out = gradc_in(
        repository(),
        &[
            "run",
            "examples/rosenbrock.loss",
            "--optimizer",
            "gd",
            "--lr",
            "1e-4",
            "--steps",
            "10",
        ],
    );
    let text = stdout(&out);
    assert!(
        text.contains("x                          -1.0792454\n"),
        "{text}"
    );
    assert!(text.contains("loss        5.6215944\n"), "{text}");
    let loss_line = text
        .lines()
        .find(|l| l.starts_with("loss"))
        .expect("loss line");
    assert!(loss_line.len() <= "loss        ".len() + 14, "{loss_line}");
}

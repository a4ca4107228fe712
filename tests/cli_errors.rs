//! What `gradc` prints when it refuses to go on: one snapshot per kind of error, with the exit
//! code, showing the whole message a user reads (model errors, missing files, usage errors, the
//! lm refusal, data errors, parameter files that do not fit).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `gradc args` in `dir`, requires it to fail without writing to stdout, and returns its
/// exit code and stderr. The only place these tests run the binary. Paths in the messages are
/// the relative paths the tests pass, so nothing machine-dependent is in the snapshots.
fn failure(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gradc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("gradc runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded:\n{stdout}");
    assert!(stdout.is_empty(), "{args:?} wrote to stdout:\n{stdout}");
    let code = out
        .status
        .code()
        .map_or("none".to_string(), |c| c.to_string());
    format!("exit code {code}\n{stderr}")
}

/// The repository, where the examples are.
fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh directory with the given files in it.
fn scratch(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-errors-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    for (file, text) in files {
        std::fs::write(dir.join(file), text).expect("write a scratch file");
    }
    dir
}

#[test]
fn a_model_error() {
    let dir = scratch("model", &[("bad.loss", "param w = 1\nminimize w + q\n")]);
    insta::assert_snapshot!(failure(&dir, &["grad", "bad.loss"]), @"
    exit code 2
    error[E0100]: `q` is not declared
      --> bad.loss:2:14
      |
    2 | minimize w + q
      |              ^ not declared before this use
      |
      = help: names are declared (with `input`, `param`, `const`, `let` or `fn`) before they are used
    ");
}

#[test]
fn a_missing_model_file() {
    insta::assert_snapshot!(failure(repository(), &["grad", "no/such/model.loss"]), @"
    exit code 2
    error: cannot read no/such/model.loss: No such file or directory (os error 2)
    ");
}

#[test]
fn a_flag_value_out_of_range() {
    let args = ["run", "examples/seeds/quadratic.loss", "--lr", "0"];
    insta::assert_snapshot!(failure(repository(), &args), @"
    exit code 2
    error: invalid value '0' for '--lr <LR>': must be above 0

    For more information, try '--help'.
    ");
    let args = ["run", "examples/seeds/quadratic.loss", "--beta1", "1"];
    insta::assert_snapshot!(failure(repository(), &args), @"
    exit code 2
    error: invalid value '1' for '--beta1 <BETA1>': must be at least 0 and below 1

    For more information, try '--help'.
    ");
    let args = ["run", "examples/seeds/quadratic.loss", "--batch", "many"];
    insta::assert_snapshot!(failure(repository(), &args), @"
    exit code 2
    error: invalid value 'many' for '--batch <BATCH>': `many` is not a whole number

    For more information, try '--help'.
    ");
    let args = ["grad", "examples/rosenbrock.loss", "--format", "yaml"];
    insta::assert_snapshot!(failure(repository(), &args), @"
    exit code 2
    error: invalid value 'yaml' for '--format <FORMAT>'
      [possible values: text, latex, dot, json]

    For more information, try '--help'.
    ");
}

#[test]
fn an_unknown_optimizer() {
    let args = [
        "run",
        "examples/seeds/quadratic.loss",
        "--optimizer",
        "adamw",
    ];
    insta::assert_snapshot!(failure(repository(), &args), @"
    exit code 2
    error: unknown optimizer `adamw`: expected one of gd, sgd, momentum, nesterov, adagrad, rmsprop, adam, newton, lbfgs, lm
    ");
}

#[test]
fn a_bad_schedule() {
    let args = [
        "run",
        "examples/seeds/quadratic.loss",
        "--schedule",
        "step:10",
    ];
    insta::assert_snapshot!(failure(repository(), &args), @"
    exit code 2
    error: unknown schedule `step:10`: expected constant, linear, quadratic, exp:BETA or step:EVERY:FACTOR
    ");
}

#[test]
fn a_bad_validation_fraction() {
    let args = ["run", "examples/seeds/quadratic.loss", "--validate", "1.5"];
    insta::assert_snapshot!(failure(repository(), &args), @"
    exit code 2
    error: invalid value '1.5' for '--validate <VALIDATE>': must be above 0 and below 1

    For more information, try '--help'.
    ");
}

#[test]
fn lm_refuses_an_objective_that_is_not_a_sum_of_squares() {
    let args = [
        "run",
        "examples/logistic_regression.loss",
        "--optimizer",
        "lm",
    ];
    insta::assert_snapshot!(failure(repository(), &args), @"
    exit code 2
    error[E0200]: --optimizer lm needs an objective that is a sum of squares
       --> examples/logistic_regression.loss:10:15
       |
    10 | minimize mean(-(y * log(p) + (1 - y) * log(1 - p)))
       |               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ this term is not a square
       |
       = help: lm fits sum(r^2), mean(r^2), r1^2 + r2^2, or a positive multiple or sum of these; other objectives: --optimizer newton or lbfgs
    ");
}

#[test]
fn a_model_with_inputs_and_no_data_file() {
    let dir = scratch(
        "no-data",
        &[("m.loss", "param w\ninput a\nminimize mean((w - a)^2)\n")],
    );
    insta::assert_snapshot!(failure(&dir, &["run", "m.loss"]), @r#"
    exit code 2
    error[E0201]: the model reads inputs but names no data file
      --> m.loss:2:1
      |
    2 | input a
      | ^^^^^^^ an input needs a data file
      |
      = help: add `data "file.csv"` to the model, or pass --data F.csv
    "#);
}

#[test]
fn data_errors() {
    let model = "data \"d.csv\"\ninput x\ninput y\nparam w\nminimize mean((w * x - y)^2)\n";
    let dir = scratch(
        "data",
        &[
            ("m.loss", model),
            ("d.csv", "x,y\n1,2\n3,\n4,five\n5,6,7\n"),
        ],
    );
    insta::assert_snapshot!(failure(&dir, &["run", "m.loss"]), @r#"
    exit code 1
    error: bad data
    d.csv: line 3, column "y" (2): empty cell
    d.csv: line 4, column "y" (2): "five" is not a number
    d.csv: line 5: 3 cells, but the header has 2
    "#);
    insta::assert_snapshot!(failure(&dir, &["check", "m.loss", "--data", "missing.csv"]), @"
    exit code 1
    error: bad data
    missing.csv: cannot read the file: No such file or directory (os error 2)
    ");
}

#[test]
fn a_params_file_that_does_not_fit() {
    let model = "param w[2]\nparam b\ninput x\nminimize w[0]^2 + b^2\npredict y = w[1] * x + b\n";
    let dir = scratch(
        "params",
        &[
            ("m.loss", model),
            ("d.csv", "x\n1\n"),
            ("shape.json", "{\"params\": {\"w\": 1, \"b\": 0}}"),
            ("missing.json", "{\"params\": {\"w\": [1, 2]}}"),
            ("broken.json", "{\"params\": "),
        ],
    );
    let eval = |params: &str| {
        failure(
            &dir,
            &["eval", "m.loss", "--data", "d.csv", "--params", params],
        )
    };
    insta::assert_snapshot!(eval("shape.json"), @"
    exit code 2
    error: shape.json: parameter `w` should be a list of 2 numbers
    ");
    insta::assert_snapshot!(eval("missing.json"), @"
    exit code 2
    error: missing.json: parameter `b` is missing
    ");
    insta::assert_snapshot!(eval("broken.json"), @"
    exit code 2
    error: broken.json: not valid JSON: EOF while parsing a value at line 1 column 11
    ");
    insta::assert_snapshot!(eval("nowhere.json"), @"
    exit code 2
    error: cannot read nowhere.json: No such file or directory (os error 2)
    ");
}

#[test]
fn a_run_that_diverges() {
    // A NaN in one data row is traced to the term and the row; a finite loss with a NaN
    // gradient names the partials and the term whose derivative is not finite.
    let dir = scratch(
        "diverge",
        &[
            ("d.csv", "x\n1\n2\n-3\n4\n"),
            (
                "m.loss",
                "data \"d.csv\"\ninput x\nparam w = 1\nminimize mean((w - 2)^2 + sqrt(w * x + 3.5))\n",
            ),
            ("n.loss", "param v[3] = 0\nminimize norm(v)\n"),
        ],
    );
    insta::assert_snapshot!(failure(&dir, &["run", "m.loss", "--lr", "0.1", "--quiet"]), @"
    exit code 1
    error: the loss diverged at step 1: it became NaN; the last finite parameters are kept
      --> m.loss:4:27: `sqrt(w * x + 3.5)` is not finite in data row 3 (line 4 of the data file)
    ");
    insta::assert_snapshot!(failure(&dir, &["run", "n.loss", "--quiet"]), @"
    exit code 1
    error: the gradient is not finite at step 0 (the loss is 0); the last finite parameters are kept
      ∂L/∂v[0] = NaN
      ∂L/∂v[1] = NaN
      ∂L/∂v[2] = NaN
      --> n.loss:2:10: `norm(v)` has no finite derivative here
    ");
}

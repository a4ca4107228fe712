//! The user's files are never lost: an output may not replace an input, links and devices are
//! written through, write errors fail the command, and neither an error nor a signal leaves a
//! temporary file or a half-written output behind (issue 9, items 1–5).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn gradc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("gradc runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A fresh directory with a model that has data and a prediction, and its data.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-files-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    std::fs::write(
        dir.join("m.loss"),
        "data \"d.csv\"\ninput x\ninput y\nparam a = 1\nparam b = 0\n\
         minimize mean((a * x + b - y)^2)\npredict p = a * x + b\n",
    )
    .expect("model");
    std::fs::write(dir.join("d.csv"), "x,y\n0,1\n1,3\n2,5\n3,7.5\n").expect("data");
    dir
}

fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

fn fit(dir: &Path) {
    let out = gradc_in(
        dir,
        &["run", "m.loss", "--optimizer", "lbfgs", "--out", "fit.json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_output_that_names_an_input_is_refused_and_the_input_kept() {
    let dir = scratch("inputs");
    let model = std::fs::read(dir.join("m.loss")).expect("model");
    let data = std::fs::read(dir.join("d.csv")).expect("data");
    fit(&dir);
    let params = std::fs::read(dir.join("fit.json")).expect("params");
    std::os::unix::fs::symlink("d.csv", dir.join("alias.csv")).expect("link");
    let cases: [&[&str]; 6] = [
        &["run", "m.loss", "--out", "m.loss"],
        &["run", "m.loss", "--data", "d.csv", "--out", "d.csv"],
        &["run", "m.loss", "--out", "alias.csv"],
        &["run", "m.loss", "--plot", "m.loss.svg", "--out", "./m.loss"],
        &[
            "eval", "m.loss", "--params", "fit.json", "--out", "fit.json",
        ],
        &[
            "eval", "m.loss", "--params", "fit.json", "--data", "d.csv", "--out", "d.csv",
        ],
    ];
    for args in cases {
        let out = gradc_in(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("would be overwritten"),
            "{}",
            stderr(&out)
        );
        assert_eq!(std::fs::read(dir.join("m.loss")).expect("model"), model);
        assert_eq!(std::fs::read(dir.join("d.csv")).expect("data"), data);
        assert_eq!(std::fs::read(dir.join("fit.json")).expect("params"), params);
    }
    assert!(
        !dir.join("m.loss.svg").exists(),
        "nothing is written before the check"
    );
}

#[test]
fn outputs_are_checked_before_the_run() {
    let dir = scratch("before");
    // A slow run: the check must come first, not after the fit.
    let slow = ["run", "m.loss", "--optimizer", "gd", "--steps", "100000000"];
    for (extra, expected) in [
        (&["--plot", "x.jpg"][..], ".svg or .png"),
        (
            &["--out", "same.svg", "--plot", "same.svg"][..],
            "name the same file",
        ),
        (&["--out", "."][..], "is a directory"),
        (&["--out", "no/such/fit.json"][..], "does not exist"),
    ] {
        let started = Instant::now();
        let args: Vec<&str> = slow.iter().chain(extra).copied().collect();
        let out = gradc_in(&dir, &args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{extra:?} ran the fit first"
        );
    }
    assert!(!dir.join("same.svg").exists());
}

#[test]
fn a_link_is_written_through() {
    let dir = scratch("link");
    std::fs::write(dir.join("real.json"), "{}").expect("real");
    std::os::unix::fs::symlink("real.json", dir.join("link.json")).expect("link");
    let out = gradc_in(
        &dir,
        &[
            "run",
            "m.loss",
            "--optimizer",
            "lbfgs",
            "--out",
            "link.json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let link = std::fs::symlink_metadata(dir.join("link.json")).expect("link");
    assert!(
        link.file_type().is_symlink(),
        "the link was replaced by a file"
    );
    let written = std::fs::read_to_string(dir.join("real.json")).expect("real");
    assert!(written.contains("\"stop_reason\""), "{written}");
    assert!(temporaries(&dir).is_empty());
}

#[test]
fn a_device_is_written_in_place() {
    let dir = scratch("device");
    let out = gradc_in(
        &dir,
        &[
            "run",
            "m.loss",
            "--optimizer",
            "lbfgs",
            "--quiet",
            "--out",
            "/dev/stdout",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the JSON");
    assert_eq!(json["optimizer"], "lbfgs");
    let null = std::fs::metadata("/dev/null").expect("/dev/null");
    assert!(!null.file_type().is_file());
}

#[test]
fn write_errors_fail_the_command() {
    let dir = scratch("full");
    fit(&dir);
    let full = || std::fs::File::create("/dev/full").expect("/dev/full");
    for args in [
        &["grad", "m.loss"][..],
        &["run", "m.loss", "--optimizer", "lbfgs", "--json"][..],
        &["run", "m.loss", "--optimizer", "lbfgs"][..],
        &["eval", "m.loss", "--params", "fit.json"][..],
        &["check", "m.loss"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_gradc"))
            .args(args)
            .current_dir(&dir)
            .stdout(full())
            .output()
            .expect("gradc runs");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("No space left on device"),
            "{}",
            stderr(&out)
        );
    }
    let out = gradc_in(
        &dir,
        &[
            "run",
            "m.loss",
            "--optimizer",
            "lbfgs",
            "--out",
            "/dev/full",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot write /dev/full"),
        "{}",
        stderr(&out)
    );
    // A reader that has gone is not an error.
    let mut child = Command::new(env!("CARGO_BIN_EXE_gradc"))
        .args(["grad", "m.loss"])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gradc runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("gradc ends");
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A file system with no room: a small tmpfs, mounted in a private mount namespace where the
/// machine allows it (root, or unprivileged user namespaces).
#[test]
fn a_full_file_system_fails_the_write_and_leaves_no_temporary_file() {
    let dir = scratch("tmpfs");
    fit(&dir);
    let full = dir.join("full");
    std::fs::create_dir_all(&full).expect("mount point");
    let script = format!(
        "mount -t tmpfs -o size=16k tmpfs {full} && head -c 4096 /dev/zero > {full}/filler \
         && echo kept > {full}/pred.csv \
         && {gradc} eval m.loss --params fit.json --data big.csv --out {full}/pred.csv; \
         code=$?; echo \"exit $code\"; cat {full}/pred.csv; ls -a {full}",
        full = full.display(),
        gradc = env!("CARGO_BIN_EXE_gradc"),
    );
    let mut rows = String::from("x,y\n");
    for k in 0..2000 {
        rows.push_str(&format!("{k},{}\n", 2 * k + 1));
    }
    std::fs::write(dir.join("big.csv"), rows).expect("data");
    let mut tried = Vec::new();
    for launcher in [&["unshare", "-m"][..], &["unshare", "-rm"][..]] {
        let out = Command::new(launcher[0])
            .args(&launcher[1..])
            .args(["sh", "-c", &script])
            .current_dir(&dir)
            .output()
            .expect("sh runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !text.contains("exit ") {
            tried.push(stderr(&out));
            continue;
        }
        assert!(text.contains("exit 1"), "{text}\n{}", stderr(&out));
        assert!(
            stderr(&out).contains("No space left on device"),
            "{}",
            stderr(&out)
        );
        // The old file is as it was, and no temporary file is left.
        assert!(text.contains("kept"), "{text}");
        assert!(!text.contains(".tmp"), "{text}");
        return;
    }
    panic!("cannot mount a tmpfs here: {tried:?}");
}

/// Starts `gradc` with `args` in `dir`, waits until `ready` holds (or `limit` passes), sends
/// `signal` and waits for the end.
fn signal_when(
    dir: &Path,
    args: &[&str],
    ready: impl Fn() -> bool,
    signal: &str,
) -> (Output, bool) {
    let child = Command::new(env!("CARGO_BIN_EXE_gradc"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gradc runs");
    let started = Instant::now();
    let mut was_ready = false;
    while started.elapsed() < Duration::from_secs(20) {
        if ready() {
            was_ready = true;
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    (child.wait_with_output().expect("gradc ends"), was_ready)
}

#[test]
fn sigterm_and_sighup_stop_a_run_like_ctrl_c_and_the_result_is_written() {
    let dir = scratch("signals");
    for signal in ["-INT", "-TERM", "-HUP"] {
        let out_file = dir.join("fit.json");
        let _ = std::fs::remove_file(&out_file);
        let args = [
            "run",
            "m.loss",
            "--optimizer",
            "gd",
            "--lr",
            "1e-9",
            "--steps",
            "2000000000",
            "--out",
            "fit.json",
            "--quiet",
        ];
        // Ready once the optimizer is running: give it a moment after start-up.
        let started = Instant::now();
        let (out, _) = signal_when(
            &dir,
            &args,
            || started.elapsed() > Duration::from_millis(1500),
            signal,
        );
        assert_eq!(out.status.code(), Some(0), "{signal}: {}", stderr(&out));
        let written = std::fs::read_to_string(&out_file).expect("the result is written");
        let json: serde_json::Value = serde_json::from_str(&written).expect("whole JSON");
        assert_eq!(json["stop_reason"], "interrupted", "{signal}");
        assert!(temporaries(&dir).is_empty());
    }
}

#[test]
fn a_signal_while_writing_leaves_the_old_file_or_the_new_one_and_no_temporary() {
    let dir = scratch("eval-signal");
    fit(&dir);
    let mut rows = String::from("x,y\n");
    for k in 0..1_500_000 {
        rows.push_str(&format!("{},0\n", k as f64 * 1e-3));
    }
    std::fs::write(dir.join("big.csv"), rows).expect("data");
    std::fs::write(dir.join("pred.csv"), "old\n").expect("old output");
    let args = [
        "eval", "m.loss", "--params", "fit.json", "--data", "big.csv", "--out", "pred.csv",
    ];
    let during_write = || !temporaries(&dir).is_empty();
    let (out, caught) = signal_when(&dir, &args, during_write, "-INT");
    assert!(caught, "the temporary file was never seen");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(temporaries(&dir).is_empty(), "{:?}", temporaries(&dir));
    let text = std::fs::read_to_string(dir.join("pred.csv")).expect("output");
    assert!(
        text == "old\n" || text.lines().count() == 1_500_001,
        "half-written: {} lines",
        text.lines().count()
    );
}

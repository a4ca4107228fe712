//! Lowering snapshots of the LANGUAGE.md §1 examples, as program dumps.

use super::{LOGISTIC, NETWORK, ROSENBROCK};
use crate::{compile, dump_program};

/// Compiles `source`, requires success, and returns the source followed by the program dump.
fn check(source: &str) -> String {
    match compile(source) {
        Ok(program) => format!("{source}\n---\n{}", dump_program(&program)),
        Err(errors) => panic!(
            "{}",
            gradc_syntax::render("test.loss", source, &errors, false)
        ),
    }
}

#[test]
fn rosenbrock() {
    insta::assert_snapshot!("rosenbrock", check(ROSENBROCK));
}

#[test]
fn logistic() {
    insta::assert_snapshot!("logistic", check(LOGISTIC));
}

#[test]
fn network() {
    insta::assert_snapshot!("network", check(NETWORK));
}

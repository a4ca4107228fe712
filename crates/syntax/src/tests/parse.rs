//! Parse tests: every statement form and the precedence rules, as AST dumps.

use super::{LOGISTIC, NETWORK, ROSENBROCK};
use crate::dump::dump_file;
use crate::parse;

/// Parses `source`, requires it to be error-free, and returns the source followed by the dump.
fn check(source: &str) -> String {
    let parsed = parse(source);
    let errors = crate::render("test.loss", source, &parsed.errors, false);
    assert!(parsed.errors.is_empty(), "unexpected errors:\n{errors}");
    format!("{source}\n---\n{}", dump_file(&parsed.file))
}

#[test]
fn logistic_example() {
    insta::assert_snapshot!("logistic", check(LOGISTIC));
}

#[test]
fn rosenbrock_example() {
    insta::assert_snapshot!("rosenbrock", check(ROSENBROCK));
}

#[test]
fn network_example() {
    insta::assert_snapshot!("network", check(NETWORK));
}

#[test]
fn every_statement_form() {
    let source = r#"data "runs/data set.csv"
input a
input b = "Header Text"
input c = other_name
input v[3] = a, b, "c d"
input u[10] = columns 2..12
param s
param w = 0.5
param k[4]
param W[2][3] = 0.1
param N[2][3] ~ normal(0, 0.5)
param U[4] ~ uniform(-1, 1)
const c0 = 0.01
const c1 = 2 * pi
let z = w * a
let h[i] = tanh(W[i][0])
let M[i][j] = W[i][j] * 2
fn sq(t) = t * t
fn f(x, y) = x + y
minimize sq(z); predict z
predict named = z + 1
"#;
    insta::assert_snapshot!("statement_forms", check(source));
}

#[test]
fn precedence_and_associativity() {
    let source = "\
minimize -x^2
minimize 2^3^2
minimize 2^-1
minimize a - b - c
minimize a * b / c @ d
minimize -a * b + c
minimize x[0]^2
minimize W[1][2] * v[i]
minimize sum(i) a[i] * b[i] + c
minimize sum(i) sum(j) A[i][j] * x[j]
minimize sum(v) - 1
minimize mean(v)^2
minimize 2 * sum(i) a[i]
minimize if x <= 0 then -x else x + 1
minimize softmax(v)[0]
minimize 1e-3 + 2.5E+4 + .5 + 3.25
";
    insta::assert_snapshot!("precedence", check(source));
}

#[test]
fn parenthesized_conditions_and_negated_index_sums() {
    // A comparison in parentheses is still the condition; `sum(i) -a[i] * b[i]` is an index
    // sum of the one multiplicative term `(-a[i]) * b[i]`, because `i` indexes later in the
    // statement, while `sum(v) - w` stays a subtraction.
    let source = "\
minimize if (x > y) then 1 else 2
minimize if ((x + 1 <= y)) then a else b
minimize if (x + 1) > y then a else b
minimize sum(i) -a[i] * b[i] + c
minimize sum(v) - w[0]
";
    insta::assert_snapshot!("parenthesized_conditions", check(source));
}

#[test]
fn newlines_inside_brackets_are_ignored() {
    let source = "minimize (a +\n  b) * f(c,\n  d)[\n0]\n";
    insta::assert_snapshot!("newlines_in_brackets", check(source));
}

#[test]
fn comments_and_semicolons() {
    let source = "# a comment\nparam w = 1 # trailing\n;; param b = 2; minimize w^2 # done\n";
    insta::assert_snapshot!("comments_and_semicolons", check(source));
}

#[test]
fn string_escapes_are_resolved() {
    let source = "data \"say \\\"hi\\\" \\\\ bye\"\n";
    insta::assert_snapshot!("string_escapes", check(source));
}

//! Lowering as program dumps: `check!` cases for each construct, and file snapshots of the
//! LANGUAGE.md §1 examples.

use super::{LOGISTIC, NETWORK, ROSENBROCK};
use crate::{compile, dump_program};

/// Compiles `source`, requires success, and returns the program dump. The only place these
/// tests call the API.
fn lowered(source: &str) -> String {
    match compile(source) {
        Ok(program) => dump_program(&program),
        Err(errors) => panic!(
            "{}",
            gradc_syntax::render("test.loss", source, &errors, false)
        ),
    }
}

/// A whole example: its source followed by its dump.
fn example(source: &str) -> String {
    format!("{source}\n---\n{}", lowered(source))
}

/// `check!(source, @expected)`: `lowered(source)` pinned as an insta inline snapshot. A macro
/// because insta updates the literal at the line of the call.
macro_rules! check {
    ($source:expr, @$expect:literal) => {
        insta::assert_snapshot!(lowered($source), @$expect)
    };
}

#[test]
fn scalars_and_names() {
    check!("param w = 1\nminimize (w - 3)^2\n", @"
    param w [] at 0 = 1
    %0 = w
    %1 = 3
    %2 = - %0 %1
    %3 = 2
    %4 = ^ %2 %3
    minimize %4
    ");
    check!("param w = 2\nlet z = w * w\nminimize z + z\n", @"
    param w [] at 0 = 2
    %0 = w
    %1 = * %0 %0  (z)
    %2 = + %1 %1
    minimize %2
    ");
    check!("const k = 2 * pi\nparam w\nminimize k * w\n", @"
    param w [] at 0 = 0
    %0 = w
    %1 = 6.283185307179586
    %2 = * %1 %0
    minimize %2
    ");
}

#[test]
fn initial_values() {
    check!("param n[2] ~ normal(0, 0.5)\nparam u ~ uniform(-1, 1)\nparam c = 3\nminimize sum(n) + u + c\n", @"
    param n [2] at 0 ~ normal(0, 0.5)
    param u [] at 2 ~ uniform(-1, 1)
    param c [] at 3 = 3
    %0 = n[0]
    %1 = n[1]
    %2 = u
    %3 = c
    %4 = + %0 %1
    %5 = + %4 %2
    %6 = + %5 %3
    minimize %6
    ");
}

#[test]
fn vectors_unroll_into_scalars() {
    check!("param v[2] = 1\nminimize sum(v^2)\n", @"
    param v [2] at 0 = 1
    %0 = v[0]
    %1 = v[1]
    %2 = 2
    %3 = ^ %0 %2
    %4 = ^ %1 %2
    %5 = + %3 %4
    minimize %5
    ");
    check!("param a[2]\nparam b[2]\nminimize sum(i) a[i] * b[i]\n", @"
    param a [2] at 0 = 0
    param b [2] at 2 = 0
    %0 = a[0]
    %1 = a[1]
    %2 = b[0]
    %3 = b[1]
    %4 = * %0 %2
    %5 = * %1 %3
    %6 = + %4 %5
    minimize %6
    ");
    check!("param A[2][2]\nparam v[2]\nminimize sum(A @ v)\n", @"
    param A [2, 2] at 0 = 0
    param v [2] at 4 = 0
    %0 = A[0][0]
    %1 = A[0][1]
    %2 = A[1][0]
    %3 = A[1][1]
    %4 = v[0]
    %5 = v[1]
    %6 = * %0 %4
    %7 = * %1 %5
    %8 = + %6 %7
    %9 = * %2 %4
    %10 = * %3 %5
    %11 = + %9 %10
    %12 = + %8 %11
    minimize %12
    ");
    check!("param z[2]\nminimize logsumexp(z)\n", @"
    param z [2] at 0 = 0
    %0 = z[0]
    %1 = z[1]
    %2 = logsumexp %0 %1
    minimize %2
    ");
}

#[test]
fn functions_are_inlined() {
    check!("fn sq(t) = t * t\nparam w\nminimize sq(w - 1)\n", @"
    param w [] at 0 = 0
    %0 = w
    %1 = 1
    %2 = - %0 %1
    %3 = * %2 %2
    minimize %3
    ");
}

#[test]
fn conditions_are_selects() {
    check!("param x = 1\nminimize if x > 0 then x else -x\n", @"
    param x [] at 0 = 1
    %0 = x
    %1 = 0
    %2 = neg %0
    %3 = > %0 %1
    %4 = if %3 %0 %2
    minimize %4
    ");
}

#[test]
fn rows_and_reductions() {
    check!("data \"d.csv\"\ninput x\ninput y\nparam a = 0\nminimize mean((y - a * x)^2)\n", @r#"
    data "d.csv"
    param a [] at 0 = 0
    input x [] at 0 headers ["x"]
    input y [] at 1 headers ["y"]
    %0 = x  [row]
    %1 = y  [row]
    %2 = a
    %3 = * %2 %0  [row]
    %4 = - %1 %3  [row]
    %5 = 2
    %6 = ^ %4 %5  [row]
    %7 = mean %6
    minimize %7
    "#);
    check!("input v[2] = a, \"b c\"\ninput u[2] = columns 3..5\nparam w\nminimize mean(v[0] * u[1]) * w\npredict p = w * v[1]\n", @r#"
    param w [] at 0 = 0
    input v [2] at 0 headers ["a", "b c"]
    input u [2] at 2 columns 3..5
    %0 = v[0]  [row]
    %1 = v[1]  [row]
    %2 = u[0]  [row]
    %3 = u[1]  [row]
    %4 = w
    %5 = * %0 %3  [row]
    %6 = mean %5
    %7 = * %6 %4
    %8 = * %4 %1  [row]
    minimize %7
    predict p [] = %8
    "#);
    check!("input x\nparam w\nminimize mean((x - mean(x))^2) * w\n", @r#"
    param w [] at 0 = 0
    input x [] at 0 headers ["x"]
    %0 = x  [row]
    %1 = w
    %2 = mean %0
    %3 = - %0 %2  [row]
    %4 = 2
    %5 = ^ %3 %4  [row]
    %6 = mean %5
    %7 = * %6 %1
    minimize %7
    "#);
}

#[test]
fn rosenbrock() {
    insta::assert_snapshot!("rosenbrock", example(ROSENBROCK));
}

#[test]
fn logistic() {
    insta::assert_snapshot!("logistic", example(LOGISTIC));
}

#[test]
fn network() {
    insta::assert_snapshot!("network", example(NETWORK));
}

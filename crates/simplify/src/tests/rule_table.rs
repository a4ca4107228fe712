//! The rule table, one row per rule of `rules.rs` (egg's `test_fn!` style): the rule, an input
//! it rewrites, and what the whole simplifier makes of that input. Rows in `GUARDED` show the
//! guards at work: inputs a guarded rule must leave alone.

use super::simplified;
use crate::lang::{Analysis, ENode};
use crate::rules;
use egg::{Rewrite, Runner};
use gradc_graph::Graph;
use std::collections::BTreeSet;
use std::time::Duration;

/// `(rule, input, simplified)`: `rule` alone rewrites `input` at least once, and the simplifier
/// with every rule turns `input` into `simplified`.
#[rustfmt::skip]
const RULES: &[(&str, &str, &str)] = &[
    // Identities.
    ("add-0",            "(+ param#0 0)",                                     "param#0"),
    ("0-add",            "(+ 0 param#0)",                                     "param#0"),
    ("sub-0",            "(- param#0 0)",                                     "param#0"),
    ("0-sub",            "(- 0 (neg param#0))",                               "param#0"),
    ("mul-1",            "(* param#0 1)",                                     "param#0"),
    ("1-mul",            "(* 1 param#0)",                                     "param#0"),
    ("mul-0",            "(* param#0 0)",                                     "0"),
    ("0-mul",            "(* 0 param#0)",                                     "0"),
    ("mul-minus-1",      "(* -1 (neg param#0))",                              "param#0"),
    ("minus-1-mul",      "(* (neg param#0) -1)",                              "param#0"),
    ("div-1",            "(/ param#0 1)",                                     "param#0"),
    ("pow-1",            "(^ param#0 1)",                                     "param#0"),
    ("pow-0",            "(^ param#0 0)",                                     "1"),
    ("neg-neg",          "(neg (neg param#0))",                               "param#0"),
    ("add-neg",          "(+ param#0 (neg param#1))",                         "(- param#0 param#1)"),
    ("neg-add-b",        "(+ (neg param#0) param#1)",                         "(- param#1 param#0)"),
    ("sub-neg",          "(- param#0 (neg param#1))",                         "(+ param#0 param#1)"),
    ("neg-sub",          "(neg (- param#0 param#1))",                         "(- param#1 param#0)"),
    ("sub-self",         "(- (exp param#0) (exp param#0))",                   "0"),
    ("add-sub-cancel",   "(- (+ param#0 param#1) param#1)",                   "param#0"),
    ("sub-add-cancel",   "(+ (- param#0 param#1) param#1)",                   "param#0"),
    ("sub-sub",          "(- param#0 (- param#0 param#1))",                   "param#1"),
    ("div-self",         "(/ (exp param#0) (exp param#0))",                   "1"),
    ("mul-div-cancel",   "(* (/ param#0 (exp param#1)) (exp param#1))",       "param#0"),
    ("mul-div-cancel-l", "(* (exp param#1) (/ param#0 (exp param#1)))",       "param#0"),
    ("div-mul-cancel",   "(/ (* param#0 (exp param#1)) (exp param#1))",       "param#0"),
    ("div-mul-cancel-l", "(/ (* (exp param#1) param#0) (exp param#1))",       "param#0"),
    ("neg-div",          "(neg (/ (neg param#0) param#1))",                   "(/ param#0 param#1)"),
    // Constants meet across a product or sum.
    ("fold-mul",         "(* 2 (* 3 param#0))",                               "(* param#0 6)"),
    ("fold-mul-r",       "(* 2 (* param#0 3))",                               "(* param#0 6)"),
    ("fold-add",         "(+ 2 (+ 3 param#0))",                               "(+ param#0 5)"),
    ("fold-add-r",       "(+ 2 (+ param#0 3))",                               "(+ param#0 5)"),
    // `if` with a known condition or equal branches.
    ("if-same",          "(if (> param#0 0) param#1 param#1)",                "param#1"),
    ("if-true",          "(if (> 2 1) param#0 param#1)",                      "param#0"),
    ("if-false",         "(if (> 1 2) param#0 param#1)",                      "param#1"),
    // Inverse functions.
    ("log-exp",          "(log (exp param#0))",                               "param#0"),
    ("exp-log",          "(exp (log (sigmoid param#0)))",                     "(sigmoid param#0)"),
    ("sqrt-square",      "(sqrt (* param#0 param#0))",                        "(abs param#0)"),
    // Numerical stability.
    ("log-sigmoid",      "(log (sigmoid (neg param#0)))",                     "(neg (softplus param#0))"),
    ("log-sigmoid-2",    "(log (sigmoid param#0))",                           "(- param#0 (softplus param#0))"),
    ("log-1-sigmoid",    "(log (- 1 (sigmoid param#0)))",                     "(neg (softplus param#0))"),
    ("log-1-exp",        "(log (+ 1 (exp param#0)))",                         "(softplus param#0)"),
    ("log-exp-1",        "(log (+ (exp param#0) 1))",                         "(softplus param#0)"),
    ("log1p-exp",        "(log1p (exp param#0))",                             "(softplus param#0)"),
    ("log-1-plus",       "(log (+ 1 param#0))",                               "(log1p param#0)"),
    ("exp-minus-1",      "(- (exp param#0) 1)",                               "(expm1 param#0)"),
    ("log-sum-exp",      "(log (+ (exp param#0) (exp param#1)))",             "(logsumexp param#0 param#1)"),
    ("sigmoid-neg",      "(- 1 (sigmoid (neg param#0)))",                     "(sigmoid param#0)"),
    // Derivative identities.
    ("sigmoid-prime",    "(/ (exp (neg param#0)) (^ (+ 1 (exp (neg param#0))) 2))", "(- (sigmoid param#0) (* (sigmoid param#0) (sigmoid param#0)))"),
    ("tanh-prime",       "(- (- 1 (* (tanh param#0) (tanh param#0))) (- 1 (^ (tanh param#0) 2)))", "0"),
    ("softplus-prime",   "(/ (exp param#0) (+ 1 (exp param#0)))",             "(sigmoid param#0)"),
    // Row reductions.
    ("mean-scale",       "(+ (mean (* param#0 input#0)) (mean input#0))",     "(+ (* param#0 (mean input#0)) (mean input#0))"),
    ("mean-scale-r",     "(+ (mean (* input#0 param#0)) (mean input#0))",     "(+ (* param#0 (mean input#0)) (mean input#0))"),
    ("mean-div",         "(- (mean (/ input#0 param#0)) (/ (mean input#0) param#0))", "0"),
    ("mean-neg",         "(+ (mean (neg input#0)) (mean input#0))",           "0"),
    ("sum-scale",        "(+ (sum (* param#0 input#0)) (sum input#0))",       "(+ (* param#0 (sum input#0)) (sum input#0))"),
    ("sum-scale-r",      "(+ (sum (* input#0 param#0)) (sum input#0))",       "(+ (* param#0 (sum input#0)) (sum input#0))"),
    ("sum-neg",          "(+ (sum (neg input#0)) (sum input#0))",             "0"),
    // Reordering sums and products.
    ("comm-add",         "(- (+ param#0 param#1) (+ param#1 param#0))",       "0"),
    ("comm-mul",         "(- (* param#0 param#1) (* param#1 param#0))",       "0"),
    ("assoc-add",        "(- (+ (+ param#0 param#1) param#2) (+ param#0 (+ param#1 param#2)))", "0"),
    ("assoc-mul",        "(- (* (* param#0 param#1) param#2) (* param#0 (* param#1 param#2)))", "0"),
    ("sub-to-add",       "(+ (- param#0 param#1) (- param#1 param#0))",       "0"),
    ("distribute",       "(- (* param#0 (+ param#1 param#2)) (* param#0 param#1))", "(* param#0 param#2)"),
    ("sub-sub-cancel",   "(- (- param#0 param#1) (- param#2 param#1))",       "(- param#0 param#2)"),
    ("factor",           "(+ (* param#0 param#1) (* param#0 param#2))",       "(* param#0 (+ param#1 param#2))"),
    ("neg-mul",          "(* (neg param#0) (neg param#1))",                   "(* param#0 param#1)"),
    ("div-mul",          "(- (* (/ param#0 param#1) param#2) (/ (* param#0 param#2) param#1))", "0"),
    ("mul-div",          "(- (/ (* param#0 param#2) param#1) (* (/ param#0 param#1) param#2))", "0"),
    ("div-neg",          "(+ (/ (neg param#0) param#1) (/ param#0 param#1))", "0"),
];

/// `(rule, input, simplified)`: the guard of `rule` holds back on `input`, which the simplifier
/// turns into `simplified`.
#[rustfmt::skip]
const GUARDED: &[(&str, &str, &str)] = &[
    // A parameter may be zero: x / x is not 1 at x = 0.
    ("div-self",         "(/ param#0 param#0)",                               "(/ param#0 param#0)"),
    ("mul-div-cancel",   "(* (/ param#0 param#1) param#1)",                   "(* (/ param#0 param#1) param#1)"),
    ("div-mul-cancel",   "(/ (* param#0 param#1) param#1)",                   "(/ (* param#0 param#1) param#1)"),
    // log x is not defined for x <= 0, so exp(log x) is not x there.
    ("exp-log",          "(exp (log param#0))",                               "(exp (log param#0))"),
    // A per-row factor cannot leave a mean.
    ("mean-scale",       "(mean (* input#1 input#0))",                        "(mean (* input#1 input#0))"),
    // A condition that is not a constant selects nothing.
    ("if-true",          "(if (> param#0 0) param#1 param#2)",                "(if (> param#0 0) param#1 param#2)"),
    ("if-false",         "(if (> param#0 0) param#1 param#2)",                "(if (> param#0 0) param#1 param#2)"),
    // Only constants are folded.
    ("fold-mul",         "(* 2 (* param#0 param#1))",                         "(* 2 (* param#0 param#1))"),
];

/// Every rule of the table, by name.
fn all_rules() -> Vec<Rewrite<ENode, Analysis>> {
    let mut all = rules::local();
    all.extend(rules::algebra());
    all
}

/// How often `rule` alone rewrites `input`: an e-graph of the input run with that one rule, for
/// a few iterations and without a wall-clock limit (so that the count is the same on a loaded
/// machine). The only place these tests run egg.
fn applications(rule: &Rewrite<ENode, Analysis>, input: &str) -> usize {
    let (graph, roots) = Graph::from_sexprs(input).unwrap_or_else(|e| panic!("{input}: {e}"));
    let (egraph, _) = crate::egraph_of(&graph, &graph.cone(&roots));
    let runner = Runner::default()
        .with_egraph(egraph)
        .with_iter_limit(4)
        .with_node_limit(10_000)
        .with_time_limit(Duration::MAX)
        .run(std::slice::from_ref(rule));
    runner
        .iterations
        .iter()
        .filter_map(|iteration| iteration.applied.get(&rule.name))
        .sum()
}

/// Checks every row of `table`, and fails with all the rows that do not hold.
fn check_table(table: &[(&str, &str, &str)], fires: bool) {
    let rules = all_rules();
    let mut failures = Vec::new();
    for &(name, input, expected) in table {
        let Some(rule) = rules.iter().find(|r| r.name.as_str() == name) else {
            failures.push(format!("{name}: no such rule"));
            continue;
        };
        let applied = applications(rule, input);
        if fires && applied == 0 {
            failures.push(format!("{name}: does not rewrite {input}"));
        }
        if !fires && applied > 0 {
            failures.push(format!("{name}: rewrites {input} ({applied} times)"));
        }
        let actual = simplified(input);
        if actual != expected {
            failures.push(format!(
                "{name}: {input} simplifies to {actual}, not {expected}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_rule_rewrites_its_row() {
    check_table(RULES, true);
}

#[test]
fn guards_hold_back_their_rules() {
    check_table(GUARDED, false);
}

#[test]
fn every_rule_has_one_row() {
    let rules: BTreeSet<String> = all_rules().iter().map(|r| r.name.to_string()).collect();
    let rows: Vec<&str> = RULES.iter().map(|row| row.0).collect();
    let named: BTreeSet<String> = rows.iter().map(|name| name.to_string()).collect();
    assert_eq!(named.len(), rows.len(), "a rule has two rows");
    let missing: Vec<&String> = rules.difference(&named).collect();
    let unknown: Vec<&String> = named.difference(&rules).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "rules without a row: {missing:?}; rows without a rule: {unknown:?}"
    );
}

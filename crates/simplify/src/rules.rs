//! The rewrite rules, in one table.
//!
//! Every rule is an identity of real arithmetic on the domain where both sides are defined. Rules
//! that would extend or shrink a domain carry a guard that the analysis can prove (`x / x → 1`
//! only where `x` is known to be non-zero, `exp(log x) → x` only where `x` is known positive).
//! The floating-point caveat that remains is documented in the crate docs: rules such as
//! `x * 0 → 0` or `x - x → 0` assume `x` is finite.

use crate::lang::{Analysis, ENode, Egraph, constant};
use egg::{Applier, Id, PatternAst, Rewrite, Subst, Symbol, Var, rewrite as rw};
use gradc_graph::Op;

type Rule = Rewrite<ENode, Analysis>;

fn var(name: &str) -> Var {
    name.parse()
        .expect("variable names in the rule table are valid")
}

fn nonzero(name: &str) -> impl Fn(&mut Egraph, Id, &Subst) -> bool + use<> {
    let v = var(name);
    move |egraph, _, subst| egraph[subst[v]].data.nonzero
}

fn positive(name: &str) -> impl Fn(&mut Egraph, Id, &Subst) -> bool + use<> {
    let v = var(name);
    move |egraph, _, subst| egraph[subst[v]].data.positive
}

fn row_free(name: &str) -> impl Fn(&mut Egraph, Id, &Subst) -> bool + use<> {
    let v = var(name);
    move |egraph, _, subst| !egraph[subst[v]].data.per_row
}

fn is_true(name: &str) -> impl Fn(&mut Egraph, Id, &Subst) -> bool + use<> {
    let v = var(name);
    move |egraph, _, subst| constant(egraph, subst[v]).is_some_and(|c| c != 0.0 && !c.is_nan())
}

fn both_constant(a: &str, b: &str) -> impl Fn(&mut Egraph, Id, &Subst) -> bool + use<> {
    let (a, b) = (var(a), var(b));
    move |egraph, _, subst| {
        constant(egraph, subst[a]).is_some() && constant(egraph, subst[b]).is_some()
    }
}

fn is_false(name: &str) -> impl Fn(&mut Egraph, Id, &Subst) -> bool + use<> {
    let v = var(name);
    move |egraph, _, subst| constant(egraph, subst[v]) == Some(0.0)
}

/// The longest sum or product the reassociating rules rewrite.
const SHORT: u32 = 4;

fn short_sum(name: &str) -> impl Fn(&mut Egraph, Id, &Subst) -> bool + use<> {
    let v = var(name);
    move |egraph, class, subst| {
        egraph[class].data.terms <= SHORT && egraph[subst[v]].data.terms <= SHORT
    }
}

fn short_product(name: &str) -> impl Fn(&mut Egraph, Id, &Subst) -> bool + use<> {
    let v = var(name);
    move |egraph, class, subst| {
        egraph[class].data.factors <= SHORT && egraph[subst[v]].data.factors <= SHORT
    }
}

/// The rules that reorder sums and products. They make the e-graph grow fastest, so the driver
/// leaves them out for large graphs (see `lib.rs`).
pub fn algebra() -> Vec<Rule> {
    vec![
        rw!("comm-add"; "(+ ?a ?b)" => "(+ ?b ?a)"),
        rw!("comm-mul"; "(* ?a ?b)" => "(* ?b ?a)"),
        rw!("assoc-add"; "(+ (+ ?a ?b) ?c)" => "(+ ?a (+ ?b ?c))" if short_sum("?c")),
        rw!("assoc-mul"; "(* (* ?a ?b) ?c)" => "(* ?a (* ?b ?c))" if short_product("?c")),
        rw!("sub-to-add"; "(- ?a ?b)" => "(+ ?a (neg ?b))"),
        rw!("distribute"; "(* ?a (+ ?b ?c))" => "(+ (* ?a ?b) (* ?a ?c))" if short_sum("?b")),
        rw!("sub-sub-cancel"; "(- (- ?a ?b) (- ?c ?b))" => "(- ?a ?c)"),
        rw!("factor"; "(+ (* ?a ?b) (* ?a ?c))" => "(* ?a (+ ?b ?c))"),
        rw!("neg-mul"; "(* (neg ?a) ?b)" => "(neg (* ?a ?b))"),
        // rw!("mul-neg"; "(neg (* ?a ?b))" => "(* (neg ?a) ?b)"),
        // rw!("neg-add"; "(neg (+ ?a ?b))" => "(+ (neg ?a) (neg ?b))"),
        rw!("div-mul"; "(* (/ ?a ?b) ?c)" => "(/ (* ?a ?c) ?b)"),
        rw!("mul-div"; "(/ (* ?a ?c) ?b)" => "(* (/ ?a ?b) ?c)"),
        rw!("div-neg"; "(/ (neg ?a) ?b)" => "(neg (/ ?a ?b))"),
    ]
}

/// The rules that only ever shrink or re-express locally; cheap enough for any graph.
pub fn local() -> Vec<Rule> {
    vec![
        // Identities.
        rw!("add-0"; "(+ ?a 0)" => "?a"),
        rw!("0-add"; "(+ 0 ?a)" => "?a"),
        rw!("sub-0"; "(- ?a 0)" => "?a"),
        rw!("0-sub"; "(- 0 ?a)" => "(neg ?a)"),
        rw!("mul-1"; "(* ?a 1)" => "?a"),
        rw!("1-mul"; "(* 1 ?a)" => "?a"),
        rw!("mul-0"; "(* ?a 0)" => "0"),
        rw!("0-mul"; "(* 0 ?a)" => "0"),
        rw!("mul-minus-1"; "(* -1 ?a)" => "(neg ?a)"),
        rw!("minus-1-mul"; "(* ?a -1)" => "(neg ?a)"),
        rw!("div-1"; "(/ ?a 1)" => "?a"),
        rw!("pow-1"; "(^ ?a 1)" => "?a"),
        rw!("pow-0"; "(^ ?a 0)" => "1"),
        rw!("neg-neg"; "(neg (neg ?a))" => "?a"),
        rw!("add-neg"; "(+ ?a (neg ?b))" => "(- ?a ?b)"),
        rw!("neg-add-b"; "(+ (neg ?a) ?b)" => "(- ?b ?a)"),
        rw!("sub-neg"; "(- ?a (neg ?b))" => "(+ ?a ?b)"),
        rw!("neg-sub"; "(neg (- ?a ?b))" => "(- ?b ?a)"),
        rw!("sub-self"; "(- ?a ?a)" => "0"),
        rw!("add-sub-cancel"; "(- (+ ?a ?b) ?b)" => "?a"),
        rw!("sub-add-cancel"; "(+ (- ?a ?b) ?b)" => "?a"),
        rw!("sub-sub"; "(- ?a (- ?a ?b))" => "?b"),
        rw!("div-self"; "(/ ?a ?a)" => "1" if nonzero("?a")),
        rw!("mul-div-cancel"; "(* (/ ?a ?b) ?b)" => "?a" if nonzero("?b")),
        rw!("mul-div-cancel-l"; "(* ?b (/ ?a ?b))" => "?a" if nonzero("?b")),
        rw!("div-mul-cancel"; "(/ (* ?a ?b) ?b)" => "?a" if nonzero("?b")),
        rw!("div-mul-cancel-l"; "(/ (* ?b ?a) ?b)" => "?a" if nonzero("?b")),
        rw!("neg-div"; "(neg (/ ?a ?b))" => "(/ (neg ?a) ?b)"),
        // Constants meet across a product or sum, however it is grouped (folded by the analysis).
        rw!("fold-mul"; "(* ?a (* ?b ?c))" => "(* (* ?a ?b) ?c)" if both_constant("?a", "?b")),
        rw!("fold-mul-r"; "(* ?a (* ?c ?b))" => "(* (* ?a ?b) ?c)" if both_constant("?a", "?b")),
        rw!("fold-add"; "(+ ?a (+ ?b ?c))" => "(+ (+ ?a ?b) ?c)" if both_constant("?a", "?b")),
        rw!("fold-add-r"; "(+ ?a (+ ?c ?b))" => "(+ (+ ?a ?b) ?c)" if both_constant("?a", "?b")),
        // `if` with a known condition or equal branches.
        rw!("if-same"; "(if ?c ?a ?a)" => "?a"),
        rw!("if-true"; "(if ?c ?a ?b)" => "?a" if is_true("?c")),
        rw!("if-false"; "(if ?c ?a ?b)" => "?b" if is_false("?c")),
        // Inverse functions, guarded by their domains.
        rw!("log-exp"; "(log (exp ?a))" => "?a"),
        rw!("exp-log"; "(exp (log ?a))" => "?a" if positive("?a")),
        rw!("sqrt-square"; "(sqrt (* ?a ?a))" => "(abs ?a)"),
        // Numerical stability and the functions that carry it.
        rw!("log-sigmoid"; "(log (sigmoid ?z))" => "(neg (softplus (neg ?z)))"),
        rw!("log-sigmoid-2"; "(log (sigmoid ?z))" => "(- ?z (softplus ?z))"),
        rw!("log-1-sigmoid"; "(log (- 1 (sigmoid ?z)))" => "(neg (softplus ?z))"),
        rw!("log-1-exp"; "(log (+ 1 (exp ?z)))" => "(softplus ?z)"),
        rw!("log-exp-1"; "(log (+ (exp ?z) 1))" => "(softplus ?z)"),
        rw!("log1p-exp"; "(log1p (exp ?z))" => "(softplus ?z)"),
        rw!("log-1-plus"; "(log (+ 1 ?a))" => "(log1p ?a)"),
        rw!("exp-minus-1"; "(- (exp ?a) 1)" => "(expm1 ?a)"),
        rw!("log-sum-exp"; "(log (+ ?a ?b))" => { LogSumExp }),
        rw!("sigmoid-neg"; "(- 1 (sigmoid ?z))" => "(sigmoid (neg ?z))"),
        // Derivative identities, in the direction that shares the forward value.
        rw!("sigmoid-prime"; "(/ (exp (neg ?z)) (^ (+ 1 (exp (neg ?z))) 2))"
            => "(* (sigmoid ?z) (- 1 (sigmoid ?z)))"),
        rw!("tanh-prime"; "(- 1 (* (tanh ?z) (tanh ?z)))" => "(- 1 (^ (tanh ?z) 2))"),
        rw!("softplus-prime"; "(/ (exp ?z) (+ 1 (exp ?z)))" => "(sigmoid ?z)"),
        // Row reductions: row-free factors leave the reduction.
        rw!("mean-scale"; "(mean (* ?c ?e))" => "(* ?c (mean ?e))" if row_free("?c")),
        rw!("mean-scale-r"; "(mean (* ?e ?c))" => "(* (mean ?e) ?c)" if row_free("?c")),
        rw!("mean-div"; "(mean (/ ?e ?c))" => "(/ (mean ?e) ?c)" if row_free("?c")),
        rw!("mean-neg"; "(mean (neg ?e))" => "(neg (mean ?e))"),
        rw!("sum-scale"; "(sum (* ?c ?e))" => "(* ?c (sum ?e))" if row_free("?c")),
        rw!("sum-scale-r"; "(sum (* ?e ?c))" => "(* (sum ?e) ?c)" if row_free("?c")),
        rw!("sum-neg"; "(sum (neg ?e))" => "(neg (sum ?e))"),
    ]
}

/// `log(exp(a) + exp(b) + …)` → `logsumexp(a, b, …)` for a sum of two or more exponentials,
/// however the sum is parenthesized.
struct LogSumExp;

impl LogSumExp {
    /// The exponents of an `exp`-only sum rooted at `class`, or `None`.
    fn terms(egraph: &Egraph, class: Id, out: &mut Vec<Id>, depth: usize) -> bool {
        if depth > 64 {
            return false;
        }
        let nodes = &egraph[class].nodes;
        if let Some(e) = nodes.iter().find(|n| n.op == Op::Exp) {
            out.push(e.args[0]);
            return true;
        }
        if let Some(add) = nodes.iter().find(|n| n.op == Op::Add) {
            return Self::terms(egraph, add.args[0], out, depth + 1)
                && Self::terms(egraph, add.args[1], out, depth + 1);
        }
        false
    }
}

impl Applier<ENode, Analysis> for LogSumExp {
    fn apply_one(
        &self,
        egraph: &mut Egraph,
        matched: Id,
        subst: &Subst,
        _ast: Option<&PatternAst<ENode>>,
        _rule: Symbol,
    ) -> Vec<Id> {
        let mut terms = Vec::new();
        let ok = Self::terms(egraph, subst[var("?a")], &mut terms, 0)
            && Self::terms(egraph, subst[var("?b")], &mut terms, 0);
        if !ok {
            return Vec::new();
        }
        let id = egraph.add(ENode {
            op: Op::LogSumExp,
            args: terms,
        });
        if egraph.union(matched, id) {
            vec![id]
        } else {
            Vec::new()
        }
    }
}

//! Span invariants, checked on every sample: each node's span lies inside the file and inside
//! its parent's, children come in source order, and names lie inside their statement.

use super::{LOGISTIC, NETWORK, ROSENBROCK};
use crate::ast::{Expr, ExprKind, InputSource, ParamInit, StmtKind};
use crate::{Span, parse};

fn check_expr(expr: &Expr, parent: Span, source_len: usize) {
    assert!(
        expr.span.start <= expr.span.end,
        "inverted span {}",
        expr.span
    );
    assert!(
        expr.span.end <= source_len,
        "span {} past the end",
        expr.span
    );
    assert!(
        parent.contains(expr.span),
        "{} is outside its parent {}",
        expr.span,
        parent
    );
    let mut previous_start = expr.span.start;
    for child in expr.children() {
        assert!(
            child.span.start >= previous_start,
            "children out of order in {}",
            expr.span
        );
        previous_start = child.span.start;
        check_expr(child, expr.span, source_len);
    }
    match &expr.kind {
        // Parentheses widen an expression's span, so a name may be narrower than its node.
        ExprKind::Name(name) => assert!(expr.span.contains(name.span)),
        ExprKind::Call { callee, .. } => assert!(expr.span.contains(callee.span)),
        ExprKind::IndexReduce { index, .. } => assert!(expr.span.contains(index.span)),
        _ => {}
    }
}

fn check_spans(source: &str) {
    let parsed = parse(source);
    let len = source.len();
    let mut previous_end = 0;
    for statement in &parsed.file.statements {
        let span = statement.span;
        assert!(span.start >= previous_end, "statements overlap at {span}");
        assert!(span.end <= len);
        previous_end = span.end;
        if let Some(name) = statement.kind.declared_name() {
            assert!(span.contains(name.span));
        }
        let mut exprs: Vec<&Expr> = Vec::new();
        match &statement.kind {
            StmtKind::Data { path } => assert!(span.contains(path.span)),
            StmtKind::Input { shape, source, .. } => {
                exprs.extend(shape);
                if let InputSource::Positions { start, end, .. } = source {
                    exprs.extend([start, end]);
                }
            }
            StmtKind::Param { shape, init, .. } => {
                exprs.extend(shape);
                match init {
                    ParamInit::Zero => {}
                    ParamInit::Value(value) => exprs.push(value),
                    ParamInit::Distribution { args, .. } => exprs.extend(args),
                }
            }
            StmtKind::Const { value, .. }
            | StmtKind::Let { value, .. }
            | StmtKind::Minimize { value }
            | StmtKind::Predict { value, .. } => exprs.push(value),
            StmtKind::Fn { body, .. } => exprs.push(body),
        }
        for expr in exprs {
            check_expr(expr, span, len);
        }
    }
}

#[test]
fn spans_are_in_bounds_and_nested() {
    for source in [LOGISTIC, ROSENBROCK, NETWORK] {
        check_spans(source);
    }
    check_spans("minimize sum(i) a[i] * (b[i] + if x < 0 then -x else x)^2; predict q = W[0][1]\n");
}

#[test]
fn spans_stay_in_bounds_on_broken_input() {
    for source in [LOGISTIC, ROSENBROCK, NETWORK] {
        for end in (0..=source.len()).filter(|&e| source.is_char_boundary(e)) {
            check_spans(&source[..end]);
        }
    }
}

#[test]
fn lexer_spans_cover_the_source_in_order() {
    let (tokens, errors) = crate::lex(NETWORK);
    assert!(errors.is_empty());
    let mut previous_end = 0;
    for token in &tokens {
        assert!(token.span.start >= previous_end);
        assert!(token.span.end <= NETWORK.len());
        previous_end = token.span.end;
    }
}

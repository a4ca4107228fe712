//! The renderer: colour only when asked, and robust to spans outside the source.

use crate::{Diagnostic, Span, codes, render};

fn sample() -> Diagnostic {
    Diagnostic::error(
        codes::EXPECTED_EXPRESSION,
        "expected an expression",
        Span::new(9, 10),
    )
    .with_label("here")
    .with_hint("write something")
}

#[test]
fn colour_only_when_asked() {
    let source = "minimize )\n";
    let plain = render("a.loss", source, &[sample()], false);
    let coloured = render("a.loss", source, &[sample()], true);
    assert!(!plain.contains('\u{1b}'));
    assert!(coloured.contains('\u{1b}'));
    assert!(plain.starts_with("error[E0012]: expected an expression\n  --> a.loss:1:10\n"));
    assert!(plain.contains("= help: write something"));
}

#[test]
fn spans_outside_the_source_are_clamped() {
    let source = "minimize é";
    let mut diagnostic = sample();
    diagnostic.primary.span = Span::new(10, 500);
    let text = render("a.loss", source, &[diagnostic], false);
    assert!(text.contains("a.loss:1:10"));
}

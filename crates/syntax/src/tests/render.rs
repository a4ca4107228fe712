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

/// Parses and renders every error, as the command line shows them.
fn check_render(source: &str) -> String {
    let parsed = crate::parse(source);
    render("a.loss", source, &parsed.errors, false)
}

#[test]
fn an_error_in_a_long_line_shows_a_window_of_it() {
    let mut source = String::from("param w = 1\nminimize w");
    for _ in 0..90_000 {
        source.push_str(" + w");
    }
    source.push_str(" $ + w\n");
    let text = check_render(&source);
    assert!(text.len() < 1000, "{} bytes echoed", text.len());
    insta::assert_snapshot!(text, @r"
    error[E0001]: unexpected character `$`
      --> a.loss:2:360012
      |
    2 | …+ w + w + w + w + w + w + w + w + w + w + w + w + w + w + w $ + w
      |                                                              ^ not part of the language
    ");
}

#[test]
fn a_nul_byte_is_named_and_not_echoed() {
    let text = check_render("param w = 1\nminimize w \0 + 1\n");
    assert!(!text.contains('\0'));
    insta::assert_snapshot!(text, @r"
    error[E0001]: unexpected character U+0000
      --> a.loss:2:12
      |
    2 | minimize w   + 1
      |            ^ not part of the language
    ");
}

#[test]
fn two_byte_control_characters_keep_the_columns_after_them() {
    // Found by the front_end fuzz target: U+0098 is two bytes; blanked as one space, the rest
    // of the line moved by a byte and rendering sliced the file inside a character.
    let text = check_render("\u{98}\u{98}8\u{fffd}");
    assert!(!text.contains('\u{98}'));
    insta::assert_snapshot!(text, @r"
    error[E0001]: unexpected character U+0098
      --> a.loss:1:1
      |
    1 |     8�
      | ^^^^ not part of the language

    error[E0010]: expected a statement, found `8`
      --> a.loss:1:3
      |
    1 |     8�
      |     ^ not the start of a statement
      |
      = help: statements start with `data`, `input`, `param`, `const`, `let`, `fn`, `minimize` or `predict`

    error[E0001]: unexpected character `�`
      --> a.loss:1:4
      |
    1 |     8�
      |      ^ not part of the language
    ");
}

#[test]
fn a_byte_order_mark_is_white_space() {
    let parsed = crate::parse("\u{feff}param w = 1\nminimize w^2\n");
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
}

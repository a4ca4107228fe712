//! Lexical and syntax errors: one snapshot per case, showing the source and the rendered error.

use crate::{parse, render};

/// Parses `source`, requires at least one error, and returns the source followed by the
/// rendered errors. The only place these tests call the API.
fn check_error(source: &str) -> String {
    let parsed = parse(source);
    assert!(!parsed.errors.is_empty(), "expected an error in:\n{source}");
    let rendered = render("test.loss", source, &parsed.errors, false);
    format!("{source}\n---\n{rendered}")
}

#[test]
fn unterminated_string() {
    insta::assert_snapshot!(
        "unterminated_string",
        check_error("data \"cancer.csv\nparam w = 0\n")
    );
}

#[test]
fn unexpected_character() {
    insta::assert_snapshot!(
        "unexpected_character",
        check_error("param w = 0\nminimize w $ 2\n")
    );
}

#[test]
fn unexpected_character_run_is_one_error() {
    insta::assert_snapshot!(
        "unexpected_character_run",
        check_error("param w = 0\nminimize w^2 €€€\n")
    );
}

#[test]
fn bang_without_equals() {
    insta::assert_snapshot!(
        "bang_without_equals",
        check_error("minimize if w ! 0 then 1 else 2\n")
    );
}

#[test]
fn malformed_number_exponent() {
    insta::assert_snapshot!("malformed_number_exponent", check_error("param w = 1e\n"));
}

#[test]
fn malformed_number_two_points() {
    insta::assert_snapshot!(
        "malformed_number_two_points",
        check_error("param w = 1.2.3\n")
    );
}

#[test]
fn unknown_escape() {
    insta::assert_snapshot!("unknown_escape", check_error("data \"data\\new.csv\"\n"));
}

#[test]
fn number_too_large() {
    insta::assert_snapshot!("number_too_large", check_error("const big = 1e999\n"));
}

#[test]
fn assignment_without_let() {
    insta::assert_snapshot!(
        "assignment_without_let",
        check_error("param w = 0\nz = w + 1\n")
    );
}

#[test]
fn extra_tokens_after_statement() {
    insta::assert_snapshot!("extra_tokens", check_error("param w = 1 2\n"));
}

#[test]
fn missing_expression() {
    insta::assert_snapshot!(
        "missing_expression",
        check_error("param w = 0\nlet z =\nminimize w^2\n")
    );
}

#[test]
fn missing_operand_after_operator() {
    insta::assert_snapshot!(
        "missing_operand",
        check_error("param w = 0\nminimize w * \n")
    );
}

#[test]
fn unclosed_parenthesis() {
    insta::assert_snapshot!(
        "unclosed_parenthesis",
        check_error("param x = 0\nminimize (1 - x\npredict x\n")
    );
}

#[test]
fn unclosed_bracket() {
    insta::assert_snapshot!("unclosed_bracket", check_error("param w[4 = 0\n"));
}

#[test]
fn if_without_then() {
    insta::assert_snapshot!(
        "if_without_then",
        check_error("let z = if x > 0 x else 0\n")
    );
}

#[test]
fn if_without_else() {
    insta::assert_snapshot!("if_without_else", check_error("let z = if x > 0 then x\n"));
}

#[test]
fn comparison_outside_if() {
    insta::assert_snapshot!(
        "comparison_outside_if",
        check_error("param x = 0\nminimize x < 3\n")
    );
}

#[test]
fn chained_comparison() {
    insta::assert_snapshot!(
        "chained_comparison",
        check_error("let z = if 0 < x < 1 then x else 0\n")
    );
}

#[test]
fn condition_not_a_comparison() {
    insta::assert_snapshot!(
        "condition_not_comparison",
        check_error("let z = if x then 1 else 0\n")
    );
}

#[test]
fn keyword_as_name() {
    insta::assert_snapshot!("keyword_as_name", check_error("let sum = 3\n"));
}

#[test]
fn missing_name() {
    insta::assert_snapshot!("missing_name", check_error("param = 3\n"));
}

#[test]
fn bad_column_header() {
    insta::assert_snapshot!("bad_column_header", check_error("input x[2] = a, 3\n"));
}

#[test]
fn let_with_number_index() {
    insta::assert_snapshot!("let_with_number_index", check_error("let v[3] = 1\n"));
}

#[test]
fn const_without_equals() {
    insta::assert_snapshot!("const_without_equals", check_error("const c 1\n"));
}

#[test]
fn sum_without_parenthesis() {
    insta::assert_snapshot!(
        "sum_without_parenthesis",
        check_error("param w[3]\nminimize sum w\n")
    );
}

#[test]
fn data_without_string() {
    insta::assert_snapshot!("data_without_string", check_error("data cancer.csv\n"));
}

#[test]
fn nested_too_deeply() {
    let source = format!("minimize {}1{}\n", "(".repeat(300), ")".repeat(300));
    insta::assert_snapshot!("nested_too_deeply", check_error(&source));
}

#[test]
fn recovery_reports_one_error_per_statement() {
    let source = "param w[4 = 0\nparam b = \nlet z = (w + b\nlet p = sigmoid(z))\nminimize p > 1\n";
    insta::assert_snapshot!("recovery", check_error(source));
}

#[test]
fn lexical_error_silences_the_parser_in_its_statement() {
    insta::assert_snapshot!(
        "lexical_error_silences_parser",
        check_error("let z = 3 $ 4\nlet y = 2 +\n")
    );
}

//! The lexer: `.loss` text to tokens with byte spans (LANGUAGE.md §2).
//!
//! Newlines end statements, except inside `( )` and `[ ]`, where they are dropped here so that
//! the parser never sees them. To keep one unclosed bracket from swallowing the rest of the file,
//! a newline followed by a statement keyword always ends the statement.

use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use logos::Logos;
use std::fmt;

/// A token: its kind and where it is. The text is `span.text(source)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// The ways a run of characters fails to be a token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    #[default]
    #[error("unexpected character")]
    UnexpectedCharacter,
    #[error("malformed number")]
    MalformedNumber,
    #[error("unterminated string")]
    UnterminatedString,
}

#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[logos(error = LexError)]
// A byte-order mark (U+FEFF), which some editors write at the start of a UTF-8 file, is white
// space.
#[logos(skip r"[ \t\r\f\u{FEFF}]+")]
// A comment runs to the end of the line, so reading greedily to the newline is intended.
#[logos(skip(r"#[^\n]*", allow_greedy = true))]
pub enum TokenKind {
    #[token("\n")]
    Newline,
    #[token(";")]
    Semicolon,

    #[token("data")]
    Data,
    #[token("input")]
    Input,
    #[token("param")]
    Param,
    #[token("const")]
    Const,
    #[token("let")]
    Let,
    #[token("fn")]
    Fn,
    #[token("minimize")]
    Minimize,
    #[token("predict")]
    Predict,
    #[token("sum")]
    Sum,
    #[token("mean")]
    Mean,
    #[token("if")]
    If,
    #[token("then")]
    Then,
    #[token("else")]
    Else,
    #[token("columns")]
    Columns,

    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Ident,
    // `3.` is not a number, so that `2..12` lexes as `2`, `..`, `12`.
    #[regex(r"([0-9]+(\.[0-9]+)?|\.[0-9]+)([eE][+-]?[0-9]+)?")]
    // An exponent without digits, or a second decimal point: longest match makes these win over
    // the valid prefix, so `1e` is one bad number instead of a number followed by a name.
    #[regex(r"([0-9]+(\.[0-9]+)?|\.[0-9]+)[eE][+-]?", malformed_number)]
    #[regex(r"[0-9]+\.[0-9]+\.[0-9.]*", malformed_number)]
    Number,
    #[regex(r#""([^"\\\n]|\\[^\n])*""#)]
    #[regex(r#""([^"\\\n]|\\[^\n])*\\?"#, unterminated_string)]
    String,

    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("@")]
    At,
    #[token("^")]
    Caret,
    #[token("=")]
    Eq,
    #[token("~")]
    Tilde,
    #[token(",")]
    Comma,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("==")]
    EqEq,
    #[token("!=")]
    Ne,
    #[token("..")]
    DotDot,

    /// The end of the input; the parser's token list always ends with one.
    Eof,
}

impl TokenKind {
    /// Keywords that start a statement: a newline before one of them always ends a statement.
    pub fn starts_statement(self) -> bool {
        use TokenKind::*;
        matches!(
            self,
            Data | Input | Param | Const | Let | Fn | Minimize | Predict
        )
    }

    /// How the token is named in "expected ..., found ..." messages.
    pub fn describe(self) -> &'static str {
        use TokenKind::*;
        match self {
            Newline => "end of line",
            Semicolon => "`;`",
            Data => "`data`",
            Input => "`input`",
            Param => "`param`",
            Const => "`const`",
            Let => "`let`",
            Fn => "`fn`",
            Minimize => "`minimize`",
            Predict => "`predict`",
            Sum => "`sum`",
            Mean => "`mean`",
            If => "`if`",
            Then => "`then`",
            Else => "`else`",
            Columns => "`columns`",
            Ident => "a name",
            Number => "a number",
            String => "a string",
            Plus => "`+`",
            Minus => "`-`",
            Star => "`*`",
            Slash => "`/`",
            At => "`@`",
            Caret => "`^`",
            Eq => "`=`",
            Tilde => "`~`",
            Comma => "`,`",
            LParen => "`(`",
            RParen => "`)`",
            LBracket => "`[`",
            RBracket => "`]`",
            Lt => "`<`",
            Le => "`<=`",
            Gt => "`>`",
            Ge => "`>=`",
            EqEq => "`==`",
            Ne => "`!=`",
            DotDot => "`..`",
            Eof => "end of file",
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

fn malformed_number(_: &mut logos::Lexer<'_, TokenKind>) -> Result<(), LexError> {
    Err(LexError::MalformedNumber)
}

fn unterminated_string(_: &mut logos::Lexer<'_, TokenKind>) -> Result<(), LexError> {
    Err(LexError::UnterminatedString)
}

/// Splits the source into tokens, ending with [`TokenKind::Eof`]. Never fails: characters that
/// form no token are reported and skipped.
pub fn lex(source: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut raw = Vec::new();
    let mut errors: Vec<Diagnostic> = Vec::new();
    for (result, range) in TokenKind::lexer(source).spanned() {
        let span = Span::from(range);
        match result {
            Ok(kind) => {
                if kind == TokenKind::String {
                    check_escapes(span, source, &mut errors);
                }
                raw.push(Token { kind, span });
            }
            Err(error) => {
                // A run of unknown characters is one problem, not one per character.
                if let Some(last) = errors.last_mut()
                    && error == LexError::UnexpectedCharacter
                    && last.code == codes::UNEXPECTED_CHARACTER
                    && last.primary.span.end == span.start
                {
                    last.primary.span = last.primary.span.to(span);
                    continue;
                }
                errors.push(lex_error(error, span, source));
            }
        }
    }
    let tokens = drop_bracketed_newlines(raw, source.len());
    (tokens, errors)
}

/// The contents of a string token without its quotes, with `\"` and `\\` resolved. Unknown
/// escapes (already reported by [`lex`]) keep their character.
pub fn unescape(token_text: &str) -> String {
    let inner = token_text.strip_prefix('"').unwrap_or(token_text);
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn lex_error(error: LexError, span: Span, source: &str) -> Diagnostic {
    let text = span.text(source);
    match error {
        LexError::UnexpectedCharacter => {
            let hint = match text {
                "!" => Some("`!` only appears in `!=`".to_string()),
                "." if source[..span.start].ends_with(|c: char| c.is_ascii_digit()) => {
                    Some("write a digit after the decimal point, like `3.0`".to_string())
                }
                "'" => Some("strings use double quotes: \"...\"".to_string()),
                "{" | "}" => Some("group with parentheses `( )`".to_string()),
                "&" | "|" => Some("combine conditions with nested `if`s".to_string()),
                _ => None,
            };
            let diagnostic = Diagnostic::error(
                codes::UNEXPECTED_CHARACTER,
                format!("unexpected character {}", shown_char(text)),
                span,
            )
            .with_label("not part of the language");
            match hint {
                Some(hint) => diagnostic.with_hint(hint),
                None => diagnostic,
            }
        }
        LexError::MalformedNumber => Diagnostic::error(
            codes::MALFORMED_NUMBER,
            format!("malformed number `{text}`"),
            span,
        )
        .with_label("not a number")
        .with_hint("numbers look like `3`, `3.25`, `.5`, `1e-3` or `2.5E+4`"),
        LexError::UnterminatedString => {
            Diagnostic::error(codes::UNTERMINATED_STRING, "unterminated string", span)
                .with_label("this string has no closing `\"`")
                .with_hint("close the string on the same line; write `\\\"` for a quote inside it")
        }
    }
}

/// The first character for a message: `` `$` ``, or its code point when it is a control
/// character that would garble the terminal (`U+0000`).
fn shown_char(text: &str) -> String {
    match text.chars().next() {
        Some(c) if c.is_control() => format!("U+{:04X}", c as u32),
        Some(c) => format!("`{c}`"),
        None => String::new(),
    }
}

fn check_escapes(span: Span, source: &str, errors: &mut Vec<Diagnostic>) {
    let text = span.text(source);
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            continue;
        }
        if let Some((_, next)) = chars.next()
            && next != '"'
            && next != '\\'
        {
            let start = span.start + at;
            let escape = Span::new(start, start + 1 + next.len_utf8());
            errors.push(
                Diagnostic::error(
                    codes::UNKNOWN_ESCAPE,
                    format!("unknown escape `\\{next}` in string"),
                    escape,
                )
                .with_label("unknown escape")
                .with_hint("only `\\\"` and `\\\\` are escapes; write `\\\\` for a backslash"),
            );
        }
    }
}

/// Drops newlines inside brackets and appends the end-of-file token.
fn drop_bracketed_newlines(raw: Vec<Token>, source_len: usize) -> Vec<Token> {
    let mut tokens = Vec::with_capacity(raw.len() + 1);
    let mut depth = 0usize;
    for (position, token) in raw.iter().enumerate() {
        match token.kind {
            TokenKind::LParen | TokenKind::LBracket => depth += 1,
            TokenKind::RParen | TokenKind::RBracket => depth = depth.saturating_sub(1),
            TokenKind::Newline if depth > 0 => {
                let next_real = raw[position + 1..]
                    .iter()
                    .find(|t| t.kind != TokenKind::Newline);
                match next_real {
                    Some(next) if next.kind.starts_statement() => depth = 0,
                    _ => continue,
                }
            }
            _ => {}
        }
        tokens.push(*token);
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        span: Span::new(source_len, source_len),
    });
    tokens
}

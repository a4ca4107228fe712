//! gradc-syntax: the front of the pipeline. `.loss` text → tokens ([`lex`]) → syntax tree
//! ([`parse`]), with diagnostics as plain data and one renderer ([`render`]).
#![forbid(unsafe_code)]

pub mod ast;
pub mod codes;
pub mod diagnostic;
pub mod dump;
mod expr;
pub mod lexer;
mod parser;
mod render;
pub mod span;

pub use diagnostic::{Diagnostic, Label, Severity};
pub use lexer::{Token, TokenKind, lex};
pub use parser::{Parsed, parse};
pub use render::render;
pub use span::Span;

#[cfg(test)]
mod tests;

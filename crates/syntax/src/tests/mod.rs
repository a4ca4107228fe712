//! Tests of the lexer and parser: AST dumps, span invariants and rendered errors.

mod errors;
mod parse;
mod render;
mod spans;

/// The three examples of LANGUAGE.md §1, which every stage is tested on.
pub(crate) const LOGISTIC: &str = include_str!("contract/logistic.loss");

pub(crate) const ROSENBROCK: &str = include_str!("contract/rosenbrock.loss");

pub(crate) const NETWORK: &str = include_str!("contract/network.loss");

//! Tests of lowering: program dumps, shapes and rows, rendered errors, robustness.

mod errors;
mod lowering;
mod robustness;
mod shapes;

/// The three examples of LANGUAGE.md §1, the same files gradc-syntax is tested on.
pub(crate) const LOGISTIC: &str = include_str!("../../../syntax/src/tests/contract/logistic.loss");

pub(crate) const ROSENBROCK: &str =
    include_str!("../../../syntax/src/tests/contract/rosenbrock.loss");

pub(crate) const NETWORK: &str = include_str!("../../../syntax/src/tests/contract/network.loss");

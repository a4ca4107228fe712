//! Whole-pipeline fuzzing: a structure-aware generator of valid models with small data
//! ([`Model`], built from `arbitrary` bytes) and the checker that runs a model through every
//! stage and checks the invariants on the way ([`check`]).
//!
//! The fuzz target `fuzz/fuzz_targets/pipeline.rs` is a few lines around these two; the unit
//! tests run the checker on models from seeded bytes, so CI exercises it without cargo-fuzz.
//! Compiled with the `fuzzing` feature (which brings in `arbitrary`) and in this crate's tests.

mod check;
mod generate;
#[cfg(test)]
mod tests;

pub use check::{Checked, Failure, check};
pub use generate::Model;

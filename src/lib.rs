//! gradc: a compiler for loss functions. This façade runs the pipeline
//! (`parse` → `lower` → `grad` → `simplify` → print) for the command-line tool and the tests.
#![forbid(unsafe_code)]

pub mod check;
pub mod derive;
pub mod diverge;
pub mod objective;
pub mod output;
pub mod params;
pub mod plot;
pub mod prepare;
pub mod run;

pub use derive::{DeriveConfig, Derived, OpCounts, derive};
pub use output::{Format, render};

use gradc_graph::Program;
use std::path::Path;

/// A model that did not compile: its diagnostics rendered like rustc's.
#[derive(Debug, Clone)]
pub struct ModelError {
    pub rendered: String,
    pub count: usize,
}

/// Parses and lowers a `.loss` source; all errors are returned at once, rendered against
/// `file_name`.
pub fn compile_source(file_name: &str, source: &str, color: bool) -> Result<Program, ModelError> {
    gradc_lower::compile(source).map_err(|diagnostics| ModelError {
        rendered: gradc_syntax::render(file_name, source, &diagnostics, color),
        count: diagnostics.len(),
    })
}

/// The name a model file is reported under: the path as the user gave it.
pub fn display_name(path: &Path) -> String {
    path.display().to_string()
}

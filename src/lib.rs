//! gradc: a compiler for loss functions. This façade runs the pipeline
//! (`parse` → `lower` → `grad` → `simplify` → print) for the command-line tool and the tests.
#![forbid(unsafe_code)]

pub mod check;
pub mod derive;
pub mod diverge;
#[cfg(any(feature = "fuzzing", test))]
pub mod fuzzing;
pub mod least_squares;
pub mod limits;
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

/// A model ready to run: data-only reductions computed, derivatives simplified, native code
/// compiled — with the time each stage took (`-v`).
pub struct Built {
    /// The program with data-only reductions replaced by their values.
    pub program: Program,
    /// Each data-only reduction's text (`mean(x)`) and its value on the data: what a fit's JSON
    /// keeps so that `gradc eval` predicts with the values the parameters were fitted with.
    pub data_reductions: Vec<(String, f64)>,
    pub derived: Derived,
    pub objective: objective::Native,
    pub codegen: std::time::Duration,
}

/// Why a model could not be made ready to run.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Data(#[from] gradc_graph::interp::EvalError),
    #[error(transparent)]
    Native(#[from] objective::NativeError),
}

/// Prepares `program` for `data`: bakes data-only reductions, derives and simplifies the
/// gradient (and the Hessian when asked), and compiles native code on `threads` threads.
pub fn build(
    program: &Program,
    data: &gradc_graph::interp::Data,
    hessian: bool,
    threads: usize,
) -> Result<Built, BuildError> {
    let reductions = prepare::data_reductions(program);
    let values = prepare::reduction_values(program, &reductions, data)?;
    let program = prepare::bake(program, &reductions, &values);
    let data_reductions = reductions.into_iter().map(|r| r.text).zip(values).collect();
    let config = DeriveConfig {
        hessian,
        for_run: true,
        ..DeriveConfig::default()
    };
    let derived = derive(&program, &config);
    let started = std::time::Instant::now();
    let objective = objective::Native::compile(&derived, program.input_count(), data, threads)?;
    Ok(Built {
        program,
        data_reductions,
        derived,
        objective,
        codegen: started.elapsed(),
    })
}

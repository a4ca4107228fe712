//! Helpers shared by the integration tests: compile an example, load its data.

#![allow(dead_code)]

use gradc::{DeriveConfig, Derived};
use gradc_graph::Program;
use gradc_graph::interp::Data;
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles an example by path relative to the repository root; panics with the rendered
/// diagnostics if it does not compile.
pub fn compile(relative: &str) -> Program {
    let path = root().join(relative);
    let source = std::fs::read_to_string(&path).expect("example exists");
    match gradc::compile_source(relative, &source, false) {
        Ok(program) => program,
        Err(error) => panic!("{relative} does not compile:\n{}", error.rendered),
    }
}

pub fn derive(program: &Program) -> Derived {
    gradc::derive(program, &DeriveConfig::default())
}

/// The initial parameter values where they are constants (random ones are drawn from a fixed
/// generator here; these tests do not depend on their values).
pub fn initial_params(program: &Program) -> Vec<f64> {
    let mut rng = gradc_graph::random::SplitMix::new(7);
    let mut values = Vec::new();
    for p in &program.params {
        for _ in 0..p.len() {
            values.push(match p.init {
                gradc_graph::Init::Value(v) => v,
                _ => rng.uniform(-0.5, 0.5),
            });
        }
    }
    values
}

/// Loads an example's data with the real loader (`gradc-data`), as `gradc run` does.
pub fn load_data(model_path: &str, program: &Program) -> Data {
    let Some(relative) = &program.data_path else {
        return Data::empty();
    };
    let model_dir = Path::new(model_path).parent().unwrap_or(Path::new(""));
    let file = root().join(model_dir).join(relative);
    gradc_data::load(&file, &program.inputs).unwrap_or_else(|e| panic!("{e}"))
}

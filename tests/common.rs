//! Helpers shared by the integration tests: compile an example, load its CSV for the
//! interpreter.

#![allow(dead_code)]

use gradc::{DeriveConfig, Derived};
use gradc_graph::interp::Data;
use gradc_graph::{ColumnSource, Program};
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

/// Reads the columns a program uses from a simple CSV (no quoting inside cells): a minimal
/// loader for tests; the real one comes with the data issue.
pub fn load_data(program: &Program, model_path: &str) -> Data {
    let Some(relative) = &program.data_path else {
        return Data::empty();
    };
    let model_dir = Path::new(model_path).parent().unwrap_or(Path::new(""));
    let text = std::fs::read_to_string(root().join(model_dir).join(relative)).expect("data file");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(|h| h.trim_matches('"').to_string())
        .collect();
    let rows: Vec<Vec<f64>> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|c| c.parse().expect("number")).collect())
        .collect();
    let mut columns = Vec::new();
    for input in &program.inputs {
        let indices: Vec<usize> = match &input.columns {
            ColumnSource::Headers(names) => names
                .iter()
                .map(|n| header.iter().position(|h| h == n).expect("column"))
                .collect(),
            ColumnSource::Positions { start, end } => (*start..*end).collect(),
        };
        for c in indices {
            columns.push(rows.iter().map(|r| r[c]).collect());
        }
    }
    Data {
        n_rows: rows.len(),
        columns,
    }
}

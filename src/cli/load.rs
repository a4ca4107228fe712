//! Reading what a command needs: the model (its diagnostics rendered on stderr), the data file
//! it names or `--data` gives, and the columns a model reads.

use crate::cli::files::Input;
use crate::{EXIT_FAILED, EXIT_MODEL_ERROR};
use anyhow::Context;
use gradc_graph::interp::Data;
use gradc_graph::{InputInfo, Program};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Whether diagnostics on stderr get colours.
pub fn color_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Prints an error about a place in the model, rendered as the compiler renders its own.
pub fn report_at(model: &Path, source: &str, diagnostic: gradc_syntax::Diagnostic) {
    let name = gradc::display_name(model);
    err!(
        "{}",
        gradc_syntax::render(&name, source, &[diagnostic], color_on_stderr())
    );
}

/// A compiled model and its source text.
pub struct Model {
    pub path: PathBuf,
    pub program: Program,
    pub source: String,
}

/// Reads and compiles a model; `Err(code)` after the diagnostics have been printed.
pub fn model(path: &Path) -> anyhow::Result<Result<Model, u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let source = String::from_utf8(bytes)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let name = gradc::display_name(path);
    Ok(
        match gradc::compile_source(&name, &source, color_on_stderr()) {
            Ok(program) => Ok(Model {
                path: path.to_path_buf(),
                program,
                source,
            }),
            Err(error) => {
                err!("{}", error.rendered);
                Err(EXIT_MODEL_ERROR)
            }
        },
    )
}

impl Model {
    /// The data file a command reads: `--data`, else the model's `data` statement (relative to
    /// the model file).
    pub fn data_file(&self, data: Option<&Path>) -> Option<PathBuf> {
        match (data, &self.program.data_path) {
            (Some(path), _) => Some(path.to_path_buf()),
            (None, Some(relative)) => {
                Some(self.path.parent().unwrap_or(Path::new("")).join(relative))
            }
            (None, None) => None,
        }
    }

    /// The model file as an input that no output may replace.
    pub fn as_input(&self) -> Input<'_> {
        Input {
            what: "the model file",
            path: &self.path,
        }
    }

    /// Loads every column the model reads.
    pub fn load_data(&self, data: Option<&Path>) -> Result<Data, u8> {
        self.load_inputs(&self.program.inputs, data)
    }

    /// Loads the columns of `inputs` (all of the model's, or the ones `eval` needs); no file is
    /// needed when there are none. Problems are printed; `Err` carries the exit code.
    pub fn load_inputs(&self, inputs: &[InputInfo], data: Option<&Path>) -> Result<Data, u8> {
        let Some(path) = self.data_file(data) else {
            if inputs.is_empty() {
                return Ok(Data::empty());
            }
            self.report_no_data_file();
            return Err(EXIT_MODEL_ERROR);
        };
        gradc_data::load(&path, inputs).map_err(|error| {
            errln!("error: bad data\n{error}");
            self.point_at_inputs(&error);
            EXIT_FAILED
        })
    }

    fn report_no_data_file(&self) {
        // The first `input` statement is where the model asks for data.
        let parsed = gradc_syntax::parse(&self.source);
        let input = parsed
            .file
            .statements
            .iter()
            .find(|s| matches!(s.kind, gradc_syntax::ast::StmtKind::Input { .. }));
        match input {
            Some(statement) => report_at(
                &self.path,
                &self.source,
                gradc_syntax::Diagnostic::error(
                    gradc_syntax::codes::NO_DATA_FILE,
                    "the model reads inputs but names no data file",
                    statement.span,
                )
                .with_label("an input needs a data file")
                .with_hint("add `data \"file.csv\"` to the model, or pass --data F.csv"),
            ),
            None => errln!(
                "error: {} reads inputs but names no data file: add `data \"file.csv\"` or pass \
                 --data",
                self.path.display()
            ),
        }
    }

    /// For a problem that is about how an input names its columns (a missing header, a
    /// position past the file's width, a header that appears twice), points at the `input`
    /// statement in the model too.
    fn point_at_inputs(&self, error: &gradc_data::DataError) {
        for problem in &error.problems {
            let Some(input) = problem.input() else {
                continue;
            };
            let Some(span) = self.input_span(input) else {
                continue;
            };
            report_at(
                &self.path,
                &self.source,
                gradc_syntax::Diagnostic::error(
                    gradc_syntax::codes::DATA_COLUMNS,
                    format!(
                        "input `{input}` does not match the columns of {}",
                        error.file
                    ),
                    gradc_syntax::Span::new(span.start, span.end),
                )
                .with_label(problem.to_string()),
            );
        }
    }

    /// Where an input is declared (its name in the `input` statement).
    fn input_span(&self, name: &str) -> Option<gradc_graph::Span> {
        let program = &self.program;
        let info = program.inputs.iter().find(|i| i.name == name)?;
        let graph = &program.graph;
        let node = graph
            .ids()
            .find(|&id| graph.op(id) == gradc_graph::Op::Input(info.offset as u32))?;
        program.spans.get(&node).cloned()
    }
}

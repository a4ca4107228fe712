//! gradc-lower: the syntax tree to the expression graph. Resolves names, checks shapes and the
//! row rule (LANGUAGE.md §4), evaluates constants, and builds the tensor graph (a vector or
//! matrix is one node; free indices are axes); [`compile`] also unrolls it into the scalar
//! graph.
#![forbid(unsafe_code)]

mod call;
mod constant;
mod declare;
pub mod dump;
mod expr;
mod free_index;
mod lowerer;
mod scope;
mod tensors;
mod value;

use gradc_graph::Program;
use gradc_graph::tensor::TensorProgram;
use gradc_syntax::ast::File;
use gradc_syntax::{Diagnostic, Span, codes, parse};

pub use dump::{dump_program, dump_tensor_program};

/// Lowers a parsed file. Statements with syntax errors are skipped quietly (their names are
/// declared, so their uses report nothing more). Returns the program and the semantic errors;
/// the program is only meaningful when there are none.
pub fn lower(file: &File, source: &str) -> (TensorProgram, Vec<Diagnostic>) {
    lowerer::Lowerer::new(source).run(file)
}

/// The most scalar nodes [`compile`] unrolls a model into. Every stage of the scalar pipeline
/// costs about 2.5 KB and 0.1 ms per node (a 300,000-element `sum(w^2)`, 900k nodes, took 2.2
/// GB and 27 s in `gradc grad`), so this bounds it at a few gigabytes before the work starts.
pub const MAX_UNROLLED_NODES: usize = 1 << 20;

/// Parses, lowers and unrolls `source` into the scalar program, returning every error found
/// (syntax and semantic, in source order) or the program.
pub fn compile(source: &str) -> Result<Program, Vec<Diagnostic>> {
    let program = compile_tensor(source)?;
    let nodes = program.unrolled_size();
    if nodes > MAX_UNROLLED_NODES {
        let span = program
            .spans
            .get(&program.objective)
            .map_or(Span::new(0, 0), |s| Span::new(s.start, s.end));
        return Err(vec![
            Diagnostic::error(
                codes::MODEL_TOO_LARGE,
                "the model is too large to compile as scalars",
                span,
            )
            .with_label(format!(
                "this unrolls into about {nodes} scalar operations, more than {MAX_UNROLLED_NODES}"
            ))
            .with_hint("use smaller vectors and matrices"),
        ]);
    }
    Ok(program.unroll())
}

/// Parses and lowers `source` into the tensor program, returning every error found (syntax and
/// semantic, in source order) or the program.
pub fn compile_tensor(source: &str) -> Result<TensorProgram, Vec<Diagnostic>> {
    // Parsing and lowering recurse once per level of the expression tree, and a chain of
    // `MAX_CHAIN` operators is a tree that deep: they run on a thread whose stack holds it,
    // whatever the caller's stack. Only the pages used are ever committed.
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("gradc-front-end".into())
            .stack_size(FRONT_END_STACK)
            .spawn_scoped(scope, || compile_on_this_thread(source));
        match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => compile_on_this_thread(source),
        }
    })
}

/// The stack of the front end's thread: about 2.5 KB for each of 100,000 levels of a chain
/// in the slowest (debug) build, with room to spare.
const FRONT_END_STACK: usize = 1 << 30;

fn compile_on_this_thread(source: &str) -> Result<TensorProgram, Vec<Diagnostic>> {
    let parsed = parse(source);
    let (program, semantic) = lower(&parsed.file, source);
    let mut errors = parsed.errors;
    errors.extend(semantic);
    if errors.is_empty() {
        return Ok(program);
    }
    errors.sort_by_key(|d| d.primary.span.start);
    Err(errors)
}

/// The whole front end on arbitrary bytes, for the fuzz target: must never panic.
pub fn fuzz_compile(bytes: &[u8]) {
    let source = String::from_utf8_lossy(bytes);
    let result = compile(&source);
    if let Err(errors) = result {
        // Rendering is part of the front end a user sees, so it is fuzzed too.
        let _ = gradc_syntax::render("fuzz.loss", &source, &errors, false);
    }
}

#[cfg(test)]
mod tests;

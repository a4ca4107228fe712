//! Golden files of the generated Cranelift IR, in the manner of Cranelift's own filetests: each
//! `filetests/NAME.clif` holds what to compile in a header of `;` comments and, below it, the IR
//! of every function the code generator emits for it.
//!
//! Header directives (other `;` lines are free comments):
//! - `; compile: kernel|rows|fused METHOD` and `key=value` options: `params=N`, `inputs=N`,
//!   `segment_nodes=N`. `kernel` is `Kernel::compile_with`, `rows` is `Kernel::compile_rows`,
//!   `fused` is `FusedSteps::compile_with` with the first root as the value and the others as
//!   the gradient.
//! - `; root: EXPRESSION`, once per root, as `gradc_graph::sexpr` writes it. All roots are read
//!   into one graph, so that they share their common subexpressions as a compiled objective does.
//!
//! On a mismatch the test fails with a diff. `GRADC_BLESS=1 cargo test -p gradc-compile --test
//! filetests` rewrites the files with the IR generated now (review the diff before committing).

use gradc_compile::{FusedSteps, Kernel, KernelOptions};
use gradc_graph::Graph;
use gradc_minimize::Method;
use std::path::{Path, PathBuf};

/// What a file's header asks to compile.
#[derive(Debug, Default)]
struct Case {
    /// `kernel`, `rows` or `fused`.
    kind: String,
    /// The method of a `fused` case.
    method: Option<String>,
    params: usize,
    inputs: usize,
    segment_nodes: Option<usize>,
    roots: Vec<String>,
}

/// The header of a file (its leading `;` lines) and the rest, the expected IR.
fn split(text: &str) -> (&str, &str) {
    let mut end = 0;
    for line in text.split_inclusive('\n') {
        if !line.starts_with(';') {
            break;
        }
        end += line.len();
    }
    let (header, rest) = text.split_at(end);
    (header, rest.strip_prefix('\n').unwrap_or(rest))
}

fn parse_header(header: &str) -> Result<Case, String> {
    let mut case = Case::default();
    for line in header.lines() {
        let line = line.trim_start_matches(';').trim();
        if let Some(root) = line.strip_prefix("root:") {
            case.roots.push(root.trim().to_string());
        } else if let Some(compile) = line.strip_prefix("compile:") {
            let mut words = compile.split_whitespace();
            case.kind = words.next().ok_or("`compile:` names no kind")?.to_string();
            if case.kind == "fused" {
                case.method = Some(words.next().ok_or("`fused` names no method")?.to_string());
            }
            for option in words {
                let (key, value) = option
                    .split_once('=')
                    .ok_or_else(|| format!("option `{option}` is not key=value"))?;
                let number = value
                    .parse::<usize>()
                    .map_err(|_| format!("option `{option}` is not a whole number"))?;
                match key {
                    "params" => case.params = number,
                    "inputs" => case.inputs = number,
                    "segment_nodes" => case.segment_nodes = Some(number),
                    _ => return Err(format!("unknown option `{key}`")),
                }
            }
        }
    }
    if case.kind.is_empty() {
        return Err("no `; compile:` line".into());
    }
    if case.roots.is_empty() {
        return Err("no `; root:` line".into());
    }
    Ok(case)
}

/// A method of each kind that a fused loop runs; the hyper-parameters are arguments of the
/// generated code, so their values here do not show in the IR.
fn method(name: &str) -> Result<Method, String> {
    Ok(match name {
        "gd" => Method::Gd,
        "momentum" => Method::Momentum { beta: 0.9 },
        "adagrad" => Method::Adagrad { eps: 1e-8 },
        "rmsprop" => Method::Rmsprop {
            decay: 0.9,
            eps: 1e-8,
        },
        "adam" => Method::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
        _ => return Err(format!("no fused loop for `{name}`")),
    })
}

/// Compiles a case and returns the IR text of every function generated for it. The only place
/// these tests call the code generator.
fn generated_ir(case: &Case) -> Result<Vec<String>, String> {
    let (graph, roots) = Graph::from_sexprs(&case.roots.join("\n")).map_err(|e| e.to_string())?;
    let options = KernelOptions {
        segment_nodes: case
            .segment_nodes
            .unwrap_or(KernelOptions::default().segment_nodes),
        keep_ir: true,
        ..KernelOptions::default()
    };
    let error = |e: gradc_compile::CompileError| e.to_string();
    Ok(match case.kind.as_str() {
        "kernel" => Kernel::compile_with(&graph, &roots, case.params, case.inputs, options)
            .map_err(error)?
            .ir()
            .to_vec(),
        "rows" => Kernel::compile_rows(&graph, &roots, case.params, case.inputs, options)
            .map_err(error)?
            .ir()
            .to_vec(),
        "fused" => {
            let method = method(case.method.as_deref().unwrap_or_default())?;
            FusedSteps::compile_with(&graph, roots[0], &roots[1..], method, options)
                .map_err(error)?
                .ir()
                .to_vec()
        }
        other => return Err(format!("unknown kind `{other}`")),
    })
}

fn golden_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/filetests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "clif"))
        .collect();
    files.sort();
    files
}

#[test]
fn generated_ir_matches_the_golden_files() {
    let bless = std::env::var_os("GRADC_BLESS").is_some_and(|v| v == "1");
    let files = golden_files();
    assert!(files.len() >= 5, "the golden files are missing: {files:?}");
    let mut failures = Vec::new();
    for path in files {
        let relative = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&path);
        let name = relative.display();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (header, expected) = split(&text);
        let ir = match parse_header(header).and_then(|case| generated_ir(&case)) {
            Ok(ir) => ir,
            Err(message) => {
                failures.push(format!("{name}: {message}"));
                continue;
            }
        };
        let actual = ir.join("\n");
        if actual == expected {
            continue;
        }
        if bless {
            std::fs::write(&path, format!("{header}\n{actual}"))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            continue;
        }
        let diff = similar::TextDiff::from_lines(expected, &actual);
        failures.push(format!(
            "{name}: the generated IR differs (- expected, + generated):\n{}",
            diff.unified_diff().context_radius(3)
        ));
    }
    assert!(
        failures.is_empty(),
        "{}\n\nIf the new IR is right: GRADC_BLESS=1 cargo test -p gradc-compile --test filetests",
        failures.join("\n\n")
    );
}

#[test]
fn the_ir_is_kept_only_when_asked_for() {
    let (graph, roots) = Graph::from_sexprs("(exp param#0)").expect("valid");
    let kernel = Kernel::compile(&graph, &roots, 1, 0).expect("compiles");
    assert!(kernel.ir().is_empty());
}

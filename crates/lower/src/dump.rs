//! A deterministic text dump of a lowered [`Program`], pinned by the snapshot tests: the data
//! file, params, inputs, every graph node in id (topological) order with the user's names, the
//! objective and the predictions.

use gradc_graph::tensor::{TOp, TensorProgram};
use gradc_graph::{ColumnSource, Init, InputInfo, Op, ParamInfo, Program};
use std::fmt::Write;

pub fn dump_program(program: &Program) -> String {
    let mut out = String::new();
    declarations(
        &mut out,
        &program.data_path,
        &program.params,
        &program.inputs,
    );
    let graph = &program.graph;
    for id in graph.ids() {
        let op = graph.op(id);
        let text = match op {
            Op::Param(k) => program.param_element_name(k as usize),
            Op::Input(k) => program.input_element_name(k as usize),
            _ => {
                let args: Vec<String> =
                    graph.args(id).iter().map(|a| format!("%{}", a.0)).collect();
                format!("{op} {}", args.join(" "))
            }
        };
        let mut line = format!("%{} = {}", id.0, text.trim_end());
        if graph.flags(id).per_row {
            line.push_str("  [row]");
        }
        if let Some(name) = program.names.get(&id) {
            let _ = write!(line, "  ({name})");
        }
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "minimize %{}", program.objective.0);
    for predict in &program.predicts {
        let nodes: Vec<String> = predict.nodes.iter().map(|n| format!("%{}", n.0)).collect();
        let _ = writeln!(
            out,
            "predict {} {:?} = {}",
            predict.name,
            predict.shape,
            nodes.join(" ")
        );
    }
    out
}

/// The data file, params and inputs, one line each.
fn declarations(
    out: &mut String,
    data_path: &Option<String>,
    params: &[ParamInfo],
    inputs: &[InputInfo],
) {
    if let Some(path) = data_path {
        let _ = writeln!(out, "data {path:?}");
    }
    for param in params {
        let init = match param.init {
            Init::Value(v) => format!("= {v}"),
            Init::Normal { mean, std_dev } => format!("~ normal({mean}, {std_dev})"),
            Init::Uniform { low, high } => format!("~ uniform({low}, {high})"),
        };
        let _ = writeln!(
            out,
            "param {} {:?} at {} {init}",
            param.name, param.shape, param.offset
        );
    }
    for input in inputs {
        let columns = match &input.columns {
            ColumnSource::Headers(headers) => format!("headers {headers:?}"),
            ColumnSource::Positions { start, end } => format!("columns {start}..{end}"),
        };
        let _ = writeln!(
            out,
            "input {} {:?} at {} {columns}",
            input.name, input.shape, input.offset
        );
    }
}

/// A deterministic text dump of a lowered [`TensorProgram`]: declarations, then every tensor
/// node in id (topological) order with its shape, `[row]` for per-row nodes and the user's
/// names, then the objective and the predictions.
pub fn dump_tensor_program(program: &TensorProgram) -> String {
    let mut out = String::new();
    declarations(
        &mut out,
        &program.data_path,
        &program.params,
        &program.inputs,
    );
    let graph = &program.graph;
    let param_name = |offset: u32| {
        program
            .params
            .iter()
            .find(|p| p.offset == offset as usize)
            .map_or_else(|| format!("param#{offset}"), |p| p.name.clone())
    };
    let input_name = |offset: u32| {
        program
            .inputs
            .iter()
            .find(|i| i.offset == offset as usize)
            .map_or_else(|| format!("input#{offset}"), |i| i.name.clone())
    };
    for id in graph.ids() {
        let text = match graph.op(id) {
            TOp::Const(bits) => format!("{}", f64::from_bits(bits)),
            TOp::Iota(n) => format!("iota {n}"),
            TOp::Param(offset) => param_name(offset),
            TOp::Input(offset) => input_name(offset),
            op => {
                let name = match op {
                    TOp::Map(scalar) => scalar.name().to_string(),
                    TOp::Contract(c) => format!("contract {c:?}"),
                    TOp::Fold { op, axes } => format!("fold {op:?} {axes}"),
                    TOp::Selected { op, axes } => format!("selected {op:?} {axes}"),
                    TOp::Index { axis, position } => format!("index {axis} {position}"),
                    TOp::Stack => "stack".to_string(),
                    TOp::Broadcast { extent } => format!("broadcast {extent}"),
                    TOp::Scatter {
                        axis,
                        position,
                        extent,
                    } => format!("scatter {axis} {position} {extent}"),
                    TOp::RowSum => "rowsum".to_string(),
                    TOp::RowMean => "rowmean".to_string(),
                    _ => format!("{op:?}"),
                };
                let args: Vec<String> =
                    graph.args(id).iter().map(|a| format!("%{}", a.0)).collect();
                format!("{name} {}", args.join(" "))
            }
        };
        let mut line = format!("%{} = {}", id.0, text.trim_end());
        let shape = graph.shape(id);
        if !shape.is_empty() {
            let _ = write!(line, "  {shape:?}");
        }
        if graph.info(id).per_row {
            line.push_str("  [row]");
        }
        if let Some(name) = program.names.get(&id) {
            let _ = write!(line, "  ({name})");
        }
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "minimize %{}", program.objective.0);
    for predict in &program.predicts {
        let _ = writeln!(out, "predict {} = %{}", predict.name, predict.node.0);
    }
    out
}

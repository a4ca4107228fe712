//! A deterministic text dump of a lowered [`Program`], pinned by the snapshot tests: the data
//! file, params, inputs, every graph node in id (topological) order with the user's names, the
//! objective and the predictions.

use gradc_graph::{ColumnSource, Init, Op, Program};
use std::fmt::Write;

pub fn dump_program(program: &Program) -> String {
    let mut out = String::new();
    if let Some(path) = &program.data_path {
        let _ = writeln!(out, "data {path:?}");
    }
    for param in &program.params {
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
    for input in &program.inputs {
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

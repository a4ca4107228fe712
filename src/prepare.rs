//! Preparing a model for its data: reductions over rows that depend on no parameter (`mean(x)`
//! to standardize a column) are computed once, when the data is loaded (LANGUAGE.md §4), and
//! replaced by their values.

use gradc_graph::interp::{Data, EvalError, evaluate};
use gradc_graph::print::{Listing, Naming, Notation};
use gradc_graph::{Graph, NodeId, Program};
use rustc_hash::FxHashMap;

/// A reduction over rows that depends on no parameter, named by its text in the model's terms
/// (`mean(x)`): the key under which a fit's JSON keeps its value for `gradc eval`.
#[derive(Clone, Debug, PartialEq)]
pub struct DataReduction {
    pub node: NodeId,
    pub text: String,
}

/// The data-only row reductions of `program`, in node (topological) order.
pub fn data_reductions(program: &Program) -> Vec<DataReduction> {
    let graph = &program.graph;
    let naming = Naming {
        params: (0..program.param_count())
            .map(|i| program.param_element_name(i))
            .collect(),
        inputs: (0..program.input_count())
            .map(|i| program.input_element_name(i))
            .collect(),
        ..Naming::default()
    };
    let inline = Listing::inline();
    graph
        .ids()
        .filter(|&id| graph.op(id).is_row_reduction() && !graph.flags(id).depends_on_param)
        .map(|node| DataReduction {
            node,
            text: inline.expression(graph, node, &naming, Notation::Text),
        })
        .collect()
}

/// The value of each of `reductions` on `data`.
pub fn reduction_values(
    program: &Program,
    reductions: &[DataReduction],
    data: &Data,
) -> Result<Vec<f64>, EvalError> {
    if reductions.is_empty() {
        return Ok(Vec::new());
    }
    let nodes: Vec<NodeId> = reductions.iter().map(|r| r.node).collect();
    let params = vec![0.0; program.param_count()];
    evaluate(&program.graph, &nodes, &params, data)
}

/// The program with every data-only row reduction replaced by its value on `data`.
///
/// With `--validate`, `data` is the training part, so that a standardization uses the training
/// rows only and nothing of the validation rows leaks into the fit.
pub fn bake_data_reductions(program: &Program, data: &Data) -> Result<Program, EvalError> {
    let reductions = data_reductions(program);
    let values = reduction_values(program, &reductions, data)?;
    Ok(bake(program, &reductions, &values))
}

/// The program with each of `reductions` replaced by the constant in `values`.
pub fn bake(program: &Program, reductions: &[DataReduction], values: &[f64]) -> Program {
    if reductions.is_empty() {
        return program.clone();
    }
    let graph = &program.graph;
    let value_of: FxHashMap<NodeId, f64> = reductions
        .iter()
        .map(|r| r.node)
        .zip(values.iter().copied())
        .collect();

    let mut out = Graph::new();
    let mut map: Vec<NodeId> = Vec::with_capacity(graph.len());
    for id in graph.ids() {
        let new = match value_of.get(&id) {
            Some(v) => out.constant(*v),
            None => {
                let args: Vec<NodeId> = graph.args(id).iter().map(|a| map[a.index()]).collect();
                out.add(graph.op(id), &args)
            }
        };
        map.push(new);
    }
    let remap = |id: NodeId| map[id.index()];
    let mut names = FxHashMap::default();
    let mut sorted: Vec<(&NodeId, &String)> = program.names.iter().collect();
    sorted.sort();
    for (id, name) in sorted {
        if !out.op(remap(*id)).is_leaf() {
            names.entry(remap(*id)).or_insert_with(|| name.clone());
        }
    }
    let mut spans = FxHashMap::default();
    let mut sorted: Vec<_> = program.spans.iter().collect();
    sorted.sort_by_key(|(id, _)| **id);
    for (id, span) in sorted {
        spans.entry(remap(*id)).or_insert_with(|| span.clone());
    }
    let mut predicts = program.predicts.clone();
    for p in &mut predicts {
        for node in &mut p.nodes {
            *node = remap(*node);
        }
    }
    Program {
        graph: out,
        objective: remap(program.objective),
        predicts,
        names,
        spans,
        ..program.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradc_graph::count::op_count;

    #[test]
    fn a_standardized_column_is_computed_once() {
        let source = "input x\ninput y\nparam w = 0.5\nparam b = 0\n\
            let s = (x - mean(x)) / sqrt(mean((x - mean(x))^2))\n\
            minimize mean((w * s + b - y)^2)\n";
        let program = gradc_lower::compile(source).expect("compiles");
        let data = Data::from_rows(&[vec![1.0, 2.0], vec![2.0, 3.0], vec![4.0, 7.0]]);
        let baked = bake_data_reductions(&program, &data).expect("bakes");
        let params = [0.5, 0.1];
        let before = evaluate(&program.graph, &[program.objective], &params, &data).unwrap();
        let after = evaluate(&baked.graph, &[baked.objective], &params, &data).unwrap();
        assert!((before[0] - after[0]).abs() <= 1e-12 * before[0].abs());
        let reductions = |g: &Graph, root: NodeId| {
            g.cone(&[root])
                .into_iter()
                .filter(|&id| g.op(id).is_row_reduction())
                .count()
        };
        assert_eq!(reductions(&program.graph, program.objective), 3);
        assert_eq!(reductions(&baked.graph, baked.objective), 1);
        let texts: Vec<String> = data_reductions(&program)
            .into_iter()
            .map(|r| r.text)
            .collect();
        assert_eq!(texts, ["mean(x)", "mean((x - mean(x)) ^ 2)"]);
        assert!(
            op_count(&baked.graph, &[baked.objective])
                < op_count(&program.graph, &[program.objective])
        );
    }

    #[test]
    fn a_model_without_data_reductions_is_unchanged() {
        let program = gradc_lower::compile("param x = 1\nminimize (x - 2)^2\n").expect("compiles");
        let baked = bake_data_reductions(&program, &Data::empty()).expect("bakes");
        assert_eq!(baked.graph.len(), program.graph.len());
        assert_eq!(baked.objective, program.objective);
    }
}

//! Preparing a model for its data: reductions over rows that depend on no parameter (`mean(x)`
//! to standardize a column) are computed once, when the data is loaded (LANGUAGE.md §4), and
//! replaced by their values.

use gradc_graph::interp::{Data, EvalError, evaluate};
use gradc_graph::{Graph, NodeId, Program};
use rustc_hash::FxHashMap;

/// The program with every data-only row reduction replaced by its value on `data`.
///
/// With `--validate`, `data` is the training part, so that a standardization uses the training
/// rows only and nothing of the validation rows leaks into the fit.
pub fn bake_data_reductions(program: &Program, data: &Data) -> Result<Program, EvalError> {
    let graph = &program.graph;
    let baked: Vec<NodeId> = graph
        .ids()
        .filter(|&id| graph.op(id).is_row_reduction() && !graph.flags(id).depends_on_param)
        .collect();
    if baked.is_empty() {
        return Ok(program.clone());
    }
    let params = vec![0.0; program.param_count()];
    let values = evaluate(graph, &baked, &params, data)?;
    let value_of: FxHashMap<NodeId, f64> = baked.iter().copied().zip(values).collect();

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
    Ok(Program {
        graph: out,
        objective: remap(program.objective),
        predicts,
        names,
        spans,
        ..program.clone()
    })
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

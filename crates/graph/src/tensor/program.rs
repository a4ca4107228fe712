//! The lowered model as tensors: what `gradc-lower` produces. [`TensorProgram::unroll`] gives
//! the scalar [`Program`] that the scalar pipeline works on.

use super::{TGraph, TId, size, unroll};
use crate::program::{InputInfo, ParamInfo, Predict, Program, Span, element_name};
use crate::{Graph, NodeId};
use rustc_hash::FxHashMap;

/// A `predict` statement over the tensor graph.
#[derive(Clone, Debug, PartialEq)]
pub struct TPredict {
    pub name: String,
    pub node: TId,
}

/// The lowered model: the tensor graph plus what its leaves and roots mean.
#[derive(Clone, Debug, Default)]
pub struct TensorProgram {
    pub graph: TGraph,
    pub params: Vec<ParamInfo>,
    pub inputs: Vec<InputInfo>,
    /// The `data "…"` path as written (relative to the `.loss` file).
    pub data_path: Option<String>,
    /// The objective's root: a row-free scalar.
    pub objective: TId,
    pub predicts: Vec<TPredict>,
    /// The user's `let` names for nodes.
    pub names: FxHashMap<TId, String>,
    /// Where in the source each node was written.
    pub spans: FxHashMap<TId, Span>,
}

impl TensorProgram {
    /// The number of scalar parameter elements.
    pub fn param_count(&self) -> usize {
        self.params.iter().map(ParamInfo::len).sum()
    }

    /// The number of data columns the model reads.
    pub fn input_count(&self) -> usize {
        self.inputs.iter().map(InputInfo::len).sum()
    }

    /// The roots: the objective, then every prediction.
    pub fn roots(&self) -> Vec<TId> {
        std::iter::once(self.objective)
            .chain(self.predicts.iter().map(|p| p.node))
            .collect()
    }

    /// An upper bound of the scalar nodes [`TensorProgram::unroll`] would create: the elements
    /// of every node, and for a contraction its terms and their sums.
    pub fn unrolled_size(&self) -> usize {
        let graph = &self.graph;
        graph
            .cone(&self.roots())
            .into_iter()
            .map(|id| {
                let n = size(graph.shape(id));
                match graph.op(id) {
                    super::TOp::Contract(c) => {
                        let operands: usize = graph
                            .args(id)
                            .iter()
                            .map(|&a| size(graph.shape(a)))
                            .product();
                        let summed = operands / n.max(1);
                        let per_term = if c.b.is_some() { 2 } else { 1 };
                        n.saturating_mul(summed.max(1)).saturating_mul(per_term)
                    }
                    _ => n,
                }
            })
            .fold(0usize, usize::saturating_add)
    }

    /// The scalar program: every tensor unrolled into one node per element. Names become
    /// element names (`h[3]`) and every element keeps its tensor's span.
    pub fn unroll(&self) -> Program {
        let mut graph = Graph::new();
        let roots = self.roots();
        let unrolled = unroll(&self.graph, &roots, &mut graph);
        let mut names: FxHashMap<NodeId, String> = FxHashMap::default();
        let mut spans: FxHashMap<NodeId, Span> = FxHashMap::default();
        // In node order, so that the first tensor to reach a scalar node names it.
        let mut named: Vec<(&TId, &String)> = self.names.iter().collect();
        named.sort();
        for (&id, name) in named {
            let shape = self.graph.shape(id);
            for (k, &element) in unrolled.of(id).iter().enumerate() {
                if !graph.op(element).is_leaf() {
                    names
                        .entry(element)
                        .or_insert_with(|| element_name(name, shape, k));
                }
            }
        }
        let mut located: Vec<(&TId, &Span)> = self.spans.iter().collect();
        located.sort_by_key(|(id, _)| **id);
        for (&id, span) in located {
            let (first, end) = unrolled.created[id.index()];
            let created = (first..end).map(NodeId);
            for element in created.chain(unrolled.of(id).iter().copied()) {
                spans.entry(element).or_insert_with(|| span.clone());
            }
        }
        let predicts = self
            .predicts
            .iter()
            .map(|p| Predict {
                name: p.name.clone(),
                shape: self.graph.shape(p.node).to_vec(),
                nodes: unrolled.of(p.node).to_vec(),
            })
            .collect();
        Program {
            graph,
            params: self.params.clone(),
            inputs: self.inputs.clone(),
            data_path: self.data_path.clone(),
            objective: unrolled
                .of(self.objective)
                .first()
                .copied()
                .unwrap_or_default(),
            predicts,
            names,
            spans,
        }
    }
}

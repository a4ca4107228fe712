//! gradc-simplify: equality saturation over the expression graph.
//!
//! (Interim: copies the cone of the roots unchanged. The egg-based simplifier replaces this.)

use gradc_graph::{Graph, NodeId};
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::time::Duration;

/// Limits on one saturation run.
#[derive(Clone, Debug)]
pub struct SimplifyConfig {
    pub iter_limit: usize,
    pub node_limit: usize,
    pub time_limit: Duration,
}

impl Default for SimplifyConfig {
    fn default() -> Self {
        SimplifyConfig {
            iter_limit: 30,
            node_limit: 200_000,
            time_limit: Duration::from_secs(1),
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub ops_before: usize,
    pub ops_after: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ops {} -> {}", self.ops_before, self.ops_after)
    }
}

/// The simplified roots in a graph of their own.
#[derive(Clone, Debug)]
pub struct Simplified {
    pub graph: Graph,
    pub roots: Vec<NodeId>,
    pub report: Report,
}

pub fn simplify(graph: &Graph, roots: &[NodeId], _config: &SimplifyConfig) -> Simplified {
    let mut out = Graph::new();
    let new_roots = out.import(graph, roots);
    let ops = gradc_graph::count::op_count(graph, roots);
    Simplified {
        graph: out,
        roots: new_roots,
        report: Report {
            ops_before: ops,
            ops_after: ops,
        },
    }
}

pub fn simplify_named<S: BuildHasher>(
    graph: &Graph,
    roots: &[NodeId],
    names: &HashMap<NodeId, String, S>,
    config: &SimplifyConfig,
) -> (Simplified, rustc_hash::FxHashMap<NodeId, String>) {
    let s = simplify(graph, roots, config);
    let _ = names;
    (s, Default::default())
}

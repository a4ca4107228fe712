//! gradc-simplify: simplification of value, gradient and Hessian together by equality
//! saturation ([egg]).
//!
//! The roots are added to one e-graph (so work shared between the objective and its partials is
//! found once), rewritten with the rule table of [`rules`] under explicit iteration, node and
//! (optionally) time limits, and extracted with a sharing-aware extractor ([`extract`]). Constant folding is
//! the e-graph analysis and goes through [`gradc_graph::Op::apply`], the single definition of
//! every operation.
//!
//! Invariants:
//! - the result computes the same values as the input wherever the input is finite (rules are
//!   identities of real arithmetic; domain-changing rules carry guards the analysis proves);
//!   rules that assume finite operands (`x * 0 → 0`, `x - x → 0`) are the only exception;
//! - the result never has more operations ([`gradc_graph::count::op_count`]) than the input: if
//!   extraction does not beat the input, the input is returned unchanged. When a limit stops
//!   saturation, the best expression found so far is extracted — never a worse one.
#![forbid(unsafe_code)]

mod extract;
mod lang;
mod rules;
mod stabilize;
#[cfg(test)]
mod tests;

pub use stabilize::{Stabilized, stabilize};

use egg::{Id, Runner, StopReason};
use gradc_graph::count::op_count;
use gradc_graph::{Graph, NodeId};
use lang::{Analysis, ENode, Egraph};
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

/// Limits on one saturation run. The node limit is also scaled down to a multiple of the input
/// size so that large models stay fast.
#[derive(Clone, Debug)]
pub struct SimplifyConfig {
    pub iter_limit: usize,
    /// The most e-nodes of one run; also at most `nodes_per_op` per input node plus
    /// `base_nodes`, so that each run's budget follows the model's size.
    pub node_limit: usize,
    pub nodes_per_op: usize,
    pub base_nodes: usize,
    /// A wall-clock limit on the whole simplification. `None` (the default) makes the result
    /// depend on the input alone: the iteration and node limits bound the work, so the same
    /// model gives the same bytes on a loaded machine as on an idle one.
    pub time_limit: Option<Duration>,
    /// Above this many input operations, the reassociating rules (commutativity, associativity,
    /// distribution) are left out: on large graphs they only grow the e-graph.
    pub algebra_limit: usize,
    /// The backoff scheduler's initial match limit per rule and iteration.
    pub match_limit: usize,
    /// The most saturation runs; each starts from the best graph of the one before.
    pub rounds: usize,
    /// Above this many nodes, simplification is one run of at most 4 iterations:
    /// compile latency of a large network matters more than the last few rewrites.
    pub large_graph: usize,
}

impl Default for SimplifyConfig {
    fn default() -> Self {
        SimplifyConfig {
            iter_limit: 30,
            node_limit: 100_000,
            nodes_per_op: 5,
            base_nodes: 600,
            time_limit: None,
            algebra_limit: 400,
            rounds: 8,
            large_graph: 5_000,
            match_limit: 200,
        }
    }
}

/// What a run did, for `gradc grad -v`.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub ops_before: usize,
    pub ops_after: usize,
    /// Saturation runs, each from the best graph of the one before.
    pub rounds: usize,
    pub iterations: usize,
    pub enodes: usize,
    pub eclasses: usize,
    /// Why saturation stopped: `saturated`, `iteration limit`, `node limit`, `time limit`.
    pub stop_reason: String,
    /// Whether the reassociating rules ran.
    pub algebra: bool,
    /// True when extraction found nothing smaller and the input was kept.
    pub kept_input: bool,
    pub time: Duration,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "simplify: {} → {} ops; {} rounds, {} iterations, {} e-nodes, {} e-classes, stopped: {}{}{}, {:.1} ms",
            self.ops_before,
            self.ops_after,
            self.rounds,
            self.iterations,
            self.enodes,
            self.eclasses,
            self.stop_reason,
            if self.algebra {
                ""
            } else {
                ", local rules only"
            },
            if self.kept_input { ", input kept" } else { "" },
            self.time.as_secs_f64() * 1e3
        )
    }
}

/// The simplified roots in a graph of their own.
#[derive(Clone, Debug)]
pub struct Simplified {
    pub graph: Graph,
    pub roots: Vec<NodeId>,
    pub report: Report,
}

/// Simplifies the expressions of `roots` together.
pub fn simplify(graph: &Graph, roots: &[NodeId], config: &SimplifyConfig) -> Simplified {
    simplify_inner(graph, roots, config).0
}

/// Like [`simplify`], and carries the user's names over to the nodes that still compute the
/// named values.
pub fn simplify_named<S: BuildHasher>(
    graph: &Graph,
    roots: &[NodeId],
    names: &HashMap<NodeId, String, S>,
    config: &SimplifyConfig,
) -> (Simplified, FxHashMap<NodeId, String>) {
    let (simplified, map) = simplify_inner(graph, roots, config);
    let mut named: Vec<(&NodeId, &String)> = names.iter().collect();
    named.sort();
    let mut out: FxHashMap<NodeId, String> = FxHashMap::default();
    for (old, name) in named {
        if let Some(&new) = map.get(old)
            && !simplified.graph.op(new).is_leaf()
        {
            out.entry(new).or_insert_with(|| name.clone());
        }
    }
    (simplified, out)
}

/// One saturation run: the best graph extracted from it (if any is smaller than the input),
/// with the map from input nodes to output nodes.
struct Round {
    graph: Graph,
    roots: Vec<NodeId>,
    map: FxHashMap<NodeId, NodeId>,
    ops: usize,
}

fn simplify_inner(
    graph: &Graph,
    roots: &[NodeId],
    config: &SimplifyConfig,
) -> (Simplified, FxHashMap<NodeId, NodeId>) {
    let started = Instant::now();
    let before = op_count(graph, roots);
    let algebra = before <= config.algebra_limit;
    let mut rules = rules::local();
    if algebra {
        rules.extend(rules::algebra());
    }
    let mut report = Report {
        ops_before: before,
        ops_after: before,
        algebra,
        kept_input: true,
        ..Report::default()
    };

    // Rounds: saturate, extract the best, and start a fresh e-graph from it while that keeps
    // shrinking the result. A fresh start drops the permutations the reassociating rules left
    // behind, so each round spends its node budget on new rewrites.
    let mut best: Option<Round> = None;
    let rounds = if graph.cone(roots).len() > config.large_graph {
        1
    } else {
        config.rounds.max(1)
    };
    for _ in 0..rounds {
        let (current, current_roots) = match &best {
            Some(b) => (&b.graph, &b.roots[..]),
            None => (graph, roots),
        };
        let current_ops = best.as_ref().map_or(before, |b| b.ops);
        let Some(next) = round(current, current_roots, config, &rules, &mut report) else {
            break;
        };
        // The first round may keep the count and only tidy (`x ^ 1`, `-1 * x`); later rounds
        // must shrink the result.
        let improves = next.ops < current_ops || (best.is_none() && next.ops <= current_ops);
        if !improves {
            break;
        }
        best = Some(match best {
            None => next,
            Some(previous) => Round {
                map: previous
                    .map
                    .iter()
                    .filter_map(|(old, mid)| next.map.get(mid).map(|new| (*old, *new)))
                    .collect(),
                ..next
            },
        });
        if config
            .time_limit
            .is_some_and(|limit| started.elapsed() > limit)
        {
            break;
        }
    }
    if let Some(best) = best {
        report.ops_after = best.ops;
        report.kept_input = false;
        report.time = started.elapsed();
        return (
            Simplified {
                graph: best.graph,
                roots: best.roots,
                report,
            },
            best.map,
        );
    }

    // Keep the input: copy the cone unchanged.
    let mut out = Graph::new();
    let mut map: FxHashMap<NodeId, NodeId> = FxHashMap::default();
    for id in graph.cone(roots) {
        let args: Vec<NodeId> = graph.args(id).iter().map(|a| map[a]).collect();
        map.insert(id, out.add(graph.op(id), &args));
    }
    let out_roots = roots.iter().map(|r| map[r]).collect();
    report.time = started.elapsed();
    (
        Simplified {
            graph: out,
            roots: out_roots,
            report,
        },
        map,
    )
}

/// An e-graph of the nodes of `cone` (ids in topological order, as [`Graph::cone`] returns
/// them), rebuilt, with the class of each node.
fn egraph_of(graph: &Graph, cone: &[NodeId]) -> (Egraph, FxHashMap<NodeId, Id>) {
    let mut egraph = Egraph::new(Analysis);
    let mut class_of: FxHashMap<NodeId, Id> = FxHashMap::default();
    for &id in cone {
        let args = graph.args(id).iter().map(|a| class_of[a]).collect();
        let class = egraph.add(ENode {
            op: graph.op(id),
            args,
        });
        class_of.insert(id, class);
    }
    egraph.rebuild();
    (egraph, class_of)
}

fn round(
    graph: &Graph,
    roots: &[NodeId],
    config: &SimplifyConfig,
    rules: &[egg::Rewrite<ENode, Analysis>],
    report: &mut Report,
) -> Option<Round> {
    let building = Instant::now();
    let cone = graph.cone(roots);
    let (egraph, class_of) = egraph_of(graph, &cone);
    let root_classes: Vec<Id> = roots.iter().map(|r| class_of[r]).collect();

    let node_limit = config
        .node_limit
        .min(config.nodes_per_op * cone.len() + config.base_nodes);
    // A large graph gets the local rules only (see `algebra_limit`), which do their work in the
    // first few iterations; later ones only cost e-matching over every node.
    let large = cone.len() > config.large_graph;
    let iter_limit = if large {
        config.iter_limit.min(4)
    } else {
        config.iter_limit
    };
    let time_limit = config.time_limit.unwrap_or(Duration::MAX);
    let runner = Runner::default()
        .with_egraph(egraph)
        .with_iter_limit(iter_limit)
        .with_node_limit(node_limit)
        .with_time_limit(time_limit)
        .with_scheduler(
            egg::BackoffScheduler::default().with_initial_match_limit(config.match_limit),
        )
        .run(rules);
    report.stop_reason = match &runner.stop_reason {
        Some(StopReason::Saturated) => "saturated".to_string(),
        Some(StopReason::IterationLimit(_)) => "iteration limit".to_string(),
        Some(StopReason::NodeLimit(_)) => "node limit".to_string(),
        Some(StopReason::TimeLimit(_)) => "time limit".to_string(),
        Some(StopReason::Other(s)) => s.clone(),
        None => "not run".to_string(),
    };
    report.rounds += 1;
    report.iterations += runner.iterations.len();
    let egraph = &runner.egraph;
    report.enodes = report.enodes.max(egraph.total_number_of_nodes());
    report.eclasses = report.eclasses.max(egraph.number_of_classes());
    if std::env::var_os("GRADC_SIMPLIFY_DEBUG").is_some() {
        let mut applied: FxHashMap<String, usize> = FxHashMap::default();
        for it in &runner.iterations {
            for (rule, n) in &it.applied {
                *applied.entry(rule.to_string()).or_default() += n;
            }
        }
        let mut applied: Vec<_> = applied.into_iter().collect();
        applied.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        eprintln!("rules applied: {applied:?}");
    }

    let original: extract::Original = cone
        .iter()
        .map(|&id| ENode {
            op: graph.op(id),
            args: graph
                .args(id)
                .iter()
                .map(|a| egraph.find(class_of[a]))
                .collect(),
        })
        .collect();
    let saturated = Instant::now();
    let choice = extract::extract(egraph, &original, &root_classes);
    let (out, out_roots, done) = extract::build(egraph, &choice, &root_classes)?;
    if std::env::var_os("GRADC_SIMPLIFY_DEBUG").is_some() {
        eprintln!(
            "round: total {:?}, saturation {:?} ({:?}), extraction {:?}",
            building.elapsed(),
            runner.iterations.iter().map(|i| i.total_time).sum::<f64>(),
            runner.stop_reason,
            saturated.elapsed()
        );
    }
    let ops = op_count(&out, &out_roots);
    let map = class_of
        .iter()
        .filter_map(|(old, class)| done.get(&egraph.find(*class)).map(|n| (*old, *n)))
        .collect();
    Some(Round {
        graph: out,
        roots: out_roots,
        map,
        ops,
    })
}

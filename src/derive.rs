//! The symbolic pipeline after the front end: differentiate, simplify, count.

use gradc_graph::count::op_count;
use gradc_graph::{Graph, NodeId, Program};
use gradc_simplify::{Report, SimplifyConfig};
use rustc_hash::FxHashMap;
use std::time::{Duration, Instant};

/// What to derive.
#[derive(Clone, Debug, Default)]
pub struct DeriveConfig {
    /// Also build the Hessian.
    pub hessian: bool,
    /// Skip equality saturation (`--no-simplify`).
    pub no_simplify: bool,
    pub simplify: SimplifyConfig,
}

/// Op counts as LANGUAGE.md §5 defines them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// The objective alone, simplified on its own.
    pub forward: usize,
    /// Objective and whole gradient together, simplified together.
    pub gradient: usize,
    /// The same before simplification.
    pub gradient_unsimplified: usize,
    /// Objective, gradient and Hessian together (with `--hessian`).
    pub hessian: Option<usize>,
}

/// Wall-clock time of each stage, for `-v`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    pub differentiate: Duration,
    pub simplify: Duration,
}

/// The derived, simplified expressions of a model, in a graph of their own.
#[derive(Clone, Debug)]
pub struct Derived {
    pub graph: Graph,
    pub objective: NodeId,
    /// One node per flat parameter element.
    pub gradient: Vec<NodeId>,
    /// `hessian[i][j]`, symmetric, with `--hessian`.
    pub hessian: Option<Vec<Vec<NodeId>>>,
    /// The user's `let` names carried over to the nodes that still compute them.
    pub names: FxHashMap<NodeId, String>,
    pub ops: OpCounts,
    /// The simplifier's report for the run that produced `graph`.
    pub report: Option<Report>,
    pub timings: Timings,
}

/// Differentiates the objective (and the gradient, for the Hessian) and simplifies the value,
/// gradient and Hessian together in one e-graph.
pub fn derive(program: &Program, config: &DeriveConfig) -> Derived {
    let started = Instant::now();
    let mut graph = program.graph.clone();
    let n = program.param_count();
    let objective = program.objective;
    let gradient = gradc_grad::grad(&mut graph, objective, n);
    let hessian = config
        .hessian
        .then(|| gradc_grad::hessian(&mut graph, &gradient, n));
    let differentiate = started.elapsed();

    let mut value_and_gradient = vec![objective];
    value_and_gradient.extend(&gradient);
    let gradient_unsimplified = op_count(&graph, &value_and_gradient);
    let mut roots = value_and_gradient.clone();
    if let Some(h) = &hessian {
        roots.extend(h.iter().flatten());
    }

    let started = Instant::now();
    if config.no_simplify {
        let ops = OpCounts {
            forward: op_count(&graph, &[objective]),
            gradient: gradient_unsimplified,
            gradient_unsimplified,
            hessian: hessian.as_ref().map(|_| op_count(&graph, &roots)),
        };
        let names = program.names.clone();
        return Derived {
            graph,
            objective,
            gradient,
            hessian,
            names,
            ops,
            report: None,
            timings: Timings {
                differentiate,
                simplify: started.elapsed(),
            },
        };
    }

    // The forward count is the objective simplified on its own; the gradient count is the
    // objective and gradient simplified together, which is what `run` executes.
    let forward = gradc_simplify::simplify(&graph, &[objective], &config.simplify);
    let forward_ops = op_count(&forward.graph, &forward.roots);
    let (joint, names) = gradc_simplify::simplify_named(
        &graph,
        &value_and_gradient,
        &program.names,
        &config.simplify,
    );
    let gradient_ops = op_count(&joint.graph, &joint.roots);
    let (result, names, hessian_ops) = if hessian.is_some() {
        let (all, names) =
            gradc_simplify::simplify_named(&graph, &roots, &program.names, &config.simplify);
        let ops = op_count(&all.graph, &all.roots);
        (all, names, Some(ops))
    } else {
        (joint, names, None)
    };
    let simplify = started.elapsed();

    let mut simplified_roots = result.roots.into_iter();
    let objective = simplified_roots.next().unwrap_or_default();
    let gradient: Vec<NodeId> = simplified_roots.by_ref().take(n).collect();
    let hessian = hessian.map(|_| {
        let flat: Vec<NodeId> = simplified_roots.collect();
        flat.chunks(n.max(1)).map(<[NodeId]>::to_vec).collect()
    });
    Derived {
        graph: result.graph,
        objective,
        gradient,
        hessian,
        names,
        ops: OpCounts {
            forward: forward_ops,
            gradient: gradient_ops,
            gradient_unsimplified,
            hessian: hessian_ops,
        },
        report: Some(result.report),
        timings: Timings {
            differentiate,
            simplify,
        },
    }
}

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
    /// Deriving for `run`/`check` rather than for `grad`: a large objective (more nodes than
    /// the simplifier's `large_graph`) is not simplified on its own first — its `forward` count
    /// is not needed there and the saturation would only add compile latency. `forward` is then
    /// the unsimplified count.
    pub for_run: bool,
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

/// Whether the objective's graph is beyond the simplifier's `large_graph` size.
fn graph_is_large(program: &Program, config: &DeriveConfig) -> bool {
    program.graph.cone(&[program.objective]).len() > config.simplify.large_graph
}

/// Differentiates the objective (and the gradient, for the Hessian) and simplifies the value,
/// gradient and Hessian together in one e-graph.
pub fn derive(program: &Program, config: &DeriveConfig) -> Derived {
    let started = Instant::now();
    let n = program.param_count();
    // A graph too large for equality saturation to be relied on gets the stable forms of its
    // logarithms (`log σ`, `log(1 − σ)`, `log(1 + exp)`) directly, before differentiation, so
    // that neither the loss nor the gradient turns NaN on rows the model fits confidently.
    let large = graph_is_large(program, config);
    let (mut graph, objective, names) = if large && !config.no_simplify {
        let stable = gradc_simplify::stabilize(&program.graph, &[program.objective]);
        let names = program
            .names
            .iter()
            .filter_map(|(id, name)| stable.map.get(id).map(|&new| (new, name.clone())))
            .collect();
        (stable.graph, stable.roots[0], names)
    } else {
        (
            program.graph.clone(),
            program.objective,
            program.names.clone(),
        )
    };
    let forward_written = op_count(&graph, &[objective]);
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

    if config.for_run && large {
        let (result, names, gradient_ops, hessian_ops) =
            joint(&graph, objective, &gradient, config, &names);
        let mut roots = result.roots.into_iter();
        let objective = roots.next().unwrap_or_default();
        let gradient: Vec<NodeId> = roots.by_ref().take(n).collect();
        let flat: Vec<NodeId> = roots.collect();
        let hessian = config
            .hessian
            .then(|| flat.chunks(n.max(1)).map(<[NodeId]>::to_vec).collect());
        return Derived {
            graph: result.graph,
            objective,
            gradient,
            hessian,
            names,
            ops: OpCounts {
                forward: forward_written,
                gradient: gradient_ops,
                gradient_unsimplified,
                hessian: hessian_ops,
            },
            report: Some(result.report),
            timings: Timings {
                differentiate,
                simplify: started.elapsed(),
            },
        };
    }

    // The forward count is the objective simplified on its own. The gradient is then derived
    // twice: from the simplified objective (where the stability rewrites have already turned
    // `log σ(z)` into softplus forms, whose derivatives need no further algebra) and from the
    // objective as written; each is simplified together with its value, and the smaller wins.
    let (forward, forward_names) =
        gradc_simplify::simplify_named(&graph, &[objective], &names, &config.simplify);
    let forward_ops = op_count(&forward.graph, &forward.roots);
    let from_simplified = {
        let mut g = forward.graph.clone();
        let root = forward.roots[0];
        let gradient = gradc_grad::grad(&mut g, root, n);
        joint(&g, root, &gradient, config, &forward_names)
    };
    let from_original = (gradient_unsimplified <= config.simplify.algebra_limit)
        .then(|| joint(&graph, objective, &gradient, config, &names));
    let (result, names, gradient_ops, hessian_ops) = match from_original {
        Some(original) if original.2 < from_simplified.2 => original,
        _ => from_simplified,
    };
    let simplify = started.elapsed();

    let mut simplified_roots = result.roots.into_iter();
    let objective = simplified_roots.next().unwrap_or_default();
    let gradient: Vec<NodeId> = simplified_roots.by_ref().take(n).collect();
    let hessian = config.hessian.then(|| {
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

/// Value and gradient (and, if asked, the Hessian, differentiated from `gradient`) simplified
/// together: the simplified graph, names, and the op counts of value+gradient and of everything.
fn joint(
    graph: &Graph,
    objective: NodeId,
    gradient: &[NodeId],
    config: &DeriveConfig,
    names: &FxHashMap<NodeId, String>,
) -> (
    gradc_simplify::Simplified,
    FxHashMap<NodeId, String>,
    usize,
    Option<usize>,
) {
    let mut roots = vec![objective];
    roots.extend(gradient);
    let (value_and_gradient, names_vg) =
        gradc_simplify::simplify_named(graph, &roots, names, &config.simplify);
    let gradient_ops = op_count(&value_and_gradient.graph, &value_and_gradient.roots);
    if !config.hessian {
        return (value_and_gradient, names_vg, gradient_ops, None);
    }
    let mut g = graph.clone();
    let n = gradient.len();
    let hessian = gradc_grad::hessian(&mut g, gradient, n);
    roots.extend(hessian.iter().flatten());
    let (all, names) = gradc_simplify::simplify_named(&g, &roots, names, &config.simplify);
    let hessian_ops = op_count(&all.graph, &all.roots);
    (all, names, gradient_ops, Some(hessian_ops))
}

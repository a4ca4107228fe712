//! gradc-grad: exact derivatives by reverse mode over the expression DAG.
//!
//! [`grad`] builds the gradient of a row-free root with respect to every parameter element as
//! new nodes of the same graph, so that the gradient shares the forward pass's nodes (σ(z) is
//! computed once and used by both). Each node's adjoint is accumulated from its users and its
//! local derivative is built once; there is no recursive differentiation of a tree and so no
//! expression swell: the gradient graph is a constant factor larger than the forward graph.
//!
//! Two constructs get a pass of their own:
//! - **Row reductions.** `mean(e)` is row-free but `e` is per-row. The adjoint `a` of the
//!   reduction seeds a pass over the per-row nodes of `e` that stops at row-free nodes; each
//!   row-free node `b` reached receives `a · mean(∂e/∂b)`. This is how ∂/∂w = mean((σ(z) − y)·x)
//!   comes out in the form of the lecture notes.
//! - **`if`.** The derivative of `if c then t else f` is `if c then ∂t else ∂f`. The nodes used only
//!   inside one branch are differentiated in a pass of their own, and every node shared with the
//!   rest of the graph receives `a · if(c, ∂t/∂b, ∂f/∂b)`. The branch not taken is selected away
//!   as a whole, so a NaN or infinity in its derivative can never leak into the gradient (a plain
//!   `0 · ∞` would).
//!
//! [`hessian`] differentiates each gradient root again.
#![forbid(unsafe_code)]

mod rules;
pub mod tensor;

use gradc_graph::{Graph, NodeId, Op};
use rules::Local;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BinaryHeap;

/// The gradient of the row-free `root` with respect to parameter elements `0..param_count`:
/// one node per element (the constant 0 where the root does not depend on it).
pub fn grad(graph: &mut Graph, root: NodeId, param_count: usize) -> Vec<NodeId> {
    partials(graph, root, param_count, &|g: &Graph, id| {
        !g.flags(id).per_row && !g.op(id).is_leaf()
    })
}

/// Backpropagates 1 from `root` through the nodes of `region` and collects the adjoints of the
/// parameter elements (the constant 0 where there is none).
fn partials(graph: &mut Graph, root: NodeId, param_count: usize, region: Region) -> Vec<NodeId> {
    let mut pass = Differentiator::new(graph, root);
    let one = Adjoint {
        node: pass.graph.constant(1.0),
        guarded: false,
    };
    let adjoints = pass.backprop(&[(root, one)], region);
    let zero = pass.graph.constant(0.0);
    (0..param_count)
        .map(|p| {
            let node = pass.graph.param(p as u32);
            adjoints.get(&node).map_or(zero, |a| a.node)
        })
        .collect()
}

/// The derivatives of a per-row `root` (a residual of a least-squares objective) with respect to
/// every parameter element: per-row nodes whose value on a row is ∂root/∂p on that row — the
/// rows of the Jacobian. Row-free parts (reductions inside the root) are differentiated as in
/// [`grad`].
pub fn grad_per_row(graph: &mut Graph, root: NodeId, param_count: usize) -> Vec<NodeId> {
    partials(graph, root, param_count, &|g: &Graph, id| {
        !g.op(id).is_leaf()
    })
}

/// The Hessian: `result[i][j] = ∂gradient[i]/∂p_j`. Each gradient root is differentiated once
/// and the upper triangle is mirrored, so the result is exactly symmetric.
pub fn hessian(graph: &mut Graph, gradient: &[NodeId], param_count: usize) -> Vec<Vec<NodeId>> {
    let mut rows: Vec<Vec<NodeId>> = gradient
        .iter()
        .map(|&g| grad(graph, g, param_count))
        .collect();
    // Mirror the upper triangle: entry (i, j) with j < i is taken from row j.
    for i in 1..rows.len() {
        let (upper, lower) = rows.split_at_mut(i);
        for (j, above) in upper.iter().enumerate().take(param_count) {
            lower[0][j] = above[i];
        }
    }
    rows
}

/// An adjoint under construction.
#[derive(Clone, Copy, Debug)]
struct Adjoint {
    node: NodeId,
    /// Part of it came through the selection of an `if` branch, so it may be an exact zero that
    /// stands for "branch not taken". Contributions from such an adjoint are guarded (see
    /// [`Differentiator::guard`]) so that `0 · ∞` or `0 · NaN` of a local derivative that is only
    /// meaningful inside the other branch cannot turn it into NaN.
    guarded: bool,
}

/// Which nodes a pass differentiates through; every other node it reaches is a boundary whose
/// adjoint is returned to the caller.
type Region<'r> = &'r dyn Fn(&Graph, NodeId) -> bool;

struct Differentiator<'g> {
    graph: &'g mut Graph,
    /// Nodes of the original expression (the cone of the root). Users outside it — other
    /// roots, nodes this pass creates — do not count when deciding what belongs to a branch.
    relevant: Vec<bool>,
}

impl<'g> Differentiator<'g> {
    fn new(graph: &'g mut Graph, root: NodeId) -> Differentiator<'g> {
        let mut relevant = vec![false; graph.len()];
        for id in graph.cone(&[root]) {
            relevant[id.index()] = true;
        }
        Differentiator { graph, relevant }
    }

    /// Reverse-mode accumulation from `seeds` through the nodes of `region`, in decreasing id
    /// order (users before operands). Returns the adjoints of the boundary nodes reached.
    fn backprop(
        &mut self,
        seeds: &[(NodeId, Adjoint)],
        region: Region,
    ) -> FxHashMap<NodeId, Adjoint> {
        let mut pending: FxHashMap<NodeId, Vec<Adjoint>> = FxHashMap::default();
        let mut queue: BinaryHeap<NodeId> = BinaryHeap::new();
        let mut boundary: FxHashMap<NodeId, Vec<Adjoint>> = FxHashMap::default();
        let mut boundary_order: Vec<NodeId> = Vec::new();
        let mut contribute = |graph: &Graph,
                              pending: &mut FxHashMap<NodeId, Vec<Adjoint>>,
                              queue: &mut BinaryHeap<NodeId>,
                              node: NodeId,
                              value: Adjoint| {
            if !graph.flags(node).depends_on_param {
                return;
            }
            if region(graph, node) {
                let list = pending.entry(node).or_default();
                if list.is_empty() {
                    queue.push(node);
                }
                list.push(value);
            } else {
                let list = boundary.entry(node).or_default();
                if list.is_empty() {
                    boundary_order.push(node);
                }
                list.push(value);
            }
        };
        for &(node, seed) in seeds {
            contribute(self.graph, &mut pending, &mut queue, node, seed);
        }
        while let Some(node) = queue.pop() {
            let Some(parts) = pending.remove(&node) else {
                continue;
            };
            let adjoint = self.total(&parts);
            let is_if = self.graph.op(node) == Op::If;
            for (operand, local, guarded) in self.local(node, adjoint, region) {
                let value = self.combine(adjoint, local);
                let guarded = guarded || adjoint.guarded || is_if;
                contribute(
                    self.graph,
                    &mut pending,
                    &mut queue,
                    operand,
                    Adjoint {
                        node: value,
                        guarded,
                    },
                );
            }
        }
        boundary_order
            .into_iter()
            .map(|node| {
                let total = self.total(&boundary[&node]);
                (node, total)
            })
            .collect()
    }

    fn total(&mut self, parts: &[Adjoint]) -> Adjoint {
        let nodes: Vec<NodeId> = parts.iter().map(|p| p.node).collect();
        Adjoint {
            node: self.graph.sum_of(&nodes),
            guarded: parts.iter().any(|p| p.guarded),
        }
    }

    /// A contribution to an operand's adjoint: the adjoint `a` times the local derivative.
    /// Where `a` came through the selection of an `if` branch it may be an exact zero that
    /// stands for "branch not taken"; a product with it is then [`Op::GuardMul`], which stays
    /// zero even where the local derivative is not finite, and whose own derivative keeps the
    /// product rule (so Hessians through it are right where `a` is zero).
    fn combine(&mut self, a: Adjoint, local: Local<NodeId>) -> NodeId {
        let g = &mut *self.graph;
        match local {
            Local::Same => a.node,
            Local::Negated => g.neg(a.node),
            Local::Chosen { condition, first } => {
                let zero = g.constant(0.0);
                if first {
                    g.if_then_else(condition, a.node, zero)
                } else {
                    g.if_then_else(condition, zero, a.node)
                }
            }
            Local::Times(l) if a.guarded => guard_mul(g, a.node, l),
            Local::Times(l) => scale(g, a.node, l),
            Local::Over(d) if a.guarded => {
                let one = g.constant(1.0);
                let l = g.div(one, d);
                guard_mul(g, a.node, l)
            }
            Local::Over(d) => g.div(a.node, d),
            Local::MinusTimesOver {
                factor,
                denominator,
            } if a.guarded => {
                let q = g.div(factor, denominator);
                let minus_q = g.neg(q);
                guard_mul(g, a.node, minus_q)
            }
            Local::MinusTimesOver {
                factor,
                denominator,
            } => {
                let scaled = scale(g, a.node, factor);
                let q = g.div(scaled, denominator);
                g.neg(q)
            }
            Local::Guarded(l) => guard_mul(g, l, a.node),
        }
    }

    /// The contributions of `node` (with adjoint `a`) to its operands' adjoints.
    fn local(
        &mut self,
        node: NodeId,
        adjoint: Adjoint,
        region: Region,
    ) -> Vec<(NodeId, Local<NodeId>, bool)> {
        let op = self.graph.op(node);
        match op {
            Op::RowSum | Op::RowMean => {
                return self.reduction(op, self.graph.args(node)[0], adjoint);
            }
            Op::If => {
                let args = self.graph.args(node).to_vec();
                return self.branches(node, &args, region);
            }
            _ => {}
        }
        let args = self.graph.args(node).to_vec();
        rules::elementwise(&mut *self.graph, op, &args, node)
            .into_iter()
            .map(|(operand, local)| (operand, local, false))
            .collect()
    }

    /// `a · reduce(∂e/∂b)` for every row-free node `b` that the per-row argument `e` reads.
    fn reduction(
        &mut self,
        op: Op,
        argument: NodeId,
        a: Adjoint,
    ) -> Vec<(NodeId, Local<NodeId>, bool)> {
        let one = self.graph.constant(1.0);
        let seed = Adjoint {
            node: one,
            guarded: a.guarded,
        };
        let inner = self.backprop(&[(argument, seed)], &|g: &Graph, id| {
            g.flags(id).per_row && !g.op(id).is_leaf()
        });
        let mut inner: Vec<(NodeId, Adjoint)> = inner.into_iter().collect();
        inner.sort_unstable_by_key(|(node, _)| *node);
        inner
            .into_iter()
            .map(|(node, derivative)| {
                let reduced = self.graph.unary(op, derivative.node);
                (node, Local::Times(reduced), derivative.guarded)
            })
            .collect()
    }

    /// The derivative of `if c then t else f`: each branch is differentiated through the nodes
    /// only it uses; shared nodes receive `a · if(c, ∂t/∂b, ∂f/∂b)`.
    fn branches(
        &mut self,
        node: NodeId,
        args: &[NodeId],
        region: Region,
    ) -> Vec<(NodeId, Local<NodeId>, bool)> {
        let cond = args[0];
        let one = Adjoint {
            node: self.graph.constant(1.0),
            guarded: false,
        };
        let mut per_branch = Vec::with_capacity(2);
        for slot in [1, 2] {
            let branch = args[slot];
            let exclusive = self.exclusive_to_branch(node, slot);
            let inner = self.backprop(&[(branch, one)], &|g: &Graph, id| {
                exclusive.contains(&id) && region(g, id)
            });
            per_branch.push(inner);
        }
        let mut reached: Vec<NodeId> = per_branch.iter().flat_map(|m| m.keys().copied()).collect();
        reached.sort_unstable();
        reached.dedup();
        let zero = self.graph.constant(0.0);
        reached
            .into_iter()
            .map(|b| {
                let dt = per_branch[0].get(&b).map_or(zero, |d| d.node);
                let df = per_branch[1].get(&b).map_or(zero, |d| d.node);
                let selected = self.graph.if_then_else(cond, dt, df);
                (b, Local::Times(selected), true)
            })
            .collect()
    }

    /// The nodes that are used only through operand `slot` of the `if` node: every relevant
    /// user of each is the `if` (through that slot alone) or another such node.
    fn exclusive_to_branch(&self, if_node: NodeId, slot: usize) -> FxHashSet<NodeId> {
        let args = self.graph.args(if_node);
        let branch = args[slot];
        let mut exclusive = FxHashSet::default();
        if args.iter().filter(|&&x| x == branch).count() > 1 {
            return exclusive;
        }
        let mut queue: BinaryHeap<NodeId> = BinaryHeap::new();
        let mut seen: FxHashSet<NodeId> = FxHashSet::default();
        queue.push(branch);
        seen.insert(branch);
        while let Some(id) = queue.pop() {
            if self.graph.op(id).is_leaf() {
                continue;
            }
            let only_inside = self
                .graph
                .users(id)
                .into_iter()
                .filter(|u| self.relevant.get(u.index()).copied().unwrap_or(false))
                .all(|u| {
                    if id == branch {
                        u == if_node
                    } else {
                        exclusive.contains(&u)
                    }
                });
            if !only_inside {
                continue;
            }
            exclusive.insert(id);
            for &arg in self.graph.args(id) {
                if seen.insert(arg) {
                    queue.push(arg);
                }
            }
        }
        exclusive
    }
}

/// `a · l` that stays 0 where `a` is 0; the product itself where `a` is the seed 1.
fn guard_mul(graph: &mut Graph, a: NodeId, l: NodeId) -> NodeId {
    if graph.op(a).const_value() == Some(1.0) {
        l
    } else {
        graph.binary(Op::GuardMul, a, l)
    }
}

impl rules::Build for Graph {
    type Id = NodeId;

    fn constant(&mut self, value: f64) -> NodeId {
        Graph::constant(self, value)
    }

    fn apply(&mut self, op: Op, args: &[NodeId]) -> NodeId {
        self.add(op, args)
    }

    fn const_value(&self, id: NodeId) -> Option<f64> {
        self.op(id).const_value()
    }

    fn depends_on_param(&self, id: NodeId) -> bool {
        self.flags(id).depends_on_param
    }
}

/// `a · x`, without building the product when the adjoint is the seed 1 (every reverse-mode
/// implementation starts the chain rule at 1; writing `1 · x` would only give the simplifier
/// work).
fn scale(graph: &mut Graph, a: NodeId, x: NodeId) -> NodeId {
    if graph.op(a).const_value() == Some(1.0) {
        x
    } else if graph.op(x).const_value() == Some(1.0) {
        a
    } else {
        graph.mul(a, x)
    }
}

#[cfg(test)]
mod tests;

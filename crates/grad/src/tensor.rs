//! Reverse mode over the tensor graph (`gradc_graph::tensor`): the gradient of a row-free scalar
//! with respect to whole parameter tensors, as tensor nodes, never by unrolling.
//!
//! The passes are those of the scalar differentiator: one over the row-free nodes, and for each
//! row reduction `mean(e)` one over the per-row nodes of `e` whose contributions to row-free
//! nodes are reduced over the rows — so `∂L/∂W = mean(δ xᵀ)` comes out as a row mean of an outer
//! product. The element-wise rules are the scalar ones ([`crate::rules`]) applied to whole
//! tensors; the others are the adjoints of the tensor operations:
//!
//! - a contraction's operand receives the contraction of the adjoint with the other operand
//!   (`W @ x`: `δ xᵀ` for `W`, `Wᵀ δ` for `x`), broadcast over labels summed in the operand alone;
//! - `logsumexp` gives the softmax, `max` and `min` the indicator of the element they select;
//! - index, stack, broadcast and scatter give scatter, index, a sum and index.
//!
//! The branches of an element-wise `if` receive `if c then a else 0` and `if c then 0 else a`;
//! everything downstream of such an adjoint is guarded (`Op::GuardMul`), as in the scalar
//! differentiator, so a branch not taken cannot turn the gradient into NaN.

use crate::rules::{self, Build, Local};
use gradc_graph::Op;
use gradc_graph::tensor::{Axes, Contraction, FoldOp, TGraph, TId, TOp};
use rustc_hash::FxHashMap;
use std::collections::BinaryHeap;

/// Why a tensor graph cannot be differentiated in tensor form (the scalar path then does it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    #[error("a contraction with a repeated index in one operand (a diagonal): {0}")]
    Diagonal(String),
}

/// The gradient of the row-free scalar `root` with respect to each node of `params` (whole
/// parameter tensors): one node of each parameter's shape (zeros where `root` does not depend
/// on it).
pub fn grad_tensor(graph: &mut TGraph, root: TId, params: &[TId]) -> Result<Vec<TId>, Unsupported> {
    let mut pass = Differentiator { graph };
    let one = pass.graph.constant(1.0);
    let adjoints = pass.backprop(
        &[(
            root,
            Adjoint {
                node: one,
                guarded: false,
            },
        )],
        &|g: &TGraph, id| !g.info(id).per_row && !g.op(id).is_leaf(),
    )?;
    Ok(params
        .iter()
        .map(|&p| match adjoints.get(&p) {
            Some(a) => a.node,
            None => {
                let shape = pass.graph.shape(p).to_vec();
                pass.zeros(&shape)
            }
        })
        .collect())
}

#[derive(Clone, Copy, Debug)]
struct Adjoint {
    node: TId,
    /// Part of it came through the selection of an `if` branch (see the module docs).
    guarded: bool,
}

type Region<'r> = &'r dyn Fn(&TGraph, TId) -> bool;

struct Differentiator<'g> {
    graph: &'g mut TGraph,
}

impl Differentiator<'_> {
    /// Reverse-mode accumulation from `seeds` through the nodes of `region`, users before
    /// operands; returns the adjoints of the boundary nodes reached.
    fn backprop(
        &mut self,
        seeds: &[(TId, Adjoint)],
        region: Region,
    ) -> Result<FxHashMap<TId, Adjoint>, Unsupported> {
        let mut pending: FxHashMap<TId, Vec<Adjoint>> = FxHashMap::default();
        let mut queue: BinaryHeap<TId> = BinaryHeap::new();
        let mut boundary: FxHashMap<TId, Vec<Adjoint>> = FxHashMap::default();
        let mut boundary_order: Vec<TId> = Vec::new();
        let mut contribute = |graph: &TGraph,
                              pending: &mut FxHashMap<TId, Vec<Adjoint>>,
                              queue: &mut BinaryHeap<TId>,
                              node: TId,
                              value: Adjoint| {
            if !graph.info(node).depends_on_param {
                return;
            }
            let (list, first) = if region(graph, node) {
                let list = pending.entry(node).or_default();
                (list, false)
            } else {
                let list = boundary.entry(node).or_default();
                (list, true)
            };
            if list.is_empty() {
                if first {
                    boundary_order.push(node);
                } else {
                    queue.push(node);
                }
            }
            list.push(value);
        };
        for &(node, seed) in seeds {
            contribute(self.graph, &mut pending, &mut queue, node, seed);
        }
        while let Some(node) = queue.pop() {
            let Some(parts) = pending.remove(&node) else {
                continue;
            };
            let adjoint = self.total(&parts);
            for (operand, value, guarded) in self.local(node, adjoint)? {
                let value = self.fit(value, operand);
                let guarded = guarded || adjoint.guarded;
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
        Ok(boundary_order
            .into_iter()
            .map(|node| {
                let total = self.total(&boundary[&node]);
                (node, total)
            })
            .collect())
    }

    fn total(&mut self, parts: &[Adjoint]) -> Adjoint {
        let mut node = parts[0].node;
        for part in &parts[1..] {
            node = self.graph.map(Op::Add, &[node, part.node]);
        }
        Adjoint {
            node,
            guarded: parts.iter().any(|p| p.guarded),
        }
    }

    /// A contribution brought to its operand's shape: summed over every element where the
    /// operand was a scalar that the operation broadcast.
    fn fit(&mut self, value: TId, operand: TId) -> TId {
        if self.graph.shape(operand).is_empty() && !self.graph.shape(value).is_empty() {
            self.graph.sum_all(value)
        } else {
            value
        }
    }

    /// The contributions of `node` (with adjoint `a`) to its operands' adjoints: finished
    /// values, and whether they are guarded.
    fn local(&mut self, node: TId, a: Adjoint) -> Result<Vec<(TId, TId, bool)>, Unsupported> {
        let args = self.graph.args(node).to_vec();
        let g = &mut *self.graph;
        Ok(match g.op(node) {
            TOp::Const(_) | TOp::Iota(_) | TOp::Param(_) | TOp::Input(_) => Vec::new(),
            TOp::Map(Op::If) => {
                let zero = g.constant(0.0);
                let taken = g.map(Op::If, &[args[0], a.node, zero]);
                let not_taken = g.map(Op::If, &[args[0], zero, a.node]);
                vec![(args[1], taken, true), (args[2], not_taken, true)]
            }
            TOp::Map(op) => {
                let locals = rules::elementwise(&mut TBuild(&mut *g), op, &args, node);
                locals
                    .into_iter()
                    .map(|(operand, local)| (operand, combine(g, a, local), false))
                    .collect()
            }
            TOp::Contract(c) => contract_adjoints(g, &c, &args, a.node)?
                .into_iter()
                .map(|(operand, value)| (operand, value, false))
                .collect(),
            TOp::Fold { op, axes } => {
                let x = args[0];
                let trailing = g.shape(x)[g.shape(x).len() - axes as usize..].to_vec();
                let spread = expand_trailing(g, a.node, &trailing);
                let weights = match op {
                    FoldOp::LogSumExp => {
                        let value = expand_trailing(g, node, &trailing);
                        let shifted = g.map(Op::Sub, &[x, value]);
                        g.map(Op::Exp, &[shifted])
                    }
                    FoldOp::Max | FoldOp::Min => g.apply(TOp::Selected { op, axes }, &[x]),
                };
                let value = scale(g, spread, weights);
                vec![(x, value, false)]
            }
            TOp::Selected { .. } => Vec::new(),
            TOp::Index { axis, position } => {
                let extent = g.shape(args[0])[axis as usize] as u32;
                let value = g.apply(
                    TOp::Scatter {
                        axis,
                        position,
                        extent,
                    },
                    &[a.node],
                );
                vec![(args[0], value, false)]
            }
            TOp::Stack => args
                .iter()
                .enumerate()
                .map(|(k, &arg)| {
                    let value = g.apply(
                        TOp::Index {
                            axis: 0,
                            position: k as u32,
                        },
                        &[a.node],
                    );
                    (arg, value, false)
                })
                .collect(),
            TOp::Broadcast { .. } => {
                let rank = g.shape(node).len();
                let value = sum_leading(g, a.node, rank);
                vec![(args[0], value, false)]
            }
            TOp::Scatter { axis, position, .. } => {
                let value = g.apply(TOp::Index { axis, position }, &[a.node]);
                vec![(args[0], value, false)]
            }
            op @ (TOp::RowSum | TOp::RowMean) => self.reduction(op, args[0], a)?,
        })
    }

    /// `a · reduce(∂e/∂b)` for every row-free node `b` that the per-row argument `e` reads.
    /// A scalar `a` is factored out of the reduction (the notes' `mean((σ(z) − y)·x)`); a tensor
    /// adjoint seeds the per-row pass itself.
    fn reduction(
        &mut self,
        op: TOp,
        argument: TId,
        a: Adjoint,
    ) -> Result<Vec<(TId, TId, bool)>, Unsupported> {
        let scalar = self.graph.shape(a.node).is_empty();
        let seed = Adjoint {
            node: if scalar {
                self.graph.constant(1.0)
            } else {
                a.node
            },
            guarded: a.guarded,
        };
        let inner = self.backprop(&[(argument, seed)], &|g: &TGraph, id| {
            g.info(id).per_row && !g.op(id).is_leaf()
        })?;
        let mut inner: Vec<(TId, Adjoint)> = inner.into_iter().collect();
        inner.sort_unstable_by_key(|(node, _)| *node);
        Ok(inner
            .into_iter()
            .map(|(node, derivative)| {
                let reduced = self.graph.apply(op, &[derivative.node]);
                let value = if scalar {
                    scale(self.graph, a.node, reduced)
                } else {
                    reduced
                };
                (node, value, derivative.guarded)
            })
            .collect())
    }

    /// A tensor of zeros.
    fn zeros(&mut self, shape: &[usize]) -> TId {
        let mut node = self.graph.constant(0.0);
        for &extent in shape.iter().rev() {
            node = self.graph.apply(
                TOp::Broadcast {
                    extent: extent as u32,
                },
                &[node],
            );
        }
        node
    }
}

/// The contribution of an element-wise rule: the adjoint times the local derivative, guarded
/// where the adjoint may be an exact zero for a branch not taken.
fn combine(g: &mut TGraph, a: Adjoint, local: Local<TId>) -> TId {
    match local {
        Local::Same => a.node,
        Local::Negated => g.map(Op::Neg, &[a.node]),
        Local::Chosen { condition, first } => {
            let zero = g.constant(0.0);
            let (t, f) = if first {
                (a.node, zero)
            } else {
                (zero, a.node)
            };
            g.map(Op::If, &[condition, t, f])
        }
        Local::Times(l) if a.guarded => guard_mul(g, a.node, l),
        Local::Times(l) => scale(g, a.node, l),
        Local::Over(d) if a.guarded => {
            let one = g.constant(1.0);
            let l = g.map(Op::Div, &[one, d]);
            guard_mul(g, a.node, l)
        }
        Local::Over(d) => g.map(Op::Div, &[a.node, d]),
        Local::MinusTimesOver {
            factor,
            denominator,
        } => {
            let scaled = if a.guarded {
                guard_mul(g, a.node, factor)
            } else {
                scale(g, a.node, factor)
            };
            let q = g.map(Op::Div, &[scaled, denominator]);
            g.map(Op::Neg, &[q])
        }
        Local::Guarded(l) => guard_mul(g, l, a.node),
    }
}

/// `a · x` element by element, without the product where either is the constant 1.
fn scale(g: &mut TGraph, a: TId, x: TId) -> TId {
    let one = |g: &TGraph, id: TId| g.op(id) == TOp::constant(1.0);
    if one(g, a) {
        x
    } else if one(g, x) {
        a
    } else {
        g.map(Op::Mul, &[a, x])
    }
}

fn guard_mul(g: &mut TGraph, a: TId, l: TId) -> TId {
    if g.op(a) == TOp::constant(1.0) {
        l
    } else {
        g.map(Op::GuardMul, &[a, l])
    }
}

/// `t` (of some shape `lead`) repeated over `trailing` axes: shape `lead ++ trailing`.
fn expand_trailing(g: &mut TGraph, t: TId, trailing: &[usize]) -> TId {
    if trailing.is_empty() {
        return t;
    }
    let lead = g.shape(t).len();
    if lead == 0 {
        // A scalar broadcasts by itself in element-wise operations.
        return t;
    }
    let mut node = t;
    for &extent in trailing.iter().rev() {
        node = g.apply(
            TOp::Broadcast {
                extent: extent as u32,
            },
            &[node],
        );
    }
    // Now `trailing ++ lead`; move the lead axes to the front.
    let k = trailing.len();
    let labels: Vec<u8> = (0..(k + lead) as u8).collect();
    let out: Vec<u8> = (k..k + lead).chain(0..k).map(|l| l as u8).collect();
    let (Some(a), Some(out)) = (Axes::new(&labels), Axes::new(&out)) else {
        return node;
    };
    g.apply(TOp::Contract(Contraction { a, b: None, out }), &[node])
}

/// The sum over the first axis of a tensor of rank `rank`.
fn sum_leading(g: &mut TGraph, t: TId, rank: usize) -> TId {
    let labels: Vec<u8> = (0..rank as u8).collect();
    let (Some(a), Some(out)) = (Axes::new(&labels), Axes::new(&labels[1..])) else {
        return t;
    };
    g.apply(TOp::Contract(Contraction { a, b: None, out }), &[t])
}

/// The adjoint of each operand of a contraction `out = Σ a·b` with adjoint `g_out`: the
/// contraction of the adjoint with the other operand onto the operand's labels, broadcast over
/// labels that only the operand has.
fn contract_adjoints(
    g: &mut TGraph,
    c: &Contraction,
    args: &[TId],
    adjoint: TId,
) -> Result<Vec<(TId, TId)>, Unsupported> {
    let operands: Vec<(TId, Vec<u8>)> = std::iter::once((args[0], c.a.labels().to_vec()))
        .chain(
            args.get(1)
                .zip(c.b)
                .map(|(&b, axes)| (b, axes.labels().to_vec())),
        )
        .collect();
    let out = c.out.labels().to_vec();
    let mut result = Vec::with_capacity(operands.len());
    for (k, (operand, labels)) in operands.iter().enumerate() {
        let mut unique = labels.clone();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() != labels.len() || {
            let mut o = out.clone();
            o.sort_unstable();
            o.dedup();
            o.len() != out.len()
        } {
            return Err(Unsupported::Diagonal(format!("{c:?}")));
        }
        let other = operands.get(1 - k).filter(|_| operands.len() == 2);
        let available = |l: &u8| out.contains(l) || other.is_some_and(|(_, ol)| ol.contains(l));
        let present: Vec<u8> = labels.iter().copied().filter(available).collect();
        let (Some(g_axes), Some(present_axes)) = (Axes::new(&out), Axes::new(&present)) else {
            return Err(Unsupported::Diagonal(format!("{c:?}")));
        };
        let spec = Contraction {
            a: g_axes,
            b: other.and_then(|(_, ol)| Axes::new(ol)),
            out: present_axes,
        };
        let mut value_args = vec![adjoint];
        if let Some((other_node, _)) = other {
            value_args.push(*other_node);
        }
        let mut value = if spec.b.is_none() && g_axes.labels() == present_axes.labels() {
            adjoint
        } else {
            g.apply(TOp::Contract(spec), &value_args)
        };
        // Labels summed in the operand alone: every element of the operand along them gets the
        // same adjoint.
        let shape = g.shape(*operand).to_vec();
        let missing: Vec<(usize, u8)> = labels
            .iter()
            .enumerate()
            .filter(|(_, l)| !available(l))
            .map(|(position, &l)| (position, l))
            .collect();
        if !missing.is_empty() {
            let mut current = present.clone();
            for &(position, label) in missing.iter().rev() {
                value = g.apply(
                    TOp::Broadcast {
                        extent: shape[position] as u32,
                    },
                    &[value],
                );
                current.insert(0, label);
            }
            if current != *labels {
                let (Some(a), Some(target)) = (Axes::new(&current), Axes::new(labels)) else {
                    return Err(Unsupported::Diagonal(format!("{c:?}")));
                };
                value = g.apply(
                    TOp::Contract(Contraction {
                        a,
                        b: None,
                        out: target,
                    }),
                    &[value],
                );
            }
        }
        result.push((*operand, value));
    }
    Ok(result)
}

/// The element-wise rules building maps over whole tensors.
struct TBuild<'g>(&'g mut TGraph);

impl Build for TBuild<'_> {
    type Id = TId;

    fn constant(&mut self, value: f64) -> TId {
        self.0.constant(value)
    }

    fn apply(&mut self, op: Op, args: &[TId]) -> TId {
        self.0.map(op, args)
    }

    fn const_value(&self, id: TId) -> Option<f64> {
        match self.0.op(id) {
            TOp::Const(bits) => Some(f64::from_bits(bits)),
            _ => None,
        }
    }

    fn depends_on_param(&self, id: TId) -> bool {
        self.0.info(id).depends_on_param
    }
}

#[cfg(test)]
mod tests;

//! Building tensor nodes from values: element-wise operations over aligned free indices,
//! contractions, and moving axes into place.
//!
//! A value's node has one leading axis per free index (in the value's own order) and then the
//! value's own shape. Before an element-wise operation, every operand is brought to the same
//! free indices, in the order they were bound (outer first), and — unless it is a plain
//! scalar, which [`TOp::Map`] broadcasts by itself — to the same own shape.

use crate::lowerer::Lowerer;
use crate::value::{Axis, Tensor, Value};
use gradc_graph::Op;
use gradc_graph::tensor::{Axes, Contraction, MAX_RANK, TId, TOp};
use gradc_syntax::{Diagnostic, codes};

impl Lowerer<'_> {
    /// `op` element by element over `operands`, whose own shapes are `own` or scalars (the
    /// caller checked that with `broadcast_shape`).
    pub fn map_values(&mut self, op: Op, operands: &[&Tensor], own: &[usize]) -> Value {
        let free = union_free(operands);
        if free.len() + own.len() > MAX_RANK {
            self.too_many_axes();
            return Value::Error;
        }
        let mut nodes = Vec::with_capacity(operands.len());
        for operand in operands {
            let Some(node) = self.reorder(operand, &free, own) else {
                return Value::Error;
            };
            nodes.push(node);
        }
        let node = self.node(TOp::Map(op), &nodes);
        Value::Tensor(Tensor {
            node,
            free,
            shape: own.to_vec(),
        })
    }

    /// A unary scalar operation on every element.
    pub fn map1(&mut self, op: Op, value: &Tensor) -> Value {
        let node = self.node(TOp::Map(op), &[value.node]);
        Value::Tensor(Tensor {
            node,
            ..value.clone()
        })
    }

    /// `t`'s node as an operand of an element-wise operation over `free` and `own`: see
    /// [`Lowerer::reorder_exact`]; but a value with neither free indices nor an own shape stays
    /// a scalar node, which element-wise operations broadcast themselves.
    pub fn reorder(&mut self, t: &Tensor, free: &[Axis], own: &[usize]) -> Option<TId> {
        if t.free.is_empty() && t.shape.is_empty() {
            return Some(t.node);
        }
        self.reorder_exact(t, free, own)
    }

    /// `t`'s node with leading axes `free` (a superset of `t.free`) and own shape `own` (`t`'s,
    /// or `[]` broadcast to it).
    pub fn reorder_exact(&mut self, t: &Tensor, free: &[Axis], own: &[usize]) -> Option<TId> {
        // The node's current axes, as (label, extent): free indices by their position in
        // `free`, own axes after them.
        let own_label = |k: usize| (free.len() + k) as u8;
        let mut axes: Vec<u8> = Vec::with_capacity(free.len() + own.len());
        for axis in &t.free {
            axes.push(free.iter().position(|f| f == axis)? as u8);
        }
        axes.extend((0..t.shape.len()).map(own_label));
        let mut node = t.node;
        // Broadcast what is missing: an own shape a scalar stands for, then free indices.
        if t.shape.is_empty() {
            for (k, &extent) in own.iter().enumerate().rev() {
                node = self.node(
                    TOp::Broadcast {
                        extent: extent as u32,
                    },
                    &[node],
                );
                axes.insert(0, own_label(k));
            }
        }
        for (k, axis) in free.iter().enumerate().rev() {
            if !t.free.contains(axis) {
                node = self.node(
                    TOp::Broadcast {
                        extent: axis.extent as u32,
                    },
                    &[node],
                );
                axes.insert(0, k as u8);
            }
        }
        let target: Vec<u8> = (0..(free.len() + own.len()) as u8).collect();
        if axes == target {
            return Some(node);
        }
        let spec = Contraction {
            a: Axes::new(&axes)?,
            b: None,
            out: Axes::new(&target)?,
        };
        Some(self.node(TOp::Contract(spec), &[node]))
    }

    /// An Einstein summation of values: `a_own` and `b_own` label the operands' own axes,
    /// `out_own` the result's; free indices are matched by identity and kept.
    pub fn contract_values(
        &mut self,
        a: &Tensor,
        a_own: &[u8],
        b: Option<(&Tensor, &[u8])>,
        out_own: &[u8],
        shape: Vec<usize>,
    ) -> Value {
        let operands: Vec<&Tensor> = std::iter::once(a).chain(b.map(|(t, _)| t)).collect();
        let free = union_free(&operands);
        // Free indices get the labels after every own label.
        let base = 1 + a_own
            .iter()
            .chain(b.iter().flat_map(|(_, l)| l.iter()))
            .chain(out_own)
            .copied()
            .max()
            .unwrap_or(0);
        let label_of =
            |axis: &Axis| base + free.iter().position(|f| f == axis).unwrap_or_default() as u8;
        let labels = |t: &Tensor, own: &[u8]| -> Vec<u8> {
            t.free
                .iter()
                .map(label_of)
                .chain(own.iter().copied())
                .collect()
        };
        let out: Vec<u8> = free
            .iter()
            .map(label_of)
            .chain(out_own.iter().copied())
            .collect();
        if out.len() > MAX_RANK || labels(a, a_own).len() > MAX_RANK {
            self.too_many_axes();
            return Value::Error;
        }
        let (Some(a_axes), Some(out_axes)) = (Axes::new(&labels(a, a_own)), Axes::new(&out)) else {
            self.too_many_axes();
            return Value::Error;
        };
        let b_axes = match b {
            Some((t, own)) => match Axes::new(&labels(t, own)) {
                Some(axes) => Some(axes),
                None => {
                    self.too_many_axes();
                    return Value::Error;
                }
            },
            None => None,
        };
        let spec = Contraction {
            a: a_axes,
            b: b_axes,
            out: out_axes,
        };
        let args: Vec<TId> = operands.iter().map(|t| t.node).collect();
        let node = self.node(TOp::Contract(spec), &args);
        Value::Tensor(Tensor { node, free, shape })
    }

    /// The sum of all own elements of a value (row-major), per free position.
    pub fn sum_own(&mut self, t: &Tensor) -> Value {
        let own: Vec<u8> = (0..t.shape.len() as u8).collect();
        self.contract_values(t, &own, None, &[], Vec::new())
    }

    fn too_many_axes(&mut self) {
        let span = self.current_span;
        self.report(
            Diagnostic::error(
                codes::TOO_MANY_DIMENSIONS,
                "too many free indices at once",
                span,
            )
            .with_label(format!(
                "more than {MAX_RANK} free indices and dimensions in one value"
            ))
            .with_hint("split the expression with `let`"),
        );
    }
}

/// The free indices of all operands, in the order they were bound.
pub(crate) fn union_free(operands: &[&Tensor]) -> Vec<Axis> {
    let mut free: Vec<Axis> = operands
        .iter()
        .flat_map(|t| t.free.iter().copied())
        .collect();
    free.sort_unstable();
    free.dedup();
    free
}

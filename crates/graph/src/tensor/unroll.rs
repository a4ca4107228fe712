//! The meaning of every tensor operation: the scalar graph it stands for.
//!
//! [`unroll`] copies the cone of some tensor nodes into a scalar [`Graph`], one scalar node per
//! element (row-major), with the scalar operations whose values [`Op::apply`] defines. The
//! tensor interpreter is tested against it, and small models run the scalar pipeline on its
//! result.

use super::{Contraction, FoldOp, TGraph, TId, TOp, size};
use crate::graph::{Graph, NodeId};
use crate::op::Op;

/// The elements of each unrolled tensor node, row-major; indexed by [`TId`].
#[derive(Clone, Debug, Default)]
pub struct Unrolled {
    pub elements: Vec<Vec<NodeId>>,
    /// The scalar nodes that unrolling each tensor node created (its elements, and the
    /// products and partial sums of a contraction): ids from `.0` to `.1`.
    pub created: Vec<(u32, u32)>,
}

impl Unrolled {
    pub fn of(&self, id: TId) -> &[NodeId] {
        &self.elements[id.index()]
    }
}

/// Unrolls the cone of `roots` of `tensors` into `graph`. Nodes outside the cone get no
/// elements.
pub fn unroll(tensors: &TGraph, roots: &[TId], graph: &mut Graph) -> Unrolled {
    let mut out = Unrolled {
        elements: vec![Vec::new(); tensors.len()],
        created: vec![(0, 0); tensors.len()],
    };
    for id in tensors.cone(roots) {
        let before = graph.len() as u32;
        let elements = unroll_node(tensors, id, &out, graph);
        out.elements[id.index()] = elements;
        out.created[id.index()] = (before, graph.len() as u32);
    }
    out
}

/// The scalar nodes of one tensor node, its operands already unrolled.
pub fn unroll_node(tensors: &TGraph, id: TId, done: &Unrolled, graph: &mut Graph) -> Vec<NodeId> {
    let args = tensors.args(id);
    let shape = tensors.shape(id);
    let n = size(shape);
    match tensors.op(id) {
        TOp::Const(bits) => vec![graph.constant(f64::from_bits(bits))],
        TOp::Iota(n) => (0..n).map(|k| graph.constant(k as f64)).collect(),
        TOp::Param(offset) => (0..n as u32).map(|k| graph.param(offset + k)).collect(),
        TOp::Input(offset) => (0..n as u32).map(|k| graph.input(offset + k)).collect(),
        TOp::Map(op) => {
            let operands: Vec<&[NodeId]> = args.iter().map(|&a| done.of(a)).collect();
            let mut scalars = Vec::with_capacity(operands.len());
            (0..n)
                .map(|k| {
                    scalars.clear();
                    // A scalar operand stands for every element.
                    scalars.extend(operands.iter().map(|e| e[if e.len() == 1 { 0 } else { k }]));
                    graph.add(op, &scalars)
                })
                .collect()
        }
        TOp::Contract(c) => {
            let a = (done.of(args[0]), tensors.shape(args[0]));
            let b = args.get(1).map(|&b| (done.of(b), tensors.shape(b)));
            contract(graph, &c, a, b, shape)
        }
        TOp::Fold { op: fold, .. } => {
            let elements = done.of(args[0]);
            let m = elements.len() / n.max(1);
            elements
                .chunks(m.max(1))
                .map(|block| match fold {
                    FoldOp::LogSumExp => graph.add(Op::LogSumExp, block),
                    FoldOp::Max | FoldOp::Min => {
                        let op = if fold == FoldOp::Max {
                            Op::Max
                        } else {
                            Op::Min
                        };
                        block[1..]
                            .iter()
                            .fold(block[0], |acc, &e| graph.add(op, &[acc, e]))
                    }
                })
                .collect()
        }
        TOp::Selected { op: fold, .. } => {
            let elements = done.of(args[0]);
            let m = fold_block(tensors, id);
            let mut out = Vec::with_capacity(elements.len());
            for block in elements.chunks(m.max(1)) {
                out.extend(selected(graph, fold, block));
            }
            out
        }
        TOp::Index { axis, position } => {
            let source = done.of(args[0]);
            let at = AxisSlice::new(tensors.shape(args[0]), axis, position);
            (0..n).map(|o| source[at.offset(o)]).collect()
        }
        TOp::Stack => args
            .iter()
            .flat_map(|&a| done.of(a).iter().copied())
            .collect(),
        TOp::Broadcast { extent } => {
            let source = done.of(args[0]);
            (0..extent).flat_map(|_| source.iter().copied()).collect()
        }
        TOp::Scatter { axis, position, .. } => {
            let slice = done.of(args[0]);
            let zero = graph.constant(0.0);
            let mut elements = vec![zero; n];
            let at = AxisSlice::new(shape, axis, position);
            for (o, &e) in slice.iter().enumerate() {
                elements[at.offset(o)] = e;
            }
            elements
        }
        TOp::RowSum | TOp::RowMean => {
            let op = if tensors.op(id) == TOp::RowSum {
                Op::RowSum
            } else {
                Op::RowMean
            };
            done.of(args[0])
                .iter()
                .map(|&e| graph.add(op, &[e]))
                .collect()
        }
    }
}

/// The elements per block of a `Selected` node: the product of its last `axes` extents.
fn fold_block(tensors: &TGraph, id: TId) -> usize {
    match tensors.op(id) {
        TOp::Selected { axes, .. } | TOp::Fold { axes, .. } => {
            let shape = tensors.shape(tensors.args(id)[0]);
            shape[shape.len() - axes as usize..].iter().product()
        }
        _ => 1,
    }
}

/// The indicator of the element a `max`/`min` fold over `block` selects, as scalar nodes:
/// with the running value `m_k = op(m_(k−1), v_k)` and `w_k = [m_(k−1) >= v_k]` (`<=` for
/// `min`), element `k` is selected where it won its step (`k = 0`, or `1 − w_k`) and every
/// later step kept it (`w_j` for `j > k`).
fn selected(graph: &mut Graph, fold: FoldOp, block: &[NodeId]) -> Vec<NodeId> {
    let (op, cmp) = match fold {
        FoldOp::Min => (Op::Min, crate::op::CmpOp::Le),
        _ => (Op::Max, crate::op::CmpOp::Ge),
    };
    let one = graph.constant(1.0);
    let mut kept = Vec::with_capacity(block.len());
    let mut running = block[0];
    for &v in &block[1..] {
        kept.push(graph.add(Op::Cmp(cmp), &[running, v]));
        running = graph.add(op, &[running, v]);
    }
    // suffix[k] = Π_{j > k} w_j.
    let mut out = vec![one; block.len()];
    let mut suffix = one;
    for k in (0..block.len()).rev() {
        let won = if k == 0 {
            one
        } else {
            graph.add(Op::Sub, &[one, kept[k - 1]])
        };
        out[k] = graph.mul(won, suffix);
        if k > 0 {
            suffix = graph.mul(suffix, kept[k - 1]);
        }
    }
    out
}

/// The elements of a tensor at one position of one axis: element `o` of the slice (row-major,
/// without the axis) is element `offset(o)` of the tensor.
pub(crate) struct AxisSlice {
    /// The elements after the axis, per position of it.
    inner: usize,
    /// The axis's extent.
    extent: usize,
    position: usize,
}

impl AxisSlice {
    pub(crate) fn new(shape: &[usize], axis: u8, position: u32) -> AxisSlice {
        let axis = axis as usize;
        AxisSlice {
            inner: shape[axis + 1..].iter().product(),
            extent: shape[axis],
            position: position as usize,
        }
    }

    pub(crate) fn offset(&self, o: usize) -> usize {
        let (outer, inner) = (o / self.inner.max(1), o % self.inner.max(1));
        (outer * self.extent + self.position) * self.inner + inner
    }
}

/// Unrolls an Einstein summation (see [`Contraction`] for the order of the sum).
fn contract(
    graph: &mut Graph,
    c: &Contraction,
    a: (&[NodeId], &[usize]),
    b: Option<(&[NodeId], &[usize])>,
    out_shape: &[usize],
) -> Vec<NodeId> {
    let plan = Plan::new(c, a.1, b.map(|b| b.1), out_shape);
    let mut terms = Vec::with_capacity(plan.summed_size);
    (0..size(out_shape))
        .map(|o| {
            terms.clear();
            plan.for_each_term(o, |ia, ib| {
                let term = match (b, ib) {
                    (Some((b, _)), Some(ib)) => graph.mul(a.0[ia], b[ib]),
                    _ => a.0[ia],
                };
                terms.push(term);
            });
            graph.sum_of(&terms)
        })
        .collect()
}

/// The element offsets of a contraction's terms, shared by [`unroll`] and the interpreter.
pub(crate) struct Plan {
    /// For each label: its extent.
    extent: Vec<usize>,
    out: Vec<u8>,
    summed: Vec<u8>,
    /// Row-major strides of each label in `a` and `b`.
    stride_a: Vec<usize>,
    stride_b: Option<Vec<usize>>,
    pub summed_size: usize,
}

impl Plan {
    pub(crate) fn new(
        c: &Contraction,
        a: &[usize],
        b: Option<&[usize]>,
        out_shape: &[usize],
    ) -> Plan {
        let labels = 1 + c
            .a
            .labels()
            .iter()
            .chain(c.b.iter().flat_map(|b| b.labels()))
            .chain(c.out.labels())
            .copied()
            .max()
            .unwrap_or(0) as usize;
        let mut extent = vec![1usize; labels];
        for (&label, &n) in c.a.labels().iter().zip(a) {
            extent[label as usize] = n;
        }
        if let (Some(axes), Some(shape)) = (&c.b, b) {
            for (&label, &n) in axes.labels().iter().zip(shape) {
                extent[label as usize] = n;
            }
        }
        for (&label, &n) in c.out.labels().iter().zip(out_shape) {
            extent[label as usize] = n;
        }
        let strides = |axes: &[u8], shape: &[usize]| {
            let mut stride = vec![0usize; labels];
            let mut step = 1;
            for (&label, &n) in axes.iter().zip(shape).rev() {
                // A label repeated within one operand (a diagonal) adds its strides.
                stride[label as usize] += step;
                step *= n;
            }
            stride
        };
        let summed = c.summed();
        let summed_size = summed.iter().map(|&l| extent[l as usize]).product();
        Plan {
            stride_a: strides(c.a.labels(), a),
            stride_b: c
                .b
                .as_ref()
                .zip(b)
                .map(|(axes, shape)| strides(axes.labels(), shape)),
            out: c.out.labels().to_vec(),
            summed,
            extent,
            summed_size,
        }
    }

    /// Calls `term(offset in a, offset in b)` for every term of output element `o` (row-major),
    /// in the order of the sum.
    pub(crate) fn for_each_term(&self, o: usize, mut term: impl FnMut(usize, Option<usize>)) {
        // The offsets of the output element's own labels.
        let (mut base_a, mut base_b) = (0usize, 0usize);
        let mut rest = o;
        for &label in self.out.iter().rev() {
            let n = self.extent[label as usize];
            let position = rest % n;
            rest /= n;
            base_a += position * self.stride_a[label as usize];
            if let Some(stride_b) = &self.stride_b {
                base_b += position * stride_b[label as usize];
            }
        }
        for t in 0..self.summed_size {
            let (mut ia, mut ib) = (base_a, base_b);
            let mut rest = t;
            for &label in self.summed.iter().rev() {
                let n = self.extent[label as usize];
                let position = rest % n;
                rest /= n;
                ia += position * self.stride_a[label as usize];
                if let Some(stride_b) = &self.stride_b {
                    ib += position * stride_b[label as usize];
                }
            }
            term(ia, self.stride_b.as_ref().map(|_| ib));
        }
    }
}

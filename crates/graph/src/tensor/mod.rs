//! The tensor graph: the same hash-consed DAG as [`crate::Graph`], but a node is a whole scalar,
//! vector or matrix, so that `param W[1000][1000]` is one node and `W @ x` another.
//!
//! A node has a shape (`[]`, `[n]`, `[m, n]`, or more for intermediate results of the
//! derivative) and, like a scalar node, may be *per-row* (it depends on an `input` outside any
//! row reduction). Operations:
//!
//! - leaves: a whole parameter or input declaration, a scalar constant;
//! - [`TOp::Map`]: a scalar [`Op`] applied element by element, scalars broadcast;
//! - [`TOp::Contract`]: an Einstein summation of one or two operands (`W @ x`, `dot`, `sum`,
//!   an outer product, a transpose);
//! - [`TOp::Fold`]: `max`, `min` or `logsumexp` over the last axes;
//! - [`TOp::Index`], [`TOp::Stack`], [`TOp::Broadcast`], [`TOp::Scatter`]: take a slice, build
//!   a tensor from equal-shaped slices or from copies of one, put a tensor into a slice of zeros
//!   (the adjoint of `Index`);
//! - [`TOp::Iota`]: `0, 1, …, n − 1`, a free index used as a number;
//! - [`TOp::RowSum`], [`TOp::RowMean`]: reductions over the data rows, element by element.
//!
//! What each operation computes is defined once, by [`unroll`]: the scalar graph a tensor node
//! stands for, built from [`Op`]s whose values are [`Op::apply`]. The tensor interpreter
//! ([`interp`]) and every faster executor must agree with it.

pub mod interp;
pub mod program;
pub mod unroll;

use crate::op::Op;
use rustc_hash::FxHashMap;
use std::fmt;

pub use program::{TPredict, TensorProgram};
pub use unroll::unroll;

/// A node of a [`TGraph`]. Ids are dense and increase in topological order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TId(pub u32);

impl TId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A shape: the extent of each axis, outermost first; `[]` for a scalar.
pub type Shape = Vec<usize>;

/// The number of elements of a shape.
pub fn size(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// The axes of one operand of a [`Contraction`], or of its result: a label per axis. Equal
/// labels are the same index; a label that is not in the result is summed over.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Axes {
    len: u8,
    labels: [u8; MAX_RANK],
}

/// The most axes a tensor of the graph may have.
pub const MAX_RANK: usize = 6;

impl Axes {
    /// Axes from labels; `None` for more than [`MAX_RANK`] axes.
    pub fn new(labels: &[u8]) -> Option<Axes> {
        if labels.len() > MAX_RANK {
            return None;
        }
        let mut axes = Axes {
            len: labels.len() as u8,
            labels: [0; MAX_RANK],
        };
        axes.labels[..labels.len()].copy_from_slice(labels);
        Some(axes)
    }

    /// The labels `0, 1, …, rank − 1` (at most [`MAX_RANK`]).
    pub fn first(rank: usize) -> Axes {
        let mut axes = Axes {
            len: rank.min(MAX_RANK) as u8,
            labels: [0; MAX_RANK],
        };
        for (k, label) in axes.labels.iter_mut().enumerate() {
            *label = k as u8;
        }
        axes
    }

    pub fn labels(&self) -> &[u8] {
        &self.labels[..self.len as usize]
    }
}

impl fmt::Debug for Axes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &label in self.labels() {
            write!(f, "{}", (b'i' + label) as char)?;
        }
        Ok(())
    }
}

/// An Einstein summation: `out[o] = Σ a[..] · b[..]` over the labels not in `out`.
///
/// The order of the sum is part of the meaning (it decides the rounding): the summed labels are
/// nested in the order they first appear in `a` then `b`, the first outermost, and the terms are
/// added left to right starting from the first, as `Graph::sum_of` does. `W @ x` (`ij,j->i`) is
/// then `((W[i][0]·x[0] + W[i][1]·x[1]) + …)`, the product the scalar lowering always built.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Contraction {
    pub a: Axes,
    /// `None` for one operand (a sum over axes, or a transpose).
    pub b: Option<Axes>,
    pub out: Axes,
}

impl fmt::Debug for Contraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.a)?;
        if let Some(b) = &self.b {
            write!(f, ",{b:?}")?;
        }
        write!(f, "->{:?}", self.out)
    }
}

impl Contraction {
    /// From labels as letters: `"ij,j->i"`. `None` if the text is not of that form.
    pub fn parse(text: &str) -> Option<Contraction> {
        let (inputs, out) = text.split_once("->")?;
        let axes = |s: &str| -> Option<Axes> {
            let labels: Option<Vec<u8>> = s
                .bytes()
                .map(|c| c.checked_sub(b'i').filter(|&l| l < 16))
                .collect();
            Axes::new(&labels?)
        };
        let (a, b) = match inputs.split_once(',') {
            Some((a, b)) => (axes(a)?, Some(axes(b)?)),
            None => (axes(inputs)?, None),
        };
        Some(Contraction {
            a,
            b,
            out: axes(out)?,
        })
    }

    /// The labels summed over, in the order of the sum (outermost first).
    pub fn summed(&self) -> Vec<u8> {
        let mut summed = Vec::new();
        let operands = self
            .a
            .labels()
            .iter()
            .chain(self.b.iter().flat_map(|b| b.labels()));
        for &label in operands {
            if !self.out.labels().contains(&label) && !summed.contains(&label) {
                summed.push(label);
            }
        }
        summed
    }

    /// The result's shape for operands of these shapes, or why they do not fit.
    pub fn shape(&self, a: &[usize], b: Option<&[usize]>) -> Result<Shape, String> {
        let mut extent: FxHashMap<u8, usize> = FxHashMap::default();
        let mut bind = |axes: &Axes, shape: &[usize]| -> Result<(), String> {
            if axes.labels().len() != shape.len() {
                return Err(format!("{self:?} given an operand of shape {shape:?}"));
            }
            for (&label, &n) in axes.labels().iter().zip(shape) {
                if *extent.entry(label).or_insert(n) != n {
                    return Err(format!("{self:?}: axis {label} has two extents"));
                }
            }
            Ok(())
        };
        bind(&self.a, a)?;
        match (&self.b, b) {
            (Some(axes), Some(shape)) => bind(axes, shape)?,
            (None, None) => {}
            _ => return Err(format!("{self:?} given the wrong number of operands")),
        }
        self.out
            .labels()
            .iter()
            .map(|label| {
                extent
                    .get(label)
                    .copied()
                    .ok_or_else(|| format!("{self:?}: output axis {label} is in no operand"))
            })
            .collect()
    }
}

/// A reduction of all elements of a tensor to a scalar, by a scalar operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FoldOp {
    /// `max(v)`: `max(max(v0, v1), v2)…`.
    Max,
    /// `min(v)`.
    Min,
    /// `logsumexp(v)`: one n-ary [`Op::LogSumExp`].
    LogSumExp,
}

/// One node's operation. See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TOp {
    /// A scalar constant, as `f64::to_bits`.
    Const(u64),
    /// The vector `0, 1, …, n − 1`: a free index used as a number.
    Iota(u32),
    /// A whole parameter: its first flat index (see `Program::params`). Row-free.
    Param(u32),
    /// A whole input: its first flat column (see `Program::inputs`). Per-row.
    Input(u32),
    /// A scalar operation element by element. Every operand has the node's shape or is a
    /// scalar (which stands for every element).
    Map(Op),
    Contract(Contraction),
    /// `max`, `min` or `logsumexp` over the last `axes` axes.
    Fold {
        op: FoldOp,
        axes: u8,
    },
    /// 1 at the element that `Fold { op, axes }` (`max` or `min`) selects over the last `axes`
    /// axes, 0 elsewhere: the derivative of the fold. The fold keeps its running value `m` and
    /// the derivative goes to `m` where `m >= v` (`<=` for `min`), so ties go to the first.
    Selected {
        op: FoldOp,
        axes: u8,
    },
    /// The slice at `position` of axis `axis` (`v[3]` is a scalar, `W[1]` a row).
    Index {
        axis: u8,
        position: u32,
    },
    /// A new first axis from operands of equal shape: `Stack(a, b)[0] = a`.
    Stack,
    /// A new first axis of `extent` equal slices: the operand repeated.
    Broadcast {
        extent: u32,
    },
    /// A new axis `axis` of `extent`, zero everywhere but at `position`, where the operand is:
    /// the adjoint of [`TOp::Index`].
    Scatter {
        axis: u8,
        position: u32,
        extent: u32,
    },
    /// The sum over the data rows, element by element (scaled by N/B on a mini-batch).
    RowSum,
    /// The mean over the data rows, element by element.
    RowMean,
}

impl TOp {
    pub fn constant(value: f64) -> TOp {
        TOp::Const(value.to_bits())
    }

    pub fn is_leaf(self) -> bool {
        matches!(
            self,
            TOp::Const(_) | TOp::Iota(_) | TOp::Param(_) | TOp::Input(_)
        )
    }

    pub fn is_row_reduction(self) -> bool {
        matches!(self, TOp::RowSum | TOp::RowMean)
    }
}

/// A node's payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TNode {
    pub op: TOp,
    pub args: Vec<TId>,
}

/// What every stage needs to know of a node, computed when it is created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TInfo {
    pub shape: Shape,
    /// Depends on an input outside any row reduction.
    pub per_row: bool,
    /// Depends on a parameter.
    pub depends_on_param: bool,
}

/// The tensor DAG. See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct TGraph {
    nodes: Vec<TNode>,
    info: Vec<TInfo>,
    interned: FxHashMap<(TNode, Shape), TId>,
}

impl TGraph {
    pub fn new() -> TGraph {
        TGraph::default()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn op(&self, id: TId) -> TOp {
        self.nodes[id.index()].op
    }

    pub fn args(&self, id: TId) -> &[TId] {
        &self.nodes[id.index()].args
    }

    pub fn info(&self, id: TId) -> &TInfo {
        &self.info[id.index()]
    }

    pub fn shape(&self, id: TId) -> &[usize] {
        &self.info[id.index()].shape
    }

    pub fn ids(&self) -> impl Iterator<Item = TId> + use<> {
        (0..self.nodes.len() as u32).map(TId)
    }

    /// A scalar constant.
    pub fn constant(&mut self, value: f64) -> TId {
        self.add(TOp::constant(value), &[], Vec::new())
    }

    /// The vector `0, 1, …, n − 1`.
    pub fn iota(&mut self, n: usize) -> TId {
        self.add(TOp::Iota(n as u32), &[], vec![n])
    }

    /// A whole parameter of `shape` whose elements start at flat index `offset`.
    pub fn param(&mut self, offset: u32, shape: Shape) -> TId {
        self.add(TOp::Param(offset), &[], shape)
    }

    /// A whole input of `shape` whose columns start at flat index `offset`.
    pub fn input(&mut self, offset: u32, shape: Shape) -> TId {
        self.add(TOp::Input(offset), &[], shape)
    }

    /// An operation on operands; its shape follows from them (see [`TGraph::result_shape`]).
    ///
    /// # Panics
    /// When the operands do not fit the operation: lowering and differentiation only build
    /// fitting nodes, so this is a bug in the caller, never caused by user input.
    pub fn apply(&mut self, op: TOp, args: &[TId]) -> TId {
        let shape = match self.result_shape(op, args) {
            Ok(shape) => shape,
            Err(why) => panic!("{op:?} on {args:?}: {why}"),
        };
        self.add(op, args, shape)
    }

    /// The shape of `op` applied to `args`, or why they do not fit.
    pub fn result_shape(&self, op: TOp, args: &[TId]) -> Result<Shape, String> {
        let shapes: Vec<&[usize]> = args.iter().map(|&a| self.shape(a)).collect();
        match op {
            TOp::Const(_) | TOp::Iota(_) | TOp::Param(_) | TOp::Input(_) => {
                Err("a leaf is made with constant, iota, param or input".to_string())
            }
            TOp::Map(scalar) => {
                if let Some(arity) = scalar.arity()
                    && arity != args.len()
                {
                    return Err(format!("{scalar:?} takes {arity} operands"));
                }
                if scalar.is_leaf() || scalar.is_row_reduction() {
                    return Err(format!("{scalar:?} is not element-wise"));
                }
                let mut shape: Option<&[usize]> = None;
                for s in &shapes {
                    if s.is_empty() {
                        continue;
                    }
                    match shape {
                        Some(first) if first != *s => {
                            return Err(format!("shapes {first:?} and {s:?}"));
                        }
                        _ => shape = Some(s),
                    }
                }
                Ok(shape.unwrap_or_default().to_vec())
            }
            TOp::Contract(c) => match shapes.as_slice() {
                [a] => c.shape(a, None),
                [a, b] => c.shape(a, Some(b)),
                _ => Err("a contraction has one or two operands".to_string()),
            },
            TOp::Fold { axes, .. } => match shapes.as_slice() {
                [s] if axes >= 1 && axes as usize <= s.len() && size(s) > 0 => {
                    Ok(s[..s.len() - axes as usize].to_vec())
                }
                _ => Err(format!("a fold over {axes} axes of {shapes:?}")),
            },
            TOp::Selected { op, axes } => match shapes.as_slice() {
                [s] if axes >= 1
                    && axes as usize <= s.len()
                    && size(s) > 0
                    && op != FoldOp::LogSumExp =>
                {
                    Ok(s.to_vec())
                }
                _ => Err(format!(
                    "the selection of a fold over {axes} axes of {shapes:?}"
                )),
            },
            TOp::Index { axis, position } => match shapes.as_slice() {
                [s] if (axis as usize) < s.len() && (position as usize) < s[axis as usize] => {
                    let mut shape = s.to_vec();
                    shape.remove(axis as usize);
                    Ok(shape)
                }
                _ => Err(format!("index {position} of axis {axis} of {shapes:?}")),
            },
            TOp::Stack => {
                let Some(first) = shapes.first() else {
                    return Err("stack of nothing".to_string());
                };
                if shapes.iter().any(|s| s != first) || first.len() + 1 > MAX_RANK {
                    return Err(format!("stack of {shapes:?}"));
                }
                let mut shape = vec![shapes.len()];
                shape.extend_from_slice(first);
                Ok(shape)
            }
            TOp::Broadcast { extent } => match shapes.as_slice() {
                [s] if s.len() < MAX_RANK => {
                    let mut shape = vec![extent as usize];
                    shape.extend_from_slice(s);
                    Ok(shape)
                }
                _ => Err(format!("broadcast of {shapes:?}")),
            },
            TOp::Scatter {
                axis,
                position,
                extent,
            } => match shapes.as_slice() {
                [s] if position < extent && (axis as usize) <= s.len() && s.len() < MAX_RANK => {
                    let mut shape = s.to_vec();
                    shape.insert(axis as usize, extent as usize);
                    Ok(shape)
                }
                _ => Err(format!("scatter of {shapes:?}")),
            },
            TOp::RowSum | TOp::RowMean => match shapes.as_slice() {
                [s] => Ok(s.to_vec()),
                _ => Err("a row reduction has one operand".to_string()),
            },
        }
    }

    fn add(&mut self, op: TOp, args: &[TId], shape: Shape) -> TId {
        assert!(
            args.iter().all(|a| a.index() < self.nodes.len()),
            "operand of {op:?} is not in the graph"
        );
        let node = TNode {
            op,
            args: args.to_vec(),
        };
        let key = (node, shape);
        if let Some(&id) = self.interned.get(&key) {
            return id;
        }
        let (node, shape) = key;
        let per_row = match op {
            TOp::Input(_) => true,
            TOp::RowSum | TOp::RowMean => false,
            _ => args.iter().any(|a| self.info[a.index()].per_row),
        };
        let depends_on_param = matches!(op, TOp::Param(_))
            || args.iter().any(|a| self.info[a.index()].depends_on_param);
        let id = TId(self.nodes.len() as u32);
        self.interned.insert((node.clone(), shape.clone()), id);
        self.nodes.push(node);
        self.info.push(TInfo {
            shape,
            per_row,
            depends_on_param,
        });
        id
    }

    /// The nodes `roots` depend on (themselves included), in topological order.
    pub fn cone(&self, roots: &[TId]) -> Vec<TId> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<TId> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut seen[id.index()], true) {
                continue;
            }
            stack.extend(self.args(id).iter().copied());
        }
        self.ids().filter(|id| seen[id.index()]).collect()
    }

    // Shorthands for the operations lowering and differentiation build most.

    pub fn map(&mut self, op: Op, args: &[TId]) -> TId {
        self.apply(TOp::Map(op), args)
    }

    /// An Einstein summation given as text (`"ij,j->i"`).
    ///
    /// # Panics
    /// When the text is not a contraction: the callers pass literals.
    pub fn contract(&mut self, spec: &str, args: &[TId]) -> TId {
        match Contraction::parse(spec) {
            Some(c) => self.apply(TOp::Contract(c), args),
            None => panic!("not a contraction: {spec}"),
        }
    }

    /// The sum of all elements (a scalar), in row-major order.
    pub fn sum_all(&mut self, a: TId) -> TId {
        let spec = Contraction {
            a: Axes::first(self.shape(a).len()),
            b: None,
            out: Axes::first(0),
        };
        self.apply(TOp::Contract(spec), &[a])
    }
}

#[cfg(test)]
mod tests;

//! A lowered `.loss` file: the graph plus what the roots and leaves mean to the user.

use crate::graph::{Graph, NodeId};
use rustc_hash::FxHashMap;

/// How a parameter's elements start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Every element set to this value.
    Value(f64),
    /// Drawn from a normal distribution, seeded by `--seed`.
    Normal { mean: f64, std_dev: f64 },
    /// Drawn uniformly from `[low, high)`, seeded by `--seed`.
    Uniform { low: f64, high: f64 },
}

/// A trainable parameter: a scalar, vector or matrix, flattened row-major into
/// `Op::Param(offset ..offset + len)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamInfo {
    pub name: String,
    /// `[]` for a scalar, `[k]` for a vector, `[m, n]` for a matrix.
    pub shape: Vec<usize>,
    /// The flat index of the first element.
    pub offset: usize,
    pub init: Init,
}

impl ParamInfo {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The display name of the element at a flat index relative to `offset`: `w`, `w[3]`,
    /// `W[1][2]`.
    pub fn element_name(&self, local: usize) -> String {
        element_name(&self.name, &self.shape, local)
    }
}

/// Where an input's columns come from in the CSV.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnSource {
    /// Columns named by header, one per element.
    Headers(Vec<String>),
    /// Columns by 0-based position, end exclusive.
    Positions { start: usize, end: usize },
}

/// A per-row data value: a scalar or vector input, flattened into
/// `Op::Input(offset ..offset + len)`.
#[derive(Clone, Debug, PartialEq)]
pub struct InputInfo {
    pub name: String,
    /// `[]` for a scalar, `[k]` for a vector.
    pub shape: Vec<usize>,
    pub offset: usize,
    pub columns: ColumnSource,
}

impl InputInfo {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn element_name(&self, local: usize) -> String {
        element_name(&self.name, &self.shape, local)
    }
}

/// A `predict` statement: one node per element.
#[derive(Clone, Debug, PartialEq)]
pub struct Predict {
    pub name: String,
    pub shape: Vec<usize>,
    pub nodes: Vec<NodeId>,
}

/// A byte range in the `.loss` source.
pub type Span = std::ops::Range<usize>;

/// The lowered model.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub graph: Graph,
    pub params: Vec<ParamInfo>,
    pub inputs: Vec<InputInfo>,
    /// The `data "…"` path as written (relative to the `.loss` file).
    pub data_path: Option<String>,
    /// The objective's root. Row-free.
    pub objective: NodeId,
    pub predicts: Vec<Predict>,
    /// The user's names for nodes (`let` bindings), used by printers for `where` bindings.
    pub names: FxHashMap<NodeId, String>,
    /// Where in the source each node was written, for error reports at run time.
    pub spans: FxHashMap<NodeId, Span>,
}

impl Program {
    /// The number of scalar parameter elements.
    pub fn param_count(&self) -> usize {
        self.params.iter().map(ParamInfo::len).sum()
    }

    /// The number of data columns the model reads.
    pub fn input_count(&self) -> usize {
        self.inputs.iter().map(InputInfo::len).sum()
    }

    /// The display name of a flat parameter index (`w[3]`).
    pub fn param_element_name(&self, flat: usize) -> String {
        self.params
            .iter()
            .find(|p| flat >= p.offset && flat < p.offset + p.len())
            .map(|p| p.element_name(flat - p.offset))
            .unwrap_or_else(|| format!("param#{flat}"))
    }

    /// The display name of a flat input index (`x[2]`).
    pub fn input_element_name(&self, flat: usize) -> String {
        self.inputs
            .iter()
            .find(|p| flat >= p.offset && flat < p.offset + p.len())
            .map(|p| p.element_name(flat - p.offset))
            .unwrap_or_else(|| format!("input#{flat}"))
    }
}

/// The display name of element `local` (row-major) of a value named `name`: `w`, `w[3]`,
/// `W[1][2]`.
pub fn element_name(name: &str, shape: &[usize], local: usize) -> String {
    match shape {
        [] => name.to_string(),
        [_] => format!("{name}[{local}]"),
        [_, n] => format!("{name}[{}][{}]", local / n, local % n),
        _ => format!("{name}[{local}]"),
    }
}

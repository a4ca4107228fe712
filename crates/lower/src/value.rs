//! What an expression lowers to: a tensor node with the free indices it varies along, or an
//! error marker.

use gradc_graph::tensor::TId;

/// The value of a lowered expression.
///
/// `Error` stands for an expression that already produced a diagnostic; every operation on it
/// yields `Error` again without reporting anything, so one mistake gives one message.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Error,
    Tensor(Tensor),
}

/// A free index of `sum(i)` or `let v[i]` that a value varies along: `x[j]` inside `sum(j)`
/// is a scalar for each `j`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Axis {
    /// Unique per binding, in the order indices are bound (outer first).
    pub id: u32,
    pub extent: usize,
}

/// A scalar, vector or matrix value, possibly one per position of some free indices.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tensor {
    /// The node: one leading axis per free index (in the order of `free`), then `shape`.
    pub node: TId,
    pub free: Vec<Axis>,
    /// The value's own shape: `[]`, `[k]` or `[m, n]`.
    pub shape: Vec<usize>,
}

impl Tensor {
    /// A value with no free indices.
    pub fn plain(node: TId, shape: Vec<usize>) -> Tensor {
        Tensor {
            node,
            free: Vec::new(),
            shape,
        }
    }

    pub fn is_scalar(&self) -> bool {
        self.shape.is_empty()
    }

    /// The number of elements of the value's own shape.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

impl Value {
    pub fn plain(node: TId, shape: Vec<usize>) -> Value {
        Value::Tensor(Tensor::plain(node, shape))
    }

    pub fn scalar(node: TId) -> Value {
        Value::plain(node, Vec::new())
    }
}

/// A shape as users read it in messages: `a scalar`, `a vector [4]`, `a matrix [2][3]`.
pub(crate) fn describe_shape(shape: &[usize]) -> String {
    match shape {
        [] => "a scalar".to_string(),
        [k] => format!("a vector [{k}]"),
        dims => {
            let text: String = dims.iter().map(|d| format!("[{d}]")).collect();
            format!("a matrix {text}")
        }
    }
}

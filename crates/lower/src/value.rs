//! What an expression lowers to: a tensor of scalar graph nodes, or an error marker.

use gradc_graph::NodeId;

/// The value of a lowered expression.
///
/// `Error` stands for an expression that already produced a diagnostic; every operation on it
/// yields `Error` again without reporting anything, so one mistake gives one message.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Error,
    Tensor(Tensor),
}

/// A scalar, vector or matrix, unrolled into one graph node per element (row-major).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tensor {
    /// `[]`, `[k]` or `[m, n]`.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` nodes.
    pub nodes: Vec<NodeId>,
}

impl Tensor {
    pub fn scalar(node: NodeId) -> Tensor {
        Tensor {
            shape: Vec::new(),
            nodes: vec![node],
        }
    }

    pub fn is_scalar(&self) -> bool {
        self.shape.is_empty()
    }

    /// The node of element `k`, broadcasting a scalar to every position.
    pub fn element(&self, k: usize) -> NodeId {
        if self.is_scalar() {
            self.nodes[0]
        } else {
            self.nodes[k]
        }
    }
}

impl Value {
    pub fn scalar(node: NodeId) -> Value {
        Value::Tensor(Tensor::scalar(node))
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

//! Objectives over a model's derived graph, as optimizers and `gradc check` see them.

pub use gradc_minimize::{Batch, Objective};

use gradc_graph::interp::{Data, evaluate_rows};
use gradc_graph::{Graph, NodeId};

/// The objective evaluated by the reference interpreter: the oracle, and the fallback where no
/// native code is available.
pub struct Interpreted<'a> {
    pub graph: &'a Graph,
    pub objective: NodeId,
    pub gradient: &'a [NodeId],
    pub data: &'a Data,
}

impl Interpreted<'_> {
    fn rows<'b>(batch: &Batch<'b>) -> Option<&'b [usize]> {
        match batch {
            Batch::All => None,
            Batch::Rows(rows) => Some(rows),
        }
    }
}

impl Objective for Interpreted<'_> {
    fn param_count(&self) -> usize {
        self.gradient.len()
    }

    fn row_count(&self) -> usize {
        self.data.n_rows
    }

    fn value(&self, params: &[f64], batch: Batch) -> f64 {
        evaluate_rows(
            self.graph,
            &[self.objective],
            params,
            self.data,
            Self::rows(&batch),
        )
        .map_or(f64::NAN, |v| v[0])
    }

    fn value_grad(&self, params: &[f64], batch: Batch, grad: &mut [f64]) -> f64 {
        let mut roots = vec![self.objective];
        roots.extend(self.gradient);
        match evaluate_rows(self.graph, &roots, params, self.data, Self::rows(&batch)) {
            Ok(values) => {
                grad.copy_from_slice(&values[1..]);
                values[0]
            }
            Err(_) => {
                grad.fill(f64::NAN);
                f64::NAN
            }
        }
    }
}

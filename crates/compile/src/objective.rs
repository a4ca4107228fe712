//! [`Objective`]: the three kernels an optimizer needs (value; value and gradient; value,
//! gradient and Hessian), compiled from nodes of one graph.

use crate::data::{KernelData, RowSet};
use crate::error::{CompileError, EvalError};
use crate::kernel::{Kernel, KernelOptions, Threads};
use gradc_graph::{Graph, NodeId};

/// A compiled objective with its derivatives. Each kind of evaluation is one native kernel that
/// computes everything it returns in one sweep over the rows (shared subexpressions once).
#[derive(Debug)]
pub struct Objective {
    n_params: usize,
    /// The value-only kernel, compiled on first use (first-order methods never need it, and
    /// for a large network it is a third of the compile time); `None` inside if it failed,
    /// and then the value comes from the value-and-gradient kernel.
    value: std::sync::OnceLock<Option<Kernel>>,
    value_source: (Graph, NodeId, usize, KernelOptions),
    value_grad: Kernel,
    value_grad_hess: Option<Kernel>,
    threads: Threads,
}

impl Objective {
    /// Compiles `objective` (a row-free root), its `gradient` (one node per parameter element,
    /// e.g. from `gradc_grad::grad`) and optionally its `hessian` (`hessian[i][j]`, e.g. from
    /// `gradc_grad::hessian`), for a model with `n_inputs` data columns.
    pub fn compile(
        graph: &Graph,
        n_inputs: usize,
        objective: NodeId,
        gradient: &[NodeId],
        hessian: Option<&[Vec<NodeId>]>,
    ) -> Result<Objective, CompileError> {
        Objective::compile_with(
            graph,
            n_inputs,
            objective,
            gradient,
            hessian,
            KernelOptions::default(),
        )
    }

    /// [`Objective::compile`] with kernel options.
    pub fn compile_with(
        graph: &Graph,
        n_inputs: usize,
        objective: NodeId,
        gradient: &[NodeId],
        hessian: Option<&[Vec<NodeId>]>,
        options: KernelOptions,
    ) -> Result<Objective, CompileError> {
        let n = gradient.len();
        let value = std::sync::OnceLock::new();
        let value_source = (graph.clone(), objective, n_inputs, options);
        let mut roots = Vec::with_capacity(1 + n);
        roots.push(objective);
        roots.extend_from_slice(gradient);
        let value_grad = Kernel::compile_with(graph, &roots, n, n_inputs, options)?;
        let value_grad_hess = match hessian {
            None => None,
            Some(rows) => {
                if rows.len() != n || rows.iter().any(|r| r.len() != n) {
                    return Err(CompileError::HessianShape { n_params: n });
                }
                roots.extend(rows.iter().flatten().copied());
                Some(Kernel::compile_with(graph, &roots, n, n_inputs, options)?)
            }
        };
        Ok(Objective {
            n_params: n,
            value,
            value_source,
            value_grad,
            value_grad_hess,
            threads: Threads::serial(),
        })
    }

    /// Evaluates on `threads` from now on (the results do not change, only the speed).
    pub fn with_threads(mut self, threads: Threads) -> Objective {
        self.threads = threads;
        self
    }

    pub fn n_params(&self) -> usize {
        self.n_params
    }

    pub fn has_hessian(&self) -> bool {
        self.value_grad_hess.is_some()
    }

    /// The objective's value.
    pub fn value(
        &self,
        params: &[f64],
        data: &KernelData,
        rows: RowSet<'_>,
    ) -> Result<f64, EvalError> {
        let kernel = self.value.get_or_init(|| {
            let (graph, objective, n_inputs, options) = &self.value_source;
            Kernel::compile_with(graph, &[*objective], self.n_params, *n_inputs, *options).ok()
        });
        match kernel {
            Some(kernel) => {
                let mut out = [0.0];
                kernel.eval_threads(params, data, rows, &mut out, &self.threads)?;
                Ok(out[0])
            }
            None => {
                let mut grad = vec![0.0; self.n_params];
                self.value_grad(params, data, rows, &mut grad)
            }
        }
    }

    /// The value, with the gradient written to `grad` (length `n_params`).
    #[inline]
    pub fn value_grad(
        &self,
        params: &[f64],
        data: &KernelData,
        rows: RowSet<'_>,
        grad: &mut [f64],
    ) -> Result<f64, EvalError> {
        check_len(grad.len(), self.n_params)?;
        // Straight into the caller's gradient: no intermediate buffer, no copy.
        let mut value = 0.0;
        self.value_grad
            .eval_split(params, data, rows, &mut value, grad, &self.threads)?;
        Ok(value)
    }

    /// The value, with the gradient written to `grad` and the Hessian to `hess` (row-major,
    /// `n_params × n_params`).
    pub fn value_grad_hess(
        &self,
        params: &[f64],
        data: &KernelData,
        rows: RowSet<'_>,
        grad: &mut [f64],
        hess: &mut [f64],
    ) -> Result<f64, EvalError> {
        let kernel = self.value_grad_hess.as_ref().ok_or(EvalError::NoHessian)?;
        let n = self.n_params;
        check_len(grad.len(), n)?;
        check_len(hess.len(), n * n)?;
        let mut out = vec![0.0; 1 + n + n * n];
        kernel.eval_threads(params, data, rows, &mut out, &self.threads)?;
        grad.copy_from_slice(&out[1..1 + n]);
        hess.copy_from_slice(&out[1 + n..]);
        Ok(out[0])
    }
}

fn check_len(given: usize, expected: usize) -> Result<(), EvalError> {
    if given == expected {
        Ok(())
    } else {
        Err(EvalError::OutputLength { expected, given })
    }
}

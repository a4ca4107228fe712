//! Objectives over a model's derived graph, as optimizers and `gradc check` see them.

pub use gradc_minimize::{Batch, Objective};

use gradc_compile::FusedSteps;
use gradc_graph::interp::Data;
use gradc_graph::{Graph, NodeId};
use gradc_minimize::{Fused, Method};
use std::sync::{Arc, Mutex};

/// The objective as native code: the simplified value and gradient (and Hessian) JIT-compiled
/// by `gradc-compile`, over the data in the kernels' row-major layout.
pub struct Native {
    compiled: Arc<gradc_compile::Objective>,
    data: gradc_compile::KernelData,
    fusion: Option<Arc<Fusion>>,
}

/// What a fused optimizer loop is compiled from, and the loops compiled so far (one per kind
/// of method, on first use; `None` when the objective cannot have one).
struct Fusion {
    graph: Graph,
    value: NodeId,
    gradient: Vec<NodeId>,
    compiled: Mutex<Vec<(&'static str, CompiledSteps)>>,
}

/// A kind of method's fused loop, or `None` if it could not be compiled.
type CompiledSteps = Option<Arc<FusedSteps>>;

/// Why native code could not be made.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    #[error("code generation failed: {0}")]
    Compile(#[from] gradc_compile::CompileError),
    #[error("the data does not fit the model: {0}")]
    Data(#[from] gradc_compile::EvalError),
    #[error("cannot start {0} threads: {1}")]
    Threads(usize, String),
}

/// A pool of `count` threads for kernels (0: as many as the machine has cores).
pub fn threads(count: usize) -> Result<gradc_compile::Threads, NativeError> {
    let count = if count == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        count
    };
    gradc_compile::Threads::new(count).map_err(|e| NativeError::Threads(count, e.to_string()))
}

/// The values of `roots` (per-row or row-free nodes of `graph`) on every row of `data`, as
/// native code: one vector per row (`gradc eval`'s predictions).
pub fn per_row(
    graph: &Graph,
    roots: &[NodeId],
    n_params: usize,
    params: &[f64],
    data: &Data,
    threads: usize,
) -> Result<Vec<Vec<f64>>, NativeError> {
    let kernel = gradc_compile::Kernel::compile_rows(
        graph,
        roots,
        n_params,
        data.columns.len(),
        gradc_compile::KernelOptions::default(),
    )?;
    let kernel_data = gradc_compile::KernelData::from_data(data)?;
    let mut values = vec![0.0; data.n_rows * roots.len()];
    kernel.eval_rows(
        params,
        &kernel_data,
        gradc_compile::RowSet::All,
        &mut values,
        &self::threads(threads)?,
    )?;
    if roots.is_empty() {
        return Ok(vec![Vec::new(); data.n_rows]);
    }
    Ok(values.chunks(roots.len()).map(<[f64]>::to_vec).collect())
}

impl Native {
    /// Compiles the derived expressions for `data` on `threads` threads (0: all cores).
    pub fn compile(
        derived: &crate::Derived,
        n_inputs: usize,
        data: &Data,
        threads: usize,
    ) -> Result<Native, NativeError> {
        let compiled = gradc_compile::Objective::compile(
            &derived.graph,
            n_inputs,
            derived.objective,
            &derived.gradient,
            derived.hessian.as_deref(),
        )?;
        let pool = self::threads(threads)?;
        // Only a small model without data can have a fused optimizer loop.
        let fusion = (n_inputs == 0 && derived.gradient.len() <= gradc_compile::MAX_FUSED_PARAMS)
            .then(|| {
                Arc::new(Fusion {
                    graph: derived.graph.clone(),
                    value: derived.objective,
                    gradient: derived.gradient.clone(),
                    compiled: Mutex::new(Vec::new()),
                })
            });
        Ok(Native {
            compiled: Arc::new(compiled.with_threads(pool)),
            data: gradc_compile::KernelData::from_data(data)?,
            fusion,
        })
    }

    /// The same compiled code over other rows (the validation part of `--validate`).
    pub fn on(&self, data: &Data) -> Result<Native, NativeError> {
        Ok(Native {
            compiled: self.compiled.clone(),
            data: gradc_compile::KernelData::from_data(data)?,
            fusion: self.fusion.clone(),
        })
    }

    fn rows<'b>(batch: &Batch<'b>) -> gradc_compile::RowSet<'b> {
        match batch {
            Batch::All => gradc_compile::RowSet::All,
            Batch::Rows(rows) => gradc_compile::RowSet::Subset(rows),
        }
    }
}

// Evaluation errors are length and index mismatches, which `Native::compile` rules out; should
// one happen anyway, it shows as a non-finite loss (a diverged run), never as a panic.
impl Objective for Native {
    fn param_count(&self) -> usize {
        self.compiled.n_params()
    }

    fn row_count(&self) -> usize {
        self.data.n_rows()
    }

    fn value(&self, params: &[f64], batch: Batch) -> f64 {
        self.compiled
            .value(params, &self.data, Self::rows(&batch))
            .unwrap_or(f64::NAN)
    }

    fn value_grad_hess(&self, params: &[f64], grad: &mut [f64], hess: &mut [f64]) -> Option<f64> {
        if !self.compiled.has_hessian() {
            return None;
        }
        Some(
            self.compiled
                .value_grad_hess(params, &self.data, gradc_compile::RowSet::All, grad, hess)
                .unwrap_or_else(|_| {
                    grad.fill(f64::NAN);
                    hess.fill(f64::NAN);
                    f64::NAN
                }),
        )
    }

    /// The value, gradient and update compiled into one loop, for a model without data (the
    /// first request for a kind of method compiles it: a few milliseconds).
    fn fused(&self, method: Method) -> Option<Arc<dyn Fused>> {
        let fusion = self.fusion.as_ref()?;
        let kind = FusedSteps::kind(method);
        let mut compiled = fusion
            .compiled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, steps)) = compiled.iter().find(|(k, _)| *k == kind) {
            return steps.clone().map(|s| s as Arc<dyn Fused>);
        }
        let steps = FusedSteps::compile(&fusion.graph, fusion.value, &fusion.gradient, method).ok();
        let steps = steps.map(Arc::new);
        compiled.push((kind, steps.clone()));
        steps.map(|s| s as Arc<dyn Fused>)
    }

    fn value_grad(&self, params: &[f64], batch: Batch, grad: &mut [f64]) -> f64 {
        match self
            .compiled
            .value_grad(params, &self.data, Self::rows(&batch), grad)
        {
            Ok(v) => v,
            Err(_) => {
                grad.fill(f64::NAN);
                f64::NAN
            }
        }
    }
}

//! [`FusedSteps`]: a first-order method's update compiled into one native loop with the value
//! and gradient of a model without data (see [`gradc_minimize::fused`]).

use crate::codegen::{self, Code, FusedArgs, FusedFn};
use crate::error::CompileError;
use crate::kernel::KernelOptions;
use crate::plan::Plan;
use gradc_graph::{Graph, NodeId};
use gradc_minimize::{Fused, FusedBlock, Method};

/// The most parameters a fused loop carries in registers (more would only be spilled).
pub const MAX_FUSED_PARAMS: usize = 64;
/// The most graph nodes of a fused loop's body (one function; see
/// [`KernelOptions::segment_nodes`](crate::KernelOptions::segment_nodes)).
pub const MAX_FUSED_NODES: usize = 2048;

/// The steps of one method (any hyper-parameters) on one objective, as native code.
pub struct FusedSteps {
    n_params: usize,
    kind: &'static str,
    function: FusedFn,
    /// The IR text of the loop's function, if [`KernelOptions::keep_ir`] asked for it.
    ir: Vec<String>,
    /// Owns the executable memory `function` points into.
    _code: Code,
}

impl std::fmt::Debug for FusedSteps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FusedSteps")
            .field("n_params", &self.n_params)
            .field("method", &self.kind)
            .finish()
    }
}

impl FusedSteps {
    /// Compiles the steps of `method` (its kind: the hyper-parameters are arguments of each
    /// block) for the objective `value` with gradient `gradient` (one node per parameter).
    /// Fails with [`CompileError::NotFusable`] for a graph that reads data, has more than
    /// [`MAX_FUSED_PARAMS`] parameters or [`MAX_FUSED_NODES`] nodes, or for Nesterov's method
    /// (its gradient is taken at a look-ahead point).
    pub fn compile(
        graph: &Graph,
        value: NodeId,
        gradient: &[NodeId],
        method: Method,
    ) -> Result<FusedSteps, CompileError> {
        FusedSteps::compile_with(graph, value, gradient, method, KernelOptions::default())
    }

    /// [`FusedSteps::compile`] with options. Of the options only [`KernelOptions::keep_ir`]
    /// applies: a fused loop reads no rows and is one function.
    pub fn compile_with(
        graph: &Graph,
        value: NodeId,
        gradient: &[NodeId],
        method: Method,
        options: KernelOptions,
    ) -> Result<FusedSteps, CompileError> {
        let n_params = gradient.len();
        if method.is_nesterov() {
            return Err(CompileError::NotFusable("Nesterov's look-ahead gradient"));
        }
        if n_params > MAX_FUSED_PARAMS {
            return Err(CompileError::NotFusable("too many parameters"));
        }
        let mut roots = Vec::with_capacity(1 + n_params);
        roots.push(value);
        roots.extend_from_slice(gradient);
        // No data columns: a graph that reads one fails here.
        let plan = Plan::new(graph, &roots, n_params, 0, usize::MAX)?;
        let nodes: usize = plan
            .stages
            .iter()
            .map(|s| s.row_free.iter().map(Vec::len).sum::<usize>())
            .sum();
        if nodes > MAX_FUSED_NODES {
            return Err(CompileError::NotFusable("too many nodes"));
        }
        let compiled =
            codegen::compile_fused(graph, &plan, value, gradient, method, options.keep_ir)?;
        Ok(FusedSteps {
            n_params,
            kind: FusedSteps::kind(method),
            function: compiled.function,
            ir: compiled.ir,
            _code: Code::new(compiled.module),
        })
    }

    /// The Cranelift IR of the loop's function, as the code generator emitted it (see
    /// [`Kernel::ir`](crate::Kernel::ir)). Empty unless compiled with
    /// [`KernelOptions::keep_ir`].
    pub fn ir(&self) -> &[String] {
        &self.ir
    }

    pub fn n_params(&self) -> usize {
        self.n_params
    }

    /// Which code runs `method`'s steps: its name, with `sgd` (on all rows) as `gd`. One
    /// [`FusedSteps`] serves every method of its kind, whatever the hyper-parameters.
    pub fn kind(method: Method) -> &'static str {
        match method {
            Method::Sgd => Method::Gd.name(),
            _ => method.name(),
        }
    }

    /// Whether this code runs `method`'s steps.
    pub fn runs(&self, method: Method) -> bool {
        self.kind == FusedSteps::kind(method)
    }
}

impl Fused for FusedSteps {
    fn run(&self, block: FusedBlock<'_>) -> usize {
        let n = self.n_params;
        let lengths_fit = block.params.len() == n
            && block.before.len() == n
            && block.first.len() == n
            && block.second.len() == n
            && (block.rates.len() == 1 || block.rates.len() == block.steps);
        if !lengths_fit || !self.runs(block.method) || block.steps == 0 {
            return 0;
        }
        let hyper = codegen::hyper_parameters(block.method);
        let limits = [block.loss_limit, block.tol, block.gradient_screen];
        let args = FusedArgs {
            params: block.params.as_mut_ptr(),
            before: block.before.as_mut_ptr(),
            first: block.first.as_mut_ptr(),
            second: block.second.as_mut_ptr(),
            powers: block.powers.as_mut_ptr(),
            rates: block.rates.as_ptr(),
            rate_stride: if block.rates.len() == 1 {
                0
            } else {
                std::mem::size_of::<f64>()
            },
            hyper: hyper.as_ptr(),
            limits: limits.as_ptr(),
            loss: block.loss,
            steps: block.steps,
        };
        // SAFETY: the generated code reads and writes `params`, `before`, `first` and `second`
        // at indices < n_params, whose lengths were checked above (it reads parameter indices
        // < n_params only: `Plan::new` checked the graph's), `powers` at 0 and 1 (an array of
        // two), `hyper` at 0..3 and `limits` at 0..3 (arrays of three), `*loss`, and the rate
        // of step k at `rates + k * rate_stride` for k < steps, inside `rates` (one element with
        // stride 0, or `steps` elements, checked above). All are exclusively borrowed or local
        // for the duration of the call. The function has the `FusedFn` signature and its code
        // lives as long as `self`.
        let taken = unsafe { (self.function)(&args) };
        taken.min(block.steps)
    }
}

//! Cranelift code generation.
//!
//! Per stage: a row-pass function (the loop over a range of row positions, accumulating the
//! stage's reduction arguments) and row-free functions. A large body is cut into *segments* of
//! at most `segment_nodes` nodes (see `KernelOptions::segment_nodes`): a row pass then calls its
//! segment functions once per row, passing per-row values through a scratch array, and row-free
//! segments pass values through slots. Cranelift's register allocator is superlinear in function
//! size here (a 30k-node gradient compiles in ~2 s as one function, ~0.15 s as segments).
//!
//! Inside a function, every computed node is one SSA value. Leaves and values of other functions
//! are loaded at each use (see [`FnGen::operand`]); accumulation happens right after its argument
//! is computed, to keep live ranges short.

use crate::error::CompileError;
use crate::plan::{Plan, StagePlan};
use crate::runtime::Callee;
use cranelift_codegen::Context;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::Ieee64;
use cranelift_codegen::ir::{
    AbiParam, Block, ExternalName, Function, InstBuilder, MemFlagsData, StackSlot, StackSlotData,
    StackSlotKind, Type, UserFuncName, Value, types,
};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, default_libcall_names};
use gradc_graph::{CmpOp, Graph, NodeId, Op};
use gradc_minimize::Method;

/// The arguments of a row-pass function, passed by pointer. The generated code reads the fields
/// at the offsets of this `repr(C)` layout (nine pointer-sized fields).
#[repr(C)]
pub(crate) struct PassArgs {
    pub params: *const f64,
    pub slots: *const f64,
    /// Row-major data: row `r` starts at `data + r * stride` bytes.
    pub data: *const f64,
    /// Bytes per row.
    pub stride: usize,
    /// Row indices, or null for "position `i` is row `i`".
    pub rows: *const usize,
    /// The half-open range of positions `[start, end)` to accumulate.
    pub start: usize,
    pub end: usize,
    /// One accumulator per accumulated argument; zeroed by the caller, sums stored here.
    pub acc: *mut f64,
    /// Per-row values passed between the segments of a row (`StagePlan::n_scratch` of them).
    pub scratch: *mut f64,
}

/// A row-free function: reads `params` and `slots`, writes its values to `slots`.
pub(crate) type RowFreeFn = unsafe extern "C" fn(params: *const f64, slots: *mut f64);
/// A row-pass function.
pub(crate) type PassFn = unsafe extern "C" fn(args: *const PassArgs);

/// The arguments of a fused-steps function (see `crate::fused`), passed by pointer; the
/// generated code reads the fields at the offsets of this `repr(C)` layout (eleven
/// pointer-sized fields).
#[repr(C)]
pub(crate) struct FusedArgs {
    /// `n_params` each: read at entry, written at exit.
    pub params: *mut f64,
    pub before: *mut f64,
    pub first: *mut f64,
    pub second: *mut f64,
    /// Adam's two running powers.
    pub powers: *mut f64,
    /// The learning rate of each step, `rate_stride` bytes apart (0: one rate for every step).
    pub rates: *const f64,
    pub rate_stride: usize,
    /// The method's hyper-parameters (see `hyper_parameters`), three values.
    pub hyper: *const f64,
    /// `[loss_limit, tol, gradient_screen]`.
    pub limits: *const f64,
    /// In: the previous loss; out: the last loss accepted.
    pub loss: *mut f64,
    pub steps: usize,
}

/// A fused-steps function: returns the number of steps taken.
pub(crate) type FusedFn = unsafe extern "C" fn(args: *const FusedArgs) -> usize;

/// The values of `FusedArgs::hyper` for a method: the constants of its update formula.
pub(crate) fn hyper_parameters(method: Method) -> [f64; 3] {
    match method {
        Method::Gd | Method::Sgd => [0.0; 3],
        Method::Momentum { beta } | Method::Nesterov { beta } => [beta, 0.0, 0.0],
        Method::Adagrad { eps } => [eps, 0.0, 0.0],
        Method::Rmsprop { decay, eps } => [decay, eps, 0.0],
        Method::Adam { beta1, beta2, eps } => [beta1, beta2, eps],
    }
}

/// Up to this many accumulators live in registers (SSA variables) during a row pass; more are
/// kept in the accumulator array in memory (thousands of loop-carried values would only be
/// spilled anyway, and would slow the register allocator down).
const ACC_IN_REGISTERS: usize = 16;

/// Owns the executable memory of a JIT module and frees it on drop.
///
/// The owner ([`crate::Kernel`], [`crate::FusedSteps`]) keeps the function pointers into this
/// memory next to its `Code`; they are never copied out of it, and every call borrows the
/// owner, so when the owner is dropped no call can be running and none can follow. The mutex is
/// never locked while the code runs: it only makes the owner `Sync` (a `JITModule` is not).
pub(crate) struct Code(std::sync::Mutex<Option<JITModule>>);

impl Code {
    pub fn new(module: JITModule) -> Code {
        Code(std::sync::Mutex::new(Some(module)))
    }
}

impl Drop for Code {
    fn drop(&mut self) {
        let module = self
            .0
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(module) = module {
            // SAFETY: see the type's documentation: the only pointers into this memory belong
            // to the owner being dropped, and no call through them can be running.
            unsafe { module.free_memory() };
        }
    }
}

pub(crate) struct Compiled {
    pub module: JITModule,
    /// Per stage: the row-free segment functions, in order.
    pub row_free: Vec<Vec<RowFreeFn>>,
    pub passes: Vec<Option<PassFn>>,
    /// The IR text of every function, in the order they were defined, when it was asked for
    /// (see `KernelOptions::keep_ir`); empty otherwise.
    pub ir: Vec<String>,
}

fn codegen_error(e: impl std::fmt::Display) -> CompileError {
    CompileError::Codegen(e.to_string())
}

fn new_module() -> Result<JITModule, CompileError> {
    let mut flags = settings::builder();
    let verifier = if cfg!(debug_assertions) {
        "true"
    } else {
        "false"
    };
    for (name, value) in [
        ("opt_level", "speed"),
        ("enable_verifier", verifier),
        // cranelift-jit requires these (absolute addresses, no colocated libcalls).
        ("use_colocated_libcalls", "false"),
        ("is_pic", "false"),
        // Frames with many spilled values can exceed a page: probe the stack so that a deep
        // frame hits the guard page instead of jumping over it.
        ("enable_probestack", "true"),
        ("probestack_strategy", "inline"),
        // Nothing unwinds through generated code (the callees cannot panic).
        ("unwind_info", "false"),
    ] {
        flags.set(name, value).map_err(codegen_error)?;
    }
    let isa_builder = cranelift_native::builder()
        .map_err(|msg| CompileError::UnsupportedHost(msg.to_string()))?;
    let isa = isa_builder
        .finish(settings::Flags::new(flags))
        .map_err(codegen_error)?;
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    for callee in Callee::ALL {
        builder.symbol(callee.symbol(), callee.address());
    }
    Ok(JITModule::new(builder))
}

/// Compiles the plan's functions and links them; with `keep_ir`, keeps the IR text of each.
pub(crate) fn compile(graph: &Graph, plan: &Plan, keep_ir: bool) -> Result<Compiled, CompileError> {
    let mut module = new_module()?;
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let mut externs = [None; Callee::ALL.len()];
    let mut row_free_ids: Vec<Vec<FuncId>> = Vec::new();
    let mut pass_ids = Vec::new();
    let mut ir = Vec::new();
    for (s, stage) in plan.stages.iter().enumerate() {
        let mut generator = Gen {
            graph,
            plan,
            module: &mut module,
            externs: &mut externs,
            ctx: &mut ctx,
            fctx: &mut fctx,
            ir: keep_ir.then_some(&mut ir),
        };
        let pass = if stage.accumulated.is_empty() {
            None
        } else {
            let segments = if stage.per_row.len() > 1 {
                (0..stage.per_row.len())
                    .map(|k| {
                        generator.define(&format!("pass{s}_segment{k}"), Kind::Segment(stage, k))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            } else {
                Vec::new()
            };
            Some(generator.define(&format!("pass{s}"), Kind::Pass(stage, &segments))?)
        };
        pass_ids.push(pass);
        let row_free = (0..stage.row_free.len())
            .map(|k| {
                generator.define(
                    &format!("row_free{s}_{k}"),
                    Kind::RowFree(&stage.row_free[k]),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        row_free_ids.push(row_free);
    }
    module.finalize_definitions().map_err(codegen_error)?;
    let row_free = row_free_ids
        .into_iter()
        .map(|ids| {
            ids.into_iter()
                .map(|id| {
                    let code = module.get_finalized_function(id);
                    // SAFETY: `code` is the entry of a function finalized just above, defined
                    // with the signature (pointer, pointer) -> () in the host's default calling
                    // convention, which is `extern "C"` on every host cranelift-native supports.
                    unsafe { std::mem::transmute::<*const u8, RowFreeFn>(code) }
                })
                .collect()
        })
        .collect();
    let passes = pass_ids
        .into_iter()
        .map(|id| {
            id.map(|id| {
                let code = module.get_finalized_function(id);
                // SAFETY: as above, with the signature (pointer) -> ().
                unsafe { std::mem::transmute::<*const u8, PassFn>(code) }
            })
        })
        .collect();
    Ok(Compiled {
        module,
        row_free,
        passes,
        ir,
    })
}

/// The fused-steps function of [`compile_fused`], with the memory that holds it and, when it
/// was asked for, its IR text.
pub(crate) struct CompiledFused {
    pub module: JITModule,
    pub function: FusedFn,
    pub ir: Vec<String>,
}

/// Compiles the fused-steps function of `method` for the value `value` and gradient `gradient`
/// of a data-free plan (one stage without a row pass, one row-free segment); with `keep_ir`,
/// keeps its IR text.
pub(crate) fn compile_fused(
    graph: &Graph,
    plan: &Plan,
    value: NodeId,
    gradient: &[NodeId],
    method: Method,
    keep_ir: bool,
) -> Result<CompiledFused, CompileError> {
    let mut module = new_module()?;
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let mut externs = [None; Callee::ALL.len()];
    let empty = Vec::new();
    let nodes = match plan.stages.as_slice() {
        [] => &empty,
        [stage] if stage.accumulated.is_empty() && stage.row_free.len() <= 1 => {
            stage.row_free.first().unwrap_or(&empty)
        }
        _ => return Err(CompileError::NotFusable("the objective reads data rows")),
    };
    let mut ir = Vec::new();
    let mut generator = Gen {
        graph,
        plan,
        module: &mut module,
        externs: &mut externs,
        ctx: &mut ctx,
        fctx: &mut fctx,
        ir: keep_ir.then_some(&mut ir),
    };
    let id = generator.define(
        "fused_steps",
        Kind::Fused {
            nodes,
            value,
            gradient,
            method,
        },
    )?;
    module.finalize_definitions().map_err(codegen_error)?;
    let code = module.get_finalized_function(id);
    // SAFETY: `code` is the entry of the function finalized just above, defined with the
    // signature (pointer) -> pointer-sized integer in the host's default calling convention,
    // which is `extern "C"` on every host cranelift-native supports.
    let function = unsafe { std::mem::transmute::<*const u8, FusedFn>(code) };
    Ok(CompiledFused {
        module,
        function,
        ir,
    })
}

enum Kind<'p> {
    /// A row-free segment: `fn(params, slots)`.
    RowFree(&'p [NodeId]),
    /// A stage's row loop: `fn(args)`. With segment functions, the body calls them in order;
    /// without, it computes the stage's single segment inline.
    Pass(&'p StagePlan, &'p [FuncId]),
    /// Segment `k` of a stage's per-row code: `fn(args, row address)`.
    Segment(&'p StagePlan, usize),
    /// A loop of optimizer steps: `fn(args) -> steps taken` (see `FusedArgs`).
    Fused {
        nodes: &'p [NodeId],
        value: NodeId,
        gradient: &'p [NodeId],
        method: Method,
    },
}

struct Gen<'a> {
    graph: &'a Graph,
    plan: &'a Plan,
    module: &'a mut JITModule,
    externs: &'a mut [Option<FuncId>; Callee::ALL.len()],
    ctx: &'a mut Context,
    fctx: &'a mut FunctionBuilderContext,
    /// Where the IR text of each function goes, when it is kept (golden tests, debugging).
    ir: Option<&'a mut Vec<String>>,
}

impl Gen<'_> {
    fn define(&mut self, name: &str, kind: Kind<'_>) -> Result<FuncId, CompileError> {
        let ptr = self.module.target_config().pointer_type();
        let mut sig = self.module.make_signature();
        let n_args = match kind {
            Kind::Segment(stage, _) if stage.outputs.is_some() => 3,
            Kind::RowFree(_) | Kind::Segment(..) => 2,
            Kind::Pass(..) | Kind::Fused { .. } => 1,
        };
        for _ in 0..n_args {
            sig.params.push(AbiParam::new(ptr));
        }
        if let Kind::Fused { .. } = kind {
            sig.returns.push(AbiParam::new(ptr));
        }
        let id = self
            .module
            .declare_function(name, Linkage::Local, &sig)
            .map_err(codegen_error)?;
        self.ctx.func.signature = sig;
        self.ctx.func.name = UserFuncName::user(0, id.as_u32());
        {
            let builder = FunctionBuilder::new(&mut self.ctx.func, self.fctx);
            let mut f = FnGen {
                b: builder,
                graph: self.graph,
                plan: self.plan,
                module: self.module,
                externs: self.externs,
                refs: [None; Callee::ALL.len()],
                vals: vec![None; self.graph.len()],
                lse_slot: None,
                ptr,
                params: None,
                param_vals: None,
                slots: None,
                row: None,
                scratch: None,
                scratch_of: None,
            };
            match kind {
                Kind::RowFree(nodes) => f.row_free(nodes)?,
                Kind::Pass(stage, segments) => f.pass(stage, segments)?,
                Kind::Segment(stage, k) => f.segment(stage, k)?,
                Kind::Fused {
                    nodes,
                    value,
                    gradient,
                    method,
                } => f.fused(nodes, value, gradient, method)?,
            }
            f.b.seal_all_blocks();
            let config = f.module.target_config();
            f.b.finalize(config);
        }
        if let Some(ir) = &mut self.ir {
            // Before `define_function`, which optimizes the function in place: the text is what
            // this generator emitted, not what Cranelift made of it.
            ir.push(ir_text(self.module, &self.ctx.func, name));
        }
        self.module
            .define_function(id, self.ctx)
            .map_err(|e| CompileError::Codegen(format!("{e:?}")))?;
        self.module.clear_context(self.ctx);
        Ok(id)
    }
}

/// The IR text of `func`, named `name`, with each function it calls named by its symbol: the
/// module refers to functions by number (`u0:3`), which says nothing to a reader and changes
/// whenever a function is added. The text holds no addresses: calls go through `fn` references,
/// resolved to addresses only when the module is finalized.
fn ir_text(module: &JITModule, func: &Function, name: &str) -> String {
    let mut shown = func.clone();
    shown.name = UserFuncName::testcase(name);
    for callee in shown.dfg.ext_funcs.values_mut() {
        if let ExternalName::User(reference) = callee.name {
            let id = FuncId::from_u32(func.params.user_named_funcs()[reference].index);
            let declaration = module.declarations().get_function_decl(id);
            callee.name = ExternalName::testcase(declaration.linkage_name(id).as_bytes());
        }
    }
    shown.display().to_string()
}

/// Whether a node's code calls out (a transcendental function).
fn calls_out(graph: &Graph, id: NodeId) -> bool {
    match graph.op(id) {
        Op::Exp
        | Op::Log
        | Op::Sin
        | Op::Cos
        | Op::Tan
        | Op::Atan
        | Op::Tanh
        | Op::Sigmoid
        | Op::Softplus
        | Op::Log1p
        | Op::Expm1
        | Op::Elu
        | Op::LogSumExp => true,
        Op::Pow => !graph
            .op(graph.args(id)[1])
            .const_value()
            .is_some_and(|e| e == e.trunc() && e.abs() <= 64.0),
        _ => false,
    }
}

/// Loads of memory that the generated code only reads while it runs: aligned, in bounds.
fn readonly() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly()
}

/// The state of one function being generated.
struct FnGen<'a, 'f> {
    b: FunctionBuilder<'f>,
    graph: &'a Graph,
    plan: &'a Plan,
    module: &'a mut JITModule,
    externs: &'a mut [Option<FuncId>; Callee::ALL.len()],
    refs: [Option<cranelift_codegen::ir::FuncRef>; Callee::ALL.len()],
    /// The SSA value of each node computed or loaded in this function.
    vals: Vec<Option<Value>>,
    /// A stack slot for `logsumexp` arguments, with its size in values.
    lse_slot: Option<(StackSlot, usize)>,
    ptr: Type,
    params: Option<Value>,
    /// The parameters as SSA values (in a fused loop), instead of loads from `params`.
    param_vals: Option<Vec<Value>>,
    slots: Option<Value>,
    /// The current row's address, inside a row pass.
    row: Option<Value>,
    /// The per-row scratch array and the scratch index of per-row values, in a segment.
    scratch: Option<Value>,
    scratch_of: Option<&'a rustc_hash::FxHashMap<NodeId, usize>>,
}

impl<'a> FnGen<'a, '_> {
    fn row_free(&mut self, nodes: &[NodeId]) -> Result<(), CompileError> {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        self.params = Some(self.b.block_params(entry)[0]);
        let slots = self.b.block_params(entry)[1];
        self.slots = Some(slots);
        for &id in nodes {
            let v = self.compute(id)?;
            if let Some(slot) = self.plan.slot(id) {
                self.b
                    .ins()
                    .store(MemFlagsData::trusted(), v, slots, slot_offset(slot));
            }
        }
        self.b.ins().return_(&[]);
        Ok(())
    }

    /// Ends the current block with a jump to a new loop header that goes on to `body` while
    /// `counter < end` (unsigned) and to `exit` after; the counter is a variable starting at
    /// `start`. Returns the header (to jump back to), the counter and its value in the header.
    fn counted_loop(
        &mut self,
        start: Value,
        end: Value,
        body: Block,
        exit: Block,
    ) -> (Block, Variable, Value) {
        let counter = self.b.declare_var(self.ptr);
        self.b.def_var(counter, start);
        let header = self.b.create_block();
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let value = self.b.use_var(counter);
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, value, end);
        self.b.ins().brif(more, body, &[], exit, &[]);
        (header, counter, value)
    }

    /// Field `index` of a `repr(C)` struct of pointer-sized fields at `args` (`PassArgs`,
    /// `FusedArgs`), which the generated code only reads.
    fn field(&mut self, args: Value, index: i32) -> Value {
        let ptr = self.ptr;
        self.b
            .ins()
            .load(ptr, readonly(), args, index * ptr.bytes() as i32)
    }

    /// Loads the pointer fields of `PassArgs` this function uses; returns `acc`.
    fn load_pass_args(&mut self, args: Value) -> Value {
        self.params = Some(self.field(args, 0));
        self.slots = Some(self.field(args, 1));
        self.scratch = Some(self.field(args, 8));
        self.field(args, 7)
    }

    /// `acc[k] += v` in memory.
    fn accumulate_in_memory(&mut self, acc: Value, k: usize, v: Value) {
        let flags = MemFlagsData::trusted();
        let sum = self.b.ins().load(types::F64, flags, acc, slot_offset(k));
        let sum = self.b.ins().fadd(sum, v);
        self.b.ins().store(flags, sum, acc, slot_offset(k));
    }

    /// `acc[k] += v` in memory, or in an output stage (`outputs` = the row's address and the
    /// columns of each output), `v` stored to output `k`'s columns of the row.
    fn accumulate_or_store(
        &mut self,
        acc: Value,
        outputs: Option<(Value, &[Vec<usize>])>,
        k: usize,
        v: Value,
    ) {
        match outputs {
            Some((out_row, columns)) => {
                for &column in &columns[k] {
                    self.b
                        .ins()
                        .store(MemFlagsData::trusted(), v, out_row, slot_offset(column));
                }
            }
            None => self.accumulate_in_memory(acc, k, v),
        }
    }

    fn pass(&mut self, stage: &StagePlan, segments: &[FuncId]) -> Result<(), CompileError> {
        let ptr = self.ptr;
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let args = self.b.block_params(entry)[0];
        let acc = self.load_pass_args(args);
        let data = self.field(args, 2);
        let stride = self.field(args, 3);
        let rows = self.field(args, 4);
        let start = self.field(args, 5);
        let end = self.field(args, 6);

        // Accumulators stay in registers only in a small loop without calls (every call
        // clobbers every float register, so they would be spilled and reloaded around each).
        let n_acc = stage.accumulated.len();
        let inline = segments.is_empty();
        let columns = stage.outputs.as_deref();
        let in_registers = inline
            && columns.is_none()
            && n_acc <= ACC_IN_REGISTERS
            && !stage
                .per_row
                .iter()
                .flatten()
                .any(|&id| calls_out(self.graph, id));
        let mut acc_vars: Vec<Variable> = Vec::new();
        if in_registers {
            let zero = self.b.ins().f64const(0.0);
            for _ in 0..n_acc {
                let var = self.b.declare_var(types::F64);
                self.b.def_var(var, zero);
                acc_vars.push(var);
            }
        }
        let all_rows = self.b.ins().icmp_imm_u(IntCC::Equal, rows, 0);

        let select_row = self.b.create_block();
        let indexed = self.b.create_block();
        let body = self.b.create_block();
        let exit = self.b.create_block();
        // while position < end
        let (header, position, i) = self.counted_loop(start, end, select_row, exit);

        // The row of this position: the position itself, or rows[position].
        self.b.switch_to_block(select_row);
        self.b.ins().brif(all_rows, body, &[i.into()], indexed, &[]);
        self.b.switch_to_block(indexed);
        let byte = self.b.ins().ishl_imm_u(i, 3);
        let address = self.b.ins().iadd(rows, byte);
        let row_index = self.b.ins().load(ptr, readonly(), address, 0);
        self.b.ins().jump(body, &[row_index.into()]);

        self.b.switch_to_block(body);
        let row_index = self.b.append_block_param(body, ptr);
        let offset = self.b.ins().imul(row_index, stride);
        let row = self.b.ins().iadd(data, offset);
        self.row = Some(row);
        // In an output stage, `acc` points at the output row of position `start`, and each
        // position has a row of as many values as there are columns.
        let outputs = columns.map(|columns| {
            let width = columns.iter().map(Vec::len).sum::<usize>();
            let relative = self.b.ins().isub(i, start);
            let offset = self
                .b
                .ins()
                .imul_imm_u(relative, (width * std::mem::size_of::<f64>()) as i64);
            (self.b.ins().iadd(acc, offset), columns)
        });
        // Each argument is accumulated as soon as it is computed, which keeps live ranges short.
        let accumulate = |f: &mut Self, k: usize, v: Value| {
            if in_registers {
                let sum = f.b.use_var(acc_vars[k]);
                let sum = f.b.ins().fadd(sum, v);
                f.b.def_var(acc_vars[k], sum);
            } else {
                f.accumulate_or_store(acc, outputs, k, v);
            }
        };
        if inline {
            for &id in stage.per_row.iter().flatten() {
                let k = stage.acc_of.get(&id).copied();
                if self.graph.op(id).is_leaf() {
                    if let Some(k) = k {
                        let v = self.operand(id);
                        accumulate(self, k, v);
                    }
                    continue;
                }
                let v = self.compute(id)?;
                if let Some(k) = k {
                    accumulate(self, k, v);
                }
            }
        } else {
            for &segment in segments {
                let fref = self.module.declare_func_in_func(segment, self.b.func);
                match outputs {
                    Some((out_row, _)) => self.b.ins().call(fref, &[args, row, out_row]),
                    None => self.b.ins().call(fref, &[args, row]),
                };
            }
        }
        // Row-free arguments (the same value on every row) are accumulated by the loop itself.
        for (k, &arg) in stage.accumulated.iter().enumerate() {
            if !self.graph.flags(arg).per_row {
                let v = self.operand(arg);
                accumulate(self, k, v);
            }
        }
        let next = self.b.ins().iadd_imm_u(i, 1);
        self.b.def_var(position, next);
        self.b.ins().jump(header, &[]);

        self.b.switch_to_block(exit);
        for (k, &var) in acc_vars.iter().enumerate() {
            let sum = self.b.use_var(var);
            self.b
                .ins()
                .store(MemFlagsData::trusted(), sum, acc, slot_offset(k));
        }
        self.b.ins().return_(&[]);
        Ok(())
    }

    /// Segment `k` of a stage's per-row code, for one row: computes its nodes, stores those a
    /// later segment uses to the scratch array and accumulates the arguments it computes.
    fn segment(&mut self, stage: &'a StagePlan, k: usize) -> Result<(), CompileError> {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let args = self.b.block_params(entry)[0];
        self.row = Some(self.b.block_params(entry)[1]);
        // In an output stage, the third argument is the position's output row.
        let outputs = stage
            .outputs
            .as_deref()
            .map(|columns| (self.b.block_params(entry)[2], columns));
        let acc = self.load_pass_args(args);
        self.scratch_of = Some(&stage.scratch_of);
        let scratch = self.scratch.expect("loaded above");
        for &id in &stage.per_row[k] {
            if self.graph.op(id).is_leaf() {
                if let Some(&j) = stage.acc_of.get(&id) {
                    let v = self.operand(id);
                    self.accumulate_or_store(acc, outputs, j, v);
                }
                continue;
            }
            let v = self.compute(id)?;
            if let Some(&index) = stage.scratch_of.get(&id) {
                self.b
                    .ins()
                    .store(MemFlagsData::trusted(), v, scratch, slot_offset(index));
            }
            if let Some(&j) = stage.acc_of.get(&id) {
                self.accumulate_or_store(acc, outputs, j, v);
            }
        }
        self.b.ins().return_(&[]);
        Ok(())
    }

    /// A loop of optimizer steps (see `FusedArgs` and `gradc_minimize::FusedBlock`). Each
    /// iteration computes the value and gradient from the parameters, leaves the loop before
    /// updating if a stopping rule might fire, and otherwise updates with the operations of
    /// `MethodState::update` in the same order.
    ///
    /// Only the parameters are loop-carried SSA values: they are the path from one step to the
    /// next (x → gradient → update → x), and a spilled parameter would put a store and a load
    /// on it. The method's state (m, v, h, Δx, Adam's powers), the previous loss and the point
    /// before the update stay in their arrays, loaded and stored once per step: those chains
    /// are short and run alongside.
    fn fused(
        &mut self,
        nodes: &[NodeId],
        value: NodeId,
        gradient: &[NodeId],
        method: Method,
    ) -> Result<(), CompileError> {
        let ptr = self.ptr;
        let n = gradient.len();
        let flags = MemFlagsData::trusted();
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let args = self.b.block_params(entry)[0];
        let params_p = self.field(args, 0);
        let before_p = self.field(args, 1);
        let first_p = self.field(args, 2);
        let second_p = self.field(args, 3);
        let powers_p = self.field(args, 4);
        let rates_p = self.field(args, 5);
        let rate_stride = self.field(args, 6);
        let hyper_p = self.field(args, 7);
        let limits_p = self.field(args, 8);
        let loss_p = self.field(args, 9);
        let steps = self.field(args, 10);
        let load = |b: &mut FunctionBuilder, base: Value, index: usize| {
            b.ins().load(types::F64, flags, base, slot_offset(index))
        };
        let store = |b: &mut FunctionBuilder, v: Value, base: Value, index: usize| {
            b.ins().store(flags, v, base, slot_offset(index));
        };
        let x: Vec<Variable> = (0..n)
            .map(|i| {
                let var = self.b.declare_var(types::F64);
                let v = load(&mut self.b, params_p, i);
                self.b.def_var(var, v);
                var
            })
            .collect();
        let rate_address = self.b.declare_var(ptr);
        self.b.def_var(rate_address, rates_p);

        let body = self.b.create_block();
        let update = self.b.create_block();
        let exit = self.b.create_block();
        // while k < steps
        let zero_index = self.b.ins().iconst(ptr, 0);
        let (header, k, taken) = self.counted_loop(zero_index, steps, body, exit);

        // body: the value and gradient at x, and the stopping screens.
        self.b.switch_to_block(body);
        let xs: Vec<Value> = x.iter().map(|&var| self.b.use_var(var)).collect();
        self.param_vals = Some(xs.clone());
        for &id in nodes {
            self.compute(id)?;
        }
        let loss = self.operand(value);
        let g: Vec<Value> = gradient.iter().map(|&id| self.operand(id)).collect();
        self.param_vals = None;
        let loss_limit = load(&mut self.b, limits_p, 0);
        let tol = load(&mut self.b, limits_p, 1);
        let gradient_screen = load(&mut self.b, limits_p, 2);
        let abs_loss = self.b.ins().fabs(loss);
        let mut ok = self
            .b
            .ins()
            .fcmp(FloatCC::LessThanOrEqual, abs_loss, loss_limit);
        // Σ gᵢ² in index order, as `minimize` sums it (a sum of squares never starts at -0).
        let mut squares = None;
        for &gi in &g {
            let square = self.b.ins().fmul(gi, gi);
            squares = Some(match squares {
                None => square,
                Some(sum) => self.b.ins().fadd(sum, square),
            });
        }
        let squares = squares.unwrap_or_else(|| self.constant(0.0));
        let max = self.constant(f64::MAX);
        let finite = self.b.ins().fcmp(FloatCC::LessThanOrEqual, squares, max);
        ok = self.b.ins().band(ok, finite);
        let large = self
            .b
            .ins()
            .fcmp(FloatCC::GreaterThanOrEqual, squares, gradient_screen);
        ok = self.b.ins().band(ok, large);
        let last = load(&mut self.b, loss_p, 0);
        let change = self.b.ins().fsub(loss, last);
        let change = self.b.ins().fabs(change);
        let moving = self
            .b
            .ins()
            .fcmp(FloatCC::UnorderedOrGreaterThanOrEqual, change, tol);
        ok = self.b.ins().band(ok, moving);
        self.b.ins().brif(ok, update, &[], exit, &[]);

        // update: exactly `MethodState::update`.
        self.b.switch_to_block(update);
        store(&mut self.b, loss, loss_p, 0);
        let hyper: Vec<Value> = (0..3).map(|j| load(&mut self.b, hyper_p, j)).collect();
        let address = self.b.use_var(rate_address);
        let lr = self.b.ins().load(types::F64, flags, address, 0);
        let next_address = self.b.ins().iadd(address, rate_stride);
        self.b.def_var(rate_address, next_address);
        let one = self.constant(1.0);
        let mut adam_step = None;
        if let Method::Adam { .. } = method {
            let min_positive = self.constant(f64::MIN_POSITIVE);
            let zero = self.constant(0.0);
            let mut c = [one; 2];
            for (j, c) in c.iter_mut().enumerate() {
                let p = load(&mut self.b, powers_p, j);
                let p = self.b.ins().fmul(p, hyper[j]);
                let tiny = self.b.ins().fcmp(FloatCC::LessThan, p, min_positive);
                let p = self.b.ins().select(tiny, zero, p);
                store(&mut self.b, p, powers_p, j);
                *c = self.b.ins().fsub(one, p);
            }
            // α_t = α·√(1 − β₂ᵗ)/(1 − β₁ᵗ), ε̂ = ε·√(1 − β₂ᵗ)
            let root = self.b.ins().sqrt(c[1]);
            let scaled = self.b.ins().fmul(lr, root);
            let step = self.b.ins().fdiv(scaled, c[0]);
            let eps_hat = self.b.ins().fmul(hyper[2], root);
            adam_step = Some((step, eps_hat));
        }
        for i in 0..n {
            let (xi, gi) = (xs[i], g[i]);
            let y = match method {
                Method::Gd | Method::Sgd => {
                    let step = self.b.ins().fmul(lr, gi);
                    self.b.ins().fsub(xi, step)
                }
                Method::Momentum { .. } | Method::Nesterov { .. } => {
                    // d = β·d − η·g; y = x + d
                    let d = load(&mut self.b, first_p, i);
                    let kept = self.b.ins().fmul(hyper[0], d);
                    let step = self.b.ins().fmul(lr, gi);
                    let d = self.b.ins().fsub(kept, step);
                    store(&mut self.b, d, first_p, i);
                    self.b.ins().fadd(xi, d)
                }
                Method::Adagrad { .. } | Method::Rmsprop { .. } => {
                    let h = load(&mut self.b, second_p, i);
                    let (h, eps) = if let Method::Rmsprop { .. } = method {
                        // h = α·h + (1 − α)·g·g, multiplied left to right
                        let kept = self.b.ins().fmul(hyper[0], h);
                        let scale = self.b.ins().fsub(one, hyper[0]);
                        let new = self.b.ins().fmul(scale, gi);
                        let new = self.b.ins().fmul(new, gi);
                        (self.b.ins().fadd(kept, new), hyper[1])
                    } else {
                        // h += g·g
                        let new = self.b.ins().fmul(gi, gi);
                        (self.b.ins().fadd(h, new), hyper[0])
                    };
                    store(&mut self.b, h, second_p, i);
                    // y = x − η·g / (√h + ε)
                    let root = self.b.ins().sqrt(h);
                    let denominator = self.b.ins().fadd(root, eps);
                    let numerator = self.b.ins().fmul(lr, gi);
                    let step = self.b.ins().fdiv(numerator, denominator);
                    self.b.ins().fsub(xi, step)
                }
                Method::Adam { .. } => {
                    let (step, eps_hat) = adam_step.expect("computed above for Adam");
                    // m = β₁·m + (1 − β₁)·g
                    let m = load(&mut self.b, first_p, i);
                    let kept = self.b.ins().fmul(hyper[0], m);
                    let scale = self.b.ins().fsub(one, hyper[0]);
                    let new = self.b.ins().fmul(scale, gi);
                    let m = self.b.ins().fadd(kept, new);
                    store(&mut self.b, m, first_p, i);
                    // v = β₂·v + (1 − β₂)·g·g
                    let v = load(&mut self.b, second_p, i);
                    let kept = self.b.ins().fmul(hyper[1], v);
                    let scale = self.b.ins().fsub(one, hyper[1]);
                    let new = self.b.ins().fmul(scale, gi);
                    let new = self.b.ins().fmul(new, gi);
                    let v = self.b.ins().fadd(kept, new);
                    store(&mut self.b, v, second_p, i);
                    // y = x − α_t·m / (√v + ε̂)
                    let root = self.b.ins().sqrt(v);
                    let denominator = self.b.ins().fadd(root, eps_hat);
                    let numerator = self.b.ins().fmul(step, m);
                    let change = self.b.ins().fdiv(numerator, denominator);
                    self.b.ins().fsub(xi, change)
                }
            };
            // The point before the update, for a divergence at the next step.
            store(&mut self.b, xi, before_p, i);
            self.b.def_var(x[i], y);
        }
        let next = self.b.ins().iadd_imm_u(taken, 1);
        self.b.def_var(k, next);
        self.b.ins().jump(header, &[]);

        // exit: the parameters back to their array.
        self.b.switch_to_block(exit);
        for (i, &var) in x.iter().enumerate() {
            let v = self.b.use_var(var);
            store(&mut self.b, v, params_p, i);
        }
        let taken = self.b.use_var(k);
        self.b.ins().return_(&[taken]);
        Ok(())
    }

    /// The value of an operand: computed earlier in this function, a constant, or a load.
    ///
    /// Loads (parameters, inputs, slots, scratch) are emitted at every use rather than kept in an
    /// SSA value: reloading from L1 is cheaper than spilling around the calls that clobber every
    /// float register, and Cranelift's alias analysis still merges repeated loads between calls
    /// and stores. (Hence plain `trusted` flags: a `readonly` load would be merged across calls.)
    fn operand(&mut self, id: NodeId) -> Value {
        if let Some(v) = self.vals[id.index()] {
            return v;
        }
        let flags = MemFlagsData::trusted();
        match self.graph.op(id) {
            Op::Const(bits) => {
                let v = self.b.ins().f64const(Ieee64::with_bits(bits));
                self.vals[id.index()] = Some(v);
                v
            }
            Op::Param(i) if self.param_vals.is_some() => {
                self.param_vals.as_ref().expect("checked by the guard")[i as usize]
            }
            Op::Param(i) => {
                let params = self.params.expect("every function has the params pointer");
                self.b
                    .ins()
                    .load(types::F64, flags, params, slot_offset(i as usize))
            }
            Op::Input(i) => {
                let row = self.row.expect("inputs are read only inside a row pass");
                self.b
                    .ins()
                    .load(types::F64, flags, row, slot_offset(i as usize))
            }
            _ if self.graph.flags(id).per_row => {
                let index = self
                    .scratch_of
                    .and_then(|m| m.get(&id))
                    .expect("a per-row value from an earlier segment is in the scratch array");
                let scratch = self.scratch.expect("segments have the scratch pointer");
                self.b
                    .ins()
                    .load(types::F64, flags, scratch, slot_offset(*index))
            }
            _ => {
                let slot = self
                    .plan
                    .slot(id)
                    .expect("a value used by another function has a slot");
                let slots = self.slots.expect("every function has the slots pointer");
                self.b
                    .ins()
                    .load(types::F64, flags, slots, slot_offset(slot))
            }
        }
    }

    fn constant(&mut self, value: f64) -> Value {
        self.b.ins().f64const(value)
    }

    fn call(&mut self, callee: Callee, args: &[Value]) -> Result<Value, CompileError> {
        let fref = match self.refs[callee.index()] {
            Some(fref) => fref,
            None => {
                let id = match self.externs[callee.index()] {
                    Some(id) => id,
                    None => {
                        let mut sig = self.module.make_signature();
                        if callee == Callee::LogSumExp {
                            sig.params.push(AbiParam::new(self.ptr));
                            sig.params.push(AbiParam::new(self.ptr));
                        } else {
                            for _ in 0..callee.float_args() {
                                sig.params.push(AbiParam::new(types::F64));
                            }
                        }
                        sig.returns.push(AbiParam::new(types::F64));
                        let id = self
                            .module
                            .declare_function(callee.symbol(), Linkage::Import, &sig)
                            .map_err(codegen_error)?;
                        self.externs[callee.index()] = Some(id);
                        id
                    }
                };
                let fref = self.module.declare_func_in_func(id, self.b.func);
                self.refs[callee.index()] = Some(fref);
                fref
            }
        };
        let inst = self.b.ins().call(fref, args);
        Ok(self.b.inst_results(inst)[0])
    }

    /// Computes an operation of this function and remembers its value. (Leaves are loaded where
    /// they are used: see [`FnGen::operand`].)
    fn compute(&mut self, id: NodeId) -> Result<Value, CompileError> {
        debug_assert!(!self.graph.op(id).is_leaf());
        let v = self.op(id)?;
        self.vals[id.index()] = Some(v);
        Ok(v)
    }

    /// Emits one node's operation (or loads a leaf).
    fn op(&mut self, id: NodeId) -> Result<Value, CompileError> {
        let op = self.graph.op(id);
        if op.is_leaf() || op.is_row_reduction() {
            return Ok(self.operand(id));
        }
        let arg_ids = self.graph.args(id);
        let args: Vec<Value> = arg_ids.iter().map(|&a| self.operand(a)).collect();
        let a = args
            .first()
            .copied()
            .unwrap_or_else(|| self.constant(f64::NAN));
        let b = args.get(1).copied().unwrap_or(a);
        Ok(match op {
            Op::Add => self.b.ins().fadd(a, b),
            Op::Sub => self.b.ins().fsub(a, b),
            Op::Mul => self.b.ins().fmul(a, b),
            Op::Div => self.b.ins().fdiv(a, b),
            Op::Neg => self.b.ins().fneg(a),
            Op::Sqrt => self.b.ins().sqrt(a),
            Op::Abs => self.b.ins().fabs(a),
            Op::Pow => match self.graph.op(arg_ids[1]).const_value() {
                // Exactly the branch `gradc_graph::op::pow` takes for this exponent.
                Some(e) if e == e.trunc() && e.abs() <= 64.0 => self.powi(a, e as i32),
                _ => self.call(Callee::Pow, &[a, b])?,
            },
            Op::Exp => self.call(Callee::Exp, &[a])?,
            Op::Log => self.call(Callee::Log, &[a])?,
            Op::Sin => self.call(Callee::Sin, &[a])?,
            Op::Cos => self.call(Callee::Cos, &[a])?,
            Op::Tan => self.call(Callee::Tan, &[a])?,
            Op::Atan => self.call(Callee::Atan, &[a])?,
            Op::Tanh => self.call(Callee::Tanh, &[a])?,
            Op::Sigmoid => self.call(Callee::Sigmoid, &[a])?,
            Op::Softplus => self.call(Callee::Softplus, &[a])?,
            Op::Log1p => self.call(Callee::Log1p, &[a])?,
            Op::Expm1 => self.call(Callee::Expm1, &[a])?,
            Op::Relu => {
                // a > 0 or a is NaN: a; else 0 (so -0 becomes +0).
                let zero = self.constant(0.0);
                let keep = self.b.ins().fcmp(FloatCC::UnorderedOrGreaterThan, a, zero);
                self.b.ins().select(keep, a, zero)
            }
            // Not `fmax`/`fmin`: those return +0 for max(-0, +0), where `Op::Max` returns its
            // first operand whenever a >= b.
            Op::Max => self.nan_propagating(FloatCC::GreaterThanOrEqual, a, b),
            Op::Min => self.nan_propagating(FloatCC::LessThanOrEqual, a, b),
            Op::LeakyRelu => {
                let zero = self.constant(0.0);
                let positive = self.b.ins().fcmp(FloatCC::GreaterThan, a, zero);
                let scaled = self.b.ins().fmul(b, a);
                self.b.ins().select(positive, a, scaled)
            }
            Op::Elu => {
                let zero = self.constant(0.0);
                let positive = self.b.ins().fcmp(FloatCC::GreaterThan, a, zero);
                let e = self.call(Callee::Expm1, &[a])?;
                let scaled = self.b.ins().fmul(b, e);
                self.b.ins().select(positive, a, scaled)
            }
            Op::Sign => {
                let zero = self.constant(0.0);
                let one = self.constant(1.0);
                let minus_one = self.constant(-1.0);
                // ±0 and NaN: a * 0.
                let rest = self.b.ins().fmul(a, zero);
                let negative = self.b.ins().fcmp(FloatCC::LessThan, a, zero);
                let rest = self.b.ins().select(negative, minus_one, rest);
                let positive = self.b.ins().fcmp(FloatCC::GreaterThan, a, zero);
                self.b.ins().select(positive, one, rest)
            }
            Op::Step => {
                let zero = self.constant(0.0);
                let one = self.constant(1.0);
                let positive = self.b.ins().fcmp(FloatCC::GreaterThan, a, zero);
                let step = self.b.ins().select(positive, one, zero);
                let nan = self.b.ins().fcmp(FloatCC::Unordered, a, a);
                self.b.ins().select(nan, a, step)
            }
            Op::Cmp(c) => {
                let cc = match c {
                    CmpOp::Lt => FloatCC::LessThan,
                    CmpOp::Le => FloatCC::LessThanOrEqual,
                    CmpOp::Gt => FloatCC::GreaterThan,
                    CmpOp::Ge => FloatCC::GreaterThanOrEqual,
                    CmpOp::Eq => FloatCC::Equal,
                    // `!=` is true for NaN operands, as in Rust.
                    CmpOp::Ne => FloatCC::NotEqual,
                };
                let one = self.constant(1.0);
                let zero = self.constant(0.0);
                let holds = self.b.ins().fcmp(cc, a, b);
                self.b.ins().select(holds, one, zero)
            }
            Op::If => {
                // Both branches are computed; `c != 0` (true for NaN) selects the first.
                let zero = self.constant(0.0);
                let c = self.b.ins().fcmp(FloatCC::NotEqual, a, zero);
                self.b.ins().select(c, args[1], args[2])
            }
            Op::GuardMul => {
                // `a · b`, and +0 where `a == 0` (as `Op::apply`: `a == 0` is false for NaN).
                let zero = self.constant(0.0);
                let product = self.b.ins().fmul(a, b);
                let is_zero = self.b.ins().fcmp(FloatCC::Equal, a, zero);
                self.b.ins().select(is_zero, zero, product)
            }
            Op::LogSumExp => self.logsumexp(&args)?,
            Op::Const(_) | Op::Param(_) | Op::Input(_) | Op::RowSum | Op::RowMean => {
                unreachable!("handled above")
            }
        })
    }

    /// `max`/`min` as `Op::apply` defines them: NaN if either operand is NaN, else `a` where
    /// `a cc b`, else `b`.
    fn nan_propagating(&mut self, cc: FloatCC, a: Value, b: Value) -> Value {
        let nan = self.constant(f64::NAN);
        let first = self.b.ins().fcmp(cc, a, b);
        let chosen = self.b.ins().select(first, a, b);
        let unordered = self.b.ins().fcmp(FloatCC::Unordered, a, b);
        self.b.ins().select(unordered, nan, chosen)
    }

    /// `x.powi(n)` by the same square-and-multiply sequence as the runtime's `__powidf2`
    /// (compiler-builtins), so that the result is bit-identical to `f64::powi`.
    fn powi(&mut self, x: Value, n: i32) -> Value {
        let mut remaining = n.unsigned_abs();
        let mut base = x;
        // `None` stands for the initial 1.0 (1.0 * x == x exactly).
        let mut product: Option<Value> = None;
        loop {
            if remaining & 1 != 0 {
                product = Some(match product {
                    None => base,
                    Some(p) => self.b.ins().fmul(p, base),
                });
            }
            remaining >>= 1;
            if remaining == 0 {
                break;
            }
            base = self.b.ins().fmul(base, base);
        }
        let product = product.unwrap_or_else(|| self.constant(1.0));
        if n < 0 {
            let one = self.constant(1.0);
            self.b.ins().fdiv(one, product)
        } else {
            product
        }
    }

    fn logsumexp(&mut self, args: &[Value]) -> Result<Value, CompileError> {
        let needed = args.len().max(1);
        let slot = match self.lse_slot {
            Some((slot, size)) if size >= needed => slot,
            _ => {
                let bytes = u32::try_from(needed * 8)
                    .map_err(|_| CompileError::Codegen("logsumexp has too many operands".into()))?;
                let slot = self.b.create_sized_stack_slot(StackSlotData::new(
                    StackSlotKind::ExplicitSlot,
                    bytes,
                    3,
                ));
                self.lse_slot = Some((slot, needed));
                slot
            }
        };
        for (k, &v) in args.iter().enumerate() {
            self.b.ins().stack_store(self.ptr, v, slot, slot_offset(k));
        }
        let address = self.b.ins().stack_addr(self.ptr, slot, 0);
        let len = self.b.ins().iconst(self.ptr, args.len() as i64);
        self.call(Callee::LogSumExp, &[address, len])
    }
}

/// The byte offset of element `index` of an `f64` array.
/// `Plan::new` rejects arrays of 2^28 or more elements, so the offset fits.
fn slot_offset(index: usize) -> i32 {
    i32::try_from(index * 8).expect("arrays have fewer than 2^28 elements (checked by Plan::new)")
}

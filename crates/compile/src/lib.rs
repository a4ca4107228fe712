//! gradc-compile: native code for expression graphs, JIT-compiled with Cranelift.
//!
//! A [`Kernel`] computes a set of row-free roots of a [`gradc_graph::Graph`] (an objective, its
//! gradient, its Hessian: all at once, sharing every common subexpression) over the data rows,
//! with the loop over rows inside the generated code. [`Objective`] bundles the three kernels an
//! optimizer needs. The meaning of every operation is [`gradc_graph::Op::apply`] and the
//! evaluation order is the reference interpreter's ([`gradc_graph::interp`]); the tests check
//! native = interpreter on random graphs, bit for bit on data of up to one chunk.
//!
//! # Stages
//!
//! Nodes are scheduled by [`gradc_graph::NodeFlags::stage`], exactly as in the interpreter: for
//! each stage `s`, first one **row pass** that sums the argument of every row reduction of stage
//! `s` over the rows (a reduction's argument may use the results of earlier stages: nested
//! reductions such as `mean((x - mean(x))^2)` take one pass per nesting level), then the
//! reductions are finalized (mean: sum / B; sum: unscaled on all rows, × N/B on a subset of B of
//! N rows), then the **row-free** nodes of stage `s` are computed. Each stage compiles to a
//! row-pass function (the loop over rows is inside it) and a row-free function; a small Rust
//! driver calls them in order, never once per row. Values that cross from one function to
//! another (results of reductions, row-free values used per row or by a later stage, roots) go
//! through a scratch array of *slots*; everything else stays in SSA values. Row-free values are
//! therefore computed once per evaluation, never per row. A big function body is cut into
//! segments of at most [`KernelOptions::segment_nodes`] nodes (the row loop calls its segments
//! once per row), because Cranelift's register allocator is superlinear in function size: a
//! 30k-node MLP gradient takes ~2 s to compile as one function and ~0.15 s in segments.
//!
//! # Row kernels
//!
//! [`Kernel::compile_rows`] compiles roots that may be per-row (predictions, least-squares
//! residuals and their Jacobian rows): after the stages their reductions need, one more row pass
//! — the *output stage* — stores every root's value to an output row per row position, instead
//! of summing ([`Kernel::eval_rows`]; chunks of rows write their own output rows, in parallel
//! with a pool).
//!
//! # Code
//!
//! Arithmetic, `sqrt`, `abs`, comparisons, `max`/`min` (compare and select: Cranelift's
//! `fmax`/`fmin` differ from `Op::Max`/`Op::Min` on signed zeros), kinks (`relu`, `sign`,
//! `step`, `leaky_relu`) and `if` (both branches computed, then a select) are native
//! instructions. `x ^ n` for a constant small integer `n` is the same square-and-multiply chain
//! that `f64::powi` runs. Transcendentals are calls to `extern "C"` wrappers around the very
//! functions `Op::apply` uses (see `runtime`), so results are bit-identical to the interpreter.
//! Constants are immediates. Cranelift runs at `opt_level = speed`. Parameters, inputs and
//! slot values are loaded at each use rather than held in registers (every call clobbers all
//! float registers, and an L1 load is cheaper than a spill); accumulators live in registers in
//! small call-free loops and in memory otherwise.
//!
//! # Data layout
//!
//! [`KernelData`] is **row-major** (converted once from column-major
//! [`gradc_graph::interp::Data`]): the row loop computes one address per row and reads each
//! input at a constant offset from it, and a mini-batch of scattered rows touches one contiguous
//! run per row instead of one cache line per column.
//!
//! # Threads and determinism
//!
//! A row pass sums fixed-size chunks of row positions ([`KernelOptions::chunk_rows`], default
//! 4096, independent of the thread count), each chunk from zero, and then adds the chunk sums in
//! chunk order. [`Kernel::eval_threads`] computes the chunks in parallel with rayon; the serial
//! [`Kernel::eval`] computes the same chunks one after the other. So a given input gives
//! bit-identical results whatever the number of threads. With at most one chunk of rows the sum
//! is the interpreter's sum, bit for bit.
//!
//! # Unsafe code
//!
//! This is the only gradc crate with `unsafe`, in three kinds of places, each with a `SAFETY`
//! comment:
//! - turning the finalized code addresses into function pointers (`codegen`): the functions
//!   were defined with exactly those signatures in the host's C calling convention;
//! - calling them (`kernel`): before any call, the safe API checks the parameter count, the
//!   output length, the data width against every input column the code reads, and every row
//!   index against the row count; the compiler checked every parameter and input index against
//!   the declared counts. The generated code then only reads inside the parameter, data, row
//!   index and slot arrays and only writes the slot and accumulator arrays it is handed; stack
//!   probes guard deep frames;
//! - calling a fused loop ([`FusedSteps`]): every array it reads or writes is checked to have
//!   the parameter count (or its fixed length) first;
//! - freeing the executable memory when a [`Kernel`] or [`FusedSteps`] is dropped, when no call
//!   can be running (calls borrow it), and the `logsumexp` callee reading the arguments the
//!   generated code stored for it.
//!
//! # Fused optimizer loops
//!
//! For a model without data, [`FusedSteps`] compiles the value, the gradient and a first-order
//! method's update (`gradc_minimize::MethodState::update`, operation for operation) into one
//! native loop, so that a step of a small model costs its arithmetic and nothing else. It
//! implements `gradc_minimize::Fused`: the loop stops before the update of any step at which a
//! stopping rule might fire, and `minimize` takes that step itself, so a run's outcome is the
//! same bit for bit (tests/fused.rs compares both on random models).

mod codegen;
mod data;
mod error;
mod fused;
mod kernel;
mod objective;
mod plan;
mod runtime;

pub use data::{KernelData, RowSet};
pub use error::{CompileError, EvalError, ThreadsError};
pub use fused::{FusedSteps, MAX_FUSED_NODES, MAX_FUSED_PARAMS};
pub use kernel::{DEFAULT_CHUNK_ROWS, DEFAULT_SEGMENT_NODES, Kernel, KernelOptions, Threads};
pub use objective::Objective;

//! [`Kernel`]: a compiled root set with a safe evaluation API.

use crate::codegen::{self, Code, PassArgs, PassFn, RowFreeFn};
use crate::data::{KernelData, RowSet};
use crate::error::{CompileError, EvalError, ThreadsError};
use crate::plan::{Plan, ReductionKind, RootSource};
use gradc_graph::{Graph, NodeId};
use rayon::prelude::*;

/// The default number of row positions per chunk (see [`KernelOptions::chunk_rows`]).
pub const DEFAULT_CHUNK_ROWS: usize = 4096;

/// How a kernel is compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelOptions {
    /// Row reductions are summed in chunks of this many row positions; the chunk sums are then
    /// added in chunk order. The chunking is the same whatever the number of threads, so a
    /// kernel's results do not depend on it. Default [`DEFAULT_CHUNK_ROWS`].
    pub chunk_rows: usize,
    /// Generated functions are cut into segments of at most this many graph nodes (one
    /// function each; a row pass calls its segments once per row). Cranelift's register
    /// allocator is superlinear in function size on these graphs, so this bounds compile time;
    /// it does not change any result. Default [`DEFAULT_SEGMENT_NODES`].
    pub segment_nodes: usize,
    /// Keep the text of the Cranelift IR of every generated function, for [`Kernel::ir`]: the
    /// golden tests (crates/compile/tests/filetests) compare it with the expected IR. Off by
    /// default, since printing costs time and memory that evaluation never needs.
    pub keep_ir: bool,
}

/// The default [`KernelOptions::segment_nodes`].
pub const DEFAULT_SEGMENT_NODES: usize = 2048;

impl Default for KernelOptions {
    fn default() -> KernelOptions {
        KernelOptions {
            chunk_rows: DEFAULT_CHUNK_ROWS,
            segment_nodes: DEFAULT_SEGMENT_NODES,
            keep_ir: false,
        }
    }
}

/// A thread pool for [`Kernel::eval_threads`], or none (run on the calling thread).
#[derive(Debug)]
pub struct Threads {
    pool: Option<rayon::ThreadPool>,
}

impl Threads {
    /// Runs on the calling thread.
    pub fn serial() -> Threads {
        Threads { pool: None }
    }

    /// A pool of `count` threads; 0 or 1 means [`Threads::serial`].
    pub fn new(count: usize) -> Result<Threads, ThreadsError> {
        if count <= 1 {
            return Ok(Threads::serial());
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(count)
            .thread_name(|i| format!("gradc-kernel-{i}"))
            .build()?;
        Ok(Threads { pool: Some(pool) })
    }

    /// The number of threads evaluation uses.
    pub fn count(&self) -> usize {
        self.pool.as_ref().map_or(1, |p| p.current_num_threads())
    }
}

impl Default for Threads {
    fn default() -> Threads {
        Threads::serial()
    }
}

/// Where a kernel writes its roots.
enum Out<'a> {
    Flat(&'a mut [f64]),
    /// Root 0, then the others.
    Split(&'a mut f64, &'a mut [f64]),
    /// One row of every root's values per row position (a kernel from [`Kernel::compile_rows`]).
    Rows(&'a mut [f64]),
}

/// Kernels with at most this many slots keep them on the stack.
const STACK_SLOTS: usize = 16;

/// The accumulators of one stage and how they are finalized.
#[derive(Debug)]
struct Stage {
    row_free: Vec<RowFreeFn>,
    pass: Option<PassFn>,
    n_acc: usize,
    n_scratch: usize,
    /// (accumulator, kind, slot) of each reduction.
    reductions: Vec<(usize, ReductionKind, usize)>,
    /// The output stage of a row kernel: the pass stores rows of outputs instead of sums.
    outputs: bool,
}

/// Native code computing a set of row-free roots of a graph over data rows.
///
/// Built by [`Kernel::compile`]; evaluated by [`Kernel::eval`] (calling thread) or
/// [`Kernel::eval_threads`] (a pool), which give bit-identical results. `Kernel` is `Send` and
/// `Sync`: evaluation only reads the compiled code.
pub struct Kernel {
    n_params: usize,
    n_inputs: usize,
    /// One more than the largest input column the code reads.
    inputs_read: usize,
    n_slots: usize,
    chunk_rows: usize,
    stages: Vec<Stage>,
    roots: Vec<RootSource>,
    /// The IR text of the generated functions, if [`KernelOptions::keep_ir`] asked for it.
    ir: Vec<String>,
    /// Owns the executable memory the function pointers in `stages` point into.
    _code: Code,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("n_params", &self.n_params)
            .field("n_inputs", &self.n_inputs)
            .field("n_roots", &self.roots.len())
            .field("n_slots", &self.n_slots)
            .field("stages", &self.stages.len())
            .field("chunk_rows", &self.chunk_rows)
            .finish()
    }
}

impl Kernel {
    /// Compiles the computation of `roots` (row-free nodes of `graph`) for a model with
    /// `n_params` parameter elements and `n_inputs` data columns, with default options.
    pub fn compile(
        graph: &Graph,
        roots: &[NodeId],
        n_params: usize,
        n_inputs: usize,
    ) -> Result<Kernel, CompileError> {
        Kernel::compile_with(graph, roots, n_params, n_inputs, KernelOptions::default())
    }

    /// [`Kernel::compile`] with options.
    pub fn compile_with(
        graph: &Graph,
        roots: &[NodeId],
        n_params: usize,
        n_inputs: usize,
        options: KernelOptions,
    ) -> Result<Kernel, CompileError> {
        if options.chunk_rows == 0 {
            return Err(CompileError::ZeroChunk);
        }
        if options.segment_nodes == 0 {
            return Err(CompileError::ZeroSegment);
        }
        Kernel::from_plan(
            graph,
            Plan::new(graph, roots, n_params, n_inputs, options.segment_nodes)?,
            n_params,
            n_inputs,
            options,
        )
    }

    /// Compiles the computation of `roots`, per-row or row-free, on every row: evaluated by
    /// [`Kernel::eval_rows`] (predictions, residuals and their Jacobian rows).
    pub fn compile_rows(
        graph: &Graph,
        roots: &[NodeId],
        n_params: usize,
        n_inputs: usize,
        options: KernelOptions,
    ) -> Result<Kernel, CompileError> {
        if options.chunk_rows == 0 {
            return Err(CompileError::ZeroChunk);
        }
        if options.segment_nodes == 0 {
            return Err(CompileError::ZeroSegment);
        }
        Kernel::from_plan(
            graph,
            Plan::new_rows(graph, roots, n_params, n_inputs, options.segment_nodes)?,
            n_params,
            n_inputs,
            options,
        )
    }

    fn from_plan(
        graph: &Graph,
        plan: Plan,
        n_params: usize,
        n_inputs: usize,
        options: KernelOptions,
    ) -> Result<Kernel, CompileError> {
        let compiled = codegen::compile(graph, &plan, options.keep_ir)?;
        let stages = plan
            .stages
            .iter()
            .zip(compiled.row_free.into_iter().zip(compiled.passes))
            .map(|(stage, (row_free, pass))| Stage {
                row_free,
                pass,
                n_acc: stage.accumulated.len(),
                n_scratch: stage.n_scratch,
                reductions: stage
                    .reductions
                    .iter()
                    .map(|r| (r.acc, r.kind, r.slot))
                    .collect(),
                outputs: stage.outputs.is_some(),
            })
            .collect();
        Ok(Kernel {
            n_params,
            n_inputs,
            inputs_read: plan.inputs_read,
            n_slots: plan.n_slots,
            chunk_rows: options.chunk_rows,
            stages,
            roots: plan.roots,
            ir: compiled.ir,
            _code: Code::new(compiled.module),
        })
    }

    /// The Cranelift IR of every function this kernel was compiled to, one text per function in
    /// the order they were defined (per stage: a row pass's segments, the pass, the row-free
    /// segments), as the code generator emitted it before Cranelift optimized it. Empty unless
    /// the kernel was compiled with [`KernelOptions::keep_ir`].
    pub fn ir(&self) -> &[String] {
        &self.ir
    }

    /// The number of roots (the length `out` must have).
    pub fn n_roots(&self) -> usize {
        self.roots.len()
    }

    pub fn n_params(&self) -> usize {
        self.n_params
    }

    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    pub fn chunk_rows(&self) -> usize {
        self.chunk_rows
    }

    /// Whether this kernel computes one row of values per data row ([`Kernel::compile_rows`]).
    pub fn per_row(&self) -> bool {
        self.stages.last().is_some_and(|s| s.outputs)
    }

    /// For a kernel from [`Kernel::compile_rows`]: every root on every row position of `rows`,
    /// row-major (`out[p * n_roots + i]` is root `i` at position `p`; `out` has
    /// positions × `n_roots` elements). Bit-identical to the interpreter's per-row evaluation
    /// on data of at most one chunk of rows (with more, the reductions the roots use are summed
    /// by chunks, as in [`Kernel::eval`]).
    pub fn eval_rows(
        &self,
        params: &[f64],
        data: &KernelData,
        rows: RowSet<'_>,
        out: &mut [f64],
        threads: &Threads,
    ) -> Result<(), EvalError> {
        self.run_into(params, data, rows, Out::Rows(out), threads.pool.as_ref())
    }

    /// Evaluates every root on the calling thread, writing `out[i]` for root `i`.
    pub fn eval(
        &self,
        params: &[f64],
        data: &KernelData,
        rows: RowSet<'_>,
        out: &mut [f64],
    ) -> Result<(), EvalError> {
        self.run(params, data, rows, out, None)
    }

    /// Evaluates every root with the row passes split over `threads`. The result is
    /// bit-identical to [`Kernel::eval`].
    pub fn eval_threads(
        &self,
        params: &[f64],
        data: &KernelData,
        rows: RowSet<'_>,
        out: &mut [f64],
        threads: &Threads,
    ) -> Result<(), EvalError> {
        self.run(params, data, rows, out, threads.pool.as_ref())
    }

    /// Like [`Kernel::eval_threads`], writing root 0 to `first` and the others to `rest` (the
    /// value and the gradient of an objective, straight into the caller's buffers).
    #[inline]
    pub fn eval_split(
        &self,
        params: &[f64],
        data: &KernelData,
        rows: RowSet<'_>,
        first: &mut f64,
        rest: &mut [f64],
        threads: &Threads,
    ) -> Result<(), EvalError> {
        self.run_into(
            params,
            data,
            rows,
            Out::Split(first, rest),
            threads.pool.as_ref(),
        )
    }

    fn check(
        &self,
        params: &[f64],
        data: &KernelData,
        rows: RowSet<'_>,
        out_len: usize,
    ) -> Result<(), EvalError> {
        if params.len() != self.n_params {
            return Err(EvalError::ParamCount {
                expected: self.n_params,
                given: params.len(),
            });
        }
        if out_len != self.roots.len() {
            return Err(EvalError::OutputLength {
                expected: self.roots.len(),
                given: out_len,
            });
        }
        if data.width() < self.inputs_read {
            return Err(EvalError::DataWidth {
                needed: self.inputs_read,
                given: data.width(),
            });
        }
        if let RowSet::Subset(rows) = rows
            && let Some(&row) = rows.iter().find(|&&r| r >= data.n_rows())
        {
            return Err(EvalError::RowOutOfRange {
                row,
                n_rows: data.n_rows(),
            });
        }
        Ok(())
    }

    fn run(
        &self,
        params: &[f64],
        data: &KernelData,
        rows: RowSet<'_>,
        out: &mut [f64],
        pool: Option<&rayon::ThreadPool>,
    ) -> Result<(), EvalError> {
        self.run_into(params, data, rows, Out::Flat(out), pool)
    }

    fn run_into(
        &self,
        params: &[f64],
        data: &KernelData,
        rows: RowSet<'_>,
        mut out: Out<'_>,
        pool: Option<&rayon::ThreadPool>,
    ) -> Result<(), EvalError> {
        let n_rows = data.n_rows();
        let positions = positions(data, rows);
        let rows_out = matches!(out, Out::Rows(_));
        if rows_out != self.per_row() {
            return Err(if rows_out {
                EvalError::NotPerRow
            } else {
                EvalError::PerRow
            });
        }
        // The length of one set of roots: the output itself, or one row of it.
        let out_len = match &out {
            Out::Flat(o) => o.len(),
            Out::Split(_, rest) => 1 + rest.len(),
            Out::Rows(o) if o.len() == positions * self.roots.len() => self.roots.len(),
            Out::Rows(o) => {
                return Err(EvalError::OutputLength {
                    expected: positions * self.roots.len(),
                    given: o.len(),
                });
            }
        };
        self.check(params, data, rows, out_len)?;
        // Small kernels (an optimizer's step on a data-free model) run allocation-free.
        let mut on_stack = [0.0f64; STACK_SLOTS];
        let mut on_heap = Vec::new();
        let slots: &mut [f64] = if self.n_slots <= STACK_SLOTS {
            &mut on_stack[..self.n_slots]
        } else {
            on_heap.resize(self.n_slots, 0.0);
            &mut on_heap
        };
        for stage in &self.stages {
            if stage.outputs {
                if let (Some(pass), Out::Rows(matrix)) = (stage.pass, &mut out) {
                    self.write_rows(pass, stage, params, slots, data, rows, matrix, pool);
                }
                continue;
            }
            if let Some(pass) = stage.pass {
                let sums = self.reduce(pass, stage, params, slots, data, rows, pool);
                // Exactly the interpreter's finalization.
                let batch = positions as f64;
                for &(acc, kind, slot) in &stage.reductions {
                    let sum = sums[acc];
                    slots[slot] = match kind {
                        ReductionKind::Mean => sum / batch,
                        ReductionKind::Sum if positions == n_rows => sum,
                        ReductionKind::Sum => sum * (n_rows as f64 / batch),
                    };
                }
            }
            for &row_free in &stage.row_free {
                // SAFETY: the generated function reads `params[i]` only for parameter indices
                // of the graph, which `Plan::new` checked are < n_params == params.len()
                // (checked above), and reads and writes `slots[k]` only for k < n_slots ==
                // slots.len(). It has the `RowFreeFn` signature (see `codegen::compile`) and
                // its code lives as long as `self`.
                unsafe { row_free(params.as_ptr(), slots.as_mut_ptr()) };
            }
        }
        for (i, root) in self.roots.iter().enumerate() {
            let o = match &mut out {
                Out::Flat(o) => &mut o[i],
                Out::Split(first, _) if i == 0 => &mut **first,
                Out::Split(_, rest) => &mut rest[i - 1],
                // Written by the output stage.
                Out::Rows(_) => break,
            };
            *o = match *root {
                RootSource::Const(v) => v,
                RootSource::Param(i) => params[i],
                RootSource::Slot(s) => slots[s],
                RootSource::Row => unreachable!("only in a row kernel, whose output is Rows"),
            };
        }
        Ok(())
    }

    /// Runs an output stage's pass over the row positions, chunk by chunk (in parallel with a
    /// pool: each chunk writes its own output rows).
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn write_rows(
        &self,
        pass: PassFn,
        stage: &Stage,
        params: &[f64],
        slots: &[f64],
        data: &KernelData,
        rows: RowSet<'_>,
        out: &mut [f64],
        pool: Option<&rayon::ThreadPool>,
    ) {
        let width = self.roots.len();
        if out.is_empty() || width == 0 {
            return;
        }
        let chunk = self.chunk_rows;
        let run = |c: usize, out_chunk: &mut [f64], scratch: &mut [f64]| {
            self.run_chunk(
                pass, stage, params, slots, data, rows, c, out_chunk, scratch,
            );
        };
        match pool {
            Some(pool) if out.len() > chunk * width => pool.install(|| {
                out.par_chunks_mut(chunk * width).enumerate().for_each_init(
                    || vec![0.0f64; stage.n_scratch],
                    |scratch, (c, out_chunk)| run(c, out_chunk, scratch),
                );
            }),
            _ => {
                let mut scratch = vec![0.0f64; stage.n_scratch];
                for (c, out_chunk) in out.chunks_mut(chunk * width).enumerate() {
                    run(c, out_chunk, &mut scratch);
                }
            }
        }
    }

    /// Sums the stage's accumulated arguments over the row positions: each chunk of
    /// `chunk_rows` positions from 0, then the chunk sums in chunk order.
    #[allow(clippy::too_many_arguments)]
    // Out of line: a data-free kernel (an optimizer step on Rosenbrock) never calls it, and
    // inlined it makes every call's stack frame large.
    #[inline(never)]
    fn reduce(
        &self,
        pass: PassFn,
        stage: &Stage,
        params: &[f64],
        slots: &[f64],
        data: &KernelData,
        rows: RowSet<'_>,
        pool: Option<&rayon::ThreadPool>,
    ) -> Vec<f64> {
        let n_chunks = positions(data, rows).div_ceil(self.chunk_rows);
        let n_acc = stage.n_acc;
        let run = |c: usize, acc: &mut [f64], scratch: &mut [f64]| {
            acc.fill(0.0);
            self.run_chunk(pass, stage, params, slots, data, rows, c, acc, scratch);
        };
        let mut totals = vec![0.0f64; n_acc];
        match pool {
            Some(pool) if n_chunks > 1 => {
                let mut partials = vec![0.0f64; n_chunks * n_acc];
                pool.install(|| {
                    partials.par_chunks_mut(n_acc).enumerate().for_each_init(
                        || vec![0.0f64; stage.n_scratch],
                        |scratch, (c, acc)| run(c, acc, scratch),
                    );
                });
                for partial in partials.chunks_exact(n_acc) {
                    for (t, p) in totals.iter_mut().zip(partial) {
                        *t += p;
                    }
                }
            }
            _ => {
                let mut acc = vec![0.0f64; n_acc];
                let mut scratch = vec![0.0f64; stage.n_scratch];
                for c in 0..n_chunks {
                    run(c, &mut acc, &mut scratch);
                    for (t, p) in totals.iter_mut().zip(&acc) {
                        *t += p;
                    }
                }
            }
        }
        totals
    }

    /// Calls a stage's pass on chunk `c` of the row positions. `out` is the chunk's
    /// accumulators (`n_acc` values), or in an output stage its output rows (one row of
    /// `n_roots` values per position of the chunk).
    #[allow(clippy::too_many_arguments)]
    fn run_chunk(
        &self,
        pass: PassFn,
        stage: &Stage,
        params: &[f64],
        slots: &[f64],
        data: &KernelData,
        rows: RowSet<'_>,
        c: usize,
        out: &mut [f64],
        scratch: &mut [f64],
    ) {
        let start = c * self.chunk_rows;
        let end = (start + self.chunk_rows).min(positions(data, rows));
        let expected = if stage.outputs {
            (end - start) * self.roots.len()
        } else {
            stage.n_acc
        };
        assert_eq!(out.len(), expected, "a pass's output buffer fits its chunk");
        assert_eq!(
            scratch.len(),
            stage.n_scratch,
            "a pass's scratch fits its stage"
        );
        let args = PassArgs {
            params: params.as_ptr(),
            slots: slots.as_ptr(),
            data: data.values().as_ptr(),
            stride: data.width() * std::mem::size_of::<f64>(),
            rows: rows.as_option().map_or(std::ptr::null(), |r| r.as_ptr()),
            start,
            end,
            acc: out.as_mut_ptr(),
            scratch: scratch.as_mut_ptr(),
        };
        // SAFETY: `check` established params.len() == n_params (every parameter index the code
        // reads is smaller, `Plan::new`), data.width() >= every input column read + 1, and
        // every row index in `rows` < data.n_rows(); positions are in [start, end) ⊆ [0, len
        // of rows or n_rows), so every data read is inside `data.values()` (row * width +
        // column < n_rows * width). Slot reads are < n_slots == slots.len(). A reducing pass
        // writes accumulators < n_acc; an output pass writes, for each position p in
        // [start, end), the columns < n_roots (the plan's columns are root indices) of the row
        // at `acc + (p - start) * n_roots` values: both inside `out`, whose length is asserted
        // above, as the scratch accesses (< n_scratch) are inside `scratch`. The pass only
        // reads `slots` and writes only `out` and `scratch`, which are exclusively borrowed
        // here. The code has the `PassFn` signature and lives as long as `self`.
        unsafe { pass(&args) };
    }
}

/// The number of row positions a row set covers.
fn positions(data: &KernelData, rows: RowSet<'_>) -> usize {
    match rows {
        RowSet::All => data.n_rows(),
        RowSet::Subset(r) => r.len(),
    }
}

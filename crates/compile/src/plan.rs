//! What to compute where: the graph's cone split into stages, row passes and slots.
//!
//! This is the same schedule as the reference interpreter (`gradc_graph::interp`): for each stage
//! `s` (see [`gradc_graph::NodeFlags::stage`]), first one pass over the rows accumulating every
//! row reduction of stage `s`, then the row-free nodes of stage `s`. Values that cross from one
//! generated function to another (a row-free value used by a later stage or by per-row code, a
//! reduction's result, a root) live in a *slot* of a scratch array.

use crate::error::CompileError;
use gradc_graph::{Graph, NodeId, Op};
use rustc_hash::FxHashMap;

/// Marks "no slot" in [`Plan::slot_of`].
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// Parameter, input and slot arrays are addressed with 32-bit byte offsets.
const MAX_ARRAY: usize = 1 << 28;

/// Whether a reduction is a mean or a sum over the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReductionKind {
    Mean,
    Sum,
}

/// One row reduction: its accumulator (shared by reductions of the same argument) and its slot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reduction {
    pub kind: ReductionKind,
    /// Index into the stage's accumulators.
    pub acc: usize,
    /// Where the finalized value goes.
    pub slot: usize,
}

/// One stage of the schedule.
#[derive(Clone, Debug, Default)]
pub(crate) struct StagePlan {
    /// The distinct arguments that are summed over the rows, one accumulator each.
    pub accumulated: Vec<NodeId>,
    /// The accumulator of each accumulated argument.
    pub acc_of: FxHashMap<NodeId, usize>,
    /// The reductions finalized after this stage's row pass.
    pub reductions: Vec<Reduction>,
    /// The per-row nodes the accumulated arguments need, in topological order, cut into
    /// segments of at most `segment_nodes` nodes (each a function called once per row when there
    /// is more than one).
    pub per_row: Vec<Vec<NodeId>>,
    /// Per-row values used by a later segment of the same row: their index in the per-row
    /// scratch array.
    pub scratch_of: FxHashMap<NodeId, usize>,
    pub n_scratch: usize,
    /// Row-free operations (not leaves, not reductions) of this stage, in topological order, cut
    /// into segments (one function each).
    pub row_free: Vec<Vec<NodeId>>,
    /// For the output stage of a row-output plan (see [`Plan::new_rows`]): instead of summing
    /// them, the row pass stores its "accumulated" values, one output row per position, each
    /// accumulated value `k` to the columns `outputs[k]` of a row of `n_roots` values.
    pub outputs: Option<Vec<Vec<usize>>>,
}

/// Where a root's value comes from once every stage has run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum RootSource {
    Const(f64),
    Param(usize),
    Slot(usize),
    /// Written by the output stage of a row-output plan, on every row.
    Row,
}

#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub stages: Vec<StagePlan>,
    /// The slot of each node id (`NO_SLOT` when it has none).
    pub slot_of: Vec<u32>,
    pub n_slots: usize,
    pub roots: Vec<RootSource>,
    /// One more than the largest input index read (0 when no input is read).
    pub inputs_read: usize,
}

impl Plan {
    /// The plan for row-free `roots`: their values once every stage has run.
    pub fn new(
        graph: &Graph,
        roots: &[NodeId],
        n_params: usize,
        n_inputs: usize,
        segment_nodes: usize,
    ) -> Result<Plan, CompileError> {
        Plan::build(graph, roots, false, n_params, n_inputs, segment_nodes)
    }

    /// The plan for `roots` that may be per-row: their values on every row. After the stages
    /// the roots need, one more row pass (the *output stage*) computes the per-row roots and
    /// stores every root's value to one output row per position.
    pub fn new_rows(
        graph: &Graph,
        roots: &[NodeId],
        n_params: usize,
        n_inputs: usize,
        segment_nodes: usize,
    ) -> Result<Plan, CompileError> {
        Plan::build(graph, roots, true, n_params, n_inputs, segment_nodes)
    }

    fn build(
        graph: &Graph,
        roots: &[NodeId],
        rows: bool,
        n_params: usize,
        n_inputs: usize,
        segment_nodes: usize,
    ) -> Result<Plan, CompileError> {
        let segment_nodes = segment_nodes.max(1);
        if let Some(&root) = roots.iter().find(|r| r.index() >= graph.len()) {
            return Err(CompileError::UnknownNode(root));
        }
        if let Some(&root) = roots.iter().find(|r| graph.flags(**r).per_row)
            && !rows
        {
            return Err(CompileError::PerRowRoot(root));
        }
        if n_params >= MAX_ARRAY || n_inputs >= MAX_ARRAY || graph.len() >= MAX_ARRAY {
            return Err(CompileError::TooLarge);
        }
        let cone = graph.cone(roots);
        let mut inputs_read = 0;
        for &id in &cone {
            match graph.op(id) {
                Op::Param(i) if i as usize >= n_params => {
                    return Err(CompileError::ParamOutOfRange {
                        index: i as usize,
                        n_params,
                    });
                }
                Op::Input(i) if i as usize >= n_inputs => {
                    return Err(CompileError::InputOutOfRange {
                        index: i as usize,
                        n_inputs,
                    });
                }
                Op::Input(i) => inputs_read = inputs_read.max(i as usize + 1),
                _ => {}
            }
        }
        let max_stage = cone
            .iter()
            .map(|&id| graph.flags(id).stage)
            .max()
            .unwrap_or(0) as usize;
        let mut stages = vec![StagePlan::default(); max_stage + 1];

        // Row-free operations by stage, then cut into segments: `function_of` numbers the
        // generated row-free functions.
        let mut row_free: Vec<Vec<NodeId>> = vec![Vec::new(); max_stage + 1];
        for &id in &cone {
            let flags = graph.flags(id);
            let op = graph.op(id);
            if !flags.per_row && !op.is_leaf() && !op.is_row_reduction() {
                row_free[flags.stage as usize].push(id);
            }
        }
        let mut function_of = vec![u32::MAX; graph.len()];
        let mut n_functions = 0u32;
        for (stage, nodes) in stages.iter_mut().zip(row_free) {
            for segment in nodes.chunks(segment_nodes) {
                for &id in segment {
                    function_of[id.index()] = n_functions;
                }
                n_functions += 1;
                stage.row_free.push(segment.to_vec());
            }
        }

        // Which row-free operations need a slot: reductions and roots always; others when a user
        // lives in another generated function (per-row code, a reduction, another segment).
        let mut needs_slot = vec![false; graph.len()];
        for &id in &cone {
            let flags = graph.flags(id);
            let op = graph.op(id);
            if op.is_row_reduction() {
                needs_slot[id.index()] = true;
            }
            for &arg in graph.args(id) {
                let arg_flags = graph.flags(arg);
                if arg_flags.per_row || graph.op(arg).is_leaf() {
                    continue;
                }
                if flags.per_row
                    || op.is_row_reduction()
                    || function_of[id.index()] != function_of[arg.index()]
                {
                    needs_slot[arg.index()] = true;
                }
            }
        }
        for &root in roots {
            if !graph.op(root).is_leaf() && !graph.flags(root).per_row {
                needs_slot[root.index()] = true;
            }
        }
        let mut slot_of = vec![NO_SLOT; graph.len()];
        let mut n_slots = 0usize;
        for &id in &cone {
            if needs_slot[id.index()] {
                slot_of[id.index()] = n_slots as u32;
                n_slots += 1;
            }
        }

        for &id in &cone {
            let op = graph.op(id);
            if op.is_row_reduction() {
                let stage = &mut stages[graph.flags(id).stage as usize];
                let arg = graph.args(id)[0];
                let next = stage.accumulated.len();
                let acc = *stage.acc_of.entry(arg).or_insert(next);
                if acc == next {
                    stage.accumulated.push(arg);
                }
                let kind = if op == Op::RowMean {
                    ReductionKind::Mean
                } else {
                    ReductionKind::Sum
                };
                stage.reductions.push(Reduction {
                    kind,
                    acc,
                    slot: slot_of[id.index()] as usize,
                });
            }
        }
        for stage in &mut stages {
            let per_row = per_row_cone(graph, &stage.accumulated);
            stage.per_row = per_row
                .chunks(segment_nodes)
                .map(<[NodeId]>::to_vec)
                .collect();
            assign_scratch(graph, stage);
        }

        if rows {
            // The output stage: every distinct root, stored to each of its columns.
            let mut output = StagePlan::default();
            let mut columns: Vec<Vec<usize>> = Vec::new();
            for (column, &root) in roots.iter().enumerate() {
                let next = output.accumulated.len();
                let k = *output.acc_of.entry(root).or_insert(next);
                if k == next {
                    output.accumulated.push(root);
                    columns.push(Vec::new());
                }
                columns[k].push(column);
            }
            output.per_row = per_row_cone(graph, &output.accumulated)
                .chunks(segment_nodes)
                .map(<[NodeId]>::to_vec)
                .collect();
            assign_scratch(graph, &mut output);
            output.outputs = Some(columns);
            stages.push(output);
        }
        let roots = roots
            .iter()
            .map(|&r| match graph.op(r) {
                _ if rows => RootSource::Row,
                Op::Const(bits) => RootSource::Const(f64::from_bits(bits)),
                Op::Param(i) => RootSource::Param(i as usize),
                _ => RootSource::Slot(slot_of[r.index()] as usize),
            })
            .collect();
        Ok(Plan {
            stages,
            slot_of,
            n_slots,
            roots,
            inputs_read,
        })
    }

    pub fn slot(&self, id: NodeId) -> Option<usize> {
        match self.slot_of[id.index()] {
            NO_SLOT => None,
            s => Some(s as usize),
        }
    }
}

/// With more than one segment of per-row code: the scratch index of each per-row value that a
/// later segment of the same row uses.
fn assign_scratch(graph: &Graph, stage: &mut StagePlan) {
    if stage.per_row.len() <= 1 {
        return;
    }
    let mut segment_of: FxHashMap<NodeId, usize> = FxHashMap::default();
    for (k, segment) in stage.per_row.iter().enumerate() {
        for &id in segment {
            segment_of.insert(id, k);
        }
    }
    let mut crossing: Vec<NodeId> = Vec::new();
    for (k, segment) in stage.per_row.iter().enumerate() {
        for &id in segment {
            for &arg in graph.args(id) {
                // Inputs are read from the row again, not passed on.
                let computed = !graph.op(arg).is_leaf();
                if computed && segment_of.get(&arg).is_some_and(|&s| s != k) {
                    crossing.push(arg);
                }
            }
        }
    }
    crossing.sort_unstable();
    crossing.dedup();
    stage.n_scratch = crossing.len();
    stage.scratch_of = crossing
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id, i))
        .collect();
}

/// The per-row nodes needed to compute `roots` on one row, in topological order. Row-free
/// operands are not entered: they are computed before the row pass (as in the interpreter).
fn per_row_cone(graph: &Graph, roots: &[NodeId]) -> Vec<NodeId> {
    let mut seen = vec![false; graph.len()];
    let mut stack: Vec<NodeId> = roots.to_vec();
    let mut found = Vec::new();
    while let Some(id) = stack.pop() {
        if !graph.flags(id).per_row || std::mem::replace(&mut seen[id.index()], true) {
            continue;
        }
        found.push(id);
        stack.extend(graph.args(id).iter().copied());
    }
    found.sort_unstable();
    found
}

//! Errors of compilation and evaluation. Both are caller errors or host limitations, never
//! numeric problems: non-finite values are returned as values.

use gradc_graph::NodeId;

/// Why a graph could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error("root {0:?} is not a node of the graph")]
    UnknownNode(NodeId),
    #[error("root {0:?} is per-row; only row-free roots can be compiled")]
    PerRowRoot(NodeId),
    #[error("the graph reads parameter {index} but the model has {n_params} parameters")]
    ParamOutOfRange { index: usize, n_params: usize },
    #[error("the graph reads data column {index} but the model has {n_inputs} columns")]
    InputOutOfRange { index: usize, n_inputs: usize },
    #[error("the model has 2^28 or more parameters, columns or nodes")]
    TooLarge,
    #[error("the Hessian must be {n_params} × {n_params} nodes, like the gradient")]
    HessianShape { n_params: usize },
    #[error("chunk size must be at least 1 row")]
    ZeroChunk,
    #[error("segment size must be at least 1 node")]
    ZeroSegment,
    #[error("native code generation is not supported on this host: {0}")]
    UnsupportedHost(String),
    #[error("native code generation failed: {0}")]
    Codegen(String),
    #[error("no fused optimizer loop for this objective: {0}")]
    NotFusable(&'static str),
}

/// Why an evaluation could not run. Every length is checked before native code is entered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("expected {expected} parameters, got {given}")]
    ParamCount { expected: usize, given: usize },
    #[error("expected an output slice of length {expected}, got {given}")]
    OutputLength { expected: usize, given: usize },
    #[error("the kernel reads {needed} data columns but the data has {given}")]
    DataWidth { needed: usize, given: usize },
    #[error("row index {row} is out of range for {n_rows} rows")]
    RowOutOfRange { row: usize, n_rows: usize },
    #[error("data column {index} has {len} rows, expected {n_rows}")]
    RaggedColumn {
        index: usize,
        len: usize,
        n_rows: usize,
    },
    #[error("a row-major buffer of {len} values is not {n_rows} rows of {width}")]
    BufferShape {
        len: usize,
        n_rows: usize,
        width: usize,
    },
    #[error("this objective was compiled without a Hessian")]
    NoHessian,
    #[error("this kernel computes one row of values per data row: use `eval_rows`")]
    PerRow,
    #[error("this kernel computes row-free values: use `eval`")]
    NotPerRow,
}

/// A thread pool could not be started.
#[derive(Debug, thiserror::Error)]
#[error("could not start a thread pool: {0}")]
pub struct ThreadsError(#[from] pub rayon::ThreadPoolBuildError);

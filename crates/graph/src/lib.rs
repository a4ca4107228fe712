//! gradc-graph: the scalar expression DAG every stage after the parser works on, with its
//! reference interpreter, op counts and printers.
#![forbid(unsafe_code)]

pub mod graph;
pub mod op;
pub mod program;

pub use graph::{Graph, Node, NodeFlags, NodeId};
pub use op::{CmpOp, Op};
pub use program::{ColumnSource, Init, InputInfo, ParamInfo, Predict, Program, Span};
pub mod count;
pub mod interp;
pub mod print;
pub mod random;
pub mod sexpr;
pub mod tensor;

pub use sexpr::SexprError;

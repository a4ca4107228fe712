//! What only the command line does: arguments, files, standard output, signals, and the
//! commands that use them.

pub mod args;
pub mod check;
pub mod eval;
pub mod files;
pub mod grad;
pub mod load;
pub mod run;
pub mod signals;
pub mod stdout;
pub mod table;

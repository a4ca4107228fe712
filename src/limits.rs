//! Limits checked before work whose cost grows faster than the model: the symbolic Hessian has
//! one expression per pair of parameters. A model past a limit gets an error that names the
//! cause and what to use instead, instead of taking all memory.

use crate::DeriveConfig;
use gradc_graph::Program;

/// The most operations a symbolic Hessian may be estimated to need (parameters × nodes of the
/// objective), measured to stay within about 2 GB and a few seconds.
pub const MAX_HESSIAN_WORK: usize = 20_000_000;

/// Why a model cannot be derived as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error(
        "the Hessian of {params} parameters over an objective of {nodes} operations is too large \
         to derive symbolically (about {work} operations; the limit is {limit}): use \
         --optimizer lbfgs, which needs gradients only{errors_hint}"
    )]
    Hessian {
        params: usize,
        nodes: usize,
        work: usize,
        limit: usize,
        errors_hint: &'static str,
    },
}

/// Checks that deriving `program` as `config` asks stays within the limits.
pub fn check_derivation(program: &Program, config: &DeriveConfig) -> Result<(), LimitError> {
    if !config.hessian {
        return Ok(());
    }
    let params = program.param_count();
    let nodes = program.graph.cone(&[program.objective]).len();
    let work = params.saturating_mul(nodes);
    if work > MAX_HESSIAN_WORK {
        return Err(LimitError::Hessian {
            params,
            nodes,
            work,
            limit: MAX_HESSIAN_WORK,
            errors_hint: "",
        });
    }
    Ok(())
}

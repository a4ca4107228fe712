//! Limits checked before work whose cost grows faster than the model: the symbolic Hessian has
//! one expression per pair of parameters. A model past a limit gets an error that names the
//! cause and what to use instead, instead of taking all memory. (The graph itself is bounded
//! when it is lowered: `gradc_lower::MAX_UNROLLED_NODES`.)

use gradc_graph::Program;

/// The most work a symbolic Hessian may take, counted as parameters × nodes of the objective.
/// Measured (`gradc grad --hessian`, release build): a 2-128-1 MLP, 513 parameters × 905
/// nodes = 464k, takes 0.67 GB and 5 s, about 1.4 KB and 11 µs per unit; the limit keeps a
/// Hessian within about 3 GB and half a minute. The shipped 2-64-64-1 MLP (4,417 parameters ×
/// 8,713 nodes = 38M) is refused.
pub const MAX_HESSIAN_WORK: usize = 2_000_000;

/// Why a model cannot be derived as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error(
        "{requested} needs the symbolic Hessian, and the Hessian of {params} parameters over an \
         objective of {nodes} nodes is too large to derive (about {work} units of work; the \
         limit is {limit}, a few gigabytes): {instead}"
    )]
    Hessian {
        requested: String,
        params: usize,
        nodes: usize,
        work: usize,
        limit: usize,
        instead: String,
    },
}

/// Checks that the Hessian of `program` can be derived; `requested` names what asked for it
/// (`--hessian`, `--optimizer newton`, `--errors`) and `instead` what to do instead.
pub fn check_hessian(program: &Program, requested: &str, instead: &str) -> Result<(), LimitError> {
    let params = program.param_count();
    let nodes = program.graph.cone(&[program.objective]).len();
    let work = params.saturating_mul(nodes);
    if work > MAX_HESSIAN_WORK {
        return Err(LimitError::Hessian {
            requested: requested.to_string(),
            params,
            nodes,
            work,
            limit: MAX_HESSIAN_WORK,
            instead: instead.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mlp(hidden: usize) -> Program {
        let source = format!(
            "input x[2] = x1, x2\ninput t = label\nparam W1[{hidden}][2] = 0.1\n\
             param b1[{hidden}] = 0\nparam W2[{hidden}] = 0.1\nparam b2 = 0\n\
             let h = tanh(W1 @ x + b1)\nlet out = sigmoid(dot(W2, h) + b2)\n\
             minimize mean((out - t)^2)\n"
        );
        gradc_lower::compile(&source).expect("compiles")
    }

    #[test]
    fn a_small_hessian_is_allowed_and_a_large_one_refused_before_any_work() {
        assert_eq!(check_hessian(&mlp(16), "--hessian", "drop it"), Ok(()));
        let started = std::time::Instant::now();
        let error = check_hessian(&mlp(600), "--optimizer newton", "use --optimizer lbfgs")
            .expect_err("too large");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let text = error.to_string();
        assert!(
            text.starts_with("--optimizer newton needs the symbolic Hessian"),
            "{text}"
        );
        assert!(text.contains("of 2401 parameters"), "{text}");
        assert!(text.ends_with("use --optimizer lbfgs"), "{text}");
    }
}

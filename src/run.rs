//! `gradc run`: fitting a model, and the result object of LANGUAGE.md §5.

use crate::params;
use gradc_graph::Program;
use gradc_minimize::{Method, Outcome, Schedule};
use serde_json::{Value, json};

/// The optimizer names of the command line.
pub const OPTIMIZERS: [&str; 10] = [
    "gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "newton", "lbfgs", "lm",
];

/// What `--optimizer` selects.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Solver {
    /// A first-order method of the notes, run by `gradc_minimize::minimize`.
    FirstOrder(Method),
    /// Newton's method with the compiled symbolic Hessian.
    Newton,
    Lbfgs,
    /// Levenberg–Marquardt on the residuals of a sum-of-squares objective.
    Lm,
}

impl Solver {
    pub fn name(self) -> &'static str {
        match self {
            Solver::FirstOrder(m) => m.name(),
            Solver::Newton => "newton",
            Solver::Lbfgs => "lbfgs",
            Solver::Lm => "lm",
        }
    }
}

/// The solver for a command-line name.
pub fn solver(name: &str, hyper: &Hyper) -> Result<Solver, SetupError> {
    Ok(match name {
        "newton" => Solver::Newton,
        "lbfgs" => Solver::Lbfgs,
        "lm" => Solver::Lm,
        other => Solver::FirstOrder(method(other, hyper)?),
    })
}

/// Hyper-parameters as given on the command line; `None` means the method's default.
#[derive(Clone, Debug, Default)]
pub struct Hyper {
    pub momentum: Option<f64>,
    pub decay: Option<f64>,
    pub beta1: Option<f64>,
    pub beta2: Option<f64>,
    pub eps: Option<f64>,
}

/// Why the optimizer could not be set up.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SetupError {
    #[error(
        "unknown optimizer `{0}`: expected one of gd, sgd, momentum, nesterov, adagrad, rmsprop, adam, newton, lbfgs, lm"
    )]
    UnknownOptimizer(String),
    #[error(transparent)]
    Schedule(#[from] gradc_minimize::schedule::ScheduleError),
}

/// The method for a command-line name, with the notes' defaults for what is not given:
/// momentum 0.9, RMSprop decay 0.9, Adam 0.9 / 0.999 / 1e-8, ε = 1e-8 for AdaGrad and RMSprop.
pub fn method(name: &str, hyper: &Hyper) -> Result<Method, SetupError> {
    let eps = hyper.eps.unwrap_or(1e-8);
    Ok(match name {
        "gd" => Method::Gd,
        "sgd" => Method::Sgd,
        "momentum" => Method::Momentum {
            beta: hyper.momentum.unwrap_or(0.9),
        },
        "nesterov" => Method::Nesterov {
            beta: hyper.momentum.unwrap_or(0.9),
        },
        "adagrad" => Method::Adagrad { eps },
        "rmsprop" => Method::Rmsprop {
            decay: hyper.decay.unwrap_or(0.9),
            eps,
        },
        "adam" => Method::Adam {
            beta1: hyper.beta1.unwrap_or(0.9),
            beta2: hyper.beta2.unwrap_or(0.999),
            eps,
        },
        other => return Err(SetupError::UnknownOptimizer(other.to_string())),
    })
}

/// The default learning rate of a method: 0.001 for Adam and RMSprop (the Adam paper's α and
/// the usual RMSprop rate), 0.01 otherwise.
pub fn default_learning_rate(method: &Method) -> f64 {
    match method {
        Method::Adam { .. } | Method::Rmsprop { .. } => 0.001,
        _ => 0.01,
    }
}

/// Parses a schedule given on the command line.
pub fn schedule(text: &str) -> Result<Schedule, SetupError> {
    Ok(text.parse()?)
}

/// The result object of `--json` and `--out`.
pub fn result_json(program: &Program, optimizer: &str, outcome: &Outcome, seconds: f64) -> Value {
    let history: Vec<Value> = outcome
        .history
        .iter()
        .map(|(step, loss)| json!([step, params::number(*loss)]))
        .collect();
    json!({
        "params": params::to_json(program, &outcome.params),
        "loss": params::number(outcome.loss),
        "steps": outcome.steps,
        "stop_reason": outcome.stop_reason.as_str(),
        "optimizer": optimizer,
        "seconds": seconds,
        "history": history,
    })
}

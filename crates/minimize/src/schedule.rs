//! Step-size schedules (notes 001): η_k as a function of the step k.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// η₀.
    Constant,
    /// η₀ / (k + 1).
    Linear,
    /// η₀ / (k + 1)².
    Quadratic,
    /// η₀ · e^(−βk).
    Exponential { beta: f64 },
    /// η₀ · factor^⌊k / every⌋: a fixed rate reduced every `every` steps.
    Step { every: usize, factor: f64 },
}

impl Schedule {
    pub fn rate(&self, eta0: f64, k: usize) -> f64 {
        let kf = k as f64;
        match *self {
            Schedule::Constant => eta0,
            Schedule::Linear => eta0 / (kf + 1.0),
            Schedule::Quadratic => eta0 / ((kf + 1.0) * (kf + 1.0)),
            Schedule::Exponential { beta } => eta0 * (-beta * kf).exp(),
            Schedule::Step { every, factor } => eta0 * factor.powi((k / every.max(1)) as i32),
        }
    }
}

/// Why a schedule could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown schedule `{0}`: expected constant, linear, quadratic, exp:BETA or step:EVERY:FACTOR"
)]
pub struct ScheduleError(pub String);

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Schedule, ScheduleError> {
        let error = || ScheduleError(text.to_string());
        let parts: Vec<&str> = text.split(':').collect();
        match parts.as_slice() {
            ["constant"] => Ok(Schedule::Constant),
            ["linear"] => Ok(Schedule::Linear),
            ["quadratic"] => Ok(Schedule::Quadratic),
            ["exp", beta] => {
                let beta: f64 = beta.parse().map_err(|_| error())?;
                (beta >= 0.0 && beta.is_finite())
                    .then_some(Schedule::Exponential { beta })
                    .ok_or_else(error)
            }
            ["step", every, factor] => {
                let every: usize = every.parse().map_err(|_| error())?;
                let factor: f64 = factor.parse().map_err(|_| error())?;
                (every > 0 && factor > 0.0 && factor.is_finite())
                    .then_some(Schedule::Step { every, factor })
                    .ok_or_else(error)
            }
            _ => Err(error()),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Constant => write!(f, "constant"),
            Schedule::Linear => write!(f, "linear"),
            Schedule::Quadratic => write!(f, "quadratic"),
            Schedule::Exponential { beta } => write!(f, "exp:{beta}"),
            Schedule::Step { every, factor } => write!(f, "step:{every}:{factor}"),
        }
    }
}

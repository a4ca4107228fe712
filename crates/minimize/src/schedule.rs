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
pub enum ScheduleError {
    #[error(
        "unknown schedule `{0}`: expected constant, linear, quadratic, exp:BETA or step:EVERY:FACTOR"
    )]
    Unknown(String),
    /// A known schedule with a value it cannot take (`step:1:0`).
    #[error("schedule `{schedule}`: {part} must be {expected}, got `{value}`")]
    Value {
        schedule: String,
        part: &'static str,
        expected: &'static str,
        value: String,
    },
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Schedule, ScheduleError> {
        let value =
            |part: &'static str, expected: &'static str, value: &str| ScheduleError::Value {
                schedule: text.to_string(),
                part,
                expected,
                value: value.to_string(),
            };
        let parts: Vec<&str> = text.split(':').collect();
        match parts.as_slice() {
            ["constant"] => Ok(Schedule::Constant),
            ["linear"] => Ok(Schedule::Linear),
            ["quadratic"] => Ok(Schedule::Quadratic),
            ["exp", beta_text] => {
                let expected = "a finite number, 0 or more";
                match beta_text.parse::<f64>() {
                    Ok(beta) if beta >= 0.0 && beta.is_finite() => {
                        Ok(Schedule::Exponential { beta })
                    }
                    _ => Err(value("BETA", expected, beta_text)),
                }
            }
            ["step", every_text, factor_text] => {
                let every = match every_text.parse::<usize>() {
                    Ok(every) if every > 0 => every,
                    _ => return Err(value("EVERY", "a whole number above 0", every_text)),
                };
                match factor_text.parse::<f64>() {
                    Ok(factor) if factor > 0.0 && factor.is_finite() => {
                        Ok(Schedule::Step { every, factor })
                    }
                    _ => Err(value("FACTOR", "a finite number above 0", factor_text)),
                }
            }
            _ => Err(ScheduleError::Unknown(text.to_string())),
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

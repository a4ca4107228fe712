//! gradc-minimize: the optimizers of the lecture notes, driving an [`Objective`] that they know
//! nothing else about (not the graph, not the native code).
//!
//! `minimize` runs one loop for every first-order method: evaluate the loss and gradient (on a
//! mini-batch for `sgd`), check the stopping rules, take the method's step with the scheduled
//! learning rate. The update formulas are in [`method`], the schedules in [`schedule`].
//!
//! The second-order and least-squares solvers use the whole data set in every evaluation and a
//! line search or a damping parameter instead of a learning rate; their settings are
//! [`SecondOrderSettings`], and with the defaults each runs until f64 allows no further progress:
//! the gradient vanishes, `x` stops changing, or the predicted decrease stops shrinking at the
//! rounding level. Near the solution, where differences of the loss are rounding noise, steps
//! are judged by derivatives instead (Hager & Zhang's approximate Wolfe conditions; for
//! Levenberg–Marquardt a gain ratio from the trapezoidal rule on directional derivatives), so
//! that the parameters converge to the precision of the gradient, not to the square root of the
//! precision of the loss: 10–11 correct digits on the NIST StRD problems tested.
//!
//! - [`newton`] (module [`second`]): Newton's method with the exact Hessian
//!   ([`Objective::value_grad_hess`]). The Hessian is made positive definite by Nocedal &
//!   Wright's "Cholesky with added multiple of the identity" (*Numerical Optimization*, 2nd ed.,
//!   §3.4, Algorithm 3.3), applied to the diagonally scaled Hessian, so that every step is a
//!   descent direction; the step length comes from a backtracking Armijo line search that tries
//!   the full Newton step first (N&W Algorithm 3.1, with the safeguarded quadratic interpolation
//!   of §3.5). On a convex quadratic the first step lands on the minimum; near a minimum with a
//!   positive definite Hessian the convergence is quadratic.
//! - [`lbfgs`] (module [`second`]): limited-memory BFGS, the two-loop recursion of N&W
//!   Algorithm 7.4 with `m = 10` pairs and the initial matrix `H0 = (sᵀy / yᵀy) I` (N&W eq. 7.20),
//!   and a line search that satisfies the strong Wolfe conditions with `c1 = 1e-4`, `c2 = 0.9`
//!   (N&W Algorithms 3.5 and 3.6, zoom by cubic interpolation, eq. 3.59) — module
//!   [`line_search`].
//! - [`levenberg_marquardt`] (module [`least_squares`]): for objectives `scale · Σ r_i²` given
//!   as [`Residuals`]. Each step solves `min ‖J δ + r‖² + λ ‖D δ‖²` with Marquardt's scaling
//!   `D = diag(‖J_j‖)` (so `D² = diag(JᵀJ)`, kept non-decreasing as in MINPACK's `lmder`: Moré,
//!   "The Levenberg-Marquardt algorithm: implementation and theory", 1978) by a QR factorisation
//!   of `J` followed by a QR factorisation of `[R; √λ D]` — never by forming `JᵀJ`, which would
//!   square the condition number. λ follows the gain ratio with Nielsen's rule (H. B. Nielsen,
//!   "Damping parameter in Marquardt's method", IMM-REP-1999-05; Madsen, Nielsen & Tingleff,
//!   *Methods for non-linear least squares problems*, 2004, Algorithm 3.16).
//! - [`standard_errors`] and [`least_squares_errors`] (module [`uncertainty`]): parameter
//!   uncertainties from the Hessian, or from the Jacobian of a least-squares fit as curve-fitting
//!   tools and the NIST StRD certificates report them.
#![forbid(unsafe_code)]

pub mod fused;
pub mod least_squares;
pub mod line_search;
pub mod method;
pub mod schedule;
pub mod second;
pub mod uncertainty;

pub use fused::{Fused, FusedBlock};
pub use least_squares::{Residuals, levenberg_marquardt};
pub use method::{Method, MethodState};
pub use schedule::Schedule;
pub use second::{SecondOrderSettings, lbfgs, newton};
pub use uncertainty::{least_squares_errors, standard_errors};

use gradc_graph::random::SplitMix;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Which rows an evaluation covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch<'a> {
    All,
    /// A mini-batch: the objective's row means are over these rows and row sums are scaled by
    /// N/B (LANGUAGE.md §4).
    Rows(&'a [usize]),
}

/// A differentiable function of the flat parameter vector, over data rows.
pub trait Objective {
    fn param_count(&self) -> usize;
    /// The number of data rows (0 for a model without data).
    fn row_count(&self) -> usize;
    fn value(&self, params: &[f64], batch: Batch) -> f64;
    /// The value, writing the gradient into `grad` (of length `param_count()`).
    fn value_grad(&self, params: &[f64], batch: Batch, grad: &mut [f64]) -> f64;

    /// The value over all rows, writing the gradient into `grad` and the Hessian into `hess`
    /// (row-major `n × n`). `None` when the objective has no Hessian: [`newton`] then
    /// differentiates the gradient numerically.
    fn value_grad_hess(
        &self,
        _params: &[f64],
        _grad: &mut [f64],
        _hess: &mut [f64],
    ) -> Option<f64> {
        None
    }

    /// A native loop running `method`'s steps fused with the evaluation over all rows (see
    /// [`fused`]), or `None` (the default) when the objective has none for it. [`minimize`]
    /// asks once per run, for full-batch methods other than Nesterov's.
    fn fused(&self, _method: Method) -> Option<Arc<dyn Fused>> {
        None
    }
}

/// Why a run stopped, as reported in `stop_reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `|L_k − L_(k−1)| < tol` (first-order methods); for the second-order and least-squares
    /// solvers: the relative reduction or the step fell below its tolerance, or f64 allows no
    /// further progress.
    Tolerance,
    MaxSteps,
    /// The gradient norm fell below the threshold.
    Gradient,
    /// The loss became NaN or infinite, or exploded.
    Diverged,
    Interrupted,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Tolerance => "tolerance",
            StopReason::MaxSteps => "max_steps",
            StopReason::Gradient => "gradient",
            StopReason::Diverged => "diverged",
            StopReason::Interrupted => "interrupted",
        }
    }
}

/// Settings of a run; `Default` gives the contract's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub method: Method,
    pub learning_rate: f64,
    pub schedule: Schedule,
    /// The most parameter updates.
    pub steps: usize,
    /// Mini-batch size for `sgd`.
    pub batch: usize,
    /// Stop when `|L_k − L_(k−1)| < tol`; 0 disables the rule.
    pub tol: f64,
    /// Stop when the gradient's Euclidean norm is below this; 0 disables the rule.
    pub gradient_tol: f64,
    /// Seeds the mini-batch shuffles.
    pub seed: u64,
    /// A loss this many times larger than the first (and than 1) counts as divergence.
    pub explode_factor: f64,
    /// Record every `history_every`-th loss (the first and last are always recorded).
    pub history_every: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            method: Method::default(),
            learning_rate: 0.01,
            schedule: Schedule::Constant,
            steps: 1000,
            batch: 32,
            tol: 0.0,
            gradient_tol: 1e-12,
            seed: 0,
            explode_factor: 1e12,
            history_every: 1,
        }
    }
}

/// The result of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The last parameters with a finite loss.
    pub params: Vec<f64>,
    /// The loss at `params` (on the last batch for `sgd`).
    pub loss: f64,
    /// Parameter updates taken.
    pub steps: usize,
    pub stop_reason: StopReason,
    /// `(step, loss)` pairs.
    pub history: Vec<(usize, f64)>,
    /// For a diverged run: the step at which the loss went bad, and the parameters that made
    /// it so (for the caller to locate the first non-finite value).
    pub divergence: Option<Divergence>,
    /// Which test stopped the run, with its numbers (e.g. "relative reduction 3.1e-17 ≤ 1e-15").
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    pub step: usize,
    pub loss: f64,
    pub bad_params: Vec<f64>,
}

/// Observes a run. Returning `false` asks the run to stop (as an interruption).
pub trait Progress {
    /// Called with the step and loss after an evaluation: after every evaluation `minimize`
    /// makes itself, and once per block of steps taken by a [`Fused`] loop (with the block's
    /// last step), so at least every [`FUSED_BLOCK`] steps.
    fn step(&mut self, step: usize, loss: f64) -> bool;

    /// Called with the parameters whenever a history entry is recorded (for a validation loss
    /// or the path plot), before the update of that step.
    fn record(&mut self, _step: usize, _params: &[f64]) {}
}

/// No observer.
pub struct Silent;

impl Progress for Silent {
    fn step(&mut self, _: usize, _: f64) -> bool {
        true
    }
}

/// The most steps a [`Fused`] loop takes between two looks of [`minimize`] at the run
/// (interrupts, progress): about 0.1 ms of a small model's steps.
pub const FUSED_BLOCK: usize = 4096;

/// Runs a first-order method from `start`. `interrupt` is polled once per step (Ctrl-C), or
/// once per block of steps of a [`Fused`] loop.
///
/// When the objective offers a fused loop for the method (a model without data compiled to
/// native code), the steps between history entries run in it; the results are the same bit for
/// bit (see [`fused`]).
pub fn minimize(
    objective: &dyn Objective,
    start: &[f64],
    settings: &Settings,
    interrupt: &AtomicBool,
    progress: &mut dyn Progress,
) -> Outcome {
    let n = objective.param_count();
    let mut params = start.to_vec();
    let mut grad = vec![0.0; n];
    let mut state = MethodState::new(settings.method, n);
    let mut batches = Batches::new(objective.row_count(), settings);
    let mut history = Vec::new();
    let mut previous: Option<f64> = None;
    let mut first: Option<f64> = None;
    let mut step = 0usize;
    let mut lookahead = vec![0.0; n];
    // Double buffer: `update` writes the new point into `before` and the two are swapped, so
    // after the first step `before` holds the parameters before the latest update — what is
    // kept if that update diverged — without copying them every step.
    let mut before = params.clone();
    // Counts down to the next history entry (a countdown, not `step % every`: an integer
    // division per step is a measurable part of a small model's step).
    let every = settings.history_every.max(1);
    let gradient_tol = settings.gradient_tol;
    let mut until_history = 0usize;
    // A fused loop screens the gradient norm by its square; below 1e-150 the square may
    // underflow, and every step would be left to this loop anyway.
    let tiny_gradient_tol = gradient_tol > 0.0 && gradient_tol < 1e-150;
    let fused = if batches.active || settings.method.is_nesterov() || tiny_gradient_tol {
        None
    } else {
        objective.fused(settings.method)
    };
    let mut rates = Vec::new();
    let mut stop_requested = false;
    loop {
        if let (Some(fused), Some(loss), Some(first_loss)) = (&fused, previous, first) {
            // Steps that record no history and are not the last: steps `step..step + count`.
            let count = until_history
                .min(settings.steps.saturating_sub(step))
                .min(FUSED_BLOCK);
            if count > 0 && !stop_requested {
                rates.clear();
                if settings.schedule == Schedule::Constant {
                    rates.push(settings.learning_rate);
                } else {
                    rates.extend(
                        (step..step + count)
                            .map(|k| settings.schedule.rate(settings.learning_rate, k)),
                    );
                }
                let mut last = loss;
                let (first_state, second_state, powers) = state.parts();
                let taken = fused.run(FusedBlock {
                    method: settings.method,
                    params: &mut params,
                    before: &mut before,
                    first: first_state,
                    second: second_state,
                    powers,
                    rates: &rates,
                    steps: count,
                    loss: &mut last,
                    loss_limit: (settings.explode_factor * first_loss.abs().max(1.0)).min(f64::MAX),
                    tol: settings.tol,
                    gradient_screen: if gradient_tol > 0.0 {
                        gradient_tol * gradient_tol
                    } else {
                        f64::NEG_INFINITY
                    },
                });
                let taken = taken.min(count);
                if taken > 0 {
                    stop_requested = !progress.step(step + taken - 1, last);
                    previous = Some(last);
                    step += taken;
                    until_history -= taken;
                }
            }
        }
        let batch = batches.next();
        let batch = batch.as_deref().map_or(Batch::All, Batch::Rows);
        let loss = objective.value_grad(&params, batch, &mut grad);
        let first_loss = *first.get_or_insert(loss);
        let exploded = loss.abs() > settings.explode_factor * first_loss.abs().max(1.0);
        // One pass over the gradient gives both the finiteness test and the norm: a sum of
        // squares that is finite means every component is finite.
        let squares: f64 = grad.iter().map(|g| g * g).sum();
        let finite_gradient = squares.is_finite() || grad.iter().all(|g| g.is_finite());
        if !loss.is_finite() || exploded || !finite_gradient {
            let last_good = if step == 0 { params.clone() } else { before };
            // At step 0 the start is kept: its loss, if that is what was finite.
            let good_loss = previous.unwrap_or(if loss.is_finite() { loss } else { f64::NAN });
            let shown = gradc_graph::print::format_short(loss);
            let detail = if !loss.is_finite() {
                format!("loss {shown} at step {step}")
            } else if exploded {
                format!(
                    "loss {shown} at step {step}: more than {:e} times the first in magnitude",
                    settings.explode_factor
                )
            } else {
                format!("gradient not finite at step {step} (loss {shown})")
            };
            history.push((step, loss));
            return Outcome {
                params: last_good,
                loss: good_loss,
                steps: step,
                stop_reason: StopReason::Diverged,
                history,
                divergence: Some(Divergence {
                    step,
                    loss,
                    bad_params: params,
                }),
                detail: Some(detail),
            };
        }
        if until_history == 0 {
            history.push((step, loss));
            progress.record(step, &params);
            until_history = every;
        }
        until_history -= 1;
        let keep_going = progress.step(step, loss);
        let stop = if !keep_going || stop_requested || interrupt.load(Ordering::Relaxed) {
            Some((StopReason::Interrupted, None))
        } else if let Some(p) = previous.filter(|p| (loss - p).abs() < settings.tol) {
            let detail = format!(
                "|ΔL| = {} < {:e}",
                gradc_graph::print::format_short((loss - p).abs()),
                settings.tol
            );
            Some((StopReason::Tolerance, Some(detail)))
        } else if gradient_tol > 0.0
            // The squared norm screens; the norm itself decides (a tiny tolerance squared may
            // underflow). A mini-batch's gradient can vanish away from the minimum (one row
            // fitted exactly): then the gradient over all rows decides.
            && (squares < gradient_tol * gradient_tol || gradient_tol < 1e-150)
            && norm(&grad) < gradient_tol
            && (batch == Batch::All || {
                let mut full = vec![0.0; n];
                objective.value_grad(&params, Batch::All, &mut full);
                norm(&full) < gradient_tol
            })
        {
            let detail = format!(
                "gradient norm {} < {:e}",
                gradc_graph::print::format_short(norm(&grad)),
                settings.gradient_tol
            );
            Some((StopReason::Gradient, Some(detail)))
        } else if step >= settings.steps {
            Some((StopReason::MaxSteps, Some(format!("{step} steps"))))
        } else {
            None
        };
        if let Some((stop_reason, detail)) = stop {
            if history.last().map(|h| h.0) != Some(step) {
                history.push((step, loss));
                progress.record(step, &params);
            }
            return Outcome {
                params,
                loss,
                steps: step,
                stop_reason,
                history,
                divergence: None,
                detail,
            };
        }
        previous = Some(loss);
        let lr = settings.schedule.rate(settings.learning_rate, step);
        if settings.method.is_nesterov() {
            // The gradient at the look-ahead point x + β·Δx (the notes' formula).
            state.lookahead(&params, &mut lookahead);
            objective.value_grad(&lookahead, batch, &mut grad);
        }
        state.update(&params, &mut before, &grad, lr);
        std::mem::swap(&mut params, &mut before);
        step += 1;
    }
}

/// The Euclidean norm; 0 (not −0, which `Iterator::sum` gives for no terms) for no parameters.
pub fn norm(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |sum, x| sum + x * x).sqrt()
}

/// Mini-batches for `sgd`: consecutive slices of a permutation of the rows, reshuffled each
/// epoch from the seed. Other methods use all rows.
struct Batches {
    order: Vec<usize>,
    position: usize,
    size: usize,
    rng: SplitMix,
    active: bool,
}

impl Batches {
    fn new(rows: usize, settings: &Settings) -> Batches {
        let active = settings.method.is_sgd() && rows > 0;
        let mut batches = Batches {
            order: (0..rows).collect(),
            position: rows,
            size: settings.batch.clamp(1, rows.max(1)),
            rng: SplitMix::new(settings.seed),
            active,
        };
        batches.position = batches.order.len();
        batches
    }

    fn next(&mut self) -> Option<Vec<usize>> {
        if !self.active {
            return None;
        }
        if self.position + self.size > self.order.len() {
            self.shuffle();
        }
        let batch = self.order[self.position..self.position + self.size].to_vec();
        self.position += self.size;
        Some(batch)
    }

    /// Fisher–Yates with the run's generator.
    fn shuffle(&mut self) {
        for i in (1..self.order.len()).rev() {
            let j = self.rng.below(i + 1);
            self.order.swap(i, j);
        }
        self.position = 0;
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod second_tests;

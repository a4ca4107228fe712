//! Levenberg–Marquardt for objectives that are a (scaled) sum of squares.
//!
//! At `x` with residuals `r` and Jacobian `J` (`m × n`), a trial step `δ` minimises
//! `‖J δ + r‖² + λ ‖D δ‖²`, where `D = diag(d_j)` is Marquardt's scaling: `d_j` is the largest
//! Euclidean norm column `j` of `J` has had so far (so `D² = diag(JᵀJ)` at the start; MINPACK
//! `lmder`'s `mode = 1`, Moré 1978, "The Levenberg-Marquardt algorithm: implementation and
//! theory"), or 1 while that column has been zero. This makes the method invariant under a
//! rescaling of the parameters.
//!
//! The trial step is computed without forming `JᵀJ`: `J = QR` once per Jacobian, then for each
//! `λ` the `2n × n` least-squares problem `[R; √λ D] δ ≈ [−Qᵀr; 0]` by a second QR
//! factorisation (the same reduction as MINPACK's `qrsolv`, with nalgebra's Householder QR in
//! place of Givens rotations). The predicted reduction is computed from its two non-negative
//! parts, `‖Jδ‖² + 2λ‖Dδ‖²` (as `lmder` computes `prered`), free of cancellation.
//!
//! The damping follows the gain ratio `ρ = (‖r‖² − ‖r(x+δ)‖²) / (‖Jδ‖² + 2λ‖Dδ‖²)` by Nielsen's
//! rule (H. B. Nielsen, "Damping parameter in Marquardt's method", IMM-REP-1999-05; Madsen,
//! Nielsen & Tingleff, *Methods for non-linear least squares problems*, 2004, Algorithm 3.16):
//! a step with `ρ > 1e-4` is accepted and `λ ← λ · max(1/3, 1 − (2ρ − 1)³)`, `ν ← 2`; otherwise
//! `λ ← λν`, `ν ← 2ν`. The start is `λ = 1e-3` (relative to `D²`); `λ` is kept ≥ 1e-30.
//!
//! Near the solution of a problem with non-zero residuals the difference of the sums of
//! squares becomes rounding noise long before `x` is resolved (NIST's Thurber: `Σr²` carries
//! relative noise ~1e-14, while the 9th and 10th correct digits of `x` change it by ~1e-17).
//! Once the predicted relative reduction is below [`crate::line_search::NOISE_REGIME`], the
//! actual reduction in the gain ratio is therefore estimated by the trapezoidal rule from the
//! directional derivatives of `φ(α) = Σ r(x + αδ)²` at both ends, `−½(φ'(0) + φ'(1))` with
//! `φ'(α) = 2 r(x+αδ)ᵀ J(x+αδ) δ` (exact for a quadratic `φ`, and free of the cancellation), and
//! a step whose `Σr²` rose by more than [`crate::line_search::FLAT`] relative is rejected — the
//! least-squares counterpart of Hager and Zhang's approximate Wolfe conditions. The Jacobian at
//! the trial point is then needed anyway; it is the one kept if the step is accepted.
//!
//! Stopping (see [`crate::SecondOrderSettings`]): the gradient `2·scale·Jᵀr` test; MINPACK's
//! relative-reduction test (off by default) — actual and predicted relative reductions of
//! `Σr²` both ≤ `ftol` with `ρ ≤ 2` — after every trial, accepted or not; the componentwise
//! step test after an accepted step; "no further progress" when a trial step no longer changes
//! `x` in f64 (λ grows after every rejection, so this ends any run that can no longer reduce
//! `Σr²`) or when the reduction `‖Qᵀr‖²` that the Gauss–Newton model predicts stopped
//! shrinking inside the noise regime; `max_iterations` accepted steps; `max_evaluations` residual evaluations (a
//! Jacobian counts as one). Non-finite trial residuals count as a rejection; non-finite
//! residuals at the start or a non-finite Jacobian at an accepted point end the run as
//! diverged.

use crate::line_search::{FLAT, NOISE_REGIME};
use crate::second::{Run, Stall, change_test, reduction_test, relative_step};
use crate::{Divergence, Outcome, Progress, SecondOrderSettings, StopReason};
use nalgebra::{DMatrix, DVector};
use std::sync::atomic::AtomicBool;

/// Residuals `r(x)` of a least-squares objective `scale · Σ r_i(x)²`.
pub trait Residuals {
    fn param_count(&self) -> usize;
    fn residual_count(&self) -> usize;
    /// Writes `r(params)` (length `residual_count()`).
    fn residuals(&self, params: &[f64], r: &mut [f64]);
    /// Writes `r(params)` and the Jacobian `∂r_i/∂x_j` at `jac[i * n + j]` (row-major `m × n`).
    fn jacobian(&self, params: &[f64], r: &mut [f64], jac: &mut [f64]);
    /// The objective is `scale · Σ r_i²`: `1/N` for a mean, 1 for a sum, 0.5 for ½Σ.
    fn scale(&self) -> f64;
}

/// The starting damping, relative to `D² = diag(JᵀJ)`.
const LAMBDA_START: f64 = 1e-3;
const LAMBDA_MIN: f64 = 1e-30;
/// The smallest gain ratio of an accepted step (MINPACK's `p0001`).
const ACCEPT_RATIO: f64 = 1e-4;

/// Levenberg–Marquardt (module docs) from `start`. The loss reported is `scale · Σ r²`;
/// `steps` counts accepted steps.
pub fn levenberg_marquardt(
    residuals: &dyn Residuals,
    start: &[f64],
    settings: &SecondOrderSettings,
    interrupt: &AtomicBool,
    progress: &mut dyn Progress,
) -> Outcome {
    let n = residuals.param_count();
    let m = residuals.residual_count();
    let scale = residuals.scale();
    let mut run = Run::new(interrupt, progress);
    let mut x = start.to_vec();
    let mut r = vec![0.0; m];
    let mut jac = vec![0.0; m * n];
    residuals.jacobian(&x, &mut r, &mut jac);
    let mut evaluations = 1usize;
    let mut sum = sum_of_squares(&r);
    if !sum.is_finite() || jac.iter().any(|v| !v.is_finite()) {
        return run.diverge_at_start(x, scale * sum, "the starting point");
    }
    let mut diagonal = vec![0.0f64; n];
    let mut lambda = LAMBDA_START;
    let mut nu = 2.0;
    let mut k = 0usize;
    let mut pending: Option<(StopReason, String)> = None;
    let mut stall = Stall::default();
    let mut r_trial = vec![0.0; m];
    let mut jac_trial = vec![0.0; m * n];
    loop {
        let f = scale * sum;
        let gradient: Vec<f64> = (0..n)
            .map(|j| 2.0 * scale * (0..m).map(|i| jac[i * n + j] * r[i]).sum::<f64>())
            .collect();
        if let Some((reason, detail)) =
            run.checkpoint(k, f, &x, &gradient, evaluations, settings, pending)
        {
            return run.finish(x, f, k, reason, detail);
        }
        let jacobian = DMatrix::from_row_slice(m, n, &jac);
        for (j, d) in diagonal.iter_mut().enumerate() {
            let column = jacobian.column(j).norm();
            *d = (*d).max(column);
        }
        let d: Vec<f64> = diagonal
            .iter()
            .map(|&d| if d > 0.0 { d } else { 1.0 })
            .collect();
        let qr = jacobian.clone().qr();
        let rows = m.min(n);
        let upper = qr.r();
        let mut qtr = DVector::from_column_slice(&r);
        qr.q_tr_mul(&mut qtr);
        let qtr = qtr.rows(0, rows).into_owned();
        // ‖Qᵀr‖²: the reduction of Σr² that the Gauss–Newton model still predicts.
        if let Some(detail) = stall.update(qtr.norm_squared(), sum) {
            return run.finish(x, f, k, StopReason::Tolerance, detail);
        }
        let mut first_bad: Option<Vec<f64>> = None;
        let mut finite_seen = false;
        loop {
            let Some(delta) = damped_step(&upper, &qtr, &d, lambda) else {
                lambda *= nu;
                nu *= 2.0;
                if !lambda.is_finite() {
                    let detail = "no further progress possible: the damped system has no \
                                  solution for any λ"
                        .to_string();
                    return run.finish(x, f, k, StopReason::Tolerance, detail);
                }
                continue;
            };
            let trial: Vec<f64> = x.iter().zip(&delta).map(|(a, b)| a + b).collect();
            if trial == x {
                if let Some(bad) = first_bad.filter(|_| !finite_seen) {
                    return run.diverge(x, f, k, bad, "every trial point since the last step");
                }
                let detail = format!(
                    "no further progress possible: the step no longer changes x in f64 \
                     (λ = {lambda:.3e})"
                );
                return run.finish(x, f, k, StopReason::Tolerance, detail);
            }
            if evaluations >= settings.max_evaluations {
                let detail = format!("max_evaluations = {} reached", settings.max_evaluations);
                return run.finish(x, f, k, StopReason::MaxSteps, detail);
            }
            let j_delta = &jacobian * DVector::from_column_slice(&delta);
            let d_delta: f64 = delta.iter().zip(&d).map(|(a, b)| (a * b).powi(2)).sum();
            let predicted = j_delta.norm_squared() + 2.0 * lambda * d_delta;
            let reference = sum.max(f64::MIN_POSITIVE);
            let predicted_relative = predicted / reference;
            // In the rounding-noise regime the difference of the sums of squares is noise: the
            // actual reduction is estimated by the trapezoidal rule from the directional
            // derivatives φ'(0) = 2rᵀJδ and φ'(1) = 2r(x+δ)ᵀJ(x+δ)δ of φ(α) = Σr(x+αδ)²
            // (exact for a quadratic φ), as long as the sum did not rise by more than rounding.
            let noise = predicted_relative <= NOISE_REGIME;
            let have_jacobian = noise;
            if noise {
                residuals.jacobian(&trial, &mut r_trial, &mut jac_trial);
            } else {
                residuals.residuals(&trial, &mut r_trial);
            }
            evaluations += 1;
            let sum_trial = sum_of_squares(&r_trial);
            let (ratio, actual) = if !sum_trial.is_finite() {
                first_bad.get_or_insert_with(|| trial.clone());
                (f64::NEG_INFINITY, f64::NEG_INFINITY)
            } else if noise {
                finite_seen = true;
                let slope0: f64 = 2.0
                    * r.iter()
                        .zip(j_delta.iter())
                        .map(|(a, b)| a * b)
                        .sum::<f64>();
                let slope1: f64 = 2.0
                    * (0..m)
                        .map(|i| {
                            let row = &jac_trial[i * n..(i + 1) * n];
                            r_trial[i] * row.iter().zip(&delta).map(|(a, b)| a * b).sum::<f64>()
                        })
                        .sum::<f64>();
                let estimate = -0.5 * (slope0 + slope1);
                if sum_trial <= sum + FLAT * reference {
                    (estimate / predicted, estimate / reference)
                } else {
                    (f64::NEG_INFINITY, (sum - sum_trial) / reference)
                }
            } else {
                finite_seen = true;
                ((sum - sum_trial) / predicted, (sum - sum_trial) / reference)
            };
            let reduction =
                reduction_test(actual, predicted_relative, settings.ftol).filter(|_| ratio <= 2.0);
            if ratio > ACCEPT_RATIO {
                if !have_jacobian {
                    residuals.jacobian(&trial, &mut r_trial, &mut jac_trial);
                    evaluations += 1;
                }
                let sum_new = sum_of_squares(&r_trial);
                if !sum_new.is_finite() || jac_trial.iter().any(|v| !v.is_finite()) {
                    let divergence = Divergence {
                        step: k + 1,
                        loss: scale * sum_new,
                        bad_params: trial,
                    };
                    return run.diverge_with(x, f, k, divergence, "the Jacobian");
                }
                lambda = (lambda * (1.0 / 3.0f64).max(1.0 - (2.0 * ratio - 1.0).powi(3)))
                    .max(LAMBDA_MIN);
                nu = 2.0;
                let step = relative_step(&x, &trial, settings.xtol);
                let change = change_test(scale * sum, scale * sum_new, settings.tol);
                pending = if let Some(detail) = change.or(reduction) {
                    Some((StopReason::Tolerance, detail))
                } else if step <= settings.xtol {
                    let detail = format!("relative step {step:.3e} ≤ xtol = {:e}", settings.xtol);
                    Some((StopReason::Tolerance, detail))
                } else {
                    None
                };
                x = trial;
                std::mem::swap(&mut r, &mut r_trial);
                std::mem::swap(&mut jac, &mut jac_trial);
                sum = sum_new;
                k += 1;
                break;
            }
            if let Some(detail) = reduction {
                return run.finish(x, f, k, StopReason::Tolerance, detail);
            }
            lambda *= nu;
            nu *= 2.0;
        }
    }
}

/// Solves `min ‖R δ + Qᵀr‖² + λ‖D δ‖²` as the least-squares problem
/// `[R; √λ D] δ ≈ [−Qᵀr; 0]` by QR. `None` when the stacked matrix is singular.
fn damped_step(
    upper: &DMatrix<f64>,
    qtr: &DVector<f64>,
    d: &[f64],
    lambda: f64,
) -> Option<Vec<f64>> {
    let rows = upper.nrows();
    let n = upper.ncols();
    let root = lambda.sqrt();
    let mut stacked = DMatrix::zeros(rows + n, n);
    stacked.rows_mut(0, rows).copy_from(upper);
    for j in 0..n {
        stacked[(rows + j, j)] = root * d[j];
    }
    let mut rhs = DVector::zeros(rows + n);
    for i in 0..rows {
        rhs[i] = -qtr[i];
    }
    let qr = stacked.qr();
    qr.q_tr_mul(&mut rhs);
    let triangle = qr.r();
    let delta = triangle.solve_upper_triangular(&rhs.rows(0, n).into_owned())?;
    delta
        .iter()
        .all(|v| v.is_finite())
        .then(|| delta.iter().copied().collect())
}

fn sum_of_squares(r: &[f64]) -> f64 {
    r.iter().map(|v| v * v).sum()
}

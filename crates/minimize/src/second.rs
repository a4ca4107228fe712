//! Newton's method and L-BFGS: full-batch methods with a line search, which stop by
//! themselves when f64 allows no further progress.
//!
//! Both evaluate the objective on all rows ([`Batch::All`]) and share the stopping tests of
//! [`SecondOrderSettings`]: after every accepted step
//!
//! - **gradient**: `‖∇f‖∞ ≤ gtol · max(1, |f|)` → [`StopReason::Gradient`];
//! - **relative reduction** (off by default): `|f_(k−1) − f_k| ≤ ftol · max(|f_(k−1)|,
//!   f64::MIN_POSITIVE)` and the reduction predicted for the step (`−∇fᵀΔx`) is as small →
//!   [`StopReason::Tolerance`];
//! - **step**: `|x_k,i − x_(k−1),i| ≤ xtol · (|x_k,i| + xtol)` for every `i` (componentwise, so
//!   that a parameter of size 1e-4 next to one of size 1e2 is still resolved to its own relative
//!   precision) → [`StopReason::Tolerance`];
//! - **no further progress**: the line search finds no point that lowers `f` (the trial steps
//!   shrink until `x + αp == x` in f64), or a step leaves `x` unchanged, or (Newton) the squared
//!   Newton decrement `∇fᵀH⁻¹∇f` stopped shrinking at the rounding level (`Stall`) →
//!   [`StopReason::Tolerance`];
//! - `max_iterations` accepted steps or `max_evaluations` evaluations → [`StopReason::MaxSteps`];
//! - a non-finite value, gradient or Hessian at an accepted point, or a line search all of whose
//!   trial points are non-finite → [`StopReason::Diverged`], keeping the last finite point.
//!
//! A non-finite value at a trial point of the line search only shortens the step (the usual
//! convention of line-search methods): the run diverges only when no finite trial is found.
//!
//! Near the minimum, once the predicted change of a step falls below the rounding noise of `f`
//! ([`crate::line_search::NOISE_REGIME`]), steps are accepted by the approximate Wolfe
//! conditions of Hager & Zhang (the directional derivative instead of differences of `f`), so
//! that `x` converges to the precision of the gradient; `f` may then rise by up to
//! [`crate::line_search::FLAT`]` · |f|` (rounding) in such a step.

use crate::line_search::{self, WolfeFailure, approximately_sufficient};
use crate::{Batch, Divergence, Objective, Outcome, Progress, StopReason};
use nalgebra::{Cholesky, DMatrix, DVector};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

/// Settings of [`newton`], [`lbfgs`] and [`crate::levenberg_marquardt`]. The defaults run to the
/// precision f64 allows.
#[derive(Clone, Debug, PartialEq)]
pub struct SecondOrderSettings {
    /// The most accepted steps (iterations). Default 1000.
    pub max_iterations: usize,
    /// The most evaluations of the objective (line-search trials, numerical Hessians and
    /// rejected Levenberg–Marquardt steps included). Default 10 000.
    pub max_evaluations: usize,
    /// The run stops when the actual and the predicted relative reductions of `f` in a step
    /// are both at most `ftol` (MINPACK's test). Default 0 (off): a test on `f` cannot see
    /// `x` beyond about √ε relative, and Gauss–Newton converges only linearly on problems with
    /// large residuals — with `ftol = 1e-15`, Levenberg–Marquardt stops on NIST's Thurber and
    /// MGH09 with 8 correct digits (10 by default) — so by default a run goes on until `x`
    /// stops changing (`xtol`), the gradient vanishes (`gtol`), or the predicted decrease stops
    /// shrinking at the rounding level ("no further progress").
    pub ftol: f64,
    /// The contract's `--tol`: stop when an accepted step changes `f` by less than this,
    /// `|f_k − f_(k−1)| < tol`. Default 0 (off).
    pub tol: f64,
    /// Relative step size below which the run stops. Default 1e-15.
    pub xtol: f64,
    /// Gradient test `‖∇f‖∞ ≤ gtol · max(1, |f|)`. Default 1e-14.
    pub gtol: f64,
    /// L-BFGS memory `m`: the number of `(s, y)` pairs kept. Default 10.
    pub lbfgs_memory: usize,
    /// A loss whose magnitude exceeds this many times the first's (and 1) counts as
    /// divergence: for a minimizer, an objective that falls without bound (`-x^2`). Default
    /// 1e12, as for the first-order methods.
    pub explode_factor: f64,
}

impl Default for SecondOrderSettings {
    fn default() -> SecondOrderSettings {
        SecondOrderSettings {
            max_iterations: 1000,
            max_evaluations: 10_000,
            ftol: 0.0,
            tol: 0.0,
            xtol: 1e-15,
            gtol: 1e-14,
            lbfgs_memory: 10,
            explode_factor: 1e12,
        }
    }
}

/// Armijo's sufficient-decrease constant `c1` (N&W §3.1: "quite small, say c1 = 1e-4").
pub const ARMIJO_C1: f64 = 1e-4;

/// `β` of N&W Algorithm 3.3 (their example value), applied to the unit-diagonal scaled Hessian.
const CHOLESKY_BETA: f64 = 1e-3;

/// Newton's method with the exact Hessian, damped so that every step is a descent direction.
///
/// Each iteration (at `x` with gradient `g` and Hessian `H`):
///
/// 1. **Direction.** With `S = diag(1/√|H_ii|)` (1 where `H_ii = 0`), factor `Ĥ + τI` where
///    `Ĥ = S H S`, by N&W Algorithm 3.3 ("Cholesky with added multiple of the identity",
///    *Numerical Optimization*, 2nd ed., §3.4): `τ₀ = 0` if `min Ĥ_ii > 0`, else
///    `−min Ĥ_ii + β` with `β = 1e-3`; while the Cholesky factorisation fails,
///    `τ ← max(2τ, β)`. The step `p = −S (Ĥ + τI)⁻¹ S g` solves `(H + τ S⁻²) p = −g`: for a
///    positive definite `H` it is the exact Newton step (`τ = 0`), otherwise a descent
///    direction (`gᵀp < 0`) damped as by Levenberg, each coordinate in proportion to its own
///    curvature. (The diagonal scaling is ours: it makes `β` independent of the units of the
///    parameters.)
/// 2. **Step length.** Backtracking from `α = 1` until Armijo's condition
///    `f(x + αp) ≤ f(x) + c1 α gᵀp` (`c1 = 1e-4`) holds (N&W Algorithm 3.1); each new `α` is the
///    minimiser of the quadratic interpolating `f(x)`, `gᵀp` and `f(x + αp)`, kept in
///    `[0.1α, 0.5α]` (N&W §3.5). Non-finite trial values halve `α`. In the rounding-noise regime
///    of `f` (module docs) Hager and Zhang's approximate condition may stand in for Armijo's.
///
/// On a convex quadratic the first step is accepted in full and lands on the minimum; near a
/// minimum with a positive definite Hessian the full step is always accepted and convergence
/// is quadratic. When the objective has no Hessian ([`Objective::value_grad_hess`] returns
/// `None`), it is approximated by central differences of the gradient (2n gradients, step
/// `ε^(1/3) · max(1, |x_j|)`), symmetrised.
pub fn newton(
    objective: &dyn Objective,
    start: &[f64],
    settings: &SecondOrderSettings,
    interrupt: &AtomicBool,
    progress: &mut dyn Progress,
) -> Outcome {
    let n = objective.param_count();
    let mut run = Run::new(interrupt, progress);
    let mut x = start.to_vec();
    let mut g = vec![0.0; n];
    let mut h = vec![0.0; n * n];
    let mut evaluations = 0usize;
    let mut f = value_grad_hess(objective, &x, &mut g, &mut h, &mut evaluations);
    if !all_finite(f, &g, &h) {
        return run.diverge_at_start(x, f, "the starting point");
    }
    let mut k = 0usize;
    let mut pending: Option<(StopReason, String)> = None;
    let mut stall = Stall::default();
    loop {
        if let Some((reason, detail)) = run.checkpoint(k, f, &x, &g, evaluations, settings, pending)
        {
            return run.finish(x, f, k, reason, detail);
        }
        let (p, tau) = damped_newton_direction(&h, &g);
        let slope = dot(&g, &p);
        // The squared Newton decrement, when the Hessian is positive definite.
        let decrement = if tau == 0.0 { -slope } else { f64::INFINITY };
        if let Some(detail) = stall.update(decrement, f) {
            return run.finish(x, f, k, StopReason::Tolerance, detail);
        }
        let search = backtrack(objective, &x, f, &p, slope, &mut evaluations, settings);
        let (trial, predicted) = match search {
            Backtrack::Accepted(trial, alpha) => (trial, -alpha * slope),
            Backtrack::NoDecrease => {
                let detail = format!(
                    "no further progress possible: no decrease along the Newton direction \
                     (τ = {tau:.3e}) down to a step that leaves x unchanged in f64"
                );
                return run.finish(x, f, k, StopReason::Tolerance, detail);
            }
            Backtrack::NonFinite(bad) => {
                return run.diverge(x, f, k, bad, "every trial point of the line search");
            }
            Backtrack::Budget => {
                let detail = format!("max_evaluations = {} reached", settings.max_evaluations);
                return run.finish(x, f, k, StopReason::MaxSteps, detail);
            }
        };
        let f_new = value_grad_hess(objective, &trial, &mut g, &mut h, &mut evaluations);
        if !all_finite(f_new, &g, &h) {
            let divergence = Divergence {
                step: k + 1,
                loss: f_new,
                bad_params: trial,
            };
            return run.diverge_with(x, f, k, divergence, "the gradient or Hessian");
        }
        pending = step_tests(f, f_new, predicted, &x, &trial, settings);
        x = trial;
        f = f_new;
        k += 1;
    }
}

/// Limited-memory BFGS with a strong-Wolfe line search.
///
/// The direction is `p = −H_k g` computed by the two-loop recursion of N&W Algorithm 7.4
/// (*Numerical Optimization*, 2nd ed., §7.2) from the last `m = lbfgs_memory` pairs
/// `s = x_(k+1) − x_k`, `y = g_(k+1) − g_k`, with the initial matrix `H0 = γI`,
/// `γ = sᵀy / yᵀy` of the newest pair (N&W eq. 7.20). The step length satisfies the strong
/// Wolfe conditions with `c1 = 1e-4`, `c2 = 0.9` (N&W Algorithm 3.5 with the zoom of
/// Algorithm 3.6, cubic interpolation by eq. 3.59: see [`crate::line_search`]); the first
/// trial is `α = 1`, except on the first iteration (and after a reset) where `p = −g` and the
/// trial is `min(1, 1/‖g‖₂)`. A pair with `sᵀy ≤ ε‖s‖‖y‖` (possible only when the line search
/// had to settle for a weak-Wolfe point) is not stored. When the direction is not a descent
/// direction or the line search fails, the memory is cleared and steepest descent is tried once
/// before the run stops.
pub fn lbfgs(
    objective: &dyn Objective,
    start: &[f64],
    settings: &SecondOrderSettings,
    interrupt: &AtomicBool,
    progress: &mut dyn Progress,
) -> Outcome {
    let n = objective.param_count();
    let mut run = Run::new(interrupt, progress);
    let mut x = start.to_vec();
    let mut g = vec![0.0; n];
    let mut evaluations = 1usize;
    let mut f = objective.value_grad(&x, Batch::All, &mut g);
    if !all_finite(f, &g, &[]) {
        return run.diverge_at_start(x, f, "the starting point");
    }
    let memory_size = settings.lbfgs_memory.max(1);
    let mut memory: VecDeque<Pair> = VecDeque::with_capacity(memory_size);
    let mut k = 0usize;
    let mut pending: Option<(StopReason, String)> = None;
    loop {
        if let Some((reason, detail)) = run.checkpoint(k, f, &x, &g, evaluations, settings, pending)
        {
            return run.finish(x, f, k, reason, detail);
        }
        let step = loop {
            let mut p = two_loop(&g, &memory);
            let mut slope = dot(&g, &p);
            if !(slope < 0.0 && slope.is_finite()) {
                memory.clear();
                p = g.iter().map(|v| -v).collect();
                slope = -dot(&g, &g);
            }
            let first_trial = if memory.is_empty() {
                (1.0 / norm2(&g)).min(1.0)
            } else {
                1.0
            };
            let search = line_search::strong_wolfe(
                objective,
                &x,
                f,
                &g,
                &p,
                first_trial,
                &mut evaluations,
                settings.max_evaluations,
            );
            match search {
                Ok(step) => break step,
                Err(_) if !memory.is_empty() => memory.clear(),
                Err(WolfeFailure::NoDecrease) => {
                    let detail = "no further progress possible: the line search found no \
                                  decrease along −∇f down to a step that leaves x unchanged \
                                  in f64"
                        .to_string();
                    return run.finish(x, f, k, StopReason::Tolerance, detail);
                }
                Err(WolfeFailure::NonFinite(bad)) => {
                    return run.diverge(x, f, k, bad, "every trial point of the line search");
                }
                Err(WolfeFailure::Budget) => {
                    let detail = format!("max_evaluations = {} reached", settings.max_evaluations);
                    return run.finish(x, f, k, StopReason::MaxSteps, detail);
                }
            }
        };
        let s: Vec<f64> = step.x.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = step.g.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        let predicted = -dot(&g, &s);
        if sy.is_finite() && sy > f64::EPSILON * norm2(&s) * norm2(&y) {
            if memory.len() == memory_size {
                memory.pop_front();
            }
            memory.push_back(Pair {
                rho: 1.0 / sy,
                s,
                y,
            });
        }
        pending = step_tests(f, step.f, predicted, &x, &step.x, settings);
        x = step.x;
        f = step.f;
        g = step.g;
        k += 1;
    }
}

/// One stored L-BFGS pair with `rho = 1 / sᵀy`.
struct Pair {
    s: Vec<f64>,
    y: Vec<f64>,
    rho: f64,
}

/// N&W Algorithm 7.4: `−H_k g` from the stored pairs, `H0 = (sᵀy / yᵀy) I` of the newest pair.
fn two_loop(g: &[f64], memory: &VecDeque<Pair>) -> Vec<f64> {
    let mut q = g.to_vec();
    let mut alphas = vec![0.0; memory.len()];
    for (i, pair) in memory.iter().enumerate().rev() {
        let a = pair.rho * dot(&pair.s, &q);
        alphas[i] = a;
        axpy(-a, &pair.y, &mut q);
    }
    let gamma = memory
        .back()
        .map_or(1.0, |pair| dot(&pair.s, &pair.y) / dot(&pair.y, &pair.y));
    for v in &mut q {
        *v *= gamma;
    }
    for (pair, a) in memory.iter().zip(&alphas) {
        let b = pair.rho * dot(&pair.y, &q);
        axpy(a - b, &pair.s, &mut q);
    }
    q.iter().map(|v| -v).collect()
}

/// The damped Newton step of N&W Algorithm 3.3 on the scaled Hessian, and the `τ` it needed.
/// Falls back to `−g` if no `τ` up to 1e100 gives a factorisation (only for non-finite input).
pub(crate) fn damped_newton_direction(h: &[f64], g: &[f64]) -> (Vec<f64>, f64) {
    let n = g.len();
    let scale: Vec<f64> = (0..n)
        .map(|i| {
            let d = h[i * n + i].abs();
            if d > 0.0 && d.is_finite() {
                1.0 / d.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    let scaled = DMatrix::from_fn(n, n, |i, j| {
        0.5 * (h[i * n + j] + h[j * n + i]) * scale[i] * scale[j]
    });
    let min_diagonal = (0..n).map(|i| scaled[(i, i)]).fold(f64::INFINITY, f64::min);
    let mut tau = if min_diagonal > 0.0 {
        0.0
    } else {
        -min_diagonal + CHOLESKY_BETA
    };
    let rhs = DVector::from_fn(n, |i, _| -g[i] * scale[i]);
    while tau <= 1e100 {
        let mut shifted = scaled.clone();
        for i in 0..n {
            shifted[(i, i)] += tau;
        }
        if let Some(cholesky) = Cholesky::new(shifted) {
            let z = cholesky.solve(&rhs);
            let p: Vec<f64> = (0..n).map(|i| z[i] * scale[i]).collect();
            if p.iter().all(|v| v.is_finite()) {
                return (p, tau);
            }
        }
        tau = (2.0 * tau).max(CHOLESKY_BETA);
    }
    (g.iter().map(|v| -v).collect(), f64::INFINITY)
}

enum Backtrack {
    /// The point and its step length.
    Accepted(Vec<f64>, f64),
    /// Every finite trial failed Armijo's test down to a step that no longer moves `x`.
    NoDecrease,
    /// No trial point had a finite value: the first one tried.
    NonFinite(Vec<f64>),
    Budget,
}

/// N&W Algorithm 3.1 with the quadratic interpolation of §3.5, trying `α = 1` first. In the
/// rounding-noise regime of `f` a trial that fails Armijo's test but meets Hager and Zhang's
/// approximate condition (the directional derivative there, from one gradient evaluation) is
/// accepted: see [`line_search::NOISE_REGIME`].
fn backtrack(
    objective: &dyn Objective,
    x: &[f64],
    f: f64,
    p: &[f64],
    slope: f64,
    evaluations: &mut usize,
    settings: &SecondOrderSettings,
) -> Backtrack {
    let mut alpha = 1.0;
    let mut first_bad: Option<Vec<f64>> = None;
    let mut finite_seen = false;
    for _ in 0..200 {
        let trial: Vec<f64> = x.iter().zip(p).map(|(xi, pi)| xi + alpha * pi).collect();
        if trial == x {
            break;
        }
        if *evaluations >= settings.max_evaluations {
            return Backtrack::Budget;
        }
        *evaluations += 1;
        let value = objective.value(&trial, Batch::All);
        if value.is_finite() {
            finite_seen = true;
            if value <= f + ARMIJO_C1 * alpha * slope {
                return Backtrack::Accepted(trial, alpha);
            }
            let noise =
                -alpha * slope <= line_search::NOISE_REGIME * f.abs().max(f64::MIN_POSITIVE);
            if noise && *evaluations < settings.max_evaluations {
                *evaluations += 1;
                let mut g = vec![0.0; x.len()];
                let value = objective.value_grad(&trial, Batch::All, &mut g);
                let trial_slope = dot(&g, p);
                if approximately_sufficient(f, slope, alpha, value, trial_slope) {
                    return Backtrack::Accepted(trial, alpha);
                }
            }
            let curvature = 2.0 * (value - f - slope * alpha);
            let minimiser = -slope * alpha * alpha / curvature;
            alpha = if minimiser.is_finite() {
                minimiser.clamp(0.1 * alpha, 0.5 * alpha)
            } else {
                0.5 * alpha
            };
        } else {
            first_bad.get_or_insert(trial);
            alpha *= 0.5;
        }
    }
    match first_bad {
        Some(bad) if !finite_seen => Backtrack::NonFinite(bad),
        _ => Backtrack::NoDecrease,
    }
}

/// The value, gradient and Hessian; the Hessian by central differences of the gradient when
/// the objective has none.
fn value_grad_hess(
    objective: &dyn Objective,
    x: &[f64],
    g: &mut [f64],
    h: &mut [f64],
    evaluations: &mut usize,
) -> f64 {
    *evaluations += 1;
    if let Some(value) = objective.value_grad_hess(x, g, h) {
        return value;
    }
    let n = x.len();
    let value = objective.value_grad(x, Batch::All, g);
    let mut point = x.to_vec();
    let mut plus = vec![0.0; n];
    let mut minus = vec![0.0; n];
    for j in 0..n {
        let step = f64::EPSILON.cbrt() * x[j].abs().max(1.0);
        point[j] = x[j] + step;
        let up = point[j];
        objective.value_grad(&point, Batch::All, &mut plus);
        point[j] = x[j] - step;
        let down = point[j];
        objective.value_grad(&point, Batch::All, &mut minus);
        point[j] = x[j];
        *evaluations += 2;
        for i in 0..n {
            h[i * n + j] = (plus[i] - minus[i]) / (up - down);
        }
    }
    for i in 0..n {
        for j in 0..i {
            let mean = 0.5 * (h[i * n + j] + h[j * n + i]);
            h[i * n + j] = mean;
            h[j * n + i] = mean;
        }
    }
    value
}

/// The gradient test: `‖g‖∞ ≤ gtol · max(1, |f|)`.
pub(crate) fn gradient_test(g: &[f64], f: f64, gtol: f64) -> Option<String> {
    let largest = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    (largest <= gtol * f.abs().max(1.0)).then(|| {
        format!(
            "gradient ‖∇f‖∞ = {largest:.3e} ≤ gtol · max(1, |f|) = {:.3e}",
            gtol * f.abs().max(1.0)
        )
    })
}

/// The relative-reduction and step tests after an accepted step from `(x, f)` to
/// `(x_new, f_new)` whose predicted reduction was `predicted`.
pub(crate) fn step_tests(
    f: f64,
    f_new: f64,
    predicted: f64,
    x: &[f64],
    x_new: &[f64],
    settings: &SecondOrderSettings,
) -> Option<(StopReason, String)> {
    if x_new == x {
        let detail = "no further progress possible: the step leaves x unchanged in f64".into();
        return Some((StopReason::Tolerance, detail));
    }
    if let Some(detail) = change_test(f, f_new, settings.tol) {
        return Some((StopReason::Tolerance, detail));
    }
    let scale = f.abs().max(f64::MIN_POSITIVE);
    if let Some(detail) = reduction_test((f - f_new) / scale, predicted / scale, settings.ftol) {
        return Some((StopReason::Tolerance, detail));
    }
    let step = relative_step(x, x_new, settings.xtol);
    (step <= settings.xtol).then(|| {
        let detail = format!("relative step {step:.3e} ≤ xtol = {:e}", settings.xtol);
        (StopReason::Tolerance, detail)
    })
}

/// The contract's `--tol` test: `|f − f_new| < tol` (never with `tol = 0`).
pub(crate) fn change_test(f: f64, f_new: f64, tol: f64) -> Option<String> {
    let change = (f - f_new).abs();
    (change < tol).then(|| format!("|ΔL| = {change:.3e} < {tol:e}"))
}

/// MINPACK's relative-reduction test: the actual and the predicted relative reductions are
/// both at most `ftol`. The predicted one carries no rounding noise, so the test does not fire
/// on a step that only happened to leave `f` unchanged.
pub(crate) fn reduction_test(actual: f64, predicted: f64, ftol: f64) -> Option<String> {
    (ftol > 0.0 && actual.abs() <= ftol && predicted.abs() <= ftol).then(|| {
        format!(
            "relative reduction {:.3e} (predicted {:.3e}) ≤ ftol = {ftol:e}",
            actual.abs(),
            predicted.abs()
        )
    })
}

/// Iterations of the noise regime in a row whose predicted decrease is no new minimum, after
/// which a run stops.
const STALL_PATIENCE: usize = 2;

/// Detects the end of progress at the rounding level. The affine-invariant measure of the
/// distance to the minimum that Newton-type methods predict — the squared Newton decrement
/// `∇fᵀH⁻¹∇f` (positive definite `H`), or for Gauss–Newton `‖Qᵀr‖²`, the reduction of `Σr²`
/// the linear model still sees — shrinks from one iteration to the next, quadratically or
/// linearly; once it is inside the noise regime ([`line_search::NOISE_REGIME`] · |f|) and has
/// reached no new minimum for [`STALL_PATIENCE`] iterations, the steps are made of rounding
/// errors. This is the stopping rule of iterative refinement (stop when the corrections no
/// longer decrease), and unlike tests on `f` it does not stop a linearly converging method
/// early. (L-BFGS has no such measure: `∇fᵀH_k∇f` with the quasi-Newton `H_k` can be tiny far
/// from the minimum of a badly scaled problem.)
#[derive(Debug)]
pub(crate) struct Stall {
    best: f64,
    count: usize,
}

impl Default for Stall {
    fn default() -> Stall {
        Stall {
            best: f64::INFINITY,
            count: 0,
        }
    }
}

impl Stall {
    /// Feeds the predicted decrease of this iteration at a point with value `f`; the detail of
    /// the stop when progress has ended.
    pub(crate) fn update(&mut self, predicted: f64, f: f64) -> Option<String> {
        let relative = predicted / f.abs().max(f64::MIN_POSITIVE);
        if relative.is_nan() || relative > line_search::NOISE_REGIME {
            *self = Stall::default();
            return None;
        }
        if relative < self.best {
            self.best = relative;
            self.count = 0;
            return None;
        }
        self.count += 1;
        (self.count >= STALL_PATIENCE).then(|| {
            format!(
                "no further progress possible: the predicted relative decrease {relative:.3e} \
                 stopped shrinking (smallest {:.3e}) at the rounding level",
                self.best
            )
        })
    }
}

/// `max_i |x_new,i − x_i| / (|x_new,i| + xtol)`.
pub(crate) fn relative_step(x: &[f64], x_new: &[f64], xtol: f64) -> f64 {
    x.iter()
        .zip(x_new)
        .map(|(a, b)| (b - a).abs() / (b.abs() + xtol))
        .fold(0.0, f64::max)
}

fn budget_test(k: usize, evaluations: usize, settings: &SecondOrderSettings) -> Option<String> {
    if k >= settings.max_iterations {
        Some(format!(
            "max_iterations = {} reached",
            settings.max_iterations
        ))
    } else if evaluations >= settings.max_evaluations {
        Some(format!(
            "max_evaluations = {} reached",
            settings.max_evaluations
        ))
    } else {
        None
    }
}

fn all_finite(f: f64, g: &[f64], h: &[f64]) -> bool {
    f.is_finite() && g.iter().chain(h).all(|v| v.is_finite())
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub(crate) fn norm2(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// The history, observer and interrupt flag of one run, and the building of its [`Outcome`].
pub(crate) struct Run<'a> {
    history: Vec<(usize, f64)>,
    /// The loss at the start, for the explosion test.
    first: Option<f64>,
    interrupt: &'a AtomicBool,
    progress: &'a mut dyn Progress,
}

impl<'a> Run<'a> {
    pub(crate) fn new(interrupt: &'a AtomicBool, progress: &'a mut dyn Progress) -> Run<'a> {
        Run {
            history: Vec::new(),
            first: None,
            interrupt,
            progress,
        }
    }

    /// The tests every iteration of newton, lbfgs and lm starts with, in order: observe
    /// (interrupt), a stop decided by the previous iteration (`pending`), the gradient, the
    /// iteration and evaluation budgets. `Some` means stop, with the reason and its detail.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn checkpoint(
        &mut self,
        k: usize,
        f: f64,
        x: &[f64],
        g: &[f64],
        evaluations: usize,
        settings: &SecondOrderSettings,
        pending: Option<(StopReason, String)>,
    ) -> Option<(StopReason, String)> {
        if self.observe(k, f, x) {
            return Some((StopReason::Interrupted, "interrupted".into()));
        }
        if pending.is_some() {
            return pending;
        }
        let first = *self.first.get_or_insert(f);
        if f.abs() > settings.explode_factor * first.abs().max(1.0) {
            let detail = format!(
                "loss {} at step {k}: more than {:e} times the first in magnitude (the objective \
                 may be unbounded {})",
                gradc_graph::print::format_short(f),
                settings.explode_factor,
                if f < 0.0 { "below" } else { "above" },
            );
            return Some((StopReason::Diverged, detail));
        }
        if let Some(detail) = gradient_test(g, f, settings.gtol) {
            return Some((StopReason::Gradient, detail));
        }
        budget_test(k, evaluations, settings).map(|detail| (StopReason::MaxSteps, detail))
    }

    /// Records iteration `k` (history, `record`, `step`); `true` when the run is to stop
    /// (the observer asked to, or the interrupt flag is set).
    pub(crate) fn observe(&mut self, k: usize, loss: f64, params: &[f64]) -> bool {
        self.history.push((k, loss));
        self.progress.record(k, params);
        let keep_going = self.progress.step(k, loss);
        !keep_going || self.interrupt.load(Ordering::Relaxed)
    }

    pub(crate) fn finish(
        self,
        params: Vec<f64>,
        loss: f64,
        steps: usize,
        stop_reason: StopReason,
        detail: String,
    ) -> Outcome {
        // A finite loss that exploded: the point is finite, and it is where the run diverged.
        let divergence = (stop_reason == StopReason::Diverged).then(|| Divergence {
            step: steps,
            loss,
            bad_params: params.clone(),
        });
        Outcome {
            params,
            loss,
            steps,
            stop_reason,
            history: self.history,
            divergence,
            detail: Some(detail),
        }
    }

    /// A non-finite value at the start: nothing finite to keep but the start itself.
    pub(crate) fn diverge_at_start(self, start: Vec<f64>, loss: f64, what: &str) -> Outcome {
        let divergence = Divergence {
            step: 0,
            loss,
            bad_params: start.clone(),
        };
        let kept = if loss.is_finite() { loss } else { f64::NAN };
        self.diverge_with(start, kept, 0, divergence, what)
    }

    /// The next point (`bad`, at step `steps + 1`) was not finite; `params` is the last good
    /// point.
    pub(crate) fn diverge(
        self,
        params: Vec<f64>,
        loss: f64,
        steps: usize,
        bad: Vec<f64>,
        what: &str,
    ) -> Outcome {
        let divergence = Divergence {
            step: steps + 1,
            loss: f64::NAN,
            bad_params: bad,
        };
        self.diverge_with(params, loss, steps, divergence, what)
    }

    pub(crate) fn diverge_with(
        mut self,
        params: Vec<f64>,
        loss: f64,
        steps: usize,
        divergence: Divergence,
        what: &str,
    ) -> Outcome {
        self.history.push((divergence.step, divergence.loss));
        let detail = format!(
            "non-finite value at {what} (step {}); keeping the last finite point",
            divergence.step
        );
        Outcome {
            params,
            loss,
            steps,
            stop_reason: StopReason::Diverged,
            history: self.history,
            divergence: Some(divergence),
            detail: Some(detail),
        }
    }
}

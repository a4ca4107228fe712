//! A line search for the strong Wolfe conditions: Nocedal & Wright, *Numerical Optimization*,
//! 2nd ed., Algorithm 3.5 (bracketing) and Algorithm 3.6 (zoom), with the cubic interpolation
//! of their eq. 3.59.
//!
//! With `φ(α) = f(x + αp)` and `φ'(0) = ∇f(x)ᵀp < 0`, the step `α` returned satisfies
//!
//! - sufficient decrease: `φ(α) ≤ φ(0) + c1 α φ'(0)`, and
//! - the strong curvature condition: `|φ'(α)| ≤ c2 |φ'(0)|`,
//!
//! with `c1 = 1e-4`, `c2 = 0.9` (the values N&W recommend for quasi-Newton methods). Near the
//! rounding floor of `f` ([`NOISE_REGIME`]) sufficient decrease may instead be met in Hager and
//! Zhang's approximate form ([`approximately_sufficient`]). If the bracket shrinks to nothing
//! in f64 before the curvature condition holds, the best point that satisfies sufficient
//! decrease is returned (with `strong = false`). A non-finite `φ(α)` is treated as a failure of
//! sufficient decrease, so that the step shrinks.

use crate::second::dot;
use crate::{Batch, Objective};

/// Sufficient-decrease constant.
pub const WOLFE_C1: f64 = 1e-4;
/// Curvature constant.
pub const WOLFE_C2: f64 = 0.9;

/// Trial evaluations in the bracketing phase and in the zoom phase, each.
const MAX_TRIALS: usize = 60;

/// A step whose first-order predicted change `|α ∇fᵀp|` is at most `NOISE_REGIME · |f|` is in
/// the rounding-noise regime: differences of `f` there say little (for a sum over many terms
/// the rounding error of `f` itself can be 1e-14 · |f| or more), so acceptance is decided by
/// the directional derivative instead — Hager & Zhang's approximate Wolfe conditions ("A new
/// conjugate gradient method with guaranteed descent and an efficient line search", SIAM J.
/// Optim. 16(1), 2005), which let a method converge to the precision of the gradient
/// rather than to the square root of the precision of `f`.
pub const NOISE_REGIME: f64 = 1e-10;

/// The relative rise of `f` that a step accepted in the noise regime may show (Hager & Zhang's
/// `ε_k`, here `FLAT · |f|`).
pub const FLAT: f64 = 1e-12;

/// Hager & Zhang's approximate sufficient-decrease condition, applied only in the noise
/// regime: `α |φ'(0)| ≤ NOISE_REGIME |φ(0)|`, `φ(α) ≤ φ(0) + FLAT |φ(0)|` and
/// `φ'(α) ≤ (2 c1 − 1) φ'(0)` (for a quadratic `φ` the last is equivalent to Armijo's
/// condition, without any cancellation).
pub fn approximately_sufficient(f0: f64, slope0: f64, alpha: f64, f: f64, slope: f64) -> bool {
    let scale = f0.abs().max(f64::MIN_POSITIVE);
    -alpha * slope0 <= NOISE_REGIME * scale
        && f <= f0 + FLAT * scale
        && slope <= (2.0 * WOLFE_C1 - 1.0) * slope0
}

/// An accepted step.
#[derive(Clone, Debug)]
pub struct WolfeStep {
    pub alpha: f64,
    /// `x + αp`.
    pub x: Vec<f64>,
    /// `f(x + αp)`.
    pub f: f64,
    /// `∇f(x + αp)`.
    pub g: Vec<f64>,
    /// Whether the strong Wolfe conditions hold (otherwise only sufficient decrease).
    pub strong: bool,
}

/// Why no step was found.
#[derive(Clone, Debug, PartialEq)]
pub enum WolfeFailure {
    /// No trial point lowered `f` enough before the steps became too small to move `x`.
    NoDecrease,
    /// No trial point had a finite value: the first one tried.
    NonFinite(Vec<f64>),
    /// The evaluation budget ran out.
    Budget,
}

/// One evaluated trial point.
#[derive(Clone)]
struct Point {
    alpha: f64,
    f: f64,
    /// `φ'(α)`.
    slope: f64,
    x: Vec<f64>,
    g: Vec<f64>,
}

struct Search<'a> {
    objective: &'a dyn Objective,
    x: &'a [f64],
    p: &'a [f64],
    f0: f64,
    slope0: f64,
    evaluations: &'a mut usize,
    max_evaluations: usize,
    first_bad: Option<Vec<f64>>,
    finite_seen: bool,
}

impl Search<'_> {
    fn evaluate(&mut self, alpha: f64) -> Result<Point, WolfeFailure> {
        if *self.evaluations >= self.max_evaluations {
            return Err(WolfeFailure::Budget);
        }
        *self.evaluations += 1;
        let x: Vec<f64> = self
            .x
            .iter()
            .zip(self.p)
            .map(|(xi, pi)| xi + alpha * pi)
            .collect();
        let mut g = vec![0.0; x.len()];
        let f = self.objective.value_grad(&x, Batch::All, &mut g);
        let slope = dot(&g, self.p);
        let finite = f.is_finite() && slope.is_finite();
        if finite {
            self.finite_seen = true;
        } else if self.first_bad.is_none() {
            self.first_bad = Some(x.clone());
        }
        Ok(Point {
            alpha,
            f: if finite { f } else { f64::INFINITY },
            slope: if finite { slope } else { f64::NAN },
            x,
            g,
        })
    }

    fn sufficient_decrease(&self, point: &Point) -> bool {
        point.f <= self.f0 + WOLFE_C1 * point.alpha * self.slope0
    }

    fn approximately_sufficient(&self, point: &Point) -> bool {
        point.f.is_finite()
            && approximately_sufficient(self.f0, self.slope0, point.alpha, point.f, point.slope)
    }

    fn curvature(&self, point: &Point) -> bool {
        point.slope.abs() <= -WOLFE_C2 * self.slope0
    }

    fn failure(&mut self) -> WolfeFailure {
        match self.first_bad.take() {
            Some(bad) if !self.finite_seen => WolfeFailure::NonFinite(bad),
            _ => WolfeFailure::NoDecrease,
        }
    }

    /// N&W Algorithm 3.6: `lo` satisfies sufficient decrease and has the lowest value so far;
    /// the interval between `lo` and `hi` contains strong-Wolfe steps.
    fn zoom(&mut self, mut lo: Point, mut hi: Point) -> Result<WolfeStep, WolfeFailure> {
        for _ in 0..MAX_TRIALS {
            let alpha = interpolate(&lo, &hi);
            let moves = |a: f64| {
                self.x
                    .iter()
                    .zip(self.p)
                    .any(|(xi, pi)| xi + a * pi != xi + lo.alpha * pi)
            };
            let inside = alpha > lo.alpha.min(hi.alpha) && alpha < lo.alpha.max(hi.alpha);
            if !(inside && moves(alpha)) {
                break;
            }
            let trial = self.evaluate(alpha)?;
            let decreased = self.sufficient_decrease(&trial) && trial.f < lo.f;
            if !(decreased || self.approximately_sufficient(&trial)) {
                hi = trial;
            } else {
                if self.curvature(&trial) {
                    return Ok(accept(trial, true));
                }
                if trial.slope * (hi.alpha - lo.alpha) >= 0.0 {
                    hi = lo;
                }
                lo = trial;
            }
        }
        if lo.alpha > 0.0 {
            Ok(accept(lo, false))
        } else {
            Err(self.failure())
        }
    }
}

fn accept(point: Point, strong: bool) -> WolfeStep {
    WolfeStep {
        alpha: point.alpha,
        x: point.x,
        f: point.f,
        g: point.g,
        strong,
    }
}

/// The minimiser of the cubic interpolating `φ` and `φ'` at both ends (N&W eq. 3.59), kept at
/// least a tenth of the interval away from either end; the midpoint when the cubic has no
/// minimiser or an end is not finite.
fn interpolate(a: &Point, b: &Point) -> f64 {
    let (low, high) = (a.alpha.min(b.alpha), a.alpha.max(b.alpha));
    let width = high - low;
    let midpoint = low + 0.5 * width;
    if !(a.f.is_finite() && b.f.is_finite() && a.slope.is_finite() && b.slope.is_finite()) {
        return midpoint;
    }
    let d1 = a.slope + b.slope - 3.0 * (a.f - b.f) / (a.alpha - b.alpha);
    let discriminant = d1 * d1 - a.slope * b.slope;
    if discriminant < 0.0 {
        return midpoint;
    }
    let d2 = (b.alpha - a.alpha).signum() * discriminant.sqrt();
    let alpha =
        b.alpha - (b.alpha - a.alpha) * (b.slope + d2 - d1) / (b.slope - a.slope + 2.0 * d2);
    if alpha.is_finite() {
        alpha.clamp(low + 0.1 * width, high - 0.1 * width)
    } else {
        midpoint
    }
}

/// Finds a step along the descent direction `p` from `x` (value `f0`, gradient `g0`) that
/// satisfies the strong Wolfe conditions, starting with `alpha_init` (N&W Algorithm 3.5; the
/// trial step doubles while φ keeps decreasing steeply). Counts evaluations into
/// `evaluations` and stops at `max_evaluations`.
#[allow(clippy::too_many_arguments)]
pub fn strong_wolfe(
    objective: &dyn Objective,
    x: &[f64],
    f0: f64,
    g0: &[f64],
    p: &[f64],
    alpha_init: f64,
    evaluations: &mut usize,
    max_evaluations: usize,
) -> Result<WolfeStep, WolfeFailure> {
    let slope0 = dot(g0, p);
    let mut search = Search {
        objective,
        x,
        p,
        f0,
        slope0,
        evaluations,
        max_evaluations,
        first_bad: None,
        finite_seen: false,
    };
    if slope0.is_nan() || slope0 >= 0.0 {
        return Err(WolfeFailure::NoDecrease);
    }
    let mut previous = Point {
        alpha: 0.0,
        f: f0,
        slope: slope0,
        x: x.to_vec(),
        g: g0.to_vec(),
    };
    let mut alpha = alpha_init;
    for i in 0..MAX_TRIALS {
        let current = search.evaluate(alpha)?;
        let decreased = search.sufficient_decrease(&current) && (i == 0 || current.f < previous.f);
        if !(decreased || search.approximately_sufficient(&current)) {
            return search.zoom(previous, current);
        }
        if search.curvature(&current) {
            return Ok(accept(current, true));
        }
        if current.slope >= 0.0 {
            return search.zoom(current, previous);
        }
        alpha = 2.0 * current.alpha;
        previous = current;
        if !alpha.is_finite() {
            break;
        }
    }
    // φ kept decreasing steeply for 60 doublings: the function looks unbounded below.
    Ok(accept(previous, false))
}

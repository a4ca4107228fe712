//! `gradc check`: the derived gradient against central finite differences of the objective, on
//! the real data (LANGUAGE.md §5).

use crate::objective::{Batch, Objective};

/// The comparison at one point.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckReport {
    pub value: f64,
    /// The derived gradient, per flat parameter element.
    pub gradient: Vec<f64>,
    /// Finite differences (Richardson-extrapolated central differences), per flat parameter
    /// element.
    pub finite_difference: Vec<f64>,
    /// `|g − d| / max(|g|, |d|, floor, u / 1e-6)` per flat parameter element, with
    /// `floor = max(1e-6 · max(1, |f|), 1e-3 · the largest partial)` and `u` the finite
    /// difference's own uncertainty: relative where the derivative is not tiny, absolute where
    /// it is, and at most 1e-6 where the finite difference cannot tell (see `check`).
    pub relative_error: Vec<f64>,
    pub max_relative_error: f64,
}

/// The default tolerance on the relative error.
pub const DEFAULT_TOLERANCE: f64 = 1e-5;

/// A discrepancy within the finite difference's own uncertainty counts as at most this
/// relative error: ten times below the default tolerance.
const WITHIN_UNCERTAINTY: f64 = 1e-6;

/// Compares the gradient with finite differences of the objective.
///
/// Each partial is estimated from central differences `D(h) = (f(x + h) − f(x − h)) / 2h` at
/// `h = ∛ε · max(1, |x|)` and at `2h`, extrapolated (Richardson) to
/// `d = (4·D(h) − D(2h)) / 3`, which cancels the `h²` term of the truncation error. That error
/// is what made a plain central difference disagree with a correct gradient at a minimum, where
/// the derivative is zero and `h²·f‴/6` is all that is left. `u = |D(h) − D(2h)| + 4ε·|f|/h`
/// measures what the finite difference cannot resolve (the `h²` term, a kink within `2h`, the
/// rounding of values of size |f|); a discrepancy smaller than that is no evidence against the
/// gradient, and it is
/// reported as at most [`WITHIN_UNCERTAINTY`]. A parameter far smaller than one (NIST's Misra1a
/// has b2 = 5.5e-4) varies on its own scale, where that step is too coarse: where the first
/// estimate disagrees with the derivative, a second one with `h = ∛ε · |x|` is taken, and the
/// closer of the two is reported.
pub fn check(objective: &dyn Objective, params: &[f64]) -> CheckReport {
    let mut gradient = vec![0.0; params.len()];
    let value = objective.value_grad(params, Batch::All, &mut gradient);
    let mut point = params.to_vec();
    let mut central = |i: usize, h: f64| {
        point[i] = params[i] + h;
        let plus = objective.value(&point, Batch::All);
        point[i] = params[i] - h;
        let minus = objective.value(&point, Batch::All);
        point[i] = params[i];
        (plus - minus) / (2.0 * h)
    };
    // (estimate, uncertainty): the difference of the two step sizes, and the rounding noise
    // of the extrapolated difference of values of size |f| (a few ε·|f| each, over h).
    let mut richardson = |i: usize, h: f64| {
        let (near, far) = (central(i, h), central(i, 2.0 * h));
        let noise = 4.0 * f64::EPSILON * value.abs() / h;
        ((4.0 * near - far) / 3.0, (near - far).abs() + noise)
    };
    let estimates: Vec<(f64, f64)> = (0..params.len())
        .map(|i| {
            let x = params[i].abs();
            let (d, u) = richardson(i, f64::EPSILON.cbrt() * x.max(1.0));
            let g = gradient[i];
            let disagrees = (g - d).abs() > 1e-7 * g.abs().max(d.abs());
            if disagrees && x < 0.1 && x > 0.0 {
                let (fine, fine_u) = richardson(i, f64::EPSILON.cbrt() * x);
                if (g - fine).abs() < (g - d).abs() {
                    return (fine, fine_u);
                }
            }
            (d, u)
        })
        .collect();
    let finite_difference: Vec<f64> = estimates.iter().map(|e| e.0).collect();
    let largest = gradient
        .iter()
        .chain(&finite_difference)
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let floor = (1e-6 * value.abs().max(1.0)).max(1e-3 * largest);
    let relative_error: Vec<f64> = gradient
        .iter()
        .zip(&estimates)
        .map(|(g, (d, u))| relative_error(*g, *d, floor.max(u / WITHIN_UNCERTAINTY)))
        .collect();
    let max_relative_error = if relative_error.iter().any(|e| e.is_nan()) {
        f64::NAN
    } else {
        relative_error.iter().copied().fold(0.0, f64::max)
    };
    CheckReport {
        value,
        gradient,
        finite_difference,
        relative_error,
        max_relative_error,
    }
}

/// `|g − d| / max(|g|, |d|, floor)`: relative where the derivative is not tiny compared with the
/// objective's value, the largest partial and the finite difference's uncertainty, absolute
/// (scaled by `1/floor`) where it is — central differences of a function of size |f| carry an
/// absolute error of about ε^(2/3)·|f| (≈ 4e-11·|f|), which is no evidence against a partial of
/// 1e-6.
fn relative_error(g: f64, d: f64, floor: f64) -> f64 {
    if g == d {
        return 0.0;
    }
    (g - d).abs() / g.abs().max(d.abs()).max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Square;

    impl Objective for Square {
        fn param_count(&self) -> usize {
            2
        }
        fn row_count(&self) -> usize {
            0
        }
        fn value(&self, p: &[f64], _: Batch) -> f64 {
            p[0] * p[0] + 3.0 * p[1]
        }
        fn value_grad(&self, p: &[f64], b: Batch, g: &mut [f64]) -> f64 {
            g[0] = 2.0 * p[0];
            g[1] = 3.0;
            self.value(p, b)
        }
    }

    #[test]
    fn agrees_on_a_correct_gradient() {
        let report = check(&Square, &[1.5, -2.0]);
        assert!(report.max_relative_error < 1e-8, "{report:?}");
        assert_eq!(report.gradient, vec![3.0, 3.0]);
    }

    #[test]
    fn catches_a_wrong_gradient() {
        struct Wrong;
        impl Objective for Wrong {
            fn param_count(&self) -> usize {
                1
            }
            fn row_count(&self) -> usize {
                0
            }
            fn value(&self, p: &[f64], _: Batch) -> f64 {
                p[0] * p[0]
            }
            fn value_grad(&self, p: &[f64], b: Batch, g: &mut [f64]) -> f64 {
                g[0] = 2.1 * p[0];
                self.value(p, b)
            }
        }
        assert!(check(&Wrong, &[1.0]).max_relative_error > 0.04);
    }

    /// `(x − 1)⁴ + c·x` near its minimum, with the gradient right or off by `bias`.
    struct Quartic {
        bias: f64,
    }

    impl Objective for Quartic {
        fn param_count(&self) -> usize {
            1
        }
        fn row_count(&self) -> usize {
            0
        }
        fn value(&self, p: &[f64], _: Batch) -> f64 {
            1e3 * (p[0] - 1.0).powi(4) + 0.3
        }
        fn value_grad(&self, p: &[f64], b: Batch, g: &mut [f64]) -> f64 {
            g[0] = 4e3 * (p[0] - 1.0).powi(3) + self.bias;
            self.value(p, b)
        }
    }

    #[test]
    fn a_correct_gradient_passes_at_a_minimum_and_a_wrong_one_does_not() {
        // At and near the minimum the derivative is (almost) zero: a plain central difference
        // is left with its truncation error h²·f'''/6 and rounding noise ε·|f|/h, which the
        // check must not mistake for a wrong gradient.
        for x in [1.0, 1.0 + 1e-9, 1.0 - 3e-6, 1.001] {
            let report = check(&Quartic { bias: 0.0 }, &[x]);
            assert!(
                report.max_relative_error <= DEFAULT_TOLERANCE,
                "{x}: {report:?}"
            );
        }
        // A gradient off by 1e-6 at the minimum is still caught.
        let report = check(&Quartic { bias: 1e-6 }, &[1.0]);
        assert!(report.max_relative_error > DEFAULT_TOLERANCE, "{report:?}");
    }
}

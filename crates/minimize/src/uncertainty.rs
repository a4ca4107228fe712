//! Standard errors of fitted parameters.
//!
//! - [`standard_errors`]: `√diag(H⁻¹)` for the Hessian `H` of a negative log-likelihood at its
//!   minimum (the inverse observed Fisher information), by a Cholesky factorisation.
//! - [`least_squares_errors`]: `√(diag((JᵀJ)⁻¹) · s²)` with `s² = Σr² / (m − n)` for a
//!   least-squares fit with Jacobian `J` (`m × n`) and residuals `r` at the solution: the
//!   convention of curve-fitting tools (scipy's `curve_fit` with `absolute_sigma=False`, gnuplot,
//!   Origin) and of the NIST StRD certified standard deviations. `(JᵀJ)⁻¹` is computed from the
//!   singular value decomposition `J = UΣVᵀ` as `V Σ⁻² Vᵀ`, never by forming `JᵀJ`.

use nalgebra::{Cholesky, DMatrix};

/// `√diag(H⁻¹)` for a row-major symmetric `n × n` matrix `hessian` (its lower and upper
/// triangles are averaged). `None` when `H` is not positive definite or the result is not
/// finite.
pub fn standard_errors(hessian: &[f64], n: usize) -> Option<Vec<f64>> {
    assert_eq!(hessian.len(), n * n, "the Hessian must be n × n");
    if hessian.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let symmetric = DMatrix::from_fn(n, n, |i, j| 0.5 * (hessian[i * n + j] + hessian[j * n + i]));
    let inverse = Cholesky::new(symmetric)?.inverse();
    (0..n)
        .map(|i| {
            let variance = inverse[(i, i)];
            (variance > 0.0 && variance.is_finite()).then(|| variance.sqrt())
        })
        .collect()
}

/// `√(diag((JᵀJ)⁻¹) · Σr²/(m − n))` for the row-major `m × n` Jacobian `jac` of the residuals
/// `residuals` (length `m`). `None` when `m ≤ n` or `J` is rank deficient (its smallest singular
/// value is below `max(m, n) · ε · σ_max`).
pub fn least_squares_errors(
    jac: &[f64],
    residuals: &[f64],
    m: usize,
    n: usize,
) -> Option<Vec<f64>> {
    assert_eq!(jac.len(), m * n, "the Jacobian must be m × n");
    assert_eq!(residuals.len(), m, "one residual per row of the Jacobian");
    if m <= n || jac.iter().chain(residuals).any(|v| !v.is_finite()) {
        return None;
    }
    let variance = residuals.iter().map(|r| r * r).sum::<f64>() / (m - n) as f64;
    let svd = DMatrix::from_row_slice(m, n, jac).svd(false, true);
    let v_t = svd.v_t?;
    let sigma = svd.singular_values;
    let largest = sigma.iter().fold(0.0f64, |a, &b| a.max(b));
    let threshold = m.max(n) as f64 * f64::EPSILON * largest;
    if largest == 0.0 || sigma.iter().any(|&s| s <= threshold) {
        return None;
    }
    (0..n)
        .map(|i| {
            // diag(V Σ⁻² Vᵀ)_i = Σ_k (V_ik / σ_k)², and V_ik = (Vᵀ)_ki.
            let inverse: f64 = (0..n).map(|k| (v_t[(k, i)] / sigma[k]).powi(2)).sum();
            let se = (inverse * variance).sqrt();
            se.is_finite().then_some(se)
        })
        .collect()
}

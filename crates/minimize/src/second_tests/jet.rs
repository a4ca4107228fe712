//! Second-order forward-mode differentiation for the tests: a `Jet` carries a value, its
//! gradient and its Hessian with respect to the variables, so that test problems written once
//! give exact residuals, Jacobians, gradients and Hessians. Constants have empty derivative
//! vectors (they are zero), so value-only evaluations cost no derivatives.

use std::ops::{Add, Div, Mul, Neg, Sub};

#[derive(Clone, Debug)]
pub struct Jet {
    pub v: f64,
    /// ∂v/∂x_i (empty for a constant).
    pub g: Vec<f64>,
    /// ∂²v/∂x_i∂x_j, row-major (empty for a constant).
    pub h: Vec<f64>,
}

/// Jets for the variables `x` (with derivatives when `derivatives`, else as constants).
pub fn variables(x: &[f64], derivatives: bool) -> Vec<Jet> {
    let n = x.len();
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            if derivatives {
                let mut g = vec![0.0; n];
                g[i] = 1.0;
                Jet {
                    v,
                    g,
                    h: vec![0.0; n * n],
                }
            } else {
                Jet::c(v)
            }
        })
        .collect()
}

fn combine(a: &[f64], ka: f64, b: &[f64], kb: f64) -> Vec<f64> {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Vec::new(),
        (false, true) => a.iter().map(|x| ka * x).collect(),
        (true, false) => b.iter().map(|x| kb * x).collect(),
        (false, false) => a.iter().zip(b).map(|(x, y)| ka * x + kb * y).collect(),
    }
}

/// `a bᵀ + b aᵀ` added into `h`.
fn add_symmetric_outer(h: &mut [f64], a: &[f64], b: &[f64]) {
    let n = a.len();
    for i in 0..n {
        for j in 0..n {
            h[i * n + j] += a[i] * b[j] + b[i] * a[j];
        }
    }
}

impl Jet {
    pub fn c(v: f64) -> Jet {
        Jet {
            v,
            g: Vec::new(),
            h: Vec::new(),
        }
    }

    /// `φ(self)` given `φ`, `φ'`, `φ''` at `self.v`.
    fn chain(&self, value: f64, d1: f64, d2: f64) -> Jet {
        let mut h = combine(&self.h, d1, &[], 0.0);
        if !self.g.is_empty() {
            let n = self.g.len();
            for i in 0..n {
                for j in 0..n {
                    h[i * n + j] += d2 * self.g[i] * self.g[j];
                }
            }
        }
        Jet {
            v: value,
            g: combine(&self.g, d1, &[], 0.0),
            h,
        }
    }

    pub fn exp(&self) -> Jet {
        let e = self.v.exp();
        self.chain(e, e, e)
    }

    pub fn sqrt(&self) -> Jet {
        let s = self.v.sqrt();
        self.chain(s, 0.5 / s, -0.25 / (s * self.v))
    }

    pub fn atan(&self) -> Jet {
        let q = 1.0 + self.v * self.v;
        self.chain(self.v.atan(), 1.0 / q, -2.0 * self.v / (q * q))
    }

    pub fn recip(&self) -> Jet {
        let v = self.v;
        self.chain(1.0 / v, -1.0 / (v * v), 2.0 / (v * v * v))
    }

    pub fn square(&self) -> Jet {
        self.clone() * self.clone()
    }

    pub fn powi(&self, k: i32) -> Jet {
        let v = self.v;
        let kf = f64::from(k);
        self.chain(
            v.powi(k),
            kf * v.powi(k - 1),
            kf * (kf - 1.0) * v.powi(k - 2),
        )
    }
}

impl Add for Jet {
    type Output = Jet;
    fn add(self, b: Jet) -> Jet {
        Jet {
            v: self.v + b.v,
            g: combine(&self.g, 1.0, &b.g, 1.0),
            h: combine(&self.h, 1.0, &b.h, 1.0),
        }
    }
}

impl Sub for Jet {
    type Output = Jet;
    fn sub(self, b: Jet) -> Jet {
        Jet {
            v: self.v - b.v,
            g: combine(&self.g, 1.0, &b.g, -1.0),
            h: combine(&self.h, 1.0, &b.h, -1.0),
        }
    }
}

impl Mul for Jet {
    type Output = Jet;
    fn mul(self, b: Jet) -> Jet {
        let mut h = combine(&self.h, b.v, &b.h, self.v);
        if !self.g.is_empty() && !b.g.is_empty() {
            add_symmetric_outer(&mut h, &self.g, &b.g);
        }
        Jet {
            v: self.v * b.v,
            g: combine(&self.g, b.v, &b.g, self.v),
            h,
        }
    }
}

#[allow(clippy::suspicious_arithmetic_impl)]
impl Div for Jet {
    type Output = Jet;
    fn div(self, b: Jet) -> Jet {
        if b.g.is_empty() {
            let k = 1.0 / b.v;
            return Jet {
                v: self.v / b.v,
                g: combine(&self.g, k, &[], 0.0),
                h: combine(&self.h, k, &[], 0.0),
            };
        }
        self * b.recip()
    }
}

impl Neg for Jet {
    type Output = Jet;
    fn neg(self) -> Jet {
        Jet::c(0.0) - self
    }
}

impl Add<f64> for Jet {
    type Output = Jet;
    fn add(mut self, b: f64) -> Jet {
        self.v += b;
        self
    }
}

impl Sub<f64> for Jet {
    type Output = Jet;
    fn sub(mut self, b: f64) -> Jet {
        self.v -= b;
        self
    }
}

impl Mul<f64> for Jet {
    type Output = Jet;
    fn mul(self, b: f64) -> Jet {
        Jet {
            v: self.v * b,
            g: combine(&self.g, b, &[], 0.0),
            h: combine(&self.h, b, &[], 0.0),
        }
    }
}

impl Add<Jet> for f64 {
    type Output = Jet;
    fn add(self, b: Jet) -> Jet {
        b + self
    }
}

impl Sub<Jet> for f64 {
    type Output = Jet;
    fn sub(self, b: Jet) -> Jet {
        -b + self
    }
}

impl Mul<Jet> for f64 {
    type Output = Jet;
    fn mul(self, b: Jet) -> Jet {
        b * self
    }
}

#[allow(clippy::suspicious_arithmetic_impl)]
impl Div<Jet> for f64 {
    type Output = Jet;
    fn div(self, b: Jet) -> Jet {
        b.recip() * self
    }
}

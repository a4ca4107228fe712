//! The update rules of the first-order methods, exactly as the lecture notes write them
//! (`../shared/seeds/`: notes 001 for momentum and Nesterov, notes 004 for AdaGrad, RMSprop and
//! the Adam paper's Algorithm 1).

/// A first-order method and its hyper-parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Method {
    /// Full-batch gradient descent: `x ← x − η∇F(x)`.
    #[default]
    Gd,
    /// Mini-batch stochastic gradient descent: the same step on a batch's gradient.
    Sgd,
    /// `Δx ← βΔx − η∇F(x)`, `x ← x + Δx`.
    Momentum { beta: f64 },
    /// `Δx ← βΔx − η∇F(x + βΔx)`, `x ← x + Δx`.
    Nesterov { beta: f64 },
    /// `h ← h + g²`, `x ← x − η g / (√h + ε)`.
    Adagrad { eps: f64 },
    /// `h ← αh + (1 − α)g²`, `x ← x − η g / (√h + ε)`.
    Rmsprop { decay: f64, eps: f64 },
    /// Adam with bias-corrected moments (the Adam paper's Algorithm 1).
    Adam { beta1: f64, beta2: f64, eps: f64 },
}

impl Method {
    /// The method's name as on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Gd => "gd",
            Method::Sgd => "sgd",
            Method::Momentum { .. } => "momentum",
            Method::Nesterov { .. } => "nesterov",
            Method::Adagrad { .. } => "adagrad",
            Method::Rmsprop { .. } => "rmsprop",
            Method::Adam { .. } => "adam",
        }
    }

    pub fn is_nesterov(&self) -> bool {
        matches!(self, Method::Nesterov { .. })
    }

    pub fn is_sgd(&self) -> bool {
        matches!(self, Method::Sgd)
    }
}

/// A method's running state: velocities, accumulated squares, moments.
#[derive(Clone, Debug)]
pub struct MethodState {
    method: Method,
    /// Δx for momentum and Nesterov, m for Adam.
    first: Vec<f64>,
    /// h for AdaGrad and RMSprop, v for Adam.
    second: Vec<f64>,
    /// β₁ᵗ and β₂ᵗ for Adam's bias correction. Clamped to 0 once they would become subnormal:
    /// arithmetic on subnormals is many times slower on x86, and `1 − β^t` is exactly 1 long
    /// before, so the clamp changes no result.
    powers: [f64; 2],
}

impl MethodState {
    pub fn new(method: Method, n: usize) -> MethodState {
        MethodState {
            method,
            first: vec![0.0; n],
            second: vec![0.0; n],
            powers: [1.0, 1.0],
        }
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The state a [`Fused`](crate::Fused) loop advances in place of [`MethodState::update`]:
    /// the first and second state vectors and Adam's running powers.
    pub fn parts(&mut self) -> (&mut [f64], &mut [f64], &mut [f64; 2]) {
        (&mut self.first, &mut self.second, &mut self.powers)
    }

    /// Nesterov's look-ahead point `x + βΔx`.
    pub fn lookahead(&self, params: &[f64], out: &mut [f64]) {
        let beta = match self.method {
            Method::Nesterov { beta } => beta,
            _ => 0.0,
        };
        for ((o, x), d) in out.iter_mut().zip(params).zip(&self.first) {
            *o = x + beta * d;
        }
    }

    /// Takes one step with learning rate `lr` and gradient `grad` (for Nesterov: the gradient
    /// at the look-ahead point) from `from`, writing the new parameters to `to`. The caller
    /// keeps `from`: it is what a run falls back on when the new point diverges.
    pub fn update(&mut self, from: &[f64], to: &mut [f64], grad: &[f64], lr: f64) {
        let points = from.iter().zip(to.iter_mut()).zip(grad);
        match self.method {
            Method::Gd | Method::Sgd => {
                for ((x, y), g) in points {
                    *y = x - lr * g;
                }
            }
            Method::Momentum { beta } | Method::Nesterov { beta } => {
                for (((x, y), g), d) in points.zip(&mut self.first) {
                    *d = beta * *d - lr * g;
                    *y = x + *d;
                }
            }
            Method::Adagrad { eps } => {
                for (((x, y), g), h) in points.zip(&mut self.second) {
                    *h += g * g;
                    *y = x - lr * g / (h.sqrt() + eps);
                }
            }
            Method::Rmsprop { decay, eps } => {
                for (((x, y), g), h) in points.zip(&mut self.second) {
                    *h = decay * *h + (1.0 - decay) * g * g;
                    *y = x - lr * g / (h.sqrt() + eps);
                }
            }
            Method::Adam { beta1, beta2, eps } => {
                self.powers[0] = flush_subnormal(self.powers[0] * beta1);
                self.powers[1] = flush_subnormal(self.powers[1] * beta2);
                // Algorithm 1's last three lines, m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ),
                // x − α·m̂/(√v̂ + ε), in the order of computation the paper gives in its §2:
                // α_t = α·√(1 − β₂ᵗ)/(1 − β₁ᵗ) and x − α_t·m/(√v + ε̂), with ε̂ = ε·√(1 − β₂ᵗ)
                // so that the step is Algorithm 1's exactly (up to rounding). Two divisions
                // fewer per parameter on the path from one step to the next.
                let root = (1.0 - self.powers[1]).sqrt();
                let step = lr * root / (1.0 - self.powers[0]);
                let eps_hat = eps * root;
                let moments = self.first.iter_mut().zip(&mut self.second);
                for (((x, y), g), (m, v)) in points.zip(moments) {
                    *m = beta1 * *m + (1.0 - beta1) * g;
                    *v = beta2 * *v + (1.0 - beta2) * g * g;
                    *y = x - step * *m / (v.sqrt() + eps_hat);
                }
            }
        }
    }
}

fn flush_subnormal(x: f64) -> f64 {
    if x < f64::MIN_POSITIVE { 0.0 } else { x }
}

//! The notes' worked numbers and each method's first steps computed by hand from its formula.

use super::*;

/// `F(x) = ½ a x² + b x + c` summed over no data, or the mean over rows of `(x − r)²` when rows
/// are given (for mini-batch tests).
struct Quadratic {
    a: f64,
    b: f64,
    c: f64,
}

impl Objective for Quadratic {
    fn param_count(&self) -> usize {
        1
    }
    fn row_count(&self) -> usize {
        0
    }
    fn value(&self, p: &[f64], _: Batch) -> f64 {
        0.5 * self.a * p[0] * p[0] + self.b * p[0] + self.c
    }
    fn value_grad(&self, p: &[f64], batch: Batch, g: &mut [f64]) -> f64 {
        g[0] = self.a * p[0] + self.b;
        self.value(p, batch)
    }
}

/// `Σ ½ a_i x_i²` in several dimensions, for the vector methods.
struct Bowl(Vec<f64>);

impl Objective for Bowl {
    fn param_count(&self) -> usize {
        self.0.len()
    }
    fn row_count(&self) -> usize {
        0
    }
    fn value(&self, p: &[f64], _: Batch) -> f64 {
        self.0.iter().zip(p).map(|(a, x)| 0.5 * a * x * x).sum()
    }
    fn value_grad(&self, p: &[f64], batch: Batch, g: &mut [f64]) -> f64 {
        for ((g, a), x) in g.iter_mut().zip(&self.0).zip(p) {
            *g = a * x;
        }
        self.value(p, batch)
    }
}

fn run(objective: &dyn Objective, start: &[f64], settings: Settings) -> Outcome {
    minimize(
        objective,
        start,
        &settings,
        &AtomicBool::new(false),
        &mut Silent,
    )
}

fn gd(lr: f64, steps: usize) -> Settings {
    Settings {
        learning_rate: lr,
        steps,
        gradient_tol: 0.0,
        ..Settings::default()
    }
}

#[test]
fn one_gradient_step_on_x_squared() {
    let square = Quadratic {
        a: 2.0,
        b: 0.0,
        c: 0.0,
    };
    assert_eq!(run(&square, &[2.0], gd(0.01, 1)).params, vec![1.96]);
    assert_eq!(run(&square, &[-3.0], gd(0.1, 1)).params, vec![-2.4]);
}

#[test]
fn step_size_regimes_on_a_quadratic() {
    let f = Quadratic {
        a: 4.0,
        b: -2.0,
        c: 1.0,
    };
    // η = 1/a: the minimum −b/a = 0.5 in one step.
    let out = run(&f, &[3.0], gd(0.25, 1));
    assert_eq!(out.params, vec![0.5]);
    // η = 2/a: oscillates between 3 and −2 forever.
    let out = run(&f, &[3.0], gd(0.5, 101));
    assert_eq!(out.params, vec![-2.0]);
    assert_eq!(out.stop_reason, StopReason::MaxSteps);
    assert!(out.history.iter().all(|(_, l)| *l == out.history[0].1));
    // η > 2/a: diverges, keeping the last finite parameters.
    let out = run(&f, &[3.0], gd(0.6, 100_000));
    assert_eq!(out.stop_reason, StopReason::Diverged);
    let divergence = out.divergence.expect("divergence");
    assert!(divergence.step < 100_000);
    assert!(f.value(&out.params, Batch::All).is_finite());
}

#[test]
fn stopping_rules() {
    let f = Quadratic {
        a: 2.0,
        b: 0.0,
        c: 0.0,
    };
    let out = run(
        &f,
        &[2.0],
        Settings {
            tol: 1e-6,
            ..gd(0.1, 10_000)
        },
    );
    assert_eq!(out.stop_reason, StopReason::Tolerance);
    let out = run(
        &f,
        &[2.0],
        Settings {
            gradient_tol: 1e-3,
            ..gd(0.1, 10_000)
        },
    );
    assert_eq!(out.stop_reason, StopReason::Gradient);
    let interrupted = AtomicBool::new(true);
    let out = minimize(&f, &[2.0], &gd(0.1, 10), &interrupted, &mut Silent);
    assert_eq!((out.stop_reason, out.steps), (StopReason::Interrupted, 0));
}

#[test]
fn momentum_first_steps() {
    // Δx₁ = −η g₀, x₁ = x₀ + Δx₁; Δx₂ = βΔx₁ − η g₁.
    let f = Bowl(vec![1.0]);
    let settings = Settings {
        method: Method::Momentum { beta: 0.9 },
        ..gd(0.1, 2)
    };
    let out = run(&f, &[1.0], settings);
    let d1 = -0.1 * 1.0;
    let x1 = 1.0 + d1;
    let d2 = 0.9 * d1 - 0.1 * x1;
    assert_eq!(out.params, vec![x1 + d2]);
}

#[test]
fn nesterov_uses_the_gradient_at_the_look_ahead_point() {
    let f = Bowl(vec![1.0]);
    let settings = Settings {
        method: Method::Nesterov { beta: 0.9 },
        ..gd(0.1, 2)
    };
    let out = run(&f, &[1.0], settings);
    let d1 = -0.1 * 1.0;
    let x1 = 1.0 + d1;
    let d2 = 0.9 * d1 - 0.1 * (x1 + 0.9 * d1);
    assert_eq!(out.params, vec![x1 + d2]);
}

#[test]
fn adagrad_and_rmsprop_first_steps() {
    let f = Bowl(vec![2.0]);
    let out = run(
        &f,
        &[1.0],
        Settings {
            method: Method::Adagrad { eps: 1e-8 },
            ..gd(0.1, 2)
        },
    );
    let g0: f64 = 2.0;
    let h1 = g0 * g0;
    let x1 = 1.0 - 0.1 * g0 / (h1.sqrt() + 1e-8);
    let g1 = 2.0 * x1;
    let h2 = h1 + g1 * g1;
    assert_eq!(out.params, vec![x1 - 0.1 * g1 / (h2.sqrt() + 1e-8)]);

    let method = Method::Rmsprop {
        decay: 0.9,
        eps: 1e-8,
    };
    let out = run(
        &f,
        &[1.0],
        Settings {
            method,
            ..gd(0.1, 2)
        },
    );
    let h1 = 0.1 * g0 * g0;
    let x1 = 1.0 - 0.1 * g0 / (h1.sqrt() + 1e-8);
    let g1 = 2.0 * x1;
    let h2 = 0.9 * h1 + 0.1 * g1 * g1;
    assert_eq!(out.params, vec![x1 - 0.1 * g1 / (h2.sqrt() + 1e-8)]);
}

#[test]
fn adam_first_step_moves_by_the_learning_rate() {
    // With bias correction, Adam's first step is −α·g/(|g| + ε) ≈ −α·sign(g).
    let f = Bowl(vec![3.0, 0.5]);
    let method = Method::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    let out = run(
        &f,
        &[1.0, -2.0],
        Settings {
            method,
            ..gd(0.001, 1)
        },
    );
    // Algorithm 1 as written: m̂ = m/(1 − β₁), v̂ = v/(1 − β₂), x − α·m̂/(√v̂ + ε).
    let algorithm_1 = |x: f64, g: f64| {
        let m = (1.0 - 0.9) * g;
        let v = (1.0 - 0.999) * g * g;
        let m_hat = m / (1.0 - 0.9);
        let v_hat = v / (1.0 - 0.999);
        x - 0.001 * m_hat / (v_hat.sqrt() + 1e-8)
    };
    // The same in the paper's §2 order, as gradc computes it: α₁ = α·√(1 − β₂)/(1 − β₁),
    // x − α₁·m/(√v + ε·√(1 − β₂)).
    let reordered = |x: f64, g: f64| {
        let root = (1.0f64 - 0.999).sqrt();
        let step = 0.001 * root / (1.0 - 0.9);
        let m = (1.0 - 0.9) * g;
        let v = (1.0 - 0.999) * g * g;
        x - step * m / (v.sqrt() + 1e-8 * root)
    };
    assert_eq!(out.params, vec![reordered(1.0, 3.0), reordered(-2.0, -1.0)]);
    for (x, g, got) in [(1.0, 3.0, out.params[0]), (-2.0, -1.0, out.params[1])] {
        let literal = algorithm_1(x, g);
        assert!(
            (got - literal).abs() <= 2.0 * f64::EPSILON * literal.abs(),
            "{got} {literal}"
        );
    }
}

#[test]
fn adam_follows_algorithm_1_to_rounding() {
    // 500 steps on an anisotropic bowl against Algorithm 1 line by line.
    let scales = vec![3.0, 0.5, 40.0];
    let f = Bowl(scales.clone());
    let (lr, b1, b2, eps) = (0.01, 0.9, 0.999, 1e-8);
    let start = [1.0, -2.0, 0.3];
    let steps = 500;
    let out = run(
        &f,
        &start,
        Settings {
            method: Method::Adam {
                beta1: b1,
                beta2: b2,
                eps,
            },
            ..gd(lr, steps)
        },
    );
    let mut x = start.to_vec();
    let (mut m, mut v) = (vec![0.0; 3], vec![0.0; 3]);
    for t in 1..=steps {
        for i in 0..3 {
            let g = scales[i] * x[i];
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            let m_hat = m[i] / (1.0 - b1.powi(t as i32));
            let v_hat = v[i] / (1.0 - b2.powi(t as i32));
            x[i] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
    }
    for (got, expected) in out.params.iter().zip(&x) {
        assert!((got - expected).abs() <= 1e-12, "{got} vs {expected}");
    }
}

#[test]
fn adam_keeps_running_after_the_powers_underflow() {
    let f = Bowl(vec![1.0]);
    let method = Method::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    let out = run(
        &f,
        &[1.0],
        Settings {
            method,
            ..gd(0.01, 20_000)
        },
    );
    assert!(out.params[0].abs() < 1e-2, "{:?}", out.params);
}

#[test]
fn schedules() {
    assert_eq!(Schedule::Linear.rate(1.0, 3), 0.25);
    assert_eq!(Schedule::Quadratic.rate(1.0, 1), 0.25);
    assert_eq!(
        "exp:0.5".parse::<Schedule>().expect("valid").rate(2.0, 2),
        2.0 * (-1.0f64).exp()
    );
    let step: Schedule = "step:10:0.5".parse().expect("valid");
    assert_eq!(
        (step.rate(1.0, 9), step.rate(1.0, 10), step.rate(1.0, 25)),
        (1.0, 0.5, 0.25)
    );
    assert!("exp:-1".parse::<Schedule>().is_err());
    assert!("cosine".parse::<Schedule>().is_err());
}

/// The mean over rows of `(x − rᵢ)²`, recording which rows each evaluation saw.
struct Rows {
    targets: Vec<f64>,
    seen: std::cell::RefCell<Vec<Vec<usize>>>,
}

impl Objective for Rows {
    fn param_count(&self) -> usize {
        1
    }
    fn row_count(&self) -> usize {
        self.targets.len()
    }
    fn value(&self, p: &[f64], batch: Batch) -> f64 {
        let mut g = [0.0];
        self.value_grad(p, batch, &mut g)
    }
    fn value_grad(&self, p: &[f64], batch: Batch, g: &mut [f64]) -> f64 {
        let rows: Vec<usize> = match batch {
            Batch::All => (0..self.targets.len()).collect(),
            Batch::Rows(r) => r.to_vec(),
        };
        self.seen.borrow_mut().push(rows.clone());
        let n = rows.len() as f64;
        g[0] = rows
            .iter()
            .map(|&r| 2.0 * (p[0] - self.targets[r]))
            .sum::<f64>()
            / n;
        rows.iter()
            .map(|&r| (p[0] - self.targets[r]).powi(2))
            .sum::<f64>()
            / n
    }
}

#[test]
fn sgd_visits_every_row_once_per_epoch_and_is_seeded() {
    let objective = Rows {
        targets: (0..10).map(f64::from).collect(),
        seen: Default::default(),
    };
    let settings = Settings {
        method: Method::Sgd,
        batch: 5,
        steps: 5,
        ..gd(0.01, 5)
    };
    run(&objective, &[0.0], settings.clone());
    let seen = objective.seen.borrow().clone();
    for epoch in seen.chunks(2).take(2) {
        let mut rows: Vec<usize> = epoch.concat();
        rows.sort_unstable();
        assert_eq!(rows, (0..10).collect::<Vec<_>>());
    }
    objective.seen.borrow_mut().clear();
    run(&objective, &[0.0], settings);
    assert_eq!(*objective.seen.borrow(), seen, "same seed, same batches");
}

#[test]
fn sgd_does_not_stop_where_only_a_mini_batch_gradient_vanishes() {
    // Targets 0 and 2 from w = 0: the batch {row 0} has gradient 0, the full gradient is −2.
    for seed in 0..8 {
        let objective = Rows {
            targets: vec![0.0, 2.0],
            seen: Default::default(),
        };
        let settings = Settings {
            method: Method::Sgd,
            batch: 1,
            seed,
            gradient_tol: 1e-12,
            ..gd(0.1, 100)
        };
        let out = run(&objective, &[0.0], settings);
        assert_eq!(
            out.stop_reason,
            StopReason::MaxSteps,
            "seed {seed}: {out:?}"
        );
        assert_eq!(out.steps, 100);
    }
    // Where the full gradient does vanish, sgd stops on it.
    let objective = Rows {
        targets: vec![1.0, 1.0],
        seen: Default::default(),
    };
    let settings = Settings {
        method: Method::Sgd,
        batch: 1,
        gradient_tol: 1e-12,
        ..gd(0.1, 100)
    };
    let out = run(&objective, &[1.0], settings);
    assert_eq!(out.stop_reason, StopReason::Gradient);
    assert_eq!(out.steps, 0);
}

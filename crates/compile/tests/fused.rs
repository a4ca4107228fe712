//! Fused optimizer loops ([`FusedSteps`]) against `gradc_minimize::minimize` driving the
//! unfused kernels: on random models without data (every operation, kinks, `if`, values that
//! turn NaN or explode), every fusable method, schedules, stopping rules and history spacings,
//! the outcome — parameters, loss, steps, stop reason, history, divergence — is the same bit for
//! bit, and the fused loop did take most of the steps.

use gradc_compile::{CompileError, FusedSteps, KernelData, RowSet};
use gradc_graph::interp::Data;
use gradc_graph::random::{Shape, SplitMix, random_objective};
use gradc_graph::{Graph, Op};
use gradc_minimize::{
    Batch, Fused, FusedBlock, Method, Objective, Progress, Schedule, Settings, Silent, minimize,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The compiled kernels, driven step by step by `minimize` (no fused loop).
struct Unfused {
    compiled: gradc_compile::Objective,
    data: KernelData,
}

impl Objective for Unfused {
    fn param_count(&self) -> usize {
        self.compiled.n_params()
    }
    fn row_count(&self) -> usize {
        0
    }
    fn value(&self, params: &[f64], _: Batch) -> f64 {
        self.compiled
            .value(params, &self.data, RowSet::All)
            .expect("evaluates")
    }
    fn value_grad(&self, params: &[f64], _: Batch, grad: &mut [f64]) -> f64 {
        self.compiled
            .value_grad(params, &self.data, RowSet::All, grad)
            .expect("evaluates")
    }
}

/// The same kernels, offering a fused loop that counts the steps it takes.
struct WithFused<'a> {
    unfused: &'a Unfused,
    fused: Arc<Counting>,
}

struct Counting {
    steps: FusedSteps,
    taken: AtomicUsize,
}

impl Fused for Counting {
    fn run(&self, block: FusedBlock<'_>) -> usize {
        let taken = self.steps.run(block);
        self.taken.fetch_add(taken, Ordering::Relaxed);
        taken
    }
}

impl Objective for WithFused<'_> {
    fn param_count(&self) -> usize {
        self.unfused.param_count()
    }
    fn row_count(&self) -> usize {
        0
    }
    fn value(&self, params: &[f64], batch: Batch) -> f64 {
        self.unfused.value(params, batch)
    }
    fn value_grad(&self, params: &[f64], batch: Batch, grad: &mut [f64]) -> f64 {
        self.unfused.value_grad(params, batch, grad)
    }
    fn fused(&self, method: Method) -> Option<Arc<dyn Fused>> {
        self.fused
            .steps
            .runs(method)
            .then(|| self.fused.clone() as Arc<dyn Fused>)
    }
}

const METHODS: [Method; 6] = [
    Method::Gd,
    Method::Sgd,
    Method::Momentum { beta: 0.9 },
    Method::Adagrad { eps: 1e-8 },
    Method::Rmsprop {
        decay: 0.9,
        eps: 1e-8,
    },
    Method::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    },
];

fn pick<T: Copy>(rng: &mut SplitMix, items: &[T]) -> T {
    items[rng.below(items.len())]
}

fn random_settings(rng: &mut SplitMix, method: Method) -> Settings {
    Settings {
        method,
        learning_rate: pick(rng, &[1e-3, 0.01, 0.1, 1.0, 30.0]),
        schedule: pick(
            rng,
            &[
                Schedule::Constant,
                Schedule::Constant,
                Schedule::Linear,
                Schedule::Exponential { beta: 0.01 },
                Schedule::Step {
                    every: 7,
                    factor: 0.5,
                },
            ],
        ),
        steps: pick(rng, &[0, 1, 2, 40, 300, 5000]),
        tol: pick(rng, &[0.0, 0.0, 1e-12, 1e-3]),
        gradient_tol: pick(rng, &[0.0, 1e-12, 1e-12, 1e-3, 1e-200]),
        explode_factor: pick(rng, &[1e12, 10.0]),
        history_every: pick(rng, &[1, 3, 50, 100_000, 100_000]),
        ..Settings::default()
    }
}

/// Debug text shows every difference of bits that matters (`-0.0`, each finite value by its
/// shortest round-trip form) and treats NaNs alike.
fn text<T: std::fmt::Debug>(value: &T) -> String {
    format!("{value:?}")
}

#[test]
fn fused_runs_are_the_unfused_runs_bit_for_bit() {
    let interrupt = AtomicBool::new(false);
    let (mut runs, mut fused_runs, mut fused_steps, mut all_steps) = (0, 0, 0, 0);
    for seed in 0..240u64 {
        let mut rng = SplitMix::new(seed.wrapping_mul(0x9E37_79B9) ^ 0xF05E);
        let shape = Shape {
            params: 1 + rng.below(4),
            inputs: 0,
            size: 1 + rng.below(10),
        };
        let mut graph = Graph::new();
        let root = random_objective(&mut graph, seed, shape);
        let gradient = gradc_grad::grad(&mut graph, root, shape.params);
        let compiled =
            gradc_compile::Objective::compile(&graph, 0, root, &gradient, None).expect("compiles");
        let unfused = Unfused {
            compiled,
            data: KernelData::from_data(&Data::empty()).expect("empty data"),
        };
        let start: Vec<f64> = (0..shape.params).map(|_| rng.uniform(-2.0, 2.0)).collect();
        for method in METHODS {
            let settings = random_settings(&mut rng, method);
            let steps = FusedSteps::compile(&graph, root, &gradient, method).expect("fusable");
            let with_fused = WithFused {
                unfused: &unfused,
                fused: Arc::new(Counting {
                    steps,
                    taken: AtomicUsize::new(0),
                }),
            };
            let expected = minimize(&unfused, &start, &settings, &interrupt, &mut Silent);
            let got = minimize(&with_fused, &start, &settings, &interrupt, &mut Silent);
            assert_eq!(
                text(&got),
                text(&expected),
                "seed {seed}, {settings:?}, objective {}",
                graph.sexpr(root)
            );
            let taken = with_fused.fused.taken.load(Ordering::Relaxed);
            runs += 1;
            fused_runs += usize::from(taken > 0);
            fused_steps += taken;
            all_steps += expected.steps;
        }
    }
    // The comparison is not vacuous: the fused loops took most of the steps.
    eprintln!(
        "{fused_runs} of {runs} runs used the fused loop: {fused_steps} of {all_steps} steps"
    );
    assert!(fused_runs * 4 > runs, "{fused_runs} of {runs}");
    assert!(fused_steps * 2 > all_steps, "{fused_steps} of {all_steps}");
}

/// Counts `Progress::step` calls and stops the run after the first one.
struct StopAtOnce(usize);

impl Progress for StopAtOnce {
    fn step(&mut self, _: usize, _: f64) -> bool {
        self.0 += 1;
        false
    }
}

#[test]
fn a_fused_run_can_be_interrupted() {
    // (1 − x)² + 100(y − x²)²
    let mut graph = Graph::new();
    let (x, y) = (graph.param(0), graph.param(1));
    let one = graph.constant(1.0);
    let a = graph.sub(one, x);
    let two = graph.constant(2.0);
    let a2 = graph.binary(Op::Pow, a, two);
    let x2 = graph.binary(Op::Pow, x, two);
    let b = graph.sub(y, x2);
    let b2 = graph.binary(Op::Pow, b, two);
    let hundred = graph.constant(100.0);
    let b2 = graph.mul(hundred, b2);
    let root = graph.add2(a2, b2);
    let gradient = gradc_grad::grad(&mut graph, root, 2);
    let compiled =
        gradc_compile::Objective::compile(&graph, 0, root, &gradient, None).expect("compiles");
    let unfused = Unfused {
        compiled,
        data: KernelData::from_data(&Data::empty()).expect("empty data"),
    };
    let method = Method::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    let with_fused = WithFused {
        unfused: &unfused,
        fused: Arc::new(Counting {
            steps: FusedSteps::compile(&graph, root, &gradient, method).expect("fusable"),
            taken: AtomicUsize::new(0),
        }),
    };
    let settings = Settings {
        method,
        learning_rate: 1e-3,
        steps: 1_000_000,
        gradient_tol: 0.0,
        history_every: 1_000_000,
        ..Settings::default()
    };
    // The flag: the first look after the first block stops the run.
    let interrupt = AtomicBool::new(true);
    let out = minimize(
        &with_fused,
        &[-1.2, 1.0],
        &settings,
        &interrupt,
        &mut Silent,
    );
    assert_eq!(out.stop_reason.as_str(), "interrupted");
    assert_eq!(out.steps, 0);
    // The observer: it is asked after the first step and after the first fused block, and the
    // run stops at the next evaluation, no later than one block in.
    let interrupt = AtomicBool::new(false);
    let mut progress = StopAtOnce(0);
    let out = minimize(
        &with_fused,
        &[-1.2, 1.0],
        &settings,
        &interrupt,
        &mut progress,
    );
    assert_eq!(out.stop_reason.as_str(), "interrupted");
    assert_eq!(out.steps, 0);
    assert_eq!(progress.0, 1);
    // And a full run: fused from the second step to the last, the same as unfused.
    let interrupt = AtomicBool::new(false);
    let settings = Settings {
        steps: 20_000,
        ..settings
    };
    let fused = minimize(
        &with_fused,
        &[-1.2, 1.0],
        &settings,
        &interrupt,
        &mut Silent,
    );
    let plain = minimize(&unfused, &[-1.2, 1.0], &settings, &interrupt, &mut Silent);
    assert_eq!(text(&fused), text(&plain));
    // Steps 1..=19_999 are updates; `minimize` takes the one after each full block itself.
    let taken = with_fused.fused.taken.load(Ordering::Relaxed);
    assert!((19_990..=19_999).contains(&taken), "{taken}");
}

#[test]
fn only_data_free_small_models_fuse() {
    let mut graph = Graph::new();
    let shape = Shape {
        params: 2,
        inputs: 2,
        size: 6,
    };
    let root = random_objective(&mut graph, 7, shape);
    let gradient = gradc_grad::grad(&mut graph, root, 2);
    let adam = Method::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    assert!(matches!(
        FusedSteps::compile(&graph, root, &gradient, adam),
        Err(CompileError::InputOutOfRange { .. } | CompileError::NotFusable(_))
    ));
    let x = graph.param(0);
    let square = graph.mul(x, x);
    let gradient = gradc_grad::grad(&mut graph, square, 1);
    assert!(matches!(
        FusedSteps::compile(&graph, square, &gradient, Method::Nesterov { beta: 0.9 }),
        Err(CompileError::NotFusable(_))
    ));
    let many: Vec<_> = (0..=gradc_compile::MAX_FUSED_PARAMS as u32)
        .map(|i| graph.param(i))
        .collect();
    let sum = graph.sum_of(&many);
    let n = many.len();
    let gradient = gradc_grad::grad(&mut graph, sum, n);
    assert!(matches!(
        FusedSteps::compile(&graph, sum, &gradient, adam),
        Err(CompileError::NotFusable(_))
    ));
    // A loop never runs on slices of the wrong length.
    let gradient = gradc_grad::grad(&mut graph, square, 1);
    let ok = FusedSteps::compile(&graph, square, &gradient, adam).expect("fusable");
    let (mut p, mut b, mut f, mut s, mut w, mut loss) = (
        vec![1.0; 2],
        vec![0.0; 2],
        vec![0.0; 2],
        vec![0.0; 2],
        [1.0; 2],
        0.0,
    );
    let block = FusedBlock {
        method: adam,
        params: &mut p,
        before: &mut b,
        first: &mut f,
        second: &mut s,
        powers: &mut w,
        rates: &[0.1],
        steps: 10,
        loss: &mut loss,
        loss_limit: f64::MAX,
        tol: 0.0,
        gradient_screen: 0.0,
    };
    assert_eq!(ok.run(block), 0);
    assert_eq!(p, vec![1.0; 2]);
}

//! The whole pipeline, as `gradc run` uses it.
//!
//! - `compile/*`: compile latency for every example, from `.loss` text to callable native code
//!   (parse, lower, bake data-only reductions, differentiate, simplify, Cranelift), with the
//!   example's data already loaded.
//! - `adam_rosenbrock_1M_steps`: one million Adam steps (lr 1e-3 from (−1.2, 1)) through
//!   `gradc_minimize::minimize` and the native kernel, against a hand-written Rust loop with the
//!   hand-derived gradient in the same process; both reported per step.
//!
//! Run: `cargo bench --bench pipeline -- --warm-up-time 1 --measurement-time 5`.

use criterion::{Criterion, criterion_group, criterion_main};
use gradc_minimize::{Method, Settings, Silent};
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

fn examples() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files = Vec::new();
    for dir in [root.clone(), root.join("seeds")] {
        for entry in std::fs::read_dir(dir).expect("examples") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "loss") {
                files.push(path.display().to_string());
            }
        }
    }
    files.sort();
    files
}

fn load(path: &str) -> (String, gradc_graph::interp::Data) {
    let source = std::fs::read_to_string(path).expect("model");
    let program = gradc::compile_source(path, &source, false).expect("compiles");
    let data = match &program.data_path {
        Some(relative) => {
            let file = Path::new(path).parent().expect("dir").join(relative);
            gradc_data::load(&file, &program.inputs).expect("data")
        }
        None => gradc_graph::interp::Data::empty(),
    };
    (source, data)
}

fn bench_compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    for path in examples() {
        let (source, data) = load(&path);
        let name = Path::new(&path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        group.bench_function(name, |b| {
            b.iter(|| {
                let program = gradc::compile_source(&path, &source, false).expect("compiles");
                let built = gradc::build(&program, &data, false, 1).expect("builds");
                black_box(built.derived.ops.gradient)
            })
        });
    }
    group.finish();
}

const STEPS: usize = 1_000_000;

/// Adam on Rosenbrock with the hand-derived gradient, written as one would by hand from the
/// slide (Algorithm 1 line by line). With `reordered`, the update is computed in the order
/// gradc uses (the Adam paper's §2): α_t = α·√(1−β₂ᵗ)/(1−β₁ᵗ), x − α_t·m/(√v + ε·√(1−β₂ᵗ)).
fn hand_written_adam(reordered: bool) -> [f64; 2] {
    let (lr, b1, b2, eps) = (1e-3, 0.9, 0.999, 1e-8);
    let mut x = [-1.2f64, 1.0];
    let (mut m, mut v) = ([0.0f64; 2], [0.0f64; 2]);
    let (mut p1, mut p2) = (1.0f64, 1.0f64);
    for _ in 0..STEPS {
        let g = [
            -2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]),
            200.0 * (x[1] - x[0] * x[0]),
        ];
        p1 *= b1;
        p2 *= b2;
        // Clamp the running powers to 0 once they underflow, as gradc does (no subnormals).
        if p1 < f64::MIN_POSITIVE {
            p1 = 0.0;
        }
        if p2 < f64::MIN_POSITIVE {
            p2 = 0.0;
        }
        if reordered {
            let root = (1.0 - p2).sqrt();
            let step = lr * root / (1.0 - p1);
            let eps_hat = eps * root;
            for i in 0..2 {
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                x[i] -= step * m[i] / (v[i].sqrt() + eps_hat);
            }
        } else {
            for i in 0..2 {
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                let mh = m[i] / (1.0 - p1);
                let vh = v[i] / (1.0 - p2);
                x[i] -= lr * mh / (vh.sqrt() + eps);
            }
        }
    }
    x
}

fn gradc_adam(objective: &gradc::objective::Native) -> Vec<f64> {
    let settings = Settings {
        method: Method::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
        learning_rate: 1e-3,
        steps: STEPS,
        gradient_tol: 0.0,
        history_every: STEPS,
        ..Settings::default()
    };
    let interrupt = AtomicBool::new(false);
    gradc_minimize::minimize(objective, &[-1.2, 1.0], &settings, &interrupt, &mut Silent).params
}

fn bench_adam(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rosenbrock.loss");
    let path = path.display().to_string();
    let (source, data) = load(&path);
    let program = gradc::compile_source(&path, &source, false).expect("compiles");
    let built = gradc::build(&program, &data, false, 1).expect("builds");

    // One interleaved comparison, per step, printed for the README. The first run compiles
    // the fused loop (a few milliseconds, once per objective and kind of method).
    let mut best = [f64::INFINITY; 3];
    for _ in 0..5 {
        let t = Instant::now();
        black_box(gradc_adam(&built.objective));
        best[0] = best[0].min(t.elapsed().as_secs_f64());
        for (k, reordered) in [(1, false), (2, true)] {
            let t = Instant::now();
            black_box(hand_written_adam(reordered));
            best[k] = best[k].min(t.elapsed().as_secs_f64());
        }
    }
    let per_step = |s: f64| s / STEPS as f64 * 1e9;
    eprintln!(
        "adam on rosenbrock, best of 5: gradc {:.1} ns/step; hand-written, Algorithm 1 line by \
         line {:.1} ns/step (ratio {:.2}), in gradc's order {:.1} ns/step (ratio {:.2})",
        per_step(best[0]),
        per_step(best[1]),
        best[0] / best[1],
        per_step(best[2]),
        best[0] / best[2],
    );
    let gradc_x = gradc_adam(&built.objective);
    eprintln!(
        "final points: gradc {gradc_x:?}, hand-written {:?} / {:?}",
        hand_written_adam(false),
        hand_written_adam(true)
    );

    let mut group = c.benchmark_group("adam_rosenbrock_1M_steps");
    group.sample_size(10);
    group.bench_function("gradc", |b| {
        b.iter(|| black_box(gradc_adam(&built.objective)))
    });
    group.bench_function("hand_written_rust", |b| {
        b.iter(|| black_box(hand_written_adam(false)))
    });
    group.bench_function("hand_written_rust_reordered", |b| {
        b.iter(|| black_box(hand_written_adam(true)))
    });
    group.finish();
}

criterion_group!(benches, bench_compile, bench_adam);
criterion_main!(benches);

//! Native kernels against hand-written Rust loops computing the same value and gradient, and
//! compile latency.
//!
//! Each model is measured twice: on gradc_grad's unsimplified gradient graph and on the value
//! and gradient simplified together by gradc-simplify (what `gradc run` compiles).
//!
//! Run: `cargo bench -p gradc-compile -- --warm-up-time 1 --measurement-time 3`.

use criterion::{Criterion, criterion_group, criterion_main};
use gradc_compile::{Kernel, KernelData, RowSet, Threads};
use gradc_graph::op::sigmoid;
use gradc_graph::random::SplitMix;
use gradc_graph::{Graph, NodeId, Op};
use std::hint::black_box;

/// A model: the objective, its gradient, and the layout of params and inputs.
struct Model {
    graph: Graph,
    objective: NodeId,
    gradient: Vec<NodeId>,
    n_params: usize,
    n_inputs: usize,
}

impl Model {
    fn roots(&self) -> Vec<NodeId> {
        let mut roots = vec![self.objective];
        roots.extend(&self.gradient);
        roots
    }

    /// The value and gradient simplified together by gradc's egg simplifier, as `gradc run`
    /// compiles them.
    fn simplified(&self) -> Model {
        let s = gradc_simplify::simplify(
            &self.graph,
            &self.roots(),
            &gradc_simplify::SimplifyConfig::default(),
        );
        Model {
            objective: s.roots[0],
            gradient: s.roots[1..].to_vec(),
            graph: s.graph,
            n_params: self.n_params,
            n_inputs: self.n_inputs,
        }
    }

    fn kernel(&self) -> Kernel {
        Kernel::compile(&self.graph, &self.roots(), self.n_params, self.n_inputs).expect("compiles")
    }
}

/// Logistic regression: z = b + Σ w_j x_j, L = mean(-(y log σ(z) + (1-y) log(1-σ(z)))).
/// Params w_0..w_{k-1}, b; inputs x_0..x_{k-1}, y.
fn logistic(k: usize) -> Model {
    let mut g = Graph::new();
    let b = g.param(k as u32);
    let mut z = b;
    for j in 0..k {
        let w = g.param(j as u32);
        let x = g.input(j as u32);
        let wx = g.mul(w, x);
        z = g.add2(z, wx);
    }
    let y = g.input(k as u32);
    let s = g.unary(Op::Sigmoid, z);
    let one = g.constant(1.0);
    let log_s = g.unary(Op::Log, s);
    let one_minus_s = g.sub(one, s);
    let log_1s = g.unary(Op::Log, one_minus_s);
    let one_minus_y = g.sub(one, y);
    let t1 = g.mul(y, log_s);
    let t2 = g.mul(one_minus_y, log_1s);
    let sum = g.add2(t1, t2);
    let nll = g.neg(sum);
    let objective = g.unary(Op::RowMean, nll);
    let gradient = gradc_grad::grad(&mut g, objective, k + 1);
    Model {
        graph: g,
        objective,
        gradient,
        n_params: k + 1,
        n_inputs: k + 1,
    }
}

/// Times the functions in turn (`rounds` times) and returns their best times in ms: on a
/// shared machine these ratios are steadier than those of separate criterion runs.
fn interleaved_best(rounds: usize, fs: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let mut best = vec![f64::MAX; fs.len()];
    for _ in 0..rounds {
        for (f, b) in fs.iter_mut().zip(&mut best) {
            let t = std::time::Instant::now();
            f();
            *b = b.min(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    best
}

/// A tanh MLP `sizes[0] - ... - 1` with a linear output and the mean squared error.
/// Params, layer by layer: W (out × in, row-major) then b. Inputs x_0.., y.
fn mlp(sizes: &[usize]) -> Model {
    let mut g = Graph::new();
    let n_in = sizes[0];
    let mut layer: Vec<NodeId> = (0..n_in).map(|j| g.input(j as u32)).collect();
    let mut next_param = 0u32;
    for (l, &width) in sizes[1..].iter().enumerate() {
        let last = l + 2 == sizes.len();
        let weights: Vec<Vec<NodeId>> = (0..width)
            .map(|_| {
                (0..layer.len())
                    .map(|_| {
                        next_param += 1;
                        g.param(next_param - 1)
                    })
                    .collect()
            })
            .collect();
        let biases: Vec<NodeId> = (0..width)
            .map(|_| {
                next_param += 1;
                g.param(next_param - 1)
            })
            .collect();
        layer = (0..width)
            .map(|i| {
                let mut z = biases[i];
                for (j, &a) in layer.iter().enumerate() {
                    let wa = g.mul(weights[i][j], a);
                    z = g.add2(z, wa);
                }
                if last { z } else { g.unary(Op::Tanh, z) }
            })
            .collect();
    }
    let y = g.input(n_in as u32);
    let d = g.sub(layer[0], y);
    let two = g.constant(2.0);
    let sq = g.binary(Op::Pow, d, two);
    let objective = g.unary(Op::RowMean, sq);
    let n_params = next_param as usize;
    let gradient = gradc_grad::grad(&mut g, objective, n_params);
    Model {
        graph: g,
        objective,
        gradient,
        n_params,
        n_inputs: n_in + 1,
    }
}

fn random_data(n_rows: usize, n_features: usize, seed: u64, binary_y: bool) -> KernelData {
    let mut rng = SplitMix::new(seed);
    let width = n_features + 1;
    let mut values = Vec::with_capacity(n_rows * width);
    for _ in 0..n_rows {
        let mut s = 0.0;
        for j in 0..n_features {
            let x = rng.uniform(-2.0, 2.0);
            s += x * (j as f64 * 0.3 - 1.0);
            values.push(x);
        }
        let y = if binary_y {
            f64::from(u8::from(s + rng.uniform(-1.0, 1.0) > 0.0))
        } else {
            (s * 0.5).sin() + rng.uniform(-0.1, 0.1)
        };
        values.push(y);
    }
    KernelData::from_row_major(n_rows, width, values).expect("shape")
}

fn random_params(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut rng = SplitMix::new(seed);
    (0..n).map(|_| rng.uniform(-scale, scale)).collect()
}

/// Hand-written logistic regression value and gradient over row-major rows `[x.., y]`.
fn logistic_baseline(params: &[f64], data: &KernelData, grad: &mut [f64]) -> f64 {
    let k = params.len() - 1;
    let (w, b) = (&params[..k], params[k]);
    grad.fill(0.0);
    let mut loss = 0.0;
    for row in data.values().chunks_exact(k + 1) {
        let (x, y) = (&row[..k], row[k]);
        let mut z = b;
        for j in 0..k {
            z += w[j] * x[j];
        }
        let s = sigmoid(z);
        loss += -(y * s.ln() + (1.0 - y) * (1.0 - s).ln());
        let r = s - y;
        for j in 0..k {
            grad[j] += r * x[j];
        }
        grad[k] += r;
    }
    let n = data.n_rows() as f64;
    for g in grad.iter_mut() {
        *g /= n;
    }
    loss / n
}

/// Hand-written backprop for the 2-H-1 tanh MLP of `mlp(&[2, H, 1])`.
fn mlp_baseline(params: &[f64], data: &KernelData, hidden: usize, grad: &mut [f64]) -> f64 {
    let w1 = &params[..2 * hidden];
    let b1 = &params[2 * hidden..3 * hidden];
    let w2 = &params[3 * hidden..4 * hidden];
    let b2 = params[4 * hidden];
    grad.fill(0.0);
    let (gw1, rest) = grad.split_at_mut(2 * hidden);
    let (gb1, rest) = rest.split_at_mut(hidden);
    let (gw2, gb2) = rest.split_at_mut(hidden);
    let mut h = vec![0.0; hidden];
    let mut loss = 0.0;
    for row in data.values().chunks_exact(3) {
        let (x0, x1, y) = (row[0], row[1], row[2]);
        let mut out = b2;
        for i in 0..hidden {
            h[i] = (w1[2 * i] * x0 + w1[2 * i + 1] * x1 + b1[i]).tanh();
            out += w2[i] * h[i];
        }
        let d = out - y;
        loss += d * d;
        let dout = 2.0 * d;
        gb2[0] += dout;
        for i in 0..hidden {
            gw2[i] += dout * h[i];
            let dz = dout * w2[i] * (1.0 - h[i] * h[i]);
            gw1[2 * i] += dz * x0;
            gw1[2 * i + 1] += dz * x1;
            gb1[i] += dz;
        }
    }
    let n = data.n_rows() as f64;
    for g in grad.iter_mut() {
        *g /= n;
    }
    loss / n
}

fn check_close(name: &str, native: &[f64], value: f64, grad: &[f64]) {
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs().max(1e-300);
    assert!(rel(native[0], value) < 1e-9, "{name}: value");
    for (a, b) in native[1..].iter().zip(grad) {
        assert!(
            rel(*a, *b) < 1e-6 || (a - b).abs() < 1e-12,
            "{name}: {a} vs {b}"
        );
    }
}

/// Benchmarks a model's value+gradient kernel (unsimplified and simplified graph, 1 and 2
/// threads) against a hand-written `baseline(params, grad) -> value` on the same data.
fn compare(
    c: &mut Criterion,
    name: &str,
    group_name: &str,
    model: &Model,
    data: &KernelData,
    params: &[f64],
    baseline: &dyn Fn(&[f64], &mut [f64]) -> f64,
) {
    let roots = model.roots();
    eprintln!(
        "{name}: {} params, {} nodes in the value+gradient cone (unsimplified)",
        model.n_params,
        model.graph.cone(&roots).len()
    );
    let kernel = model.kernel();
    let threads = Threads::new(2).expect("pool");
    let mut out = vec![0.0; roots.len()];
    let mut grad = vec![0.0; model.n_params];
    let value = baseline(params, &mut grad);
    kernel.eval(params, data, RowSet::All, &mut out).unwrap();
    check_close(name, &out, value, &grad);

    let simplified = model.simplified();
    let simplified_kernel = simplified.kernel();
    let mut simplified_out = vec![0.0; simplified.roots().len()];
    simplified_kernel
        .eval(params, data, RowSet::All, &mut simplified_out)
        .unwrap();
    check_close(&format!("{name} simplified"), &simplified_out, value, &grad);

    let best = interleaved_best(
        10,
        &mut [
            &mut || kernel.eval(params, data, RowSet::All, &mut out).unwrap(),
            &mut || {
                simplified_kernel
                    .eval(params, data, RowSet::All, &mut simplified_out)
                    .unwrap()
            },
            &mut || {
                black_box(baseline(params, &mut grad));
            },
        ],
    );
    eprintln!(
        "{name} interleaved best: gradc {:.2} ms, gradc on the simplified graph {:.2} ms, \
         hand-written {:.2} ms: ratios {:.3} / {:.3}",
        best[0],
        best[1],
        best[2],
        best[0] / best[2],
        best[1] / best[2]
    );

    let mut group = c.benchmark_group(group_name);
    group.sample_size(20);
    group.bench_function("gradc_1_thread", |b| {
        b.iter(|| {
            kernel
                .eval(black_box(params), data, RowSet::All, &mut out)
                .unwrap();
            black_box(out[0])
        })
    });
    group.bench_function("gradc_2_threads", |b| {
        b.iter(|| {
            kernel
                .eval_threads(black_box(params), data, RowSet::All, &mut out, &threads)
                .unwrap();
            black_box(out[0])
        })
    });
    group.bench_function("gradc_1_thread_simplified_graph", |b| {
        b.iter(|| {
            simplified_kernel
                .eval(black_box(params), data, RowSet::All, &mut simplified_out)
                .unwrap();
            black_box(simplified_out[0])
        })
    });
    group.bench_function("hand_written_rust", |b| {
        b.iter(|| black_box(baseline(black_box(params), &mut grad)))
    });
    group.finish();
}

fn bench_logistic(c: &mut Criterion) {
    let data = random_data(1_000_000, 10, 1, true);
    let params = random_params(11, 2, 0.5);
    compare(
        c,
        "logistic",
        "logistic_1M_rows_10_features_value_grad",
        &logistic(10),
        &data,
        &params,
        &|p, g| logistic_baseline(p, &data, g),
    );
}

fn bench_mlp(c: &mut Criterion) {
    let hidden = 16;
    let model = mlp(&[2, hidden, 1]);
    let data = random_data(100_000, 2, 3, false);
    let params = random_params(model.n_params, 4, 0.5);
    compare(
        c,
        "mlp 2-16-1",
        "mlp_2_16_1_tanh_100k_rows_value_grad",
        &model,
        &data,
        &params,
        &|p, g| mlp_baseline(p, &data, hidden, g),
    );
}

fn bench_compile(c: &mut Criterion) {
    let small = logistic(10);
    let small_roots = small.roots();
    let big = mlp(&[2, 64, 64, 1]);
    let big_roots = big.roots();
    eprintln!(
        "mlp 2-64-64-1: {} params, {} nodes in the value+gradient cone (unsimplified)",
        big.n_params,
        big.graph.cone(&big_roots).len()
    );
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.bench_function("logistic_10_value_grad", |b| {
        b.iter(|| {
            Kernel::compile(&small.graph, &small_roots, small.n_params, small.n_inputs).unwrap()
        })
    });
    group.bench_function("mlp_2_64_64_1_value_grad", |b| {
        b.iter(|| Kernel::compile(&big.graph, &big_roots, big.n_params, big.n_inputs).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_logistic, bench_mlp, bench_compile);
criterion_main!(benches);

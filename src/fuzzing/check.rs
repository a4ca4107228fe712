//! The invariant checker: one generated model through the whole pipeline — compile, load the
//! data, bake data-only reductions, derive, simplify, generate native code, evaluate, print —
//! with the pipeline's invariants checked on the way.
//!
//! - Native code = the interpreter, bit for bit (NaN equal to NaN), for the value, the value
//!   and gradient, the Hessian, a mini-batch, and the per-row predictions (ARCHITECTURE.md:
//!   the kernels call the same functions and schedule nodes as `interp` does, and the data here
//!   is far less than one chunk of rows).
//! - Baking data-only reductions changes no bit of the objective's value.
//! - Simplified = unsimplified (value, gradient, Hessian) within rounding, judged as the
//!   simplifier's own property tests judge it (`interp::magnitude`, `interp::within_rounding`).
//! - Nothing panics.

use super::Model;
use crate::objective::{Batch, Objective};
use crate::{DeriveConfig, Derived};
use gradc_compile::{Kernel, KernelData, KernelOptions, RowSet, Threads};
use gradc_graph::interp::{self, Data};
use gradc_graph::{NodeId, Program};

/// Models with at most this many parameter elements also get a Hessian (when the model asks).
const MAX_HESSIAN_PARAMS: usize = 6;

/// An invariant that did not hold, or a stage that failed on a valid model.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("the generated model does not compile (a generator bug):\n{0}")]
    Invalid(String),
    #[error("the generated data does not load (a generator bug):\n{0}")]
    Data(String),
    #[error("the model could not be built: {0}")]
    Build(#[from] crate::BuildError),
    #[error("the prediction kernel could not be compiled: {0}")]
    Compile(#[from] gradc_compile::CompileError),
    #[error("the interpreter refused: {0}")]
    Interpreter(#[from] interp::EvalError),
    #[error("the prediction kernel refused: {0}")]
    Kernel(#[from] gradc_compile::EvalError),
    #[error("native {what} is {native:e} but the interpreter gives {interpreter:e}, at {point:?}")]
    Native {
        what: String,
        native: f64,
        interpreter: f64,
        point: Vec<f64>,
    },
    #[error(
        "baking data-only reductions changed the objective from {original:e} to {baked:e}, at {point:?}"
    )]
    Baked {
        original: f64,
        baked: f64,
        point: Vec<f64>,
    },
    #[error(
        "simplification changed {what} from {original:e} to {simplified:e} (scale {scale:e}), at {point:?}"
    )]
    Simplified {
        what: String,
        original: f64,
        simplified: f64,
        scale: f64,
        point: Vec<f64>,
    },
}

/// What a successful check compared, so that tests can tell that the checker did something.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// Points evaluated.
    pub points: usize,
    /// Points at which simplified and unsimplified were compared (the others had an
    /// intermediate value that was not finite or was huge).
    pub compared: usize,
    /// Whether a Hessian was derived and compared.
    pub hessian: bool,
    /// Data rows.
    pub rows: usize,
    /// Prediction values compared (rows × predicted elements × points).
    pub predictions: usize,
}

/// Runs `model` through the pipeline and checks every invariant on the way.
pub fn check(model: &Model) -> Result<Checked, Failure> {
    let program = crate::compile_source("fuzz.loss", &model.source, false)
        .map_err(|e| Failure::Invalid(e.rendered))?;
    let data = if program.inputs.is_empty() {
        Data::empty()
    } else {
        gradc_data::parse("fuzz.csv", model.csv.as_bytes(), &program.inputs)
            .map_err(|e| Failure::Data(e.to_string()))?
    };
    let n = program.param_count();
    let hessian = model.hessian && n <= MAX_HESSIAN_PARAMS;
    let built = crate::build(&program, &data, hessian, 1)?;
    let original = crate::derive(
        &built.program,
        &DeriveConfig {
            hessian,
            no_simplify: true,
            ..DeriveConfig::default()
        },
    );
    // Printing is part of the pipeline a user sees; it must not panic.
    let _ = crate::render(&built.program, &built.derived, model.format);

    let predictions: Vec<NodeId> = built
        .program
        .predicts
        .iter()
        .flat_map(|p| p.nodes.iter().copied())
        .collect();
    let row_kernel = Kernel::compile_rows(
        &built.program.graph,
        &predictions,
        n,
        program.input_count(),
        KernelOptions::default(),
    )?;
    let kernel_data = KernelData::from_data(&data)?;

    let mut points = vec![crate::params::initial_values(&program, model.seed)];
    if !model.point.is_empty() {
        points.push((0..n).map(|k| model.point[k % model.point.len()]).collect());
    }
    let batch: Vec<usize> = if data.n_rows == 0 {
        Vec::new()
    } else {
        model.batch.iter().map(|r| r % data.n_rows).collect()
    };
    let mut checked = Checked {
        hessian,
        rows: data.n_rows,
        ..Checked::default()
    };
    for point in &points {
        let at = Point {
            program: &built.program,
            params: point,
            data: &data,
        };
        let baked = interp::evaluate(
            &built.program.graph,
            &[built.program.objective],
            point,
            &data,
        )?;
        let unbaked = interp::evaluate(&program.graph, &[program.objective], point, &data)?;
        if !same(unbaked[0], baked[0]) {
            return Err(Failure::Baked {
                original: unbaked[0],
                baked: baked[0],
                point: point.clone(),
            });
        }
        at.native(&built.objective, &built.derived, &batch)?;
        match at.simplified(&original, &built.derived)? {
            Compared::All => checked.compared += 1,
            Compared::Unfit => {}
        }
        checked.predictions += at.predictions(&row_kernel, &predictions, &kernel_data)?;
        checked.points += 1;
    }
    Ok(checked)
}

/// How much of the simplified derivation was compared with the unsimplified one at a point.
enum Compared {
    /// All of it.
    All,
    /// Nothing: some value there is not finite or is huge (see `interp::magnitude`).
    Unfit,
}

/// Same value: equal bits, or both NaN.
fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// The roots of a derivation: value, gradient, then the Hessian row by row.
fn roots(derived: &Derived) -> Vec<NodeId> {
    let mut roots = vec![derived.objective];
    roots.extend(&derived.gradient);
    roots.extend(derived.hessian.iter().flatten().flatten());
    roots
}

/// One evaluation point of the model.
struct Point<'a> {
    program: &'a Program,
    params: &'a [f64],
    data: &'a Data,
}

impl Point<'_> {
    /// What root `k` of [`roots`] is, for messages.
    fn describe(&self, k: usize) -> String {
        let n = self.program.param_count();
        let name = |i: usize| self.program.param_element_name(i);
        match k {
            0 => "the objective".to_string(),
            k if k <= n => format!("∂L/∂{}", name(k - 1)),
            k => {
                let (i, j) = ((k - 1 - n) / n, (k - 1 - n) % n);
                format!("∂²L/∂{}∂{}", name(i), name(j))
            }
        }
    }

    fn mismatch(&self, what: String, native: f64, interpreter: f64) -> Result<(), Failure> {
        if same(native, interpreter) {
            return Ok(());
        }
        Err(Failure::Native {
            what,
            native,
            interpreter,
            point: self.params.to_vec(),
        })
    }

    /// The compiled objective (as the optimizers call it) against the interpreter on the
    /// same simplified graph: value, value and gradient, Hessian, and a mini-batch.
    fn native(
        &self,
        native: &crate::objective::Native,
        derived: &Derived,
        batch: &[usize],
    ) -> Result<(), Failure> {
        let roots = roots(derived);
        let n = derived.gradient.len();
        let expected = interp::evaluate(&derived.graph, &roots, self.params, self.data)?;
        let value = native.value(self.params, Batch::All);
        self.mismatch("value".to_string(), value, expected[0])?;
        let mut gradient = vec![0.0; n];
        let value = native.value_grad(self.params, Batch::All, &mut gradient);
        self.mismatch("value (with the gradient)".to_string(), value, expected[0])?;
        for (k, g) in gradient.iter().enumerate() {
            self.mismatch(self.describe(k + 1), *g, expected[k + 1])?;
        }
        if derived.hessian.is_some() {
            let mut hessian = vec![0.0; n * n];
            let value = native.value_grad_hess(self.params, &mut gradient, &mut hessian);
            let value = value.unwrap_or(f64::NAN);
            self.mismatch("value (with the Hessian)".to_string(), value, expected[0])?;
            for (k, v) in gradient.iter().chain(&hessian).enumerate() {
                self.mismatch(
                    format!("{} (with the Hessian)", self.describe(k + 1)),
                    *v,
                    expected[k + 1],
                )?;
            }
        }
        if self.data.n_rows > 0 {
            let expected = interp::evaluate_rows(
                &derived.graph,
                &roots[..=n],
                self.params,
                self.data,
                Some(batch),
            )?;
            let value = native.value_grad(self.params, Batch::Rows(batch), &mut gradient);
            let what = |k: usize| format!("{} on the mini-batch {batch:?}", self.describe(k));
            self.mismatch(what(0), value, expected[0])?;
            for (k, g) in gradient.iter().enumerate() {
                self.mismatch(what(k + 1), *g, expected[k + 1])?;
            }
        }
        Ok(())
    }

    /// Simplified against unsimplified, in the interpreter, within rounding (value, gradient
    /// and Hessian).
    fn simplified(&self, original: &Derived, simplified: &Derived) -> Result<Compared, Failure> {
        let original_roots = roots(original);
        let Some(scale) =
            interp::magnitude(&original.graph, &original_roots, self.params, self.data)?
        else {
            return Ok(Compared::Unfit);
        };
        let before = interp::evaluate(&original.graph, &original_roots, self.params, self.data)?;
        let after = interp::evaluate(
            &simplified.graph,
            &roots(simplified),
            self.params,
            self.data,
        )?;
        for (k, (a, b)) in before.iter().zip(&after).enumerate() {
            if !interp::within_rounding(*a, *b, scale) {
                return Err(Failure::Simplified {
                    what: self.describe(k),
                    original: *a,
                    simplified: *b,
                    scale,
                    point: self.params.to_vec(),
                });
            }
        }
        Ok(Compared::All)
    }

    /// The per-row predictions natively against the interpreter; returns how many values
    /// were compared.
    fn predictions(
        &self,
        kernel: &Kernel,
        roots: &[NodeId],
        data: &KernelData,
    ) -> Result<usize, Failure> {
        let width = roots.len();
        let mut native = vec![0.0; self.data.n_rows * width];
        kernel.eval_rows(
            self.params,
            data,
            RowSet::All,
            &mut native,
            &Threads::serial(),
        )?;
        let expected =
            interp::evaluate_per_row(&self.program.graph, roots, self.params, self.data)?;
        for (row, values) in expected.iter().enumerate() {
            for (k, e) in values.iter().enumerate() {
                let what = format!("prediction {k} on row {row}");
                self.mismatch(what, native[row * width + k], *e)?;
            }
        }
        Ok(expected.len() * width)
    }
}

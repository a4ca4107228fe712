//! `gradc run`: fit the parameters, then print the table or the JSON, write `--out` and
//! `--plot`.

use crate::cli::args::RunArgs;
use crate::cli::files::{self, Input};
use crate::cli::table::{Bar, print_summary};
use crate::cli::{load, signals};
use crate::{EXIT_FAILED, EXIT_MODEL_ERROR};
use gradc::run::Solver;
use gradc_minimize::{Settings, StopReason};
use std::io::IsTerminal;

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let hyper = gradc::run::Hyper {
        momentum: args.momentum,
        decay: args.decay,
        beta1: args.beta1,
        beta2: args.beta2,
        eps: args.eps,
    };
    let solver = gradc::run::solver(&args.optimizer, &hyper)?;
    let method = match solver {
        Solver::FirstOrder(method) => method,
        _ => gradc_minimize::Method::Gd,
    };
    let steps = args.steps.unwrap_or(1000);
    let settings = Settings {
        method,
        learning_rate: args
            .lr
            .unwrap_or_else(|| gradc::run::default_learning_rate(&method)),
        schedule: gradc::run::schedule(&args.schedule)?,
        steps,
        batch: args.batch,
        tol: args.tol.unwrap_or(0.0),
        gradient_tol: args.grad_tol.unwrap_or(1e-12),
        seed: args.seed,
        // At most about a thousand history entries, however long the run.
        history_every: steps.div_ceil(1000).max(1),
        ..Settings::default()
    };
    let second = {
        let defaults = gradc_minimize::SecondOrderSettings::default();
        gradc_minimize::SecondOrderSettings {
            max_iterations: args.steps.unwrap_or(defaults.max_iterations),
            tol: args.tol.unwrap_or(defaults.tol),
            gtol: args.grad_tol.unwrap_or(defaults.gtol),
            ..defaults
        }
    };
    if let Some(plot) = &args.plot
        && let Err(error) = gradc::plot::PlotFormat::of(plot)
    {
        errln!("error: {error}");
        return Ok(EXIT_MODEL_ERROR);
    }
    let started = std::time::Instant::now();
    let model = match load::model(&args.model)? {
        Ok(model) => model,
        Err(code) => return Ok(code),
    };
    let front_end = started.elapsed();
    // Every output is checked before any work: none may replace an input or another output.
    let data_file = model.data_file(args.data.as_deref());
    let mut inputs = vec![model.as_input()];
    if let Some(path) = data_file
        .as_deref()
        .filter(|_| !model.program.inputs.is_empty())
    {
        inputs.push(Input {
            what: "the data file",
            path,
        });
    }
    let requested: Vec<(&'static str, &std::path::Path)> = [
        args.out.as_deref().map(|p| ("--out", p)),
        args.plot.as_deref().map(|p| ("--plot", p)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let outputs = match files::check_outputs(&inputs, &requested) {
        Ok(outputs) => outputs,
        Err(error) => {
            errln!("error: {error}");
            return Ok(EXIT_MODEL_ERROR);
        }
    };
    let output = |flag: &str| outputs.iter().find(|o| o.flag == flag);
    let needs_hessian = solver == Solver::Newton || args.errors;
    let limit = match (solver, args.errors) {
        (Solver::Newton, _) => Some((
            "--optimizer newton",
            "use --optimizer lbfgs, which needs gradients only",
        )),
        (_, true) => Some((
            "--errors",
            "fit without --errors (standard errors need the inverse Hessian)",
        )),
        _ => None,
    };
    if let Some((requested, instead)) = limit
        && let Err(error) = gradc::limits::check_hessian(&model.program, requested, instead)
    {
        errln!("error: {error}");
        return Ok(EXIT_MODEL_ERROR);
    }
    let started = std::time::Instant::now();
    let data = match model.load_data(args.data.as_deref()) {
        Ok(data) => data,
        Err(code) => return Ok(code),
    };
    let loading = started.elapsed();
    let program = &model.program;
    let (data, file_rows, validation_data) = match args.validate {
        Some(fraction) => {
            if data.n_rows < 2 {
                errln!(
                    "error: --validate needs at least 2 data rows (one to train on, one to \
                     validate on); the data has {}",
                    data.n_rows
                );
                return Ok(EXIT_MODEL_ERROR);
            }
            let split = gradc_data::split(&data, fraction, args.seed);
            (
                split.training,
                Some(split.training_rows),
                Some(split.validation),
            )
        }
        None => (data, None, None),
    };
    let start = gradc::params::initial_values(program, args.seed);
    let threads = threads(args.threads, data.n_rows);
    let built = gradc::build(program, &data, needs_hessian, threads)?;
    if args.verbose {
        report_stages(front_end, loading, &built, threads);
    }
    let prepared = &built.program;
    let least_squares = if solver == Solver::Lm || args.errors {
        use gradc::least_squares::{LeastSquares, LeastSquaresError};
        match LeastSquares::new(prepared, &data, threads) {
            Ok(ls) => Some(ls),
            Err(LeastSquaresError::Native(error)) => return Err(error.into()),
            Err(LeastSquaresError::Not(error)) if solver == Solver::Lm => {
                let diagnostic = match prepared.spans.get(&error.node) {
                    Some(span) => gradc_syntax::Diagnostic::error(
                        gradc_syntax::codes::NOT_LEAST_SQUARES,
                        "--optimizer lm needs an objective that is a sum of squares",
                        gradc_syntax::Span::new(span.start, span.end),
                    )
                    .with_label(error.reason.clone()),
                    None => {
                        errln!("error: {error}");
                        return Ok(EXIT_MODEL_ERROR);
                    }
                }
                .with_hint(
                    "lm fits sum(r^2), mean(r^2), r1^2 + r2^2, or a positive multiple or sum of \
                     these; other objectives: --optimizer newton or lbfgs",
                );
                load::report_at(&args.model, &model.source, diagnostic);
                return Ok(EXIT_MODEL_ERROR);
            }
            Err(_) => None,
        }
    } else {
        None
    };
    let objective = &built.objective;
    // For lm, `LeastSquares::new` either succeeded or returned above.
    let lm_residuals = match (solver, &least_squares) {
        (Solver::Lm, None) => anyhow::bail!("--optimizer lm: the residuals could not be compiled"),
        (_, residuals) => residuals.as_ref(),
    };
    let validation = match &validation_data {
        Some(data) => Some(objective.on(data)?),
        None => None,
    };
    let show_progress = !args.quiet && !args.json && std::io::stderr().is_terminal();
    let mut recorder = Recorder {
        bar: Bar::new(show_progress, settings.steps),
        validation: validation
            .as_ref()
            .map(|v| v as &dyn gradc::objective::Objective),
        validation_history: Vec::new(),
        path: (args.plot.is_some() && program.param_count() == 2).then(Vec::new),
    };
    let started = std::time::Instant::now();
    let mut outcome = signals::during_run(|interrupt| match (solver, lm_residuals) {
        (Solver::Lm, Some(residuals)) => gradc_minimize::levenberg_marquardt(
            residuals,
            &start,
            &second,
            interrupt,
            &mut recorder,
        ),
        (Solver::Newton, _) => {
            gradc_minimize::newton(objective, &start, &second, interrupt, &mut recorder)
        }
        (Solver::Lbfgs, _) => {
            gradc_minimize::lbfgs(objective, &start, &second, interrupt, &mut recorder)
        }
        (Solver::FirstOrder(_) | Solver::Lm, _) => {
            gradc_minimize::minimize(objective, &start, &settings, interrupt, &mut recorder)
        }
    });
    if settings.method.is_sgd() && outcome.divergence.is_none() {
        // The reported loss is on all (training) rows, not on the last mini-batch.
        outcome.loss = gradc::objective::Objective::value(
            objective,
            &outcome.params,
            gradc::objective::Batch::All,
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    recorder.bar.finish();
    let validation_loss = validation.as_ref().map(|v| {
        gradc::objective::Objective::value(v, &outcome.params, gradc::objective::Batch::All)
    });
    let errors = if args.errors {
        Some(standard_errors(
            objective,
            least_squares.as_ref(),
            &outcome.params,
        ))
    } else {
        None
    };
    let mut result = gradc::run::result_json(program, solver.name(), &outcome, seconds);
    if let Some(detail) = &outcome.detail {
        result["stop_detail"] = serde_json::Value::from(detail.clone());
    }
    if let Some(errors) = &errors {
        result["errors"] = match errors {
            Some(values) => gradc::params::to_json(program, values),
            None => serde_json::Value::Null,
        };
    }
    if let Some(loss) = validation_loss {
        result["validation_loss"] = gradc::params::number(loss);
        result["validation_history"] = recorder
            .validation_history
            .iter()
            .map(|(step, loss)| serde_json::json!([step, gradc::params::number(*loss)]))
            .collect();
    }
    if !built.data_reductions.is_empty() {
        result[gradc::params::DATA_REDUCTIONS] =
            gradc::params::data_reductions_to_json(&built.data_reductions);
    }
    // Print first: the result is on the screen even when an output cannot be written.
    if args.json {
        outln!("{result}");
    } else if !args.quiet {
        print_summary(
            program,
            &outcome,
            solver.name(),
            seconds,
            validation_loss,
            errors.as_ref(),
        );
    }
    let mut code = if outcome.stop_reason == StopReason::Diverged {
        EXIT_FAILED
    } else {
        0
    };
    if let Some(divergence) = &outcome.divergence {
        let name = gradc::display_name(&args.model);
        errln!(
            "{}",
            gradc::diverge::explain(
                prepared,
                &name,
                &model.source,
                &data,
                file_rows.as_deref(),
                divergence
            )
        );
    }
    if let Some(out) = output("--out")
        && let Err(error) = out.write(format!("{result:#}\n").as_bytes())
    {
        errln!("error: {error}");
        code = EXIT_FAILED;
    }
    if let Some(plot_file) = output("--plot") {
        let loss = |x: f64, y: f64| {
            gradc::objective::Objective::value(objective, &[x, y], gradc::objective::Batch::All)
        };
        let names = [program.param_element_name(0), program.param_element_name(1)];
        let plot = gradc::plot::Plot {
            history: &outcome.history,
            validation: validation_loss.map(|_| &recorder.validation_history[..]),
            path: recorder.path.as_deref().map(|points| gradc::plot::Path2 {
                names,
                points,
                loss: &loss,
                rows: data.n_rows,
            }),
        };
        let rendered = gradc::plot::PlotFormat::of(&plot_file.shown)
            .and_then(|format| gradc::plot::render(format, &plot));
        let written = match rendered {
            Ok(bytes) => plot_file.write(&bytes).map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = written {
            errln!("error: {error}");
            code = EXIT_FAILED;
        }
    }
    Ok(code)
}

/// The threads to evaluate `rows` data rows on: as asked (default: every core), but never
/// more than the cores, nor than the 4096-row chunks the rows are summed in (a thread without
/// a chunk only costs its start-up).
pub fn threads(requested: Option<usize>, rows: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunks = rows.div_ceil(gradc_compile::DEFAULT_CHUNK_ROWS).max(1);
    requested.unwrap_or(cores).min(cores).min(chunks).max(1)
}

/// `-v`: the time of each stage, so that compile latency is visible.
pub fn report_stages(
    front_end: std::time::Duration,
    loading: std::time::Duration,
    built: &gradc::Built,
    threads: usize,
) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let t = &built.derived.timings;
    errln!("parse+lower   {:>9.3} ms", ms(front_end));
    errln!("load data     {:>9.3} ms", ms(loading));
    errln!("differentiate {:>9.3} ms", ms(t.differentiate));
    errln!("simplify      {:>9.3} ms", ms(t.simplify));
    errln!("codegen       {:>9.3} ms", ms(built.codegen));
    let ops = built.derived.ops;
    errln!(
        "ops: forward {}, gradient {} (unsimplified {}); {threads} thread{}",
        ops.forward,
        ops.gradient,
        ops.gradient_unsimplified,
        if threads == 1 { "" } else { "s" }
    );
}

/// Standard errors at `params`: for a sum of squares, √diag((JᵀJ)⁻¹)·s with s² = RSS/(m − n)
/// (as curve-fitting tools and NIST's certified values compute them); otherwise √diag(H⁻¹) of
/// the objective as written (a negative log-likelihood summed over the rows). `None` when the
/// matrix is not invertible.
fn standard_errors(
    objective: &gradc::objective::Native,
    least_squares: Option<&gradc::least_squares::LeastSquares>,
    params: &[f64],
) -> Option<Vec<f64>> {
    use gradc_minimize::Residuals;
    let n = params.len();
    if let Some(ls) = least_squares {
        let m = ls.residual_count();
        let mut r = vec![0.0; m];
        let mut jac = vec![0.0; m * n];
        ls.jacobian(params, &mut r, &mut jac);
        return gradc_minimize::least_squares_errors(&jac, &r, m, n);
    }
    let mut grad = vec![0.0; n];
    let mut hess = vec![0.0; n * n];
    gradc::objective::Objective::value_grad_hess(objective, params, &mut grad, &mut hess)?;
    gradc_minimize::standard_errors(&hess, n)
}

/// Observes a run: the progress bar, the validation loss and the path at each history entry.
struct Recorder<'a> {
    bar: Bar,
    validation: Option<&'a dyn gradc::objective::Objective>,
    validation_history: Vec<(usize, f64)>,
    path: Option<Vec<[f64; 2]>>,
}

impl gradc_minimize::Progress for Recorder<'_> {
    fn step(&mut self, step: usize, loss: f64) -> bool {
        self.bar.step(step, loss)
    }

    fn record(&mut self, step: usize, params: &[f64]) {
        if let Some(v) = self.validation {
            let loss = v.value(params, gradc::objective::Batch::All);
            self.validation_history.push((step, loss));
        }
        if let Some(path) = &mut self.path {
            path.push([params[0], params[1]]);
        }
    }
}

//! The `gradc` command line. The only place that reads files, writes to the terminal or picks
//! colours; everything else is in the libraries.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use gradc::{DeriveConfig, Format};
use gradc_graph::Program;
use gradc_graph::interp::Data;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `print!` to standard output that never panics: when the reader has gone (`gradc run … |
/// head`), the text is dropped and the command goes on, so that `--out` and `--plot` are
/// still written.
macro_rules! out {
    ($($arg:tt)*) => {
        write_out(format_args!($($arg)*), false)
    };
}

/// `println!` in the manner of [`out!`].
macro_rules! outln {
    () => {
        write_out(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        write_out(format_args!($($arg)*), true)
    };
}

/// A finite number, for the flags below.
fn finite(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err("must be a finite number".into()),
        Err(_) => Err(format!("`{text}` is not a number")),
    }
}

/// `--lr`, `--eps`: a finite number above 0.
fn positive(text: &str) -> Result<f64, String> {
    finite(text).and_then(|x| (x > 0.0).then_some(x).ok_or("must be above 0".into()))
}

/// `--tol`, `--grad-tol`: a finite number, 0 or more (0 turns the rule off).
fn non_negative(text: &str) -> Result<f64, String> {
    finite(text).and_then(|x| (x >= 0.0).then_some(x).ok_or("must be 0 or more".into()))
}

/// `--momentum`, `--decay`, `--beta1`, `--beta2`: a decay rate in [0, 1).
fn unit_interval(text: &str) -> Result<f64, String> {
    finite(text).and_then(|x| {
        (0.0..1.0)
            .contains(&x)
            .then_some(x)
            .ok_or("must be at least 0 and below 1".into())
    })
}

/// `--batch`: at least one row.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a whole number")),
    }
}

fn write_out(text: std::fmt::Arguments, newline: bool) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(text);
    // A closed pipe is not an error of the run; any other failure to write is ignored alike
    // (the exit code reports the run).
    let _ = written.and_then(|()| {
        if newline {
            stdout.write_all(b"\n")
        } else {
            Ok(())
        }
    });
}

#[derive(Parser, Debug)]
#[command(
    name = "gradc",
    version,
    about = "A compiler for loss functions: exact gradients, simplified, native"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the derived, simplified partial derivatives of the objective.
    Grad(GradArgs),
    /// Compare the derived gradient with finite differences on the data.
    Check(CheckArgs),
    /// Fit the parameters.
    Run(Box<RunArgs>),
    /// Write the model's `predict` values for the rows of a data file.
    Eval(EvalArgs),
}

#[derive(clap::Args, Debug)]
struct EvalArgs {
    /// The model file.
    model: PathBuf,
    /// Fitted parameters: the JSON of `gradc run --out`.
    #[arg(long)]
    params: PathBuf,
    /// The rows to predict for (default: the model's `data` file). Only the columns the
    /// `predict` expressions read are needed.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Write the CSV here (atomically) instead of to stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The model file.
    model: PathBuf,
    /// The data file (overrides the model's `data` statement).
    #[arg(long)]
    data: Option<PathBuf>,
    /// gd, sgd, momentum, nesterov, adagrad, rmsprop, adam, newton, lbfgs or lm.
    #[arg(long, default_value = "gd")]
    optimizer: String,
    /// Learning rate (default: 0.001 for adam and rmsprop, 0.01 otherwise).
    #[arg(long, value_parser = positive)]
    lr: Option<f64>,
    /// The most parameter updates (default 1000; for newton, lbfgs and lm: 1000 iterations).
    #[arg(long)]
    steps: Option<usize>,
    /// Mini-batch size for sgd.
    #[arg(long, default_value_t = 32, value_parser = at_least_one)]
    batch: usize,
    /// constant, linear, quadratic, exp:BETA or step:EVERY:FACTOR.
    #[arg(long, default_value = "constant")]
    schedule: String,
    /// Stop when the loss changes by less than this between steps, |L_k − L_(k−1)| < X
    /// (default 0: never), for every optimizer.
    #[arg(long, value_parser = non_negative)]
    tol: Option<f64>,
    /// Stop when the gradient norm is below this (default 1e-12; for newton, lbfgs and lm
    /// ‖g‖∞ ≤ X·max(1, |L|) with default 1e-14).
    #[arg(long, value_parser = non_negative)]
    grad_tol: Option<f64>,
    /// Seed for random initial values and mini-batch shuffles.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads for evaluating the data rows (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Momentum β for momentum and nesterov, in [0, 1).
    #[arg(long, value_parser = unit_interval)]
    momentum: Option<f64>,
    /// Decay of RMSprop's running average, in [0, 1).
    #[arg(long, value_parser = unit_interval)]
    decay: Option<f64>,
    /// Adam's β₁, in [0, 1).
    #[arg(long, value_parser = unit_interval)]
    beta1: Option<f64>,
    /// Adam's β₂, in [0, 1).
    #[arg(long, value_parser = unit_interval)]
    beta2: Option<f64>,
    /// ε of adagrad, rmsprop and adam.
    #[arg(long, value_parser = positive)]
    eps: Option<f64>,
    /// Print one JSON object on stdout and nothing else there.
    #[arg(long)]
    json: bool,
    /// Write the JSON object to this file (atomically).
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress display and no summary.
    #[arg(long)]
    quiet: bool,
    /// Hold out this fraction of the rows (seeded by --seed) and report the loss on them.
    #[arg(long)]
    validate: Option<f64>,
    /// Draw the loss curve (and for two parameters the path on the contours): F.svg or F.png.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Report the time of each stage on stderr.
    #[arg(short, long)]
    verbose: bool,
    /// Report standard errors of the fitted parameters: from (JᵀJ)⁻¹ scaled by the residual
    /// variance for a sum of squares, from the inverse Hessian otherwise.
    #[arg(long)]
    errors: bool,
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// The model file.
    model: PathBuf,
    /// The data file (overrides the model's `data` statement).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Parameter values to check at (the JSON of `gradc run --out`); default: initial values.
    #[arg(long)]
    at: Option<PathBuf>,
    /// Seed for random initial values.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Largest accepted relative error.
    #[arg(long, default_value_t = gradc::check::DEFAULT_TOLERANCE)]
    tol: f64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Threads for evaluating the data rows (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Report the time of each stage on stderr.
    #[arg(short, long)]
    verbose: bool,
}

#[derive(clap::Args, Debug)]
struct GradArgs {
    /// The model file.
    model: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// Also derive the Hessian.
    #[arg(long)]
    hessian: bool,
    /// Print the derivatives as differentiated, without equality saturation.
    #[arg(long)]
    no_simplify: bool,
    /// Report stage timings and the simplifier's stop reason on stderr.
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    Text,
    Latex,
    Dot,
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Text => Format::Text,
            FormatArg::Latex => Format::Latex,
            FormatArg::Dot => Format::Dot,
            FormatArg::Json => Format::Json,
        }
    }
}

/// Exit status 2: a usage or model error (LANGUAGE.md §5).
const EXIT_MODEL_ERROR: u8 = 2;
/// Exit status 1: the run failed (bad data, divergence, a failed check).
const EXIT_FAILED: u8 = 1;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(EXIT_MODEL_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Grad(args) => grad(args),
        Command::Check(args) => check(args),
        Command::Run(args) => run(*args),
        Command::Eval(args) => eval(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_MODEL_ERROR)
        }
    }
}

/// Prints an error about a place in the model, rendered as the compiler renders its own.
fn report_at(model: &Path, source: &str, diagnostic: gradc_syntax::Diagnostic) {
    let name = gradc::display_name(model);
    eprint!(
        "{}",
        gradc_syntax::render(&name, source, &[diagnostic], color_on_stderr())
    );
}

fn color_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Reads and compiles a model; `Err(code)` after the diagnostics have been printed.
fn load_model(path: &Path) -> anyhow::Result<Result<Program, ExitCode>> {
    Ok(load_model_and_source(path)?.map(|(program, _)| program))
}

fn load_model_and_source(path: &Path) -> anyhow::Result<Result<(Program, String), ExitCode>> {
    let source =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = gradc::display_name(path);
    Ok(
        match gradc::compile_source(&name, &source, color_on_stderr()) {
            Ok(program) => Ok((program, source)),
            Err(error) => {
                eprint!("{}", error.rendered);
                Err(ExitCode::from(EXIT_MODEL_ERROR))
            }
        },
    )
}

/// Loads the model's data: `--data`, else the model's `data` statement (relative to the model
/// file); none is needed when the model reads no input.
fn load_data(
    model: &Path,
    program: &Program,
    data: Option<&Path>,
) -> anyhow::Result<Result<Data, ExitCode>> {
    load_inputs(model, program, &program.inputs, data)
}

/// Loads the columns of `inputs` (all of the model's, or the ones `eval` needs) from `--data`,
/// else from the model's `data` statement (relative to the model file); no file is needed when
/// there are no inputs to read.
fn load_inputs(
    model: &Path,
    program: &Program,
    inputs: &[gradc_graph::InputInfo],
    data: Option<&Path>,
) -> anyhow::Result<Result<Data, ExitCode>> {
    let path = match (data, &program.data_path) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(relative)) => model.parent().unwrap_or(Path::new("")).join(relative),
        (None, None) if inputs.is_empty() => return Ok(Ok(Data::empty())),
        (None, None) => {
            let source = std::fs::read_to_string(model)
                .with_context(|| format!("cannot read {}", model.display()))?;
            // The first `input` statement is where the model asks for data.
            let parsed = gradc_syntax::parse(&source);
            let input = parsed
                .file
                .statements
                .iter()
                .find(|s| matches!(s.kind, gradc_syntax::ast::StmtKind::Input { .. }));
            match input {
                Some(statement) => report_at(
                    model,
                    &source,
                    gradc_syntax::Diagnostic::error(
                        gradc_syntax::codes::NO_DATA_FILE,
                        "the model reads inputs but names no data file",
                        statement.span,
                    )
                    .with_label("an input needs a data file")
                    .with_hint("add `data \"file.csv\"` to the model, or pass --data F.csv"),
                ),
                None => eprintln!(
                    "error: {} reads inputs but names no data file: add `data \"file.csv\"` \
                     or pass --data",
                    model.display()
                ),
            }
            return Ok(Err(ExitCode::from(EXIT_MODEL_ERROR)));
        }
    };
    Ok(match gradc_data::load(&path, inputs) {
        Ok(data) => Ok(data),
        Err(error) => {
            eprintln!("error: bad data\n{error}");
            Err(ExitCode::from(EXIT_FAILED))
        }
    })
}

/// A model and its data, with the time each took (`-v`).
struct Loaded {
    program: Program,
    source: String,
    data: Data,
    front_end: std::time::Duration,
    loading: std::time::Duration,
}

fn load_model_and_data(
    model: &Path,
    data: Option<&Path>,
) -> anyhow::Result<Result<Loaded, ExitCode>> {
    let started = std::time::Instant::now();
    let (program, source) = match load_model_and_source(model)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(Err(code)),
    };
    let front_end = started.elapsed();
    let started = std::time::Instant::now();
    let data = match load_data(model, &program, data)? {
        Ok(data) => data,
        Err(code) => return Ok(Err(code)),
    };
    Ok(Ok(Loaded {
        program,
        source,
        data,
        front_end,
        loading: started.elapsed(),
    }))
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    use gradc_minimize::{Settings, StopReason};
    let hyper = gradc::run::Hyper {
        momentum: args.momentum,
        decay: args.decay,
        beta1: args.beta1,
        beta2: args.beta2,
        eps: args.eps,
    };
    let solver = gradc::run::solver(&args.optimizer, &hyper)?;
    let method = match solver {
        gradc::run::Solver::FirstOrder(method) => method,
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
    if let Some(fraction) = args.validate
        && !(fraction > 0.0 && fraction < 1.0)
    {
        anyhow::bail!("--validate takes a fraction between 0 and 1, got {fraction}");
    }
    let Loaded {
        program,
        source,
        data,
        front_end,
        loading,
    } = match load_model_and_data(&args.model, args.data.as_deref())? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let (data, file_rows, validation_data) = match args.validate {
        Some(fraction) => {
            let split = gradc_data::split(&data, fraction, args.seed);
            (
                split.training,
                Some(split.training_rows),
                Some(split.validation),
            )
        }
        None => (data, None, None),
    };
    let start = gradc::params::initial_values(&program, args.seed);
    let needs_hessian = solver == gradc::run::Solver::Newton || args.errors;
    let built = gradc::build(&program, &data, needs_hessian, args.threads.unwrap_or(0))?;
    if args.verbose {
        report_stages(front_end, loading, &built);
    }
    let prepared = &built.program;
    let least_squares = if solver == gradc::run::Solver::Lm || args.errors {
        use gradc::least_squares::{LeastSquares, LeastSquaresError};
        match LeastSquares::new(prepared, &data, args.threads.unwrap_or(0)) {
            Ok(ls) => Some(ls),
            Err(LeastSquaresError::Native(error)) => return Err(error.into()),
            Err(LeastSquaresError::Not(error)) if solver == gradc::run::Solver::Lm => {
                let diagnostic = match prepared.spans.get(&error.node) {
                    Some(span) => gradc_syntax::Diagnostic::error(
                        gradc_syntax::codes::NOT_LEAST_SQUARES,
                        "--optimizer lm needs an objective that is a sum of squares",
                        gradc_syntax::Span::new(span.start, span.end),
                    )
                    .with_label(error.reason.clone()),
                    None => {
                        eprintln!("error: {error}");
                        return Ok(ExitCode::from(EXIT_MODEL_ERROR));
                    }
                }
                .with_hint(
                    "lm fits sum(r^2), mean(r^2), r1^2 + r2^2, or a positive multiple or sum of \
                     these; other objectives: --optimizer newton or lbfgs",
                );
                report_at(&args.model, &source, diagnostic);
                return Ok(ExitCode::from(EXIT_MODEL_ERROR));
            }
            Err(_) => None,
        }
    } else {
        None
    };
    let objective = &built.objective;
    let validation = match &validation_data {
        Some(data) => Some(objective.on(data)?),
        None => None,
    };
    let interrupt = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let interrupt = interrupt.clone();
        // A second Ctrl-C while the handler is installed would be swallowed; that is accepted:
        // the run stops at the next step anyway.
        let _ =
            ctrlc::set_handler(move || interrupt.store(true, std::sync::atomic::Ordering::Relaxed));
    }
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
    let mut outcome = match solver {
        gradc::run::Solver::FirstOrder(_) => {
            gradc_minimize::minimize(objective, &start, &settings, &interrupt, &mut recorder)
        }
        gradc::run::Solver::Newton => {
            gradc_minimize::newton(objective, &start, &second, &interrupt, &mut recorder)
        }
        gradc::run::Solver::Lbfgs => {
            gradc_minimize::lbfgs(objective, &start, &second, &interrupt, &mut recorder)
        }
        gradc::run::Solver::Lm => {
            let residuals = least_squares.as_ref().expect("checked above");
            gradc_minimize::levenberg_marquardt(
                residuals,
                &start,
                &second,
                &interrupt,
                &mut recorder,
            )
        }
    };
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
    let mut result = gradc::run::result_json(&program, solver.name(), &outcome, seconds);
    if let Some(detail) = &outcome.detail {
        result["stop_detail"] = serde_json::Value::from(detail.clone());
    }
    if let Some(errors) = &errors {
        result["errors"] = match errors {
            Some(values) => gradc::params::to_json(&program, values),
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
    if let Some(path) = &args.out {
        write_atomically(path, &format!("{result:#}\n"))?;
    }
    if let Some(path) = &args.plot {
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
            }),
        };
        gradc::plot::draw(path, &plot)?;
    }
    if args.json {
        outln!("{result}");
    } else if !args.quiet {
        print_summary(
            &program,
            &outcome,
            solver.name(),
            seconds,
            validation_loss,
            errors.as_ref(),
        );
    }
    if let Some(divergence) = &outcome.divergence {
        let name = gradc::display_name(&args.model);
        eprintln!(
            "{}",
            gradc::diverge::explain(
                prepared,
                &name,
                &source,
                &data,
                file_rows.as_deref(),
                divergence
            )
        );
    }
    Ok(if outcome.stop_reason == StopReason::Diverged {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// `-v`: the time of each stage, so that compile latency is visible.
fn report_stages(
    front_end: std::time::Duration,
    loading: std::time::Duration,
    built: &gradc::Built,
) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let t = &built.derived.timings;
    eprintln!("parse+lower   {:>9.3} ms", ms(front_end));
    eprintln!("load data     {:>9.3} ms", ms(loading));
    eprintln!("differentiate {:>9.3} ms", ms(t.differentiate));
    eprintln!("simplify      {:>9.3} ms", ms(t.simplify));
    eprintln!("codegen       {:>9.3} ms", ms(built.codegen));
    let ops = built.derived.ops;
    eprintln!(
        "ops: forward {}, gradient {} (unsimplified {})",
        ops.forward, ops.gradient, ops.gradient_unsimplified
    );
}

/// A number for the summary table: plain where that is short, scientific otherwise.
fn show(v: f64) -> String {
    if v == 0.0 || (1e-4..1e6).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
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

fn eval(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let program = match load_model(&args.model)? {
        Ok(program) => program,
        Err(code) => return Ok(code),
    };
    if program.predicts.is_empty() {
        eprintln!(
            "error: {} has no `predict` statement: nothing to evaluate",
            args.model.display()
        );
        return Ok(ExitCode::from(EXIT_MODEL_ERROR));
    }
    let text = std::fs::read_to_string(&args.params)
        .with_context(|| format!("cannot read {}", args.params.display()))?;
    let params = gradc::params::from_json(&program, &text)
        .with_context(|| format!("{}", args.params.display()))?;
    // Data-only reductions (a standardization) keep the values they had in training: they are
    // computed on the model's own data file when it has one.
    let program = if program.data_path.is_some() && args.data.is_some() {
        match load_data(&args.model, &program, None)? {
            Ok(training) => gradc::prepare::bake_data_reductions(&program, &training)?,
            Err(code) => return Ok(code),
        }
    } else {
        program
    };
    let roots: Vec<gradc_graph::NodeId> = program
        .predicts
        .iter()
        .flat_map(|p| p.nodes.iter().copied())
        .collect();
    let data = match load_columns_for(&args.model, &program, &roots, args.data.as_deref())? {
        Ok(data) => data,
        Err(code) => return Ok(code),
    };
    let program = gradc::prepare::bake_data_reductions(&program, &data)?;
    let roots: Vec<gradc_graph::NodeId> = program
        .predicts
        .iter()
        .flat_map(|p| p.nodes.iter().copied())
        .collect();
    let n_params = program.param_count();
    let rows = gradc::objective::per_row(&program.graph, &roots, n_params, &params, &data, 0)?;
    let mut out = String::new();
    let header: Vec<String> = program
        .predicts
        .iter()
        .flat_map(|p| {
            let info = gradc_graph::InputInfo {
                name: p.name.clone(),
                shape: p.shape.clone(),
                offset: 0,
                columns: gradc_graph::ColumnSource::Headers(Vec::new()),
            };
            (0..p.nodes.len()).map(move |k| info.element_name(k))
        })
        .collect();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header)?;
    for row in &rows {
        writer.write_record(row.iter().map(|v| format_value(*v)))?;
    }
    out.push_str(&String::from_utf8(writer.into_inner()?)?);
    match &args.out {
        Some(path) => write_atomically(path, &out)?,
        None => out!("{out}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// A number in a CSV: shortest round-trip form, `NaN`/`inf` spelled as numpy writes them.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "nan".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{v}")
    }
}

/// Loads only the data columns that `roots` read; the others are left NaN (a `predict` needs no
/// label column).
fn load_columns_for(
    model: &Path,
    program: &Program,
    roots: &[gradc_graph::NodeId],
    data: Option<&Path>,
) -> anyhow::Result<Result<Data, ExitCode>> {
    let graph = &program.graph;
    let read: std::collections::BTreeSet<usize> = graph
        .cone(roots)
        .into_iter()
        .filter_map(|id| match graph.op(id) {
            gradc_graph::Op::Input(i) => Some(i as usize),
            _ => None,
        })
        .collect();
    let needed: Vec<gradc_graph::InputInfo> = program
        .inputs
        .iter()
        .filter(|input| (input.offset..input.offset + input.len()).any(|i| read.contains(&i)))
        .cloned()
        .collect();
    let loaded = match load_inputs(model, program, &needed, data)? {
        Ok(data) => data,
        Err(code) => return Ok(Err(code)),
    };
    let mut columns = vec![vec![f64::NAN; loaded.n_rows]; program.input_count()];
    let mut next = loaded.columns.into_iter();
    for input in &needed {
        for k in 0..input.len() {
            if let Some(column) = next.next() {
                columns[input.offset + k] = column;
            }
        }
    }
    Ok(Ok(Data {
        n_rows: loaded.n_rows,
        columns,
    }))
}

/// Writes a file so that it is never seen half-written: a temporary file beside it, then a
/// rename over it.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    let temporary = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, text)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn print_summary(
    program: &Program,
    outcome: &gradc_minimize::Outcome,
    optimizer: &str,
    seconds: f64,
    validation_loss: Option<f64>,
    errors: Option<&Option<Vec<f64>>>,
) {
    match errors {
        Some(_) => outln!("{:<20} {:>20} {:>16}", "parameter", "value", "std. error"),
        None => outln!("{:<20} {:>20}", "parameter", "value"),
    }
    for p in &program.params {
        for i in 0..p.len() {
            let k = p.offset + i;
            let value = format!("{:.12e}", outcome.params[k]);
            match errors {
                Some(Some(e)) => outln!("{:<20} {value:>20} {:>16.6e}", p.element_name(i), e[k]),
                Some(None) => outln!("{:<20} {value:>20} {:>16}", p.element_name(i), "n/a"),
                None => outln!("{:<20} {value:>20}", p.element_name(i)),
            }
        }
    }
    if let Some(None) = errors {
        outln!(
            "(no standard errors: the Hessian (or JᵀJ) at the result is singular or not positive \
             definite, or a least-squares fit has no more residuals than parameters)"
        );
    }
    outln!();
    outln!("loss        {}", show(outcome.loss));
    if let Some(loss) = validation_loss {
        outln!("validation  {}", show(loss));
    }
    outln!("steps       {}", outcome.steps);
    match &outcome.detail {
        Some(detail) => outln!("stopped     {} ({detail})", outcome.stop_reason.as_str()),
        None => outln!("stopped     {}", outcome.stop_reason.as_str()),
    }
    outln!("optimizer   {optimizer}");
    outln!("time        {seconds:.3} s");
}

/// The progress bar on a terminal, or nothing.
struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    fn new(show: bool, steps: usize) -> Bar {
        if !show {
            return Bar(None);
        }
        let bar = indicatif::ProgressBar::new(steps as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} steps  loss {msg}  [{elapsed_precise}]",
        ) {
            bar.set_style(style);
        }
        Bar(Some(bar))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Bar {
    fn step(&mut self, step: usize, loss: f64) -> bool {
        if let Some(bar) = &self.0 {
            // Called after every step, or once per block of fused steps: the loss text is
            // formatted at most every 16 steps.
            let last = bar.position();
            bar.set_position(step as u64);
            if step == 0 || step as u64 / 16 != last / 16 {
                bar.set_message(format!("{loss:.6e}"));
            }
        }
        true
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let Loaded {
        program,
        data,
        front_end,
        loading,
        ..
    } = match load_model_and_data(&args.model, args.data.as_deref())? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let params = match &args.at {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            gradc::params::from_json(&program, &text)
                .with_context(|| format!("{}", path.display()))?
        }
        None => gradc::params::initial_values(&program, args.seed),
    };
    let built = gradc::build(&program, &data, false, args.threads.unwrap_or(0))?;
    if args.verbose {
        report_stages(front_end, loading, &built);
    }
    let report = gradc::check::check(&built.objective, &params);
    let passed = report.max_relative_error <= args.tol;
    if args.json {
        let shaped = |values: &[f64]| {
            let mut object = serde_json::Map::new();
            for p in &program.params {
                let slice = &values[p.offset..p.offset + p.len()];
                object.insert(
                    p.name.clone(),
                    gradc::params::shaped(p, slice, |v| gradc::params::number(*v)),
                );
            }
            serde_json::Value::Object(object)
        };
        let json = serde_json::json!({
            "value": gradc::params::number(report.value),
            "gradient": shaped(&report.gradient),
            "finite_difference": shaped(&report.finite_difference),
            "max_rel_error": gradc::params::number(report.max_relative_error),
        });
        outln!("{json}");
    } else {
        outln!("value {}", report.value);
        outln!("{:<16} {:>12}", "parameter", "max rel. error");
        for p in &program.params {
            let worst = report.relative_error[p.offset..p.offset + p.len()]
                .iter()
                .copied()
                .fold(0.0, f64::max);
            outln!("{:<16} {:>12.3e}", p.name, worst);
        }
        let verdict = if passed { "ok" } else { "FAILED" };
        outln!(
            "{verdict}: largest relative error {:.3e} (tolerance {:.0e})",
            report.max_relative_error,
            args.tol
        );
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

fn grad(args: GradArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let program = match load_model(&args.model)? {
        Ok(program) => program,
        Err(code) => return Ok(code),
    };
    let front_end = started.elapsed();
    let config = DeriveConfig {
        hessian: args.hessian,
        no_simplify: args.no_simplify,
        ..DeriveConfig::default()
    };
    let derived = gradc::derive(&program, &config);
    let printing = std::time::Instant::now();
    let rendered = gradc::render(&program, &derived, args.format.into());
    if rendered.ends_with('\n') {
        out!("{rendered}");
    } else {
        outln!("{rendered}");
    }
    if args.verbose {
        eprintln!("parse+lower   {:>9.3} ms", front_end.as_secs_f64() * 1e3);
        eprintln!(
            "differentiate {:>9.3} ms",
            derived.timings.differentiate.as_secs_f64() * 1e3
        );
        eprintln!(
            "simplify      {:>9.3} ms",
            derived.timings.simplify.as_secs_f64() * 1e3
        );
        eprintln!(
            "print         {:>9.3} ms",
            printing.elapsed().as_secs_f64() * 1e3
        );
        let ops = derived.ops;
        eprintln!(
            "ops: forward {}, gradient {} (unsimplified {}){}",
            ops.forward,
            ops.gradient,
            ops.gradient_unsimplified,
            ops.hessian
                .map(|h| format!(", hessian {h}"))
                .unwrap_or_default()
        );
        if let Some(report) = &derived.report {
            eprintln!("simplifier: {report}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

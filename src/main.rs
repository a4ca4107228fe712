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
    Run(RunArgs),
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The model file.
    model: PathBuf,
    /// The data file (overrides the model's `data` statement).
    #[arg(long)]
    data: Option<PathBuf>,
    /// gd, sgd, momentum, nesterov, adagrad, rmsprop or adam.
    #[arg(long, default_value = "gd")]
    optimizer: String,
    /// Learning rate (default: 0.001 for adam and rmsprop, 0.01 otherwise).
    #[arg(long)]
    lr: Option<f64>,
    /// The most parameter updates.
    #[arg(long, default_value_t = 1000)]
    steps: usize,
    /// Mini-batch size for sgd.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// constant, linear, quadratic, exp:BETA or step:EVERY:FACTOR.
    #[arg(long, default_value = "constant")]
    schedule: String,
    /// Stop when the loss changes by less than this between steps (0: never).
    #[arg(long, default_value_t = 0.0)]
    tol: f64,
    /// Stop when the gradient norm is below this.
    #[arg(long, default_value_t = 1e-12)]
    grad_tol: f64,
    /// Seed for random initial values and mini-batch shuffles.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads for evaluating the data rows (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Momentum β for momentum and nesterov.
    #[arg(long)]
    momentum: Option<f64>,
    /// Decay of RMSprop's running average.
    #[arg(long)]
    decay: Option<f64>,
    /// Adam's β₁.
    #[arg(long)]
    beta1: Option<f64>,
    /// Adam's β₂.
    #[arg(long)]
    beta2: Option<f64>,
    /// ε of adagrad, rmsprop and adam.
    #[arg(long)]
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
        Command::Run(args) => run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_MODEL_ERROR)
        }
    }
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
    let path = match (data, &program.data_path) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(relative)) => model.parent().unwrap_or(Path::new("")).join(relative),
        (None, None) if program.inputs.is_empty() => return Ok(Ok(Data::empty())),
        (None, None) => anyhow::bail!(
            "{} reads inputs but names no data file: add `data \"file.csv\"` or pass --data",
            model.display()
        ),
    };
    Ok(match gradc_data::load(&path, &program.inputs) {
        Ok(data) => Ok(data),
        Err(error) => {
            eprintln!("error: bad data\n{error}");
            Err(ExitCode::from(EXIT_FAILED))
        }
    })
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
    let method = gradc::run::method(&args.optimizer, &hyper)?;
    let settings = Settings {
        method,
        learning_rate: args
            .lr
            .unwrap_or_else(|| gradc::run::default_learning_rate(&method)),
        schedule: gradc::run::schedule(&args.schedule)?,
        steps: args.steps,
        batch: args.batch,
        tol: args.tol,
        gradient_tol: args.grad_tol,
        seed: args.seed,
        ..Settings::default()
    };
    let (program, source) = match load_model_and_source(&args.model)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let data = match load_data(&args.model, &program, args.data.as_deref())? {
        Ok(data) => data,
        Err(code) => return Ok(code),
    };
    let start = gradc::params::initial_values(&program, args.seed);
    let derived = gradc::derive(&program, &DeriveConfig::default());
    let objective = gradc::objective::Interpreted {
        graph: &derived.graph,
        objective: derived.objective,
        gradient: &derived.gradient,
        data: &data,
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
    let mut progress = Bar::new(show_progress, settings.steps);
    let started = std::time::Instant::now();
    let outcome =
        gradc_minimize::minimize(&objective, &start, &settings, &interrupt, &mut progress);
    let seconds = started.elapsed().as_secs_f64();
    progress.finish();
    let result = gradc::run::result_json(&program, &settings, &outcome, seconds);
    if let Some(path) = &args.out {
        write_atomically(path, &format!("{result:#}\n"))?;
    }
    if args.json {
        println!("{result}");
    } else if !args.quiet {
        print_summary(&program, &outcome, &settings, seconds);
    }
    if let Some(divergence) = &outcome.divergence {
        let name = gradc::display_name(&args.model);
        eprintln!(
            "{}",
            gradc::diverge::explain(&program, &name, &source, &data, divergence)
        );
    }
    Ok(if outcome.stop_reason == StopReason::Diverged {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
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
    settings: &gradc_minimize::Settings,
    seconds: f64,
) {
    println!("{:<20} value", "parameter");
    for p in &program.params {
        for i in 0..p.len() {
            println!(
                "{:<20} {:.10}",
                p.element_name(i),
                outcome.params[p.offset + i]
            );
        }
    }
    println!();
    println!("loss        {}", outcome.loss);
    println!("steps       {}", outcome.steps);
    println!("stopped     {}", outcome.stop_reason.as_str());
    println!("optimizer   {}", settings.method.name());
    println!("time        {seconds:.3} s");
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

impl gradc_minimize::Progress for Bar {
    fn step(&mut self, step: usize, loss: f64) -> bool {
        if let Some(bar) = &self.0 {
            bar.set_position(step as u64);
            if step % 16 == 0 {
                bar.set_message(format!("{loss:.6e}"));
            }
        }
        true
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let program = match load_model(&args.model)? {
        Ok(program) => program,
        Err(code) => return Ok(code),
    };
    let data = match load_data(&args.model, &program, args.data.as_deref())? {
        Ok(data) => data,
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
    let derived = gradc::derive(&program, &DeriveConfig::default());
    let objective = gradc::objective::Interpreted {
        graph: &derived.graph,
        objective: derived.objective,
        gradient: &derived.gradient,
        data: &data,
    };
    let report = gradc::check::check(&objective, &params);
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
        println!("{json}");
    } else {
        println!("value {}", report.value);
        println!("{:<16} {:>12}", "parameter", "max rel. error");
        for p in &program.params {
            let worst = report.relative_error[p.offset..p.offset + p.len()]
                .iter()
                .copied()
                .fold(0.0, f64::max);
            println!("{:<16} {:>12.3e}", p.name, worst);
        }
        let verdict = if passed { "ok" } else { "FAILED" };
        println!(
            "{verdict}: largest relative error {:.3e} (tolerance {:.0e})",
            report.max_relative_error, args.tol
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
        print!("{rendered}");
    } else {
        println!("{rendered}");
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

//! The command line's arguments: the subcommands, their flags, and the checks of flag values
//! (a meaningless value is a usage error, exit 2, before any work starts).

use clap::{Parser, Subcommand, ValueEnum};
use gradc::Format;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "gradc",
    version,
    about = "A compiler for loss functions: exact gradients, simplified, native",
    after_help = "Examples:\n  gradc grad examples/logistic_regression.loss\n  \
        gradc run examples/breast_cancer.loss --optimizer adam --lr 0.05\n\n\
        The language and the commands: LANGUAGE.md; gradc COMMAND --help for each command."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the derived, simplified partial derivatives of the objective.
    #[command(after_help = GRAD_EXAMPLES, allow_negative_numbers = true)]
    Grad(GradArgs),
    /// Compare the derived gradient with finite differences on the data.
    #[command(after_help = CHECK_EXAMPLES, allow_negative_numbers = true)]
    Check(CheckArgs),
    /// Fit the parameters.
    #[command(after_help = RUN_EXAMPLES, allow_negative_numbers = true)]
    Run(Box<RunArgs>),
    /// Write the model's `predict` values for the rows of a data file.
    #[command(after_help = EVAL_EXAMPLES, allow_negative_numbers = true)]
    Eval(EvalArgs),
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// The model file.
    pub model: PathBuf,
    /// Fitted parameters: the JSON of `gradc run --out`.
    #[arg(long)]
    pub params: PathBuf,
    /// The rows to predict for (default: the model's `data` file). Only the columns the
    /// `predict` expressions read are needed.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Write the CSV here (atomically) instead of to stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The model file.
    pub model: PathBuf,
    /// The data file (overrides the model's `data` statement).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// gd, sgd, momentum, nesterov, adagrad, rmsprop, adam, newton, lbfgs or lm.
    #[arg(long, default_value = "gd")]
    pub optimizer: String,
    /// Learning rate (default: 0.001 for adam and rmsprop, 0.01 otherwise).
    #[arg(long, value_parser = positive)]
    pub lr: Option<f64>,
    /// The most parameter updates (default 1000; for newton, lbfgs and lm: 1000 iterations).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Mini-batch size for sgd.
    #[arg(long, default_value_t = 32, value_parser = at_least_one)]
    pub batch: usize,
    /// constant, linear, quadratic, exp:BETA or step:EVERY:FACTOR.
    #[arg(long, default_value = "constant")]
    pub schedule: String,
    /// Stop when the loss changes by less than this between steps, |L_k − L_(k−1)| < X
    /// (default 0: never), for every optimizer.
    #[arg(long, value_parser = non_negative)]
    pub tol: Option<f64>,
    /// Stop when the gradient norm is below this (default 1e-12; for newton, lbfgs and lm
    /// ‖g‖∞ ≤ X·max(1, |L|) with default 1e-14).
    #[arg(long, value_parser = non_negative)]
    pub grad_tol: Option<f64>,
    /// Seed for random initial values and mini-batch shuffles.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads for evaluating the data rows (default: all cores; never more than the cores
    /// or the 4096-row chunks of the data).
    #[arg(long, value_parser = at_least_one)]
    pub threads: Option<usize>,
    /// Momentum β for momentum and nesterov, in [0, 1).
    #[arg(long, value_parser = unit_interval)]
    pub momentum: Option<f64>,
    /// Decay of RMSprop's running average, in [0, 1).
    #[arg(long, value_parser = unit_interval)]
    pub decay: Option<f64>,
    /// Adam's β₁, in [0, 1).
    #[arg(long, value_parser = unit_interval)]
    pub beta1: Option<f64>,
    /// Adam's β₂, in [0, 1).
    #[arg(long, value_parser = unit_interval)]
    pub beta2: Option<f64>,
    /// ε of adagrad, rmsprop and adam.
    #[arg(long, value_parser = positive)]
    pub eps: Option<f64>,
    /// Print one JSON object on stdout and nothing else there.
    #[arg(long)]
    pub json: bool,
    /// Write the JSON object to this file (atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress display and no summary.
    #[arg(long)]
    pub quiet: bool,
    /// Hold out this fraction of the rows (seeded by --seed) and report the loss on them.
    #[arg(long, value_parser = fraction)]
    pub validate: Option<f64>,
    /// Draw the loss curve (and for two parameters the path on the contours): F.svg or F.png.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Report the time of each stage on stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Report standard errors of the fitted parameters: from (JᵀJ)⁻¹ scaled by the residual
    /// variance for a sum of squares, from the inverse Hessian otherwise.
    #[arg(long)]
    pub errors: bool,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The model file.
    pub model: PathBuf,
    /// The data file (overrides the model's `data` statement).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Parameter values to check at (the JSON of `gradc run --out`); default: initial values.
    #[arg(long)]
    pub at: Option<PathBuf>,
    /// Seed for random initial values.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Largest accepted relative error.
    #[arg(long, default_value_t = gradc::check::DEFAULT_TOLERANCE, value_parser = non_negative)]
    pub tol: f64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Threads for evaluating the data rows (default: all cores; never more than the cores
    /// or the 4096-row chunks of the data).
    #[arg(long, value_parser = at_least_one)]
    pub threads: Option<usize>,
    /// Report the time of each stage on stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(clap::Args, Debug)]
pub struct GradArgs {
    /// The model file.
    pub model: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Also derive the Hessian.
    #[arg(long)]
    pub hessian: bool,
    /// Print the derivatives as differentiated, without equality saturation.
    #[arg(long)]
    pub no_simplify: bool,
    /// Report stage timings and the simplifier's stop reason on stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
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

const GRAD_EXAMPLES: &str = "Examples:
  gradc grad examples/logistic_regression.loss
  gradc grad examples/rosenbrock.loss --format latex --hessian
  gradc grad examples/mlp_index.loss --format json > partials.json";

const CHECK_EXAMPLES: &str = "Examples:
  gradc check examples/mlp_index.loss
  gradc run examples/diabetes.loss --optimizer lbfgs --out fit.json --quiet
  gradc check examples/diabetes.loss --at fit.json --json";

const RUN_EXAMPLES: &str = "Examples:
  gradc run examples/breast_cancer.loss --optimizer adam --lr 0.05
  gradc run examples/rosenbrock.loss --optimizer momentum --lr 1e-4 --steps 5000 --plot path.png
  gradc run examples/diabetes.loss --optimizer gd --lr 0.1 --validate 0.2 --out fit.json
  gradc run examples/nist/thurber.loss --optimizer lm --errors --json";

const EVAL_EXAMPLES: &str = "Examples:
  gradc run examples/diabetes.loss --optimizer lbfgs --out fit.json --quiet
  gradc eval examples/diabetes.loss --params fit.json --out predictions.csv
  gradc eval examples/diabetes.loss --params fit.json --data new_patients.csv";

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

/// `--validate`: a fraction strictly between 0 and 1.
fn fraction(text: &str) -> Result<f64, String> {
    finite(text).and_then(|x| {
        (x > 0.0 && x < 1.0)
            .then_some(x)
            .ok_or("must be above 0 and below 1".into())
    })
}

/// `--batch`, `--threads`: at least one.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a whole number")),
    }
}

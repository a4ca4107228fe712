//! The `gradc` command line. The only place that reads files, writes to the terminal or picks
//! colours; everything else is in the libraries.

/// `print!` to standard output: a closed pipe drops the text, any other failure is reported at
/// the end (`cli::stdout`).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::stdout::write(format_args!($($arg)*), false)
    };
}

/// `println!` in the manner of [`out!`].
macro_rules! outln {
    () => {
        $crate::cli::stdout::write(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::cli::stdout::write(format_args!($($arg)*), true)
    };
}

/// `eprint!` that never panics.
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::cli::stdout::error_text(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::stdout::error_line(format_args!($($arg)*))
    };
}

mod cli;

use clap::Parser;
use cli::args::{Cli, Command};
use std::process::ExitCode;

/// Exit status 2: a usage or model error (LANGUAGE.md §5).
const EXIT_MODEL_ERROR: u8 = 2;
/// Exit status 1: the run failed (bad data, divergence, a failed check, a failed write).
const EXIT_FAILED: u8 = 1;

fn main() -> ExitCode {
    cli::signals::install();
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
        Command::Grad(args) => cli::grad::grad(args),
        Command::Check(args) => cli::check::check(args),
        Command::Run(args) => cli::run::run(*args),
        Command::Eval(args) => cli::eval::eval(args),
    };
    let mut code = match result {
        Ok(code) => code,
        Err(error) => {
            errln!("error: {error:#}");
            EXIT_MODEL_ERROR
        }
    };
    if let Err(error) = cli::stdout::finish() {
        errln!("error: cannot write to standard output: {error}");
        if code == 0 {
            code = EXIT_FAILED;
        }
    }
    ExitCode::from(code)
}

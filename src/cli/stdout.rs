//! Standard output that reports a failed write instead of ignoring it or panicking.
//!
//! A reader that has gone (`gradc run … | head`, EPIPE) is not an error of the command: the
//! rest of the text is dropped and the command goes on, so that `--out` and `--plot` are still
//! written. Any other failure (a full disk, `> /dev/full`) is remembered and reported by
//! [`finish`], which makes the command fail.

use std::io::{self, Write};
use std::sync::Mutex;

/// What happened to standard output so far.
enum State {
    Open,
    /// The reader has gone; nothing more is written.
    Closed,
    /// A write failed for another reason; nothing more is written.
    Failed(io::Error),
}

static STATE: Mutex<State> = Mutex::new(State::Open);

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes `text` (and a newline) to standard output, remembering a failure.
pub fn write(text: std::fmt::Arguments, newline: bool) {
    let mut state = state();
    if !matches!(*state, State::Open) {
        return;
    }
    let mut stdout = io::stdout().lock();
    let written = stdout.write_fmt(text).and_then(|()| {
        if newline {
            stdout.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(error) = written {
        *state = settle(error);
    }
}

fn settle(error: io::Error) -> State {
    if error.kind() == io::ErrorKind::BrokenPipe {
        State::Closed
    } else {
        State::Failed(error)
    }
}

/// Flushes standard output; the first write error other than a closed pipe, if any.
pub fn finish() -> Result<(), io::Error> {
    let mut state = state();
    if matches!(*state, State::Open)
        && let Err(error) = io::stdout().lock().flush()
    {
        *state = settle(error);
    }
    match std::mem::replace(&mut *state, State::Closed) {
        State::Failed(error) => Err(error),
        State::Open | State::Closed => Ok(()),
    }
}

/// `eprintln!` that never panics: a failure to write to standard error has nowhere to be
/// reported.
pub fn error_line(text: std::fmt::Arguments) {
    let mut stderr = io::stderr().lock();
    let _ = stderr
        .write_fmt(text)
        .and_then(|()| stderr.write_all(b"\n"));
}

/// `eprint!` in the manner of [`error_line`].
pub fn error_text(text: std::fmt::Arguments) {
    let _ = io::stderr().lock().write_fmt(text);
}

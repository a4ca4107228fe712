//! Signals: SIGINT, SIGTERM and SIGHUP (Ctrl-C, `timeout`, a batch scheduler, a closed
//! terminal) are treated alike.
//!
//! While an optimizer runs, the first signal asks it to stop: it finishes the step, and the
//! command writes its result (`stop_reason: "interrupted"`) as after a normal stop. Any other
//! signal — outside a run, or a second one — ends the process at once with exit status 130,
//! after removing the temporary files of outputs not yet renamed into place, so that the
//! user's files are either as they were or completely written.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by a signal during a run; the optimizers look at it after every step.
pub static INTERRUPT: AtomicBool = AtomicBool::new(false);

/// Whether an optimizer is running and will look at [`INTERRUPT`].
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Exit status after a signal (128 + SIGINT, as shells report it).
pub const EXIT_SIGNAL: i32 = 130;

/// Installs the handler for the whole process.
pub fn install() {
    // Failing to install a handler (another one is installed) leaves the default behaviour,
    // which loses nothing either: no temporary file has been created yet.
    let _ = ctrlc::set_handler(|| {
        if RUNNING.load(Ordering::SeqCst) && !INTERRUPT.swap(true, Ordering::SeqCst) {
            return;
        }
        let _held = super::files::remove_temporaries();
        super::stdout::error_line(format_args!("interrupted"));
        std::process::exit(EXIT_SIGNAL);
    });
}

/// Runs an optimizer with signals turned into a stop request.
pub fn during_run<T>(run: impl FnOnce(&AtomicBool) -> T) -> T {
    RUNNING.store(true, Ordering::SeqCst);
    let result = run(&INTERRUPT);
    RUNNING.store(false, Ordering::SeqCst);
    result
}

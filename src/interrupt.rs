//! Ctrl-C (SIGINT) and SIGTERM during a simulation.
//!
//! Once [`install`] has run, the first of these signals only sets a flag;
//! the run's observer sees it after the current step and stops the run
//! there, so what was recorded is written and `summary.json` says
//! `"interrupted": true`; nmlc then exits with [`EXIT_INTERRUPTED`]. A
//! second signal ends the process at once with the same code: the result
//! files already written are complete (each is written to a temporary file
//! and renamed), the others are missing.
//!
//! The handlers are installed just before the first simulation: during
//! parsing, compiling and building there is nothing to save, and a signal
//! ends nmlc as usual.

use signal_hook::consts::{SIGINT, SIGTERM};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// The exit code of a run stopped by a signal (128 + SIGINT, as shells report).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Set by the first signal.
static REQUESTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs the handlers (once per process). On failure a warning says
/// that a signal will end nmlc without writing the results.
pub fn install() {
    if REQUESTED.get().is_some() {
        return;
    }
    let flag = Arc::new(AtomicBool::new(false));
    let registered = [SIGINT, SIGTERM].iter().try_for_each(|&signal| {
        // The shutdown goes first: it acts only once the flag is set, that
        // is, on the second signal.
        signal_hook::flag::register_conditional_shutdown(
            signal,
            i32::from(EXIT_INTERRUPTED),
            Arc::clone(&flag),
        )?;
        signal_hook::flag::register(signal, Arc::clone(&flag)).map(|_| ())
    });
    match registered {
        Ok(()) => {
            let _ = REQUESTED.set(flag);
        }
        Err(e) => eprintln!(
            "nmlc: warning: cannot catch Ctrl-C ({e}); an interrupted run will not write its results"
        ),
    }
}

/// The flag the first signal sets, if the handlers are installed.
pub fn flag() -> Option<Arc<AtomicBool>> {
    REQUESTED.get().cloned()
}

/// Whether a signal asked the run to stop.
pub fn requested() -> bool {
    REQUESTED.get().is_some_and(|f| f.load(Ordering::Relaxed))
}

//! Ctrl-C: the first SIGINT asks the sweep to stop (the runner kills the running child, the
//! finished cells are written and printed, the exit status is 130); a second one exits at once.

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};

/// Exit status of an interrupted run (128 + SIGINT), as shells report it.
pub const EXIT_CODE: u8 = 130;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the SIGINT handler; later calls do nothing.
pub fn install() -> Result<()> {
    match ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            std::process::exit(EXIT_CODE.into());
        }
    }) {
        Ok(()) | Err(ctrlc::Error::MultipleHandlers) => Ok(()),
        Err(e) => Err(e).context("cannot install the Ctrl-C handler"),
    }
}

/// The flag the handler sets, for loops that must notice it.
pub fn flag() -> &'static AtomicBool {
    &REQUESTED
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

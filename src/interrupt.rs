//! Ctrl-C (SIGINT), SIGTERM and SIGHUP (a cancelled CI job, a Slurm time limit, a closed
//! terminal): the first one asks the sweep to stop (the runner kills the running child, the
//! finished cells are written and printed, the exit status is 128 + the signal: 130, 143, 129);
//! a second one exits at once with that status.

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Once;

/// The signals that stop a sweep.
pub const SIGNALS: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

static REQUESTED: AtomicBool = AtomicBool::new(false);
/// The first stopping signal received (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);
static INSTALL: Once = Once::new();

/// Installs the handlers (a thread that waits for the signals); later calls do nothing.
pub fn install() -> Result<()> {
    let mut result = Ok(());
    INSTALL.call_once(|| {
        result = Signals::new(SIGNALS)
            .map(|mut signals| {
                std::thread::spawn(move || {
                    for signal in signals.forever() {
                        if REQUESTED.load(Ordering::SeqCst) {
                            std::process::exit(exit_code_of(signal).into());
                        }
                        SIGNAL.store(signal, Ordering::SeqCst);
                        REQUESTED.store(true, Ordering::SeqCst);
                    }
                });
            })
            .context("cannot install the SIGINT/SIGTERM/SIGHUP handlers");
    });
    result
}

/// The flag the handler sets, for loops that must notice it.
pub fn flag() -> &'static AtomicBool {
    &REQUESTED
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// The exit status of an interrupted run: 128 + the signal, as shells report it.
pub fn exit_code() -> u8 {
    exit_code_of(SIGNAL.load(Ordering::SeqCst))
}

fn exit_code_of(signal: i32) -> u8 {
    match signal {
        SIGTERM => 143,
        SIGHUP => 129,
        _ => 130,
    }
}

/// What stopped the sweep, for the closing line.
pub fn signal_name() -> &'static str {
    match SIGNAL.load(Ordering::SeqCst) {
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "Ctrl-C",
    }
}

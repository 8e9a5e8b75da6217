//! The child side: what runs inside one cell's process. It reads a [`Job`], builds the
//! model, makes inputs, measures, and answers with a result or a reason.

pub mod known;
pub mod memory;
pub mod tokenization;

use crate::cell::{Cell, CellResult, DeviceChoice, Job};
use crate::frameworks::torch::reason::readable;
use crate::frameworks::torch::{calibrate, Torch};
use anyhow::Result;
pub use run_benchmark_core::protocol::reason::{first_line, panic_reason};
use serde_json::Value;
use std::panic::{self, AssertUnwindSafe};

/// Makes a panic outside a job's measurement (which [`execute_with`] catches) print its
/// message as one clean last line, so that the parent, which knows nothing of libtorch's
/// messages, reports a dead child's last words as they are.
pub fn clean_panic_messages() {
    panic::set_hook(Box::new(|info| eprintln!("{}", last_words(info.payload()))));
}

/// A panic's message as a dying child's last line.
fn last_words(payload: &(dyn std::any::Any + Send)) -> String {
    let message = (payload.downcast_ref::<String>().map(String::as_str))
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("panic");
    format!("panicked: {}", readable(&first_line(message)))
}

/// Runs the job in this process and returns its result as JSON; every failure is an error
/// whose message is the reason. Models and measurements return errors; `catch_unwind` is
/// left for libtorch's own panics (tch panics on C++ exceptions in its non-`f_` ops).
pub fn execute(job: &Job) -> Result<Value, String> {
    execute_with(job, &mut |_| {})
}

/// As [`execute`]; for [`Job::Cells`], `progress` receives the results so far after each
/// cell (the child prints them, so a parent keeps them if the child dies later).
pub fn execute_with(job: &Job, progress: &mut dyn FnMut(&Value)) -> Result<Value, String> {
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| match job {
        Job::Cell(cell) => self::cells(std::slice::from_ref(cell.as_ref()), &mut |_| {})
            .map(|mut results| serde_json::to_value(results.remove(0))),
        Job::Cells { cells } => {
            let mut report = |so_far: &[crate::cell::CellResult]| {
                if let Ok(value) = serde_json::to_value(so_far) {
                    progress(&value);
                }
            };
            self::cells(cells, &mut report).map(serde_json::to_value)
        }
        Job::Calibrate(c) => calibrate::calibrate(c).map(serde_json::to_value),
        Job::Tokenize(t) => tokenization::measure(t).map(serde_json::to_value),
    }));
    panic::set_hook(previous_hook);
    match outcome {
        Ok(Ok(Ok(value))) => Ok(value),
        Ok(Ok(Err(e))) => Err(format!("cannot serialise the result: {e}")),
        Ok(Err(e)) => Err(readable(&first_line(&format!("{e:#}")))),
        Err(payload) => Err(readable(&panic_reason(&payload))),
    }
}

/// Measures cells of one group with libtorch, by the core's protocol.
pub fn cells(cells: &[Cell], progress: &mut dyn FnMut(&[CellResult])) -> Result<Vec<CellResult>> {
    let mut torch = Torch::on(
        cells
            .first()
            .map_or(DeviceChoice::Cpu, |c| c.settings.device),
    );
    let clean = |results: Vec<CellResult>| results.into_iter().map(cleaned).collect::<Vec<_>>();
    let mut report = |so_far: &[CellResult]| progress(&clean(so_far.to_vec()));
    run_benchmark_core::protocol::cells(&mut torch, cells, &known::known, &mut report).map(clean)
}

/// A cell's N/A reason from libtorch as one clean line (an allocation failure says how much
/// was asked for), once, here where it arose.
fn cleaned(result: CellResult) -> CellResult {
    match result {
        CellResult::NotAvailable { reason } => CellResult::na(readable(&reason)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libtorch's message is cleaned here, in the child, before it becomes a last line.
    #[test]
    fn a_panic_dies_with_one_clean_line() {
        let oom = "called `Result::unwrap()` on an `Err` value: Torch(\"[enforce fail at \
                   alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: you tried \
                   to allocate 64000000000 bytes. Error code 12\")\nframe #0: x"
            .to_string();
        assert_eq!(
            last_words(&oom),
            "panicked: out of memory: tried to allocate 59.6 GiB"
        );
        assert_eq!(last_words(&"boom"), "panicked: boom");
    }
}

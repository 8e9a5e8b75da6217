//! The child side: what runs inside one cell's process. It reads a [`Job`], builds the
//! model, makes inputs, measures, and answers with a result or a reason.

pub mod bandwidth;
pub mod calibrate;
pub mod device;
pub mod generate;
pub mod measure;
pub mod memory;
pub mod profile;
pub mod tokenization;

use crate::cell::Job;
use serde_json::Value;
use std::panic::{self, AssertUnwindSafe};

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
        Job::Cell(cell) => measure::cells(std::slice::from_ref(cell.as_ref()), &mut |_| {})
            .map(|mut results| serde_json::to_value(results.remove(0))),
        Job::Cells { cells } => {
            let mut report = |so_far: &[crate::cell::CellResult]| {
                if let Ok(value) = serde_json::to_value(so_far) {
                    progress(&value);
                }
            };
            measure::cells(cells, &mut report).map(serde_json::to_value)
        }
        Job::Calibrate(c) => calibrate::calibrate(c).map(serde_json::to_value),
        Job::Tokenize(t) => tokenization::measure(t).map(serde_json::to_value),
    }));
    panic::set_hook(previous_hook);
    match outcome {
        Ok(Ok(Ok(value))) => Ok(value),
        Ok(Ok(Err(e))) => Err(format!("cannot serialise the result: {e}")),
        Ok(Err(e)) => Err(first_line(&format!("{e:#}"))),
        Err(payload) => Err(panic_reason(&payload)),
    }
}

/// The message a panic carried, as one line.
fn panic_reason(payload: &Box<dyn std::any::Any + Send>) -> String {
    first_line(
        payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("panic"),
    )
}

/// libtorch errors carry C++ backtraces and tensor dumps, sometimes inside a Debug string
/// with escaped newlines; the first line, kept short, says what went wrong.
pub fn first_line(message: &str) -> String {
    const MAX_CHARS: usize = 300;
    let line = message
        .lines()
        .flat_map(|l| l.split("\\n"))
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error");
    match line.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_cuts_backtraces_and_escaped_dumps() {
        assert_eq!(first_line("\n  boom\nframe #0: x"), "boom");
        assert_eq!(
            first_line("Torch(\"Cannot insert a Tensor\\nTensor:\\n 0.0 1.0\")"),
            "Torch(\"Cannot insert a Tensor"
        );
        let long = "x".repeat(1000);
        assert_eq!(first_line(&long).len(), 303);
    }
}

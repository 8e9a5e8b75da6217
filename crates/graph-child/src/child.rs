//! The child side of one job, as the root binary's own child: `__cell PARENT_PID`, the job's
//! JSON on stdin, replies on stdout, one JSON line each (`{"ok": results so far}` after each
//! cell, then the final `{"ok": ...}` or `{"failed": reason}`), the wire format of the
//! runner (src/runner.rs `Reply`).

use crate::frameworks::onnxruntime::{self, framework::OnnxRuntime};
use crate::frameworks::tensorflow::cells::{execution_of, Execution, TensorFlow};
use crate::graph::Family;
use run_benchmark_core::cell::{Cell, CellResult, Framework as CoreFramework, Job};
use run_benchmark_core::protocol::{self, reason, Framework, Known};
use serde_json::Value;
use std::io::{Read, Write};
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

/// The subcommand the runner starts a child with.
pub const CHILD_COMMAND: &str = "__cell";

fn print(key: &str, value: Value) -> std::io::Result<()> {
    let line = serde_json::json!({ key: value }).to_string();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|_| out.flush())
}

/// Runs the job read from stdin; the exit code is 0 when the last line was printed.
pub fn main(parent: &str) -> i32 {
    if let Err(reason) = parent
        .parse::<u32>()
        .map_err(|e| e.to_string())
        .and_then(die_with_parent)
    {
        eprintln!("{reason}");
        return 1;
    }
    let mut text = String::new();
    let result = match std::io::stdin().read_to_string(&mut text) {
        Err(e) => Err(format!("cannot read the job description: {e}")),
        Ok(_) => execute(&text),
    };
    let printed = match result {
        Ok(value) => print("ok", value),
        Err(reason) => print("failed", Value::String(reason)),
    };
    i32::from(printed.is_err())
}

/// The job's results as JSON, or the one-line reason there are none.
pub fn execute(text: &str) -> Result<Value, String> {
    let raw: Value =
        serde_json::from_str(text).map_err(|e| format!("invalid job description: {e}"))?;
    let job: Job =
        serde_json::from_value(raw.clone()).map_err(|e| format!("invalid job description: {e}"))?;
    let first_cell = match &raw["job"] {
        Value::String(kind) if kind == "cells" => raw["cells"][0].clone(),
        _ => raw.clone(),
    };
    let first = match &job {
        Job::Cell(cell) => Some(cell.as_ref()),
        Job::Cells { cells } => cells.first(),
        Job::Calibrate(_) | Job::Tokenize(_) => None,
    };
    // ONNX Runtime's cells say so in their settings; every other cell is TensorFlow's.
    let is_onnxruntime = first.is_some_and(|c| c.settings.framework == CoreFramework::Onnxruntime);
    let execution = match (is_onnxruntime, first) {
        (false, Some(cell)) => execution_of(cell).map_err(|e| e.to_string())?,
        _ => Execution::Function,
    };
    let level = onnxruntime::framework::level_of(&first_cell).map_err(|e| e.to_string())?;
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| match is_onnxruntime {
        true => run(&mut OnnxRuntime::new(level), job),
        false => run(&mut TensorFlow::new(execution), job),
    }));
    panic::set_hook(previous_hook);
    match outcome {
        Ok(Ok(Ok(value))) => Ok(value),
        Ok(Ok(Err(e))) => Err(format!("cannot serialise the result: {e}")),
        Ok(Err(e)) => Err(reason::first_line(&format!("{e:#}"))),
        Err(payload) => Err(reason::panic_reason(&payload)),
    }
}

/// What the config says of a cell before any work, for every framework of this binary: a
/// sequence beyond the model's positions. FLOPs and bytes of a call are the parent's plan's,
/// the same for every framework, so GFLOP/s, MFU and MBU compare across frameworks.
pub fn known(cell: &Cell) -> anyhow::Result<Known> {
    let not_measurable = match Family::from_json(&cell.config) {
        Ok(family) => family
            .max_positions()
            .filter(|&max| cell.sequence_length > max)
            .map(|max| {
                format!(
                    "sequence length {} exceeds the model's {max} positions",
                    cell.sequence_length
                )
            }),
        Err(_) => None,
    };
    Ok(Known {
        not_measurable,
        ..Known::default()
    })
}

/// Measures the job's cells with `framework` by the core's protocol.
fn run<F: Framework>(framework: &mut F, job: Job) -> anyhow::Result<serde_json::Result<Value>> {
    match job {
        Job::Cell(cell) => protocol::cells(
            framework,
            std::slice::from_ref(cell.as_ref()),
            &known,
            &mut |_| {},
        )
        .map(|mut results| serde_json::to_value(results.remove(0))),
        Job::Cells { cells } => {
            let mut report = |so_far: &[CellResult]| {
                if let Ok(value) = serde_json::to_value(so_far) {
                    let _ = print("ok", value);
                }
            };
            protocol::cells(framework, &cells, &known, &mut report).map(serde_json::to_value)
        }
        Job::Calibrate(_) | Job::Tokenize(_) => Err(anyhow::anyhow!(
            "calibration and tokenization run in the PyTorch child"
        )),
    }
}

/// Dies with the parent (PR_SET_PDEATHSIG, and a watch on getppid for the race before it).
fn die_with_parent(parent: u32) -> Result<(), String> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid() take no pointers.
    let set = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if set != 0 {
        return Err(format!(
            "cannot set the parent-death signal: {}",
            std::io::Error::last_os_error()
        ));
    }
    let orphaned = move || unsafe { libc::getppid() } as u32 != parent;
    if orphaned() {
        return Err(format!("parent process {parent} is gone"));
    }
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(100));
        if orphaned() {
            // SAFETY: ends this process at once, as the SIGKILL would have.
            unsafe { libc::_exit(137) };
        }
    });
    Ok(())
}

//! The parent side: runs each cell in a fresh child process (this binary, re-executed with
//! the hidden `__cell` subcommand) and turns every way a child can fail into an N/A reason.
//! It knows nothing about models.

use crate::cell::{self, Cell, CellResult};
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The hidden subcommand a child is started with.
pub const CHILD_COMMAND: &str = "__cell";

pub struct Runner {
    /// One child process per cell (the original's multi_process); in-process otherwise.
    pub multi_process: bool,
    pub timeout: Duration,
    /// Echo each child's stderr.
    pub verbose: bool,
}

impl Runner {
    pub fn run(&self, cell: &Cell) -> CellResult {
        if self.multi_process {
            self.run_child(cell)
        } else {
            cell::run(cell)
        }
    }

    fn run_child(&self, cell: &Cell) -> CellResult {
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => return CellResult::na(format!("cannot find own executable: {e}")),
        };
        let json = serde_json::to_string(cell).expect("a cell serialises");
        let child = Command::new(exe)
            .arg(CHILD_COMMAND)
            .arg(json)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => return CellResult::na(format!("cannot start child process: {e}")),
        };
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let status = wait_with_timeout(&mut child, self.timeout);
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        if self.verbose && !stderr.trim().is_empty() {
            eprint!("{stderr}");
        }
        match status {
            None => CellResult::na(format!("timed out after {} s", self.timeout.as_secs_f64())),
            Some(status) if status.success() => parse_result(&stdout),
            Some(status) => CellResult::na(failure_reason(status, &stderr)),
        }
    }
}

/// Reads a pipe to the end on its own thread, so a chatty child never blocks on a full pipe.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// Waits for the child; kills it and returns None when the timeout passes first.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(_) => return child.wait().ok(),
        }
    }
}

/// The child's result is the last line of its stdout.
fn parse_result(stdout: &str) -> CellResult {
    let line = stdout.lines().rev().find(|l| l.starts_with('{'));
    match line.map(serde_json::from_str::<CellResult>) {
        Some(Ok(result)) => result,
        Some(Err(e)) => CellResult::na(format!("unreadable result from child: {e}")),
        None => CellResult::na("child exited without a result"),
    }
}

fn failure_reason(status: ExitStatus, stderr: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    // A Rust panic outside the measurement prints "thread 'main' panicked at ...:" and then
    // the message; libtorch prints its error first. Either way the last lines say most.
    let said = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .map(|l| format!(": {l}"))
        .unwrap_or_default();
    match status.signal() {
        Some(libc::SIGKILL) => format!("child killed by SIGKILL (out of memory?){said}"),
        Some(libc::SIGSEGV) => format!("child crashed with SIGSEGV{said}"),
        Some(libc::SIGABRT) => format!("child aborted (SIGABRT){said}"),
        Some(signal) => format!("child killed by signal {signal}{said}"),
        None => format!(
            "child exited with status {}{said}",
            status.code().unwrap_or(-1)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn result_is_the_last_json_line() {
        let out = "warning: something\n{\"status\":\"not_available\",\"reason\":\"x\"}\n";
        assert_eq!(parse_result(out), CellResult::na("x"));
        assert_eq!(
            parse_result("nothing"),
            CellResult::na("child exited without a result")
        );
    }

    #[test]
    fn reasons_name_the_signal_and_last_words() {
        let killed = ExitStatus::from_raw(libc::SIGKILL);
        assert_eq!(
            failure_reason(killed, ""),
            "child killed by SIGKILL (out of memory?)"
        );
        let exited = ExitStatus::from_raw(3 << 8);
        assert_eq!(
            failure_reason(exited, "first\nlast words\n\n"),
            "child exited with status 3: last words"
        );
    }

    #[test]
    fn timeout_kills_the_child() {
        let mut child = Command::new("sleep").arg("10").spawn().unwrap();
        let start = Instant::now();
        assert!(wait_with_timeout(&mut child, Duration::from_millis(100)).is_none());
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}

//! The parent side: runs each cell in a fresh child process (this binary, re-executed with
//! `__cell JOB_JSON`, read by main before clap) and turns every way a child can fail into an N/A reason.
//! It knows nothing about models. A stop flag (set by Ctrl-C) kills the running child.

use crate::cell::{Calibration, CalibrationResult, Cell, CellResult, Job};
use crate::console;
use serde::de::DeserializeOwned;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// When set, the running child is killed and the job ends as [`Interrupted`].
    pub stop: Option<&'static AtomicBool>,
    /// Runs a job in this process (without `multi_process`): the child side's entry, handed
    /// in so that the runner knows nothing about models.
    pub in_process: fn(&Job) -> Result<serde_json::Value, String>,
}

/// The job was stopped before it finished (Ctrl-C): it has no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

enum JobError {
    Failed(String),
    Interrupted,
}

impl From<String> for JobError {
    fn from(reason: String) -> Self {
        JobError::Failed(reason)
    }
}

impl Runner {
    /// Measures a cell; every failure becomes N/A with its reason.
    pub fn run(&self, cell: &Cell) -> Result<CellResult, Interrupted> {
        match self.run_job(&Job::Cell(cell.clone())) {
            Ok(result) => Ok(result),
            Err(JobError::Failed(reason)) => Ok(CellResult::na(reason)),
            Err(JobError::Interrupted) => Err(Interrupted),
        }
    }

    /// The device's achievable FLOP/s, or why it could not be measured.
    pub fn calibrate(
        &self,
        calibration: Calibration,
    ) -> Result<Result<CalibrationResult, String>, Interrupted> {
        match self.run_job(&Job::Calibrate(calibration)) {
            Ok(result) => Ok(Ok(result)),
            Err(JobError::Failed(reason)) => Ok(Err(reason)),
            Err(JobError::Interrupted) => Err(Interrupted),
        }
    }

    fn stopped(&self) -> bool {
        self.stop.is_some_and(|flag| flag.load(Ordering::SeqCst))
    }

    fn run_job<T: DeserializeOwned>(&self, job: &Job) -> Result<T, JobError> {
        if self.stopped() {
            return Err(JobError::Interrupted);
        }
        let value = if self.multi_process {
            self.run_child(job)?
        } else {
            // In this process a job cannot be stopped half-way; its result is dropped.
            let value = (self.in_process)(job)?;
            if self.stopped() {
                return Err(JobError::Interrupted);
            }
            value
        };
        serde_json::from_value(value)
            .map_err(|e| JobError::Failed(format!("unreadable result: {e}")))
    }

    fn run_child(&self, job: &Job) -> Result<serde_json::Value, JobError> {
        let exe =
            std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
        let json = serde_json::to_string(job).expect("a job serialises");
        let mut child = Command::new(exe)
            .arg(CHILD_COMMAND)
            .arg(json)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start child process: {e}"))?;
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let waited = wait(&mut child, self.timeout, self.stop);
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        if self.verbose && !stderr.trim().is_empty() {
            console::eprint(&stderr);
        }
        match waited {
            Waited::Stopped => Err(JobError::Interrupted),
            Waited::TimedOut => Err(JobError::Failed(format!(
                "timed out after {} s",
                self.timeout.as_secs_f64()
            ))),
            Waited::Exited(status) if status.success() => Ok(parse_reply(&stdout)?),
            Waited::Exited(status) if self.killed_by_our_interrupt(status) => {
                Err(JobError::Interrupted)
            }
            Waited::Exited(status) => Err(JobError::Failed(failure_reason(status, &stderr))),
        }
    }

    /// Ctrl-C in a terminal reaches the child too, which may die of it before the parent's
    /// handler has set the stop flag; give the flag a moment.
    fn killed_by_our_interrupt(&self, status: ExitStatus) -> bool {
        use std::os::unix::process::ExitStatusExt;
        if status.signal() != Some(libc::SIGINT) || self.stop.is_none() {
            return false;
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(500) {
            if self.stopped() {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

/// What a child prints as its last line: its result, or why there is none.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Ok(serde_json::Value),
    Failed(String),
}

impl From<Result<serde_json::Value, String>> for Reply {
    fn from(result: Result<serde_json::Value, String>) -> Self {
        match result {
            Ok(value) => Reply::Ok(value),
            Err(reason) => Reply::Failed(reason),
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

#[derive(Debug)]
enum Waited {
    Exited(ExitStatus),
    TimedOut,
    Stopped,
}

/// Waits for the child; kills it when the timeout passes or the stop flag is set first.
fn wait(child: &mut Child, timeout: Duration, stop: Option<&AtomicBool>) -> Waited {
    let start = Instant::now();
    loop {
        let outcome = match child.try_wait() {
            Ok(Some(status)) => return Waited::Exited(status),
            Ok(None) if stop.is_some_and(|s| s.load(Ordering::SeqCst)) => Waited::Stopped,
            Ok(None) if start.elapsed() >= timeout => Waited::TimedOut,
            Ok(None) => {
                thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(_) => {
                return match child.wait() {
                    Ok(status) => Waited::Exited(status),
                    Err(_) => Waited::TimedOut,
                }
            }
        };
        let _ = child.kill();
        let _ = child.wait();
        return outcome;
    }
}

/// The child's reply is the last JSON line of its stdout.
fn parse_reply(stdout: &str) -> Result<serde_json::Value, String> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or("child exited without a result")?;
    match serde_json::from_str::<Reply>(line) {
        Ok(Reply::Ok(value)) => Ok(value),
        Ok(Reply::Failed(reason)) => Err(reason),
        Err(e) => Err(format!("unreadable result from child: {e}")),
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
    fn reply_is_the_last_json_line() {
        let out = "warning: something\n{\"failed\":\"x\"}\n";
        assert_eq!(parse_reply(out), Err("x".to_string()));
        let out = "{\"ok\":{\"a\":1}}\n";
        assert_eq!(parse_reply(out), Ok(serde_json::json!({"a": 1})));
        assert_eq!(
            parse_reply("nothing"),
            Err("child exited without a result".to_string())
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
        let waited = wait(&mut child, Duration::from_millis(100), None);
        assert!(matches!(waited, Waited::TimedOut), "{waited:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn the_stop_flag_kills_the_child() {
        static STOP: AtomicBool = AtomicBool::new(false);
        let mut child = Command::new("sleep").arg("10").spawn().unwrap();
        let setter = thread::spawn(|| {
            thread::sleep(Duration::from_millis(100));
            STOP.store(true, Ordering::SeqCst);
        });
        let start = Instant::now();
        let waited = wait(&mut child, Duration::from_secs(60), Some(&STOP));
        setter.join().unwrap();
        assert!(matches!(waited, Waited::Stopped), "{waited:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(child.try_wait().unwrap().is_some(), "the child was reaped");
    }
}

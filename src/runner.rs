//! The parent side: runs each cell in a fresh child process (this binary, re-executed with
//! `__cell PARENT_PID`, read by main before clap; the job's JSON on its stdin, as one argument
//! is capped at 128 KiB on Linux) and turns every way a child can fail into an N/A reason.
//! It knows nothing about models. A stop flag (set by Ctrl-C, SIGTERM, SIGHUP) kills the
//! running child; the child kills itself when this process dies (see [`die_with_parent`]).

use crate::cell::{
    Calibration, CalibrationResult, Cell, CellResult, Framework, Job, TokenizationCell,
    TokenizationResult,
};
use crate::{console, zygote};
use serde::de::DeserializeOwned;
use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The hidden subcommand a child is started with.
pub const CHILD_COMMAND: &str = "__cell";

/// The libtorch-free binary that runs TensorFlow and ONNX Runtime cells with the same
/// argv, stdin and stdout as this binary's own child (crates/graph-child).
pub const GRAPH_BINARY: &str = "run-benchmark-graph";
/// Names the graph binary for an installed run-benchmark whose sibling it is not.
pub const GRAPH_BINARY_VAR: &str = "RUN_BENCHMARK_GRAPH";

/// The framework a job's cells run in (calibration and tokenization are libtorch's).
fn job_framework(job: &Job) -> Framework {
    match job {
        Job::Cell(cell) => cell.settings.framework,
        Job::Cells { cells } => cells
            .first()
            .map(|c| c.settings.framework)
            .unwrap_or_default(),
        Job::Calibrate(_) | Job::Tokenize(_) => Framework::Pytorch,
    }
}

/// The graph binary: `$RUN_BENCHMARK_GRAPH`, else beside this executable; the error says
/// how to build it.
pub fn graph_binary(framework: Framework) -> Result<std::path::PathBuf, String> {
    let path = match std::env::var_os(GRAPH_BINARY_VAR) {
        Some(path) => std::path::PathBuf::from(path),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find own executable: {e}"))?
            .with_file_name(GRAPH_BINARY),
    };
    match path.is_file() {
        true => Ok(path),
        false => Err(format!(
            "{framework} cells run in {GRAPH_BINARY}, which is missing at {}: run `make build` \
             (or `cargo build --release -p run-benchmark-graph`) in the checkout, or set \
             {GRAPH_BINARY_VAR} to it",
            path.display()
        )),
    }
}

#[derive(Clone)]
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
    /// `--devices`: the device every child of this runner is pinned to (exec'd, not forked,
    /// so that the pin applies from the child's start).
    pub pin: Option<crate::devices::Slot>,
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
        match self.run_job(&Job::Cell(Box::new(cell.clone()))) {
            Ok(result) => Ok(result),
            Err(JobError::Failed(reason)) => Ok(CellResult::na(reason)),
            Err(JobError::Interrupted) => Err(Interrupted),
        }
    }

    /// Measures cells of one (model, sizes, mode) in one child, on one built model
    /// ([`Job::Cells`]); each failure becomes N/A, and the cells the child finished before it
    /// died keep their results.
    pub fn run_cells(&self, cells: &[Cell]) -> Result<Vec<CellResult>, Interrupted> {
        self.run_cells_watched(cells, &|_| {})
    }

    /// [`Runner::run_cells`], calling `on_result(k)` as soon as the child has printed the
    /// results of its first `k` cells (so the progress can name the cell it runs now).
    pub fn run_cells_watched(
        &self,
        cells: &[Cell],
        on_result: &dyn Fn(usize),
    ) -> Result<Vec<CellResult>, Interrupted> {
        if let [cell] = cells {
            return self.run(cell).map(|r| vec![r]);
        }
        let job = Job::Cells {
            cells: cells.to_vec(),
        };
        let in_child = self.multi_process || !job_framework(&job).is_torch();
        let (finished, failure): (Vec<CellResult>, Option<String>) = if in_child {
            match self.run_child_with_partial(&job, on_result) {
                Ok(value) => (parse_results(value), None),
                Err((partial, JobError::Failed(reason))) => {
                    (partial.map(parse_results).unwrap_or_default(), Some(reason))
                }
                Err((_, JobError::Interrupted)) => return Err(Interrupted),
            }
        } else {
            if self.stopped() {
                return Err(Interrupted);
            }
            let outcome = (self.in_process)(&job);
            if self.stopped() {
                return Err(Interrupted);
            }
            match outcome {
                Ok(value) => (parse_results(value), None),
                Err(reason) => (Vec::new(), Some(reason)),
            }
        };
        let reason = failure.unwrap_or_else(|| "the child returned too few results".into());
        let mut results = finished;
        results.truncate(cells.len());
        while results.len() < cells.len() {
            results.push(CellResult::na(reason.clone()));
        }
        Ok(results)
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

    /// Times a tokenizer; every failure becomes N/A with its reason.
    pub fn tokenize(&self, cell: &TokenizationCell) -> Result<TokenizationResult, Interrupted> {
        match self.run_job(&Job::Tokenize(Box::new(cell.clone()))) {
            Ok(result) => Ok(result),
            Err(JobError::Failed(reason)) => Ok(TokenizationResult::NotAvailable { reason }),
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
        // TensorFlow and ONNX Runtime never share a process with libtorch.
        let value = if self.multi_process || !job_framework(job).is_torch() {
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
        self.run_child_with_partial(job, &|_| {})
            .map_err(|(_, e)| e)
    }

    /// Runs a job of one or more cells; each cell has the whole timeout, counted from the end of
    /// the one before (the child prints its results so far after each). On failure, the last
    /// result the child printed before it died, if any, comes with the reason. A cell whose
    /// zygote died or stopped under it is run again in an exec'd child.
    #[allow(clippy::type_complexity)]
    fn run_child_with_partial(
        &self,
        job: &Job,
        on_result: &dyn Fn(usize),
    ) -> Result<serde_json::Value, (Option<serde_json::Value>, JobError)> {
        let failed = |e: String| (None, JobError::Failed(e));
        let json = serde_json::to_string(job).expect("a job serialises");
        let mut child = Process::start(job, self.pin.as_ref(), self.timeout).map_err(failed)?;
        // Written on its own thread: a child that dies before reading must not block us.
        let stdin = child.take_stdin();
        let feeder = thread::spawn(move || {
            if let Some(mut pipe) = stdin {
                let _ = pipe.write_all(json.as_bytes());
            }
        });
        let (stdout, stderr) = child.take_output();
        let replies = Arc::new(AtomicUsize::new(0));
        let (stdout, stderr) = (drain(stdout, Some(replies.clone())), drain(stderr, None));
        let waited = wait(&mut child, self.timeout, self.stop, &replies, on_result);
        let _ = feeder.join();
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        if self.verbose && !stderr.trim().is_empty() {
            console::eprint(&stderr);
        }
        let partial = || parse_reply(&stdout).ok();
        match waited {
            Waited::Stopped => Err((None, JobError::Interrupted)),
            Waited::ZygoteLost(line) => {
                if let Some(line) = line {
                    console::notice(&line);
                }
                drop(child);
                self.run_child_with_partial(job, on_result)
            }
            Waited::TimedOut => Err((
                partial(),
                JobError::Failed(format!("timed out after {} s", self.timeout.as_secs_f64())),
            )),
            Waited::Exited(status) if status.success() => {
                parse_reply(&stdout).map_err(|e| (None, JobError::Failed(e)))
            }
            Waited::Exited(status) if self.killed_by_our_interrupt(status) => {
                Err((None, JobError::Interrupted))
            }
            Waited::Exited(status) => {
                Err((partial(), JobError::Failed(failure_reason(status, &stderr))))
            }
        }
    }

    /// Ctrl-C in a terminal (SIGHUP when it closes, SIGTERM from Slurm) reaches the child
    /// too, which may die of it before the parent's handler has set the stop flag; give the
    /// flag a moment.
    fn killed_by_our_interrupt(&self, status: ExitStatus) -> bool {
        use std::os::unix::process::ExitStatusExt;
        let by_stop_signal = status
            .signal()
            .is_some_and(|s| crate::interrupt::SIGNALS.contains(&s));
        if !by_stop_signal || self.stop.is_none() {
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

/// The child side of the protocol, before anything else: a child never outlives its sweep.
/// The kernel sends SIGKILL to this process when its parent dies (PR_SET_PDEATHSIG), a parent
/// that died before that was set is caught by comparing `getppid()` with `parent`, and a
/// watchdog thread polls `getppid()` too: the death signal fires when the spawning *thread*
/// exits, and on Linux 6.18 a SIGKILLed multi-threaded parent was seen not to send it.
pub fn die_with_parent(parent: u32) -> Result<(), String> {
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
    thread::spawn(move || loop {
        thread::sleep(Duration::from_millis(100));
        if orphaned() {
            // SAFETY: ends this process at once, as the SIGKILL would have.
            unsafe { libc::_exit(137) };
        }
    });
    Ok(())
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

/// Reads a pipe to the end on its own thread, so a chatty child never blocks on a full pipe;
/// `replies` counts the reply lines (results so far) as they come.
fn drain<R: Read + Send + 'static>(
    pipe: Option<R>,
    replies: Option<Arc<AtomicUsize>>,
) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(pipe) = pipe {
            let mut pipe = std::io::BufReader::new(pipe);
            while let Ok(n) = std::io::BufRead::read_until(&mut pipe, b'\n', &mut bytes) {
                if n == 0 {
                    break;
                }
                let line = &bytes[bytes.len() - n..];
                if line.starts_with(b"{") && line.ends_with(b"\n") {
                    if let Some(replies) = &replies {
                        replies.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

#[derive(Debug)]
enum Waited {
    Exited(ExitStatus),
    TimedOut,
    Stopped,
    /// The zygote of a forked child died or stopped; the line saying so, the first time.
    ZygoteLost(Option<String>),
}

/// A cell's child: forked from the zygote where there is one and the job reads no memory
/// figure, else this binary exec'd again (`__cell PARENT_PID`); TensorFlow and ONNX Runtime
/// cells exec the graph binary with the same arguments (never forked from the zygote, which
/// has libtorch loaded).
enum Process {
    Exec(Child),
    Forked(zygote::Forked),
}

type Pipe = Box<dyn Read + Send>;

impl Process {
    /// A zygote that does not answer within `timeout` is lost, and the child exec'd. A child
    /// pinned to a device is always exec'd, so its environment and affinity are its own.
    fn start(
        job: &Job,
        pin: Option<&crate::devices::Slot>,
        timeout: Duration,
    ) -> Result<Process, String> {
        let framework = job_framework(job);
        let exe = match framework.is_torch() {
            true => {
                // Forking takes it milliseconds; a tiny timeout must not cost the zygote.
                let answer = timeout.max(Duration::from_secs(5));
                let fork = !job.measures_memory() && pin.is_none();
                match fork.then(|| zygote::spawn(answer)).flatten() {
                    Some(Ok(forked)) => return Ok(Process::Forked(forked)),
                    Some(Err(e)) if zygote::pid().is_some() => {
                        return Err(format!("cannot fork a child process: {e}"))
                    }
                    _ => {}
                }
                std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?
            }
            false => graph_binary(framework)?,
        };
        let mut command = Command::new(exe);
        if let Some(slot) = pin {
            slot.pin(&mut command);
        }
        command
            .arg(CHILD_COMMAND)
            .arg(std::process::id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map(Process::Exec)
            .map_err(|e| format!("cannot start child process: {e}"))
    }

    fn take_stdin(&mut self) -> Option<Box<dyn Write + Send>> {
        match self {
            Process::Exec(c) => c.stdin.take().map(|p| Box::new(p) as Box<dyn Write + Send>),
            Process::Forked(f) => f.stdin.take().map(|p| Box::new(p) as Box<dyn Write + Send>),
        }
    }

    fn take_output(&mut self) -> (Option<Pipe>, Option<Pipe>) {
        fn boxed<R: Read + Send + 'static>(pipe: Option<R>) -> Option<Pipe> {
            pipe.map(|p| Box::new(p) as Pipe)
        }
        match self {
            Process::Exec(c) => (boxed(c.stdout.take()), boxed(c.stderr.take())),
            Process::Forked(f) => (boxed(f.stdout.take()), boxed(f.stderr.take())),
        }
    }

    fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        match self {
            Process::Exec(c) => c.try_wait(),
            Process::Forked(f) => f.try_wait(),
        }
    }

    fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match self {
            Process::Exec(c) => c.wait(),
            Process::Forked(f) => f.wait(),
        }
    }

    fn kill(&mut self) -> std::io::Result<()> {
        match self {
            Process::Exec(c) => c.kill(),
            Process::Forked(f) => f.kill(),
        }
    }
}

/// Waits for the child; kills it when the timeout passes (counted again from each reply line
/// it prints) or the stop flag is set first. A forked child's zygote that dies, or stays
/// stopped for a second, is lost ([`zygote::lose`]). `on_result` hears each new count of
/// reply lines.
fn wait(
    child: &mut Process,
    timeout: Duration,
    stop: Option<&AtomicBool>,
    replies: &AtomicUsize,
    on_result: &dyn Fn(usize),
) -> Waited {
    let mut start = Instant::now();
    let mut seen = replies.load(Ordering::SeqCst);
    let mut zygote_stopped_since: Option<Instant> = None;
    let exit = ExitWatch::new(child);
    let forked = matches!(child, Process::Forked(_));
    loop {
        if replies.load(Ordering::SeqCst) != seen {
            seen = replies.load(Ordering::SeqCst);
            start = Instant::now();
            on_result(seen);
        }
        if forked && zygote::stopped() {
            let since = *zygote_stopped_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= Duration::from_secs(1) {
                let line = zygote::lose("was stopped (SIGSTOP?) during a cell");
                let _ = child.kill();
                return Waited::ZygoteLost(line);
            }
        } else {
            zygote_stopped_since = None;
        }
        let outcome = match child.try_wait() {
            Ok(Some(status)) => return Waited::Exited(status),
            Ok(None) if stop.is_some_and(|s| s.load(Ordering::SeqCst)) => Waited::Stopped,
            Ok(None) if start.elapsed() >= timeout => Waited::TimedOut,
            Ok(None) => {
                exit.wait(Duration::from_millis(50).min(timeout.saturating_sub(start.elapsed())));
                continue;
            }
            Err(e) if forked => return Waited::ZygoteLost(zygote::lose(&e.to_string())),
            Err(_) => {
                return match child.wait() {
                    Ok(status) => Waited::Exited(status),
                    Err(_) => Waited::TimedOut,
                }
            }
        };
        let _ = child.kill();
        if child.wait().is_err() && forked {
            if let Some(line) = zygote::lose("did not report the end of its child") {
                console::notice(&line);
            }
        }
        return outcome;
    }
}

/// Waits for a child's exit without polling, so the parent wakes at once instead of up to a
/// polling period late, and does not wake 50 times a second beside a measurement: an exec'd
/// child's pidfd (Linux 5.3+) becomes readable when it exits, the zygote's socket when it
/// relays a forked child's status. Without either, it sleeps in short steps.
struct ExitWatch(Option<std::os::fd::OwnedFd>);

impl ExitWatch {
    fn new(child: &Process) -> Self {
        use std::os::fd::FromRawFd;
        let fd = match child {
            // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
            Process::Exec(c) => unsafe {
                libc::syscall(libc::SYS_pidfd_open, c.id() as libc::pid_t, 0)
            },
            // SAFETY: dup returns a new descriptor for the same socket, or -1.
            Process::Forked(f) => unsafe { libc::dup(f.status_fd()) }.into(),
        };
        let fd = i32::try_from(fd).ok().filter(|&fd| fd >= 0);
        // SAFETY: a descriptor just returned to us, ours alone.
        ExitWatch(fd.map(|fd| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
    }

    /// Returns when the child has exited or after `most`, whichever is first.
    fn wait(&self, most: Duration) {
        use std::os::fd::AsRawFd;
        let Some(fd) = &self.0 else {
            thread::sleep(most.min(Duration::from_millis(20)));
            return;
        };
        let mut poll = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = i32::try_from(most.as_millis()).unwrap_or(i32::MAX).max(1);
        // SAFETY: one valid pollfd, for the duration of the call.
        unsafe { libc::poll(&mut poll, 1, millis) };
    }
}

/// The results of a [`Job::Cells`] reply; unreadable ones are dropped (and become N/A).
fn parse_results(value: serde_json::Value) -> Vec<CellResult> {
    serde_json::from_value(value).unwrap_or_default()
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

/// A dead child's reason: its signal or exit status, and its last words as it said them (the
/// child cleans its own messages where they arise: [`crate::child::clean_panic_messages`]).
fn failure_reason(status: ExitStatus, stderr: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    // A Rust panic outside the measurement prints its cleaned message last; a framework that
    // aborts prints its error first. Either way the last lines say most.
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

/// Runs `jobs`, one per slot at a time, each on a copy of `runner` pinned to its slot; `done`
/// gets every job and its outcome on this thread as it finishes, and stops the dispatch of
/// further jobs by returning false.
pub fn run_on<J: Send, R: Send>(
    slots: &[crate::devices::Slot],
    runner: &Runner,
    jobs: Vec<J>,
    work: impl Fn(&Runner, &J) -> R + Sync,
    mut done: impl FnMut(J, R) -> bool,
) {
    let queue = Mutex::new(jobs.into_iter());
    let stop = AtomicBool::new(false);
    let (sender, results) = mpsc::channel();
    std::thread::scope(|scope| {
        for slot in slots {
            let runner = Runner {
                pin: Some(slot.clone()),
                ..runner.clone()
            };
            let (queue, stop, work, sender) = (&queue, &stop, &work, sender.clone());
            scope.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Some(job) = queue.lock().unwrap_or_else(|e| e.into_inner()).next() else {
                        break;
                    };
                    let outcome = work(&runner, &job);
                    if sender.send((job, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        for (job, outcome) in results {
            if !done(job, outcome) {
                stop.store(true, Ordering::SeqCst);
            }
        }
    });
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
        let mut child = Process::Exec(Command::new("sleep").arg("10").spawn().unwrap());
        let start = Instant::now();
        let waited = wait(
            &mut child,
            Duration::from_millis(100),
            None,
            &AtomicUsize::new(0),
            &|_| {},
        );
        assert!(matches!(waited, Waited::TimedOut), "{waited:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn the_stop_flag_kills_the_child() {
        static STOP: AtomicBool = AtomicBool::new(false);
        let mut child = Process::Exec(Command::new("sleep").arg("10").spawn().unwrap());
        let setter = thread::spawn(|| {
            thread::sleep(Duration::from_millis(100));
            STOP.store(true, Ordering::SeqCst);
        });
        let start = Instant::now();
        let waited = wait(
            &mut child,
            Duration::from_secs(60),
            Some(&STOP),
            &AtomicUsize::new(0),
            &|_| {},
        );
        setter.join().unwrap();
        assert!(matches!(waited, Waited::Stopped), "{waited:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(child.try_wait().unwrap().is_some(), "the child was reaped");
    }
}

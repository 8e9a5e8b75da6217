//! Faults of the zygote (src/zygote.rs) mid-sweep: killed (SIGKILL) or stopped (SIGSTOP)
//! while a forked child measures, or stopped between cells. The sweep says so in one line,
//! goes on with exec'd children, and loses no cell; no process of the sweep outlives it.
//! Real binary, real signals, /proc to find the processes.

use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod e2e;
mod procs;

use e2e::TINY;
use procs::{children_of, cmdline, descendants, signal, state, wait_until_dead};

/// Two speed cells of about `min_time` s each (the zygote forks their children), and a
/// timeout far below the default hour, so a wait on a lost zygote shows as a failure.
fn sweep(json: &Path, min_time: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_run-benchmark"))
        .args(["--models", TINY, "--batch-sizes", "1", "--sequence-lengths"])
        .args(["8", "16", "--min-time", min_time, "--max-runs", "100000000"])
        .args(extra)
        .arg("--export-json")
        .arg(json)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The zygote: the sweep's child that is not an exec'd `__cell` child.
fn zygote_of(sweep: u32) -> u32 {
    let start = Instant::now();
    loop {
        let zygotes: Vec<u32> = children_of(sweep)
            .into_iter()
            .filter(|&c| !cmdline(c).contains(" __cell "))
            .collect();
        if let [zygote] = zygotes[..] {
            return zygote;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no zygote");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A child the zygote forked for a cell.
fn forked_child(zygote: u32) -> u32 {
    let start = Instant::now();
    loop {
        if let [child] = children_of(zygote)[..] {
            return child;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no forked child"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for the sweep's end, within `most`.
fn finish(mut sweep: Child, most: Duration) -> Output {
    let start = Instant::now();
    while sweep.try_wait().unwrap().is_none() {
        if start.elapsed() > most {
            let _ = sweep.kill();
            let output = sweep.wait_with_output().unwrap();
            panic!(
                "the sweep hung for {most:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    sweep.wait_with_output().unwrap()
}

/// Both cells measured, none N/A, in the export and on stdout.
fn assert_all_cells_measured(json: &Path, output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let export: Value = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    let rows = export["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{stdout}");
    for row in rows {
        assert_eq!(row["status"], "ok", "{row:?}\n{stderr}");
    }
    for wrong in ["timed out", "Broken pipe", "N/A"] {
        assert!(!stdout.contains(wrong), "{wrong}: {stdout}");
        assert!(!stderr.contains(wrong), "{wrong}: {stderr}");
    }
}

/// The one line about the zygote, naming its pid.
fn the_zygote_line(output: &Output, zygote: u32) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("zygote")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("The zygote (pid {zygote}) ")),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].ends_with("the remaining cells run in exec'd children."),
        "{}",
        lines[0]
    );
    lines[0].to_string()
}

fn assert_no_orphans(family: &[u32]) {
    for &pid in family {
        assert!(
            wait_until_dead(pid, Duration::from_secs(30)),
            "{pid} ({}) outlived its sweep",
            cmdline(pid)
        );
    }
}

#[test]
fn a_sigkilled_zygote_is_noticed_at_once_and_no_cell_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let sweep = sweep(&json, "2", &["--no-memory", "--timeout", "120"]);
    let id = sweep.id();
    let zygote = zygote_of(id);
    let child = forked_child(zygote);
    let family = descendants(id);
    assert!(family.contains(&child));
    signal(zygote, libc::SIGKILL);
    let killed = Instant::now();
    // Noticed at once: the cell's child dies with its zygote, and the cell starts again in
    // an exec'd child of the sweep.
    let start = Instant::now();
    while !children_of(id)
        .iter()
        .any(|&c| cmdline(c).contains(" __cell "))
    {
        assert!(start.elapsed() < Duration::from_secs(30), "no exec'd child");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(killed.elapsed() < Duration::from_secs(30));
    let all = [family, descendants(id)].concat();
    let output = finish(sweep, Duration::from_secs(300));
    let line = the_zygote_line(&output, zygote);
    assert!(line.contains("died (killed by SIGKILL)"), "{line}");
    assert_all_cells_measured(&json, &output);
    assert_no_orphans(&all);
}

#[test]
fn a_zygote_stopped_during_a_cell_is_killed_and_the_cell_measured_again() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    // The timeout is a busy machine's; without the fix the sweep hung whatever it was.
    let sweep = sweep(&json, "2", &["--no-memory", "--timeout", "60"]);
    let id = sweep.id();
    let zygote = zygote_of(id);
    let child = forked_child(zygote);
    signal(zygote, libc::SIGSTOP);
    let family = descendants(id);
    assert!(family.contains(&child) && family.contains(&zygote));
    let output = finish(sweep, Duration::from_secs(300));
    let line = the_zygote_line(&output, zygote);
    assert!(line.contains("was stopped"), "{line}");
    assert!(line.contains("killed it"), "{line}");
    assert_all_cells_measured(&json, &output);
    assert_no_orphans(&family);
}

#[test]
fn a_zygote_stopped_between_cells_is_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    // Memory cells run in exec'd children, before the speed cells: the zygote is stopped
    // before it is asked for a child.
    let sweep = sweep(&json, "0.5", &["--no-speed", "--timeout", "60"]);
    let id = sweep.id();
    let zygote = zygote_of(id);
    signal(zygote, libc::SIGSTOP);
    assert!(wait_until_stopped(zygote));
    let output = finish(sweep, Duration::from_secs(300));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // Memory cells never ask the zygote: it stays stopped until the sweep ends, and dies
    // with it.
    assert!(!stderr.contains("zygote"), "{stderr}");
    assert!(wait_until_dead(zygote, Duration::from_secs(30)));

    let json = dir.path().join("speed.json");
    let sweep = self::sweep(&json, "0.5", &["--no-memory", "--timeout", "60"]);
    let id = sweep.id();
    let zygote = zygote_of(id);
    signal(zygote, libc::SIGSTOP);
    assert!(wait_until_stopped(zygote));
    let family = descendants(id);
    let output = finish(sweep, Duration::from_secs(300));
    let line = the_zygote_line(&output, zygote);
    assert!(line.contains("was stopped"), "{line}");
    assert_all_cells_measured(&json, &output);
    assert_no_orphans(&family);
}

fn wait_until_stopped(pid: u32) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if state(pid) == Some('T') {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn a_cell_sharing_a_child_times_out_after_its_own_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    // Memory and speed of one point share one child; the speed cell's 10^8 calls run far
    // past 20 s, the memory cell well within it even on a loaded machine.
    let output = Command::new(env!("CARGO_BIN_EXE_run-benchmark"))
        .args(["--models", TINY, "--batch-sizes", "1", "--sequence-lengths"])
        .args(["8", "--runs", "100000000"])
        .args(["--timeout", "20", "--export-json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("timed out after 20 s"), "{stdout}");
    assert!(!stdout.contains("after 40 s"), "{stdout}");
    let export: Value = serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    let rows = export["rows"].as_array().unwrap();
    let memory = rows.iter().find(|r| r["memory"].is_object());
    assert!(
        memory.is_some(),
        "the memory cell kept its result: {rows:?}"
    );
}

//! Faults from outside: the sweep killed or terminated while a cell's child measures, and a
//! job too large for one command-line argument. Real binary, real signals, /proc to check
//! that no child is left.

use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod e2e;
mod procs;

use e2e::TINY;
use procs::{alive, children_of, cmdline, parent_of, signal, wait_until_dead};

fn json_rows(path: &Path) -> Option<Vec<Value>> {
    let export: Value = serde_json::from_str(&fs::read_to_string(path).ok()?).ok()?;
    export["rows"].as_array().cloned()
}

/// Waits until the JSON export holds `rows` cells.
fn wait_for_rows(path: &Path, rows: usize, sweep: &mut Child) {
    let start = Instant::now();
    while json_rows(path).is_none_or(|r| r.len() < rows) {
        if let Some(status) = sweep.try_wait().unwrap() {
            panic!("the sweep ended ({status}) before {rows} cells finished");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no {rows} cells"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A sweep of two speed cells, each timed for at least 8 s, exporting JSON to `json`.
fn slow_sweep(json: &Path) -> Child {
    slow_sweep_with(json, &[])
}

fn slow_sweep_with(json: &Path, env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_run-benchmark"))
        .args(["--models", TINY, "--batch-sizes", "1", "--sequence-lengths"])
        .args(["8", "16", "--no-memory", "--min-time", "8", "--max-runs"])
        .args(["100000000", "--export-json"])
        .arg(json)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the process measuring the cell after the first `finished` ones: the sweep's
/// exec'd child (`__cell`), or a child of its zygote (the sweep's other child).
fn running_child(sweep: &mut Child, json: &Path, finished: usize) -> u32 {
    wait_for_rows(json, finished, sweep);
    measuring_child(sweep.id())
}

fn measuring_child(sweep: u32) -> u32 {
    let start = Instant::now();
    loop {
        let measuring: Vec<u32> = (children_of(sweep).into_iter())
            .flat_map(|c| match cmdline(c).contains(" __cell ") {
                true => vec![c],
                false => children_of(c),
            })
            .collect();
        if let [child] = measuring[..] {
            return child;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no child process"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Speed cells are measured in a child forked from the zygote (a child of a child of the
/// sweep, with the sweep's command line), and with RUN_BENCHMARK_EXEC_CHILDREN=1 in an
/// exec'd child of the sweep; both finish their cells.
#[test]
fn speed_cells_run_in_children_forked_from_the_zygote_or_exec_d() {
    for exec in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("out.json");
        let env: &[(&str, &str)] = if exec {
            &[("RUN_BENCHMARK_EXEC_CHILDREN", "1")]
        } else {
            &[]
        };
        let sweep = slow_sweep_with(&json, env);
        let id = sweep.id();
        let child = measuring_child(id);
        let (parent, line) = (parent_of(child), cmdline(child));
        let grandparent = parent.and_then(parent_of);
        signal(id, libc::SIGTERM);
        let output = sweep.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if exec {
            assert_eq!(parent, Some(id), "{line}");
            assert!(line.contains(" __cell "), "{line}");
        } else {
            assert_ne!(parent, Some(id), "{line}");
            assert_eq!(grandparent, Some(id), "{line}");
            assert!(!line.contains("__cell"), "{line}");
        }
        assert!(
            stderr.contains("Interrupted (SIGTERM): 0 of 2 cells finished"),
            "{stderr}"
        );
        assert!(
            wait_until_dead(child, Duration::from_secs(5)),
            "exec {exec}"
        );
    }
}

/// Robust on a loaded machine: the one cell measures for at least 10 minutes, so the child
/// found is surely still measuring however late it is found, and it is given a minute to die
/// (the kernel's parent-death signal is immediate, the watchdog polls every 100 ms; a busy
/// machine may delay either by seconds), far less than the cell would have gone on.
#[test]
fn a_child_dies_with_its_sigkilled_parent() {
    for exec in ["0", "1"] {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("out.json");
        let mut sweep = Command::new(env!("CARGO_BIN_EXE_run-benchmark"))
            .args(["--models", TINY, "--batch-sizes", "1", "--sequence-lengths"])
            .args(["8", "--no-memory", "--min-time", "600", "--max-runs"])
            .args(["100000000", "--timeout", "900", "--export-json"])
            .arg(&json)
            .env("RUN_BENCHMARK_EXEC_CHILDREN", exec)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let child = measuring_child(sweep.id());
        let family = procs::descendants(sweep.id());
        assert!(family.contains(&child) && alive(child));
        signal(sweep.id(), libc::SIGKILL);
        sweep.wait().unwrap();
        for pid in family {
            assert!(
                wait_until_dead(pid, Duration::from_secs(60)),
                "exec {exec}: {pid} ({}) still running after its sweep was killed",
                cmdline(pid)
            );
        }
    }
}

#[test]
fn sigterm_and_sighup_stop_like_ctrl_c_with_their_exit_status() {
    for (sig, code, name) in [
        (libc::SIGTERM, 143, "SIGTERM"),
        (libc::SIGHUP, 129, "SIGHUP"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("out.json");
        let mut sweep = slow_sweep(&json);
        let child = running_child(&mut sweep, &json, 1);
        signal(sweep.id(), sig);
        let start = Instant::now();
        let output = sweep.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(start.elapsed() < Duration::from_secs(4), "{name}: {stderr}");
        assert_eq!(output.status.code(), Some(code), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("Interrupted ({name}): 1 of 2 cells finished")),
            "{stderr}"
        );
        let rows = json_rows(&json).unwrap();
        assert_eq!(rows.len(), 1, "{name}: the finished cell is in the export");
        assert!(rows[0]["speed"].is_object(), "{:?}", rows[0]);
        assert!(!alive(child), "{name}: child {child} left running");
        assert!(String::from_utf8_lossy(&output.stdout).contains("INFERENCE - SPEED - RESULT"));
    }
}

#[test]
fn a_job_larger_than_one_argument_reaches_the_child() {
    // Linux caps one argv string at 128 KiB; this config's id2label alone is ~300 KiB.
    let dir = tempfile::tempdir().unwrap();
    let mut config: Value = serde_json::from_str(&fs::read_to_string(TINY).unwrap()).unwrap();
    let labels: serde_json::Map<String, Value> = (0..12_000)
        .map(|i| {
            (
                i.to_string(),
                Value::from(format!("LABEL_{i}_of_a_large_classifier")),
            )
        })
        .collect();
    config["id2label"] = Value::Object(labels);
    let path = dir.path().join("config.json");
    fs::write(&path, serde_json::to_string(&config).unwrap()).unwrap();
    assert!(fs::metadata(&path).unwrap().len() > 200 * 1024);
    let json = dir.path().join("out.json");
    let output = Command::new(env!("CARGO_BIN_EXE_run-benchmark"))
        .arg("--models")
        .arg(&path)
        .args([
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "--runs",
            "2",
        ])
        .arg("--export-json")
        .arg(&json)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let rows = json_rows(&json).unwrap();
    assert_eq!(rows.len(), 2, "speed and memory");
    for row in rows {
        assert_eq!(row["status"], "ok", "{row:?}");
    }
}

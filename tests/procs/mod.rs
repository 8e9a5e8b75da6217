//! Processes seen through /proc, for the fault tests (tests/faults.rs, tests/zygote_faults.rs):
//! a sweep's children and grandchildren, whether they still run, and signals to them.
#![allow(dead_code)]

use std::fs;
use std::time::{Duration, Instant};

/// The fields after "(comm)" in /proc/PID/stat: state, ppid, ...
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = stat.rsplit_once(')')?.1;
    Some(after_comm.split_whitespace().map(String::from).collect())
}

/// The pids whose parent is `parent`.
pub fn children_of(parent: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if parent_of(pid) == Some(parent) {
            children.push(pid);
        }
    }
    children
}

/// `pid`'s children, their children, and so on.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut all = Vec::new();
    let mut next = vec![pid];
    while let Some(p) = next.pop() {
        for child in children_of(p) {
            all.push(child);
            next.push(child);
        }
    }
    all
}

/// The parent's pid of `pid`.
pub fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// The state letter of `pid` (R, S, T, Z, ...).
pub fn state(pid: u32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

/// Running: /proc/PID exists and is not a zombie waiting for a reaper.
pub fn alive(pid: u32) -> bool {
    state(pid).is_some_and(|s| s != 'Z' && s != 'X')
}

pub fn wait_until_dead(pid: u32, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

pub fn cmdline(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .replace('\0', " ")
}

pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) on a pid the test started (or its sweep did).
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
}

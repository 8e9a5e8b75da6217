//! Shared by the end-to-end tests of the binary (tests/cli.rs, tests/reports.rs).
#![allow(dead_code)]

use assert_cmd::Command;
use std::path::Path;

pub const TINY: &str = "tests/fixtures/tiny-bert.json";
/// Three timed calls per speed cell keep the suite fast; tests of timing itself set their own.
pub const QUICK: [&str; 2] = ["--runs", "3"];

pub fn bin() -> Command {
    let mut command = Command::cargo_bin("run-benchmark").unwrap();
    // The tests' own calibration cache, never the user's (shared by the tests, so most reuse it).
    command.env(
        "XDG_CACHE_HOME",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("cache"),
    );
    command
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A schema-2 export row's result as one object: its `speed` or `memory` figures (or its
/// `reason`), with `status` saying which (`speed`, `memory`, `not_available`).
pub fn result(row: &serde_json::Value) -> serde_json::Value {
    let (kind, mut figures) = match row["status"].as_str() {
        Some("ok") if row["speed"].is_object() => ("speed", row["speed"].clone()),
        Some("ok") => ("memory", row["memory"].clone()),
        _ => (
            "not_available",
            serde_json::json!({ "reason": row["reason"] }),
        ),
    };
    figures["status"] = kind.into();
    figures
}

/// The value of `key` in a schema-2 export's environment.
pub fn environment(export: &serde_json::Value, key: &str) -> String {
    export["environment"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in the environment"))
        .to_string()
}

/// A folder of one test binary's own under cargo's test scratch space (`name-PID`).
pub fn folder(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn export(path: &Path) -> serde_json::Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn rows(export: &serde_json::Value) -> &Vec<serde_json::Value> {
    export["rows"].as_array().expect("an export's rows")
}

/// What a sweep wrote: its JSON export, the original's inference time CSV, and stdout.
pub type Swept = (std::path::PathBuf, std::path::PathBuf, String);

/// Runs `command` in `dir` with the original's CSV files (training's too when asked) and a JSON
/// export, asserting that it succeeded.
pub fn sweep(mut command: Command, dir: &Path, training: bool) -> Swept {
    let (json, csv) = (dir.join("swept.json"), dir.join("time.csv"));
    command
        .current_dir(dir)
        .args(["--save-to-csv", "--inference-time-csv-file"])
        .arg(&csv)
        .arg("--inference-memory-csv-file")
        .arg(dir.join("memory.csv"))
        .arg("--env-info-csv-file")
        .arg(dir.join("env.csv"))
        .arg("--export-json")
        .arg(&json);
    if training {
        command
            .arg("--train-time-csv-file")
            .arg(dir.join("train-time.csv"))
            .arg("--train-memory-csv-file")
            .arg(dir.join("train-memory.csv"));
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (json, csv, String::from_utf8(out.stdout).unwrap())
}

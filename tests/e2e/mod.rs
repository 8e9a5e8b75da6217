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

//! `--weights pretrained` end to end: the real binary loads a checkpoint written by
//! transformers (a parity fixture) in its child and says what it loaded; bad requests are
//! one clear line.

use predicates::prelude::*;

mod e2e;

use e2e::{bin, QUICK};

/// The rows of a JSON export.
fn rows(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["rows"].as_array().unwrap().clone()
}

#[test]
fn a_checkpoint_folder_loads_in_the_child_and_its_subnormals_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    bin()
        .args(QUICK)
        .args([
            "--models",
            "tests/fixtures/parity/llama",
            "--weights",
            "pretrained",
        ])
        .args([
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "--no-speed",
            "--training",
        ])
        .args(["--bf16", "--flush-subnormals", "--export-json"])
        .arg(&out)
        .assert()
        .success();
    let rows = rows(&out);
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["status"], "ok", "{row}");
        let ran = &row["memory"]["ran"];
        assert_eq!(ran["dtype"], "bf16");
        let loaded = &ran["pretrained"];
        // Every value of the fixture's checkpoint (its tied head has no copy of its own).
        assert!(loaded["values"].as_u64().unwrap() > 10_000, "{loaded}");
        assert!(loaded["subnormal"].as_u64().is_some());
        assert_eq!(loaded["flushed"], true);
    }
}

#[test]
fn a_folder_without_a_checkpoint_and_flushing_random_weights_are_clear_errors() {
    bin()
        .args(QUICK)
        .args([
            "--models",
            "tests/fixtures/tiny-bert.json",
            "--weights",
            "pretrained",
        ])
        .args(["--batch-sizes", "1", "--sequence-lengths", "8", "--dry-run"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "--weights pretrained: tests/fixtures holds neither model.safetensors nor \
             model.safetensors.index.json",
        ));
    bin()
        .args(QUICK)
        .args([
            "--models",
            "tests/fixtures/tiny-bert.json",
            "--flush-subnormals",
            "--dry-run",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "--flush-subnormals is for --weights pretrained",
        ));
}

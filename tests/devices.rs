//! `--devices`: one cell per listed device at once, each child pinned to its own, results in
//! plan order; what cannot be pinned is refused with one line. The children record what they
//! ran with (RUN_BENCHMARK_CHILD_RECORD), so the pinning is seen without a GPU.

use serde_json::Value;

mod e2e;

use e2e::{bin, read, TINY};

#[test]
fn core_sets_run_one_cell_each_at_once_and_keep_plan_order() {
    let dir = tempfile::tempdir().unwrap();
    let (record, json) = (
        dir.path().join("children.jsonl"),
        dir.path().join("run.json"),
    );
    // Speed cells of a second or more, so that two running at once overlap.
    bin()
        .args([
            "--models",
            TINY,
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "16",
        ])
        .args([
            "--no-memory",
            "--min-time",
            "1",
            // Enough calls for that second on a fast machine (tiny cells take ~0.2 ms a call).
            "--max-runs",
            "1000000",
            "--devices",
            "cpu:0,cpu:1",
            "--export-json",
        ])
        .arg(&json)
        .env("RUN_BENCHMARK_CHILD_RECORD", &record)
        .assert()
        .success();
    let children: Vec<Value> = (read(&record).lines())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    // The cells' children, each bound to one core (a calibration's child is not pinned).
    let pinned: Vec<&Value> = (children.iter())
        .filter(|c| c["cores"].as_array().unwrap().len() == 1)
        .collect();
    assert_eq!(pinned.len(), 2, "{children:#?}");
    let mut cores: Vec<u64> = pinned
        .iter()
        .map(|c| c["cores"][0].as_u64().unwrap())
        .collect();
    cores.sort();
    assert_eq!(cores, [0, 1], "one child per core set");
    let (a, b) = (pinned[0], pinned[1]);
    let overlap =
        a["start"].as_f64() < b["end"].as_f64() && b["start"].as_f64() < a["end"].as_f64();
    assert!(overlap, "the two cells ran at once: {a} {b}");

    let export: Value = serde_json::from_str(&read(&json)).unwrap();
    let rows = export["rows"].as_array().unwrap();
    let lengths: Vec<i64> = rows
        .iter()
        .map(|r| r["cell"]["sequence_length"].as_i64().unwrap())
        .collect();
    assert_eq!(lengths, [8, 16], "plan order");
    assert!(rows.iter().all(|r| r["status"] == "ok"));
    // One thread per core of a set: the cells are planned so, and the children ran so.
    assert!(rows.iter().all(|r| r["cell"]["threads"] == 1), "{rows:#?}");
    assert!(
        rows.iter().all(|r| r["speed"]["ran"]["threads"] == 1),
        "{rows:#?}"
    );
    assert_eq!(
        export["environment"]["devices"],
        "cpu:0, cpu:1 (one cell per device at once)"
    );
}

#[test]
fn what_cannot_be_pinned_is_refused_with_one_line() {
    let refused = |devices: &str, code: i32, says: &str| {
        let out = bin()
            .args(["--models", TINY, "--devices", devices])
            .assert()
            .failure()
            .code(code);
        let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert!(stderr.contains(says), "{devices}: {stderr}");
    };
    refused("cpu", 2, "needs a core set per slot");
    refused("cpu:0,cpu:0-1", 1, "--devices: cpu:0-1 and cpu:0 overlap");
    refused(
        "cpu:0,cpu:1-2",
        1,
        "--devices: cpu:1-2 has 2 cores and cpu:0 has 1",
    );
    refused("cpu:0,cuda:0", 1, "GPUs or CPU core sets, not both");
    refused(
        "cpu:100000",
        1,
        "--devices cpu:100000: core 100000 is not one this process may run on",
    );
    refused("gpu:1", 2, "is not cuda:N or cpu:A-B");
    // This machine's GPUs: none in CI, so any cuda slot is refused before a cell runs.
    let gpus = std::process::Command::new("nvidia-smi").arg("-L").output();
    if gpus.map(|o| o.stdout.is_empty()).unwrap_or(true) {
        refused(
            "cuda:0,cuda:1",
            1,
            "--devices cuda:0: this machine has 0 CUDA device(s)",
        );
    }
    let out = bin()
        .args(["--models", TINY, "--devices", "cpu:0", "--device", "cpu"])
        .assert()
        .failure()
        .code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

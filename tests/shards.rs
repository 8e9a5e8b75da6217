//! End-to-end: a sweep split with `--shard K/N` into separate real runs, joined by `merge`,
//! gives the cells of the whole sweep in its order; `--shard auto` reads Slurm's and
//! Kubernetes' variables; merge refuses what does not belong together.

use serde_json::Value;
use std::path::{Path, PathBuf};

mod e2e;

use e2e::{bin, read, QUICK, TINY};

/// Two models (the tiny config and a wider variant) × two sequence lengths × speed and memory.
const SWEEP: [&str; 7] = [
    "--models",
    TINY,
    "wide=tests/fixtures/tiny-bert.json:hidden_size=64",
    "--batch-sizes",
    "1",
    "--sequence-lengths",
    "8",
];

fn run_shard(dir: &Path, shard: &str, extra: &[&str]) -> PathBuf {
    let json = dir.join(format!("shard-{}.json", shard.replace('/', "-of-")));
    bin()
        .args(QUICK)
        .args(SWEEP)
        .args(["16", "--shard", shard, "--export-json"])
        .arg(&json)
        .args(extra)
        .assert()
        .success();
    json
}

/// (model, batch, sequence, mode, metric) of every row, in order.
fn keys(export: &Value) -> Vec<String> {
    export["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let cell = &row["cell"];
            format!(
                "{} {} {} {} {}",
                cell["model"],
                cell["batch_size"],
                cell["sequence_length"],
                cell["mode"],
                cell["metric"]
            )
        })
        .collect()
}

fn parse(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap()
}

#[test]
fn shards_merge_into_the_whole_sweep_in_its_order() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.json");
    bin()
        .args(QUICK)
        .args(SWEEP)
        .args(["16", "--export-json"])
        .arg(&whole)
        .assert()
        .success();
    let first = run_shard(dir.path(), "1/2", &[]);
    let second = run_shard(dir.path(), "2/2", &[]);
    let (a, b) = (keys(&parse(&first)), keys(&parse(&second)));
    assert!(!a.is_empty() && !b.is_empty(), "both shards have cells");
    assert!(a.iter().all(|k| !b.contains(k)), "the shards are disjoint");
    assert_eq!(a.len() + b.len(), 8);

    let merged = dir.path().join("merged.json");
    let markdown = dir.path().join("merged.md");
    let output = bin()
        .arg("merge")
        .arg(&second)
        .arg(&first)
        .arg("--export-json")
        .arg(&merged)
        .arg("--export-markdown")
        .arg(&markdown)
        .assert()
        .success();
    let stdout = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("INFERENCE - SPEED - RESULT"), "{stdout}");
    assert!(stdout.contains("INFERENCE - MEMORY - RESULT"), "{stdout}");
    let merged = parse(&merged);
    assert_eq!(
        keys(&merged),
        keys(&parse(&whole)),
        "same cells, same order"
    );
    assert!(merged.get("shard").is_none_or(Value::is_null));
    assert!(read(&markdown).contains("| wide |"));
    // The merged export is an ordinary export: plot reads it.
    let chart = dir.path().join("chart.svg");
    bin()
        .arg("plot")
        .arg(dir.path().join("merged.json"))
        .arg("-o")
        .arg(&chart)
        .assert()
        .success();
    assert!(read(&chart).contains("<svg"));
    // Merging again replaces the merged files, and says so.
    bin()
        .arg("merge")
        .arg(&first)
        .arg(&second)
        .arg("--export-markdown")
        .arg(&markdown)
        .assert()
        .success()
        .stderr(predicates::str::contains(format!(
            "Replacing existing file(s), which will hold this run's cells: {}",
            markdown.display()
        )));

    // A part measured on another CPU: a warning, and the environment lists both machines.
    let mut moved = parse(&second);
    moved["environment"]["cpu"] = "Another CPU".into();
    let elsewhere = dir.path().join("elsewhere.json");
    std::fs::write(&elsewhere, serde_json::to_string(&moved).unwrap()).unwrap();
    let output = bin()
        .arg("merge")
        .arg(&first)
        .arg(&elsewhere)
        .arg("--env-print")
        .assert()
        .success();
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("different hardware or software (cpu:"),
        "{stderr}"
    );
    let stdout = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("cpu (elsewhere.json)"), "{stdout}");
    assert!(stdout.contains("Another CPU"), "{stdout}");
}

#[test]
fn a_missing_shard_is_reported_as_missing_cells() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_shard(dir.path(), "1/3", &["--no-memory"]);
    let merged = dir.path().join("merged.json");
    let output = bin()
        .arg("merge")
        .arg(&first)
        .arg("--export-json")
        .arg(&merged)
        .assert()
        .success();
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("2/3, 3/3 not given"), "{stderr}");
    let rows = parse(&merged)["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 4, "every planned cell is in the merge");
    let missing = rows
        .iter()
        .filter(|r| {
            r["reason"]
                .as_str()
                .is_some_and(|s| s.starts_with("missing: no result from shard"))
        })
        .count();
    assert_eq!(missing, 4 - keys(&parse(&first)).len());
    assert!(missing > 0);
}

#[test]
fn merge_refuses_other_plans_and_conflicting_results() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_shard(dir.path(), "1/2", &["--no-memory"]);
    // The same shard of a plan with other settings.
    let other = dir.path().join("other.json");
    bin()
        .args(QUICK)
        .args(SWEEP)
        .args([
            "16",
            "--no-memory",
            "--seed",
            "7",
            "--shard",
            "2/2",
            "--export-json",
        ])
        .arg(&other)
        .assert()
        .success();
    let output = bin()
        .arg("merge")
        .arg(&first)
        .arg(&other)
        .assert()
        .failure()
        .code(1);
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("come from different plans: their settings differ"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    // The same shard measured twice: timings differ, so one must be chosen.
    let again = dir.path().join("again.json");
    std::fs::copy(&first, &again).unwrap();
    let rerun = run_shard(dir.path(), "1/2", &["--no-memory"]);
    let output = bin()
        .arg("merge")
        .arg(&again)
        .arg(&rerun)
        .assert()
        .failure()
        .code(1);
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("measured twice with different results"),
        "{stderr}"
    );
    assert!(stderr.contains("--prefer"), "{stderr}");
    bin()
        .arg("merge")
        .arg(&again)
        .arg(&rerun)
        .args(["--prefer", "last"])
        .assert()
        .success();
    // A plain export is not a shard.
    let plain = dir.path().join("plain.json");
    bin()
        .args(QUICK)
        .args([
            "--models",
            TINY,
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "--no-memory",
        ])
        .arg("--export-json")
        .arg(&plain)
        .assert()
        .success();
    let output = bin().arg("merge").arg(&plain).assert().failure().code(1);
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("is not a shard export"), "{stderr}");
}

#[test]
fn shard_auto_reads_slurm_and_kubernetes_and_fails_outside_them() {
    let dir = tempfile::tempdir().unwrap();
    let by_flag = keys(&parse(&run_shard(dir.path(), "2/2", &["--no-memory"])));
    let slurm = dir.path().join("slurm.json");
    bin()
        .args(QUICK)
        .args(SWEEP)
        .args(["16", "--no-memory", "--shard", "auto", "--export-json"])
        .arg(&slurm)
        .env("SLURM_ARRAY_TASK_ID", "4")
        .env("SLURM_ARRAY_TASK_MIN", "3")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .assert()
        .success();
    assert_eq!(
        keys(&parse(&slurm)),
        by_flag,
        "array task 4 of 3-4 is shard 2/2"
    );
    let k8s = dir.path().join("k8s.json");
    bin()
        .args(QUICK)
        .args(SWEEP)
        .args([
            "16",
            "--no-memory",
            "--shard",
            "auto",
            "--shard-count",
            "2",
            "--export-json",
        ])
        .arg(&k8s)
        .env("JOB_COMPLETION_INDEX", "1")
        .assert()
        .success();
    assert_eq!(
        keys(&parse(&k8s)),
        by_flag,
        "completion index 1 is shard 2/2"
    );
    let output = bin()
        .args(SWEEP)
        .args(["16", "--shard", "auto"])
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .assert()
        .failure()
        .code(1);
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("neither a Slurm job array"), "{stderr}");
    bin()
        .args(SWEEP)
        .args(["16", "--shard", "3/2"])
        .assert()
        .failure()
        .code(2);
}

#[test]
fn a_preempted_shard_resumes_only_its_missing_cells() {
    let dir = tempfile::tempdir().unwrap();
    let json = run_shard(dir.path(), "1/2", &[]);
    let measured = keys(&parse(&json)).len();
    let output = bin()
        .args(QUICK)
        .args(SWEEP)
        .args(["16", "--shard", "1/2", "--resume"])
        .arg(&json)
        .arg("--export-json")
        .arg(&json)
        .assert()
        .success();
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(&format!(
            "{measured} of {measured} cells carried over, 0 to measure"
        )),
        "{stderr}"
    );
    assert_eq!(keys(&parse(&json)).len(), measured);
}

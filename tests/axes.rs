//! Issue 13, point 11: `--threads` and `--dtypes` as axes crossed with the models and sizes,
//! end to end on a tiny BERT: rows, exports, the children's own settings, resume, compare and
//! plot.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod e2e;

use e2e::{bin, export, read, result, rows, sweep, Swept, QUICK};

const MODEL: &str = concat!(
    "tiny=",
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/tiny-bert.json"
);
const SIZES: [&str; 4] = ["--batch-sizes", "1", "--sequence-lengths", "8"];
const AXES: [&str; 6] = ["--threads", "1", "2", "--dtypes", "f32", "bf16"];

fn folder() -> PathBuf {
    e2e::folder("axes")
}

/// The sweep over both axes, run once: its JSON export, time CSV and stdout.
fn swept() -> &'static Swept {
    static SWEPT: OnceLock<Swept> = OnceLock::new();
    SWEPT.get_or_init(|| {
        let mut command = bin();
        command
            .env("COLUMNS", "200")
            .args(QUICK)
            .args(["--models", MODEL])
            .args(SIZES)
            .args(AXES)
            .arg("--quiet");
        sweep(command, &folder(), false)
    })
}

/// (dtype, threads, metric) of a row.
fn variant(row: &Value) -> (String, u64, String) {
    let cell = &row["cell"];
    (
        cell["dtype"].as_str().unwrap().to_string(),
        cell["threads"].as_u64().unwrap(),
        cell["metric"].as_str().unwrap().to_string(),
    )
}

#[test]
fn each_dtype_and_thread_count_is_a_row_of_its_own_that_ran_with_them() {
    let (json, csv, stdout) = swept();
    let single = folder().join("single.json");
    bin()
        .args(QUICK)
        .args(["--models", MODEL])
        .args(SIZES)
        .args(["--quiet", "--export-json"])
        .arg(&single)
        .assert()
        .success();
    let (swept, single) = (export(json), export(&single));
    assert_eq!(rows(&swept).len(), 4 * rows(&single).len());
    // In plan order, the inner axes fastest: dtypes outer, then threads, memory before speed.
    let got: Vec<_> = rows(&swept).iter().map(variant).collect();
    let v = |d: &str, t, m: &str| (d.to_string(), t, m.to_string());
    assert_eq!(
        got,
        [
            v("f32", 1, "memory"),
            v("f32", 1, "speed"),
            v("f32", 2, "memory"),
            v("f32", 2, "speed"),
            v("bf16", 1, "memory"),
            v("bf16", 1, "speed"),
            v("bf16", 2, "memory"),
            v("bf16", 2, "speed"),
        ]
    );
    // What each child read back from libtorch: an ignored axis would give every row the
    // same threads (libtorch's default) and float32 weights.
    for row in rows(&swept) {
        let ran = &result(row)["ran"];
        assert_eq!(ran["threads"], row["cell"]["threads"], "{row}");
        assert_eq!(ran["dtype"], row["cell"]["dtype"], "{row}");
    }
    assert_eq!(
        swept["settings"]["dtypes"],
        serde_json::json!(["f32", "bf16"])
    );
    assert_eq!(
        swept["settings"]["thread_counts"],
        serde_json::json!([1, 2])
    );
    assert_eq!(swept["environment"]["threads"], "1, 2");
    // One calibration per (dtype, threads), each named.
    let calibrations = swept["calibrations"].as_array().unwrap();
    assert_eq!(calibrations.len(), 4, "{calibrations:?}");
    assert_eq!(
        (
            calibrations[3]["dtype"].as_str(),
            calibrations[3]["threads"].as_u64()
        ),
        (Some("bf16"), Some(2))
    );

    // The CSV keeps the original's columns and appends the axes.
    let text = read(csv);
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    assert_eq!(
        lines.next(),
        Some("model,batch_size,sequence_length,result,dtype,threads")
    );
    let tails: Vec<String> = lines
        .map(|l| l.split(',').skip(4).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(tails, ["f32,1", "f32,2", "bf16,1", "bf16,2"]);

    // The tables say each row's; a single-settings run's do not.
    assert!(
        stdout.contains("| Model Name | Dtype | Threads | Batch Size |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| tiny       |  bf16 |       2 |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("in the row's own dtype and threads"),
        "{stdout}"
    );
}

#[test]
fn a_resumed_two_thread_sweep_keeps_both_thread_counts_apart() {
    let (json, _, _) = swept();
    let dir = folder();
    // The sweep as if interrupted after the 1-thread cells.
    let mut partial = export(json);
    let full = rows(&partial).clone();
    partial["rows"] = full
        .iter()
        .filter(|r| r["cell"]["threads"] == 1)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    let partial_path = dir.join("partial.json");
    std::fs::write(&partial_path, partial.to_string()).unwrap();
    let resumed = dir.join("resumed.json");
    let out = bin()
        .args(QUICK)
        .args(["--models", MODEL])
        .args(SIZES)
        .args(AXES)
        .arg("--resume")
        .arg(&partial_path)
        .arg("--export-json")
        .arg(&resumed)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("4 of 8 cells carried over, 4 to measure"),
        "{stderr}"
    );
    let resumed = export(&resumed);
    let got: Vec<_> = rows(&resumed).iter().map(variant).collect();
    let want: Vec<_> = full.iter().map(variant).collect();
    assert_eq!(got, want, "both thread counts, in plan order");
    for (row, before) in rows(&resumed).iter().zip(&full) {
        let (ran, ran_before) = (result(row), result(before));
        if row["cell"]["threads"] == 1 {
            // Carried over as measured, not measured again.
            assert_eq!(ran, ran_before);
        } else {
            assert_eq!(ran["ran"]["threads"], 2, "{row}");
        }
    }
}

#[test]
fn compare_matches_rows_by_dtype_and_threads() {
    let (json, _, _) = swept();
    let dir = folder();
    let compare = |a: &Path, b: &Path| {
        let out = bin()
            .env("COLUMNS", "250")
            .arg("compare")
            .arg(a)
            .arg(b)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let same = compare(json, json);
    assert!(same.contains("tiny bf16 2 threads"), "{same}");
    // Every row is matched: none n/a but for one measured oversubscribed on a loaded machine
    // (its reason is said on a line of its own).
    let oversubscribed = same.matches("measured oversubscribed").count();
    assert!(
        same.contains(&format!("{oversubscribed} not comparable")),
        "{same}"
    );
    assert!(!same.contains("Only in"), "{same}");
    assert!(!same.contains("Settings differ"), "{same}");

    // Without the 2-thread rows, those are the baseline's own, not matched with 1 thread's.
    let mut partial = export(json);
    let kept: Vec<Value> = (rows(&partial).iter())
        .filter(|r| r["cell"]["threads"] == 1)
        .cloned()
        .collect();
    partial["rows"] = kept.into();
    let partial_path = dir.join("compare-partial.json");
    std::fs::write(&partial_path, partial.to_string()).unwrap();
    let text = compare(json, &partial_path);
    assert!(
        text.contains("Only in the baseline: tiny f32 2 threads batch 1 sequence 8 inference time"),
        "{text}"
    );
    assert_eq!(text.matches("Only in the baseline").count(), 4, "{text}");

    // Two runs of one setting each are matched across it, and the setting is said.
    let only = |threads: u64, name: &str| {
        let mut one = export(json);
        let kept: Vec<Value> = (rows(&one).iter())
            .filter(|r| r["cell"]["threads"] == threads && r["cell"]["dtype"] == "f32")
            .cloned()
            .collect();
        one["rows"] = kept.into();
        one["settings"]["threads"] = threads.into();
        let path = dir.join(name);
        std::fs::write(&path, one.to_string()).unwrap();
        path
    };
    let text = compare(&only(1, "one.json"), &only(2, "two.json"));
    assert!(!text.contains("Only in"), "{text}");
    assert!(text.contains("Settings differ: threads: 1 -> 2"), "{text}");
}

#[test]
fn plot_draws_one_line_per_dtype_and_thread_count() {
    let (json, csv, _) = swept();
    let dir = folder();
    for (input, name) in [(json, "json.svg"), (csv, "csv.svg")] {
        let svg = dir.join(name);
        bin()
            .arg("plot")
            .arg(input)
            .arg("-o")
            .arg(&svg)
            .assert()
            .success();
        let text = read(&svg);
        for label in [
            "tiny, f32, 1 thread, batch 1",
            "tiny, bf16, 2 threads, batch 1",
        ] {
            assert!(text.contains(label), "{name}: no {label}");
        }
    }
}

#[test]
fn shards_of_a_two_thread_sweep_merge_into_its_plan() {
    let dir = folder();
    let part = |k: &str| {
        let path = dir.join(format!("shard-{}.json", &k[..1]));
        bin()
            .args(QUICK)
            .args(["--models", MODEL])
            .args(SIZES)
            .args([
                "--threads",
                "1",
                "2",
                "--no-memory",
                "--quiet",
                "--shard",
                k,
            ])
            .arg("--export-json")
            .arg(&path)
            .assert()
            .success();
        path
    };
    let (first, second) = (part("1/2"), part("2/2"));
    let merged = dir.join("merged.json");
    bin()
        .arg("merge")
        .arg(&first)
        .arg(&second)
        .arg("--export-json")
        .arg(&merged)
        .assert()
        .success();
    let merged = export(&merged);
    let threads: Vec<_> = rows(&merged)
        .iter()
        .map(|r| {
            (
                r["cell"]["threads"].as_u64(),
                result(r)["ran"]["threads"].as_u64(),
            )
        })
        .collect();
    assert_eq!(threads, [(Some(1), Some(1)), (Some(2), Some(2))]);
    assert_eq!(merged["calibrations"].as_array().unwrap().len(), 2);
}

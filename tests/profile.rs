//! End-to-end tests of `--profile`: tiny models whose parts have known relative costs show
//! them in that order, the parts add up to the call, training adds loss, backward and the
//! optimizer step, every family marks its parts, and the breakdown reaches the terminal,
//! the JSON and Markdown exports, `--profile-trace` and `plot --profile`.

use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

mod e2e;

use e2e::{bin, read, TINY};

/// A tiny BERT with hidden size 64 and the given feed-forward width.
fn bert(dir: &Path, name: &str, intermediate: i64) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    let config = json!({
        "architectures": ["BertForMaskedLM"],
        "model_type": "bert",
        "vocab_size": 128,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": intermediate,
        "max_position_embeddings": 64,
    });
    fs::write(&path, config.to_string()).unwrap();
    path
}

/// Runs a profiled sweep of `runs` timed (and as many profiled) calls per cell and returns
/// the JSON export's speed rows and stdout.
fn profile(runs: &str, args: &[&str], json_path: &Path) -> (Vec<Value>, String) {
    let output = bin()
        .args(["--no-memory", "--threads", "1", "--runs", runs, "--profile"])
        .args(args)
        .arg("--export-json")
        .arg(json_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let export: Value = serde_json::from_str(&read(json_path)).unwrap();
    let rows = export["rows"].as_array().unwrap().clone();
    (rows, String::from_utf8(output.stdout).unwrap())
}

fn breakdown(row: &Value) -> &Value {
    assert_eq!(row["status"], "ok", "{row}");
    &row["speed"]["profile"]
}

/// Median seconds of each kind of part, summed over its entries.
fn kind_seconds(profile: &Value, part: &str) -> f64 {
    entries(profile)
        .iter()
        .filter(|e| e["part"] == part)
        .map(|e| e["seconds"].as_f64().unwrap())
        .sum()
}

fn entries(profile: &Value) -> &Vec<Value> {
    profile["entries"].as_array().unwrap()
}

fn paths(profile: &Value) -> Vec<&str> {
    entries(profile)
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect()
}

fn f(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

#[test]
fn a_wider_mlp_costs_more_in_proportion_and_the_parts_add_up_to_the_call() {
    let dir = tempfile::tempdir().unwrap();
    // MLP matrix products per token: 2·2·64·256 (4x wider than hidden) and 2·2·64·1024;
    // the attention projections: 4·2·64² = 32768, a quarter of the wide one's.
    let narrow = bert(dir.path(), "narrow", 256);
    let wide = bert(dir.path(), "wide", 1024);
    let json_path = dir.path().join("run.json");
    let (rows, stdout) = profile(
        "10",
        &[
            "--models",
            narrow.to_str().unwrap(),
            wide.to_str().unwrap(),
            "--batch-sizes",
            "4",
            "--sequence-lengths",
            "32",
        ],
        &json_path,
    );
    assert_eq!(rows.len(), 2);
    let (narrow, wide) = (breakdown(&rows[0]), breakdown(&rows[1]));
    let mlp = |p: &Value| kind_seconds(p, "mlp");
    let projections = |p: &Value| kind_seconds(p, "projection");
    assert!(
        mlp(wide) > 2.0 * projections(wide),
        "wide: mlp {} vs projections {}",
        mlp(wide),
        projections(wide)
    );
    assert!(
        mlp(wide) > 2.0 * mlp(narrow),
        "mlp: wide {} vs narrow {}",
        mlp(wide),
        mlp(narrow)
    );
    for p in [narrow, wide] {
        // Each layer's attention projections and kernel, MLP and norms, numbered.
        for path in [
            "embeddings",
            "layer 0/attention/projections",
            "layer 0/attention/kernel",
            "layer 1/mlp",
            "layer 1/norm",
            "head",
            "other",
        ] {
            assert!(paths(p).contains(&path), "no {path} in {:?}", paths(p));
        }
        // In every profiled call the parts' own times and the recorder's add up to the call.
        let calls = p["profiled_samples"].as_array().unwrap();
        assert_eq!(calls.len(), 10);
        for (i, total) in calls.iter().enumerate() {
            let parts: f64 = entries(p).iter().map(|e| f(&e["samples"][i])).sum();
            let sum = parts + f(&p["recorder_samples"][i]);
            let total = f(total);
            assert!(
                (sum - total).abs() <= 0.02 * total + 1e-4,
                "call {i}: parts {sum} s, call {total} s"
            );
        }
        // The parts' medians sum to about an unprofiled call, no part counted twice. On a
        // loaded machine a call's waits land in a different part each time, so the sum of
        // medians is compared with the fastest unprofiled call, not the median one.
        let parts: f64 = entries(p).iter().map(|e| f(&e["seconds"])).sum();
        let fastest = p["call_samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(f)
            .fold(f64::INFINITY, f64::min);
        let profiled = f(&p["profiled_seconds"]);
        assert!(
            parts > 0.5 * fastest && parts < 1.5 * profiled,
            "parts {parts}, fastest call {fastest}, profiled {profiled}"
        );
        assert!(f(&p["recorder_seconds"]) > 0.0);
    }
    assert!(stdout.contains("INFERENCE - PROFILE -"), "{stdout}");
    assert!(stdout.contains("| By kind"), "{stdout}");
    assert!(stdout.contains("Profiling cost: profiled call"), "{stdout}");
}

#[test]
fn training_breaks_down_loss_backward_and_the_optimizer_step() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("run.json");
    let markdown = dir.path().join("run.md");
    let (rows, _) = profile(
        "5",
        &[
            "--models",
            TINY,
            "--batch-sizes",
            "2",
            "--sequence-lengths",
            "16",
            "--no-inference",
            "--training",
            "--optimizer",
            "adamw",
            "--export-markdown",
            markdown.to_str().unwrap(),
        ],
        &json_path,
    );
    let p = breakdown(&rows[0]);
    for part in ["loss", "backward", "optimizer"] {
        assert!(paths(p).contains(&part), "no {part} in {:?}", paths(p));
        assert!(kind_seconds(p, part) > 0.0, "{part}");
    }
    let kept = |path: &str| {
        let e = entries(p).iter().find(|e| e["path"] == path).unwrap();
        e["kept_bytes"].as_i64().unwrap()
    };
    // The forward keeps what autograd saves for backward; backward frees it.
    assert!(kept("layer 0") > 0, "{}", kept("layer 0"));
    assert!(kept("backward") < 0, "{}", kept("backward"));
    assert_eq!(p["memory"], "heap");
    let md = read(&markdown);
    assert!(md.contains("## TRAIN - PROFILE - "), "{md}");
    assert!(md.contains("| optimizer step |"), "{md}");
    assert!(md.contains("- Profiling cost: profiled call"), "{md}");
}

#[test]
fn every_family_marks_its_embeddings_attention_mlp_and_norms() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("run.json");
    let families = [
        "llama",
        "gpt2",
        "gpt_neo",
        "gpt_neox",
        "opt",
        "phi",
        "roberta",
        "distilbert",
        "albert",
        "electra",
        "bart",
        "t5",
        "gemma2",
        "phi3",
        "mixtral",
    ];
    let configs: Vec<String> = families
        .iter()
        .map(|f| format!("{f}=tests/fixtures/parity/{f}/config.json"))
        .collect();
    let (rows, _) = profile(
        "3",
        &[
            &["--batch-sizes", "1", "--sequence-lengths", "8", "--models"],
            &configs.iter().map(String::as_str).collect::<Vec<_>>()[..],
        ]
        .concat(),
        &json_path,
    );
    assert_eq!(rows.len(), families.len());
    for (family, row) in families.iter().zip(&rows) {
        let p = breakdown(row);
        for part in [
            "embeddings",
            "projection",
            "attention_kernel",
            "mlp",
            "norm",
            "layer",
        ] {
            assert!(
                kind_seconds(p, part) > 0.0,
                "{family}: no {part} in {:?}",
                paths(p)
            );
        }
    }
}

#[test]
fn profile_trace_writes_libtorchs_operators_and_a_chrome_trace() {
    let dir = tempfile::tempdir().unwrap();
    let traces = dir.path().join("traces");
    let json_path = dir.path().join("run.json");
    let (rows, stdout) = profile(
        "3",
        &[
            "--models",
            &format!("tiny={TINY}"),
            "--batch-sizes",
            "2",
            "--sequence-lengths",
            "16",
            "--profile-trace",
            traces.to_str().unwrap(),
        ],
        &json_path,
    );
    let ops = &breakdown(&rows[0])["operators"];
    let trace = traces.join("tiny-b2-s16-inference.json");
    assert_eq!(ops["trace"], trace.to_str().unwrap());
    let names: Vec<&str> = ops["cpu"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"aten::addmm"), "{names:?}");
    let chrome: Value = serde_json::from_str(&read(&trace)).unwrap();
    let events = chrome["traceEvents"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["name"] == "aten::addmm"),
        "{} events",
        events.len()
    );
    assert!(stdout.contains("| CPU operator"), "{stdout}");
    assert!(stdout.contains("chrome://tracing"), "{stdout}");
}

#[test]
fn profile_trace_needs_profile_and_unprofiled_cells_carry_no_breakdown() {
    bin()
        .args(["--models", TINY, "--profile-trace", "x"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--profile"));
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("run.json");
    bin()
        .args([
            "--models",
            TINY,
            "--no-memory",
            "--runs",
            "3",
            "--sequence-lengths",
            "8",
        ])
        .arg("--export-json")
        .arg(&json_path)
        .assert()
        .success()
        .stdout(predicates::str::contains("PROFILE").not());
    let text = read(&json_path);
    assert!(!text.contains("\"profile\": {"), "{text}");
    bin()
        .args(["plot", json_path.to_str().unwrap(), "--profile", "-o"])
        .arg(dir.path().join("parts.png"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "nothing to plot: no inference cell measured with --profile",
        ));
}

#[test]
fn plot_draws_a_stacked_bar_per_profiled_cell() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("run.json");
    profile(
        "3",
        &[
            "--models",
            TINY,
            "--batch-sizes",
            "2",
            "--sequence-lengths",
            "8",
            "16",
        ],
        &json_path,
    );
    let svg = dir.path().join("parts.svg");
    bin()
        .args(["plot", json_path.to_str().unwrap(), "--profile", "-o"])
        .arg(&svg)
        .assert()
        .success();
    let text = read(&svg);
    // Both bars' labels, and the kinds in the legend.
    for label in ["b2 s8", "b2 s16", "MLP", "attention kernel", "head"] {
        assert!(text.contains(label), "no {label} in the chart");
    }
}

use predicates::prelude::PredicateBooleanExt;

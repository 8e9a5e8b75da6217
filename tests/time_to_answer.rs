//! Issue 16 and the fit check of issue 10: `--dry-run`, the memory
//! estimate against measured peaks, cells that cannot fit, weights built in their dtype,
//! memory and speed from one child, and the precision target. The real binary, real child
//! processes, small models. The calibration cache is tested in tests/busy.rs, alone: a
//! calibration measured beside other work is never cached.

use serde_json::Value;
use std::path::Path;

mod e2e;

use e2e::{bin, read, result, QUICK, TINY};

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap()
}

fn rows(export: &Value) -> Vec<(Value, Value)> {
    export["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["cell"].clone(), result(row)))
        .collect()
}

const ONE_CELL: [&str; 6] = [
    "--batch-sizes",
    "1",
    "--sequence-lengths",
    "8",
    "--no-memory",
    "--quiet",
];

#[test]
fn dry_run_prints_the_plan_with_estimates_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("never.json");
    let assert = bin()
        .args(["--models", TINY, "meta-llama/Llama-2-7b-hf"])
        .args(["--batch-sizes", "1", "--sequence-lengths", "8", "--bf16"])
        .arg("--export-json")
        .arg(&export)
        .arg("--dry-run")
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("| GFLOP/call |"), "{stdout}");
    assert!(stdout.contains("| Memory GiB |"), "{stdout}");
    // Llama-2-7b in bf16: 6.74B parameters, 105.8 GFLOP for 8 tokens, about 13 GiB.
    let llama = stdout
        .lines()
        .find(|l| l.contains("Llama-2-7b-hf") && l.contains("memory"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(llama.contains("105.75"), "{llama}");
    assert!(llama.contains(" 13.0"), "{llama}");
    assert!(stdout.contains("Total: 4 cells, ≈"), "{stdout}");
    assert!(!export.exists(), "a dry run writes no export");
    // Times carry their unit; an 80-column terminal gets a fitted plan and says what it left out.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(" yes |") && (l.contains(" s |") || l.contains(" ms |"))),
        "{stdout}"
    );
    let narrow = bin()
        .env("COLUMNS", "80")
        .args(["--models", TINY, "meta-llama/Llama-2-7b-hf"])
        .args(["--batch-sizes", "1", "--sequence-lengths", "8", "--bf16"])
        .arg("--dry-run")
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .success();
    let stdout = String::from_utf8(narrow.get_output().stdout.clone()).unwrap();
    assert!(stdout.lines().all(|l| l.chars().count() <= 80), "{stdout}");
    assert!(stdout.contains("Left out to fit 80 columns"), "{stdout}");
    assert!(
        stdout.contains("Memory"),
        "the memory estimate is kept: {stdout}"
    );
}

/// A model no machine holds: its estimate is terabytes.
const HUGE: &str =
    "huge=tests/fixtures/tiny-bert.json:hidden_size=65536,num_hidden_layers=64,intermediate_size=262144,num_attention_heads=64";

#[test]
fn a_cell_that_cannot_fit_is_na_at_once_with_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("huge.json");
    let start = std::time::Instant::now();
    bin()
        .args(QUICK)
        .args(["--models", HUGE, TINY])
        .args(["--batch-sizes", "1", "--sequence-lengths", "8", "--quiet"])
        .arg("--export-json")
        .arg(&out)
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .success();
    let export = json(&out);
    let rows = rows(&export);
    assert_eq!(rows.len(), 4);
    for (cell, result) in &rows[..2] {
        assert_eq!(cell["model"], "huge");
        let reason = result["reason"].as_str().unwrap();
        assert!(reason.starts_with("needs ≈"), "{reason}");
        assert!(
            reason.contains(" GiB, ") && reason.contains("GiB available RAM"),
            "{reason}"
        );
        assert!(reason.contains("--no-fit-check"), "{reason}");
    }
    // The model that fits still ran.
    assert_eq!(rows[2].1["status"], "memory");
    assert_eq!(rows[3].1["status"], "speed");
    assert!(start.elapsed().as_secs() < 100);
}

/// Small models' memory cells: the estimate the fit check uses is recorded beside the
/// measured peak, and is within 25% of it (printed, to see how close).
#[test]
fn the_memory_estimate_is_close_to_the_measured_peak() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str]); 4] = [
        ("tiny", &[TINY]),
        (
            "wide",
            &["wide=tests/fixtures/tiny-bert.json:hidden_size=512,intermediate_size=2048,num_hidden_layers=4,vocab_size=8000,max_position_embeddings=512,num_attention_heads=8"],
        ),
        (
            "wide-training",
            &["wide=tests/fixtures/tiny-bert.json:hidden_size=512,intermediate_size=2048,num_hidden_layers=4,vocab_size=8000,max_position_embeddings=512,num_attention_heads=8", "--training", "--no-inference"],
        ),
        (
            "wide-bf16-adamw",
            &["wide=tests/fixtures/tiny-bert.json:hidden_size=512,intermediate_size=2048,num_hidden_layers=4,vocab_size=8000,max_position_embeddings=512,num_attention_heads=8", "--training", "--no-inference", "--bf16", "--optimizer", "adamw"],
        ),
    ];
    for (name, models) in cases {
        let out = dir.path().join(format!("{name}.json"));
        bin()
            .arg("--models")
            .args(models)
            .args(["--batch-sizes", "8", "--sequence-lengths", "32"])
            .args(["--no-speed", "--quiet", "--export-json"])
            .arg(&out)
            .assert()
            .success();
        let export = json(&out);
        let (_, memory) = &rows(&export)[0];
        let measured = memory["peak_rss_bytes"].as_f64().unwrap();
        let estimated = memory["estimated_peak_bytes"].as_f64().unwrap();
        let ratio = estimated / measured;
        println!(
            "{name}: estimated {:.0} MiB, measured {:.0} MiB, ratio {ratio:.3}",
            estimated / 1048576.0,
            measured / 1048576.0
        );
        assert!((0.75..1.25).contains(&ratio), "{name}: ratio {ratio}");
        assert!(memory["build_seconds"].as_f64().unwrap() > 0.0);
    }
}

/// Weights are created in bfloat16, never as a float32 copy first: the peak while building
/// a 124M-parameter model is about its bf16 weights (249 MB) over a tiny model's, where a
/// float32 copy first would need three times that (498 + 249 MB).
#[test]
fn bf16_weights_are_built_without_a_float32_copy() {
    let dir = tempfile::tempdir().unwrap();
    let peak_of = |dtype: &[&str], name: &str| {
        let out = dir.path().join(name);
        bin()
            .args(["--models", "openai-community/gpt2", "--batch-sizes", "1"])
            .args(["--sequence-lengths", "8", "--no-speed", "--quiet"])
            .args(dtype)
            .arg("--export-json")
            .arg(&out)
            .assert()
            .success();
        let export = json(&out);
        let memory = rows(&export)[0].1.clone();
        memory["build_peak_rss_bytes"].as_f64().unwrap()
    };
    let tiny = {
        let out = dir.path().join("tiny.json");
        bin()
            .args([
                "--models",
                TINY,
                "--batch-sizes",
                "1",
                "--sequence-lengths",
                "8",
            ])
            .args(["--no-speed", "--quiet", "--export-json"])
            .arg(&out)
            .assert()
            .success();
        rows(&json(&out))[0].1["build_peak_rss_bytes"]
            .as_f64()
            .unwrap()
    };
    let fp32 = peak_of(&[], "fp32.json") - tiny;
    let bf16 = peak_of(&["--bf16"], "bf16.json") - tiny;
    let weights_bf16 = 124.44e6 * 2.0;
    println!(
        "build peak over a tiny model's: fp32 {:.0} MB, bf16 {:.0} MB",
        fp32 / 1e6,
        bf16 / 1e6
    );
    assert!(bf16 < 1.5 * weights_bf16, "bf16 build peak {bf16}");
    assert!(bf16 < 0.6 * fp32, "bf16 {bf16} vs fp32 {fp32}");
}

/// Memory then speed in one child: the memory figure is the one a child of its own shows.
#[test]
fn memory_measured_before_speed_in_one_child_is_unchanged_within_1_percent() {
    let dir = tempfile::tempdir().unwrap();
    let model = "wide=tests/fixtures/tiny-bert.json:hidden_size=512,intermediate_size=2048,num_hidden_layers=4,vocab_size=8000,max_position_embeddings=512,num_attention_heads=8";
    let run = |extra: &[&str], name: &str| {
        let out = dir.path().join(name);
        bin()
            .args(QUICK)
            .args(["--models", model, "--batch-sizes", "8"])
            .args(["--sequence-lengths", "128", "--quiet", "--export-json"])
            .arg(&out)
            .args(extra)
            .assert()
            .success();
        json(&out)
    };
    let alone = run(&["--no-speed"], "alone.json");
    let paired = run(&[], "paired.json");
    let memory = |export: &Value| {
        let rows = rows(export);
        let (_, m) = rows.iter().find(|(c, _)| c["metric"] == "memory").unwrap();
        (
            m["peak_rss_bytes"].as_f64().unwrap(),
            m["peak_rss_bytes"].as_f64().unwrap() - m["baseline_rss_bytes"].as_f64().unwrap(),
        )
    };
    let within = |alone: &Value, paired: &Value| {
        let (alone_peak, alone_increase) = memory(alone);
        let (paired_peak, paired_increase) = memory(paired);
        println!(
            "peak: alone {alone_peak}, paired {paired_peak}; increase: alone {alone_increase}, paired {paired_increase}"
        );
        (paired_peak / alone_peak - 1.0).abs() <= 0.01
            && (paired_increase / alone_increase - 1.0).abs() <= 0.01
    };
    // The best of three pairs: the other tests of this binary run beside it, and a page or
    // two of theirs can move one figure by a hair past 1%; a real difference fails all three.
    let (mut alone, mut paired) = (alone, paired);
    for attempt in 0..3 {
        if within(&alone, &paired) {
            break;
        }
        assert!(
            attempt < 2,
            "memory paired with speed differs from memory alone by over 1%"
        );
        alone = run(&["--no-speed"], "alone.json");
        paired = run(&[], "paired.json");
    }
    // The pair ran in one child: one build, the same build time in both results.
    let rows = rows(&paired);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].1["build_seconds"], rows[1].1["build_seconds"]);
}

#[test]
fn the_precision_target_reports_its_interval_or_flags_the_cell() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str], name: &str| {
        let out = dir.path().join(name);
        let assert = bin()
            .args(["--models", TINY])
            .args(ONE_CELL)
            .args(extra)
            .arg("--export-json")
            .arg(&out)
            .assert()
            .success();
        let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
        (rows(&json(&out))[0].1.clone(), stdout)
    };
    // An unreachable target with a short cap: flagged, with the interval it reached.
    let (speed, stdout) = run(
        &["--precision", "0.0001%", "--max-time", "0.3"],
        "flagged.json",
    );
    assert_eq!(speed["imprecise"], true);
    let interval = &speed["interval"];
    assert!(interval["low"].as_f64().unwrap() <= interval["median"].as_f64().unwrap());
    assert!(interval["confidence"].as_f64().unwrap() >= 0.95);
    assert!(stdout.contains(" 95% CI |"), "{stdout}");
    assert!(stdout.contains(" !"), "{stdout}");
    assert!(stdout.contains("1 imprecise figure(s)"), "{stdout}");
    // A loose target is met: not flagged, the interval within it.
    let (speed, _) = run(&["--precision", "50%"], "met.json");
    assert_eq!(speed["imprecise"], false);
    let i = &speed["interval"];
    let (median, low, high) = (
        i["median"].as_f64().unwrap(),
        i["low"].as_f64().unwrap(),
        i["high"].as_f64().unwrap(),
    );
    assert!((median - low).max(high - median) <= 0.5 * median, "{i}");
}

#[test]
fn the_memory_call_counts_towards_the_speed_cells_warm_up_calls_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let warmup_calls = |warmup_time: &str, name: &str| {
        let out = dir.path().join(name);
        bin()
            .args([
                "--models",
                TINY,
                "--batch-sizes",
                "1",
                "--sequence-lengths",
                "8",
            ])
            .args(["--runs", "2", "--warmup", "3", "--warmup-time", warmup_time])
            .args(["--quiet", "--export-json"])
            .arg(&out)
            .assert()
            .success();
        let rows = rows(&json(&out));
        let (_, speed) = rows.iter().find(|(c, _)| c["metric"] == "speed").unwrap();
        speed["warmup_calls"].as_u64().unwrap()
    };
    // Count only: the memory call and two more.
    assert_eq!(warmup_calls("1000", "count.json"), 3);
    // Any time is enough: the memory call was the whole warm-up.
    assert_eq!(warmup_calls("0", "time.json"), 1);
}

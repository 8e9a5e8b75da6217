//! End-to-end tests of what a sweep leaves behind and what reads it: progress on stderr,
//! exports (CSV, JSON, Markdown; files and stdout), the log file, Ctrl-C and --resume, sweep
//! files, and the plot and compare subcommands.

use predicates::prelude::*;
use run_benchmark::cell::{Cell, CellResult, DeviceChoice, Dtype, Metric, Mode, Optimizer};
use run_benchmark::cell::{MemoryResult, Settings, SpeedResult};
use run_benchmark::measure::stats::Stats;
use run_benchmark::measure::timing::{Protocol, Statistic};
use run_benchmark::report::{json, Sweep};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod e2e;
mod trained;

use e2e::{bin, read, QUICK, TINY};

fn json_rows(path: &Path) -> Vec<Value> {
    let export: Value = serde_json::from_str(&read(path)).unwrap();
    export["rows"].as_array().unwrap().clone()
}

/// Data lines of a result CSV file (after the header).
fn csv_lines(path: &Path) -> Vec<String> {
    read(path)
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Data rows of the Markdown tables whose first cell is `model`.
fn markdown_rows(path: &Path, model: &str) -> usize {
    read(path)
        .lines()
        .filter(|l| l.starts_with(&format!("| {model} |")))
        .count()
}

#[test]
fn progress_lines_on_a_pipe_and_nothing_with_quiet() {
    let args = [
        "--models",
        TINY,
        "--batch-sizes",
        "1",
        "--sequence-lengths",
        "8",
        "--no-memory",
    ];
    let output = bin().args(QUICK).args(args).assert().success();
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("[1/1] tests/fixtures/tiny-bert.json batch 1 sequence 8 inference speed: ")
    );
    assert!(
        !stderr.contains('\x1b'),
        "no escape codes on a pipe: {stderr:?}"
    );
    assert!(
        !stderr.contains('\r'),
        "no bar redraws on a pipe: {stderr:?}"
    );

    let output = bin()
        .args(QUICK)
        .args(args)
        .arg("--quiet")
        .assert()
        .success()
        .stdout(predicate::str::contains("INFERENCE - SPEED - RESULT"));
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert_eq!(stderr, "", "--quiet prints nothing on stderr");
}

#[test]
fn exports_to_files_and_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("r.md");
    let js = dir.path().join("r.json");
    let args = [
        "--models",
        TINY,
        "--batch-sizes",
        "1",
        "--sequence-lengths",
        "8",
        "128",
    ];
    // Markdown to stdout: no terminal tables, so the stdout is the document alone.
    let output = bin()
        .args(QUICK)
        .args(args)
        .args(["--export-markdown", "-", "--export-json"])
        .arg(&js)
        .assert()
        .success();
    let stdout = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    assert!(stdout.starts_with("# run-benchmark results\n"), "{stdout}");
    assert!(!stdout.contains("===================="), "{stdout}");
    for title in [
        "## INFERENCE - SPEED - RESULT",
        "## INFERENCE - MEMORY - RESULT",
    ] {
        assert!(stdout.contains(title), "{title} missing: {stdout}");
    }
    assert!(stdout.contains(
        "| Model Name | Batch Size | Seq Length | Time (median) | 95% CI | Samples/s | Tokens/s | GFLOP/s | MFU |"
    ));
    assert!(stdout.contains("| :--- | ---: |"));
    assert!(stdout.contains("- Time: median seconds per call"));
    // Every figure carries its unit: a tiny model's milliseconds are not `< 0.001`.
    assert!(
        regex_like_time(&stdout),
        "no time with a unit in the Markdown: {stdout}"
    );
    assert!(stdout.contains(
        "- N/A tests/fixtures/tiny-bert.json (batch 1, sequence 128): sequence length 128 exceeds max_position_embeddings 64"
    ));
    assert!(stdout.contains("## ENVIRONMENT INFORMATION"));
    assert_eq!(json_rows(&js).len(), 4);

    // JSON to stdout, Markdown to a file.
    let output = bin()
        .args(QUICK)
        .args(args)
        .args(["--no-memory", "--export-json", "-", "--export-markdown"])
        .arg(&md)
        .assert()
        .success();
    let export: Value = serde_json::from_slice(&output.get_output().stdout).unwrap();
    assert_eq!(export["rows"].as_array().unwrap().len(), 2);
    assert_eq!(markdown_rows(&md, "tests/fixtures/tiny-bert.json"), 2);

    bin()
        .args(args)
        .args(["--export-json", "-", "--export-markdown", "-"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "only one of --export-json, --export-markdown and --export-csv can go to stdout",
        ));
}

/// Whether a table cell holds a time with its unit (`| 1.234 ms |`).
fn regex_like_time(text: &str) -> bool {
    // A noisy (*, escaped in Markdown) or busy (~) mark may follow.
    predicate::str::is_match(r"\| [0-9]+(\.[0-9]+)? (s|ms|µs|ns)( \\\*)?( ~)? \|")
        .unwrap()
        .eval(text)
}

#[test]
fn csv_holds_every_digit_of_the_json_figure() {
    let dir = tempfile::tempdir().unwrap();
    let js = dir.path().join("r.json");
    let it = dir.path().join("it.csv");
    bin()
        .args(QUICK)
        .args([
            "--models",
            TINY,
            "--batch-sizes",
            "1",
            "2",
            "--sequence-lengths",
            "8",
            "--no-memory",
            "--save-to-csv",
            "--env-info-csv-file",
        ])
        .arg(dir.path().join("env.csv"))
        .arg("--inference-time-csv-file")
        .arg(&it)
        .arg("--export-json")
        .arg(&js)
        .assert()
        .success();
    let rows = json_rows(&js);
    let lines = csv_lines(&it);
    assert_eq!(lines.len(), 2);
    for (line, row) in lines.iter().zip(&rows) {
        let csv: f64 = line.rsplit(',').next().unwrap().parse().unwrap();
        let json = row["speed"]["seconds"].as_f64().unwrap();
        assert_eq!(csv, json, "the CSV figure lost digits: {line}");
    }
}

#[test]
fn log_file_holds_stdout_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.log");
    bin()
        .args(QUICK)
        .args([
            "--models",
            TINY,
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
        ])
        .args(["--no-memory", "--log-filename"])
        .arg(&log)
        .assert()
        .success();
    let text = read(&log);
    assert!(text.contains("Calibrating: fastest matmul"), "{text}");
    assert!(
        text.contains("[1/1] tests/fixtures/tiny-bert.json batch 1"),
        "{text}"
    );
    assert!(text.contains("INFERENCE - SPEED - RESULT"), "{text}");
    assert!(text.contains("| Model Name"), "{text}");

    // --log-print alone: the original's name, log_<unix time>.csv, in the working directory.
    bin()
        .current_dir(dir.path())
        .args(QUICK)
        .args(["--models"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(TINY))
        .args([
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "--no-memory",
            "--log-print",
        ])
        .assert()
        .success();
    let logs: Vec<PathBuf> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("log_") && name.ends_with(".csv")
        })
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(read(&logs[0]).contains("INFERENCE - SPEED - RESULT"));
}

/// Waits for `path` to hold a JSON export with at least `rows` rows.
fn wait_for_rows(path: &Path, rows: usize, child: &mut std::process::Child) {
    let start = Instant::now();
    loop {
        if let Ok(text) = fs::read_to_string(path) {
            if let Ok(export) = serde_json::from_str::<Value>(&text) {
                if export["rows"].as_array().is_some_and(|r| r.len() >= rows) {
                    return;
                }
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the sweep ended ({status}) before {rows} cells finished");
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no {rows} cells after 300 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_keeps_the_finished_cells_and_resume_completes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.json");
    let md = dir.path().join("first.md");
    let it = dir.path().join("it.csv");
    let im = dir.path().join("im.csv");
    let sweep = [
        "--models",
        TINY,
        "--batch-sizes",
        "1",
        "2",
        "--sequence-lengths",
        "8",
        "16",
        "32",
        "--runs",
        "3",
    ];
    let total = 2 * 3 * 2;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_run-benchmark"))
        .args(sweep)
        .arg("--export-json")
        .arg(&first)
        .arg("--export-markdown")
        .arg(&md)
        .args(["--save-to-csv", "--inference-time-csv-file"])
        .arg(&it)
        .arg("--inference-memory-csv-file")
        .arg(&im)
        .arg("--env-info-csv-file")
        .arg(dir.path().join("env.csv"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_rows(&first, 2, &mut child);
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("Interrupted: "), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");

    let finished = json_rows(&first);
    let done = finished.len();
    assert!(done >= 2 && done < total, "{done} of {total} cells");
    assert!(
        stderr.contains(&format!("Interrupted: {done} of {total} cells finished")),
        "{stderr}"
    );
    // Every export holds exactly the finished cells.
    assert_eq!(csv_lines(&it).len() + csv_lines(&im).len(), done);
    assert_eq!(markdown_rows(&md, TINY), done);
    // The tables of the finished cells were printed.
    assert!(stdout.contains("INFERENCE - SPEED - RESULT"), "{stdout}");
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with(&format!("| {TINY} ")))
            .count(),
        done,
        "{stdout}"
    );

    let second = dir.path().join("second.json");
    let output = bin()
        .args(sweep)
        .arg("--resume")
        .arg(&first)
        .arg("--export-json")
        .arg(&second)
        .assert()
        .success();
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(&format!(
            "{done} of {total} cells carried over, {} to measure",
            total - done
        )),
        "{stderr}"
    );
    let all = json_rows(&second);
    assert_eq!(all.len(), total);
    // The carried-over cells are the same cells with the very same samples.
    for old in &finished {
        let same = all
            .iter()
            .find(|new| new["cell"] == old["cell"])
            .unwrap_or_else(|| panic!("{} missing", old["cell"]));
        assert_eq!(same, old, "result changed for {}", old["cell"]);
    }
}

/// A Ctrl-C while the first cell runs: no empty tables on stdout, one line on stderr saying
/// none finished.
#[test]
fn ctrl_c_before_any_cell_finished_prints_no_empty_tables() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.txt");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_run-benchmark"))
        .current_dir(dir.path())
        .args([
            "--models",
            &format!("{}/{TINY}", env!("CARGO_MANIFEST_DIR")),
        ])
        .args([
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "--no-memory",
        ])
        // Two minutes of calls, however fast a call is (1000 calls of a tiny cell take 0.2 s).
        .args(["--min-time", "120", "--max-runs", "100000000"])
        .args(["--precision", "off", "--log-filename"])
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("[1/1]")
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the cell never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert_eq!(stdout, "", "no tables when nothing finished");
    assert!(
        stderr.contains("Interrupted: 0 of 1 cells finished"),
        "{stderr}"
    );
}

/// Every cell N/A (generation on an encoder-only model): one line on stdout with the reason
/// and its count, instead of empty tables with their notes; the dry run marks those cells
/// N/A before any work and leaves them out of its total.
#[test]
fn a_sweep_of_only_na_cells_says_so_in_one_line_and_the_dry_run_foresees_it() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = format!("tiny={}/{TINY}", env!("CARGO_MANIFEST_DIR"));
    let sweep = [
        "--models",
        &tiny,
        "--batch-sizes",
        "1",
        "2",
        "--sequence-lengths",
        "8",
        "--generate",
        "4",
    ];
    let out = (bin().current_dir(dir.path()).args(sweep))
        .arg("--no-inference")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.trim_end(),
        "Nothing measured: all 4 cells are N/A: bert is an encoder-only model: it does not \
         generate text (4 cells).",
    );

    let out = bin()
        .current_dir(dir.path())
        .args(sweep)
        .arg("--dry-run")
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fits = |line: &str| {
        line.split('|')
            .nth(7)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("| tiny")).collect();
    assert_eq!(rows.len(), 8, "{stdout}");
    for row in rows {
        let expected = match row.contains("generation") {
            true => "N/A",
            false => "yes",
        };
        assert_eq!(fits(row), expected, "{row}");
    }
    assert!(
        stdout.contains(
            "4 cell(s) will be N/A without running (Fits: N/A, not in the total): bert is an \
             encoder-only model: it does not generate text (4 cells)."
        ),
        "{stdout}"
    );
    // No progress bar is drawn on a pipe; the dry run's stderr holds the calibration only.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("cells,"));
}

#[test]
fn resume_reruns_cells_with_other_settings() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.json");
    let second = dir.path().join("second.json");
    let args = [
        "--models",
        TINY,
        "--batch-sizes",
        "1",
        "--sequence-lengths",
        "8",
        "--no-memory",
    ];
    bin()
        .args(QUICK)
        .args(args)
        .arg("--export-json")
        .arg(&first)
        .assert()
        .success();
    let output = bin()
        .args(["--runs", "4"])
        .args(args)
        .arg("--resume")
        .arg(&first)
        .arg("--export-json")
        .arg(&second)
        .assert()
        .success();
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("0 of 1 cells carried over, 1 to measure"),
        "{stderr}"
    );
    assert_eq!(
        json_rows(&second)[0]["speed"]["samples"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn sweep_file_with_command_line_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let plan = dir.path().join("plan.toml");
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join(TINY);
    fs::write(
        &plan,
        format!(
            r#"
models = [{{ name = "wide", source = "{}", overrides = {{ hidden_size = 64 }} }}]
batch_sizes = [1]
sequence_lengths = [8, 16]
no_memory = true

[protocol]
runs = 3

[exports]
export_json = "{}"
"#,
            tiny.display(),
            out.display()
        ),
    )
    .unwrap();
    // The file's own run writes the file's export.
    bin().arg("--sweep").arg(&plan).assert().success();
    assert_eq!(json_rows(&out).len(), 2);
    let full = fs::read_to_string(&out).unwrap();
    // Another run (the command line changes the sizes) does not replace the file's report...
    bin()
        .arg("--sweep")
        .arg(&plan)
        .args(["--sequence-lengths", "16"])
        .assert()
        .success()
        .stdout(predicate::str::contains("| wide "))
        .stderr(predicate::str::contains(format!(
            "Sweep file {}: --sequence-lengths change(s) the sweep, so its export_json is not \
             written (give the flag to write this run's)",
            plan.display()
        )));
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        full,
        "the full report is kept"
    );
    // ... unless the command line names the export itself, which is then said to be replaced.
    bin()
        .arg("--sweep")
        .arg(&plan)
        .args(["--sequence-lengths", "16", "--export-json"])
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("Replacing existing file(s)"));
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 1, "the command line's --sequence-lengths wins");
    assert_eq!(rows[0]["cell"]["sequence_length"], 16);
    assert_eq!(rows[0]["cell"]["config"]["hidden_size"], 64);
    assert_eq!(rows[0]["speed"]["samples"].as_array().unwrap().len(), 3);

    // A flag that conflicts with the file's drops it: --min-runs with the file's runs = 3.
    bin()
        .arg("--sweep")
        .arg(&plan)
        .args(["--min-runs", "2", "--max-runs", "2", "--min-time", "0"])
        .arg("--export-json")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "Replacing existing file(s), which will hold this run's cells: {}",
            out.display()
        )));
    assert_eq!(
        json_rows(&out)[0]["speed"]["samples"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    fs::write(&plan, "models = [\"x\"]\nbatch_size = 8\n").unwrap();
    bin()
        .arg("--sweep")
        .arg(&plan)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "unknown key \"batch_size\" (did you mean batch_sizes? keys are the long flags",
        ));
    fs::write(&plan, "models = [\"x\"]\nbatch_sizes = [0]\n").unwrap();
    bin()
        .arg("--sweep")
        .arg(&plan)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("sweep file"))
        .stderr(predicate::str::contains("0 is not a positive number"));
}

fn settings() -> Settings {
    Settings {
        protocol: Protocol::Adaptive {
            warmup: 2,
            warmup_time_s: None,
            min_runs: 10,
            max_runs: 1000,
            min_time_s: 1.0,
            precision: None,
            max_time_s: None,
        },
        device: DeviceChoice::Cpu,
        dtype: Dtype::F32,
        threads: None,
        optimizer: Optimizer::None,
        only_pretrain_model: false,
        framework: run_benchmark::cell::Framework::Pytorch,
        profile: false,
        profile_trace: None,
        onnxruntime_level: None,
        routing: None,
        seed: 0,
    }
}

fn cell(model: &str, batch_size: i64, sequence_length: i64, metric: Metric) -> Cell {
    Cell {
        model: model.into(),
        config: serde_json::json!({"model_type": "bert"}),
        batch_size,
        sequence_length,
        mode: Mode::Inference,
        metric,
        settings: settings(),
        input: Default::default(),
        inputs: Default::default(),
        new_tokens: None,
    }
}

fn speed(samples: Vec<f64>) -> CellResult {
    let stats = Stats::of(&samples).unwrap();
    CellResult::Speed(SpeedResult {
        statistic: Statistic::Median,
        seconds: stats.median,
        samples,
        calls_per_sample: 1,
        warmup_calls: 2,
        stats,
        flops_per_call: Some(1e9),
        bytes_per_call: None,
        interval: None,
        imprecise: false,
        build_seconds: None,
        profile: None,
        generation: None,
        load: None,
        ran: None,
        expert_load: None,
    })
}

fn memory(mib: u64) -> CellResult {
    CellResult::Memory(MemoryResult {
        peak_rss_bytes: mib << 20,
        baseline_rss_bytes: 100 << 20,
        build_peak_rss_bytes: mib << 20,
        gpu: None,
        build_seconds: None,
        estimated_peak_bytes: None,
        kv_cache: None,
        ran: None,
    })
}

/// A synthetic sweep: two models, three sequence lengths, times growing with the length
/// and scaled by `slow` for model "b" at length 128, a little jitter everywhere.
fn synthetic(slow: f64) -> Sweep {
    let mut rows = Vec::new();
    for model in ["a", "b"] {
        for seq in [8, 32, 128] {
            let base = 0.001 * seq as f64 * if model == "b" { 2.0 } else { 1.0 };
            let factor = if model == "b" && seq == 128 {
                slow
            } else {
                1.0
            };
            let samples = (0..12)
                .map(|i| base * factor * (1.0 + 0.01 * ((i * 7) % 5) as f64))
                .collect();
            rows.push((cell(model, 8, seq, Metric::Speed), speed(samples)));
            rows.push((
                cell(model, 8, seq, Metric::Memory),
                memory(500 + seq as u64),
            ));
        }
    }
    Sweep {
        shard: None,
        unread_config_keys: Vec::new(),
        default_threads: None,
        settings: settings(),
        environment: vec![("device".into(), "cpu".into())],
        calibrations: Vec::new(),
        sections: vec![
            (Mode::Inference, Metric::Speed),
            (Mode::Inference, Metric::Memory),
        ],
        rows,
        tokenization: Vec::new(),
    }
}

/// One real sweep (child processes) of the tiny model under the name `tiny`, `config`
/// overriding its config.json, exported to `path`.
fn measure_tiny(path: &Path, overrides: &str) {
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join(TINY);
    bin()
        .args(["--models", &format!("tiny={}{overrides}", tiny.display())])
        .args(["--batch-sizes", "1", "--sequence-lengths", "8", "32"])
        // One thread: libtorch's spinning thread pool turns other processes' load into 10x
        // slowdowns; 20 calls give the median something to stand on.
        .args(["--threads", "1", "--runs", "20", "--quiet", "--export-json"])
        .arg(path)
        .assert()
        .success();
}

/// The seconds of every speed cell of an export, in order.
fn seconds(path: &Path) -> Vec<f64> {
    json_rows(path)
        .iter()
        .filter_map(|r| r["speed"]["seconds"].as_f64())
        .collect()
}

#[test]
fn compare_two_independent_runs_is_quiet_and_catches_a_slower_one() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, slow) = (
        dir.path().join("a.json"),
        dir.path().join("b.json"),
        dir.path().join("slow.json"),
    );
    measure_tiny(&a, "");
    measure_tiny(&b, "");
    // Deliberately slower: four times the layers, four times as wide, under the same name.
    measure_tiny(
        &slow,
        ":num_hidden_layers=8,hidden_size=128,intermediate_size=512",
    );

    // Two runs of the same code. This machine is shared by many processes (load averages
    // of 10+ on 2 cores), where the same microsecond-scale cell drifts by tens of percent
    // between runs, so the floor is declared at 100%: twice as slow; the slower model is
    // more than ten times slower.
    let output = bin()
        .args(["compare", "--noise-floor", "100"])
        .arg(&a)
        .arg(&b)
        .assert()
        .success();
    let stdout = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("0 regressed, 0 failed, 0 improved, 2 within noise"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Noise floor 100.0% (declared with --noise-floor)"),
        "{stdout}"
    );
    assert!(!stdout.contains("Configs differ"), "{stdout}");

    let output = bin()
        .args(["compare", "--noise-floor", "100"])
        .arg(&a)
        .arg(&slow)
        .assert()
        .code(1);
    let stdout = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("2 regressed, 0 failed, 0 improved"),
        "{stdout}"
    );
    assert!(
        stdout.contains("REGRESSED: tiny batch 1 sequence 8 inference time"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "Configs differ under the same name: tiny (hidden_size, intermediate_size, num_hidden_layers)"
        ),
        "{stdout}"
    );

    // The floor measured from the A/A pair is their largest change, and is said.
    let floor = seconds(&a)
        .iter()
        .zip(seconds(&b))
        .map(|(x, y)| (y / x).max(x / y) - 1.0)
        .fold(0.0, f64::max);
    let output = bin()
        .arg("compare")
        .arg(&a)
        .arg(&slow)
        .arg("--noise-from")
        .arg(&a)
        .arg(&b)
        .args(["--format", "markdown"])
        .assert()
        .code(1);
    let stdout = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.starts_with("## run-benchmark compare: 2 regressed\n"),
        "{stdout}"
    );
    assert!(stdout.contains("| Model Name | Batch Size |"), "{stdout}");
    assert!(
        stdout.contains("| tiny | 1 | 8 | inference time |"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "- Noise floor {:.1}% (measured: the largest change between",
            100.0 * floor
        )),
        "{floor}: {stdout}"
    );

    // Errors are not regressions: exit status 2, naming the file.
    bin()
        .arg("compare")
        .arg(&a)
        .arg(dir.path().join("missing.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.json"));
    let bad = dir.path().join("bad.json");
    fs::write(&bad, "{ not json").unwrap();
    bin()
        .arg("compare")
        .arg(&bad)
        .arg(&a)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bad.json is not a run-benchmark JSON export",
        ));
}

#[test]
fn compare_fits_a_narrow_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    let slow = dir.path().join("slow.json");
    json::write(&base, &synthetic(1.0)).unwrap();
    json::write(&slow, &synthetic(1.5)).unwrap();
    let output = bin()
        .env("COLUMNS", "80")
        .arg("compare")
        .arg(&base)
        .arg(&slow)
        .assert()
        .code(1);
    let stdout = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    assert!(stdout.lines().all(|l| l.chars().count() <= 80), "{stdout}");
    assert!(stdout.contains("regressed"), "{stdout}");
    // To a pipe without COLUMNS, every row and note stays on one line.
    let output = bin()
        .env_remove("COLUMNS")
        .arg("compare")
        .arg(&base)
        .arg(&slow)
        .assert()
        .code(1);
    let stdout = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    assert!(stdout.lines().any(|l| l.chars().count() > 80), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("Noise floor 10.0% (the default")
                && l.ends_with("else within threshold (small).")),
        "{stdout}"
    );
}

#[test]
fn compare_clearly_slower_samples_exits_1_naming_the_cell() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    let slow = dir.path().join("slow.json");
    let fast = dir.path().join("fast.json");
    json::write(&base, &synthetic(1.0)).unwrap();
    json::write(&slow, &synthetic(1.5)).unwrap();
    json::write(&fast, &synthetic(0.5)).unwrap();
    bin()
        .arg("compare")
        .arg(&base)
        .arg(&slow)
        .assert()
        .code(1)
        .stdout(predicate::str::is_match(
            r"REGRESSED: b batch 8 sequence 128 inference time: 261\.1 ms -> 391\.7 ms \(\+50\.0%\)",
        ).unwrap())
        .stdout(predicate::str::contains(
            "1 regressed, 0 failed, 0 improved, 5 within noise, 6 within threshold, 0 not comparable",
        ));
    bin()
        .arg("compare")
        .arg(&base)
        .arg(&fast)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "0 regressed, 0 failed, 1 improved, 5 within noise, 6 within threshold",
        ));
    // 50% slower is within a 60% threshold.
    bin()
        .arg("compare")
        .arg(&base)
        .arg(&slow)
        .args(["--threshold", "60"])
        .assert()
        .success();
}

/// A cell measured in the baseline that crashed in the new run fails the comparison with
/// its own verdict, the regression exit status and the reason; two exports with no cell in
/// common are an error (exit 2), in one line.
#[test]
fn compare_fails_a_cell_that_became_na_and_exports_with_nothing_in_common() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    let crashed = dir.path().join("crashed.json");
    json::write(&base, &synthetic(1.0)).unwrap();
    let mut sweep = synthetic(1.0);
    sweep.rows[0].1 = CellResult::na("child killed by SIGKILL (out of memory?)");
    json::write(&crashed, &sweep).unwrap();
    bin()
        .arg("compare")
        .arg(&base)
        .arg(&crashed)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "0 regressed, 1 failed, 0 improved, 5 within noise, 6 within threshold, 0 not comparable",
        ))
        .stdout(predicate::str::is_match(
            r"FAILED: a batch 8 sequence 8 inference time: measured in the baseline \([0-9.]+ ms\), N/A in the new run \(child killed by SIGKILL \(out of memory\?\)\)",
        ).unwrap());
    // The other way round (N/A in the baseline, measured now) is no failure.
    bin()
        .arg("compare")
        .arg(&crashed)
        .arg(&base)
        .assert()
        .success()
        .stdout(predicate::str::contains("1 not comparable"));

    let other = dir.path().join("other.json");
    let mut sweep = synthetic(1.0);
    for row in &mut sweep.rows {
        row.0.model = format!("other-{}", row.0.model);
    }
    json::write(&other, &sweep).unwrap();
    let output = bin().arg("compare").arg(&base).arg(&other).assert().code(2);
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("have no cell in common"), "{stderr}");
}

/// Every section of a run (inference, training and generation, speed and memory, the N/A
/// notes and the environment) on an 80-column terminal: no line is wider, names are elided
/// (the part after the `/`, then `…`) rather than broken mid-token.
#[test]
fn every_section_fits_an_80_column_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let gpt2 = "openai-community/gpt2-tiny-long-name=gpt2:n_embd=32,n_layer=2,n_head=2,\
        vocab_size=99,n_positions=40";
    let bert = format!(
        "google-bert/bert-base-uncased-tiny={}/{TINY}",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = bin()
        .current_dir(dir.path())
        .env("COLUMNS", "80")
        .args(QUICK)
        .args([
            "--models",
            gpt2,
            &bert,
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
        ])
        .args(["--training", "--generate", "4", "--env-print"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for title in [
        "INFERENCE - SPEED - RESULT",
        "INFERENCE - MEMORY - RESULT",
        "TRAIN - SPEED - RESULT",
        "TRAIN - MEMORY - RESULT",
        "GENERATION - SPEED - RESULT",
        "GENERATION - MEMORY - RESULT",
        "ENVIRONMENT INFORMATION",
    ] {
        assert!(stdout.contains(title), "{title}: {stdout}");
    }
    let widest = stdout.lines().map(|l| l.chars().count()).max().unwrap();
    assert_eq!(widest, 80, "{stdout}");
    // Each table row holds a whole name, elided or not: none continues on the next line.
    for line in stdout.lines().filter(|l| l.starts_with("| ")) {
        let name = line[2..].split(" |").next().unwrap().trim();
        assert!(
            !["name", "ny", "ased", "-tiny"].contains(&name),
            "a name broken mid-token: {stdout}"
        );
    }
    assert!(stdout.contains("| gpt2-tiny-long"), "{stdout}");
    assert!(!stdout.contains("| openai-community/"), "{stdout}");
}

/// The sections the test above does not run, on an 80-column terminal: TOKENIZATION
/// (--input-text), the --profile breakdowns, and the roofline columns (GB/s, MBU, Bound) of
/// the speed tables: no line is wider, and a note is printed only with its column and once.
#[test]
fn tokenization_profile_and_roofline_fit_an_80_column_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = trained::write_corpus(dir.path());
    let model = trained::model_folder(&dir.path().join("bert"), &trained::tiny_bert(128));
    trained::save(&trained::train_wordpiece(&corpus, 128), &model);
    let named = format!(
        "google-bert/bert-base-uncased-text-tiny={}",
        model.display()
    );
    let run = |columns: &str| {
        let out = bin()
            .current_dir(dir.path())
            .env("COLUMNS", columns)
            .args(QUICK)
            .args(["--models", &named, "--input-text"])
            .arg(&corpus)
            .args(["--batch-sizes", "4", "--sequence-lengths", "16"])
            .args(["--training", "--profile"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let stdout = run("80");
    for title in [
        "INFERENCE - SPEED - RESULT",
        "TRAIN - SPEED - RESULTS",
        "PROFILE",
        "INFERENCE - PROFILE - ",
        "TRAIN - PROFILE - ",
        "TOKENIZATION - SPEED - RESULT",
    ] {
        assert!(stdout.contains(title), "{title}: {stdout}");
    }
    let widest = stdout.lines().map(|l| l.chars().count()).max().unwrap();
    assert_eq!(widest, 80, "{stdout}");
    // The tokenization table keeps its names whole (it once shrank them to one character).
    assert!(stdout.contains("| bert-base-uncased-text-tiny"), "{stdout}");
    for line in stdout.lines().filter(|l| l.starts_with("| ")) {
        let name = line[2..].split(" |").next().unwrap().trim();
        assert!(
            name.chars().count() != 1,
            "a name one character wide: {stdout}"
        );
    }
    // The roofline columns are left out at 80 columns, and their notes with them.
    assert!(stdout.contains("GB/s, MBU, Bound"), "{stdout}");
    for note in [
        "GB/s: bytes of memory traffic",
        "MBU: GB/s over",
        "MFU: GFLOP/s",
    ] {
        assert!(
            !stdout.contains(note),
            "{note} without its column: {stdout}"
        );
    }
    // Each note once per section.
    for section in stdout.split("\n====================") {
        let mut seen = std::collections::HashSet::new();
        for line in section
            .lines()
            .filter(|l| l.contains(": ") && !l.starts_with('|'))
        {
            assert!(seen.insert(line), "{line} twice in one section: {section}");
        }
    }

    // Wide enough for the roofline: its columns and their notes, once per speed section.
    let wide = run("200");
    assert!(wide.contains(" Bound |"), "{wide}");
    assert!(wide.contains("MBU: GB/s over"), "{wide}");
    assert_eq!(wide.matches("MBU: GB/s over").count(), 2, "{wide}");
    let widest = wide.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 200, "{wide}");
}

/// compare and the dry run on an 80-column terminal: no line is wider, and every verdict is
/// one whole word in its cell (never `regress` / `ed`).
#[test]
fn compare_and_the_dry_run_fit_an_80_column_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    let slow = dir.path().join("slow.json");
    json::write(&base, &synthetic(1.0)).unwrap();
    json::write(&slow, &synthetic(1.3)).unwrap();
    let out = (bin().env("COLUMNS", "80").arg("compare"))
        .arg(&base)
        .arg(&slow)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let widest = stdout.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 80, "{widest} columns:\n{stdout}");
    let verdicts = ["better", "worse", "noise", "small", "FAILED", "n/a"];
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("| ")).collect();
    assert!(rows.iter().any(|r| r.contains(" worse ")), "{stdout}");
    // A row of a cell starts with its model's name (the header's and a wrapped cell's
    // continuation lines do not), and holds its verdict whole.
    for row in rows
        .iter()
        .filter(|r| r.starts_with("| a ") || r.starts_with("| b "))
    {
        let words: Vec<&str> = row.split('|').map(str::trim).collect();
        assert!(
            words.iter().any(|w| verdicts.contains(w)),
            "a row without a whole verdict: {row}\n{stdout}"
        );
    }

    let tiny = format!(
        "google-bert/bert-base-uncased-tiny={}/{TINY}",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = (bin().current_dir(dir.path()).env("COLUMNS", "80"))
        .args(["--models", &tiny, "--batch-sizes", "1", "8"])
        .args([
            "--sequence-lengths",
            "8",
            "--training",
            "--generate",
            "4",
            "--dry-run",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Total: "), "{stdout}");
    let widest = stdout.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 80 && widest > 60, "{widest} columns:\n{stdout}");
}

/// An A/A pair: the same tiny sweep run twice back to back (real child processes) must not
/// come out REGRESSED under compare's default verdict, whatever else the machine runs.
#[test]
fn compare_of_two_runs_of_the_same_sweep_finds_no_regression() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = format!("tiny={}/{TINY}", env!("CARGO_MANIFEST_DIR"));
    let run = |name: &str| {
        let path = dir.path().join(name);
        bin()
            .current_dir(dir.path())
            .args(QUICK)
            .args(["--models", &tiny, "--batch-sizes", "1", "2"])
            .args(["--sequence-lengths", "8", "16", "--quiet", "--export-json"])
            .arg(&path)
            .assert()
            .success();
        path
    };
    let (a, b) = (run("a.json"), run("b.json"));
    let out = bin()
        .env("COLUMNS", "200")
        .arg("compare")
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 regressed, 0 failed"), "{stdout}");
    assert!(!stdout.contains("REGRESSED"), "{stdout}");
    // Every cell matched: no warning about part of them.
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("only"),
        "{:?}",
        out.stderr
    );
}

/// Only part of the cells in common (a model renamed in one of two): compare still compares
/// those, and warns in one line on stderr.
#[test]
fn compare_warns_when_only_part_of_the_cells_match() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    json::write(&base, &synthetic(1.0)).unwrap();
    let renamed = dir.path().join("renamed.json");
    let mut sweep = synthetic(1.0);
    sweep.rows[0].0.model = "renamed".into();
    json::write(&renamed, &sweep).unwrap();
    let out = bin()
        .arg("compare")
        .arg(&base)
        .arg(&renamed)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("1 only in"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Only in the new run: renamed"));
}

/// A cell either run measured on a busy machine is judged on a floor as wide as the other
/// processes' cores, and the summary says what to do.
#[test]
fn compare_judges_cells_measured_busy_on_a_wider_floor() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    json::write(&base, &synthetic(1.0)).unwrap();
    let slow = dir.path().join("slow.json");
    let mut sweep = synthetic(3.0);
    for (_, result) in &mut sweep.rows {
        if let CellResult::Speed(s) = result {
            s.load = Some(run_benchmark::cell::Load {
                other_cores: 4.0,
                cores: 8,
                busy: true,
            });
            // One thread beside four cores of other work: a core to spare, so a floor.
            s.ran = Some(run_benchmark::cell::Ran {
                threads: 1,
                dtype: run_benchmark::cell::Dtype::F32,
                pretrained: None,
            });
        }
    }
    json::write(&slow, &sweep).unwrap();
    let out = bin()
        .env("COLUMNS", "200")
        .arg("compare")
        .arg(&base)
        .arg(&slow)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Three times slower with four cores' worth of other work: within its floor.
    assert!(!stdout.contains("REGRESSED"), "{stdout}");
    assert!(
        stdout.contains("6 speed cell(s) were measured while other processes"),
        "{stdout}"
    );
    assert!(stdout.contains("--threads 1"), "{stdout}");
}

/// A cell whose threads and the other work wanted more cores than the machine has can be
/// slowed without bound (a thread waiting at a barrier for a core): a thousand times slower
/// is then no verdict at all, not a regression, and the row says why.
#[test]
fn compare_does_not_judge_cells_measured_oversubscribed() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    json::write(&base, &synthetic(1.0)).unwrap();
    let starved = dir.path().join("starved.json");
    let mut sweep = synthetic(1000.0);
    for (_, result) in &mut sweep.rows {
        if let CellResult::Speed(s) = result {
            s.load = Some(run_benchmark::cell::Load {
                other_cores: 1.5,
                cores: 2,
                busy: true,
            });
            s.ran = Some(run_benchmark::cell::Ran {
                threads: 2,
                dtype: run_benchmark::cell::Dtype::F32,
                pretrained: None,
            });
        }
    }
    json::write(&starved, &sweep).unwrap();
    let out = bin()
        .env("COLUMNS", "200")
        .arg("compare")
        .arg(&base)
        .arg(&starved)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("REGRESSED"), "{stdout}");
    assert!(
        stdout.contains(
            "measured oversubscribed: 2 thread(s) and 1.5 cores of other work on 2 cores"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("0 regressed"), "{stdout}");
}

#[test]
fn plot_draws_png_and_svg_from_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.json");
    json::write(&results, &synthetic(1.0)).unwrap();
    let png = dir.path().join("chart.png");
    bin()
        .arg("plot")
        .arg(&results)
        .arg("-o")
        .arg(&png)
        .assert()
        .success()
        .stderr(predicate::str::contains(format!("Saved {}", png.display())));
    let bytes = fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(bytes.len() > 10_000, "{} bytes", bytes.len());

    let svg = dir.path().join("chart.svg");
    bin()
        .arg("plot")
        .arg(&results)
        .args(["--metric", "memory", "--x", "batch-size", "--linear", "-o"])
        .arg(&svg)
        .assert()
        .success();
    let text = read(&svg);
    assert!(text.starts_with("<svg"), "{}", &text[..100.min(text.len())]);
    assert!(text.contains("Inference memory: peak resident memory against batch size"));
    assert!(text.contains("Peak resident memory in MB"));
    assert!(text.contains("a, sequence 128"));

    // Without -o: the input's name with .png, beside it.
    bin()
        .current_dir(dir.path())
        .args(["plot", "results.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("Saved results.png"));
    let bytes = fs::read(dir.path().join("results.png")).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");

    // Time with the samples' spread: a translucent band under each line, and said so.
    let svg = dir.path().join("time.svg");
    bin()
        .arg("plot")
        .arg(&results)
        .arg("-o")
        .arg(&svg)
        .assert()
        .success();
    let text = read(&svg);
    assert!(
        text.contains("<polygon opacity=\"0.2\""),
        "no spread band: {text}"
    );
    assert!(text.contains("shaded: the samples&apos; interquartile range"));
    // Memory that spans 508 to 628 MB: a linear axis (a log one would show one tick), and
    // --metric increase draws what the call added rather than libtorch's own memory.
    let svg = dir.path().join("memory.svg");
    bin()
        .arg("plot")
        .arg(&results)
        .args(["--metric", "memory", "-o"])
        .arg(&svg)
        .assert()
        .success();
    let text = read(&svg);
    assert!(text.contains("Peak resident memory in MB\n"), "{text}");
    assert!(!text.contains("memory in MB, log scale"), "{text}");
    let svg = dir.path().join("increase.svg");
    bin()
        .arg("plot")
        .arg(&results)
        .args(["--metric", "increase", "-o"])
        .arg(&svg)
        .assert()
        .success();
    assert!(read(&svg).contains("Resident memory increase in MB"));

    // A schema-1 export (rows as [cell, result] pairs) is still read.
    let old = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export-schema1.json");
    let svg = dir.path().join("old.svg");
    bin()
        .arg("plot")
        .arg(&old)
        .arg("-o")
        .arg(&svg)
        .assert()
        .success();
    assert!(read(&svg).contains("tiny, batch 1"));
    bin()
        .arg("compare")
        .arg(&old)
        .arg(&old)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "0 regressed, 0 failed, 0 improved, 2 within noise",
        ));

    // The original's CSV format; a file name saying memory is read as memory.
    let csv = dir.path().join("inference_time_1.csv");
    fs::write(
        &csv,
        "model,batch_size,sequence_length,result\r\nbert,8,8,0.0100\r\nbert,8,32,0.0300\r\nbert,8,128,N/A\r\n",
    )
    .unwrap();
    let svg = dir.path().join("csv.svg");
    bin()
        .arg("plot")
        .arg(&csv)
        .arg("-o")
        .arg(&svg)
        .assert()
        .success();
    let text = read(&svg);
    // Ticks in the figures' unit: 10 and 30 ms, not 0.01 and 0.03 s.
    assert!(text.contains("Time per call in ms, log scale"), "{text}");
    assert!(text.contains("bert, batch 8"));

    bin()
        .arg("plot")
        .arg(&csv)
        .args(["-o", "chart.jpg"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("must end in .svg or .png"));
}

#[test]
fn help_documents_subcommands_and_exit_codes() {
    let output = bin().arg("--help").assert().success();
    let help = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    for needle in [
        "plot",
        "compare",
        "completions",
        "--export-markdown",
        "--resume",
        "--sweep",
        "--quiet",
        "--log-print",
        "--log-filename",
        "130  interrupted",
    ] {
        assert!(help.contains(needle), "{needle} missing from --help");
    }
    assert!(!help.contains("__cell"));
    bin()
        .args(["compare", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--threshold"))
        .stdout(predicate::str::contains("at least one cell regressed"))
        .stdout(predicate::str::contains("--noise-floor"))
        .stdout(predicate::str::contains("2  an error"));
}

/// `--export-csv`: one tidy file, one header, a row per cell and statistic, beside the
/// original's per-section files; `-` writes it to stdout instead of the tables.
#[test]
fn export_csv_writes_one_tidy_file_of_every_cell() {
    let dir = tempfile::tempdir().unwrap();
    let tidy = dir.path().join("tidy.csv");
    let tiny = format!("tiny={}/{TINY}", env!("CARGO_MANIFEST_DIR"));
    let sweep = [
        "--models",
        &tiny,
        "--batch-sizes",
        "1",
        "--sequence-lengths",
        "8",
        "--generate",
        "4",
    ];
    bin()
        .current_dir(dir.path())
        .args(QUICK)
        .args(sweep)
        .args(["--save-to-csv", "--export-csv"])
        .arg(&tidy)
        .assert()
        .success();
    let text = read(&tidy);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "model,batch_size,sequence_length,mode,metric,dtype,threads,framework,new_tokens,\
         statistic,value,unit,reason"
    );
    assert_eq!(lines.iter().filter(|l| l.starts_with("model,")).count(), 1);
    // Memory: one row in bytes; speed: the median and the samples' figures in seconds;
    // each N/A cell one row with its reason.
    let rows: Vec<Vec<&str>> = lines[1..].iter().map(|l| l.split(',').collect()).collect();
    let of = |metric: &str, statistic: &str| {
        (rows.iter())
            .find(|r| r[3] == "inference" && r[4] == metric && r[9] == statistic)
            .unwrap_or_else(|| panic!("no {metric} {statistic}: {text}"))
            .clone()
    };
    let peak = of("memory", "peak");
    assert_eq!(
        (peak[5], peak[7], peak[11]),
        ("f32", "pytorch", "B"),
        "{text}"
    );
    assert!(peak[10].parse::<u64>().unwrap() > 100 << 20, "{text}");
    let median = of("speed", "median");
    assert!(median[6].parse::<usize>().unwrap() >= 1, "threads: {text}");
    let (median_s, min_s) = (median[10].parse::<f64>().unwrap(), of("speed", "min")[10]);
    assert!(median_s >= min_s.parse::<f64>().unwrap() && median[11] == "s");
    assert_eq!(of("speed", "samples")[10], "3");
    let na: Vec<&Vec<&str>> = rows.iter().filter(|r| r[9] == "n/a").collect();
    assert_eq!(na.len(), 2, "{text}");
    assert!(na
        .iter()
        .all(|r| r[3] == "generation" && r[8] == "4" && r[10].is_empty()));
    assert!(na[0][12].contains("encoder-only"), "{text}");
    // The original's files are still written.
    let originals = fs::read_dir(dir.path()).unwrap().count();
    assert!(originals >= 3, "{originals} files");

    let out = (bin().current_dir(dir.path()).args(QUICK).args(sweep))
        .args(["--no-memory", "--export-csv", "-"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("model,batch_size,"), "{stdout}");
    assert!(!stdout.contains("RESULT"), "{stdout}");
}

/// MFU past 100% by more than noise says the ceiling was measured low (a busy calibration,
/// or a cached one): the MFU note says so and names --recalibrate; a sound ceiling adds
/// nothing.
#[test]
fn mfu_above_the_ceiling_says_the_ceiling_was_measured_low() {
    use run_benchmark::cell::{Calibration, CalibrationResult};
    use run_benchmark::report::section;
    let mfu_note = |flops_per_second: f64| {
        let mut sweep = synthetic(1.0);
        let calibration = CalibrationResult {
            size: 1024,
            flops_per_second,
            bandwidth: None,
        };
        sweep.calibrations = vec![(Calibration::of(&sweep.settings), calibration)];
        let notes = section::build(&sweep, Mode::Inference, Metric::Speed).notes;
        notes.into_iter().find(|n| n.starts_with("MFU:")).unwrap()
    };
    // 1 GFLOP a call in 8 to 256 ms: 4 to 125 GFLOP/s.
    let sound = mfu_note(1e12);
    assert!(!sound.contains("measured low"), "{sound}");
    let low = mfu_note(10e9);
    assert!(
        low.contains("row(s) above 110%: the ceiling was measured low"),
        "{low}"
    );
    assert!(low.contains("--recalibrate"), "{low}");
    // At 1 GFLOP a call, a's 8 / 32 / 128 ms and b's 16 / 64 / 256 ms are 125, 31, 7.8, 62,
    // 16 and 3.9 GFLOP/s: four pass 11 GFLOP/s, 110% of a 10 GFLOP/s ceiling.
    assert!(low.contains(" 4 row(s) above 110%"), "{low}");
}

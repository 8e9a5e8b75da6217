//! End-to-end tests: the real binary, real child processes, real files, on a tiny BERT.

use predicates::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};

mod e2e;

use e2e::{bin, read, QUICK, TINY};

/// The data rows of a result CSV, after checking the original's header and line ends.
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = read(path);
    assert!(
        text.starts_with("model,batch_size,sequence_length,result\r\n"),
        "{}: {text:?}",
        path.display()
    );
    assert!(text.ends_with("\r\n"));
    text.split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

struct CsvPaths {
    _dir: tempfile::TempDir,
    inference_time: PathBuf,
    inference_memory: PathBuf,
    train_time: PathBuf,
    train_memory: PathBuf,
    env_info: PathBuf,
}

impl CsvPaths {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        CsvPaths {
            inference_time: p("it.csv"),
            inference_memory: p("im.csv"),
            train_time: p("tt.csv"),
            train_memory: p("tm.csv"),
            env_info: p("env.csv"),
            _dir: dir,
        }
    }

    fn args(&self) -> Vec<String> {
        let mut args = vec!["--save-to-csv".to_string()];
        for (flag, path) in [
            ("--inference-time-csv-file", &self.inference_time),
            ("--inference-memory-csv-file", &self.inference_memory),
            ("--train-time-csv-file", &self.train_time),
            ("--train-memory-csv-file", &self.train_memory),
            ("--env-info-csv-file", &self.env_info),
        ] {
            args.push(flag.into());
            args.push(path.display().to_string());
        }
        args
    }
}

#[test]
fn sweep_in_child_processes_prints_five_sections_and_writes_five_csv_files() {
    let csv = CsvPaths::new();
    let output = bin()
        .args([
            "--models",
            TINY,
            "wide=tests/fixtures/tiny-bert.json:hidden_size=64",
        ])
        .args(["--batch-sizes", "1", "2", "--sequence-lengths", "8", "16"])
        .args([
            "--training",
            "--env-print",
            "--protocol",
            "original",
            "--repeat",
            "2",
        ])
        .args(csv.args())
        .assert()
        .success();
    let stdout = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    let headers = [
        "====================       INFERENCE - SPEED - RESULT       ====================",
        "====================      INFERENCE - MEMORY - RESULT       ====================",
        "====================        TRAIN - SPEED - RESULTS         ====================",
        "====================        TRAIN - MEMORY - RESULTS        ====================",
        "====================        ENVIRONMENT INFORMATION         ====================",
    ];
    let mut last = 0;
    for header in headers {
        let at = stdout
            .find(header)
            .unwrap_or_else(|| panic!("no {header} in\n{stdout}"));
        assert!(at >= last, "sections out of order");
        last = at;
    }
    assert!(stdout.contains("| Model Name"));
    assert!(stdout.contains("Time (minimum)"));
    assert!(stdout.contains("Memory in MB"));
    assert!(stdout.contains("fastest of 2 repetitions of 10 calls (the original's protocol)"));
    assert!(stdout.contains("| wide"));
    assert!(!stdout.contains("N/A"), "{stdout}");

    for path in [&csv.inference_time, &csv.train_time] {
        let rows = csv_rows(path);
        assert_eq!(rows.len(), 2 * 2 * 2, "{}", path.display());
        assert_eq!(rows[0][..3], [TINY, "1", "8"]);
        assert_eq!(rows[7][..3], ["wide", "2", "16"]);
        for row in rows {
            let seconds: f64 = row[3].parse().unwrap();
            // No upper bound: a shared machine may be arbitrarily slow.
            assert!(seconds > 0.0 && seconds.is_finite(), "{row:?}");
        }
    }
    for path in [&csv.inference_memory, &csv.train_memory] {
        let rows = csv_rows(path);
        assert_eq!(rows.len(), 8);
        for row in rows {
            let mib: u64 = row[3].parse().unwrap();
            // libtorch alone is resident for tens of MiB; a tiny model adds little.
            assert!((10..4096).contains(&mib), "{row:?}");
        }
    }
    let env = read(&csv.env_info);
    assert!(!env.starts_with("key"), "the environment CSV has no header");
    for key in [
        "run_benchmark_version,",
        "libtorch_version,2.13.0",
        "tch_version,0.26",
        "cpu_ram_mb,",
        "use_multiprocessing,true",
        "num_gpus,",
    ] {
        assert!(env.contains(key), "{key} missing from {env}");
    }
    assert!(env.contains("\r\n"));
}

#[test]
fn training_memory_exceeds_inference_memory_for_a_larger_model() {
    // Gradients and activations kept for backward must show in the peak.
    let csv = CsvPaths::new();
    bin()
        .args(QUICK)
        .args(["--models", "big=tests/fixtures/tiny-bert.json:hidden_size=512,intermediate_size=2048,num_hidden_layers=4,num_attention_heads=8,vocab_size=8000"])
        .args(["--batch-sizes", "4", "--sequence-lengths", "64", "--training", "--no-speed"])
        .args(csv.args())
        .assert()
        .success();
    let inference: u64 = csv_rows(&csv.inference_memory)[0][3].parse().unwrap();
    let training: u64 = csv_rows(&csv.train_memory)[0][3].parse().unwrap();
    // ~17M parameters: gradients alone add ~68 MB.
    assert!(
        training > inference + 50,
        "inference {inference} MB, training {training} MB"
    );
}

#[test]
fn too_long_sequences_are_na_with_a_reason_and_the_sweep_goes_on() {
    let csv = CsvPaths::new();
    bin()
        .args(QUICK)
        .args([
            "--models",
            TINY,
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "128",
        ])
        .args(csv.args())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "sequence length 128 exceeds max_position_embeddings 64",
        ));
    let rows = csv_rows(&csv.inference_time);
    assert_eq!(rows.len(), 2);
    assert_ne!(rows[0][3], "N/A");
    assert_eq!(rows[1][3], "N/A");
    assert_eq!(csv_rows(&csv.inference_memory)[1][3], "N/A");
}

#[test]
fn a_vision_sweep_is_over_image_sizes_and_counts_patches_as_tokens() {
    // The ViT parity fixture: 32-pixel images in 8x8 patches; 48 pixels interpolate the
    // position embeddings. Training runs the classification loss in the child.
    let json = tempfile::NamedTempFile::new().unwrap();
    let out = bin()
        .args(QUICK)
        .args([
            "--models",
            "vit=tests/fixtures/parity/vit",
            "--batch-sizes",
            "2",
        ])
        .args([
            "--sequence-lengths",
            "32",
            "48",
            "--training",
            "--no-memory",
        ])
        .args(["--export-json", json.path().to_str().unwrap()])
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("| Image Size |"), "{stdout}");
    assert!(
        !stdout.contains("Seq Length") && !stdout.contains("N/A"),
        "{stdout}"
    );
    let export: serde_json::Value = serde_json::from_str(&read(json.path())).unwrap();
    let rows = export["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for row in rows {
        let (cell, result) = (&row["cell"], &e2e::result(row));
        assert_eq!(cell["input"]["kind"], "pixels");
        assert_eq!(result["status"], "speed", "{result}");
        // Tokens/s in the table: batch x (side / 8)² patches over the median.
        let side = cell["sequence_length"].as_i64().unwrap();
        let tokens = 2.0 * ((side / 8) * (side / 8)) as f64 / result["seconds"].as_f64().unwrap();
        let rate = match tokens {
            t if t >= 100.0 => format!("{t:.0}"),
            t if t >= 10.0 => format!("{t:.1}"),
            t => format!("{t:.2}"),
        };
        assert!(
            stdout.contains(&format!(" {rate} |")),
            "{rate} not in {stdout}"
        );
    }
}

#[test]
fn a_speech_sweep_is_over_audio_seconds_and_counts_encoder_positions_as_tokens() {
    // The Whisper parity fixture (d_model 32, 2 + 2 layers, 30 s of positions) over 5 and
    // 30 s, inference and training, as `--models openai/whisper-tiny` runs; 31 s is past the
    // encoder's positions and N/A before any child starts.
    let json = tempfile::NamedTempFile::new().unwrap();
    let out = bin()
        .args(QUICK)
        .env("HF_HUB_OFFLINE", "1")
        .args([
            "--models",
            "whisper=tests/fixtures/parity/whisper",
            "--batch-sizes",
            "1",
            "2",
            "--sequence-lengths",
            "5",
            "30",
            "31",
            "--training",
        ])
        .args(["--export-json", json.path().to_str().unwrap()])
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("| Audio Length (s) |"), "{stdout}");
    assert!(!stdout.contains("Seq Length"), "{stdout}");
    assert!(stdout.contains("fixed 4-token prefix"), "{stdout}");
    assert!(
        stdout.contains(
            "N/A whisper (batch 1, audio seconds 31): audio length 31 s exceeds the 30 s"
        ),
        "{stdout}"
    );
    let export: serde_json::Value = serde_json::from_str(&read(json.path())).unwrap();
    let rows = export["rows"].as_array().unwrap();
    // 2 batch sizes x 3 lengths x (inference, training) x (memory, speed).
    assert_eq!(rows.len(), 24);
    for row in rows {
        let (cell, result) = (&row["cell"], &e2e::result(row));
        assert_eq!(cell["input"]["kind"], "audio");
        let seconds = cell["sequence_length"].as_i64().unwrap();
        if seconds == 31 {
            assert_eq!(result["status"], "not_available", "{result}");
            continue;
        }
        assert!(
            result["status"] == "speed" || result["status"] == "memory",
            "{result}"
        );
        if result["status"] != "speed" {
            continue;
        }
        // Tokens/s in the table: batch x 50 encoder positions a second over the median.
        let batch = cell["batch_size"].as_i64().unwrap();
        let tokens = (batch * 50 * seconds) as f64 / result["seconds"].as_f64().unwrap();
        let rate = match tokens {
            t if t >= 100.0 => format!("{t:.0}"),
            t if t >= 10.0 => format!("{t:.1}"),
            t => format!("{t:.2}"),
        };
        assert!(
            stdout.contains(&format!(" {rate} |")),
            "{rate} not in {stdout}"
        );
    }
}

#[test]
fn a_failing_child_becomes_na_and_others_still_run() {
    // A 1e11-row embedding cannot be allocated: the child reports libtorch's error.
    let csv = CsvPaths::new();
    bin()
        .args(QUICK)
        .args([
            "--models",
            "huge=tests/fixtures/tiny-bert.json:vocab_size=100000000000",
            TINY,
        ])
        .args([
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "--no-memory",
        ])
        .args(csv.args())
        .assert()
        .success()
        .stdout(predicate::str::contains("N/A huge (batch 1, sequence 8):"));
    let rows = csv_rows(&csv.inference_time);
    assert_eq!(rows[0][..2], ["huge".to_string(), "1".to_string()]);
    assert_eq!(rows[0][3], "N/A");
    assert!(rows[1][3].parse::<f64>().is_ok(), "{rows:?}");
}

#[test]
fn a_child_past_its_timeout_is_killed_and_na() {
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
        .args(["--no-memory", "--timeout", "0.001"])
        .assert()
        .success()
        .stdout(predicate::str::contains("timed out after 0.001 s"));
}

#[test]
fn in_process_mode_measures_too() {
    bin()
        .args(QUICK)
        .args([
            "--models",
            TINY,
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "128",
        ])
        .args(["--no-multi-process", "--training", "--env-print"])
        .assert()
        .success()
        .stdout(predicate::str::contains("TRAIN - SPEED - RESULTS"))
        .stdout(predicate::str::is_match(r"use_multiprocessing +\| false").unwrap())
        .stdout(predicate::str::contains("exceeds max_position_embeddings"));
}

#[test]
fn the_seeds_three_config_example_is_one_command_line() {
    bin()
        .args(QUICK)
        .args([
            "--models",
            "bert-base",
            "bert-384-hid=bert-base:hidden_size=384",
            "bert-6-lay=bert-base:num_hidden_layers=6",
        ])
        .args([
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "--no-memory",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("| bert-base "))
        .stdout(predicate::str::contains("| bert-384-hid "))
        .stdout(predicate::str::contains("| bert-6-lay "))
        .stdout(predicate::str::contains("N/A").not());
}

/// Bad input: one line on stderr naming the problem, a non-zero exit, and no cell run.
fn assert_rejected(args: &[&str], code: i32, needle: &str) {
    let home = tempfile::tempdir().unwrap();
    let output = bin()
        .env("HF_HOME", home.path())
        .env("HF_HUB_OFFLINE", "1")
        .args(args)
        .assert()
        .failure()
        .code(code);
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
    assert!(!stderr.contains("[1/"), "a cell ran: {stderr}");
    if code == 1 {
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn unknown_model_is_one_line_naming_it_and_where_it_looked() {
    assert_rejected(
        &["--models", "bert-base-uncased", "no-such/model"],
        1,
        "model \"no-such/model\": not found (\"no-such/model\" is not a file or folder, not in the embedded registry",
    );
}

#[test]
fn batch_size_zero_is_rejected() {
    assert_rejected(
        &["--models", TINY, "--batch-sizes", "0"],
        2,
        "0 is not a positive number",
    );
}

#[test]
fn malformed_config_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    fs::write(&file, "{\"model_type\": \"bert\",,}").unwrap();
    assert_rejected(
        &["--models", file.to_str().unwrap()],
        1,
        "config.json is not valid JSON",
    );
}

#[test]
fn unwritable_csv_path_is_rejected_before_any_cell() {
    assert_rejected(
        &[
            "--models",
            TINY,
            "--save-to-csv",
            "--inference-time-csv-file",
            "/no/such/dir/t.csv",
        ],
        1,
        "cannot write CSV file /no/such/dir/t.csv",
    );
}

#[test]
fn unsupported_model_type_names_the_supported_ones() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    fs::write(&file, r#"{"model_type": "xlnet", "vocab_size": 10}"#).unwrap();
    assert_rejected(
        &["--models", file.to_str().unwrap()],
        1,
        "model_type \"xlnet\" is not supported; supported: albert, bart, bert, ",
    );
}

#[test]
fn help_explains_every_flag() {
    let output = bin().arg("--help").assert().success();
    let help = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    for flag in [
        "--models",
        "--batch-sizes",
        "--sequence-lengths",
        "--training",
        "--no-inference",
        "--no-speed",
        "--no-memory",
        "--no-multi-process",
        "--no-cuda",
        "--save-to-csv",
        "--inference-time-csv-file",
        "--inference-memory-csv-file",
        "--train-time-csv-file",
        "--train-memory-csv-file",
        "--env-info-csv-file",
        "--env-print",
        "--repeat",
        "--verbose",
    ] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{flag} missing from --help"));
        let explained = line.len() > flag.len() + 20
            || help
                .lines()
                .skip_while(|l| l != &line)
                .nth(1)
                .is_some_and(|n| n.starts_with("   "));
        assert!(explained, "{flag} has no explanation: {line}");
    }
    assert!(help.contains("[NAME=]SOURCE[:KEY=VALUE"));
}

#[test]
fn models_lists_the_registry_and_supported_types() {
    let output = bin().arg("models").assert().success();
    let stdout = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("| google-bert/bert-base-uncased"),
        "{stdout}"
    );
    let bert_row = stdout
        .lines()
        .find(|l| l.contains("google-bert/bert-base-uncased"))
        .unwrap();
    assert!(bert_row.contains("BertForMaskedLM"), "{bert_row}");
    // No column that says "yes" on every row.
    assert!(!bert_row.contains("yes"), "{bert_row}");
    // What fits: parameters (transformers counts 109,514,298 for BertForMaskedLM), weights in
    // float32 and bfloat16, the longest sequence.
    for figure in ["110M", "418 MiB", "209 MiB", "512"] {
        assert!(bert_row.contains(figure), "{figure} not in {bert_row}");
    }
    // An 80-column terminal gets a table that fits.
    let narrow = bin().env("COLUMNS", "80").arg("models").assert().success();
    let narrow = String::from_utf8(narrow.get_output().stdout.clone()).unwrap();
    assert!(narrow.lines().all(|l| l.chars().count() <= 80), "{narrow}");
    assert!(
        stdout.contains("Supported model types: albert, bart, bert,"),
        "{stdout}"
    );
}

/// Every numeric flag of the run command.
const NUMERIC_FLAGS: [&str; 11] = [
    "--batch-sizes",
    "--sequence-lengths",
    "--repeat",
    "--warmup",
    "--min-runs",
    "--max-runs",
    "--runs",
    "--min-time",
    "--threads",
    "--timeout",
    "--seed",
];

/// The whole matrix of flags and values is the unit test in src/cli.rs; here, the binary.
#[test]
fn out_of_range_numbers_are_refused_at_parse_time_naming_the_flag() {
    for words in [
        ["--timeout", "1e300"],
        ["--min-time", "NaN"],
        ["--batch-sizes", "-1"],
    ] {
        let out = bin()
            .args(["--models", TINY])
            .args(words)
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{words:?}: {stderr}");
        assert!(stderr.contains(words[0]), "{words:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{words:?}: {stderr}");
    }
}

#[test]
fn a_min_time_the_timeout_cuts_short_is_an_error_naming_both() {
    bin()
        .args(["--models", TINY, "--min-time", "50", "--timeout", "10"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "--min-time 50 s is not below --timeout 10 s",
        ));
}

#[test]
fn several_threads_and_dtypes_cross_the_plan_from_flags_or_a_sweep_file() {
    // Issue 13, point 11: each value is an axis; the dry run lists every cell with its own.
    let dir = tempfile::tempdir().unwrap();
    let sweep = dir.path().join("plan.toml");
    fs::write(
        &sweep,
        format!("models = [\"{TINY}\"]\nthreads = [1, 2]\ndtypes = [\"f32\", \"bf16\"]\n"),
    )
    .unwrap();
    let flags = [
        "--models",
        TINY,
        "--threads",
        "1",
        "2",
        "--dtypes",
        "f32",
        "bf16",
    ];
    let from_file = ["--sweep", sweep.to_str().unwrap()];
    let mut plans = Vec::new();
    for words in [&flags[..], &from_file[..]] {
        let out = bin()
            .env("COLUMNS", "200")
            .args(words)
            .args(["--batch-sizes", "1", "--sequence-lengths", "8", "--dry-run"])
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{words:?}: {stdout}");
        // 1 batch x 1 sequence x (memory, speed) x 2 dtypes x 2 thread counts.
        assert!(stdout.contains("Total: 8 cells"), "{words:?}: {stdout}");
        assert!(
            stdout.contains("| Dtype | Threads |"),
            "{words:?}: {stdout}"
        );
        assert!(
            stdout.contains("|  bf16 |       2 |"),
            "{words:?}: {stdout}"
        );
        // The machine's free memory moves between the two runs.
        let plan: Vec<&str> = (stdout.lines())
            .filter(|l| !l.contains("GiB available"))
            .collect();
        plans.push(plan.join("\n"));
    }
    assert_eq!(plans[0], plans[1], "the file plans what the flags do");
    // The shorthands name one dtype, so they contradict --dtypes.
    bin()
        .args(["--models", TINY, "--dtypes", "f32", "--bf16", "--dry-run"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--bf16"));
}

#[test]
fn out_of_memory_is_said_in_one_line_with_the_size() {
    // --no-fit-check: the estimate would mark the cell N/A before any allocation is tried.
    bin()
        .args(["--models", TINY, "--batch-sizes", "1000000000"])
        .args(["--sequence-lengths", "8", "--no-speed", "--no-fit-check"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "out of memory: tried to allocate 59.6 GiB",
        ))
        .stderr(predicate::str::contains("unwrap").not());
}

#[test]
fn a_negative_sweep_file_value_names_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = dir.path().join("plan.toml");
    fs::write(&sweep, format!("models = [\"{TINY}\"]\nmin_runs = -3\n")).unwrap();
    bin()
        .arg("--sweep")
        .arg(&sweep)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("key \"min_runs\""))
        .stderr(predicate::str::contains("'-3'"))
        .stderr(predicate::str::contains("unexpected argument").not());
}

mod generated_arguments {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|x| x.to_string()),
            (-3i64..40).prop_map(|n| n.to_string()),
            prop::sample::select(vec![
                "",
                " ",
                "-",
                "--",
                "NaN",
                "inf",
                "-0",
                "1e999",
                "0x10",
                "é",
                "\u{7f}",
                "1,2",
                "18446744073709551616",
                "cuda:99999999999999999999",
            ])
            .prop_map(str::to_string),
            "\\PC{0,8}",
        ]
    }

    fn flag() -> impl Strategy<Value = &'static str> {
        let mut flags = NUMERIC_FLAGS.to_vec();
        flags.extend(["--device", "--protocol", "--optimizer", "--models"]);
        prop::sample::select(flags)
    }

    proptest! {
        // Each case starts the binary (and, when the arguments are valid, child processes):
        // sixteen cases keep the test near a minute on a busy machine.
        #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

        /// Exit status 0, 1, 2 (or 130), never a panic, never a hang. Memory cells only (a
        /// speed cell could rightly run for the generated --min-time); a sequence length past
        /// the tiny model's 64 positions keeps the cells that do run short.
        #[test]
        fn the_cli_never_panics_or_hangs(pairs in prop::collection::vec((flag(), value()), 1..4)) {
            let mut cmd = bin();
            cmd.args(["--models", TINY, "--no-speed", "--sequence-lengths", "65"])
                .env("HF_HUB_OFFLINE", "1")
                .timeout(std::time::Duration::from_secs(60));
            for (flag, value) in &pairs {
                cmd.arg(flag).arg(value);
            }
            let out = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            prop_assert!(
                matches!(out.status.code(), Some(0 | 1 | 2 | 130)),
                "{pairs:?}: {:?} {stderr}", out.status
            );
            prop_assert!(!stderr.contains("panicked"), "{pairs:?}: {stderr}");
        }
    }
}

#[test]
fn resuming_into_the_same_file_with_a_changed_setting_refuses_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let sweep = [
        "--models",
        TINY,
        "--batch-sizes",
        "1",
        "--sequence-lengths",
        "8",
    ];
    bin()
        .args(QUICK)
        .args(sweep)
        .args(["--no-memory", "--export-json"])
        .arg(&json)
        .assert()
        .success();
    let before = fs::read(&json).unwrap();
    // Another seed: no cell is carried over, so rewriting run.json would empty it.
    bin()
        .args(QUICK)
        .args(sweep)
        .args(["--no-memory", "--seed", "1", "--resume"])
        .arg(&json)
        .arg("--export-json")
        .arg(&json)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "1 of its 1 cells are not part of this sweep",
        ));
    assert_eq!(
        fs::read(&json).unwrap(),
        before,
        "the resumed file is untouched"
    );
    // The same flags resume into the same file as before.
    bin()
        .args(QUICK)
        .args(sweep)
        .args(["--no-memory", "--resume"])
        .arg(&json)
        .arg("--export-json")
        .arg(&json)
        .assert()
        .success()
        .stderr(predicate::str::contains("1 of 1 cells carried over"));
}

/// The Slurm recipe's first run: `--resume F --export-json F` before F exists starts fresh,
/// saying so in one line; a later run with a changed setting says what differs.
#[test]
fn resuming_from_an_export_that_does_not_exist_yet_starts_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("task.json");
    let tiny = format!("tiny={}/{TINY}", env!("CARGO_MANIFEST_DIR"));
    let sweep = [
        "--models",
        &tiny,
        "--batch-sizes",
        "1",
        "--sequence-lengths",
        "8",
    ];
    let out = bin()
        .current_dir(dir.path())
        .args(QUICK)
        .args(sweep)
        .args(["--no-memory", "--resume"])
        .arg(&json)
        .arg("--export-json")
        .arg(&json)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    let notes: Vec<&str> = stderr.lines().filter(|l| l.contains("--resume")).collect();
    assert_eq!(notes.len(), 1, "{stderr}");
    assert!(
        notes[0].contains("no such file yet, so this sweep starts fresh"),
        "{stderr}"
    );
    let export: serde_json::Value = serde_json::from_str(&read(&json)).unwrap();
    assert_eq!(export["rows"].as_array().unwrap().len(), 1);
    // Resumed with another seed into another file: nothing carried over, and why.
    let other = dir.path().join("other.json");
    bin()
        .current_dir(dir.path())
        .args(QUICK)
        .args(sweep)
        .args(["--no-memory", "--seed", "7", "--resume"])
        .arg(&json)
        .arg("--export-json")
        .arg(&other)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "0 of 1 cells carried over, 1 to measure (not carried over: settings differ (seed))",
        ));
}

/// A config path may be any bytes the OS allows, not only UTF-8 (issue 10, item 8).
#[cfg(unix)]
#[test]
fn a_config_path_that_is_not_utf8_is_measured() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join(OsStr::from_bytes(b"mod\xffel"));
    fs::create_dir(&folder).unwrap();
    fs::copy(TINY, folder.join("config.json")).unwrap();
    let mut spec = b"tiny=".to_vec();
    spec.extend_from_slice(folder.as_os_str().as_bytes());
    let csv = dir.path().join("speed.csv");
    bin()
        .current_dir(dir.path())
        .env("HF_HUB_OFFLINE", "1")
        .arg("--models")
        .arg(OsStr::from_bytes(&spec))
        .args([
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "--no-memory",
        ])
        .args(QUICK)
        .arg("--save-to-csv")
        .arg("--inference-time-csv-file")
        .arg(&csv)
        .assert()
        .success()
        .stdout(predicate::str::contains("| tiny "));
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], "tiny");
    assert!(rows[0][3].parse::<f64>().unwrap() > 0.0, "{rows:?}");

    // Missing, it is named (lossily) in one line, and not taken for a Hub id.
    let missing = dir.path().join(OsStr::from_bytes(b"gone\xfe"));
    let output = bin()
        .env("HF_HUB_OFFLINE", "1")
        .arg("--models")
        .arg(&missing)
        .assert()
        .failure()
        .code(1);
    let stderr = String::from_utf8_lossy(&output.get_output().stderr).into_owned();
    assert!(stderr.contains("gone\u{fffd} does not exist"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn a_misspelt_override_key_is_refused_naming_the_closest_key() {
    assert_rejected(
        &["--models", "small=tests/fixtures/tiny-bert.json:num_hiden_layers=1"],
        1,
        "override key \"num_hiden_layers\" is not a bert config key this tool reads; did you mean num_hidden_layers?",
    );
}

/// A missing input file is exit status 2 in every subcommand that reads one (README's and
/// --help's table), with one line naming the file; `--resume` of a file not there yet is no
/// error (the sweep starts fresh), but an unreadable one is.
#[test]
fn a_missing_input_file_is_status_2_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let missing_db = dir.path().join("missing.sqlite");
    let m = missing.to_str().unwrap();
    let db = missing_db.to_str().unwrap();
    let cases: [&[&str]; 10] = [
        &["compare", m, m],
        &["merge", m],
        &["plot", m, "-o", "chart.png"],
        &["plot", "--roofline", m],
        &["history", "--db", db],
        &["plot", "--history", "bert-base", "--db", db],
        &["db", "runs", "--db", db],
        &["db", "import", m, "--db", "import.sqlite"],
        &["--sweep", "missing.toml"],
        &[
            "--models",
            "bert-base",
            "--input-text",
            "missing.txt",
            "--dry-run",
        ],
    ];
    for args in cases {
        let out = bin().current_dir(dir.path()).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("missing."), "{args:?}: {stderr}");
    }
    assert!(!missing_db.exists(), "reading does not create a database");
    // --resume: a file not there yet starts fresh; a folder cannot be read.
    let tiny = format!("{}/{TINY}", env!("CARGO_MANIFEST_DIR"));
    let out = bin()
        .current_dir(dir.path())
        .args(["--models", &tiny, "--dry-run", "--resume", m])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = bin()
        .current_dir(dir.path())
        .args(["--models", &tiny, "--dry-run", "--resume"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    // A file that is there but of the wrong kind stays bad input (1).
    let bad = dir.path().join("bad.toml");
    fs::write(&bad, "models = 3").unwrap();
    bin()
        .arg("--sweep")
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad.toml"));
}

/// `plot --help` says what the code does: DejaVu Sans is embedded (README and the guide say
/// so too), and the default output name.
#[test]
fn plot_help_agrees_with_readme_on_fonts_and_output() {
    let help = bin().args(["plot", "--help"]).assert().success();
    let help = String::from_utf8(help.get_output().stdout.clone()).unwrap();
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(
            "Text is drawn with DejaVu Sans, embedded in the binary (no system fonts needed)"
        ),
        "{help}"
    );
    assert!(!flat.contains("font folders"), "{help}");
    assert!(flat.contains("results.json -> results.png"), "{help}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for doc in ["README.md", "docs/guide.md"] {
        let text = fs::read_to_string(root.join(doc)).unwrap();
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(
                "Text is drawn with DejaVu Sans, embedded in the binary (no system fonts needed)"
            ),
            "{doc}"
        );
    }
    // The embedded font is there.
    assert!(root.join("assets/fonts/DejaVuSans.ttf").exists());
}

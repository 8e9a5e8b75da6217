//! Results are never silently lost or duplicated, and absurd input gets one line: default
//! CSV names never reused, repeated axis values folded, two models under one name refused,
//! output paths checked before anything is announced (by a dry run too), shard counts
//! bounded, contradicting shard flags refused, `models` in a one-column terminal, and a
//! `--tokenizer` that is no tokenizer.json.

mod e2e;

use e2e::{bin, read, TINY};
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Runs the binary in `dir` and returns (exit code, stdout, stderr).
fn run_in(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join(TINY);
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("TINY", tiny.to_str().unwrap()))
        .collect();
    let output = bin().current_dir(dir).args(&args).output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A refusal: exit status 1, one line on stderr holding `what`, nothing on stdout.
fn assert_one_line_error(dir: &Path, args: &[&str], what: &str) {
    let (code, stdout, stderr) = run_in(dir, args);
    assert_eq!(code, Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(stderr.contains(what), "{args:?}: {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
}

fn names_starting(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn default_csv_names_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    // Another run's files of this second and the next minute: this run must take other names.
    let start = now();
    for stamp in start..start + 60 {
        let other = dir.path().join(format!("inference_time_{stamp}.csv"));
        fs::write(other, "another run's results\n").unwrap();
    }
    let sweep = [
        "--models",
        "TINY",
        "--batch-sizes",
        "1",
        "--sequence-lengths",
        "8",
        "--no-memory",
        "--runs",
        "2",
        "--save-to-csv",
    ];
    let (code, _, stderr) = run_in(dir.path(), &sweep);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("Replacing"), "{stderr}");
    for stamp in start..start + 60 {
        let other = dir.path().join(format!("inference_time_{stamp}.csv"));
        assert_eq!(read(&other), "another run's results\n");
    }
    let ours: Vec<String> = names_starting(dir.path(), "inference_time_")
        .into_iter()
        .filter(|n| n.contains('-'))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert!(ours[0].ends_with("-2.csv"), "{ours:?}");
    let stamp = ours[0]
        .trim_start_matches("inference_time_")
        .trim_end_matches(".csv");
    let env = dir.path().join(format!("env_info_{stamp}.csv"));
    assert!(read(&env).contains("framework"), "{}", read(&env));

    // Two runs started together in one folder: each keeps its own files.
    let dir = tempfile::tempdir().unwrap();
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join(TINY);
    let args: Vec<String> = sweep
        .iter()
        .map(|a| a.replace("TINY", tiny.to_str().unwrap()))
        .collect();
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_run-benchmark"))
            .current_dir(dir.path())
            .args(&args)
            .env(
                "XDG_CACHE_HOME",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("cache"),
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let times = names_starting(dir.path(), "inference_time_");
    let envs = names_starting(dir.path(), "env_info_");
    assert_eq!(times.len(), 2, "{times:?}");
    assert_eq!(envs.len(), 2, "{envs:?}");
    for name in times {
        let text = read(&dir.path().join(name));
        assert_eq!(text.lines().count(), 2, "a header and one cell: {text}");
    }
}

#[test]
fn repeated_axis_values_are_measured_once_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let (code, _, stderr) = run_in(
        dir.path(),
        &[
            "--models",
            "a=TINY",
            "a=TINY",
            "--batch-sizes",
            "1",
            "1",
            "--sequence-lengths",
            "8",
            "8",
            "--threads",
            "1",
            "1",
            "--dtypes",
            "f32",
            "f32",
            "--runs",
            "2",
            "--export-json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("Repeated values are measured once"))
        .collect();
    assert_eq!(said.len(), 1, "{stderr}");
    for flag in [
        "--models a=",
        "--batch-sizes 1 1 -> 1",
        "--sequence-lengths 8 8 -> 8",
        "--threads 1 1 -> 1",
        "--dtypes f32 f32 -> f32",
    ] {
        assert!(said[0].contains(flag), "{flag}: {}", said[0]);
    }
    let export: Value = serde_json::from_str(&read(&json)).unwrap();
    assert_eq!(
        export["rows"].as_array().unwrap().len(),
        2,
        "one speed, one memory"
    );
}

#[test]
fn two_models_under_one_name_are_an_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run_in(
        dir.path(),
        &[
            "--models",
            "a=TINY",
            "a=TINY:num_hidden_layers=1",
            "--dry-run",
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("two different models are named \"a\""),
        "{stderr}"
    );
    assert!(stderr.contains("tiny-bert.json and a="), "{stderr}");
    assert!(
        stderr.contains("tiny-bert.json:num_hidden_layers=1"),
        "{stderr}"
    );
}

#[test]
fn output_paths_are_checked_before_anything_is_said_by_a_dry_run_too() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("folder")).unwrap();
    fs::write(dir.path().join("old.csv"), "an earlier run\n").unwrap();
    for dry in [false, true] {
        let mut args = vec!["--models", "TINY", "--export-json", "folder"];
        args.extend(["--save-to-csv", "--inference-time-csv-file", "old.csv"]);
        if dry {
            args.push("--dry-run");
        }
        // "Replacing existing file(s)… old.csv" must not come before the refusal.
        assert_one_line_error(
            dir.path(),
            &args,
            "cannot write JSON file folder: it is a folder",
        );
        assert_eq!(read(&dir.path().join("old.csv")), "an earlier run\n");
        let mut args = vec!["--models", "TINY", "--export-json"];
        args.push("/proc/no-such-dir/out.json");
        if dry {
            args.push("--dry-run");
        }
        assert_one_line_error(
            dir.path(),
            &args,
            "cannot write JSON file /proc/no-such-dir/out.json: folder /proc/no-such-dir",
        );
    }
    // A dry run writes nothing.
    let (code, _, stderr) = run_in(
        dir.path(),
        &["--models", "TINY", "--save-to-csv", "--dry-run"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(names_starting(dir.path(), "env_info_").is_empty());
}

#[test]
fn absurd_shard_counts_and_contradicting_shard_flags_get_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--dry-run"][..]] {
        let mut args = vec!["--models", "TINY", "--shard", "1/99999999999"];
        args.extend(extra);
        assert_one_line_error(
            dir.path(),
            &args,
            "--shard 1/99999999999: 99999999999 parts of a plan of 8 cell(s); give at most 8",
        );
    }
    assert_one_line_error(
        dir.path(),
        &[
            "--models",
            "TINY",
            "--shard",
            "1/2",
            "--shard-count",
            "4",
            "--dry-run",
        ],
        "--shard-count 4 is for --shard auto; --shard 1/2 already gives the number of parts",
    );
    // As many parts as cells is fine.
    let (code, _, stderr) = run_in(
        dir.path(),
        &["--models", "TINY", "--shard", "8/8", "--dry-run"],
    );
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn models_in_a_one_column_terminal_is_a_list() {
    let dir = tempfile::tempdir().unwrap();
    let output = bin()
        .current_dir(dir.path())
        .env("COLUMNS", "1")
        .arg("models")
        .output()
        .unwrap();
    assert!(output.status.success());
    let narrow = String::from_utf8(output.stdout).unwrap();
    let wide = String::from_utf8(
        bin()
            .env_remove("COLUMNS")
            .arg("models")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    // Every Hub id of the table is whole on a line of its own.
    let ids: Vec<&str> = wide
        .lines()
        .skip(3)
        .filter_map(|l| l.strip_prefix("| ")?.split(" |").next())
        .map(str::trim)
        .filter(|id| id.contains('/'))
        .collect();
    assert!(ids.len() > 20, "{wide}");
    for id in &ids {
        assert!(narrow.lines().any(|l| l == *id), "{id}:\n{narrow}");
    }
    assert!(narrow.lines().count() < 6 * ids.len() + 40, "{narrow}");
    assert!(
        narrow
            .lines()
            .all(|l| l.chars().count() <= 40 || !l.contains(' ')),
        "{narrow}"
    );
}

#[test]
fn a_tokenizer_that_is_no_tokenizer_json_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("text.txt");
    fs::write(&text, "hello world\n").unwrap();
    let text = text.to_str().unwrap();
    fs::write(dir.path().join("bad.json"), "{\"not\": \"a tokenizer\"}").unwrap();
    let cases = [
        ("/dev/null", "--tokenizer /dev/null: not a regular file"),
        ("empty.json", "--tokenizer empty.json: the file is empty"),
        (
            "bad.json",
            "--tokenizer bad.json is not a valid tokenizer.json",
        ),
        ("missing.json", "--tokenizer missing.json: no such file"),
    ];
    fs::write(dir.path().join("empty.json"), "").unwrap();
    for (tokenizer, said) in cases {
        let args = [
            "--models",
            "TINY",
            "--tokenizer",
            tokenizer,
            "--input-text",
            text,
            "--dry-run",
        ];
        assert_one_line_error(dir.path(), &args, said);
    }
}

//! Issues 27 and 28, the framework axis: `--framework` crossed with the models and sizes,
//! end to end on a tiny BERT: tables, CSV, JSON rows with their framework, compare keyed by
//! framework, the refusals, and a graph framework's cell N/A with the command that installs
//! what it misses. PyTorch and TorchScript run in libtorch's child; a TensorFlow cell needs
//! run-benchmark-graph, pointed here at a file that does not exist.

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
const MISSING: &str = "/nonexistent/run-benchmark-graph";

fn folder() -> PathBuf {
    e2e::folder("frameworks")
}

/// `--framework pytorch torchscript tensorflow`, run once: its JSON export, time CSV and
/// stdout.
fn swept() -> &'static Swept {
    static SWEPT: OnceLock<Swept> = OnceLock::new();
    SWEPT.get_or_init(|| {
        let mut command = bin();
        command
            .env("COLUMNS", "250")
            .env("RUN_BENCHMARK_GRAPH", MISSING)
            .args(QUICK)
            .args(["--models", MODEL])
            .args(SIZES)
            .args(["--framework", "pytorch", "torchscript", "tensorflow"])
            .args(["--quiet", "--env-print"]);
        sweep(command, &folder(), false)
    })
}

#[test]
fn each_framework_is_a_row_of_its_own() {
    let (json, _, stdout) = swept();
    let export = export(json);
    let frameworks: Vec<&str> = (rows(&export).iter())
        .map(|r| r["cell"]["framework"].as_str().unwrap())
        .collect();
    // Inference speed and memory, once per framework, frameworks outer.
    assert_eq!(
        frameworks,
        [
            "pytorch",
            "pytorch",
            "torchscript",
            "torchscript",
            "tensorflow",
            "tensorflow"
        ]
    );
    for row in rows(&export) {
        let r = result(row);
        match row["cell"]["framework"].as_str().unwrap() {
            "tensorflow" => {
                let reason = r["reason"].as_str().unwrap();
                assert!(reason.contains("run-benchmark-graph"), "{reason}");
                assert!(reason.contains("make build"), "{reason}");
                assert!(reason.contains(MISSING), "{reason}");
            }
            _ => assert_ne!(r["status"], "not_available", "{row}"),
        }
    }
    // The settings keep the original's field and name the first framework.
    assert_eq!(export["settings"]["torchscript"], false);
    // The tables say each row's framework.
    assert!(stdout.contains("Framework"), "{stdout}");
    for name in ["pytorch", "torchscript", "tensorflow"] {
        assert!(stdout.contains(name), "{stdout}");
    }
    // The environment, as the original printed it, and each framework's version.
    let env = |key: &str| e2e::environment(&export, key);
    assert_eq!(env("use_torchscript"), "True");
    assert_eq!(env("eager_mode"), "False");
    assert_eq!(env("use_xla"), "False");
    assert!(
        env("framework").contains("TensorFlow"),
        "{}",
        env("framework")
    );
    let versions = env("framework_version");
    assert!(versions.starts_with("libtorch "), "{versions}");
    assert!(versions.contains("tensorflow N/A"), "{versions}");
}

#[test]
fn csv_appends_the_framework_column() {
    let (_, csv, _) = swept();
    let text = read(csv);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("model,batch_size,sequence_length,result,framework")
    );
    let last: Vec<&str> = lines.map(|l| l.rsplit(',').next().unwrap()).collect();
    assert_eq!(last, ["pytorch", "torchscript", "tensorflow"]);
}

#[test]
fn a_single_pytorch_sweep_writes_no_framework_field() {
    let dir = folder();
    let json = dir.join("pytorch.json");
    bin()
        .args(QUICK)
        .args(["--models", MODEL])
        .args(SIZES)
        .args(["--no-memory", "--quiet", "--export-json"])
        .arg(&json)
        .assert()
        .success();
    let export = export(&json);
    assert!(export["settings"].get("framework").is_none());
    assert!(rows(&export)[0]["cell"].get("framework").is_none());
    assert!(export["environment"].get("framework_version").is_none());
}

#[test]
fn compare_matches_rows_by_framework() {
    let (json, _, _) = swept();
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
    assert!(same.contains("tiny torchscript"), "{same}");
    assert!(!same.contains("Only in"), "{same}");
    // Without the TorchScript rows, PyTorch's are not matched with them.
    let mut partial = export(json);
    let kept: Vec<Value> = (rows(&partial).iter())
        .filter(|r| r["cell"]["framework"] != "torchscript")
        .cloned()
        .collect();
    partial["rows"] = kept.into();
    let path = folder().join("no-torchscript.json");
    std::fs::write(&path, partial.to_string()).unwrap();
    let text = compare(json, &path);
    assert_eq!(text.matches("Only in the baseline").count(), 2, "{text}");
    assert!(
        text.contains("Only in the baseline: tiny torchscript batch 1 sequence 8"),
        "{text}"
    );
}

#[test]
fn a_resumed_sweep_keeps_frameworks_apart() {
    let (json, _, _) = swept();
    let dir = folder();
    let resumed = dir.join("resumed.json");
    std::fs::copy(json, &resumed).unwrap();
    let out = bin()
        .env("RUN_BENCHMARK_GRAPH", MISSING)
        .args(QUICK)
        .args(["--models", MODEL])
        .args(SIZES)
        .args(["--framework", "pytorch", "torchscript", "tensorflow"])
        .args(["--quiet", "--resume"])
        .arg(&resumed)
        .arg("--export-json")
        .arg(&resumed)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Every row carried over with its own framework and figures, none measured again.
    assert_eq!(rows(&export(&resumed)), rows(&export(json)));
}

#[test]
fn onnxruntime_training_is_na_and_training_alone_is_refused() {
    let out = bin()
        .args(["--models", MODEL])
        .args(SIZES)
        .args(["--framework", "onnxruntime", "--no-inference", "--training"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ONNX Runtime is inference only"),
        "{stderr}"
    );

    let json = folder().join("ort-training.json");
    bin()
        .env("RUN_BENCHMARK_GRAPH", MISSING)
        .args(QUICK)
        .args(["--models", MODEL])
        .args(SIZES)
        .args(["--framework", "pytorch", "onnxruntime", "--no-inference"])
        .args(["--training", "--no-memory", "--quiet", "--export-json"])
        .arg(&json)
        .assert()
        .success();
    let export = export(&json);
    let ort = (rows(&export).iter())
        .find(|r| r["cell"]["framework"] == "onnxruntime")
        .unwrap();
    let reason = result(ort)["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("onnxruntime is inference only"), "{reason}");
}

#[test]
fn refusals_are_one_line_each() {
    let refused = |args: &[&str], says: &str| {
        let out = bin().args(["--models", MODEL]).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    };
    refused(&["--eager_mode", "--use_xla"], "--eager-mode with XLA");
    // --eager-mode is the shorthand of one framework, as --use-xla is.
    refused(
        &["--eager-mode", "--framework", "tensorflow-xla"],
        "cannot be used with",
    );
    // TorchScript is PyTorch's, XLA TensorFlow's: the shorthands name one framework.
    refused(
        &["--torchscript", "--framework", "tensorflow"],
        "cannot be used with",
    );
    refused(
        &["--use-xla", "--framework", "pytorch"],
        "cannot be used with",
    );
    refused(&["--torchscript", "--use-xla"], "cannot be used with");
    refused(&["--framework", "jax"], "invalid value 'jax'");
}

//! Issues 27 and 28 end to end with the real libraries: one sweep of a tiny BERT with
//! `--framework pytorch tensorflow tensorflow-xla onnxruntime`, inference and training,
//! through the real binaries (run-benchmark-graph built beside run-benchmark, TensorFlow and
//! ONNX Runtime as `make tensorflow onnxruntime` fetch them; `make test` does all three
//! first). The tables show each framework's rows, CSV and JSON rows carry their framework,
//! `compare` keys by framework, and `merge` joins shards that measured different frameworks.
//! tests/frameworks.rs covers the axis without the libraries (a missing graph binary).

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
const FRAMEWORKS: [&str; 5] = [
    "pytorch",
    "tensorflow",
    "tensorflow-xla",
    "tensorflow-eager",
    "onnxruntime",
];

/// run-benchmark-graph beside the binary under test (`cargo build --release --workspace`).
fn graph_binary() -> PathBuf {
    let main = Path::new(env!("CARGO_BIN_EXE_run-benchmark"));
    let path = main.with_file_name("run-benchmark-graph");
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (make build)",
        path.display()
    );
    path
}

fn folder() -> PathBuf {
    e2e::folder("frameworks-e2e")
}

fn graph_bin() -> assert_cmd::Command {
    let mut command = bin();
    command
        .env("COLUMNS", "250")
        .env("RUN_BENCHMARK_GRAPH", graph_binary())
        .args(QUICK)
        .args(["--models", MODEL])
        .args(SIZES);
    command
}

/// The five frameworks' sweep, run once: its JSON export, inference time CSV and stdout.
fn swept() -> &'static Swept {
    static SWEPT: OnceLock<Swept> = OnceLock::new();
    SWEPT.get_or_init(|| {
        let mut command = graph_bin();
        command
            .arg("--framework")
            .args(FRAMEWORKS)
            .args(["--training", "--env-print"]);
        sweep(command, &folder(), true)
    })
}

#[test]
fn every_framework_measures_its_cells() {
    let (json, _, stdout) = swept();
    let export = export(json);
    for framework in FRAMEWORKS {
        let mine: Vec<&Value> = (rows(&export).iter())
            .filter(|r| r["cell"]["framework"] == framework)
            .collect();
        // Inference and training, speed and memory.
        assert_eq!(mine.len(), 4, "{framework}: {mine:?}");
        for row in mine {
            let r = result(row);
            let training = row["cell"]["mode"] == "training";
            if framework == "onnxruntime" && training {
                let reason = r["reason"].as_str().unwrap();
                assert!(reason.contains("inference only"), "{reason}");
                continue;
            }
            match r["status"].as_str().unwrap() {
                "speed" => {
                    assert!(r["seconds"].as_f64().unwrap() > 0.0, "{row}");
                    // Every framework counts the same model's FLOPs and bytes, so GFLOP/s,
                    // MFU, GB/s and MBU compare.
                    let pytorch = rows(&export)
                        .iter()
                        .find(|p| {
                            p["cell"]["framework"] == "pytorch"
                                && p["cell"]["mode"] == row["cell"]["mode"]
                                && p["cell"]["metric"] == "speed"
                        })
                        .map(result)
                        .unwrap();
                    for key in ["flops_per_call", "bytes_per_call"] {
                        let value = r[key].as_f64();
                        assert!(value.is_some_and(|f| f > 0.0), "{framework} {key}: {row}");
                        assert_eq!(pytorch[key], r[key], "{framework} {key}");
                    }
                }
                "memory" => {
                    assert!(r["peak_rss_bytes"].as_u64().unwrap() > 0, "{row}");
                    // The plan's estimate models libtorch's process: only its rows carry it.
                    let libtorch = ["pytorch", "torchscript"].contains(&framework);
                    let estimate = r["estimated_peak_bytes"].as_u64();
                    assert_eq!(estimate.is_some_and(|b| b > 0), libtorch, "{row}");
                }
                _ => panic!("{framework}: not measured: {row}"),
            }
        }
    }
    // XLA's memory rows say why their increase is near zero.
    let memory = stdout.split("INFERENCE - MEMORY").nth(1).unwrap();
    assert!(
        memory.contains("tensorflow-xla: XLA compiles in a first call"),
        "{memory}"
    );
    // Each table has a Framework column and a row of each framework.
    for section in ["INFERENCE - SPEED", "INFERENCE - MEMORY", "TRAIN - SPEED"] {
        let after = stdout
            .split(section)
            .nth(1)
            .unwrap_or_else(|| panic!("{stdout}"));
        // Up to the next section's title (a table's own rules start with '+').
        let table: Vec<&str> = (after.lines().skip(1))
            .take_while(|l| !l.starts_with("===================="))
            .collect();
        let table = table.join("\n");
        assert!(table.contains("Framework"), "{table}");
        for framework in FRAMEWORKS {
            assert!(table.contains(&format!(" {framework} |")), "{table}");
        }
    }
    // The environment names each framework's real version and ONNX Runtime's optimisation.
    let env = |key: &str| e2e::environment(&export, key);
    let versions = env("framework_version");
    assert!(!versions.contains("N/A"), "{versions}");
    for name in ["libtorch ", "tensorflow 2.", "onnxruntime 1."] {
        assert!(versions.contains(name), "{versions}");
    }
    assert_eq!(env("use_xla"), "True");
    assert_eq!(env("eager_mode"), "True");
    assert_eq!(
        env("onnxruntime_graph_optimization_level"),
        "ORT_ENABLE_ALL"
    );
}

#[test]
fn csv_rows_carry_their_framework() {
    let (_, csv, _) = swept();
    let text = read(csv);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("model,batch_size,sequence_length,result,framework")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let frameworks: Vec<&str> = rows.iter().map(|r| r[4]).collect();
    assert_eq!(frameworks, FRAMEWORKS);
    for row in &rows {
        let seconds: f64 = row[3].parse().unwrap_or_else(|_| panic!("{row:?}"));
        assert!(seconds > 0.0, "{row:?}");
    }
}

#[test]
fn compare_of_the_export_with_itself_finds_every_cell() {
    let (json, _, _) = swept();
    let out = bin()
        .env("COLUMNS", "250")
        .arg("compare")
        .arg(json)
        .arg(json)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("Only in"), "{text}");
    for framework in FRAMEWORKS {
        for measure in ["inference time", "inference memory"] {
            let line = (text.lines())
                .find(|l| l.contains(&format!("tiny {framework} ")) && l.contains(measure))
                .unwrap_or_else(|| panic!("no {framework} {measure}: {text}"));
            assert!(line.contains("+0.0%"), "{line}");
        }
    }
}

#[test]
fn merge_joins_shards_of_different_frameworks() {
    let dir = folder();
    let part = |k: usize| {
        let path = dir.join(format!("part-{k}.json"));
        graph_bin()
            .args(["--framework", "tensorflow", "onnxruntime", "--no-memory"])
            .args(["--quiet", "--shard", &format!("{k}/2"), "--export-json"])
            .arg(&path)
            .assert()
            .success();
        path
    };
    let parts = [part(1), part(2)];
    // Two cells, one in each part: each part measured one framework.
    let measured = |path: &Path| -> Vec<String> {
        (rows(&export(path)).iter())
            .filter(|r| r["status"] == "ok")
            .map(|r| r["cell"]["framework"].as_str().unwrap().to_string())
            .collect()
    };
    let (first, second) = (measured(&parts[0]), measured(&parts[1]));
    assert_eq!((first.len(), second.len()), (1, 1), "{first:?} {second:?}");
    assert_ne!(first, second);
    let merged = dir.join("merged.json");
    bin()
        .env("COLUMNS", "250")
        .arg("merge")
        .args(&parts)
        .arg("--export-json")
        .arg(&merged)
        .assert()
        .success();
    let merged = export(&merged);
    let frameworks: Vec<&str> = (rows(&merged).iter())
        .map(|r| r["cell"]["framework"].as_str().unwrap())
        .collect();
    assert_eq!(frameworks, ["tensorflow", "onnxruntime"]);
    for row in rows(&merged) {
        assert!(result(row)["seconds"].as_f64().unwrap() > 0.0, "{row}");
    }
}

#[test]
fn the_onnxruntime_level_asked_for_is_the_one_reported_and_exported() {
    let dir = folder();
    let json = dir.join("level.json");
    let out = graph_bin()
        .args(["--framework", "pytorch", "onnxruntime"])
        .args(["--onnxruntime-level", "basic", "--no-memory", "--env-print"])
        .arg("--export-json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let level_line = (stdout.lines())
        .find(|l| l.contains("onnxruntime_graph_optimization_level"))
        .unwrap_or_else(|| panic!("no level in the environment:\n{stdout}"));
    assert!(level_line.contains("ORT_ENABLE_BASIC"), "{level_line}");
    let export = export(&json);
    assert_eq!(export["settings"]["onnxruntime_level"], "ORT_ENABLE_BASIC");
    // Each framework's row measured; the level belongs to ONNX Runtime's alone, so the
    // PyTorch row is the same cell as in a sweep without the flag.
    let measured: Vec<&str> = (rows(&export).iter())
        .filter(|r| r["status"] == "ok")
        .map(|r| r["cell"]["framework"].as_str().unwrap())
        .collect();
    assert_eq!(measured, ["pytorch", "onnxruntime"]);
    // Without ONNX Runtime in the sweep the flag means nothing: refused in one line.
    let refused = graph_bin()
        .args(["--framework", "tensorflow", "--onnxruntime-level", "basic"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(
        stderr.contains("--onnxruntime-level applies to ONNX Runtime's cells"),
        "{stderr}"
    );
    let bad = graph_bin()
        .args(["--framework", "onnxruntime", "--onnxruntime-level", "max"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("[possible values: disable, basic, extended, layout, all]"));
}

/// A table of one framework has no Framework column; a note says whose figures they are,
/// except for the default's.
#[test]
fn a_single_framework_table_names_its_framework() {
    let stdout = |framework: &str| {
        let out = graph_bin()
            .args(["--framework", framework, "--no-memory"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let onnxruntime = stdout("onnxruntime");
    assert!(!onnxruntime.contains("| Framework"), "{onnxruntime}");
    assert!(
        onnxruntime.contains("Framework: every row ran with onnxruntime (--framework)."),
        "{onnxruntime}"
    );
    let pytorch = stdout("pytorch");
    assert!(!pytorch.contains("Framework:"), "{pytorch}");
}

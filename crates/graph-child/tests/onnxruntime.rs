//! The graph child under ONNX Runtime as a process: it never maps libtorch, names the command
//! that installs a missing library in one line, measures a tiny cell of each family, refuses
//! what ONNX Runtime's CPU sessions cannot do with the reason, and writes a graph Python's
//! onnxruntime can load. Needs `make onnxruntime`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn child() -> Command {
    Command::new(env!("CARGO_BIN_EXE_run-benchmark-graph"))
}

/// A fresh folder for this test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ort-child-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_config(dir: &Path, name: &str, config: serde_json::Value) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

fn configs(dir: &Path) -> Vec<PathBuf> {
    vec![
        write_config(
            dir,
            "bert",
            serde_json::json!({"model_type": "bert", "vocab_size": 99,
            "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37}),
        ),
        write_config(
            dir,
            "gpt2",
            serde_json::json!({"model_type": "gpt2", "vocab_size": 99,
            "n_embd": 32, "n_layer": 2, "n_head": 4}),
        ),
        write_config(
            dir,
            "llama",
            serde_json::json!({"model_type": "llama", "vocab_size": 99,
            "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2}),
        ),
    ]
}

/// Runs `onnxruntime bench` and returns its JSON, or its one-line error.
fn bench(config: &Path, args: &[&str]) -> Result<serde_json::Value, String> {
    let out = child()
        .args(["onnxruntime", "bench"])
        .arg(config)
        .args(args)
        .args(["repeat=1", "number=2"])
        .output()
        .unwrap();
    match out.status.success() {
        true => Ok(serde_json::from_slice(&out.stdout).unwrap()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

#[test]
fn the_child_maps_onnxruntime_and_never_libtorch() {
    let out = child().args(["onnxruntime", "maps"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let maps = String::from_utf8(out.stdout).unwrap();
    assert!(
        maps.contains("libonnxruntime.so.1.31.1"),
        "ONNX Runtime is not mapped"
    );
    let torch: Vec<&str> = maps
        .lines()
        .filter(|l| l.contains("libtorch") || l.contains("libc10"))
        .collect();
    assert!(torch.is_empty(), "libtorch is mapped: {torch:?}");
}

#[test]
fn a_missing_library_names_the_command_that_installs_it() {
    let out = child()
        .args(["onnxruntime", "version"])
        .env(
            "RUN_BENCHMARK_ONNXRUNTIME",
            "/nonexistent/libonnxruntime.so",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("/nonexistent/libonnxruntime.so"),
        "{stderr}"
    );
    // Not found where the checkout keeps it: the command that puts it there.
    let elsewhere = scratch("elsewhere");
    let copy = elsewhere.join("run-benchmark-graph");
    std::fs::copy(env!("CARGO_BIN_EXE_run-benchmark-graph"), &copy).unwrap();
    let out = Command::new(&copy)
        .args(["onnxruntime", "version"])
        .env_remove("RUN_BENCHMARK_ONNXRUNTIME")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("make onnxruntime"), "{stderr}");
    std::fs::remove_dir_all(elsewhere).unwrap();
}

#[test]
fn every_family_measures_an_inference_cell() {
    let dir = scratch("families");
    for config in configs(&dir) {
        for base in ["base=0", "base=1"] {
            let out = bench(&config, &["batch=2", "seq=8", "threads=1", base])
                .unwrap_or_else(|e| panic!("{} {base}: {e}", config.display()));
            assert!(out["seconds"].as_f64().unwrap() > 0.0, "{out}");
            assert!(out["parameters"].as_u64().unwrap() > 0, "{out}");
            assert_eq!(out["intra_op_threads"], 1, "{out}");
            assert_eq!(out["inter_op_threads"], 1, "{out}");
            assert_eq!(out["graph_optimization_level"], "ORT_ENABLE_ALL", "{out}");
            assert_eq!(out["placement_warning"], serde_json::Value::Null, "{out}");
            assert!(
                out["providers"]["CPUExecutionProvider"].as_u64().unwrap() > 0,
                "{out}"
            );
            assert!(
                out["peak_rss_bytes"].as_u64().unwrap()
                    >= out["baseline_rss_bytes"].as_u64().unwrap()
            );
        }
    }
    // The level is a setting, reported as it ran.
    let out = bench(&configs(&dir)[0], &["batch=1", "seq=4", "level=basic"]).unwrap();
    assert_eq!(out["graph_optimization_level"], "ORT_ENABLE_BASIC", "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn training_and_half_precision_are_refused_with_the_reason() {
    let dir = scratch("refusals");
    let bert = &configs(&dir)[0];
    let training = bench(bert, &["mode=training"]).unwrap_err();
    assert!(training.contains("inference only"), "{training}");
    for dtype in ["f16", "bf16"] {
        let err = bench(bert, &[&format!("dtype={dtype}")]).unwrap_err();
        assert!(err.contains(&format!("no {dtype} kernels")), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn save_writes_a_model_file_with_its_weights_beside_it() {
    let dir = scratch("save");
    let model = dir.join("bert.onnx");
    let out = child()
        .args(["onnxruntime", "save"])
        .arg(&configs(&dir)[0])
        .arg(&model)
        .args(["batch=2", "seq=8"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `save` loads the file back into a session before it succeeds; here: the graph's input
    // is named in it, and the weights are beside it.
    let bytes = std::fs::read(&model).unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("input_ids"));
    let data = std::fs::metadata(dir.join("bert.onnx.data")).unwrap().len();
    assert!(data > 4 * 99 * 32, "the weights file holds {data} bytes");
    std::fs::remove_dir_all(dir).unwrap();
}

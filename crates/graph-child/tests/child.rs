//! The graph child as a process: it never maps libtorch, it says which command installs a
//! missing TensorFlow, and it measures a tiny cell of each family in each mode.

use std::process::Command;

fn child() -> Command {
    Command::new(env!("CARGO_BIN_EXE_run-benchmark-graph"))
}

#[test]
fn the_child_maps_tensorflow_and_never_libtorch() {
    let out = child().arg("maps").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let maps = String::from_utf8(out.stdout).unwrap();
    assert!(
        maps.contains("libtensorflow_cc.so.2"),
        "TensorFlow is not mapped"
    );
    assert!(maps.contains("libtensorflow_framework.so.2"));
    let torch: Vec<&str> = maps
        .lines()
        .filter(|l| l.contains("libtorch") || l.contains("libc10"))
        .collect();
    assert!(torch.is_empty(), "libtorch is mapped: {torch:?}");
}

#[test]
fn a_missing_library_names_the_command_that_installs_it() {
    let out = child()
        .arg("version")
        .env(
            "RUN_BENCHMARK_TENSORFLOW",
            "/nonexistent/libtensorflow_cc.so.2",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("/nonexistent/libtensorflow_cc.so.2"),
        "{stderr}"
    );
    assert!(stderr.contains("make tensorflow"), "{stderr}");
}

fn write_config(
    dir: &std::path::Path,
    name: &str,
    config: serde_json::Value,
) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// Runs `bench` and returns its JSON.
fn bench(config: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = child()
        .arg("bench")
        .arg(config)
        .args(args)
        .args(["repeat=1", "number=1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_family_measures_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let configs = [
        write_config(
            dir.path(),
            "bert",
            serde_json::json!({"model_type": "bert", "vocab_size": 99,
            "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37}),
        ),
        write_config(
            dir.path(),
            "electra",
            serde_json::json!({"model_type": "electra", "vocab_size": 99, "embedding_size": 16,
            "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37}),
        ),
        write_config(
            dir.path(),
            "albert",
            serde_json::json!({"model_type": "albert", "vocab_size": 99, "embedding_size": 16,
            "hidden_size": 32, "num_hidden_layers": 3, "num_hidden_groups": 2,
            "num_attention_heads": 4, "intermediate_size": 37}),
        ),
        write_config(
            dir.path(),
            "gpt2",
            serde_json::json!({"model_type": "gpt2", "vocab_size": 99,
            "n_embd": 32, "n_layer": 2, "n_head": 4}),
        ),
        write_config(
            dir.path(),
            "qwen3",
            serde_json::json!({"model_type": "qwen3", "vocab_size": 99,
            "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8}),
        ),
    ];
    for config in &configs {
        let inference = bench(config, &["batch=2", "seq=8"]);
        assert_eq!(inference["output_shape"], serde_json::json!([2, 8, 99]));
        assert!(inference["seconds"].as_f64().unwrap() > 0.0);
        assert!(
            inference["peak_rss_bytes"].as_u64().unwrap()
                >= inference["baseline_rss_bytes"].as_u64().unwrap()
        );
        let base = bench(config, &["batch=2", "seq=8", "base=1"]);
        assert_ne!(base["output_shape"], inference["output_shape"]);
        // A training step: the loss of random weights is near ln(vocab) = 4.6.
        for optimizer in ["none", "sgd", "adamw"] {
            let training = bench(
                config,
                &[
                    "batch=2",
                    "seq=8",
                    "mode=training",
                    &format!("optimizer={optimizer}"),
                ],
            );
            let loss = training["loss"].as_f64().unwrap();
            assert!(
                (4.0..5.2).contains(&loss),
                "{} {optimizer}: loss {loss}",
                config.display()
            );
            // Eager mode executes the same ops one by one: the same loss (to 1e-6 relative:
            // the function's graph optimiser fuses some ops, which rounds differently).
            let eager = bench(
                config,
                &[
                    "batch=2",
                    "seq=8",
                    "mode=training",
                    "eager=1",
                    &format!("optimizer={optimizer}"),
                ],
            );
            let eager_loss = eager["loss"].as_f64().unwrap();
            assert!(
                ((eager_loss - loss) / loss).abs() < 1e-6,
                "{} {optimizer}: eager loss {eager_loss}, function {loss}",
                config.display()
            );
        }
        let eager = bench(config, &["batch=2", "seq=8", "eager=1"]);
        assert_eq!(eager["output_shape"], inference["output_shape"]);
        let bf16 = bench(config, &["batch=2", "seq=8", "dtype=bf16", "mode=training"]);
        assert!(bf16["loss"].as_f64().unwrap().is_finite());
    }
}

#[test]
fn bad_bench_arguments_are_one_line_naming_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "t5", serde_json::json!({"model_type": "t5"}));
    let out = child().arg("bench").arg(&config).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"t5\" has no graph build"), "{stderr}");
    let bert = write_config(
        dir.path(),
        "bert",
        serde_json::json!({"model_type": "bert"}),
    );
    let out = child()
        .arg("bench")
        .arg(&bert)
        .arg("mode=generation")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("mode=generation"));
}

/// Runs `args` on the child and returns its JSON line, failing with its stderr.
fn json_of(args: &[&str]) -> serde_json::Value {
    let out = child().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The graph `export` writes (for Python's tf.function) is the graph `bench` times: imported
/// by a fresh session of ours, initialised and fed from the manifest, it gives the same
/// first call (logits, or the training loss) as the engine that exported it; and the check
/// can fail: another seed's reference differs.
#[test]
fn the_exported_graph_is_the_timed_graph() {
    let dir = tempfile::tempdir().unwrap();
    let gpt2 = write_config(
        dir.path(),
        "gpt2",
        serde_json::json!({"model_type": "gpt2", "vocab_size": 99, "n_embd": 32, "n_layer": 2, "n_head": 4}),
    );
    let llama = write_config(
        dir.path(),
        "llama",
        serde_json::json!({"model_type": "llama", "vocab_size": 99, "hidden_size": 32,
            "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2}),
    );
    let cases: [(&std::path::Path, &[&str], usize); 4] = [
        (&gpt2, &["mode=inference"], 2 * 8 * 99),
        (&gpt2, &["mode=training"], 1),
        (&llama, &["mode=inference", "xla=1"], 2 * 8 * 99),
        (&llama, &["mode=training", "xla=1"], 1),
    ];
    for (i, (config, keys, elements)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("export{i}"));
        let mut args = vec!["export", out.to_str().unwrap(), config.to_str().unwrap()];
        args.extend(["batch=2", "seq=8", "threads=1", "reference=1"]);
        args.extend(keys.iter());
        let manifest = json_of(&args);
        assert!(
            manifest["init"].as_array().unwrap().len() > 10,
            "{manifest}"
        );
        assert_eq!(manifest["feeds"][0]["name"], "input_ids:0", "{manifest}");
        assert_eq!(manifest["feeds"][0]["shape"], serde_json::json!([2, 8]));
        let training = keys.contains(&"mode=training");
        // Training: the loss fetched, the gradients run as targets (no optimizer step).
        assert_eq!(
            manifest["targets"].as_array().unwrap().is_empty(),
            !training
        );
        let report = json_of(&["exported", out.to_str().unwrap()]);
        assert_eq!(report["elements"], *elements as u64, "{keys:?}: {report}");
        let diff = report["max_abs_diff"].as_f64().unwrap();
        assert!(diff <= 1e-6, "{keys:?}: the exported graph gives {report}");
        assert!(report["first_max_abs_diff"].as_f64().unwrap() <= 1e-6);
        if training {
            let loss = report["sum"].as_f64().unwrap();
            assert!((4.0..5.2).contains(&loss), "loss {loss}");
        }
    }
    // Another seed's weights: the same comparison sees the difference.
    let other = dir.path().join("seed7");
    json_of(&[
        "export",
        other.to_str().unwrap(),
        gpt2.to_str().unwrap(),
        "batch=2",
        "seq=8",
        "threads=1",
        "seed=7",
        "reference=1",
    ]);
    std::fs::copy(
        other.join("reference.bin"),
        dir.path().join("export0/reference.bin"),
    )
    .unwrap();
    let report = json_of(&["exported", dir.path().join("export0").to_str().unwrap()]);
    assert!(report["max_abs_diff"].as_f64().unwrap() > 1e-3, "{report}");
}

/// A job as the runner sends it: a memory and a speed cell of one group.
fn job(mode: &str, framework: &str, optimizer: &str) -> String {
    let config = serde_json::json!({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
        "vocab_size": 99, "n_embd": 32, "n_layer": 2, "n_head": 4});
    let cell = |metric: &str| {
        serde_json::json!({"model": "tiny", "config": config, "batch_size": 2, "sequence_length": 8,
            "mode": mode, "metric": metric, "settings": {
                "protocol": {"kind": "adaptive", "warmup": 1, "min_runs": 3, "max_runs": 3, "min_time_s": 0.0},
                "device": "cpu", "dtype": "f32", "threads": 1, "optimizer": optimizer,
                "only_pretrain_model": false, "seed": 0, "framework": framework}})
    };
    serde_json::json!({"job": "cells", "cells": [cell("memory"), cell("speed")]}).to_string()
}

/// Runs `__cell` as the runner does (this process is its parent) and returns its last reply.
fn run_cell(job: &str) -> serde_json::Value {
    use std::io::Write;
    let mut process = child()
        .args(["__cell", &std::process::id().to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    process
        .stdin
        .take()
        .unwrap()
        .write_all(job.as_bytes())
        .unwrap();
    let out = process.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

#[test]
fn a_job_on_stdin_is_measured_by_the_core_protocol() {
    for (mode, framework, optimizer) in [
        ("inference", "tensorflow", "none"),
        ("training", "tensorflow", "sgd"),
        ("inference", "tensorflow-xla", "none"),
        ("inference", "tensorflow-eager", "none"),
        ("training", "tensorflow-eager", "adam_w"),
    ] {
        let reply = run_cell(&job(mode, framework, optimizer));
        let results = reply["ok"]
            .as_array()
            .unwrap_or_else(|| panic!("{mode} {framework}: {reply}"));
        let (memory, speed) = (&results[0], &results[1]);
        assert_eq!(memory["status"], "memory", "{memory}");
        assert!(
            memory["peak_rss_bytes"].as_u64().unwrap()
                >= memory["baseline_rss_bytes"].as_u64().unwrap()
        );
        assert_eq!(speed["status"], "speed", "{speed}");
        assert!(speed["seconds"].as_f64().unwrap() > 0.0);
        assert_eq!(speed["ran"]["threads"], 1);
        assert_eq!(speed["samples"].as_array().unwrap().len(), 3);
    }
}

#[test]
fn cells_the_graph_child_cannot_run_are_na_with_the_reason() {
    let reply = run_cell(&job("generation", "tensorflow", "none").replace(
        "\"mode\":\"generation\"",
        "\"mode\":\"generation\",\"new_tokens\":4",
    ));
    let results = reply["ok"].as_array().unwrap_or_else(|| panic!("{reply}"));
    assert_eq!(results[0]["status"], "not_available");
    assert!(
        results[0]["reason"]
            .as_str()
            .unwrap()
            .contains("TensorFlow"),
        "{reply}"
    );
    let unknown = run_cell(&job("inference", "pytorch", "none"));
    assert!(
        unknown["failed"]
            .as_str()
            .unwrap()
            .contains("does not run in the graph child"),
        "{unknown}"
    );
}

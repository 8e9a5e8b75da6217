//! TorchScript: a file traced in Python benchmarks like a native model, and `--torchscript`
//! traces native models, as the original's flag did.

use assert_cmd::Command;
use predicates::prelude::*;
use run_benchmark::models::torchscript::TorchScriptModel;
use std::collections::HashMap;
use tch::{Device, Tensor};

const FILE: &str = "tests/fixtures/parity/torchscript_bert/model.pt";

fn bin() -> Command {
    let mut cmd = Command::cargo_bin("run-benchmark").unwrap();
    cmd.args([
        "--batch-sizes",
        "1",
        "--sequence-lengths",
        "8",
        "--runs",
        "3",
    ]);
    cmd
}

#[test]
fn the_traced_file_computes_what_transformers_computed() {
    let expected: HashMap<String, Tensor> =
        Tensor::read_safetensors("tests/fixtures/parity/torchscript_bert/expected.safetensors")
            .unwrap()
            .into_iter()
            .collect();
    let model = TorchScriptModel::load(std::path::Path::new(FILE), Device::Cpu, false).unwrap();
    let out = tch::no_grad(|| model.run(&expected["input_ids"])).unwrap();
    let diff = (out - &expected["last_hidden_state"])
        .abs()
        .max()
        .double_value(&[]);
    assert!(diff <= 1e-5, "max |diff| = {diff}");
}

#[test]
fn a_torchscript_file_benchmarks_like_a_native_model() {
    let output = bin()
        .args([
            "--models",
            &format!("traced={FILE}:vocab_size=99"),
            "--training",
        ])
        .assert()
        .success();
    let stdout = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    // The figure column of each section: inference speed and memory, training speed and memory.
    let figures: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| traced"))
        .map(|l| l.split('|').nth(4).unwrap().trim())
        .collect();
    assert_eq!(figures.len(), 4, "{stdout}");
    assert!(
        figures[0] != "N/A" && figures[1].parse::<u64>().is_ok(),
        "{stdout}"
    );
    assert_eq!(figures[2..], ["N/A", "N/A"], "{stdout}");
    assert!(stdout.contains("training a TorchScript file is not supported"));
}

#[test]
fn a_torchscript_file_needs_its_vocabulary_size() {
    bin()
        .args(["--models", FILE])
        .assert()
        .failure()
        .code(1)
        .stderr(predicate::str::contains("needs its vocabulary size"));
}

#[test]
fn torchscript_flag_traces_native_models_for_inference_only() {
    bin()
        .args([
            "--models",
            "tests/fixtures/tiny-bert.json",
            "--torchscript",
            "--training",
            "--no-memory",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Training for torchscript is currently not implemented",
        ))
        .stdout(predicate::function(|s: &str| {
            let row = s
                .lines()
                .find(|l| l.starts_with("| tests/fixtures/tiny-bert.json"))
                .unwrap();
            row.split('|').nth(4).unwrap().trim() != "N/A"
        }));
}

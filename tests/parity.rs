//! Parity with Hugging Face transformers: tiny models whose weights and expected outputs
//! were written by transformers itself (`scripts/parity_oracle.py`, `make fixtures`; see
//! tests/fixtures/parity/README.md). No Python is needed here; a missing fixture fails.

use run_benchmark::models::bert::{BertConfig, BertForMaskedLm, BertModel};
use run_benchmark::models::weights::load_safetensors;
use run_benchmark::models::{Model, ModelConfig, Task};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{nn::VarStore, Device, Kind, Tensor};

/// Largest |ours - transformers| allowed, in fp32.
const TOLERANCE: f64 = 1e-4;

fn fixture_dir(arch: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/parity")
        .join(arch)
}

fn fixture(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "parity fixture {} is missing; regenerate it with `make fixtures`",
        path.display()
    );
    path
}

fn read_config(dir: &Path) -> ModelConfig {
    let path = fixture(dir, "config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    ModelConfig::from_json(&json).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()))
}

fn read_expected(dir: &Path) -> HashMap<String, Tensor> {
    let path = fixture(dir, "expected.safetensors");
    Tensor::read_safetensors(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .into_iter()
        .collect()
}

fn expected<'a>(tensors: &'a HashMap<String, Tensor>, name: &str) -> &'a Tensor {
    tensors
        .get(name)
        .unwrap_or_else(|| panic!("expected.safetensors has no tensor {name:?}"))
}

/// Asserts same shape and max |ours - theirs| <= TOLERANCE; prints and returns the max.
fn check(arch: &str, name: &str, ours: &Tensor, theirs: &Tensor) -> f64 {
    assert_eq!(
        ours.size(),
        theirs.size(),
        "{arch} {name}: shape differs from transformers'"
    );
    assert_eq!(ours.kind(), Kind::Float, "{arch} {name}: not fp32");
    let diff = (ours - theirs.to_kind(Kind::Float))
        .abs()
        .max()
        .double_value(&[]);
    println!("{arch} {name}: max |ours - transformers| = {diff:.3e}");
    assert!(
        diff <= TOLERANCE,
        "{arch} {name}: max |ours - transformers| = {diff:e} > {TOLERANCE:e}"
    );
    diff
}

fn bert_config(config: &ModelConfig) -> &BertConfig {
    match config {
        ModelConfig::Bert(c) => c,
        #[allow(unreachable_patterns)]
        _ => panic!("bert/config.json is not a BERT config"),
    }
}

#[test]
fn bert_matches_transformers() {
    let arch = "bert";
    let dir = fixture_dir(arch);
    let config = read_config(&dir);
    let c = bert_config(&config);
    let weights = fixture(&dir, "model.safetensors");
    let expected_tensors = read_expected(&dir);
    let input_ids = expected(&expected_tensors, "input_ids");
    assert_eq!(input_ids.kind(), Kind::Int64, "input_ids is not int64");

    tch::no_grad(|| {
        // BertModel with pooler: its paths carry no `bert.` prefix (embeddings.*, pooler.*),
        // which load_safetensors finds under `bert.*` in the file.
        let mut vs = VarStore::new(Device::Cpu);
        let base = BertModel::new(vs.root(), c, true);
        load_safetensors(&mut vs, &weights, "bert").unwrap();
        let hidden = base.encode(input_ids, false);
        check(
            arch,
            "last_hidden_state",
            &hidden,
            expected(&expected_tensors, "last_hidden_state"),
        );
        let pooled = base.pool(&hidden).expect("built with a pooler");
        check(
            arch,
            "pooler_output",
            &pooled,
            expected(&expected_tensors, "pooler_output"),
        );

        // BertForMaskedLM: paths `bert.*` and `cls.*`, decoder tied to the word embeddings.
        let mut vs = VarStore::new(Device::Cpu);
        let mlm = BertForMaskedLm::new(vs.root(), c);
        load_safetensors(&mut vs, &weights, "bert").unwrap();
        check(
            arch,
            "mlm_logits",
            &mlm.logits(input_ids, false),
            expected(&expected_tensors, "mlm_logits"),
        );
        let loss = Model::loss(&mlm, input_ids, input_ids, false).unwrap();
        check(
            arch,
            "mlm_loss",
            &loss,
            expected(&expected_tensors, "mlm_loss"),
        );
    });
}

/// The modules the benchmark itself builds (`ModelConfig::build`) compute the same.
#[test]
fn bert_built_by_task_matches_transformers() {
    let arch = "bert";
    let dir = fixture_dir(arch);
    let config = read_config(&dir);
    let weights = fixture(&dir, "model.safetensors");
    let expected_tensors = read_expected(&dir);
    let input_ids = expected(&expected_tensors, "input_ids");

    tch::no_grad(|| {
        for (task, name) in [
            (Task::Base, "pooler_output"),
            (Task::LanguageModel, "mlm_logits"),
        ] {
            let mut vs = VarStore::new(Device::Cpu);
            let model = config.build(vs.root(), task);
            load_safetensors(&mut vs, &weights, "bert").unwrap();
            check(
                arch,
                &format!("{task:?} forward ({name})"),
                &model.forward(input_ids, false),
                expected(&expected_tensors, name),
            );
        }
    });
}

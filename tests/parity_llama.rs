//! Llama, Mistral, Qwen2 and Qwen3 against transformers' *Model and *ForCausalLM (fixtures
//! in tests/fixtures/parity/{llama,llama3_scaled,mistral,qwen2,qwen3}, written by
//! scripts/parity_oracle.py). Between them they cover grouped-query attention, projection
//! biases, llama3 rope scaling, an explicit head_dim, tied and untied heads, Qwen3's q/k
//! norms and sliding windows shorter than the sequence (Mistral's, and Qwen2's per layer).

mod common;

use common::{check, expected, fixture, fixture_dir, read_config, read_config_json, read_expected};
use run_benchmark::models::llama::{LlamaConfig, LlamaForCausalLm, LlamaModel};
use run_benchmark::models::weights::load_safetensors;
use run_benchmark::models::{Model, Task};
use tch::{nn::VarStore, Device, Kind};

const FIXTURES: &[&str] = &["llama", "llama3_scaled", "mistral", "qwen2", "qwen3"];

fn matches_transformers(arch: &str) {
    let dir = fixture_dir(arch);
    let c = &LlamaConfig::from_json(&read_config_json(&dir)).unwrap();
    let weights = fixture(&dir, "model.safetensors");
    let expected_tensors = read_expected(&dir);
    let input_ids = expected(&expected_tensors, "input_ids");
    assert_eq!(input_ids.kind(), Kind::Int64, "input_ids is not int64");

    tch::no_grad(|| {
        // The base model's paths carry no `model.` prefix; load_safetensors finds them
        // under `model.*` in the file.
        let mut vs = VarStore::new(Device::Cpu);
        let base = LlamaModel::new(vs.root(), c);
        load_safetensors(&mut vs, &weights, "model").unwrap();
        check(
            arch,
            "last_hidden_state",
            &base.encode(input_ids, false),
            expected(&expected_tensors, "last_hidden_state"),
        );

        let mut vs = VarStore::new(Device::Cpu);
        let lm = LlamaForCausalLm::new(vs.root(), c);
        load_safetensors(&mut vs, &weights, "model").unwrap();
        check(
            arch,
            "logits",
            &lm.logits(input_ids, false),
            expected(&expected_tensors, "logits"),
        );
        let loss = Model::loss(&lm, input_ids, input_ids, false).unwrap();
        check(arch, "loss", &loss, expected(&expected_tensors, "loss"));
    });
}

#[test]
fn llama_matches_transformers() {
    matches_transformers("llama");
}

#[test]
fn llama3_rope_scaling_matches_transformers() {
    matches_transformers("llama3_scaled");
}

#[test]
fn mistral_matches_transformers() {
    matches_transformers("mistral");
}

#[test]
fn qwen2_matches_transformers() {
    matches_transformers("qwen2");
}

#[test]
fn qwen3_matches_transformers() {
    matches_transformers("qwen3");
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
#[test]
fn llama_family_built_by_task_matches_transformers() {
    for arch in FIXTURES {
        let dir = fixture_dir(arch);
        let config = read_config(&dir);
        let weights = fixture(&dir, "model.safetensors");
        let expected_tensors = read_expected(&dir);
        let input_ids = expected(&expected_tensors, "input_ids");
        tch::no_grad(|| {
            for (task, name) in [
                (Task::Base, "last_hidden_state"),
                (Task::LanguageModel, "logits"),
            ] {
                let mut vs = VarStore::new(Device::Cpu);
                let model = config.build(vs.root(), task);
                load_safetensors(&mut vs, &weights, "model").unwrap();
                check(
                    arch,
                    &format!("{task:?} forward ({name})"),
                    &model.forward(input_ids, false),
                    expected(&expected_tensors, name),
                );
            }
        });
    }
}

/// Training runs through the causal-LM loss with gradients into every parameter, tied
/// embeddings receiving both the input's and the head's.
#[test]
fn llama_family_trains() {
    for arch in FIXTURES {
        let dir = fixture_dir(arch);
        let config = read_config(&dir);
        let expected_tensors = read_expected(&dir);
        let input_ids = expected(&expected_tensors, "input_ids");
        let mut vs = VarStore::new(Device::Cpu);
        let model = config.build(vs.root(), Task::LanguageModel);
        load_safetensors(&mut vs, &fixture(&dir, "model.safetensors"), "model").unwrap();
        let loss = model.loss(input_ids, input_ids, true).unwrap();
        check(
            arch,
            "training loss",
            &loss,
            expected(&expected_tensors, "loss"),
        );
        loss.backward();
        for (name, var) in vs.variables() {
            let grad = var.grad();
            assert!(grad.defined(), "{arch}: no gradient for {name}");
            assert!(
                grad.abs().sum(Kind::Float).double_value(&[]) > 0.0,
                "{arch}: zero gradient for {name}"
            );
        }
    }
}

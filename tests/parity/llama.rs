//! Llama, Mistral, Qwen2 and Qwen3 against transformers' *Model and *ForCausalLM (fixtures
//! in tests/fixtures/parity/{llama,llama3_scaled,mistral,qwen2,qwen3}, written by
//! scripts/parity_oracle.py). Between them they cover grouped-query attention, projection
//! biases, llama3 rope scaling, an explicit head_dim, tied and untied heads, Qwen3's q/k
//! norms and sliding windows shorter than the sequence (Mistral's, and Qwen2's per layer).

use crate::common::{built_by_task_matches, trains, Fixture};
use run_benchmark::models::llama::{LlamaConfig, LlamaForCausalLm, LlamaModel};
use run_benchmark::models::{Model, Task};

const FIXTURES: &[&str] = &["llama", "llama3_scaled", "mistral", "qwen2", "qwen3"];

fn matches_transformers(arch: &str) {
    let fx = Fixture::open(arch);
    let c = &LlamaConfig::from_json(&crate::common::read_config_json(&fx.dir)).unwrap();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        // The base model's paths carry no `model.` prefix; load_safetensors finds them
        // under `model.*` in the file.
        let (_vs, base) = fx.load("model", |p| LlamaModel::new(p, c));
        fx.check("last_hidden_state", &base.encode(input_ids, false));

        let (_vs, lm) = fx.load("model", |p| LlamaForCausalLm::new(p, c));
        fx.check("logits", &lm.logits(input_ids, false));
        fx.check(
            "loss",
            &Model::loss(&lm, input_ids, None, input_ids, false).unwrap(),
        );
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
        built_by_task_matches(
            arch,
            "model",
            &[
                (Task::Base, "last_hidden_state"),
                (Task::LanguageModel, "logits"),
            ],
            None,
        );
    }
}

/// Training runs through the causal-LM loss with gradients into every parameter, tied
/// embeddings receiving both the input's and the head's.
#[test]
fn llama_family_trains() {
    for arch in FIXTURES {
        trains(arch, "model", "loss");
    }
}

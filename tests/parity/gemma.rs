//! Gemma, Gemma 2 and Gemma 3 (text) against transformers' GemmaModel/Gemma2Model/
//! Gemma3TextModel and their *ForCausalLM (fixtures in tests/fixtures/parity/{gemma,gemma2,
//! gemma3}, written by scripts/parity_oracle.py). Between them they cover the (1 + weight)
//! RMSNorm, scaled embeddings, GeGLU with exact and tanh GELU, multi-query attention,
//! Gemma 2's four norms, query_pre_attn_scalar, soft-capped scores and logits and
//! alternating sliding windows, and Gemma 3's q/k norms, local rotary base, linear rope
//! scaling and ignored attn_logit_softcapping.

use crate::common::{built_by_task_matches, trains, Fixture};
use run_benchmark::models::gemma::{GemmaConfig, GemmaForCausalLm, GemmaModel};
use run_benchmark::models::{Model, Task};

const FIXTURES: &[&str] = &["gemma", "gemma2", "gemma3"];

fn matches_transformers(arch: &str) {
    let fx = Fixture::open(arch);
    let c = &GemmaConfig::from_json(&crate::common::read_config_json(&fx.dir)).unwrap();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        let (_vs, base) = fx.load("model", |p| GemmaModel::new(p, c));
        fx.check("last_hidden_state", &base.encode(input_ids, false));

        let (_vs, lm) = fx.load("model", |p| GemmaForCausalLm::new(p, c));
        fx.check("logits", &lm.logits(input_ids, false));
        fx.check(
            "loss",
            &Model::loss(&lm, input_ids, None, input_ids, false).unwrap(),
        );
    });
}

#[test]
fn gemma_matches_transformers() {
    matches_transformers("gemma");
}

#[test]
fn gemma2_matches_transformers() {
    matches_transformers("gemma2");
}

#[test]
fn gemma3_matches_transformers() {
    matches_transformers("gemma3");
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
#[test]
fn gemma_family_built_by_task_matches_transformers() {
    for arch in FIXTURES {
        built_by_task_matches(
            arch,
            "model",
            &[
                (Task::Base, "last_hidden_state"),
                (Task::LanguageModel, "logits"),
            ],
            Some("loss"),
        );
    }
}

/// Training runs through the causal-LM loss with gradients into every parameter.
#[test]
fn gemma_family_trains() {
    for arch in FIXTURES {
        trains(arch, "model", "loss");
    }
}

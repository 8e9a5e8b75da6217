//! Phi-3 against transformers' Phi3Model and Phi3ForCausalLM (fixture in
//! tests/fixtures/parity/phi3, written by scripts/parity_oracle.py): fused qkv and gate-up
//! projections, grouped-query attention, partial rotary, LongRoPE past
//! original_max_position_embeddings (long factors and attention factor) and a sliding
//! window shorter than the sequence.

use crate::common::{built_by_task_matches, trains, Fixture};
use run_benchmark::models::phi3::{Phi3Config, Phi3ForCausalLm, Phi3Model};
use run_benchmark::models::{Model, Task};

#[test]
fn phi3_matches_transformers() {
    let fx = Fixture::open("phi3");
    let c = &Phi3Config::from_json(&crate::common::read_config_json(&fx.dir)).unwrap();
    let input_ids = fx.input_ids();
    tch::no_grad(|| {
        let (_vs, base) = fx.load("model", |p| Phi3Model::new(p, c));
        fx.check("last_hidden_state", &base.encode(input_ids, false));
        let (_vs, lm) = fx.load("model", |p| Phi3ForCausalLm::new(p, c));
        fx.check("logits", &lm.logits(input_ids, false));
        fx.check(
            "loss",
            &Model::loss(&lm, input_ids, None, input_ids, false).unwrap(),
        );
    });
}

#[test]
fn phi3_built_by_task_matches_transformers() {
    built_by_task_matches(
        "phi3",
        "model",
        &[
            (Task::Base, "last_hidden_state"),
            (Task::LanguageModel, "logits"),
        ],
        Some("loss"),
    );
}

#[test]
fn phi3_trains() {
    trains("phi3", "model", "loss");
}

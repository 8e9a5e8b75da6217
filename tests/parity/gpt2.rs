//! GPT-2 against transformers' GPT2Model and GPT2LMHeadModel (fixtures in
//! tests/fixtures/parity/{gpt2, gpt2_variant}, written by scripts/parity_oracle.py).

use crate::common::{built_by_task_matches, Fixture};
use run_benchmark::models::gpt2::{Gpt2Config, Gpt2LmHeadModel, Gpt2Model};
use run_benchmark::models::{Model, Task};

/// Checks the base model's last hidden state, the LM head's logits and its loss with
/// labels = input_ids against the fixture `arch`.
fn matches_transformers(arch: &str) {
    let fx = Fixture::open(arch);
    let c: Gpt2Config = fx.config();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        // GPT2Model: its paths carry no `transformer.` prefix, which load_safetensors finds
        // under `transformer.*` in the file.
        let (_vs, base) = fx.load("transformer", |p| Gpt2Model::new(p, &c));
        fx.check("last_hidden_state", &base.encode(input_ids, false));

        // GPT2LMHeadModel: `transformer.*` and, when untied, `lm_head.weight`.
        let (_vs, lm) = fx.load("transformer", |p| Gpt2LmHeadModel::new(p, &c));
        fx.check("lm_logits", &lm.logits(input_ids, false));
        fx.check(
            "lm_loss",
            &Model::loss(&lm, input_ids, None, input_ids, false).unwrap(),
        );
    });
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
fn built_by_task_matches_transformers(arch: &str) {
    built_by_task_matches(
        arch,
        "transformer",
        &[
            (Task::Base, "last_hidden_state"),
            (Task::LanguageModel, "lm_logits"),
        ],
        Some("lm_loss"),
    );
}

#[test]
fn gpt2_matches_transformers() {
    matches_transformers("gpt2");
}

#[test]
fn gpt2_built_by_task_matches_transformers() {
    built_by_task_matches_transformers("gpt2");
}

#[test]
fn gpt2_variant_matches_transformers() {
    matches_transformers("gpt2_variant");
}

#[test]
fn gpt2_variant_built_by_task_matches_transformers() {
    built_by_task_matches_transformers("gpt2_variant");
}

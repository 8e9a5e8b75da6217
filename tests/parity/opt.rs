//! OPT against transformers' OPTModel and OPTForCausalLM (fixtures in
//! tests/fixtures/parity/{opt, opt_350m}, written by scripts/parity_oracle.py).

use crate::common::{built_by_task_matches, Fixture};
use run_benchmark::models::opt::{OptConfig, OptForCausalLm, OptModel};
use run_benchmark::models::{Model, Task};

/// Checks the base model's last hidden state, the LM head's logits and its loss with
/// labels = input_ids against the fixture `arch`.
fn matches_transformers(arch: &str) {
    let fx = Fixture::open(arch);
    let c: OptConfig = fx.config();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        // OPTModel: its paths carry no `model.` prefix, which load_safetensors finds
        // under `model.*` in the file.
        let (_vs, base) = fx.load("model", |p| OptModel::new(p, &c));
        fx.check("last_hidden_state", &base.encode(input_ids, false));

        // OPTForCausalLM: `model.*` and, when untied, `lm_head.weight`.
        let (_vs, lm) = fx.load("model", |p| OptForCausalLm::new(p, &c));
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
        "model",
        &[
            (Task::Base, "last_hidden_state"),
            (Task::LanguageModel, "lm_logits"),
        ],
        Some("lm_loss"),
    );
}

#[test]
fn opt_matches_transformers() {
    matches_transformers("opt");
}

#[test]
fn opt_built_by_task_matches_transformers() {
    built_by_task_matches_transformers("opt");
}

#[test]
fn opt_350m_matches_transformers() {
    matches_transformers("opt_350m");
}

#[test]
fn opt_350m_built_by_task_matches_transformers() {
    built_by_task_matches_transformers("opt_350m");
}

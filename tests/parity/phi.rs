//! Phi against transformers' PhiModel and PhiForCausalLM (fixtures in
//! tests/fixtures/parity/phi, written by scripts/parity_oracle.py): partial rotary,
//! attention and MLP in parallel after one LayerNorm, `lm_head` with bias, gelu_new.

use crate::common::{built_by_task_matches, trains, Fixture};
use run_benchmark::models::phi::{PhiConfig, PhiForCausalLm, PhiModel};
use run_benchmark::models::{Model, Task};

const ARCH: &str = "phi";

#[test]
fn phi_matches_transformers() {
    let fx = Fixture::open(ARCH);
    let c: &PhiConfig = &fx.config();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        // The base model's paths carry no `model.` prefix; load_safetensors finds them
        // under `model.*` in the file.
        let (_vs, base) = fx.load("model", |p| PhiModel::new(p, c));
        fx.check("last_hidden_state", &base.encode(input_ids, false));

        let (_vs, lm) = fx.load("model", |p| PhiForCausalLm::new(p, c));
        fx.check("logits", &lm.logits(input_ids, false));
        fx.check(
            "loss",
            &Model::loss(&lm, input_ids, None, input_ids, false).unwrap(),
        );
    });
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
#[test]
fn phi_built_by_task_matches_transformers() {
    built_by_task_matches(
        ARCH,
        "model",
        &[
            (Task::Base, "last_hidden_state"),
            (Task::LanguageModel, "logits"),
        ],
        None,
    );
}

/// Training runs through the causal-LM loss with a gradient into every parameter (the
/// fixture has no dropout, so the training loss is transformers' loss too).
#[test]
fn phi_trains() {
    trains(ARCH, "model", "loss");
}

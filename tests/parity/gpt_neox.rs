//! GPT-NeoX (Pythia) against transformers' GPTNeoXModel and GPTNeoXForCausalLM (fixtures in
//! tests/fixtures/parity/{gpt_neox,gpt_neox_sequential}, written by
//! scripts/parity_oracle.py): the fused, per-head interleaved query_key_value, partial
//! rotary (a quarter and a half of each head), parallel and sequential residuals.

use crate::common::{built_by_task_matches, trains, Fixture};
use run_benchmark::models::gpt_neox::{GptNeoxConfig, GptNeoxForCausalLm, GptNeoxModel};
use run_benchmark::models::{Model, Task};

const FIXTURES: &[&str] = &["gpt_neox", "gpt_neox_sequential"];

fn matches_transformers(arch: &str) {
    let fx = Fixture::open(arch);
    let c: &GptNeoxConfig = &fx.config();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        // The base model's paths carry no `gpt_neox.` prefix; load_safetensors finds them
        // under `gpt_neox.*` in the file.
        let (_vs, base) = fx.load("gpt_neox", |p| GptNeoxModel::new(p, c));
        fx.check("last_hidden_state", &base.encode(input_ids, false));

        let (_vs, lm) = fx.load("gpt_neox", |p| GptNeoxForCausalLm::new(p, c));
        fx.check("logits", &lm.logits(input_ids, false));
        fx.check(
            "loss",
            &Model::loss(&lm, input_ids, None, input_ids, false).unwrap(),
        );
    });
}

#[test]
fn gpt_neox_matches_transformers() {
    matches_transformers("gpt_neox");
}

#[test]
fn gpt_neox_sequential_residual_matches_transformers() {
    matches_transformers("gpt_neox_sequential");
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
#[test]
fn gpt_neox_built_by_task_matches_transformers() {
    for arch in FIXTURES {
        built_by_task_matches(
            arch,
            "gpt_neox",
            &[
                (Task::Base, "last_hidden_state"),
                (Task::LanguageModel, "logits"),
            ],
            None,
        );
    }
}

/// Training runs through the causal-LM loss with a gradient into every parameter.
#[test]
fn gpt_neox_trains() {
    for arch in FIXTURES {
        trains(arch, "gpt_neox", "loss");
    }
}

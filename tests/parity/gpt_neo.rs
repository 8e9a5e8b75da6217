//! GPT-Neo against transformers' GPTNeoModel and GPTNeoForCausalLM (fixtures in
//! tests/fixtures/parity/gpt_neo, written by scripts/parity_oracle.py).

use crate::common::{built_by_task_matches, Fixture};
use run_benchmark::models::gpt_neo::{GptNeoConfig, GptNeoForCausalLm, GptNeoModel};
use run_benchmark::models::{Model, Task};

const ARCH: &str = "gpt_neo";

/// Checks the base model's last hidden state, the LM head's logits and its loss with
/// labels = input_ids.
#[test]
fn gpt_neo_matches_transformers() {
    let fx = Fixture::open(ARCH);
    let c: GptNeoConfig = fx.config();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        // GPTNeoModel: its paths carry no `transformer.` prefix, which load_safetensors finds
        // under `transformer.*` in the file.
        let (_vs, base) = fx.load("transformer", |p| GptNeoModel::new(p, &c));
        fx.check("last_hidden_state", &base.encode(input_ids, false));

        // GPTNeoForCausalLM: `transformer.*` and, when untied, `lm_head.weight`.
        let (_vs, lm) = fx.load("transformer", |p| GptNeoForCausalLm::new(p, &c));
        fx.check("lm_logits", &lm.logits(input_ids, false));
        fx.check(
            "lm_loss",
            &Model::loss(&lm, input_ids, None, input_ids, false).unwrap(),
        );
    });
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
#[test]
fn gpt_neo_built_by_task_matches_transformers() {
    built_by_task_matches(
        ARCH,
        "transformer",
        &[
            (Task::Base, "last_hidden_state"),
            (Task::LanguageModel, "lm_logits"),
        ],
        Some("lm_loss"),
    );
}

//! Mixtral and Qwen3-MoE against transformers' MixtralModel/Qwen3MoeModel and their
//! *ForCausalLM (fixtures in tests/fixtures/parity/{mixtral,qwen3_moe}, written by
//! scripts/parity_oracle.py): top-2 routing of 4 experts with (Mixtral) and without
//! (Qwen3-MoE, norm_topk_prob false) renormalisation, a dense layer among sparse ones
//! (mlp_only_layers), and the training loss with the router's load-balancing loss
//! (output_router_logits), which the oracle also saves alone as `aux_loss`; and both again
//! with an attention mask over padding, which the load-balancing loss leaves out.

use crate::common::{built_by_task_matches, check, trains, Fixture};
use run_benchmark::models::layers::{causal_lm_loss, masked_labels};
use run_benchmark::models::llama::{LlamaConfig, LlamaForCausalLm, LlamaModel};
use run_benchmark::models::{Model, Task};

const FIXTURES: &[&str] = &["mixtral", "qwen3_moe"];

fn matches_transformers(arch: &str) {
    let fx = Fixture::open(arch);
    let c = &LlamaConfig::from_json(&crate::common::read_config_json(&fx.dir)).unwrap();
    let moe = c.moe.as_ref().expect("a mixture-of-experts config");
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        let (_vs, base) = fx.load("model", |p| LlamaModel::new(p, c));
        fx.check("last_hidden_state", &base.encode(input_ids, false));

        let (_vs, lm) = fx.load("model", |p| LlamaForCausalLm::new(p, c));
        let logits = lm.logits(input_ids, false);
        fx.check("logits", &logits);
        let loss = Model::loss(&lm, input_ids, None, input_ids, false).unwrap();
        fx.check("loss", &loss);
        // The loss is cross-entropy plus coef · aux: the aux part matches on its own.
        let aux = (loss - causal_lm_loss(&logits, input_ids)) / moe.router_aux_loss_coef;
        check(arch, "aux_loss", &aux, fx.expected("aux_loss"));

        // Padding (row 0's last three tokens, labelled -100) is left out of both the
        // cross-entropy and the router's balance, as transformers given the mask.
        let mask = fx.expected("attention_mask");
        let labels = masked_labels(input_ids, mask);
        let masked = lm.loss(input_ids, Some(mask), &labels, false).unwrap();
        fx.check("masked_loss", &masked);
        let logits = lm.forward(input_ids, Some(mask), false).unwrap();
        let aux = (masked - causal_lm_loss(&logits, &labels)) / moe.router_aux_loss_coef;
        check(
            arch,
            "masked_aux_loss",
            &aux,
            fx.expected("masked_aux_loss"),
        );
    });
}

#[test]
fn mixtral_matches_transformers() {
    matches_transformers("mixtral");
}

#[test]
fn qwen3_moe_matches_transformers() {
    matches_transformers("qwen3_moe");
}

#[test]
fn moe_built_by_task_matches_transformers() {
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

/// Training: the loss with the auxiliary term, and a gradient into every parameter (the
/// oracle checked that every expert is routed a token).
#[test]
fn moe_trains() {
    for arch in FIXTURES {
        trains(arch, "model", "loss");
    }
}

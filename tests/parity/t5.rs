//! T5 and flan-T5 against transformers' T5Model and T5ForConditionalGeneration, called with
//! decoder_input_ids = input_ids (fixtures in tests/fixtures/parity/{t5,flan_t5}, written by
//! scripts/parity_oracle.py): t5 has a relu feed-forward and a tied, rescaled lm_head;
//! flan_t5 a gated-gelu feed-forward, an untied lm_head and more decoder than encoder layers.

use crate::common::{built_by_task_matches, fixture_dir, read_config_json, Fixture};
use run_benchmark::models::t5::{T5Config, T5ForConditionalGeneration, T5Model};
use run_benchmark::models::{Model, Task};
use tch::{nn::VarStore, Device};

fn matches_transformers(arch: &str) {
    let fx = Fixture::open(arch);
    let c: T5Config = fx.config();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        let (_vs, base) = fx.load("transformer", |p| T5Model::new(p, &c));
        let encoded = base.encode(input_ids, false);
        fx.check("encoder_last_hidden_state", &encoded);
        fx.check(
            "last_hidden_state",
            &base.decode(input_ids, &encoded, false),
        );

        let (_vs, lm) = fx.load("transformer", |p| T5ForConditionalGeneration::new(p, &c));
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
        None,
    );
}

#[test]
fn t5_matches_transformers() {
    matches_transformers("t5");
}

#[test]
fn flan_t5_matches_transformers() {
    matches_transformers("flan_t5");
}

#[test]
fn t5_built_by_task_matches_transformers() {
    built_by_task_matches_transformers("t5");
}

#[test]
fn flan_t5_built_by_task_matches_transformers() {
    built_by_task_matches_transformers("flan_t5");
}

/// Tied means one tensor: `lm_head` is `shared`, so that training updates both.
#[test]
fn t5_lm_head_is_tied_only_when_configured() {
    for (arch, tied) in [("t5", true), ("flan_t5", false)] {
        let c: T5Config = serde_json::from_value(read_config_json(&fixture_dir(arch))).unwrap();
        assert_eq!(c.tie_word_embeddings, tied, "{arch}");
        let vs = VarStore::new(Device::Cpu);
        let _lm = T5ForConditionalGeneration::new(vs.root(), &c);
        let names = vs.variables();
        assert_eq!(names.contains_key("lm_head.weight"), !tied, "{arch}");
        assert!(names.contains_key("shared.weight"), "{arch}");
    }
}

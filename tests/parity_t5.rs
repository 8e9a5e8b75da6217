//! T5 and flan-T5 against transformers' T5Model and T5ForConditionalGeneration, called with
//! decoder_input_ids = input_ids (fixtures in tests/fixtures/parity/{t5,flan_t5}, written by
//! scripts/parity_oracle.py): t5 has a relu feed-forward and a tied, rescaled lm_head;
//! flan_t5 a gated-gelu feed-forward, an untied lm_head and more decoder than encoder layers.

mod common;

use common::{check, expected, fixture, fixture_dir, read_config, read_config_json, read_expected};
use run_benchmark::models::t5::{T5Config, T5ForConditionalGeneration, T5Model};
use run_benchmark::models::weights::load_safetensors;
use run_benchmark::models::{Model, Task};
use tch::{nn::VarStore, Device, Kind};

fn matches_transformers(arch: &str) {
    let dir = fixture_dir(arch);
    let c: T5Config = serde_json::from_value(read_config_json(&dir)).expect("a T5 config");
    let weights = fixture(&dir, "model.safetensors");
    let expected_tensors = read_expected(&dir);
    let input_ids = expected(&expected_tensors, "input_ids");
    assert_eq!(input_ids.kind(), Kind::Int64, "input_ids is not int64");

    tch::no_grad(|| {
        let mut vs = VarStore::new(Device::Cpu);
        let base = T5Model::new(vs.root(), &c);
        load_safetensors(&mut vs, &weights, "transformer").unwrap();
        let encoded = base.encode(input_ids, false);
        check(
            arch,
            "encoder_last_hidden_state",
            &encoded,
            expected(&expected_tensors, "encoder_last_hidden_state"),
        );
        check(
            arch,
            "last_hidden_state",
            &base.decode(input_ids, &encoded, false),
            expected(&expected_tensors, "last_hidden_state"),
        );

        let mut vs = VarStore::new(Device::Cpu);
        let lm = T5ForConditionalGeneration::new(vs.root(), &c);
        load_safetensors(&mut vs, &weights, "transformer").unwrap();
        check(
            arch,
            "lm_logits",
            &lm.logits(input_ids, false),
            expected(&expected_tensors, "lm_logits"),
        );
        let loss = Model::loss(&lm, input_ids, input_ids, false).unwrap();
        check(
            arch,
            "lm_loss",
            &loss,
            expected(&expected_tensors, "lm_loss"),
        );
    });
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
fn built_by_task_matches_transformers(arch: &str) {
    let dir = fixture_dir(arch);
    let config = read_config(&dir);
    let weights = fixture(&dir, "model.safetensors");
    let expected_tensors = read_expected(&dir);
    let input_ids = expected(&expected_tensors, "input_ids");

    tch::no_grad(|| {
        for (task, name) in [
            (Task::Base, "last_hidden_state"),
            (Task::LanguageModel, "lm_logits"),
        ] {
            let mut vs = VarStore::new(Device::Cpu);
            let model = config.build(vs.root(), task);
            load_safetensors(&mut vs, &weights, "transformer").unwrap();
            check(
                arch,
                &format!("{task:?} forward ({name})"),
                &model.forward(input_ids, false),
                expected(&expected_tensors, name),
            );
        }
    });
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

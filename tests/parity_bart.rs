//! BART against transformers' BartModel and BartForConditionalGeneration, called with
//! decoder_input_ids = input_ids (fixtures in tests/fixtures/parity/bart, written by
//! scripts/parity_oracle.py).

mod common;

use common::{check, expected, fixture, fixture_dir, read_config, read_config_json, read_expected};
use run_benchmark::models::bart::{BartConfig, BartForConditionalGeneration, BartModel};
use run_benchmark::models::weights::load_safetensors;
use run_benchmark::models::{Model, Task};
use tch::{nn::VarStore, Device, Kind};

#[test]
fn bart_matches_transformers() {
    let arch = "bart";
    let dir = fixture_dir(arch);
    let c: BartConfig = serde_json::from_value(read_config_json(&dir)).expect("a BART config");
    let weights = fixture(&dir, "model.safetensors");
    let expected_tensors = read_expected(&dir);
    let input_ids = expected(&expected_tensors, "input_ids");
    assert_eq!(input_ids.kind(), Kind::Int64, "input_ids is not int64");

    tch::no_grad(|| {
        // BartModel: paths without the `model.` prefix, found under `model.*` in the file.
        let mut vs = VarStore::new(Device::Cpu);
        let base = BartModel::new(vs.root(), &c);
        load_safetensors(&mut vs, &weights, "model").unwrap();
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

        // BartForConditionalGeneration: `model.*`, `final_logits_bias`, lm_head tied.
        let mut vs = VarStore::new(Device::Cpu);
        let lm = BartForConditionalGeneration::new(vs.root(), &c);
        load_safetensors(&mut vs, &weights, "model").unwrap();
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
#[test]
fn bart_built_by_task_matches_transformers() {
    let arch = "bart";
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
            load_safetensors(&mut vs, &weights, "model").unwrap();
            check(
                arch,
                &format!("{task:?} forward ({name})"),
                &model.forward(input_ids, false),
                expected(&expected_tensors, name),
            );
        }
    });
}

/// `final_logits_bias` is a buffer: loaded, but not trained; `lm_head` is `model.shared`.
#[test]
fn bart_head_is_tied_and_its_bias_frozen() {
    let c: BartConfig = serde_json::from_value(read_config_json(&fixture_dir("bart"))).unwrap();
    let vs = VarStore::new(Device::Cpu);
    let _lm = BartForConditionalGeneration::new(vs.root(), &c);
    let names = vs.variables();
    assert!(names.contains_key("final_logits_bias"));
    assert!(!names.contains_key("lm_head.weight"));
    assert!(!names["final_logits_bias"].requires_grad());
    assert_eq!(
        vs.trainable_variables().len() + 1,
        names.len(),
        "only the bias is frozen"
    );
}

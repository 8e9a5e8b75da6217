//! OPT against transformers' OPTModel and OPTForCausalLM (fixtures in
//! tests/fixtures/parity/{opt, opt_350m}, written by scripts/parity_oracle.py).

mod common;

use common::{check, expected, fixture, fixture_dir, read_config, read_config_json, read_expected};
use run_benchmark::models::opt::{OptConfig, OptForCausalLm, OptModel};
use run_benchmark::models::weights::load_safetensors;
use run_benchmark::models::{Model, Task};
use tch::{nn::VarStore, Device, Kind};

/// Checks the base model's last hidden state, the LM head's logits and its loss with
/// labels = input_ids against the fixture `arch`.
fn matches_transformers(arch: &str) {
    let dir = fixture_dir(arch);
    let c: OptConfig = serde_json::from_value(read_config_json(&dir)).expect("a OPT config");
    let weights = fixture(&dir, "model.safetensors");
    let expected_tensors = read_expected(&dir);
    let input_ids = expected(&expected_tensors, "input_ids");
    assert_eq!(input_ids.kind(), Kind::Int64, "input_ids is not int64");

    tch::no_grad(|| {
        // OPTModel: its paths carry no `model.` prefix, which load_safetensors finds
        // under `model.*` in the file.
        let mut vs = VarStore::new(Device::Cpu);
        let base = OptModel::new(vs.root(), &c);
        load_safetensors(&mut vs, &weights, "model").unwrap();
        check(
            arch,
            "last_hidden_state",
            &base.encode(input_ids, false),
            expected(&expected_tensors, "last_hidden_state"),
        );

        // OPTForCausalLM: `model.*` and, when untied, `lm_head.weight`.
        let mut vs = VarStore::new(Device::Cpu);
        let lm = OptForCausalLm::new(vs.root(), &c);
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
            load_safetensors(&mut vs, &weights, "model").unwrap();
            check(
                arch,
                &format!("{task:?} forward ({name})"),
                &model.forward(input_ids, false),
                expected(&expected_tensors, name),
            );
        }
        let mut vs = VarStore::new(Device::Cpu);
        let model = config.build(vs.root(), Task::LanguageModel);
        load_safetensors(&mut vs, &weights, "model").unwrap();
        check(
            arch,
            "LanguageModel loss",
            &model.loss(input_ids, input_ids, false).unwrap(),
            expected(&expected_tensors, "lm_loss"),
        );
    });
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

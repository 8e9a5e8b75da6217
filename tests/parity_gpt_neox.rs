//! GPT-NeoX (Pythia) against transformers' GPTNeoXModel and GPTNeoXForCausalLM (fixtures in
//! tests/fixtures/parity/{gpt_neox,gpt_neox_sequential}, written by
//! scripts/parity_oracle.py): the fused, per-head interleaved query_key_value, partial
//! rotary (a quarter and a half of each head), parallel and sequential residuals.

mod common;

use common::{check, expected, fixture, fixture_dir, read_config, read_config_json, read_expected};
use run_benchmark::models::gpt_neox::{GptNeoxConfig, GptNeoxForCausalLm, GptNeoxModel};
use run_benchmark::models::weights::load_safetensors;
use run_benchmark::models::{Model, Task};
use tch::{nn::VarStore, Device, Kind};

const FIXTURES: &[&str] = &["gpt_neox", "gpt_neox_sequential"];

fn matches_transformers(arch: &str) {
    let dir = fixture_dir(arch);
    let c: &GptNeoxConfig = &serde_json::from_value(read_config_json(&dir)).unwrap();
    let weights = fixture(&dir, "model.safetensors");
    let expected_tensors = read_expected(&dir);
    let input_ids = expected(&expected_tensors, "input_ids");
    assert_eq!(input_ids.kind(), Kind::Int64, "input_ids is not int64");

    tch::no_grad(|| {
        // The base model's paths carry no `gpt_neox.` prefix; load_safetensors finds them
        // under `gpt_neox.*` in the file.
        let mut vs = VarStore::new(Device::Cpu);
        let base = GptNeoxModel::new(vs.root(), c);
        load_safetensors(&mut vs, &weights, "gpt_neox").unwrap();
        check(
            arch,
            "last_hidden_state",
            &base.encode(input_ids, false),
            expected(&expected_tensors, "last_hidden_state"),
        );

        let mut vs = VarStore::new(Device::Cpu);
        let lm = GptNeoxForCausalLm::new(vs.root(), c);
        load_safetensors(&mut vs, &weights, "gpt_neox").unwrap();
        check(
            arch,
            "logits",
            &lm.logits(input_ids, false),
            expected(&expected_tensors, "logits"),
        );
        let loss = Model::loss(&lm, input_ids, input_ids, false).unwrap();
        check(arch, "loss", &loss, expected(&expected_tensors, "loss"));
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
        let dir = fixture_dir(arch);
        let config = read_config(&dir);
        let weights = fixture(&dir, "model.safetensors");
        let expected_tensors = read_expected(&dir);
        let input_ids = expected(&expected_tensors, "input_ids");
        tch::no_grad(|| {
            for (task, name) in [
                (Task::Base, "last_hidden_state"),
                (Task::LanguageModel, "logits"),
            ] {
                let mut vs = VarStore::new(Device::Cpu);
                let model = config.build(vs.root(), task);
                load_safetensors(&mut vs, &weights, "gpt_neox").unwrap();
                check(
                    arch,
                    &format!("{task:?} forward ({name})"),
                    &model.forward(input_ids, false),
                    expected(&expected_tensors, name),
                );
            }
        });
    }
}

/// Training runs through the causal-LM loss with a gradient into every parameter.
#[test]
fn gpt_neox_trains() {
    for arch in FIXTURES {
        let dir = fixture_dir(arch);
        let config = read_config(&dir);
        let expected_tensors = read_expected(&dir);
        let input_ids = expected(&expected_tensors, "input_ids");
        let mut vs = VarStore::new(Device::Cpu);
        let model = config.build(vs.root(), Task::LanguageModel);
        load_safetensors(&mut vs, &fixture(&dir, "model.safetensors"), "gpt_neox").unwrap();
        let loss = model.loss(input_ids, input_ids, true).unwrap();
        check(
            arch,
            "training loss",
            &loss,
            expected(&expected_tensors, "loss"),
        );
        loss.backward();
        for (name, var) in vs.variables() {
            let grad = var.grad();
            assert!(grad.defined(), "{arch}: no gradient for {name}");
            assert!(
                grad.abs().sum(Kind::Float).double_value(&[]) > 0.0,
                "{arch}: zero gradient for {name}"
            );
        }
    }
}

//! ELECTRA against transformers' ElectraModel, ElectraForPreTraining and ElectraForMaskedLM
//! (fixtures in tests/fixtures/parity/electra, written by scripts/parity_oracle.py), with
//! embeddings narrower than the hidden size.

mod common;

use common::{check, expected, fixture, fixture_dir, read_config_json, read_expected};
use run_benchmark::models::electra::{
    electra_for_masked_lm, electra_model, ElectraConfig, ElectraForPreTraining,
};
use run_benchmark::models::weights::load_safetensors;
use run_benchmark::models::{self, Model, Task};
use tch::{nn::VarStore, Device};

const ARCH: &str = "electra";

#[test]
fn electra_matches_transformers() {
    let dir = fixture_dir(ARCH);
    let c: &ElectraConfig =
        &serde_json::from_value(read_config_json(&dir)).expect("an ELECTRA config");
    let weights = fixture(&dir, "model.safetensors");
    let tensors = read_expected(&dir);
    let input_ids = expected(&tensors, "input_ids");

    tch::no_grad(|| {
        let mut vs = VarStore::new(Device::Cpu);
        let base = electra_model(vs.root(), c);
        load_safetensors(&mut vs, &weights, "electra").unwrap();
        let hidden = base.encode(input_ids, false);
        let last = expected(&tensors, "last_hidden_state");
        check(ARCH, "last_hidden_state", &hidden, last);

        let mut vs = VarStore::new(Device::Cpu);
        let discriminator = ElectraForPreTraining::new(vs.root(), c);
        load_safetensors(&mut vs, &weights, "electra").unwrap();
        let logits = discriminator.logits(input_ids, false);
        let want = expected(&tensors, "pretraining_logits");
        check(ARCH, "pretraining_logits", &logits, want);
        let loss = discriminator.loss(input_ids, input_ids, false).unwrap();
        let want = expected(&tensors, "pretraining_loss");
        check(ARCH, "pretraining_loss", &loss, want);

        let mut vs = VarStore::new(Device::Cpu);
        let generator = electra_for_masked_lm(vs.root(), c);
        load_safetensors(&mut vs, &weights, "electra").unwrap();
        let logits = generator.logits(input_ids, false);
        check(
            ARCH,
            "mlm_logits",
            &logits,
            expected(&tensors, "mlm_logits"),
        );
        let loss = Model::loss(&generator, input_ids, input_ids, false).unwrap();
        check(ARCH, "mlm_loss", &loss, expected(&tensors, "mlm_loss"));
    });
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same: the
/// language model is the discriminator for this config (architectures ElectraForPreTraining),
/// the generator when architectures names ElectraForMaskedLM.
#[test]
fn electra_built_by_task_matches_transformers() {
    let dir = fixture_dir(ARCH);
    let json = read_config_json(&dir);
    let mut generator_json = json.clone();
    generator_json["architectures"] = serde_json::json!(["ElectraForMaskedLM"]);
    let weights = fixture(&dir, "model.safetensors");
    let tensors = read_expected(&dir);
    let input_ids = expected(&tensors, "input_ids");

    tch::no_grad(|| {
        for (config, task, name) in [
            (&json, Task::Base, "last_hidden_state"),
            (&json, Task::LanguageModel, "pretraining_logits"),
            (&generator_json, Task::LanguageModel, "mlm_logits"),
        ] {
            let config = models::from_json(config).unwrap();
            let mut vs = VarStore::new(Device::Cpu);
            let model = config.build(vs.root(), task);
            load_safetensors(&mut vs, &weights, "electra").unwrap();
            check(
                ARCH,
                &format!("{task:?} forward ({name})"),
                &model.forward(input_ids, false),
                expected(&tensors, name),
            );
        }
    });
}

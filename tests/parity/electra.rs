//! ELECTRA against transformers' ElectraModel, ElectraForPreTraining and ElectraForMaskedLM
//! (fixtures in tests/fixtures/parity/electra, written by scripts/parity_oracle.py), with
//! embeddings narrower than the hidden size.

use crate::common::{built_by_task_matches_config, Fixture};
use run_benchmark::models::electra::{
    electra_for_masked_lm, electra_model, ElectraConfig, ElectraForPreTraining,
};
use run_benchmark::models::{self, Model, Task};

const ARCH: &str = "electra";

#[test]
fn electra_matches_transformers() {
    let fx = Fixture::open(ARCH);
    let c: &ElectraConfig = &fx.config();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        let (_vs, base) = fx.load("electra", |p| electra_model(p, c));
        fx.check("last_hidden_state", &base.encode(input_ids, false));

        let (_vs, discriminator) = fx.load("electra", |p| ElectraForPreTraining::new(p, c));
        fx.check(
            "pretraining_logits",
            &discriminator.logits(input_ids, false),
        );
        let loss = discriminator
            .loss(input_ids, None, input_ids, false)
            .unwrap();
        fx.check("pretraining_loss", &loss);

        let (_vs, generator) = fx.load("electra", |p| electra_for_masked_lm(p, c));
        fx.check("mlm_logits", &generator.logits(input_ids, false));
        fx.check(
            "mlm_loss",
            &Model::loss(&generator, input_ids, None, input_ids, false).unwrap(),
        );
    });
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same: the
/// language model is the discriminator for this config (architectures ElectraForPreTraining),
/// the generator when architectures names ElectraForMaskedLM.
#[test]
fn electra_built_by_task_matches_transformers() {
    let fx = Fixture::open(ARCH);
    let json = crate::common::read_config_json(&fx.dir);
    let mut generator_json = json.clone();
    generator_json["architectures"] = serde_json::json!(["ElectraForMaskedLM"]);
    let discriminator = models::from_json(&json).unwrap();
    built_by_task_matches_config(
        &fx,
        discriminator.as_ref(),
        "electra",
        &[
            (Task::Base, "last_hidden_state"),
            (Task::LanguageModel, "pretraining_logits"),
        ],
    );
    let generator = models::from_json(&generator_json).unwrap();
    built_by_task_matches_config(
        &fx,
        generator.as_ref(),
        "electra",
        &[(Task::LanguageModel, "mlm_logits")],
    );
}

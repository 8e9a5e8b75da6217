//! DistilBERT against transformers' DistilBertModel and DistilBertForMaskedLM (fixtures in
//! tests/fixtures/parity/distilbert, written by scripts/parity_oracle.py).

use crate::common::{built_by_task_matches, check, Fixture};
use run_benchmark::models::distilbert::{
    distilbert_for_masked_lm, distilbert_model, DistilBertConfig,
};
use run_benchmark::models::{Model, Task};
use tch::{nn::VarStore, Device};

const ARCH: &str = "distilbert";

#[test]
fn distilbert_matches_transformers() {
    let fx = Fixture::open(ARCH);
    let c: &DistilBertConfig = &fx.config();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        let (_vs, base) = fx.load("distilbert", |p| distilbert_model(p, c));
        fx.check("last_hidden_state", &base.encode(input_ids, false));

        let (_vs, mlm) = fx.load("distilbert", |p| distilbert_for_masked_lm(p, c));
        fx.check("mlm_logits", &mlm.logits(input_ids, false));
        fx.check(
            "mlm_loss",
            &Model::loss(&mlm, input_ids, None, input_ids, false).unwrap(),
        );
    });
}

#[test]
fn distilbert_built_by_task_matches_transformers() {
    built_by_task_matches(
        ARCH,
        "distilbert",
        &[
            (Task::Base, "last_hidden_state"),
            (Task::LanguageModel, "mlm_logits"),
        ],
        None,
    );
}

/// sinusoidal_pos_embds: the position table is transformers' fixed one, and not trained.
#[test]
fn distilbert_sinusoidal_positions_match_transformers() {
    let fx = Fixture::open(ARCH);
    let c = DistilBertConfig {
        sinusoidal_pos_embds: true,
        ..fx.config()
    };
    let vs = VarStore::new(Device::Cpu);
    let _model = distilbert_model(vs.root(), &c);
    let name = "embeddings.position_embeddings.weight";
    let table = &vs.variables()[name];
    check(
        ARCH,
        "sinusoidal_position_embeddings",
        table,
        fx.expected("sinusoidal_position_embeddings"),
    );
    assert!(!table.requires_grad(), "{name} must not be trained");
}

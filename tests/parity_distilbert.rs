//! DistilBERT against transformers' DistilBertModel and DistilBertForMaskedLM (fixtures in
//! tests/fixtures/parity/distilbert, written by scripts/parity_oracle.py).

mod common;

use common::{check, expected, fixture, fixture_dir, read_config, read_config_json, read_expected};
use run_benchmark::models::distilbert::{
    distilbert_for_masked_lm, distilbert_model, DistilBertConfig,
};
use run_benchmark::models::weights::load_safetensors;
use run_benchmark::models::{Model, Task};
use tch::{nn::VarStore, Device};

const ARCH: &str = "distilbert";

fn config(dir: &std::path::Path) -> DistilBertConfig {
    serde_json::from_value(read_config_json(dir)).expect("a DistilBERT config")
}

#[test]
fn distilbert_matches_transformers() {
    let dir = fixture_dir(ARCH);
    let c = &config(&dir);
    let weights = fixture(&dir, "model.safetensors");
    let tensors = read_expected(&dir);
    let input_ids = expected(&tensors, "input_ids");

    tch::no_grad(|| {
        let mut vs = VarStore::new(Device::Cpu);
        let base = distilbert_model(vs.root(), c);
        load_safetensors(&mut vs, &weights, "distilbert").unwrap();
        let hidden = base.encode(input_ids, false);
        let last = expected(&tensors, "last_hidden_state");
        check(ARCH, "last_hidden_state", &hidden, last);

        let mut vs = VarStore::new(Device::Cpu);
        let mlm = distilbert_for_masked_lm(vs.root(), c);
        load_safetensors(&mut vs, &weights, "distilbert").unwrap();
        let logits = mlm.logits(input_ids, false);
        check(
            ARCH,
            "mlm_logits",
            &logits,
            expected(&tensors, "mlm_logits"),
        );
        let loss = Model::loss(&mlm, input_ids, input_ids, false).unwrap();
        check(ARCH, "mlm_loss", &loss, expected(&tensors, "mlm_loss"));
    });
}

#[test]
fn distilbert_built_by_task_matches_transformers() {
    let dir = fixture_dir(ARCH);
    let config = read_config(&dir);
    let weights = fixture(&dir, "model.safetensors");
    let tensors = read_expected(&dir);
    let input_ids = expected(&tensors, "input_ids");

    tch::no_grad(|| {
        for (task, name) in [
            (Task::Base, "last_hidden_state"),
            (Task::LanguageModel, "mlm_logits"),
        ] {
            let mut vs = VarStore::new(Device::Cpu);
            let model = config.build(vs.root(), task);
            load_safetensors(&mut vs, &weights, "distilbert").unwrap();
            check(
                ARCH,
                &format!("{task:?} forward ({name})"),
                &model.forward(input_ids, false),
                expected(&tensors, name),
            );
        }
    });
}

/// sinusoidal_pos_embds: the position table is transformers' fixed one, and not trained.
#[test]
fn distilbert_sinusoidal_positions_match_transformers() {
    let dir = fixture_dir(ARCH);
    let c = DistilBertConfig {
        sinusoidal_pos_embds: true,
        ..config(&dir)
    };
    let tensors = read_expected(&dir);
    let vs = VarStore::new(Device::Cpu);
    let _model = distilbert_model(vs.root(), &c);
    let name = "embeddings.position_embeddings.weight";
    let table = &vs.variables()[name];
    check(
        ARCH,
        "sinusoidal_position_embeddings",
        table,
        expected(&tensors, "sinusoidal_position_embeddings"),
    );
    assert!(!table.requires_grad(), "{name} must not be trained");
}

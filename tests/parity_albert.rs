//! ALBERT against transformers' AlbertModel (with pooler) and AlbertForMaskedLM (fixtures in
//! tests/fixtures/parity/albert, written by scripts/parity_oracle.py): narrower embeddings,
//! and layers shared across depth (four passes through two groups of two layers).

mod common;

use common::{check, expected, fixture, fixture_dir, read_config, read_config_json, read_expected};
use run_benchmark::models::albert::{albert_for_masked_lm, albert_model, AlbertConfig};
use run_benchmark::models::weights::load_safetensors;
use run_benchmark::models::{Model, Task};
use tch::{nn::VarStore, Device};

const ARCH: &str = "albert";

fn config(dir: &std::path::Path) -> AlbertConfig {
    serde_json::from_value(read_config_json(dir)).expect("an ALBERT config")
}

#[test]
fn albert_matches_transformers() {
    let dir = fixture_dir(ARCH);
    let c = &config(&dir);
    let weights = fixture(&dir, "model.safetensors");
    let tensors = read_expected(&dir);
    let input_ids = expected(&tensors, "input_ids");

    tch::no_grad(|| {
        let mut vs = VarStore::new(Device::Cpu);
        let base = albert_model(vs.root(), c, true);
        load_safetensors(&mut vs, &weights, "albert").unwrap();
        let hidden = base.encode(input_ids, false);
        let last = expected(&tensors, "last_hidden_state");
        check(ARCH, "last_hidden_state", &hidden, last);
        let pooled = base.pool(&hidden).expect("built with a pooler");
        check(
            ARCH,
            "pooler_output",
            &pooled,
            expected(&tensors, "pooler_output"),
        );

        let mut vs = VarStore::new(Device::Cpu);
        let mlm = albert_for_masked_lm(vs.root(), c);
        load_safetensors(&mut vs, &weights, "albert").unwrap();
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
fn albert_built_by_task_matches_transformers() {
    let dir = fixture_dir(ARCH);
    let config = read_config(&dir);
    let weights = fixture(&dir, "model.safetensors");
    let tensors = read_expected(&dir);
    let input_ids = expected(&tensors, "input_ids");

    tch::no_grad(|| {
        for (task, name) in [
            (Task::Base, "pooler_output"),
            (Task::LanguageModel, "mlm_logits"),
        ] {
            let mut vs = VarStore::new(Device::Cpu);
            let model = config.build(vs.root(), task);
            load_safetensors(&mut vs, &weights, "albert").unwrap();
            check(
                ARCH,
                &format!("{task:?} forward ({name})"),
                &model.forward(input_ids, false),
                expected(&tensors, name),
            );
        }
    });
}

//! BERT against transformers' BertModel and BertForMaskedLM (fixtures in
//! tests/fixtures/parity/bert, written by scripts/parity_oracle.py).

mod common;

use common::{check, expected, fixture, fixture_dir, read_config, read_config_json, read_expected};
use run_benchmark::models::bert::{BertConfig, BertForMaskedLm, BertModel};
use run_benchmark::models::weights::load_safetensors;
use run_benchmark::models::{Model, Task};
use tch::{nn::VarStore, Device, Kind};

fn bert_config(dir: &std::path::Path) -> BertConfig {
    serde_json::from_value(read_config_json(dir)).expect("a BERT config")
}

#[test]
fn bert_matches_transformers() {
    let arch = "bert";
    let dir = fixture_dir(arch);
    let c = &bert_config(&dir);
    let weights = fixture(&dir, "model.safetensors");
    let expected_tensors = read_expected(&dir);
    let input_ids = expected(&expected_tensors, "input_ids");
    assert_eq!(input_ids.kind(), Kind::Int64, "input_ids is not int64");

    tch::no_grad(|| {
        // BertModel with pooler: its paths carry no `bert.` prefix (embeddings.*, pooler.*),
        // which load_safetensors finds under `bert.*` in the file.
        let mut vs = VarStore::new(Device::Cpu);
        let base = BertModel::new(vs.root(), c, true);
        load_safetensors(&mut vs, &weights, "bert").unwrap();
        let hidden = base.encode(input_ids, false);
        check(
            arch,
            "last_hidden_state",
            &hidden,
            expected(&expected_tensors, "last_hidden_state"),
        );
        let pooled = base.pool(&hidden).expect("built with a pooler");
        check(
            arch,
            "pooler_output",
            &pooled,
            expected(&expected_tensors, "pooler_output"),
        );

        // BertForMaskedLM: paths `bert.*` and `cls.*`, decoder tied to the word embeddings.
        let mut vs = VarStore::new(Device::Cpu);
        let mlm = BertForMaskedLm::new(vs.root(), c);
        load_safetensors(&mut vs, &weights, "bert").unwrap();
        check(
            arch,
            "mlm_logits",
            &mlm.logits(input_ids, false),
            expected(&expected_tensors, "mlm_logits"),
        );
        let loss = Model::loss(&mlm, input_ids, input_ids, false).unwrap();
        check(
            arch,
            "mlm_loss",
            &loss,
            expected(&expected_tensors, "mlm_loss"),
        );
    });
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
#[test]
fn bert_built_by_task_matches_transformers() {
    let arch = "bert";
    let dir = fixture_dir(arch);
    let config = read_config(&dir);
    let weights = fixture(&dir, "model.safetensors");
    let expected_tensors = read_expected(&dir);
    let input_ids = expected(&expected_tensors, "input_ids");

    tch::no_grad(|| {
        for (task, name) in [
            (Task::Base, "pooler_output"),
            (Task::LanguageModel, "mlm_logits"),
        ] {
            let mut vs = VarStore::new(Device::Cpu);
            let model = config.build(vs.root(), task);
            load_safetensors(&mut vs, &weights, "bert").unwrap();
            check(
                arch,
                &format!("{task:?} forward ({name})"),
                &model.forward(input_ids, false),
                expected(&expected_tensors, name),
            );
        }
    });
}

//! RoBERTa and XLM-RoBERTa against transformers' RobertaModel / RobertaForMaskedLM and their
//! XLM-RoBERTa copies (fixtures in tests/fixtures/parity/{roberta,xlm-roberta}, written by
//! scripts/parity_oracle.py). The inputs hold padding tokens, so position ids are checked to
//! skip them as transformers' create_position_ids_from_input_ids does.

mod common;

use common::{check, expected, fixture, fixture_dir, read_config, read_config_json, read_expected};
use run_benchmark::models::roberta::{roberta_for_masked_lm, roberta_model, RobertaConfig};
use run_benchmark::models::weights::load_safetensors;
use run_benchmark::models::{Model, Task};
use tch::{nn::VarStore, Device};

fn matches_transformers(arch: &str) {
    let dir = fixture_dir(arch);
    let c = &RobertaConfig::from_value(&read_config_json(&dir)).unwrap();
    let weights = fixture(&dir, "model.safetensors");
    let tensors = read_expected(&dir);
    let input_ids = expected(&tensors, "input_ids");

    tch::no_grad(|| {
        let mut vs = VarStore::new(Device::Cpu);
        let base = roberta_model(vs.root(), c, true);
        load_safetensors(&mut vs, &weights, "roberta").unwrap();
        let hidden = base.encode(input_ids, false);
        let last = expected(&tensors, "last_hidden_state");
        check(arch, "last_hidden_state", &hidden, last);
        let pooled = base.pool(&hidden).expect("built with a pooler");
        check(
            arch,
            "pooler_output",
            &pooled,
            expected(&tensors, "pooler_output"),
        );

        let mut vs = VarStore::new(Device::Cpu);
        let mlm = roberta_for_masked_lm(vs.root(), c);
        load_safetensors(&mut vs, &weights, "roberta").unwrap();
        let logits = mlm.logits(input_ids, false);
        check(
            arch,
            "mlm_logits",
            &logits,
            expected(&tensors, "mlm_logits"),
        );
        let loss = Model::loss(&mlm, input_ids, input_ids, false).unwrap();
        check(arch, "mlm_loss", &loss, expected(&tensors, "mlm_loss"));
    });
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
fn built_by_task_matches_transformers(arch: &str) {
    let dir = fixture_dir(arch);
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
            load_safetensors(&mut vs, &weights, "roberta").unwrap();
            check(
                arch,
                &format!("{task:?} forward ({name})"),
                &model.forward(input_ids, false),
                expected(&tensors, name),
            );
        }
    });
}

#[test]
fn roberta_matches_transformers() {
    matches_transformers("roberta");
}

#[test]
fn roberta_built_by_task_matches_transformers() {
    built_by_task_matches_transformers("roberta");
}

#[test]
fn xlm_roberta_matches_transformers() {
    matches_transformers("xlm-roberta");
}

#[test]
fn xlm_roberta_built_by_task_matches_transformers() {
    built_by_task_matches_transformers("xlm-roberta");
}

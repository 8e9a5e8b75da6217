//! RoBERTa and XLM-RoBERTa against transformers' RobertaModel / RobertaForMaskedLM and their
//! XLM-RoBERTa copies (fixtures in tests/fixtures/parity/{roberta,xlm-roberta}, written by
//! scripts/parity_oracle.py). The inputs hold padding tokens, so position ids are checked to
//! skip them as transformers' create_position_ids_from_input_ids does.

use crate::common::{built_by_task_matches, read_config_json, Fixture};
use run_benchmark::models::roberta::{roberta_for_masked_lm, roberta_model, RobertaConfig};
use run_benchmark::models::{Model, Task};

fn matches_transformers(arch: &str) {
    let fx = Fixture::open(arch);
    let c = &RobertaConfig::from_value(&read_config_json(&fx.dir)).unwrap();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        let (_vs, base) = fx.load("roberta", |p| roberta_model(p, c, true));
        let hidden = base.encode(input_ids, false);
        fx.check("last_hidden_state", &hidden);
        let pooled = base.pool(&hidden).expect("built with a pooler");
        fx.check("pooler_output", &pooled);

        let (_vs, mlm) = fx.load("roberta", |p| roberta_for_masked_lm(p, c));
        fx.check("mlm_logits", &mlm.logits(input_ids, false));
        fx.check(
            "mlm_loss",
            &Model::loss(&mlm, input_ids, None, input_ids, false).unwrap(),
        );
    });
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
fn built_by_task_matches_transformers(arch: &str) {
    built_by_task_matches(
        arch,
        "roberta",
        &[
            (Task::Base, "pooler_output"),
            (Task::LanguageModel, "mlm_logits"),
        ],
        None,
    );
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

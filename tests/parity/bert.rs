//! BERT against transformers' BertModel and BertForMaskedLM (fixtures in
//! tests/fixtures/parity/bert, written by scripts/parity_oracle.py).

use crate::common::{built_by_task_matches, Fixture};
use run_benchmark::models::bert::{BertConfig, BertForMaskedLm, BertModel};
use run_benchmark::models::{Model, Task};

const ARCH: &str = "bert";

#[test]
fn bert_matches_transformers() {
    let fx = Fixture::open(ARCH);
    let c: &BertConfig = &fx.config();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        // BertModel with pooler: its paths carry no `bert.` prefix (embeddings.*, pooler.*),
        // which load_safetensors finds under `bert.*` in the file.
        let (_vs, base) = fx.load("bert", |p| BertModel::new(p, c, true));
        let hidden = base.encode(input_ids, false);
        fx.check("last_hidden_state", &hidden);
        let pooled = base.pool(&hidden).expect("built with a pooler");
        fx.check("pooler_output", &pooled);

        // BertForMaskedLM: paths `bert.*` and `cls.*`, decoder tied to the word embeddings.
        let (_vs, mlm) = fx.load("bert", |p| BertForMaskedLm::new(p, c));
        fx.check("mlm_logits", &mlm.logits(input_ids, false));
        fx.check(
            "mlm_loss",
            &Model::loss(&mlm, input_ids, None, input_ids, false).unwrap(),
        );
    });
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
#[test]
fn bert_built_by_task_matches_transformers() {
    built_by_task_matches(
        ARCH,
        "bert",
        &[
            (Task::Base, "pooler_output"),
            (Task::LanguageModel, "mlm_logits"),
        ],
        None,
    );
}

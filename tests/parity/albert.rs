//! ALBERT against transformers' AlbertModel (with pooler) and AlbertForMaskedLM (fixtures in
//! tests/fixtures/parity/albert, written by scripts/parity_oracle.py): narrower embeddings,
//! and layers shared across depth (four passes through two groups of two layers).

use crate::common::{built_by_task_matches, Fixture};
use run_benchmark::models::albert::{albert_for_masked_lm, albert_model, AlbertConfig};
use run_benchmark::models::{Model, Task};

const ARCH: &str = "albert";

#[test]
fn albert_matches_transformers() {
    let fx = Fixture::open(ARCH);
    let c: &AlbertConfig = &fx.config();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        let (_vs, base) = fx.load("albert", |p| albert_model(p, c, true));
        let hidden = base.encode(input_ids, false);
        fx.check("last_hidden_state", &hidden);
        let pooled = base.pool(&hidden).expect("built with a pooler");
        fx.check("pooler_output", &pooled);

        let (_vs, mlm) = fx.load("albert", |p| albert_for_masked_lm(p, c));
        fx.check("mlm_logits", &mlm.logits(input_ids, false));
        fx.check(
            "mlm_loss",
            &Model::loss(&mlm, input_ids, None, input_ids, false).unwrap(),
        );
    });
}

#[test]
fn albert_built_by_task_matches_transformers() {
    built_by_task_matches(
        ARCH,
        "albert",
        &[
            (Task::Base, "pooler_output"),
            (Task::LanguageModel, "mlm_logits"),
        ],
        None,
    );
}

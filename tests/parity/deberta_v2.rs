//! DeBERTa-v2/v3 against transformers' DebertaV2Model and DebertaV2ForMaskedLM (fixtures in
//! tests/fixtures/parity/{deberta,deberta_v2_variant}, written by scripts/parity_oracle.py).
//! `deberta` is shaped as deberta-v3 (shared position projections, normalised relative
//! embeddings, log buckets); `deberta_v2_variant` covers separate position projections,
//! clamped distances, absolute positions, token types and narrower embeddings.

use crate::common::{built_by_task_matches, trains, Fixture};
use run_benchmark::models::deberta_v2::{DebertaV2Config, DebertaV2ForMaskedLm, DebertaV2Model};
use run_benchmark::models::{Model, Task};

const FIXTURES: &[&str] = &["deberta", "deberta_v2_variant"];

fn matches_transformers(arch: &str) {
    let fx = Fixture::open(arch);
    let c: &DebertaV2Config = &fx.config();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        // The base model's paths carry no `deberta.` prefix; load_safetensors finds them
        // under `deberta.*` in the file.
        let (_vs, base) = fx.load("deberta", |p| DebertaV2Model::new(p, c));
        fx.check("last_hidden_state", &base.encode(input_ids, false));

        let (_vs, mlm) = fx.load("deberta", |p| DebertaV2ForMaskedLm::new(p, c));
        fx.check("mlm_logits", &mlm.logits(input_ids, false));
        fx.check(
            "mlm_loss",
            &Model::loss(&mlm, input_ids, None, input_ids, false).unwrap(),
        );
    });
}

#[test]
fn deberta_v3_shape_matches_transformers() {
    matches_transformers("deberta");
}

#[test]
fn deberta_v2_variant_matches_transformers() {
    matches_transformers("deberta_v2_variant");
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
#[test]
fn deberta_built_by_task_matches_transformers() {
    for arch in FIXTURES {
        built_by_task_matches(
            arch,
            "deberta",
            &[
                (Task::Base, "last_hidden_state"),
                (Task::LanguageModel, "mlm_logits"),
            ],
            Some("mlm_loss"),
        );
    }
}

/// Training runs through the masked-LM loss with a gradient into every parameter, the
/// relative embeddings and their norm included.
#[test]
fn deberta_trains() {
    for arch in FIXTURES {
        trains(arch, "deberta", "mlm_loss");
    }
}

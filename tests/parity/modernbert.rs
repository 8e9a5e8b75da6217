//! ModernBERT against transformers' ModernBertModel and ModernBertForMaskedLM (fixtures in
//! tests/fixtures/parity/modernbert, written by scripts/parity_oracle.py): global and
//! sliding-window layers (a window shorter than the sequence), two rope thetas, bias-free
//! norms and projections, GeGLU, and the tied decoder with its own bias.

use crate::common::{built_by_task_matches, trains, Fixture};
use run_benchmark::models::modernbert::{ModernBertConfig, ModernBertForMaskedLm, ModernBertModel};
use run_benchmark::models::{Model, Task};

const ARCH: &str = "modernbert";

#[test]
fn modernbert_matches_transformers() {
    let fx = Fixture::open(ARCH);
    let c: &ModernBertConfig = &fx.config();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        // The base model's paths carry no `model.` prefix; load_safetensors finds them
        // under `model.*` in the file.
        let (_vs, base) = fx.load("model", |p| ModernBertModel::new(p, c));
        fx.check("last_hidden_state", &base.encode(input_ids, false));

        let (_vs, mlm) = fx.load("model", |p| ModernBertForMaskedLm::new(p, c));
        fx.check("mlm_logits", &mlm.logits(input_ids, false));
        fx.check(
            "mlm_loss",
            &Model::loss(&mlm, input_ids, None, input_ids, false).unwrap(),
        );
    });
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
#[test]
fn modernbert_built_by_task_matches_transformers() {
    built_by_task_matches(
        ARCH,
        "model",
        &[
            (Task::Base, "last_hidden_state"),
            (Task::LanguageModel, "mlm_logits"),
        ],
        Some("mlm_loss"),
    );
}

/// Training runs through the masked-LM loss with a gradient into every parameter, the tied
/// token embeddings receiving both the input's and the decoder's.
#[test]
fn modernbert_trains() {
    trains(ARCH, "model", "mlm_loss");
}

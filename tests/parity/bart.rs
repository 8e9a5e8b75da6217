//! BART against transformers' BartModel and BartForConditionalGeneration, called with
//! decoder_input_ids = input_ids (fixtures in tests/fixtures/parity/bart, written by
//! scripts/parity_oracle.py).

use crate::common::{built_by_task_matches, fixture_dir, read_config_json, Fixture};
use run_benchmark::models::bart::{BartConfig, BartForConditionalGeneration, BartModel};
use run_benchmark::models::{Model, Task};
use tch::{nn::VarStore, Device};

const ARCH: &str = "bart";

#[test]
fn bart_matches_transformers() {
    let fx = Fixture::open(ARCH);
    let c: BartConfig = fx.config();
    let input_ids = fx.input_ids();

    tch::no_grad(|| {
        // BartModel: paths without the `model.` prefix, found under `model.*` in the file.
        let (_vs, base) = fx.load("model", |p| BartModel::new(p, &c));
        let encoded = base.encode(input_ids, false);
        fx.check("encoder_last_hidden_state", &encoded);
        fx.check(
            "last_hidden_state",
            &base.decode(input_ids, &encoded, false),
        );

        // BartForConditionalGeneration: `model.*`, `final_logits_bias`, lm_head tied.
        let (_vs, lm) = fx.load("model", |p| BartForConditionalGeneration::new(p, &c));
        fx.check("lm_logits", &lm.logits(input_ids, false));
        fx.check(
            "lm_loss",
            &Model::loss(&lm, input_ids, None, input_ids, false).unwrap(),
        );
    });
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
#[test]
fn bart_built_by_task_matches_transformers() {
    built_by_task_matches(
        ARCH,
        "model",
        &[
            (Task::Base, "last_hidden_state"),
            (Task::LanguageModel, "lm_logits"),
        ],
        None,
    );
}

/// `final_logits_bias` is a buffer: loaded, but not trained; `lm_head` is `model.shared`.
#[test]
fn bart_head_is_tied_and_its_bias_frozen() {
    let c: BartConfig = serde_json::from_value(read_config_json(&fixture_dir(ARCH))).unwrap();
    let vs = VarStore::new(Device::Cpu);
    let _lm = BartForConditionalGeneration::new(vs.root(), &c);
    let names = vs.variables();
    assert!(names.contains_key("final_logits_bias"));
    assert!(!names.contains_key("lm_head.weight"));
    assert!(!names["final_logits_bias"].requires_grad());
    assert_eq!(
        vs.trainable_variables().len() + 1,
        names.len(),
        "only the bias is frozen"
    );
}

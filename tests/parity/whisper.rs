//! Whisper against transformers' WhisperModel and WhisperForConditionalGeneration (fixtures in
//! tests/fixtures/parity/whisper, written by scripts/parity_oracle.py): the convolutional
//! stem, sinusoidal encoder positions, pre-LayerNorm layers, the decoder over the 4-token
//! prefix with cross-attention, the tied `proj_out` and the loss; at 30 s (3000 frames, what
//! transformers' encoder takes) and at 5 s, where the encoder runs 250 positions of its table
//! (transformers' own layers run the same way by the oracle).

use crate::common::{check, Fixture};
use run_benchmark::models::whisper::{
    WhisperConfig, WhisperForConditionalGeneration, WhisperModel,
};
use run_benchmark::models::{Model, Task};
use tch::{nn::VarStore, Device, Kind};

const ARCH: &str = "whisper";

#[test]
fn whisper_matches_transformers_at_30_and_5_seconds() {
    let fx = Fixture::open(ARCH);
    let c: WhisperConfig = fx.config();
    let ids = fx.expected("decoder_input_ids");
    assert_eq!(
        Vec::<i64>::try_from(ids.get(0)).unwrap(),
        c.decoder_prefix()
    );

    tch::no_grad(|| {
        // WhisperModel: paths without `model.`, found under `model.*` in the file.
        let (_vs, base) = fx.load("model", |p| WhisperModel::new(p, &c));
        let (_vs, lm) = fx.load("model", |p| WhisperForConditionalGeneration::new(p, &c));
        for suffix in ["", "_5s"] {
            let features = fx.expected(&format!("input_features{suffix}"));
            let encoded = base.encoder.forward(features, false).unwrap();
            fx.check(&format!("encoder_last_hidden_state{suffix}"), &encoded);
            fx.check(
                &format!("last_hidden_state{suffix}"),
                &base.decoder.forward(ids, &encoded, false).unwrap(),
            );
            fx.check(
                &format!("lm_logits{suffix}"),
                &lm.logits_for(features, ids, false).unwrap(),
            );
            fx.check(
                &format!("lm_loss{suffix}"),
                &Model::loss(&lm, features, None, ids, false).unwrap(),
            );
        }
    });
}

/// The modules the benchmark builds (`Architecture::build`) feed the prefix themselves.
#[test]
fn whisper_built_by_task_matches_transformers() {
    let fx = Fixture::open(ARCH);
    tch::no_grad(|| {
        for suffix in ["", "_5s"] {
            let features = fx.expected(&format!("input_features{suffix}"));
            for (task, name) in [
                (Task::Base, "last_hidden_state"),
                (Task::LanguageModel, "lm_logits"),
            ] {
                let name = format!("{name}{suffix}");
                let (_vs, model) = fx.load("model", |p| fx.architecture().build(p, task).unwrap());
                let out = model.forward(features, None, false).unwrap();
                check(
                    ARCH,
                    &format!("{task:?} forward ({name})"),
                    &out,
                    fx.expected(&name),
                );
            }
        }
    });
}

/// Our own position table, before any weight is loaded, is transformers' `sinusoids`, and
/// it is the one tensor that does not train; `proj_out` is `embed_tokens` itself.
#[test]
fn whisper_builds_transformers_positions_and_ties_its_head() {
    let fx = Fixture::open(ARCH);
    let c: WhisperConfig = fx.config();
    let vs = VarStore::new(Device::Cpu);
    let _lm = WhisperForConditionalGeneration::new(vs.root(), &c);
    let names = vs.variables();
    let table = &names["model.encoder.embed_positions.weight"];
    let file: std::collections::HashMap<String, tch::Tensor> =
        tch::Tensor::read_safetensors(&fx.weights)
            .unwrap()
            .into_iter()
            .collect();
    check(
        ARCH,
        "sinusoidal encoder positions",
        table,
        &file["model.encoder.embed_positions.weight"],
    );
    assert!(!table.requires_grad());
    assert!(!names.contains_key("proj_out.weight"));
    assert_eq!(vs.trainable_variables().len() + 1, names.len());
}

/// Training at both lengths reproduces transformers' loss (no dropout in the fixture), and
/// every trainable parameter gets a non-zero gradient.
#[test]
fn whisper_trains() {
    let fx = Fixture::open(ARCH);
    let ids = fx.expected("decoder_input_ids");
    for suffix in ["", "_5s"] {
        let (vs, model) = fx.load("model", |p| {
            fx.architecture().build(p, Task::LanguageModel).unwrap()
        });
        let features = fx.expected(&format!("input_features{suffix}"));
        let loss = model.loss(features, None, ids, true).unwrap();
        fx.check(&format!("lm_loss{suffix}"), &loss);
        loss.backward();
        let trainable = vs.trainable_variables();
        assert_eq!(trainable.len() + 1, vs.variables().len());
        for (name, var) in vs.variables() {
            if name == "model.encoder.embed_positions.weight" {
                continue;
            }
            let grad = var.grad();
            assert!(grad.defined(), "{ARCH}{suffix}: no gradient for {name}");
            assert!(
                grad.abs().sum(Kind::Float).double_value(&[]) > 0.0,
                "{ARCH}{suffix}: zero gradient for {name}"
            );
        }
    }
}

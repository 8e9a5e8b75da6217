//! The libtorch builds of the model families, from the neutral facts of [`spec`] (config,
//! checks, FLOPs). Models know nothing about benchmarking: they offer a forward pass for
//! inference and a loss for training.
//!
//! Adding a family: its config in `crates/core/src/spec/`, then one file here with the
//! modules and an [`Architecture`] impl, and one line in [`BUILT`].

pub mod albert;
pub mod bart;
pub mod bert;
pub mod deberta_v2;
pub mod distilbert;
pub mod electra;
pub mod gemma;
pub mod gpt2;
pub mod gpt_neo;
pub mod gpt_neox;
pub mod kv_cache;
pub mod layers;
pub mod llama;
pub mod modernbert;
pub mod moe;
pub mod opt;
pub mod phi;
pub mod phi3;
pub mod roberta;
pub mod rotary;
pub mod shapes;
pub mod t5;
pub mod torchscript;
pub mod vit;
pub mod weights;
pub mod whisper;

pub use crate::cell::InputKind;
use anyhow::{bail, Result};
pub use run_benchmark_core::spec::{
    self, checks, inference_task, input_kind, no_generation_reason, parse_config,
    supported_model_types, unread_keys, KvLayout, Spec, Task, NO_MASK,
};
use serde_json::Value;
use std::any::Any;
use tch::{nn, Device, Kind, Tensor};

/// What is benchmarked.
pub trait Model {
    /// The module's forward pass on `input_ids` (batch, seq), or on what
    /// [`Architecture::random_inputs`] makes (ViT: pixel values); returns its main output.
    /// Encoder-decoders use `input_ids` as `decoder_input_ids` too, as the original did.
    /// `attention_mask` (batch, seq), for padded inputs, is 1 for a token and 0 for padding,
    /// and padding changes no real token's output; a family without a masked forward
    /// refuses one ([`no_mask`]; the planner refuses text inputs for it before).
    fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: Option<&Tensor>,
        train: bool,
    ) -> Result<Tensor>;
    /// The language-modelling loss with `labels` (batch, seq; -100 at padding), a scalar.
    fn loss(
        &self,
        input_ids: &Tensor,
        attention_mask: Option<&Tensor>,
        labels: &Tensor,
        train: bool,
    ) -> Result<Tensor>;
}

/// The forward of a family without mask support: refuses an attention mask.
pub fn no_mask(attention_mask: Option<&Tensor>) -> Result<()> {
    match attention_mask {
        Some(_) => bail!("{NO_MASK}"),
        None => Ok(()),
    }
}

/// A language model that generates: the prompt once, then one token at a time over a KV
/// cache ([`kv_cache`]). Encoder-decoders run the encoder in `prefill` and start the decoder
/// from `decoder_start_token_id`.
pub trait Generator {
    /// Runs the prompt (batch, seq): the logits (batch, vocab) of the first new token and
    /// the cache holding the prompt.
    fn prefill(&self, input_ids: &Tensor) -> Result<(Tensor, kv_cache::KvCache)>;
    /// Feeds the tokens just chosen (batch, 1): the logits (batch, vocab) of the next.
    fn step(&self, input_ids: &Tensor, cache: &mut kv_cache::KvCache) -> Result<Tensor>;
}

/// A family's libtorch build: its config's neutral facts ([`Spec`]) and the modules built
/// from them.
pub trait Architecture: Spec {
    /// Builds the module for `task` under `p`, with parameter paths as in the checkpoint.
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>>;
    /// Random inputs of a (batch, size) cell in the model's float `kind`, and the labels
    /// training uses: token ids in 0..vocab_size, the labels being the ids themselves (the
    /// original's `labels = input_ids`).
    fn random_inputs(
        &self,
        batch: i64,
        size: i64,
        _kind: Kind,
        device: Device,
    ) -> (Tensor, Tensor) {
        let ids = Tensor::randint(self.vocab_size(), [batch, size], (Kind::Int64, device));
        (ids.shallow_clone(), ids)
    }
    /// The language-modelling head with a decode step, for generation; None where this
    /// build has none (encoder-only models; see [`no_generation_reason`]).
    fn generator(&self, _p: nn::Path) -> Option<Box<dyn Generator>> {
        None
    }
}

/// The config type's libtorch build, if `any` is of type `T`.
fn built<T: Architecture + 'static>(
    any: Box<dyn Any>,
) -> std::result::Result<Box<dyn Architecture>, Box<dyn Any>> {
    any.downcast::<T>().map(|c| c as Box<dyn Architecture>)
}

type Built = fn(Box<dyn Any>) -> std::result::Result<Box<dyn Architecture>, Box<dyn Any>>;

/// Every config type of [`spec`] that libtorch builds.
const BUILT: &[Built] = &[
    built::<albert::AlbertConfig>,
    built::<bart::BartConfig>,
    built::<bert::BertConfig>,
    built::<deberta_v2::DebertaV2Config>,
    built::<distilbert::DistilBertConfig>,
    built::<electra::ElectraConfig>,
    built::<gemma::GemmaConfig>,
    built::<gpt2::Gpt2Config>,
    built::<gpt_neo::GptNeoConfig>,
    built::<gpt_neox::GptNeoxConfig>,
    built::<llama::LlamaConfig>,
    built::<modernbert::ModernBertConfig>,
    built::<opt::OptConfig>,
    built::<phi::PhiConfig>,
    built::<phi3::Phi3Config>,
    built::<roberta::RobertaConfig>,
    built::<t5::T5Config>,
    built::<torchscript::TorchScriptConfig>,
    built::<vit::ViTConfig>,
    built::<whisper::WhisperConfig>,
];

/// Parses a config.json value ([`spec::from_json`]: errors name the offending key) into the
/// family's libtorch build.
pub fn from_json(config: &Value) -> Result<Box<dyn Architecture>> {
    let parsed = spec::from_json(config)?;
    let name = format!("{parsed:?}");
    let mut any = parsed.into_any();
    for build in BUILT {
        match build(any) {
            Ok(arch) => return Ok(arch),
            Err(back) => any = back,
        }
    }
    bail!(
        "libtorch has no build of {}",
        name.split([' ', '{']).next().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_config_of_a_supported_model_type_parses() {
        let supported = supported_model_types();
        let mut parsed = Vec::new();
        for (id, text) in crate::hub::EMBEDDED {
            let config: Value = serde_json::from_str(text).unwrap();
            let model_type = config["model_type"].as_str().unwrap_or_default();
            if supported.contains(&model_type) {
                from_json(&config).unwrap_or_else(|e| panic!("{id}: {e:#}"));
                parsed.push(model_type.to_string());
            }
        }
        // Every family the zoo builds ships at least one published config.
        for model_type in supported.iter().filter(|t| **t != "torchscript") {
            assert!(
                parsed.iter().any(|t| t == model_type),
                "no embedded {model_type} config"
            );
        }
    }

    #[test]
    fn every_family_has_a_libtorch_build() {
        for (id, text) in crate::hub::EMBEDDED {
            let config: Value = serde_json::from_str(text).unwrap();
            if spec::from_json(&config).is_ok() {
                from_json(&config).unwrap_or_else(|e| panic!("{id}: {e:#}"));
            }
        }
    }
}

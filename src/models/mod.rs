//! Model families, built from a Hugging Face config.json. Models know nothing about
//! benchmarking: they offer a forward pass for inference and a loss for training.
//!
//! Adding a family: one file with a config (serde, HF key names and defaults), the modules,
//! an [`Architecture`] impl, and one line in [`FAMILIES`].

pub mod albert;
pub mod bart;
pub mod bert;
pub mod checks;
pub mod distilbert;
pub mod electra;
pub mod gpt2;
pub mod gpt_neo;
pub mod gpt_neox;
pub mod layers;
pub mod llama;
pub mod opt;
pub mod phi;
pub mod roberta;
pub mod rotary;
pub mod t5;
pub mod torchscript;
pub mod weights;

use anyhow::{anyhow, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tch::{nn, Tensor};

/// What is benchmarked.
pub trait Model {
    /// The module's forward pass on `input_ids` (batch, seq); returns its main output.
    /// Encoder-decoders use `input_ids` as `decoder_input_ids` too, as the original did.
    fn forward(&self, input_ids: &Tensor, train: bool) -> Result<Tensor>;
    /// The language-modelling loss with `labels` (batch, seq), a scalar.
    fn loss(&self, input_ids: &Tensor, labels: &Tensor, train: bool) -> Result<Tensor>;
}

/// Which module of a family to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// The bare model (`BertModel`), as transformers' `MODEL_MAPPING`.
    Base,
    /// The language-modelling head (`BertForMaskedLM`, `GPT2LMHeadModel`, ...), as
    /// `MODEL_WITH_LM_HEAD_MAPPING`.
    LanguageModel,
}

/// A parsed, validated config of a supported family.
pub trait Architecture: std::fmt::Debug {
    fn vocab_size(&self) -> i64;
    /// The longest sequence the model accepts (learned position embeddings), if bounded.
    fn max_positions(&self) -> Option<i64>;
    /// Builds the module for `task` under `p`, with parameter paths as in the checkpoint.
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>>;
    /// Floating-point operations of one forward call on a (batch, seq) input: 2·m·n·k for
    /// every matrix product (projections, attention scores and values, heads); element-wise
    /// work, norms and softmax are not counted.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64;
}

type Parser = fn(&Value) -> Result<Box<dyn Architecture>>;

/// `model_type` -> parser, for every family this build implements.
const FAMILIES: &[(&str, Parser)] = &[
    ("albert", albert::from_json),
    ("bart", bart::from_json),
    ("bert", bert::from_json),
    ("distilbert", distilbert::from_json),
    ("electra", electra::from_json),
    ("gpt2", gpt2::from_json),
    ("gpt_neo", gpt_neo::from_json),
    ("gpt_neox", gpt_neox::from_json),
    ("llama", llama::from_json),
    ("mistral", llama::from_json),
    ("opt", opt::from_json),
    ("phi", phi::from_json),
    ("qwen2", llama::from_json),
    ("qwen3", llama::from_json),
    ("roberta", roberta::from_json),
    ("t5", t5::from_json),
    ("torchscript", torchscript::from_json),
    ("xlm-roberta", roberta::from_json),
];

/// The `model_type`s this build implements.
pub fn supported_model_types() -> Vec<&'static str> {
    FAMILIES.iter().map(|(name, _)| *name).collect()
}

/// Parses a config.json value; errors name the offending key.
pub fn from_json(config: &Value) -> Result<Box<dyn Architecture>> {
    let model_type = config
        .get("model_type")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("it has no \"model_type\" key"))?;
    let (_, parse) = FAMILIES
        .iter()
        .find(|(name, _)| *name == model_type)
        .ok_or_else(|| {
            anyhow!(
                "model_type \"{model_type}\" is not supported; supported: {}",
                supported_model_types().join(", ")
            )
        })?;
    parse(config)
}

/// Deserialises a family's config struct, naming the key at fault.
pub fn parse_config<T: DeserializeOwned>(config: &Value) -> Result<T> {
    serde_path_to_error::deserialize(config.clone())
        .map_err(|e| anyhow!("key \"{}\": {}", e.path(), e.inner()))
}

/// The module the original benchmarked for inference: `architectures[0]` when the config
/// names a language-modelling head, unless `only_pretrain_model`; otherwise the base model.
pub fn inference_task(config: &Value, only_pretrain_model: bool) -> Task {
    let head = config
        .get("architectures")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or("");
    let is_lm_head = [
        "ForMaskedLM",
        "LMHeadModel",
        "ForCausalLM",
        "ForPreTraining",
        "ForConditionalGeneration",
    ]
    .iter()
    .any(|suffix| head.ends_with(suffix));
    if is_lm_head && !only_pretrain_model {
        Task::LanguageModel
    } else {
        Task::Base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inference_task_follows_architectures() {
        let mlm = json!({"architectures": ["BertForMaskedLM"]});
        assert_eq!(inference_task(&mlm, false), Task::LanguageModel);
        assert_eq!(inference_task(&mlm, true), Task::Base);
        assert_eq!(
            inference_task(&json!({"architectures": ["BertModel"]}), false),
            Task::Base
        );
        assert_eq!(inference_task(&json!({}), false), Task::Base);
    }

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
    fn unknown_model_type_lists_the_supported_ones() {
        let err = from_json(&json!({"model_type": "xlnet"})).unwrap_err();
        assert!(
            err.to_string().contains("supported: albert, bart, bert,"),
            "{err}"
        );
        let err = from_json(&json!({"hidden_size": 3})).unwrap_err();
        assert!(err.to_string().contains("no \"model_type\""), "{err}");
    }
}

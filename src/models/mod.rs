//! Model families, built from a Hugging Face config.json. Models know nothing about
//! benchmarking: they offer a forward pass for inference and a loss for training.

pub mod bert;
pub mod layers;
pub mod weights;

use anyhow::{anyhow, bail, Result};
use serde_json::Value;
use tch::{nn, Tensor};

/// What is benchmarked.
pub trait Model {
    /// The module's forward pass on `input_ids` (batch, seq); returns its main output.
    fn forward(&self, input_ids: &Tensor, train: bool) -> Tensor;
    /// The language-modelling loss with `labels` (batch, seq), a scalar.
    fn loss(&self, input_ids: &Tensor, labels: &Tensor, train: bool) -> Result<Tensor>;
}

/// Which module of a family to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// The bare model (`BertModel`), as transformers' `MODEL_MAPPING`.
    Base,
    /// The language-modelling head (`BertForMaskedLM`), as `MODEL_WITH_LM_HEAD_MAPPING`.
    LanguageModel,
}

/// The `model_type`s this build implements.
pub const SUPPORTED_MODEL_TYPES: &[&str] = &["bert"];

/// A parsed, validated config of a supported family.
#[derive(Debug, Clone)]
pub enum ModelConfig {
    Bert(bert::BertConfig),
}

impl ModelConfig {
    /// Parses a config.json value; errors name the offending key.
    pub fn from_json(config: &Value) -> Result<Self> {
        let model_type = config
            .get("model_type")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("it has no \"model_type\" key"))?;
        match model_type {
            "bert" => {
                let c: bert::BertConfig = serde_path_to_error::deserialize(config.clone())
                    .map_err(|e| anyhow!("key \"{}\": {}", e.path(), e.inner()))?;
                c.validate()?;
                Ok(ModelConfig::Bert(c))
            }
            other => bail!(
                "model_type \"{other}\" is not supported; supported: {}",
                SUPPORTED_MODEL_TYPES.join(", ")
            ),
        }
    }

    pub fn vocab_size(&self) -> i64 {
        match self {
            ModelConfig::Bert(c) => c.vocab_size,
        }
    }

    /// The longest sequence the position embeddings allow, if bounded.
    pub fn max_positions(&self) -> Option<i64> {
        match self {
            ModelConfig::Bert(c) => Some(c.max_position_embeddings),
        }
    }

    pub fn build(&self, p: nn::Path, task: Task) -> Box<dyn Model> {
        match self {
            ModelConfig::Bert(c) => bert::build(p, c, task),
        }
    }
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
    ]
    .iter()
    .any(|suffix| head.ends_with(suffix));
    if is_lm_head && !only_pretrain_model {
        Task::LanguageModel
    } else {
        Task::Base
    }
}

//! Model families written once for graph frameworks, against [`builder::GraphBuilder`].

pub mod bert;
pub mod builder;
pub mod gpt2;
pub mod layers;
pub mod llama;

use anyhow::{bail, Result};
use builder::GraphBuilder;
use layers::{Outputs, Shape};

/// A config.json of a family with a graph build.
#[derive(Debug, Clone)]
pub enum Family {
    Bert(bert::BertConfig),
    Gpt2(gpt2::Gpt2Config),
    Llama(llama::LlamaConfig),
}

impl Family {
    /// The family of `config` by its `model_type`; the others have no graph build yet.
    pub fn from_json(config: &serde_json::Value) -> Result<Self> {
        let model_type = config["model_type"].as_str().unwrap_or_default();
        Ok(match model_type {
            "bert" | "roberta" | "xlm-roberta" | "distilbert" => Family::Bert(bert::BertConfig::from_json(config)?),
            "gpt2" => Family::Gpt2(gpt2::Gpt2Config::from_json(config)?),
            "llama" | "mistral" | "qwen2" | "qwen3" => {
                Family::Llama(llama::LlamaConfig::from_json(config)?)
            }
            other => bail!(
                "model_type \"{other}\" has no graph build (bert, roberta, xlm-roberta, distilbert, gpt2, llama, mistral, qwen2 and qwen3 have)"
            ),
        })
    }

    pub fn build<B: GraphBuilder>(&self, b: &mut B, shape: Shape) -> Result<Outputs<B::Value>> {
        match self {
            Family::Bert(c) => bert::build(b, c, shape),
            Family::Gpt2(c) => gpt2::build(b, c, shape),
            Family::Llama(c) => llama::build(b, c, shape),
        }
    }

    /// The longest sequence of learned positions (None: rotary, unbounded).
    pub fn max_positions(&self) -> Option<i64> {
        match self {
            Family::Bert(c) => Some(c.max_positions()),
            Family::Gpt2(c) => Some(c.max_positions()),
            Family::Llama(_) => None,
        }
    }

    pub fn vocab_size(&self) -> i64 {
        match self {
            Family::Bert(c) => c.vocab_size,
            Family::Gpt2(c) => c.vocab_size,
            Family::Llama(c) => c.vocab_size,
        }
    }
}

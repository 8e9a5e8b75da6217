//! Model families written once for graph frameworks, against [`builder::GraphBuilder`].

pub mod albert;
pub mod bert;
pub mod builder;
pub mod electra;
pub mod gpt2;
pub mod layers;
pub mod llama;

use anyhow::{bail, Result};
use builder::GraphBuilder;
use layers::{Outputs, Shape};
use run_benchmark_core::cell::GRAPH_MODEL_TYPES;

/// A config.json of a family with a graph build.
#[derive(Debug, Clone)]
pub enum Family {
    Bert(bert::BertConfig),
    Electra(electra::ElectraConfig),
    Albert(albert::AlbertConfig),
    Gpt2(gpt2::Gpt2Config),
    Llama(llama::LlamaConfig),
}

impl Family {
    /// The family of `config` by its `model_type`; the others (not in [`GRAPH_MODEL_TYPES`])
    /// have no graph build yet.
    pub fn from_json(config: &serde_json::Value) -> Result<Self> {
        let model_type = config["model_type"].as_str().unwrap_or_default();
        Ok(match model_type {
            "bert" | "roberta" | "xlm-roberta" | "distilbert" => {
                Family::Bert(bert::BertConfig::from_json(config)?)
            }
            "electra" => Family::Electra(electra::ElectraConfig::from_json(config)?),
            "albert" => Family::Albert(albert::AlbertConfig::from_json(config)?),
            "gpt2" => Family::Gpt2(gpt2::Gpt2Config::from_json(config)?),
            "llama" | "mistral" | "qwen2" | "qwen3" => {
                Family::Llama(llama::LlamaConfig::from_json(config)?)
            }
            other => bail!(
                "model_type \"{other}\" has no graph build ({} have)",
                GRAPH_MODEL_TYPES.join(", ")
            ),
        })
    }

    pub fn build<B: GraphBuilder>(&self, b: &mut B, shape: Shape) -> Result<Outputs<B::Value>> {
        match self {
            Family::Bert(c) => bert::build(b, c, shape),
            Family::Electra(c) => electra::build(b, c, shape),
            Family::Albert(c) => albert::build(b, c, shape),
            Family::Gpt2(c) => gpt2::build(b, c, shape),
            Family::Llama(c) => llama::build(b, c, shape),
        }
    }

    /// The longest sequence of learned positions (None: rotary, unbounded).
    pub fn max_positions(&self) -> Option<i64> {
        match self {
            Family::Bert(c) => Some(c.max_positions()),
            Family::Electra(c) => Some(c.bert.max_positions()),
            Family::Albert(c) => Some(c.bert.max_positions()),
            Family::Gpt2(c) => Some(c.max_positions()),
            Family::Llama(_) => None,
        }
    }

    pub fn vocab_size(&self) -> i64 {
        match self {
            Family::Bert(c) => c.vocab_size,
            Family::Electra(c) => c.bert.vocab_size,
            Family::Albert(c) => c.bert.vocab_size,
            Family::Gpt2(c) => c.vocab_size,
            Family::Llama(c) => c.vocab_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared list and this match agree: every listed type builds, another is refused.
    #[test]
    fn every_listed_model_type_has_a_family() {
        for model_type in GRAPH_MODEL_TYPES {
            let config = serde_json::json!({ "model_type": model_type });
            Family::from_json(&config).unwrap_or_else(|e| panic!("{model_type}: {e:#}"));
        }
        let refused = Family::from_json(&serde_json::json!({"model_type": "t5"})).unwrap_err();
        assert!(refused.to_string().contains("\"t5\" has no graph build"));
    }
}

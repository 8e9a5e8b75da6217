//! Model families written once for graph frameworks, against [`builder::GraphBuilder`].

pub mod albert;
pub mod bert;
pub mod builder;
pub mod electra;
pub mod gpt2;
pub mod layers;
pub mod llama;

use anyhow::{anyhow, bail, Result};
use bert::Encoder;
use builder::GraphBuilder;
use layers::{Outputs, Shape};
use run_benchmark_core::cell::GRAPH_MODEL_TYPES;
use run_benchmark_core::spec::{self as core, Spec};

/// A config.json of a family with a graph build, as the core parsed and validated it (the
/// same types and checks as the libtorch build's), with what only the graph build refuses.
#[derive(Debug, Clone)]
pub enum Family {
    /// BERT, RoBERTa, XLM-RoBERTa, DistilBERT.
    Bert(Encoder),
    Electra(core::electra::ElectraConfig),
    Albert(core::albert::AlbertConfig),
    Gpt2(core::gpt2::Gpt2Config),
    Llama(core::llama::LlamaConfig),
}

/// The config type the core's parser gave `spec`.
fn config<T: 'static>(spec: Box<dyn Spec>) -> Result<T> {
    spec.into_any()
        .downcast::<T>()
        .map(|c| *c)
        .map_err(|_| anyhow!("the core parsed this config into another family's type"))
}

impl Family {
    /// The family of `config` by its `model_type`; the others (not in [`GRAPH_MODEL_TYPES`])
    /// have no graph build yet.
    pub fn from_json(config_json: &serde_json::Value) -> Result<Self> {
        let model_type = config_json["model_type"].as_str().unwrap_or_default();
        if !GRAPH_MODEL_TYPES.contains(&model_type) {
            bail!(
                "model_type \"{model_type}\" has no graph build ({} have)",
                GRAPH_MODEL_TYPES.join(", ")
            );
        }
        let parsed = core::from_json(config_json)?;
        let family = match model_type {
            "bert" => Family::Bert(Encoder::bert(&config(parsed)?)),
            "roberta" | "xlm-roberta" => Family::Bert(Encoder::roberta(&config(parsed)?)),
            "distilbert" => Family::Bert(Encoder::distilbert(&config(parsed)?)),
            "electra" => Family::Electra(config(parsed)?),
            "albert" => Family::Albert(config(parsed)?),
            "gpt2" => Family::Gpt2(config(parsed)?),
            _ => Family::Llama(config(parsed)?),
        };
        match &family {
            Family::Bert(c) => c.unsupported()?,
            Family::Llama(c) => llama::unsupported(c)?,
            _ => {}
        }
        Ok(family)
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
            Family::Electra(c) => c.max_positions(),
            Family::Albert(c) => c.max_positions(),
            Family::Gpt2(c) => c.max_positions(),
            Family::Llama(_) => None,
        }
    }

    pub fn vocab_size(&self) -> i64 {
        match self {
            Family::Bert(c) => c.vocab_size(),
            Family::Electra(c) => c.vocab_size,
            Family::Albert(c) => c.vocab_size,
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

    /// One parse validates both frameworks: the core's checks and names, and the graph's
    /// own refusals on top.
    #[test]
    fn the_core_parses_and_validates_graph_configs() {
        let albert = serde_json::json!({"model_type": "albert", "hidden_size": 8,
            "num_attention_heads": 2, "num_hidden_layers": 6, "num_hidden_groups": 3});
        let Family::Albert(c) = Family::from_json(&albert).unwrap() else {
            panic!("albert is not Family::Albert")
        };
        let groups: Vec<i64> = (0..6).map(|i| c.group_of(i)).collect();
        assert_eq!(groups, [0, 0, 1, 1, 2, 2]);
        let bad = serde_json::json!({"model_type": "albert", "inner_group_num": 0});
        let bad = Family::from_json(&bad).unwrap_err().to_string();
        assert!(
            bad.contains("inner_group_num must be positive, got 0"),
            "{bad}"
        );
        let bad = serde_json::json!({"model_type": "gpt2", "n_embd": 10, "n_head": 3});
        let bad = Family::from_json(&bad).unwrap_err().to_string();
        assert!(
            bad.contains("n_embd 10 is not a multiple of n_head 3"),
            "{bad}"
        );
        let bad = serde_json::json!({"model_type": "bert", "hidden_act": "nope"});
        let bad = Family::from_json(&bad).unwrap_err().to_string();
        assert!(bad.contains("key \"hidden_act\""), "{bad}");
        let scaled = serde_json::json!({"model_type": "llama",
            "rope_scaling": {"rope_type": "linear", "factor": 2.0}});
        let scaled = Family::from_json(&scaled).unwrap_err().to_string();
        assert!(
            scaled.contains("rope_scaling has no graph build"),
            "{scaled}"
        );
        let sinusoidal =
            serde_json::json!({"model_type": "distilbert", "sinusoidal_pos_embds": true});
        let sinusoidal = Family::from_json(&sinusoidal).unwrap_err().to_string();
        assert!(
            sinusoidal.contains("sinusoidal_pos_embds has no graph build"),
            "{sinusoidal}"
        );
        let roberta = serde_json::json!({"model_type": "roberta"});
        let roberta = Family::from_json(&roberta).unwrap();
        assert_eq!(roberta.max_positions(), Some(510));
        assert_eq!(roberta.vocab_size(), 50265);
    }
}

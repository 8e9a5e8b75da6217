//! DistilBERT (Sanh et al., 2019, "DistilBERT, a distilled version of BERT: smaller, faster,
//! cheaper and lighter"), following transformers' `modeling_distilbert.py`: BERT's layers
//! under other names, without token types or pooler, LayerNorm eps fixed at 1e-12, and no
//! dropout on the attention output. `DistilBertModel` for inference, `DistilBertForMaskedLM`
//! (`vocab_transform`, `vocab_layer_norm`, `vocab_projector` tied to the word embeddings) for
//! the MLM loss. Parameter paths are the checkpoint's:
//! `distilbert.transformer.layer.0.attention.q_lin.weight`.

use super::bert::{
    decoder, BertForMaskedLm, BertModel, Embeddings, EncoderLayer, LayerNames, MlmHead,
};
use super::layers::{LayerNorm, Linear};
use super::{Architecture, Model, Task};
use anyhow::Result;
use std::rc::Rc;
use tch::nn;

pub use run_benchmark_core::spec::distilbert::*;

const DISTILBERT_LAYER: LayerNames = LayerNames {
    query: "attention.q_lin",
    key: "attention.k_lin",
    value: "attention.v_lin",
    attention_output: "attention.out_lin",
    attention_norm: "sa_layer_norm",
    intermediate: "ffn.lin1",
    output: "ffn.lin2",
    output_norm: "output_layer_norm",
};

/// `DistilBertModel`: `embeddings` and `transformer.layer.N`; returns the last hidden state.
pub fn distilbert_model(p: nn::Path, c: &DistilBertConfig) -> BertModel {
    let embeddings = Embeddings::new(&p / "embeddings", &c.embedding_spec());
    let spec = c.layer_spec();
    let layer = &p / "transformer" / "layer";
    let layers = (0..c.n_layers)
        .map(|i| Rc::new(EncoderLayer::new(&layer / i, &DISTILBERT_LAYER, &spec)))
        .collect();
    BertModel::from_parts(embeddings, None, layers, None)
}

/// `DistilBertForMaskedLM`: `distilbert.*`, then `vocab_transform`, the activation,
/// `vocab_layer_norm` and `vocab_projector` (weight tied to the word embeddings, own bias).
pub fn distilbert_for_masked_lm(p: nn::Path, c: &DistilBertConfig) -> BertForMaskedLm {
    let distilbert = distilbert_model(&p / "distilbert", c);
    let (h, std) = (c.dim, c.initializer_range);
    let projector = &p / "vocab_projector";
    let bias = projector.var("bias", &[c.vocab_size], nn::Init::Const(0.0));
    let head = MlmHead {
        dense: Linear::new(&p / "vocab_transform", h, h, true, std),
        activation: c.activation,
        norm: LayerNorm::new(&p / "vocab_layer_norm", h, LAYER_NORM_EPS),
        decoder: decoder(
            projector,
            distilbert.word_embeddings(),
            c.tie_word_embeddings,
            bias,
            std,
        ),
    };
    BertForMaskedLm::from_parts(distilbert, head)
}

impl Architecture for DistilBertConfig {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(distilbert_model(p, self)),
            Task::LanguageModel => Box::new(distilbert_for_masked_lm(p, self)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::parse_config;
    use crate::models::Spec;
    use serde_json::json;

    #[test]
    fn embedded_config_parses() {
        let (_, text) = crate::hub::embedded("distilbert/distilbert-base-uncased").unwrap();
        let c: DistilBertConfig = parse_config(&serde_json::from_str(text).unwrap()).unwrap();
        c.validate().unwrap();
        assert_eq!((c.dim, c.n_layers, c.hidden_dim), (768, 6, 3072));
    }

    #[test]
    fn bert_style_keys_are_accepted() {
        let c: DistilBertConfig =
            parse_config(&json!({"hidden_size": 384, "num_hidden_layers": 3})).unwrap();
        assert_eq!((c.dim, c.n_layers), (384, 3));
    }

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        let c = DistilBertConfig {
            dim: 4,
            hidden_dim: 8,
            n_layers: 1,
            n_heads: 2,
            vocab_size: 10,
            ..DistilBertConfig::default()
        };
        // B=1, S=2. q,k,v,o: 4 · (2·2·4·4) = 256; ffn: 2 · (2·2·4·8) = 256;
        // scores and values: 2 · (2·2·2·4) = 64. No pooler.
        assert_eq!(c.forward_flops(1, 2, Task::Base), 576.0);
        // MLM: transform 2·2·4·4 = 64, projector 2·2·4·10 = 160.
        assert_eq!(
            c.forward_flops(1, 2, Task::LanguageModel),
            576.0 + 64.0 + 160.0
        );
    }
}

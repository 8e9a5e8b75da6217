//! ALBERT (Lan et al., 2019, "ALBERT: A Lite BERT for Self-supervised Learning of Language
//! Representations"), following transformers' `modeling_albert.py`: BERT's embeddings
//! `embedding_size` wide, projected to the hidden size by `encoder.embedding_hidden_mapping_in`,
//! then `num_hidden_layers` passes through `num_hidden_groups` groups of `inner_group_num`
//! layers whose parameters are shared across depth; no dropout after the feed-forward.
//! `AlbertModel` (with pooler) for inference, `AlbertForMaskedLM` (no pooler, decoder tied to
//! the word embeddings) for the MLM loss. Parameter paths are the checkpoint's:
//! `albert.encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight`.

use super::bert::{
    decoder, BertForMaskedLm, BertModel, Embeddings, EncoderLayer, LayerNames, MlmHead,
};
use super::layers::{LayerNorm, Linear};
use super::{Architecture, Model, Task};
use anyhow::Result;
use std::rc::Rc;
use tch::nn;

pub use run_benchmark_core::spec::albert::*;

const ALBERT_LAYER: LayerNames = LayerNames {
    query: "attention.query",
    key: "attention.key",
    value: "attention.value",
    attention_output: "attention.dense",
    attention_norm: "attention.LayerNorm",
    intermediate: "ffn",
    output: "ffn_output",
    output_norm: "full_layer_layer_norm",
};

/// `AlbertModel`: `embeddings`, `encoder.embedding_hidden_mapping_in`, the shared
/// `encoder.albert_layer_groups.G.albert_layers.J`, and `pooler` (tanh) if `with_pooler`.
pub fn albert_model(p: nn::Path, c: &AlbertConfig, with_pooler: bool) -> BertModel {
    let (h, std) = (c.hidden_size, c.initializer_range);
    let embeddings = Embeddings::new(&p / "embeddings", &c.embedding_spec());
    let encoder = &p / "encoder";
    let mapping_in = Linear::new(
        &encoder / "embedding_hidden_mapping_in",
        c.embedding_size,
        h,
        true,
        std,
    );
    let spec = c.layer_spec();
    let groups: Vec<Vec<Rc<EncoderLayer>>> = (0..c.num_hidden_groups)
        .map(|g| {
            let group = &encoder / "albert_layer_groups" / g / "albert_layers";
            (0..c.inner_group_num)
                .map(|j| Rc::new(EncoderLayer::new(&group / j, &ALBERT_LAYER, &spec)))
                .collect()
        })
        .collect();
    let layers = (0..c.num_hidden_layers)
        .flat_map(|i| groups[c.group_of(i) as usize].iter().cloned())
        .collect();
    let pooler = with_pooler.then(|| Linear::new(&p / "pooler", h, h, true, std));
    BertModel::from_parts(embeddings, Some(mapping_in), layers, pooler)
}

/// `AlbertForMaskedLM`: `albert.*` without pooler, then `predictions`: dense (hidden to
/// embedding size), hidden_act, LayerNorm, and `decoder` tied to the word embeddings with
/// bias `predictions.bias`.
pub fn albert_for_masked_lm(p: nn::Path, c: &AlbertConfig) -> BertForMaskedLm {
    let albert = albert_model(&p / "albert", c, false);
    let predictions = &p / "predictions";
    let (e, std) = (c.embedding_size, c.initializer_range);
    let bias = predictions.var("bias", &[c.vocab_size], nn::Init::Const(0.0));
    let head = MlmHead {
        dense: Linear::new(&predictions / "dense", c.hidden_size, e, true, std),
        activation: c.hidden_act,
        norm: LayerNorm::new(&predictions / "LayerNorm", e, c.layer_norm_eps),
        decoder: decoder(
            &predictions / "decoder",
            albert.word_embeddings(),
            c.tie_word_embeddings,
            bias,
            std,
        ),
    };
    BertForMaskedLm::from_parts(albert, head)
}

impl Architecture for AlbertConfig {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(albert_model(p, self, true)),
            Task::LanguageModel => Box::new(albert_for_masked_lm(p, self)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::layers::Activation;
    use crate::models::parse_config;
    use crate::models::Spec;

    #[test]
    fn embedded_config_parses() {
        let (_, text) = crate::hub::embedded("albert/albert-base-v2").unwrap();
        let c: AlbertConfig = parse_config(&serde_json::from_str(text).unwrap()).unwrap();
        c.validate().unwrap();
        assert_eq!((c.embedding_size, c.hidden_size), (128, 768));
        assert_eq!(c.hidden_act, Activation::GeluNew);
    }

    #[test]
    fn groups_follow_transformers() {
        let c = AlbertConfig {
            num_hidden_layers: 6,
            num_hidden_groups: 3,
            ..AlbertConfig::default()
        };
        let groups: Vec<i64> = (0..6).map(|i| c.group_of(i)).collect();
        assert_eq!(groups, [0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        let c = AlbertConfig {
            embedding_size: 2,
            hidden_size: 4,
            intermediate_size: 8,
            num_hidden_layers: 1,
            inner_group_num: 2,
            num_attention_heads: 2,
            vocab_size: 10,
            ..AlbertConfig::default()
        };
        // B=1, S=2. Mapping 2·2·2·4 = 32. Per layer pass (two: one layer, two inner layers):
        // q,k,v,o 4 · (2·2·4·4) = 256, ffn 2 · (2·2·4·8) = 256, scores and values
        // 2 · (2·2·2·4) = 64. Pooler 2·4·4 = 32.
        let encoder = 32.0 + 2.0 * 576.0;
        assert_eq!(c.forward_flops(1, 2, Task::Base), encoder + 32.0);
        // MLM: dense 2·2·4·2 = 32, decoder 2·2·2·10 = 80.
        assert_eq!(
            c.forward_flops(1, 2, Task::LanguageModel),
            encoder + 32.0 + 80.0
        );
    }
}

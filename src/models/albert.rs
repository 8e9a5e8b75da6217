//! ALBERT (Lan et al., 2019, "ALBERT: A Lite BERT for Self-supervised Learning of Language
//! Representations"), following transformers' `modeling_albert.py`: BERT's embeddings
//! `embedding_size` wide, projected to the hidden size by `encoder.embedding_hidden_mapping_in`,
//! then `num_hidden_layers` passes through `num_hidden_groups` groups of `inner_group_num`
//! layers whose parameters are shared across depth; no dropout after the feed-forward.
//! `AlbertModel` (with pooler) for inference, `AlbertForMaskedLM` (no pooler, decoder tied to
//! the word embeddings) for the MLM loss. Parameter paths are the checkpoint's:
//! `albert.encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight`.

use super::bert::{
    decoder, encoder_flops, BertForMaskedLm, BertModel, EmbeddingSpec, Embeddings, EncoderLayer,
    LayerNames, LayerSpec, MlmHead, PositionIds,
};
use super::checks::{check_heads, check_positive};
use super::layers::{Activation, LayerNorm, Linear};
use super::{parse_config, Architecture, Model, Task};
use anyhow::{bail, Result};
use serde::Deserialize;
use std::rc::Rc;
use tch::nn;

/// `AlbertConfig`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AlbertConfig {
    pub vocab_size: i64,
    pub embedding_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_hidden_groups: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub inner_group_num: i64,
    pub hidden_act: Activation,
    pub hidden_dropout_prob: f64,
    pub attention_probs_dropout_prob: f64,
    pub max_position_embeddings: i64,
    pub type_vocab_size: i64,
    pub initializer_range: f64,
    pub layer_norm_eps: f64,
    pub position_embedding_type: String,
    pub pad_token_id: Option<i64>,
    pub tie_word_embeddings: bool,
}

impl Default for AlbertConfig {
    fn default() -> Self {
        AlbertConfig {
            vocab_size: 30000,
            embedding_size: 128,
            hidden_size: 4096,
            num_hidden_layers: 12,
            num_hidden_groups: 1,
            num_attention_heads: 64,
            intermediate_size: 16384,
            inner_group_num: 1,
            hidden_act: Activation::GeluNew,
            hidden_dropout_prob: 0.0,
            attention_probs_dropout_prob: 0.0,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            initializer_range: 0.02,
            layer_norm_eps: 1e-12,
            position_embedding_type: "absolute".into(),
            pad_token_id: Some(0),
            tie_word_embeddings: true,
        }
    }
}

impl AlbertConfig {
    pub fn validate(&self) -> Result<()> {
        if self.position_embedding_type != "absolute" {
            bail!(
                "position_embedding_type \"{}\" is not supported (only \"absolute\")",
                self.position_embedding_type
            );
        }
        check_heads(
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
        )?;
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("embedding_size", self.embedding_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_hidden_groups", self.num_hidden_groups),
            ("inner_group_num", self.inner_group_num),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ])
    }

    /// The group that pass `i` of num_hidden_layers goes through, computed as transformers
    /// does: int(i / (num_hidden_layers / num_hidden_groups)).
    pub fn group_of(&self, i: i64) -> i64 {
        (i as f64 / (self.num_hidden_layers as f64 / self.num_hidden_groups as f64)) as i64
    }

    fn embedding_spec(&self) -> EmbeddingSpec {
        EmbeddingSpec {
            vocab_size: self.vocab_size,
            dim: self.embedding_size,
            max_positions: self.max_position_embeddings,
            type_vocab_size: self.type_vocab_size,
            pad_token_id: self.pad_token_id,
            position_ids: PositionIds::FromZero,
            sinusoidal: false,
            layer_norm_eps: self.layer_norm_eps,
            dropout: self.hidden_dropout_prob,
            init_std: self.initializer_range,
        }
    }

    fn layer_spec(&self) -> LayerSpec {
        LayerSpec {
            hidden: self.hidden_size,
            intermediate: self.intermediate_size,
            heads: self.num_attention_heads,
            activation: self.hidden_act,
            layer_norm_eps: self.layer_norm_eps,
            init_std: self.initializer_range,
            attention_probs_dropout: self.attention_probs_dropout_prob,
            attention_output_dropout: self.hidden_dropout_prob,
            ffn_output_dropout: 0.0,
        }
    }
}

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

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Architecture>> {
    let c: AlbertConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Architecture for AlbertConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.max_position_embeddings)
    }

    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(albert_model(p, self, true)),
            Task::LanguageModel => Box::new(albert_for_masked_lm(p, self)),
        })
    }

    /// The embedding mapping 2BSEH, then num_hidden_layers · inner_group_num BERT layers
    /// ([`encoder_flops`]; sharing parameters does not share work); then the pooler 2BH²
    /// (base) or the MLM dense 2BSHE and decoder 2BSEV (masked LM).
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (e, h, v) = (
            self.embedding_size as f64,
            self.hidden_size as f64,
            self.vocab_size as f64,
        );
        let passes = (self.num_hidden_layers * self.inner_group_num) as f64;
        let head = match task {
            Task::Base => 2.0 * b * h * h,
            Task::LanguageModel => 2.0 * b * s * e * (h + v),
        };
        2.0 * b * s * e * h + encoder_flops(b, s, passes, h, self.intermediate_size as f64) + head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

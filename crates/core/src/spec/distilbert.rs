//! distilbert's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/distilbert.rs`).

use super::activation::Activation;
use super::bert::{
    encoder_flops, layer_parameters, mlm_head_parameters, EmbeddingSpec, LayerSpec, PositionIds,
};
use super::checks::{check_heads, check_positive};
use super::{parse_config, Spec, Task};
use anyhow::Result;
use serde::Deserialize;

/// DistilBERT's LayerNorms ignore the config's layer_norm_eps.
pub const LAYER_NORM_EPS: f64 = 1e-12;

/// `DistilBertConfig`, with transformers' defaults; `hidden_size`, `num_attention_heads` and
/// `num_hidden_layers` are accepted for `dim`, `n_heads` and `n_layers` (its attribute_map).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DistilBertConfig {
    pub vocab_size: i64,
    pub max_position_embeddings: i64,
    pub sinusoidal_pos_embds: bool,
    #[serde(alias = "num_hidden_layers")]
    pub n_layers: i64,
    #[serde(alias = "num_attention_heads")]
    pub n_heads: i64,
    #[serde(alias = "hidden_size")]
    pub dim: i64,
    pub hidden_dim: i64,
    pub dropout: f64,
    pub attention_dropout: f64,
    pub activation: Activation,
    pub initializer_range: f64,
    pub pad_token_id: Option<i64>,
    pub tie_word_embeddings: bool,
}

impl Default for DistilBertConfig {
    fn default() -> Self {
        DistilBertConfig {
            vocab_size: 30522,
            max_position_embeddings: 512,
            sinusoidal_pos_embds: false,
            n_layers: 6,
            n_heads: 12,
            dim: 768,
            hidden_dim: 4 * 768,
            dropout: 0.1,
            attention_dropout: 0.1,
            activation: Activation::Gelu,
            initializer_range: 0.02,
            pad_token_id: Some(0),
            tie_word_embeddings: true,
        }
    }
}

impl DistilBertConfig {
    pub fn validate(&self) -> Result<()> {
        check_heads(("dim", self.dim), ("n_heads", self.n_heads))?;
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("dim", self.dim),
            ("n_layers", self.n_layers),
            ("hidden_dim", self.hidden_dim),
            ("max_position_embeddings", self.max_position_embeddings),
        ])
    }

    /// BERT's embeddings without token types, LayerNorm eps [`LAYER_NORM_EPS`].
    pub fn embedding_spec(&self) -> EmbeddingSpec {
        EmbeddingSpec {
            vocab_size: self.vocab_size,
            dim: self.dim,
            max_positions: self.max_position_embeddings,
            type_vocab_size: 0,
            pad_token_id: self.pad_token_id,
            position_ids: PositionIds::FromZero,
            sinusoidal: self.sinusoidal_pos_embds,
            layer_norm_eps: LAYER_NORM_EPS,
            dropout: self.dropout,
            init_std: self.initializer_range,
        }
    }

    /// BERT's post-LayerNorm layer; dropout on the attention probabilities and the
    /// feed-forward output only.
    pub fn layer_spec(&self) -> LayerSpec {
        LayerSpec {
            hidden: self.dim,
            intermediate: self.hidden_dim,
            heads: self.n_heads,
            activation: self.activation,
            layer_norm_eps: LAYER_NORM_EPS,
            init_std: self.initializer_range,
            attention_probs_dropout: self.attention_dropout,
            attention_output_dropout: 0.0,
            ffn_output_dropout: self.dropout,
        }
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: DistilBertConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Spec for DistilBertConfig {
    fn takes_attention_mask(&self) -> bool {
        true
    }

    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.max_position_embeddings)
    }

    /// BERT's encoder ([`encoder_flops`]) with H = dim, I = hidden_dim; no pooler (base), or
    /// the vocab transform 2BSH² and projector 2BSHV (masked LM).
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, v) = (self.dim as f64, self.vocab_size as f64);
        let head = match task {
            Task::Base => 0.0,
            Task::LanguageModel => 2.0 * b * s * h * (h + v),
        };
        encoder_flops(b, s, self.n_layers as f64, h, self.hidden_dim as f64) + head
    }

    /// Word and position embeddings (a sinusoidal table is a frozen parameter) and their
    /// LayerNorm, BERT's layers, no pooler; the masked-LM head (`vocab_transform`,
    /// `vocab_layer_norm`, the projector's bias, its weight when untied).
    fn parameters(&self, task: Task) -> Option<f64> {
        let (h, v) = (self.dim, self.vocab_size);
        let embeddings = ((v + self.max_position_embeddings) * h + 2 * h) as f64;
        let layers = self.n_layers as f64 * layer_parameters(h, self.hidden_dim);
        let head = match task {
            Task::Base => 0.0,
            Task::LanguageModel => mlm_head_parameters(h, h, v, self.tie_word_embeddings),
        };
        Some(embeddings + layers + head)
    }
}

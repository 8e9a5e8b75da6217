//! bert's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/bert.rs`).

use super::activation::Activation;
use super::checks::{check_heads, check_positive};
use super::{parse_config, Spec, Task};
use anyhow::{bail, Result};
use serde::Deserialize;

/// `BertConfig`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct BertConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub hidden_act: Activation,
    pub hidden_dropout_prob: f64,
    pub attention_probs_dropout_prob: f64,
    pub max_position_embeddings: i64,
    pub type_vocab_size: i64,
    pub initializer_range: f64,
    pub layer_norm_eps: f64,
    pub pad_token_id: Option<i64>,
    pub position_embedding_type: String,
    pub tie_word_embeddings: bool,
}

impl Default for BertConfig {
    fn default() -> Self {
        BertConfig {
            vocab_size: 30522,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: Activation::Gelu,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            initializer_range: 0.02,
            layer_norm_eps: 1e-12,
            pad_token_id: Some(0),
            position_embedding_type: "absolute".into(),
            tie_word_embeddings: true,
        }
    }
}

impl BertConfig {
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
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ])
    }

    /// The embeddings' shape: `dim` wide (ELECTRA embeds narrower than hidden_size).
    pub fn embedding_spec(&self, dim: i64, position_ids: PositionIds) -> EmbeddingSpec {
        EmbeddingSpec {
            vocab_size: self.vocab_size,
            dim,
            max_positions: self.max_position_embeddings,
            type_vocab_size: self.type_vocab_size,
            pad_token_id: self.pad_token_id,
            position_ids,
            sinusoidal: false,
            layer_norm_eps: self.layer_norm_eps,
            dropout: self.hidden_dropout_prob,
            init_std: self.initializer_range,
        }
    }

    pub fn layer_spec(&self) -> LayerSpec {
        LayerSpec {
            hidden: self.hidden_size,
            intermediate: self.intermediate_size,
            heads: self.num_attention_heads,
            activation: self.hidden_act,
            layer_norm_eps: self.layer_norm_eps,
            init_std: self.initializer_range,
            attention_probs_dropout: self.attention_probs_dropout_prob,
            attention_output_dropout: self.hidden_dropout_prob,
            ffn_output_dropout: self.hidden_dropout_prob,
        }
    }
}

/// Where the position ids come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionIds {
    /// 0, 1, ..., seq - 1 (BERT).
    FromZero,
    /// RoBERTa's `create_position_ids_from_input_ids` with this padding index: non-padding
    /// tokens count from padding_idx + 1, padding tokens get padding_idx.
    AfterPadding(i64),
}

/// The shape of the embeddings of a BERT-like model.
#[derive(Debug, Clone)]
pub struct EmbeddingSpec {
    pub vocab_size: i64,
    pub dim: i64,
    pub max_positions: i64,
    /// 0: no token type embeddings (DistilBERT).
    pub type_vocab_size: i64,
    pub pad_token_id: Option<i64>,
    pub position_ids: PositionIds,
    /// Fixed sinusoidal position embeddings (DistilBERT's `sinusoidal_pos_embds`), not trained.
    pub sinusoidal: bool,
    pub layer_norm_eps: f64,
    pub dropout: f64,
    pub init_std: f64,
}

/// Sizes and dropout of an an encoder layer. Families drop out in different places.
#[derive(Debug, Clone)]
pub struct LayerSpec {
    pub hidden: i64,
    pub intermediate: i64,
    pub heads: i64,
    pub activation: Activation,
    pub layer_norm_eps: f64,
    pub init_std: f64,
    /// On the attention probabilities.
    pub attention_probs_dropout: f64,
    /// On the attention's output projection, before the residual.
    pub attention_output_dropout: f64,
    /// On the feed-forward output, before the residual.
    pub ffn_output_dropout: f64,
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: BertConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

/// Forward FLOPs of `layers` BERT encoder layers of width `h` and feed-forward width `i` on
/// (b, s): per layer, q, k, v and output projections 4·2BSH², the feed-forward 2·2BSHI,
/// scores and weighted values 2·2BS²H.
/// Parameters of BERT-like embeddings: words, positions (a sinusoidal table is a parameter
/// too, frozen) and token types, `dim` wide, and their LayerNorm.
pub fn embedding_parameters(e: &EmbeddingSpec) -> f64 {
    let rows = e.vocab_size + e.max_positions + e.type_vocab_size;
    (rows * e.dim + 2 * e.dim) as f64
}

/// Parameters of one BERT-like encoder layer: q, k, v and output H·H + H each, the
/// feed-forward H·I + I and I·H + H, two LayerNorms 2·H each.
pub fn layer_parameters(h: i64, i: i64) -> f64 {
    (4 * (h * h + h) + 2 * h * i + i + h + 2 * 2 * h) as f64
}

/// Parameters of a masked-LM head on H-wide hidden states predicting E-wide embeddings:
/// transform H·E + E and its LayerNorm, the decoder's bias V, its weight E·V when untied.
pub fn mlm_head_parameters(h: i64, e: i64, v: i64, tied: bool) -> f64 {
    (h * e + e + 2 * e + v + if tied { 0 } else { e * v }) as f64
}

pub fn encoder_flops(b: f64, s: f64, layers: f64, h: f64, i: f64) -> f64 {
    layers * (2.0 * b * s * (4.0 * h * h + 2.0 * h * i) + 4.0 * b * s * s * h)
}

impl Spec for BertConfig {
    fn takes_attention_mask(&self) -> bool {
        true
    }

    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.max_position_embeddings)
    }

    /// The encoder ([`encoder_flops`]), then the pooler 2BH² (base) or the MLM transform
    /// 2BSH² and decoder 2BSHV (masked LM).
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, i, v) = (
            self.hidden_size as f64,
            self.intermediate_size as f64,
            self.vocab_size as f64,
        );
        let head = match task {
            Task::Base => 2.0 * b * h * h,
            Task::LanguageModel => 2.0 * b * s * h * (h + v),
        };
        encoder_flops(b, s, self.num_hidden_layers as f64, h, i) + head
    }

    /// Embeddings and layers; the base model's pooler H·H + H, or the masked-LM head
    /// (`BertForMaskedLM` has no pooler).
    fn parameters(&self, task: Task) -> Option<f64> {
        let (h, i, v) = (self.hidden_size, self.intermediate_size, self.vocab_size);
        let body = embedding_parameters(&self.embedding_spec(h, PositionIds::FromZero))
            + self.num_hidden_layers as f64 * layer_parameters(h, i);
        let top = match task {
            Task::Base => (h * h + h) as f64,
            Task::LanguageModel => mlm_head_parameters(h, h, v, self.tie_word_embeddings),
        };
        Some(body + top)
    }
}

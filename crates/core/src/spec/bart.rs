//! bart's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/bart.rs`).

use super::activation::Activation;
use super::checks::check_positive;
use super::flops::lm_head_flops;
use super::{parse_config, KvLayout, Spec, Task};
use anyhow::{bail, Result};
use serde::Deserialize;

/// `nn.LayerNorm`'s default: BART's norms do not read an epsilon from the config.
pub const LAYER_NORM_EPS: f64 = 1e-5;
/// `BartLearnedPositionalEmbedding` keeps two rows before position 0 (fairseq's padding
/// offset).
pub const POSITION_OFFSET: i64 = 2;

/// `BartConfig`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct BartConfig {
    pub vocab_size: i64,
    pub max_position_embeddings: i64,
    pub d_model: i64,
    pub encoder_layers: i64,
    pub encoder_ffn_dim: i64,
    pub encoder_attention_heads: i64,
    pub decoder_layers: i64,
    pub decoder_ffn_dim: i64,
    pub decoder_attention_heads: i64,
    pub encoder_layerdrop: f64,
    pub decoder_layerdrop: f64,
    pub activation_function: Activation,
    pub dropout: f64,
    pub attention_dropout: f64,
    pub activation_dropout: f64,
    pub init_std: f64,
    /// Multiplies the token embeddings by sqrt(d_model).
    pub scale_embedding: bool,
    pub pad_token_id: Option<i64>,
    pub tie_word_embeddings: bool,
    /// The decoder's first input in generation (`</s>` in BART's vocabulary).
    pub decoder_start_token_id: i64,
}

impl Default for BartConfig {
    fn default() -> Self {
        BartConfig {
            vocab_size: 50265,
            max_position_embeddings: 1024,
            d_model: 1024,
            encoder_layers: 12,
            encoder_ffn_dim: 4096,
            encoder_attention_heads: 16,
            decoder_layers: 12,
            decoder_ffn_dim: 4096,
            decoder_attention_heads: 16,
            encoder_layerdrop: 0.0,
            decoder_layerdrop: 0.0,
            activation_function: Activation::Gelu,
            dropout: 0.1,
            attention_dropout: 0.0,
            activation_dropout: 0.0,
            init_std: 0.02,
            scale_embedding: false,
            pad_token_id: Some(1),
            tie_word_embeddings: true,
            decoder_start_token_id: 2,
        }
    }
}

impl BartConfig {
    pub fn validate(&self) -> Result<()> {
        for (name, heads) in [
            ("encoder_attention_heads", self.encoder_attention_heads),
            ("decoder_attention_heads", self.decoder_attention_heads),
        ] {
            if heads <= 0 || self.d_model % heads != 0 {
                bail!(
                    "d_model {} is not a multiple of {name} {heads}",
                    self.d_model
                );
            }
        }
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("encoder_layers", self.encoder_layers),
            ("encoder_ffn_dim", self.encoder_ffn_dim),
            ("decoder_layers", self.decoder_layers),
            ("decoder_ffn_dim", self.decoder_ffn_dim),
        ])?;
        Ok(())
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: BartConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Spec for BartConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.max_position_embeddings)
    }

    fn kv_layout(&self) -> Option<KvLayout> {
        Some(KvLayout {
            windows: vec![None; self.decoder_layers.max(0) as usize],
            kv_heads: self.decoder_attention_heads,
            head_dim: self.d_model / self.decoder_attention_heads,
            cross_layers: self.decoder_layers,
        })
    }

    /// With D = d_model and the encoder and decoder both over S tokens: an attention (self or
    /// cross) costs q, k, v, out 4·2BSD² plus scores and values 2·2BS²D (the decoder's causal
    /// half included, as eager computes it); a feed-forward 2·2BSDF with F its ffn_dim.
    /// Encoder layers have self-attention and feed-forward, decoder layers self-attention,
    /// cross-attention and feed-forward. The LM head adds 2BSDV.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (d, v) = (self.d_model as f64, self.vocab_size as f64);
        let attention = 8.0 * b * s * d * d + 4.0 * b * s * s * d;
        let feed_forward = |ffn: i64| 4.0 * b * s * d * ffn as f64;
        let encoder = self.encoder_layers as f64 * (attention + feed_forward(self.encoder_ffn_dim));
        let decoder =
            self.decoder_layers as f64 * (2.0 * attention + feed_forward(self.decoder_ffn_dim));
        let head = lm_head_flops(task, b, s, d, v);
        encoder + decoder + head
    }

    /// As transformers' `num_parameters()`: `shared` V·D (both stacks' token embeddings);
    /// per stack learned positions (P + 2)·D and `layernorm_embedding`; per layer each
    /// attention 4·(D·D + D) with its LayerNorm, the feed-forward 2·D·F + F + D with its
    /// LayerNorm; `lm_head` V·D unless tied. `final_logits_bias` (V) is a buffer there, not a
    /// parameter, though the built module holds it.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (d, v) = (self.d_model, self.vocab_size);
        let attention = 4 * (d * d + d) + 2 * d;
        let feed_forward = |f: i64| 2 * d * f + f + d + 2 * d;
        let stack = (self.max_position_embeddings + POSITION_OFFSET) * d + 2 * d;
        let encoder =
            stack + self.encoder_layers * (attention + feed_forward(self.encoder_ffn_dim));
        let decoder =
            stack + self.decoder_layers * (2 * attention + feed_forward(self.decoder_ffn_dim));
        let head = match (task, self.tie_word_embeddings) {
            (Task::LanguageModel, false) => v * d,
            _ => 0,
        };
        Some((v * d + encoder + decoder + head) as f64)
    }
}

//! t5's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/t5.rs`).

use super::activation::Activation;
use super::checks::check_positive;
use super::flops::lm_head_flops;
use super::{parse_config, KvLayout, Spec, Task};
use anyhow::{anyhow, bail, Result};
use serde::Deserialize;

/// `T5Config`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct T5Config {
    pub vocab_size: i64,
    pub d_model: i64,
    pub d_kv: i64,
    pub d_ff: i64,
    pub num_layers: i64,
    /// Defaults to `num_layers`.
    pub num_decoder_layers: Option<i64>,
    pub num_heads: i64,
    pub relative_attention_num_buckets: i64,
    pub relative_attention_max_distance: i64,
    pub dropout_rate: f64,
    pub layer_norm_epsilon: f64,
    pub initializer_factor: f64,
    /// `"{act}"` or `"gated-{act}"`; `"gated-gelu"` means gelu_new.
    pub feed_forward_proj: String,
    /// Ties `lm_head` to `shared` (and then scales the decoder output by d_model^-0.5).
    pub tie_word_embeddings: bool,
    /// The decoder's first input in generation (T5 starts from the padding token).
    pub decoder_start_token_id: i64,
}

impl Default for T5Config {
    fn default() -> Self {
        T5Config {
            vocab_size: 32128,
            d_model: 512,
            d_kv: 64,
            d_ff: 2048,
            num_layers: 6,
            num_decoder_layers: None,
            num_heads: 8,
            relative_attention_num_buckets: 32,
            relative_attention_max_distance: 128,
            dropout_rate: 0.1,
            layer_norm_epsilon: 1e-6,
            initializer_factor: 1.0,
            feed_forward_proj: "relu".into(),
            tie_word_embeddings: true,
            decoder_start_token_id: 0,
        }
    }
}

impl T5Config {
    pub fn validate(&self) -> Result<()> {
        self.feed_forward()?;
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("d_kv", self.d_kv),
            ("d_ff", self.d_ff),
            ("num_layers", self.num_layers),
            ("num_decoder_layers", self.decoder_layers()),
            ("num_heads", self.num_heads),
            (
                "relative_attention_max_distance",
                self.relative_attention_max_distance,
            ),
        ])?;
        // Fewer buckets leave the bidirectional half without exact buckets (a division by 0).
        if self.relative_attention_num_buckets < 4 {
            bail!(
                "relative_attention_num_buckets must be at least 4, got {}",
                self.relative_attention_num_buckets
            );
        }
        Ok(())
    }

    pub fn decoder_layers(&self) -> i64 {
        self.num_decoder_layers.unwrap_or(self.num_layers)
    }

    /// (gated, activation) from `feed_forward_proj`, as `T5Config.__init__` reads it.
    pub fn feed_forward(&self) -> Result<(bool, Activation)> {
        let parts: Vec<&str> = self.feed_forward_proj.split('-').collect();
        let (gated, name) = match parts.as_slice() {
            [name] => (false, *name),
            ["gated", name] => (true, *name),
            _ => bail!(
                "feed_forward_proj \"{}\" is not \"{{ACT}}\" or \"gated-{{ACT}}\"",
                self.feed_forward_proj
            ),
        };
        let name = if self.feed_forward_proj == "gated-gelu" {
            "gelu_new"
        } else {
            name
        };
        let activation = serde_json::from_value(name.into()).map_err(|_| {
            anyhow!(
                "feed_forward_proj \"{}\": activation \"{name}\" is not supported",
                self.feed_forward_proj
            )
        })?;
        Ok((gated, activation))
    }

    pub fn inner_dim(&self) -> i64 {
        self.num_heads * self.d_kv
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: T5Config = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Spec for T5Config {
    fn takes_attention_mask(&self) -> bool {
        true
    }

    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    /// Relative positions: any length.
    fn max_positions(&self) -> Option<i64> {
        None
    }

    fn kv_layout(&self) -> Option<KvLayout> {
        Some(KvLayout {
            windows: vec![None; self.decoder_layers().max(0) as usize],
            kv_heads: self.num_heads,
            head_dim: self.d_kv,
            cross_layers: self.decoder_layers(),
        })
    }

    /// With D = d_model, A = num_heads·d_kv, F = d_ff, and the encoder and decoder both over
    /// S tokens: an attention (self or cross) costs q, k, v, o 4·2BSDA plus scores and values
    /// 2·2BS²A (the decoder's causal half included, as eager computes it); a feed-forward
    /// 2·2BSDF, or 3·2BSDF when gated. Encoder layers have self-attention and feed-forward,
    /// decoder layers self-attention, cross-attention and feed-forward. The LM head adds
    /// 2BSDV.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (d, a, f, v) = (
            self.d_model as f64,
            self.inner_dim() as f64,
            self.d_ff as f64,
            self.vocab_size as f64,
        );
        let (gated, _) = self.feed_forward().expect("a validated config");
        let attention = 8.0 * b * s * d * a + 4.0 * b * s * s * a;
        let feed_forward = if gated { 6.0 } else { 4.0 } * b * s * d * f;
        let encoder = self.num_layers as f64 * (attention + feed_forward);
        let decoder = self.decoder_layers() as f64 * (2.0 * attention + feed_forward);
        let head = lm_head_flops(task, b, s, d, v);
        encoder + decoder + head
    }

    /// `shared` V·D (both stacks' token embeddings); per stack the relative-position bias
    /// buckets·heads (its first layer's, shared by the rest) and the final norm D; per layer
    /// self-attention q, k, v, o 4·D·inner (no biases) and its norm D, the decoder's
    /// cross-attention likewise, the feed-forward D·F (twice when gated) + F·D and its norm;
    /// `lm_head` V·D unless tied.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (d, v) = (self.d_model, self.vocab_size);
        let attention = 4 * d * self.inner_dim() + d;
        let gated = self.feed_forward().map(|(gated, _)| gated).unwrap_or(false);
        let feed_forward = if gated { 3 } else { 2 } * d * self.d_ff + d;
        let stack = self.relative_attention_num_buckets * self.num_heads + d;
        let encoder = stack + self.num_layers * (attention + feed_forward);
        let decoder = stack + self.decoder_layers() * (2 * attention + feed_forward);
        let head = match (task, self.tie_word_embeddings) {
            (Task::LanguageModel, false) => v * d,
            _ => 0,
        };
        Some((v * d + encoder + decoder + head) as f64)
    }
}

//! gpt_neox's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/gpt_neox.rs`).

use super::activation::Activation;
use super::checks::check_positive;
use super::flops::lm_head_flops;
use super::rope::{RopeScaling, RopeType};
use super::{parse_config, KvLayout, Spec, Task};
use anyhow::{bail, Result};
use serde::Deserialize;

/// `GPTNeoXConfig`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct GptNeoxConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub hidden_act: Activation,
    pub rotary_pct: f64,
    /// The rotary base (transformers copies it to `rope_theta`).
    pub rotary_emb_base: f64,
    pub rope_scaling: Option<RopeScaling>,
    pub attention_dropout: f64,
    pub hidden_dropout: f64,
    pub initializer_range: f64,
    pub layer_norm_eps: f64,
    pub tie_word_embeddings: bool,
    pub use_parallel_residual: bool,
    pub attention_bias: bool,
}

impl Default for GptNeoxConfig {
    fn default() -> Self {
        GptNeoxConfig {
            vocab_size: 50432,
            hidden_size: 6144,
            num_hidden_layers: 44,
            num_attention_heads: 64,
            intermediate_size: 24576,
            hidden_act: Activation::Gelu,
            rotary_pct: 0.25,
            rotary_emb_base: 10000.0,
            rope_scaling: None,
            attention_dropout: 0.0,
            hidden_dropout: 0.0,
            initializer_range: 0.02,
            layer_norm_eps: 1e-5,
            tie_word_embeddings: false,
            use_parallel_residual: true,
            attention_bias: true,
        }
    }
}

impl GptNeoxConfig {
    pub fn validate(&self) -> Result<()> {
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
        ])?;
        if self.hidden_size % self.num_attention_heads != 0 {
            bail!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size,
                self.num_attention_heads
            );
        }
        if !(0.0..=1.0).contains(&self.rotary_pct) {
            bail!("rotary_pct must be in [0, 1], got {}", self.rotary_pct);
        }
        if self.rotary_dim() % 2 != 0 {
            bail!(
                "rotary_pct {} of head size {} gives an odd number of rotary dimensions",
                self.rotary_pct,
                self.head_size()
            );
        }
        RopeType::from_scaling(self.rope_scaling.as_ref())?;
        Ok(())
    }

    pub fn head_size(&self) -> i64 {
        self.hidden_size / self.num_attention_heads
    }

    /// `int(head_size * rotary_pct)`, as transformers truncates it.
    pub fn rotary_dim(&self) -> i64 {
        (self.head_size() as f64 * self.rotary_pct) as i64
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: GptNeoxConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Spec for GptNeoxConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    /// Unbounded: rotary embeddings are computed for any position, and transformers runs
    /// GPT-NeoX past max_position_embeddings without error.
    fn max_positions(&self) -> Option<i64> {
        None
    }

    fn kv_layout(&self) -> Option<KvLayout> {
        Some(KvLayout::uniform(
            self.num_hidden_layers,
            None,
            self.num_attention_heads,
            self.head_size(),
        ))
    }

    /// Per layer: the fused q, k, v projection 2·BSH·3H, the output projection 2BSH², the
    /// MLP 2·2BSHI, scores and weighted values 2·2BS²H (the full S×S products). Then the
    /// LM head 2BSHV (causal LM only).
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, i, v) = (
            self.hidden_size as f64,
            self.intermediate_size as f64,
            self.vocab_size as f64,
        );
        let layer = 2.0 * b * s * (4.0 * h * h + 2.0 * h * i) + 4.0 * b * s * s * h;
        let head = lm_head_flops(task, b, s, h, v);
        self.num_hidden_layers as f64 * layer + head
    }

    /// `embed_in` V·H; per layer two LayerNorms, `query_key_value` H·3H and `dense` H·H
    /// (biases with `attention_bias`), the MLP 2·H·I + I + H; the final LayerNorm;
    /// `embed_out` V·H unless tied.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (h, v, i) = (self.hidden_size, self.vocab_size, self.intermediate_size);
        let bias = if self.attention_bias { 4 * h } else { 0 };
        let layer = 2 * 2 * h + 4 * h * h + bias + (2 * h * i + i + h);
        let head = match (task, self.tie_word_embeddings) {
            (Task::LanguageModel, false) => v * h,
            _ => 0,
        };
        Some((v * h + self.num_hidden_layers * layer + 2 * h + head) as f64)
    }
}

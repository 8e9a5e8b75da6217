//! phi's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/phi.rs`).

use super::activation::Activation;
use super::checks::check_positive;
use super::flops::lm_head_flops;
use super::rope::{RopeScaling, RopeType};
use super::{parse_config, KvLayout, Spec, Task};
use anyhow::{bail, Result};
use serde::Deserialize;

/// `PhiConfig`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PhiConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub intermediate_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    /// None (or null): as many as the query heads.
    pub num_key_value_heads: Option<i64>,
    pub resid_pdrop: f64,
    pub embd_pdrop: f64,
    pub attention_dropout: f64,
    pub hidden_act: Activation,
    pub initializer_range: f64,
    pub layer_norm_eps: f64,
    pub tie_word_embeddings: bool,
    pub rope_theta: f64,
    pub rope_scaling: Option<RopeScaling>,
    pub partial_rotary_factor: f64,
    pub qk_layernorm: bool,
    pub pad_token_id: Option<i64>,
}

impl Default for PhiConfig {
    fn default() -> Self {
        PhiConfig {
            vocab_size: 51200,
            hidden_size: 2048,
            intermediate_size: 8192,
            num_hidden_layers: 24,
            num_attention_heads: 32,
            num_key_value_heads: None,
            resid_pdrop: 0.0,
            embd_pdrop: 0.0,
            attention_dropout: 0.0,
            hidden_act: Activation::GeluNew,
            initializer_range: 0.02,
            layer_norm_eps: 1e-5,
            tie_word_embeddings: false,
            rope_theta: 10000.0,
            rope_scaling: None,
            partial_rotary_factor: 0.5,
            qk_layernorm: false,
            pad_token_id: None,
        }
    }
}

impl PhiConfig {
    pub fn validate(&self) -> Result<()> {
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.kv_heads()),
        ])?;
        if self.hidden_size % self.num_attention_heads != 0 {
            bail!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size,
                self.num_attention_heads
            );
        }
        if self.num_attention_heads % self.kv_heads() != 0 {
            bail!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_attention_heads,
                self.kv_heads()
            );
        }
        if !(0.0..=1.0).contains(&self.partial_rotary_factor) || self.rotary_dim() % 2 != 0 {
            bail!(
                "partial_rotary_factor {} of head size {} must give an even number of rotary \
                 dimensions",
                self.partial_rotary_factor,
                self.head_dim()
            );
        }
        RopeType::from_scaling(self.rope_scaling.as_ref())?;
        Ok(())
    }

    pub fn head_dim(&self) -> i64 {
        self.hidden_size / self.num_attention_heads
    }

    pub fn kv_heads(&self) -> i64 {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// `int(head_dim * partial_rotary_factor)`, as transformers truncates it.
    pub fn rotary_dim(&self) -> i64 {
        (self.head_dim() as f64 * self.partial_rotary_factor) as i64
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: PhiConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Spec for PhiConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    /// Unbounded: rotary embeddings are computed for any position, and transformers runs
    /// Phi past max_position_embeddings without error.
    fn max_positions(&self) -> Option<i64> {
        None
    }

    fn kv_layout(&self) -> Option<KvLayout> {
        Some(KvLayout::uniform(
            self.num_hidden_layers,
            None,
            self.kv_heads(),
            self.head_dim(),
        ))
    }

    /// Per layer, with kv_heads·head_dim = K: q and dense projections 2·2BSH², k and v
    /// 2·2BSHK, the MLP 2·2BSHI, scores and weighted values 2·2BS²H (the full S×S
    /// products). Then the LM head 2BSHV (causal LM only).
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, i, v) = (
            self.hidden_size as f64,
            self.intermediate_size as f64,
            self.vocab_size as f64,
        );
        let kv = (self.kv_heads() * self.head_dim()) as f64;
        let layer = 2.0 * b * s * (2.0 * h * h + 2.0 * h * kv + 2.0 * h * i) + 4.0 * b * s * s * h;
        let head = lm_head_flops(task, b, s, h, v);
        self.num_hidden_layers as f64 * layer + head
    }

    /// Token embeddings V·H; per layer q and dense H·H + H, k and v H·KV + KV, the per-head
    /// q/k LayerNorms with `qk_layernorm`, fc1 and fc2 2·H·I + I + H, one LayerNorm (the
    /// attention and MLP run in parallel); the final LayerNorm; `lm_head` with its bias V,
    /// its weight V·H unless tied.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (h, v, i, d) = (
            self.hidden_size,
            self.vocab_size,
            self.intermediate_size,
            self.head_dim(),
        );
        let kv = self.kv_heads() * d;
        let qk_norms = if self.qk_layernorm { 2 * 2 * d } else { 0 };
        let attention = 2 * (h * h + h) + 2 * (h * kv + kv) + qk_norms;
        let layer = attention + (2 * h * i + i + h) + 2 * h;
        let head = match (task, self.tie_word_embeddings) {
            (Task::Base, _) => 0,
            (Task::LanguageModel, true) => v,
            (Task::LanguageModel, false) => v * h + v,
        };
        Some((v * h + self.num_hidden_layers * layer + 2 * h + head) as f64)
    }
}

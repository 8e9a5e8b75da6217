//! gpt2's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/gpt2.rs`).

use super::activation::Activation;
use super::checks::{check_heads, check_positive};
use super::flops::lm_head_flops;
use super::{parse_config, KvLayout, Spec, Task};
use anyhow::Result;
use serde::Deserialize;

/// `GPT2Config`, with transformers' defaults; its `attribute_map` names are accepted too.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Gpt2Config {
    pub vocab_size: i64,
    #[serde(alias = "max_position_embeddings")]
    pub n_positions: i64,
    #[serde(alias = "hidden_size")]
    pub n_embd: i64,
    #[serde(alias = "num_hidden_layers")]
    pub n_layer: i64,
    #[serde(alias = "num_attention_heads")]
    pub n_head: i64,
    /// The MLP width; None means 4 · n_embd.
    pub n_inner: Option<i64>,
    pub activation_function: Activation,
    pub resid_pdrop: f64,
    pub embd_pdrop: f64,
    pub attn_pdrop: f64,
    pub layer_norm_epsilon: f64,
    pub initializer_range: f64,
    pub scale_attn_weights: bool,
    pub scale_attn_by_inverse_layer_idx: bool,
    /// Only changes fp16/bf16 numerics in transformers (scores computed in fp32); fused
    /// attention already accumulates in fp32, so it needs nothing here.
    pub reorder_and_upcast_attn: bool,
    pub tie_word_embeddings: bool,
}

impl Default for Gpt2Config {
    fn default() -> Self {
        Gpt2Config {
            vocab_size: 50257,
            n_positions: 1024,
            n_embd: 768,
            n_layer: 12,
            n_head: 12,
            n_inner: None,
            activation_function: Activation::GeluNew,
            resid_pdrop: 0.1,
            embd_pdrop: 0.1,
            attn_pdrop: 0.1,
            layer_norm_epsilon: 1e-5,
            initializer_range: 0.02,
            scale_attn_weights: true,
            scale_attn_by_inverse_layer_idx: false,
            reorder_and_upcast_attn: false,
            tie_word_embeddings: true,
        }
    }
}

impl Gpt2Config {
    pub fn inner_dim(&self) -> i64 {
        self.n_inner.unwrap_or(4 * self.n_embd)
    }

    pub fn validate(&self) -> Result<()> {
        check_heads(("n_embd", self.n_embd), ("n_head", self.n_head))?;
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("n_positions", self.n_positions),
            ("n_embd", self.n_embd),
            ("n_layer", self.n_layer),
            ("n_inner", self.inner_dim()),
        ])?;
        Ok(())
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: Gpt2Config = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Spec for Gpt2Config {
    fn takes_attention_mask(&self) -> bool {
        true
    }

    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.n_positions)
    }

    fn kv_layout(&self) -> Option<KvLayout> {
        Some(KvLayout::uniform(
            self.n_layer,
            None,
            self.n_head,
            self.n_embd / self.n_head,
        ))
    }

    /// Per layer: c_attn 2BS·H·3H and c_proj 2BSH², the MLP 2·2BSHI, scores and weighted
    /// values 2·2BS²H (the full S×S products, as transformers' eager attention computes
    /// them, though half are masked). The LM head adds 2BSHV.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, i, v) = (
            self.n_embd as f64,
            self.inner_dim() as f64,
            self.vocab_size as f64,
        );
        let layer = 2.0 * b * s * (4.0 * h * h + 2.0 * h * i) + 4.0 * b * s * s * h;
        let head = lm_head_flops(task, b, s, h, v);
        self.n_layer as f64 * layer + head
    }

    /// `wte` V·H and `wpe` P·H; per layer two LayerNorms, `c_attn` H·3H + 3H, `c_proj`
    /// H·H + H, the MLP 2·H·I + I + H; `ln_f`; `lm_head` V·H unless tied.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (h, v, i) = (self.n_embd, self.vocab_size, self.inner_dim());
        let layer = 2 * 2 * h + (3 * h * h + 3 * h) + (h * h + h) + (2 * h * i + i + h);
        let head = match (task, self.tie_word_embeddings) {
            (Task::LanguageModel, false) => v * h,
            _ => 0,
        };
        Some(((v + self.n_positions) * h + self.n_layer * layer + 2 * h + head) as f64)
    }
}

//! phi3's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/phi3.rs`).

use super::activation::Activation;
use super::checks::{check_heads, check_positive};
use super::flops::{attention_flops, gated_mlp_flops, lm_head_flops};
use super::rope::RopeType;
use super::{parse_config, KvLayout, Spec, Task};
use anyhow::{bail, Result};
use serde::Deserialize;
use serde_json::Value;

/// `Phi3Config`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Phi3Config {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub intermediate_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    /// None (or null): as many as the query heads.
    pub num_key_value_heads: Option<i64>,
    /// transformers reads it when a config.json has it; else hidden / heads.
    pub head_dim: Option<i64>,
    pub resid_pdrop: f64,
    pub attention_dropout: f64,
    pub hidden_act: Activation,
    pub max_position_embeddings: i64,
    pub original_max_position_embeddings: i64,
    pub initializer_range: f64,
    pub rms_norm_eps: f64,
    pub tie_word_embeddings: bool,
    pub rope_theta: f64,
    /// Kept as written; [`Phi3Config::rope`] validates it as Phi3Config does.
    pub rope_scaling: Option<Value>,
    pub partial_rotary_factor: f64,
    pub pad_token_id: Option<i64>,
    pub sliding_window: Option<i64>,
}

impl Default for Phi3Config {
    fn default() -> Self {
        Phi3Config {
            vocab_size: 32064,
            hidden_size: 3072,
            intermediate_size: 8192,
            num_hidden_layers: 32,
            num_attention_heads: 32,
            num_key_value_heads: None,
            head_dim: None,
            resid_pdrop: 0.0,
            attention_dropout: 0.0,
            hidden_act: Activation::Silu,
            max_position_embeddings: 4096,
            original_max_position_embeddings: 4096,
            initializer_range: 0.02,
            rms_norm_eps: 1e-5,
            tie_word_embeddings: false,
            rope_theta: 10000.0,
            rope_scaling: None,
            partial_rotary_factor: 1.0,
            pad_token_id: Some(32000),
            sliding_window: None,
        }
    }
}

impl Phi3Config {
    pub fn from_json(config: &Value) -> Result<Self> {
        let c: Phi3Config = parse_config(config)?;
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<()> {
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.kv_heads()),
            (
                "original_max_position_embeddings",
                self.original_max_position_embeddings,
            ),
        ])?;
        if self.head_dim.is_none() {
            check_heads(
                ("hidden_size", self.hidden_size),
                ("num_attention_heads", self.num_attention_heads),
            )?;
        }
        check_heads(
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.kv_heads()),
        )?;
        if !(0.0..=1.0).contains(&self.partial_rotary_factor) || self.rotary_dim() % 2 != 0 {
            bail!(
                "partial_rotary_factor {} of head size {} must give an even number of rotary \
                 dimensions",
                self.partial_rotary_factor,
                self.head_dim()
            );
        }
        if let Some(w) = self.sliding_window.filter(|&w| w <= 0) {
            bail!("sliding_window must be positive, got {w}");
        }
        self.rope()?;
        Ok(())
    }

    pub fn head_dim(&self) -> i64 {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads)
    }

    pub fn kv_heads(&self) -> i64 {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// `int(head_dim * partial_rotary_factor)`, as transformers truncates it.
    pub fn rotary_dim(&self) -> i64 {
        (self.head_dim() as f64 * self.partial_rotary_factor) as i64
    }

    /// The rotary scaling, checked as `Phi3Config._rope_scaling_validation`: none, or a
    /// LongRoPE `{type, short_factor, long_factor}` with rotary_dim/2 factors each. Its
    /// attention factor is transformers' default, sqrt(1 + ln(f)/ln(original)) for
    /// f = max_position_embeddings / original_max_position_embeddings > 1.
    pub fn rope(&self) -> Result<RopeType> {
        let Some(scaling) = self.rope_scaling.as_ref().filter(|s| !s.is_null()) else {
            return Ok(RopeType::Default);
        };
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct LongRope {
            #[serde(rename = "type", alias = "rope_type")]
            kind: String,
            short_factor: Vec<f64>,
            long_factor: Vec<f64>,
        }
        let s: LongRope = serde_path_to_error::deserialize(scaling.clone()).map_err(|e| {
            anyhow::anyhow!(
                "rope_scaling: {e} (Phi-3 takes {{\"type\": \"longrope\", \"short_factor\": \
                 [...], \"long_factor\": [...]}})"
            )
        })?;
        if !["longrope", "su", "yarn"].contains(&s.kind.as_str()) {
            bail!(
                "rope_scaling type \"{}\" is not supported for phi3 (supported: longrope)",
                s.kind
            );
        }
        let half = (self.rotary_dim() / 2) as usize;
        for (name, factors) in [
            ("short_factor", &s.short_factor),
            ("long_factor", &s.long_factor),
        ] {
            if factors.len() != half {
                bail!(
                    "rope_scaling.{name} has {} entries; the rotary dimension {} needs {half}",
                    factors.len(),
                    self.rotary_dim()
                );
            }
        }
        let original = self.original_max_position_embeddings;
        let factor = self.max_position_embeddings as f64 / original as f64;
        let attention_factor = if factor <= 1.0 {
            1.0
        } else {
            (1.0 + factor.ln() / (original as f64).ln()).sqrt()
        };
        Ok(RopeType::LongRope {
            short_factor: s.short_factor,
            long_factor: s.long_factor,
            original_max_position_embeddings: original,
            attention_factor,
        })
    }
}

pub fn from_json(config: &Value) -> Result<Box<dyn Spec>> {
    Ok(Box::new(Phi3Config::from_json(config)?))
}

impl Spec for Phi3Config {
    fn takes_attention_mask(&self) -> bool {
        true
    }

    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    /// Unbounded: rotary embeddings, as transformers runs them past max_position_embeddings.
    fn max_positions(&self) -> Option<i64> {
        None
    }

    /// One window (or none) for every layer.
    fn kv_layout(&self) -> Option<KvLayout> {
        Some(KvLayout::uniform(
            self.num_hidden_layers,
            self.sliding_window,
            self.kv_heads(),
            self.head_dim(),
        ))
    }

    /// As separate projections: the fused qkv_proj and gate_up_proj multiply the same
    /// numbers ([`attention_flops`], [`gated_mlp_flops`]); then the LM head 2BSHV.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, v) = (self.hidden_size as f64, self.vocab_size as f64);
        let q = (self.num_attention_heads * self.head_dim()) as f64;
        let kv = (self.kv_heads() * self.head_dim()) as f64;
        let layer = attention_flops(b * s, s, h, q, kv)
            + gated_mlp_flops(b * s, h, self.intermediate_size as f64);
        self.num_hidden_layers as f64 * layer + lm_head_flops(task, b, s, h, v)
    }

    /// Token embeddings V·H; per layer the fused `qkv_proj` H·(Q + 2KV) and `o_proj` Q·H,
    /// the fused `gate_up_proj` H·2I and `down_proj` I·H (no biases), two RMSNorm weights;
    /// the final norm; `lm_head` V·H unless tied.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (h, v, i) = (self.hidden_size, self.vocab_size, self.intermediate_size);
        let q = self.num_attention_heads * self.head_dim();
        let kv = self.kv_heads() * self.head_dim();
        let layer = h * (q + 2 * kv) + q * h + 3 * h * i + 2 * h;
        let head = match (task, self.tie_word_embeddings) {
            (Task::LanguageModel, false) => v * h,
            _ => 0,
        };
        Some((v * h + self.num_hidden_layers * layer + h + head) as f64)
    }
}

//! gpt_neo's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/gpt_neo.rs`).

use super::activation::Activation;
use super::checks::{check_heads, check_positive};
use super::flops::lm_head_flops;
use super::{parse_config, KvLayout, Spec, Task};
use anyhow::{bail, Result};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionType {
    Global,
    Local,
}

/// `GPTNeoConfig`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct GptNeoConfig {
    pub vocab_size: i64,
    pub max_position_embeddings: i64,
    pub hidden_size: i64,
    pub num_layers: i64,
    /// `[[["global", "local"], 12]]`: the pattern, repeated that many times.
    pub attention_types: Vec<(Vec<AttentionType>, usize)>,
    /// The expanded pattern, one entry per layer; transformers takes it from the config
    /// when present, else expands `attention_types`.
    pub attention_layers: Option<Vec<AttentionType>>,
    pub num_heads: i64,
    /// The MLP width; None means 4 · hidden_size.
    pub intermediate_size: Option<i64>,
    pub window_size: i64,
    pub activation_function: Activation,
    pub resid_dropout: f64,
    pub embed_dropout: f64,
    pub attention_dropout: f64,
    pub layer_norm_epsilon: f64,
    pub initializer_range: f64,
    pub tie_word_embeddings: bool,
}

impl Default for GptNeoConfig {
    fn default() -> Self {
        GptNeoConfig {
            vocab_size: 50257,
            max_position_embeddings: 2048,
            hidden_size: 2048,
            num_layers: 24,
            attention_types: vec![(vec![AttentionType::Global, AttentionType::Local], 12)],
            attention_layers: None,
            num_heads: 16,
            intermediate_size: None,
            window_size: 256,
            activation_function: Activation::GeluNew,
            resid_dropout: 0.0,
            embed_dropout: 0.0,
            attention_dropout: 0.0,
            layer_norm_epsilon: 1e-5,
            initializer_range: 0.02,
            tie_word_embeddings: true,
        }
    }
}

impl GptNeoConfig {
    pub fn inner_dim(&self) -> i64 {
        self.intermediate_size.unwrap_or(4 * self.hidden_size)
    }

    pub fn expanded_attention_types(&self) -> Vec<AttentionType> {
        self.attention_types
            .iter()
            .flat_map(|(pattern, repeat)| {
                pattern.iter().copied().cycle().take(pattern.len() * repeat)
            })
            .collect()
    }

    /// The attention type of every layer.
    pub fn layer_types(&self) -> Vec<AttentionType> {
        self.attention_layers
            .clone()
            .unwrap_or_else(|| self.expanded_attention_types())
    }

    pub fn validate(&self) -> Result<()> {
        check_heads(
            ("hidden_size", self.hidden_size),
            ("num_heads", self.num_heads),
        )?;
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("hidden_size", self.hidden_size),
            ("num_layers", self.num_layers),
            ("intermediate_size", self.inner_dim()),
            ("window_size", self.window_size),
        ])?;
        // transformers checks the expanded attention_types, then uses attention_layers.
        for (name, n) in [
            ("attention_types", self.expanded_attention_types().len()),
            ("attention_layers", self.layer_types().len()),
        ] {
            if n as i64 != self.num_layers {
                bail!(
                    "{name} describes {n} layers but num_layers is {}",
                    self.num_layers
                );
            }
        }
        Ok(())
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: GptNeoConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Spec for GptNeoConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.max_position_embeddings)
    }

    fn kv_layout(&self) -> Option<KvLayout> {
        Some(KvLayout {
            windows: self
                .layer_types()
                .into_iter()
                .map(|t| (t == AttentionType::Local).then_some(self.window_size))
                .collect(),
            kv_heads: self.num_heads,
            head_dim: self.hidden_size / self.num_heads,
            cross_layers: 0,
        })
    }

    /// Per layer: q, k, v and out projections 4·2BSH², the MLP 2·2BSHI, scores and weighted
    /// values 2·2BS²H for global and local layers alike (transformers' eager attention
    /// computes the full S×S products and masks them). The LM head adds 2BSHV.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, i, v) = (
            self.hidden_size as f64,
            self.inner_dim() as f64,
            self.vocab_size as f64,
        );
        let layer = 2.0 * b * s * (4.0 * h * h + 2.0 * h * i) + 4.0 * b * s * s * h;
        let head = lm_head_flops(task, b, s, h, v);
        self.num_layers as f64 * layer + head
    }

    /// `wte` V·H and `wpe` P·H; per layer two LayerNorms, q, k, v H·H (no bias), out
    /// H·H + H, the MLP 2·H·I + I + H; `ln_f`; `lm_head` V·H unless tied.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (h, v, i) = (self.hidden_size, self.vocab_size, self.inner_dim());
        let layer = 2 * 2 * h + 3 * h * h + (h * h + h) + (2 * h * i + i + h);
        let head = match (task, self.tie_word_embeddings) {
            (Task::LanguageModel, false) => v * h,
            _ => 0,
        };
        let embeddings = (v + self.max_position_embeddings) * h;
        Some((embeddings + self.num_layers * layer + 2 * h + head) as f64)
    }
}

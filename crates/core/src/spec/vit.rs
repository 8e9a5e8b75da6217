//! vit's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/vit.rs`).

use super::activation::Activation;
use super::checks::{check_heads, check_positive};
use super::{parse_config, InputKind, Spec, Task};
use anyhow::{bail, Result};
use serde::Deserialize;

/// `ViTConfig`, with its defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ViTConfig {
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub hidden_act: Activation,
    pub hidden_dropout_prob: f64,
    pub attention_probs_dropout_prob: f64,
    pub initializer_range: f64,
    pub layer_norm_eps: f64,
    /// The side the position embeddings were made for (square images only).
    pub image_size: i64,
    pub patch_size: i64,
    pub num_channels: i64,
    pub qkv_bias: bool,
    pub pooler_output_size: Option<i64>,
    pub pooler_act: Activation,
    /// `PretrainedConfig`: the classes are `id2label`'s, else `num_labels`, else 2.
    pub id2label: Option<serde_json::Map<String, serde_json::Value>>,
    pub num_labels: Option<i64>,
}

impl Default for ViTConfig {
    fn default() -> Self {
        ViTConfig {
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: Activation::Gelu,
            hidden_dropout_prob: 0.0,
            attention_probs_dropout_prob: 0.0,
            initializer_range: 0.02,
            layer_norm_eps: 1e-12,
            image_size: 224,
            patch_size: 16,
            num_channels: 3,
            qkv_bias: true,
            pooler_output_size: None,
            pooler_act: Activation::Tanh,
            id2label: None,
            num_labels: None,
        }
    }
}

impl ViTConfig {
    pub fn validate(&self) -> Result<()> {
        check_heads(
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
        )?;
        check_positive(&[
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("intermediate_size", self.intermediate_size),
            ("image_size", self.image_size),
            ("patch_size", self.patch_size),
            ("num_channels", self.num_channels),
            ("num_labels", self.labels()),
            ("pooler_output_size", self.pooler_size()),
        ])?;
        if self.image_size % self.patch_size != 0 {
            bail!(
                "image_size {} is not a multiple of patch_size {}",
                self.image_size,
                self.patch_size
            );
        }
        Ok(())
    }

    pub fn labels(&self) -> i64 {
        match (&self.id2label, self.num_labels) {
            (Some(map), _) => map.len() as i64,
            (None, Some(n)) => n,
            (None, None) => 2,
        }
    }

    pub fn pooler_size(&self) -> i64 {
        self.pooler_output_size.unwrap_or(self.hidden_size)
    }

    /// Patches along one side of an image of side `size`.
    pub fn patches_per_side(&self, size: i64) -> i64 {
        size / self.patch_size
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: ViTConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Spec for ViTConfig {
    /// Pixels, not token ids.
    fn vocab_size(&self) -> i64 {
        0
    }

    /// Any side: the position embeddings are interpolated.
    fn max_positions(&self) -> Option<i64> {
        None
    }

    fn input_kind(&self) -> InputKind {
        InputKind::Pixels {
            channels: self.num_channels,
            patch_size: self.patch_size,
        }
    }

    /// On B images of side `size`, N = (size / patch_size)² patches and S = N + 1 tokens:
    /// the patch convolution 2·B·N·(C·P²)·H, BERT's encoder FLOPs on S tokens (q, k, v,
    /// output 4·2BSH², feed-forward 2·2BSHI, scores and values 2·2BS²H per layer), then the
    /// pooler 2·B·H·pooler_output_size (base) or the classifier 2·B·H·labels.
    fn forward_flops(&self, batch: i64, size: i64, task: Task) -> f64 {
        let (b, h) = (batch as f64, self.hidden_size as f64);
        let n = self.patches_per_side(size).pow(2) as f64;
        let patch_inputs = (self.num_channels * self.patch_size * self.patch_size) as f64;
        let embed = 2.0 * b * n * patch_inputs * h;
        let encoder = super::bert::encoder_flops(
            b,
            n + 1.0,
            self.num_hidden_layers as f64,
            h,
            self.intermediate_size as f64,
        );
        let head = match task {
            Task::Base => 2.0 * b * h * self.pooler_size() as f64,
            Task::LanguageModel => 2.0 * b * h * self.labels() as f64,
        };
        embed + encoder + head
    }

    /// The class token H, positions (patches + 1)·H, the patch convolution H·C·P² + H; per
    /// layer q, k, v H·H (biases with `qkv_bias`), the output H·H + H, the MLP
    /// 2·H·I + I + H and two LayerNorms; the final LayerNorm; the pooler H·O + O, or the
    /// classifier H·L + L.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (h, i) = (self.hidden_size, self.intermediate_size);
        let positions = self.patches_per_side(self.image_size).pow(2) + 1;
        let patch = h * self.num_channels * self.patch_size.pow(2) + h;
        let qkv_bias = if self.qkv_bias { 3 * h } else { 0 };
        let layer = 3 * h * h + qkv_bias + (h * h + h) + (2 * h * i + i + h) + 2 * 2 * h;
        let top = match task {
            Task::Base => h * self.pooler_size() + self.pooler_size(),
            Task::LanguageModel => h * self.labels() + self.labels(),
        };
        let total = h + positions * h + patch + self.num_hidden_layers * layer + 2 * h;
        Some((total + top) as f64)
    }
}

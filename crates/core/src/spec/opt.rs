//! opt's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/opt.rs`).

use super::activation::Activation;
use super::checks::{check_heads, check_positive};
use super::flops::lm_head_flops;
use super::{parse_config, KvLayout, Spec, Task};
use anyhow::{bail, Result};
use serde::Deserialize;

/// OPT's learned positions start at 2: rows 0 and 1 of `embed_positions` are never used
/// without padding, a leftover of fairseq.
pub const POSITION_OFFSET: i64 = 2;
/// OPT's LayerNorms keep nn.LayerNorm's default epsilon.
pub const LAYER_NORM_EPS: f64 = 1e-5;

/// `OPTConfig`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OptConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub ffn_dim: i64,
    pub max_position_embeddings: i64,
    /// Pre-LN blocks (most sizes) or post-LN (opt-350m).
    pub do_layer_norm_before: bool,
    #[serde(rename = "_remove_final_layer_norm")]
    pub remove_final_layer_norm: bool,
    /// The embedding width; None means hidden_size. When it differs, project_in and
    /// project_out map between the two.
    pub word_embed_proj_dim: Option<i64>,
    pub dropout: f64,
    pub attention_dropout: f64,
    pub num_attention_heads: i64,
    pub activation_function: Activation,
    pub layerdrop: f64,
    pub init_std: f64,
    pub pad_token_id: Option<i64>,
    pub enable_bias: bool,
    pub layer_norm_elementwise_affine: bool,
    pub tie_word_embeddings: bool,
}

impl Default for OptConfig {
    fn default() -> Self {
        OptConfig {
            vocab_size: 50272,
            hidden_size: 768,
            num_hidden_layers: 12,
            ffn_dim: 3072,
            max_position_embeddings: 2048,
            do_layer_norm_before: true,
            remove_final_layer_norm: false,
            word_embed_proj_dim: None,
            dropout: 0.1,
            attention_dropout: 0.0,
            num_attention_heads: 12,
            activation_function: Activation::Relu,
            layerdrop: 0.0,
            init_std: 0.02,
            pad_token_id: Some(1),
            enable_bias: true,
            layer_norm_elementwise_affine: true,
            tie_word_embeddings: true,
        }
    }
}

impl OptConfig {
    pub fn embed_dim(&self) -> i64 {
        self.word_embed_proj_dim.unwrap_or(self.hidden_size)
    }

    pub fn validate(&self) -> Result<()> {
        check_heads(
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
        )?;
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("ffn_dim", self.ffn_dim),
            ("max_position_embeddings", self.max_position_embeddings),
            ("word_embed_proj_dim", self.embed_dim()),
        ])?;
        if !self.layer_norm_elementwise_affine {
            // transformers 4.57.1 cannot build it either (its _init_weights fills the
            // missing LayerNorm weight).
            bail!("layer_norm_elementwise_affine = false is not supported");
        }
        if !(0.0..=1.0).contains(&self.layerdrop) {
            bail!("layerdrop must be in [0, 1], got {}", self.layerdrop);
        }
        Ok(())
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: OptConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Spec for OptConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.max_position_embeddings)
    }

    fn kv_layout(&self) -> Option<KvLayout> {
        Some(KvLayout::uniform(
            self.num_hidden_layers,
            None,
            self.num_attention_heads,
            self.hidden_size / self.num_attention_heads,
        ))
    }

    /// Per layer: q, k, v and out projections 4·2BSH², fc1 and fc2 2·2BSHF, scores and
    /// weighted values 2·2BS²H (full S×S products, as transformers' eager attention). With
    /// word_embed_proj_dim E ≠ H, project_in and project_out add 2·2BSEH. The LM head adds
    /// 2BSEV.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, f, e, v) = (
            self.hidden_size as f64,
            self.ffn_dim as f64,
            self.embed_dim() as f64,
            self.vocab_size as f64,
        );
        let layer = 2.0 * b * s * (4.0 * h * h + 2.0 * h * f) + 4.0 * b * s * s * h;
        let projections = if e != h { 4.0 * b * s * e * h } else { 0.0 };
        let head = lm_head_flops(task, b, s, e, v);
        self.num_hidden_layers as f64 * layer + projections + head
    }

    /// Token embeddings V·E, learned positions (P + 2)·H, `project_in`/`project_out` E·H
    /// each when E ≠ H; per layer q, k, v, out H·H, fc1 H·F, fc2 F·H (biases with
    /// `enable_bias`) and two LayerNorms; the final LayerNorm where kept; `lm_head` V·E
    /// unless tied.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (h, e, v, f) = (
            self.hidden_size,
            self.embed_dim(),
            self.vocab_size,
            self.ffn_dim,
        );
        let bias = if self.enable_bias { 4 * h + f + h } else { 0 };
        let layer = 4 * h * h + 2 * h * f + bias + 2 * 2 * h;
        let projections = if e != h { 2 * e * h } else { 0 };
        let final_norm = if self.do_layer_norm_before && !self.remove_final_layer_norm {
            2 * h
        } else {
            0
        };
        let head = match (task, self.tie_word_embeddings) {
            (Task::LanguageModel, false) => v * e,
            _ => 0,
        };
        let positions = (self.max_position_embeddings + POSITION_OFFSET) * h;
        let total = v * e + positions + projections + self.num_hidden_layers * layer;
        Some((total + final_norm + head) as f64)
    }
}

//! modernbert's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/modernbert.rs`).

use super::activation::Activation;
use super::checks::{check_heads, check_positive};
use super::rope::{RopeScaling, RopeType};
use super::{parse_config, Spec, Task};
use anyhow::{bail, Result};
use serde::Deserialize;

/// `ModernBertConfig` (transformers 4.57), with its defaults for every key a config.json may
/// leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ModernBertConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub intermediate_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub hidden_activation: Activation,
    pub max_position_embeddings: i64,
    pub initializer_range: f64,
    pub norm_eps: f64,
    pub norm_bias: bool,
    pub pad_token_id: Option<i64>,
    pub global_rope_theta: f64,
    /// None: the local layers use `global_rope_theta` too.
    pub local_rope_theta: Option<f64>,
    pub rope_scaling: Option<RopeScaling>,
    pub attention_bias: bool,
    pub attention_dropout: f64,
    pub global_attn_every_n_layers: i64,
    /// The sliding window's width: a local layer's token sees `local_attention / 2` tokens
    /// on either side.
    pub local_attention: i64,
    pub embedding_dropout: f64,
    pub mlp_bias: bool,
    pub mlp_dropout: f64,
    pub decoder_bias: bool,
    pub classifier_bias: bool,
    pub classifier_activation: Activation,
    pub tie_word_embeddings: bool,
    /// transformers 5 moves the rope thetas here; read only to refuse it (see `validate`).
    pub rope_parameters: Option<serde_json::Value>,
}

impl Default for ModernBertConfig {
    fn default() -> Self {
        ModernBertConfig {
            vocab_size: 50368,
            hidden_size: 768,
            intermediate_size: 1152,
            num_hidden_layers: 22,
            num_attention_heads: 12,
            hidden_activation: Activation::Gelu,
            max_position_embeddings: 8192,
            initializer_range: 0.02,
            norm_eps: 1e-5,
            norm_bias: false,
            pad_token_id: Some(50283),
            global_rope_theta: 160000.0,
            local_rope_theta: Some(10000.0),
            rope_scaling: None,
            attention_bias: false,
            attention_dropout: 0.0,
            global_attn_every_n_layers: 3,
            local_attention: 128,
            embedding_dropout: 0.0,
            mlp_bias: false,
            mlp_dropout: 0.0,
            decoder_bias: true,
            classifier_bias: false,
            classifier_activation: Activation::Gelu,
            tie_word_embeddings: true,
            rope_parameters: None,
        }
    }
}

impl ModernBertConfig {
    pub fn validate(&self) -> Result<()> {
        if self.rope_parameters.is_some() {
            // transformers 4.57 ignores the key and would build another model than the one
            // the config means; take the thetas from the keys it reads.
            bail!(
                "key \"rope_parameters\" (transformers 5's spelling) is not supported; give \
                 \"global_rope_theta\" and \"local_rope_theta\" instead"
            );
        }
        check_heads(
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
        )?;
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("max_position_embeddings", self.max_position_embeddings),
            (
                "global_attn_every_n_layers",
                self.global_attn_every_n_layers,
            ),
            ("local_attention", self.local_attention),
        ])?;
        if (self.hidden_size / self.num_attention_heads) % 2 != 0 {
            bail!("hidden_size / num_attention_heads must be even for rotary embeddings");
        }
        self.rope().map(|_| ())
    }

    pub fn rope(&self) -> Result<RopeType> {
        RopeType::from_scaling(self.rope_scaling.as_ref())
    }

    pub fn head_dim(&self) -> i64 {
        self.hidden_size / self.num_attention_heads
    }

    /// Layer `i` attends globally (transformers: `layer_id % global_attn_every_n_layers == 0`).
    pub fn is_global(&self, layer: i64) -> bool {
        layer % self.global_attn_every_n_layers == 0
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: ModernBertConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Spec for ModernBertConfig {
    fn takes_attention_mask(&self) -> bool {
        true
    }

    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    /// Rotary positions: no table bounds the sequence, as in transformers.
    fn max_positions(&self) -> Option<i64> {
        None
    }

    /// Per layer on (B, S) with H = hidden, I = intermediate: `Wqkv` 2BS·H·3H, `Wo` 2BSH²,
    /// `Wi` 2BS·H·2I, the MLP's `Wo` 2BSIH, scores and weighted values 2·2BS²H in every
    /// layer (a local layer computes all S² scores and masks those outside the window, as
    /// the SDPA path does). The masked-LM head adds `dense` 2BSH² and `decoder` 2BSHV.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, i, v) = (
            self.hidden_size as f64,
            self.intermediate_size as f64,
            self.vocab_size as f64,
        );
        let layer = 2.0 * b * s * (4.0 * h * h + 3.0 * h * i) + 4.0 * b * s * s * h;
        let head = match task {
            Task::Base => 0.0,
            Task::LanguageModel => 2.0 * b * s * h * (h + v),
        };
        self.num_hidden_layers as f64 * layer + head
    }

    /// Token embeddings V·H and their norm; per layer `Wqkv` H·3H and `Wo` H·H (biases with
    /// `attention_bias`), `Wi` H·2I and `Wo` I·H (biases with `mlp_bias`), the attention
    /// norm (not in layer 0) and the MLP norm; `final_norm`; the masked-LM head's dense
    /// H·H (bias with `classifier_bias`), its norm, the decoder's bias (`decoder_bias`) and
    /// its weight V·H unless tied. Norms are H, plus H of bias with `norm_bias`.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (h, i, v) = (self.hidden_size, self.intermediate_size, self.vocab_size);
        let on = |yes: bool, n: i64| if yes { n } else { 0 };
        let norm = h + on(self.norm_bias, h);
        let attention = 4 * h * h + on(self.attention_bias, 4 * h);
        let mlp = 3 * h * i + on(self.mlp_bias, 2 * i + h);
        let layers = self.num_hidden_layers * (attention + mlp + 2 * norm) - norm;
        let head = match task {
            Task::Base => 0,
            Task::LanguageModel => {
                h * h
                    + on(self.classifier_bias, h)
                    + norm
                    + on(self.decoder_bias, v)
                    + on(!self.tie_word_embeddings, v * h)
            }
        };
        Some((v * h + norm + layers + norm + head) as f64)
    }
}

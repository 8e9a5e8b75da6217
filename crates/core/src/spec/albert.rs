//! albert's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/albert.rs`).

use super::activation::Activation;
use super::bert::{
    embedding_parameters, encoder_flops, layer_parameters, mlm_head_parameters, EmbeddingSpec,
    LayerSpec, PositionIds,
};
use super::checks::{check_heads, check_positive};
use super::{parse_config, Spec, Task};
use anyhow::{bail, Result};
use serde::Deserialize;

/// `AlbertConfig`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AlbertConfig {
    pub vocab_size: i64,
    pub embedding_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_hidden_groups: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub inner_group_num: i64,
    pub hidden_act: Activation,
    pub hidden_dropout_prob: f64,
    pub attention_probs_dropout_prob: f64,
    pub max_position_embeddings: i64,
    pub type_vocab_size: i64,
    pub initializer_range: f64,
    pub layer_norm_eps: f64,
    pub position_embedding_type: String,
    pub pad_token_id: Option<i64>,
    pub tie_word_embeddings: bool,
}

impl Default for AlbertConfig {
    fn default() -> Self {
        AlbertConfig {
            vocab_size: 30000,
            embedding_size: 128,
            hidden_size: 4096,
            num_hidden_layers: 12,
            num_hidden_groups: 1,
            num_attention_heads: 64,
            intermediate_size: 16384,
            inner_group_num: 1,
            hidden_act: Activation::GeluNew,
            hidden_dropout_prob: 0.0,
            attention_probs_dropout_prob: 0.0,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            initializer_range: 0.02,
            layer_norm_eps: 1e-12,
            position_embedding_type: "absolute".into(),
            pad_token_id: Some(0),
            tie_word_embeddings: true,
        }
    }
}

impl AlbertConfig {
    pub fn validate(&self) -> Result<()> {
        if self.position_embedding_type != "absolute" {
            bail!(
                "position_embedding_type \"{}\" is not supported (only \"absolute\")",
                self.position_embedding_type
            );
        }
        check_heads(
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
        )?;
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("embedding_size", self.embedding_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_hidden_groups", self.num_hidden_groups),
            ("inner_group_num", self.inner_group_num),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ])
    }

    /// The group that pass `i` of num_hidden_layers goes through, computed as transformers
    /// does: int(i / (num_hidden_layers / num_hidden_groups)).
    pub fn group_of(&self, i: i64) -> i64 {
        (i as f64 / (self.num_hidden_layers as f64 / self.num_hidden_groups as f64)) as i64
    }

    pub fn embedding_spec(&self) -> EmbeddingSpec {
        EmbeddingSpec {
            vocab_size: self.vocab_size,
            dim: self.embedding_size,
            max_positions: self.max_position_embeddings,
            type_vocab_size: self.type_vocab_size,
            pad_token_id: self.pad_token_id,
            position_ids: PositionIds::FromZero,
            sinusoidal: false,
            layer_norm_eps: self.layer_norm_eps,
            dropout: self.hidden_dropout_prob,
            init_std: self.initializer_range,
        }
    }

    pub fn layer_spec(&self) -> LayerSpec {
        LayerSpec {
            hidden: self.hidden_size,
            intermediate: self.intermediate_size,
            heads: self.num_attention_heads,
            activation: self.hidden_act,
            layer_norm_eps: self.layer_norm_eps,
            init_std: self.initializer_range,
            attention_probs_dropout: self.attention_probs_dropout_prob,
            attention_output_dropout: self.hidden_dropout_prob,
            ffn_output_dropout: 0.0,
        }
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: AlbertConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Spec for AlbertConfig {
    fn takes_attention_mask(&self) -> bool {
        true
    }

    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.max_position_embeddings)
    }

    /// The embedding mapping 2BSEH, then num_hidden_layers · inner_group_num BERT layers
    /// ([`encoder_flops`]; sharing parameters does not share work); then the pooler 2BH²
    /// (base) or the MLM dense 2BSHE and decoder 2BSEV (masked LM).
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (e, h, v) = (
            self.embedding_size as f64,
            self.hidden_size as f64,
            self.vocab_size as f64,
        );
        let passes = (self.num_hidden_layers * self.inner_group_num) as f64;
        let head = match task {
            Task::Base => 2.0 * b * h * h,
            Task::LanguageModel => 2.0 * b * s * e * (h + v),
        };
        2.0 * b * s * e * h + encoder_flops(b, s, passes, h, self.intermediate_size as f64) + head
    }

    /// E-wide embeddings, the mapping E·H + H, one set of layers per group (shared across
    /// depth: `num_hidden_groups · inner_group_num` layers, not `num_hidden_layers`); the
    /// pooler H·H + H, or the masked-LM head.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (e, h, v) = (self.embedding_size, self.hidden_size, self.vocab_size);
        let groups = (self.num_hidden_groups * self.inner_group_num) as f64;
        let body = embedding_parameters(&self.embedding_spec())
            + (e * h + h) as f64
            + groups * layer_parameters(h, self.intermediate_size);
        let top = match task {
            Task::Base => (h * h + h) as f64,
            Task::LanguageModel => mlm_head_parameters(h, e, v, self.tie_word_embeddings),
        };
        Some(body + top)
    }
}

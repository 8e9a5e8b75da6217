//! electra's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/electra.rs`).

use super::activation::Activation;
use super::bert::{
    embedding_parameters, encoder_flops, layer_parameters, mlm_head_parameters, BertConfig,
    PositionIds,
};
use super::checks::{check_heads, check_positive};
use super::{parse_config, Spec, Task};
use anyhow::{bail, Result};
use serde::Deserialize;

/// `ElectraConfig`, with transformers' defaults for every key a config.json may leave out;
/// `architectures` picks the language-modelling head.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ElectraConfig {
    pub vocab_size: i64,
    pub embedding_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub hidden_act: Activation,
    pub hidden_dropout_prob: f64,
    pub attention_probs_dropout_prob: f64,
    pub max_position_embeddings: i64,
    pub type_vocab_size: i64,
    pub initializer_range: f64,
    pub layer_norm_eps: f64,
    pub pad_token_id: Option<i64>,
    pub position_embedding_type: String,
    pub tie_word_embeddings: bool,
    pub architectures: Vec<String>,
}

impl Default for ElectraConfig {
    fn default() -> Self {
        ElectraConfig {
            vocab_size: 30522,
            embedding_size: 128,
            hidden_size: 256,
            num_hidden_layers: 12,
            num_attention_heads: 4,
            intermediate_size: 1024,
            hidden_act: Activation::Gelu,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            initializer_range: 0.02,
            layer_norm_eps: 1e-12,
            pad_token_id: Some(0),
            position_embedding_type: "absolute".into(),
            tie_word_embeddings: true,
            architectures: Vec::new(),
        }
    }
}

/// The language-modelling module of ELECTRA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectraHead {
    /// `ElectraForPreTraining`, the discriminator.
    PreTraining,
    /// `ElectraForMaskedLM`, the generator.
    MaskedLm,
}

impl ElectraConfig {
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
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ])
    }

    /// `architectures[0]` when it is `ElectraForPreTraining`, else the masked LM (see the
    /// module's documentation).
    pub fn lm_head(&self) -> ElectraHead {
        match self.architectures.first().map(String::as_str) {
            Some("ElectraForPreTraining") => ElectraHead::PreTraining,
            _ => ElectraHead::MaskedLm,
        }
    }

    /// The encoder's keys, as BERT names them.
    pub fn bert(&self) -> BertConfig {
        BertConfig {
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            num_hidden_layers: self.num_hidden_layers,
            num_attention_heads: self.num_attention_heads,
            intermediate_size: self.intermediate_size,
            hidden_act: self.hidden_act,
            hidden_dropout_prob: self.hidden_dropout_prob,
            attention_probs_dropout_prob: self.attention_probs_dropout_prob,
            max_position_embeddings: self.max_position_embeddings,
            type_vocab_size: self.type_vocab_size,
            initializer_range: self.initializer_range,
            layer_norm_eps: self.layer_norm_eps,
            pad_token_id: self.pad_token_id,
            position_embedding_type: self.position_embedding_type.clone(),
            tie_word_embeddings: self.tie_word_embeddings,
        }
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: ElectraConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Spec for ElectraConfig {
    fn takes_attention_mask(&self) -> bool {
        true
    }

    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.max_position_embeddings)
    }

    /// The embedding projection 2BSEH (only when E ≠ H), BERT's encoder ([`encoder_flops`]);
    /// then nothing (base), the discriminator's dense 2BSH² and prediction 2BSH, or the
    /// generator's dense 2BSHE and decoder 2BSEV.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (e, h, v) = (
            self.embedding_size as f64,
            self.hidden_size as f64,
            self.vocab_size as f64,
        );
        let project = if self.embedding_size != self.hidden_size {
            2.0 * b * s * e * h
        } else {
            0.0
        };
        let head = match (task, self.lm_head()) {
            (Task::Base, _) => 0.0,
            (Task::LanguageModel, ElectraHead::PreTraining) => 2.0 * b * s * h * (h + 1.0),
            (Task::LanguageModel, ElectraHead::MaskedLm) => 2.0 * b * s * e * (h + v),
        };
        let layers = self.num_hidden_layers as f64;
        project + encoder_flops(b, s, layers, h, self.intermediate_size as f64) + head
    }

    /// E-wide embeddings, `embeddings_project` E·H + H when E ≠ H, BERT's layers, no pooler;
    /// the discriminator's head (H·H + H, then H + 1) or the generator's masked-LM head.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (e, h, v) = (self.embedding_size, self.hidden_size, self.vocab_size);
        let bert = self.bert();
        let project = if e != h { (e * h + h) as f64 } else { 0.0 };
        let body = embedding_parameters(&bert.embedding_spec(e, PositionIds::FromZero))
            + project
            + self.num_hidden_layers as f64 * layer_parameters(h, self.intermediate_size);
        let head = match (task, self.lm_head()) {
            (Task::Base, _) => 0.0,
            (Task::LanguageModel, ElectraHead::PreTraining) => (h * h + h + h + 1) as f64,
            (Task::LanguageModel, ElectraHead::MaskedLm) => {
                mlm_head_parameters(h, e, v, self.tie_word_embeddings)
            }
        };
        Some(body + head)
    }
}

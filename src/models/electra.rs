//! ELECTRA (Clark et al., 2020, "ELECTRA: Pre-training Text Encoders as Discriminators Rather
//! Than Generators"), following transformers' `modeling_electra.py`: BERT's model on
//! embeddings `embedding_size` wide, projected by `embeddings_project` when that differs from
//! the hidden size, without pooler. Parameter paths are the checkpoint's:
//! `electra.encoder.layer.0.attention.self.query.weight`.
//!
//! Which head is trained: the original benchmark trained `architectures[0]` when the config
//! names one, else `MODEL_WITH_LM_HEAD_MAPPING`'s class, `ElectraForMaskedLM`, always with
//! `labels = input_ids`. So the embedded `google/electra-base-discriminator` (architectures
//! `["ElectraForPreTraining"]`) trains the discriminator, `ElectraForPreTraining`, whose loss
//! is transformers' `BCEWithLogitsLoss` of its per-token logits against the labels cast to
//! float: token ids, not 0/1 replaced-token labels, but that is what it computes. Any other
//! config trains the generator, `ElectraForMaskedLM`.

use super::bert::{
    decoder, encoder_flops, BertConfig, BertForMaskedLm, BertModel, Embeddings, MlmHead,
    PositionIds,
};
use super::checks::{check_heads, check_positive};
use super::layers::{Activation, LayerNorm, Linear};
use super::{parse_config, Architecture, Model, Task};
use anyhow::{bail, Result};
use serde::Deserialize;
use tch::{nn, Reduction, Tensor};

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

/// `ElectraModel`: embeddings `embedding_size` wide, `embeddings_project` if narrower than
/// the hidden size, BERT's encoder, no pooler; returns the last hidden state.
pub fn electra_model(p: nn::Path, c: &ElectraConfig) -> BertModel {
    let bert = c.bert();
    let spec = bert.embedding_spec(c.embedding_size, PositionIds::FromZero);
    let embeddings = Embeddings::new(&p / "embeddings", &spec);
    BertModel::with_embeddings(p, &bert, embeddings, false)
}

/// `ElectraForPreTraining`: `electra.*`, then `discriminator_predictions`: dense, hidden_act,
/// and `dense_prediction` to one logit per token.
pub struct ElectraForPreTraining {
    electra: BertModel,
    dense: Linear,
    activation: Activation,
    dense_prediction: Linear,
}

impl ElectraForPreTraining {
    pub fn new(p: nn::Path, c: &ElectraConfig) -> Self {
        let predictions = &p / "discriminator_predictions";
        let (h, std) = (c.hidden_size, c.initializer_range);
        ElectraForPreTraining {
            electra: electra_model(&p / "electra", c),
            dense: Linear::new(&predictions / "dense", h, h, true, std),
            activation: c.hidden_act,
            dense_prediction: Linear::new(&predictions / "dense_prediction", h, 1, true, std),
        }
    }

    /// Per-token logits (batch, seq).
    pub fn logits(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let hidden = self.electra.encode(input_ids, train);
        let xs = self.activation.apply(&self.dense.forward(&hidden));
        self.dense_prediction.forward(&xs).squeeze_dim(-1)
    }
}

impl Model for ElectraForPreTraining {
    fn forward(&self, input_ids: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.logits(input_ids, train))
    }

    /// Mean `BCEWithLogitsLoss` against `labels` cast to float, as transformers computes it.
    fn loss(&self, input_ids: &Tensor, labels: &Tensor, train: bool) -> Result<Tensor> {
        let logits = self.logits(input_ids, train);
        Ok(logits.binary_cross_entropy_with_logits::<Tensor>(
            &labels.to_kind(logits.kind()),
            None,
            None,
            Reduction::Mean,
        ))
    }
}

/// `ElectraForMaskedLM`: `electra.*`, then `generator_predictions`: dense (hidden to
/// embedding size), exact GELU (whatever hidden_act says), LayerNorm, and
/// `generator_lm_head` tied to the word embeddings, with its own bias.
pub fn electra_for_masked_lm(p: nn::Path, c: &ElectraConfig) -> BertForMaskedLm {
    let electra = electra_model(&p / "electra", c);
    let predictions = &p / "generator_predictions";
    let lm_head = &p / "generator_lm_head";
    let (e, std) = (c.embedding_size, c.initializer_range);
    let bias = lm_head.var("bias", &[c.vocab_size], nn::Init::Const(0.0));
    let head = MlmHead {
        dense: Linear::new(&predictions / "dense", c.hidden_size, e, true, std),
        activation: Activation::Gelu,
        norm: LayerNorm::new(&predictions / "LayerNorm", e, c.layer_norm_eps),
        decoder: decoder(
            lm_head,
            electra.word_embeddings(),
            c.tie_word_embeddings,
            bias,
            std,
        ),
    };
    BertForMaskedLm::from_parts(electra, head)
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Architecture>> {
    let c: ElectraConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Architecture for ElectraConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.max_position_embeddings)
    }

    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match (task, self.lm_head()) {
            (Task::Base, _) => Box::new(electra_model(p, self)),
            (Task::LanguageModel, ElectraHead::PreTraining) => {
                Box::new(ElectraForPreTraining::new(p, self))
            }
            (Task::LanguageModel, ElectraHead::MaskedLm) => {
                Box::new(electra_for_masked_lm(p, self))
            }
        })
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn embedded_config_parses_and_trains_the_discriminator() {
        let (_, text) = crate::hub::embedded("google/electra-base-discriminator").unwrap();
        let c: ElectraConfig = parse_config(&serde_json::from_str(text).unwrap()).unwrap();
        c.validate().unwrap();
        assert_eq!((c.embedding_size, c.hidden_size), (768, 768));
        assert_eq!(c.lm_head(), ElectraHead::PreTraining);
        let generator: ElectraConfig = parse_config(&json!({})).unwrap();
        assert_eq!(generator.lm_head(), ElectraHead::MaskedLm);
    }

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        let mut c = ElectraConfig {
            embedding_size: 2,
            hidden_size: 4,
            intermediate_size: 8,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            vocab_size: 10,
            ..ElectraConfig::default()
        };
        // B=1, S=2. Projection 2·2·2·4 = 32. Layer: q,k,v,o 4 · (2·2·4·4) = 256,
        // ffn 2 · (2·2·4·8) = 256, scores and values 2 · (2·2·2·4) = 64.
        let encoder = 32.0 + 576.0;
        assert_eq!(c.forward_flops(1, 2, Task::Base), encoder);
        // Generator: dense 2·2·4·2 = 32, decoder 2·2·2·10 = 80.
        assert_eq!(
            c.forward_flops(1, 2, Task::LanguageModel),
            encoder + 32.0 + 80.0
        );
        // Discriminator: dense 2·2·4·4 = 64, prediction 2·2·4·1 = 16.
        c.architectures = vec!["ElectraForPreTraining".into()];
        assert_eq!(
            c.forward_flops(1, 2, Task::LanguageModel),
            encoder + 64.0 + 16.0
        );
        // No projection when the embeddings are as wide as the hidden states.
        c.embedding_size = 4;
        assert_eq!(c.forward_flops(1, 2, Task::Base), 576.0);
    }
}

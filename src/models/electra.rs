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

use super::bert::{decoder, BertForMaskedLm, BertModel, Embeddings, MlmHead, PositionIds};
use super::layers::Apply;
use super::layers::{Activation, LayerNorm, Linear};
use super::{Architecture, Model, Task};
use crate::measure::profile::{self, Part};
use anyhow::Result;
use tch::{nn, Reduction, Tensor};

pub use run_benchmark_core::spec::electra::*;

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
        self.logits_masked(input_ids, None, train)
    }

    /// [`Self::logits`] with an attention mask, as [`BertModel::encode_masked`].
    pub fn logits_masked(
        &self,
        input_ids: &Tensor,
        attention_mask: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        let hidden = self.electra.encode_masked(input_ids, attention_mask, train);
        let _head = profile::part(Part::Head);
        let xs = self.activation.apply(&self.dense.forward(&hidden));
        self.dense_prediction.forward(&xs).squeeze_dim(-1)
    }
}

impl Model for ElectraForPreTraining {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(self.logits_masked(input_ids, mask, train))
    }

    /// Mean `BCEWithLogitsLoss` against `labels` cast to float, as transformers computes it;
    /// with an attention mask, over the real tokens only (transformers' `active_loss`).
    fn loss(
        &self,
        input_ids: &Tensor,
        mask: Option<&Tensor>,
        labels: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        let logits = self.logits_masked(input_ids, mask, train);
        let (logits, labels) = match mask {
            Some(mask) => {
                let active = mask.ne(0);
                (logits.masked_select(&active), labels.masked_select(&active))
            }
            None => (logits, labels.shallow_clone()),
        };
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

impl Architecture for ElectraConfig {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::parse_config;
    use crate::models::Spec;
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

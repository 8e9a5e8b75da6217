//! RoBERTa (Liu et al., 2019, "RoBERTa: A Robustly Optimized BERT Pretraining Approach") and
//! XLM-RoBERTa (Conneau et al., 2019, "Unsupervised Cross-lingual Representation Learning at
//! Scale"), following transformers' `modeling_roberta.py` (`modeling_xlm_roberta.py` is a
//! copy of it): BERT's encoder whose position ids start after the padding index, with its own
//! masked-LM head. `RobertaModel` (with pooler) for inference, `RobertaForMaskedLM` (no
//! pooler, decoder tied to the word embeddings) for the MLM loss. Parameter paths are the
//! checkpoint's: `roberta.encoder.layer.0.attention.self.query.weight`, `lm_head.dense.weight`.

use super::bert::{decoder, BertForMaskedLm, BertModel, Embeddings, MlmHead, PositionIds};
use super::layers::{Activation, LayerNorm, Linear};
use super::{Architecture, Model, Task};
use anyhow::Result;
use tch::nn;

pub use run_benchmark_core::spec::roberta::*;

/// `RobertaModel`: BERT's model on embeddings whose positions start after the padding index.
pub fn roberta_model(p: nn::Path, c: &RobertaConfig, with_pooler: bool) -> BertModel {
    let b = &c.bert;
    let spec = b.embedding_spec(b.hidden_size, PositionIds::AfterPadding(c.padding_idx));
    let embeddings = Embeddings::new(&p / "embeddings", &spec);
    BertModel::with_embeddings(p, b, embeddings, with_pooler)
}

/// `RobertaForMaskedLM`: `roberta.*` without pooler, then `lm_head`: dense, exact GELU
/// (whatever hidden_act says), `layer_norm`, and `decoder` tied to the word embeddings with
/// bias `lm_head.bias`.
pub fn roberta_for_masked_lm(p: nn::Path, c: &RobertaConfig) -> BertForMaskedLm {
    let b = &c.bert;
    let roberta = roberta_model(&p / "roberta", c, false);
    let lm_head = &p / "lm_head";
    let (h, std) = (b.hidden_size, b.initializer_range);
    let bias = lm_head.var("bias", &[b.vocab_size], nn::Init::Const(0.0));
    let head = MlmHead {
        dense: Linear::new(&lm_head / "dense", h, h, true, std),
        activation: Activation::Gelu,
        norm: LayerNorm::new(&lm_head / "layer_norm", h, b.layer_norm_eps),
        decoder: decoder(
            &lm_head / "decoder",
            roberta.word_embeddings(),
            b.tie_word_embeddings,
            bias,
            std,
        ),
    };
    BertForMaskedLm::from_parts(roberta, head)
}

impl Architecture for RobertaConfig {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(roberta_model(p, self, true)),
            Task::LanguageModel => Box::new(roberta_for_masked_lm(p, self)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Spec;
    use serde_json::json;

    fn embedded(id: &str) -> RobertaConfig {
        let (_, text) = crate::hub::embedded(id).unwrap();
        RobertaConfig::from_value(&serde_json::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn embedded_configs_parse() {
        let base = embedded("FacebookAI/roberta-base");
        assert_eq!(base.max_positions(), Some(512));
        assert_eq!(base.bert.layer_norm_eps, 1e-5);
        assert_eq!(embedded("FacebookAI/roberta-large").bert.hidden_size, 1024);
        let xlmr = embedded("FacebookAI/xlm-roberta-base");
        assert_eq!((xlmr.bert.vocab_size, xlmr.padding_idx), (250002, 1));
    }

    #[test]
    fn defaults_follow_the_model_type() {
        let roberta = RobertaConfig::from_value(&json!({"model_type": "roberta"})).unwrap();
        assert_eq!((roberta.bert.vocab_size, roberta.padding_idx), (50265, 1));
        let xlmr = RobertaConfig::from_value(&json!({"model_type": "xlm-roberta"})).unwrap();
        assert_eq!((xlmr.bert.vocab_size, xlmr.padding_idx), (30522, 1));
        let err = RobertaConfig::from_value(&json!({"pad_token_id": null})).unwrap_err();
        assert!(err.to_string().contains("pad_token_id"), "{err}");
    }

    #[test]
    fn flops_are_berts() {
        // B=1, S=2, H=4, I=8, V=10, one layer: as BERT's hand count (bert.rs).
        let c = RobertaConfig::from_value(&json!({
            "model_type": "roberta", "hidden_size": 4, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 10
        }))
        .unwrap();
        assert_eq!(c.forward_flops(1, 2, Task::Base), 576.0 + 32.0);
        assert_eq!(
            c.forward_flops(1, 2, Task::LanguageModel),
            576.0 + 64.0 + 160.0
        );
    }
}

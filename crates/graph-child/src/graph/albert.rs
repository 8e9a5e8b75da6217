//! ALBERT (Lan et al., 2019) as a graph, following transformers' `modeling_albert.py` and the
//! PyTorch side's `src/models/albert.rs`: BERT's embeddings `embedding_size` wide, projected by
//! `encoder.embedding_hidden_mapping_in`, then `num_hidden_layers` passes through
//! `num_hidden_groups` groups of `inner_group_num` layers whose parameters are shared across
//! depth (each pass asks the builder for the group's names again, so one variable feeds every
//! pass and TensorFlow sums its gradients); `AlbertModel` with its pooler, or
//! `AlbertForMaskedLM` (no pooler, decoder tied to the word embeddings).

use super::bert::{self, BertConfig, MlmHead};
use super::builder::GraphBuilder;
use super::layers::{linear, mlm_outputs, token_inputs, Outputs, Shape};
use anyhow::Result;

/// `AlbertConfig`: BERT's keys (with ALBERT's defaults) and its own.
#[derive(Debug, Clone)]
pub struct AlbertConfig {
    pub bert: BertConfig,
    pub embedding_size: i64,
    pub num_hidden_groups: i64,
    pub inner_group_num: i64,
}

impl AlbertConfig {
    pub fn from_json(config: &serde_json::Value) -> Result<Self> {
        // AlbertConfig's defaults where they differ from BertConfig's.
        let config = bert::with_defaults(
            config,
            &[
                ("vocab_size", 30000.into()),
                ("hidden_size", 4096.into()),
                ("num_attention_heads", 64.into()),
                ("intermediate_size", 16384.into()),
                ("hidden_act", "gelu_new".into()),
            ],
        );
        let positive = |key, default| bert::positive(&config, key, default);
        Ok(AlbertConfig {
            embedding_size: positive("embedding_size", 128)?,
            num_hidden_groups: positive("num_hidden_groups", 1)?,
            inner_group_num: positive("inner_group_num", 1)?,
            bert: BertConfig::from_json(&config)?,
        })
    }

    /// The group that pass `i` goes through, as transformers computes it:
    /// int(i / (num_hidden_layers / num_hidden_groups)).
    fn group_of(&self, i: i64) -> i64 {
        (i as f64 / (self.bert.num_hidden_layers as f64 / self.num_hidden_groups as f64)) as i64
    }
}

/// The graph of `AlbertModel` (pooled output) or `AlbertForMaskedLM` (logits, and the loss
/// against a `labels` input).
pub fn build<B: GraphBuilder>(
    b: &mut B,
    c: &AlbertConfig,
    shape: Shape,
) -> Result<Outputs<B::Value>> {
    let (bc, e, h) = (&c.bert, c.embedding_size, c.bert.hidden_size);
    let (ids, labels) = token_inputs(b, shape)?;
    let root = if shape.lm_head { "albert." } else { "" };
    let (xs, word) = bert::embeddings(b, bc, root, &ids, e)?;
    let encoder = format!("{root}encoder");
    let mut xs = linear(
        b,
        &xs,
        &format!("{encoder}.embedding_hidden_mapping_in"),
        e,
        h,
        true,
    )?;
    for i in 0..bc.num_hidden_layers {
        let group = format!("{encoder}.albert_layer_groups.{}", c.group_of(i));
        for j in 0..c.inner_group_num {
            let layer = format!("{group}.albert_layers.{j}");
            xs = bert::encoder_layer(b, bc, &xs, &layer)?;
        }
    }
    if !shape.lm_head {
        return Ok(Outputs {
            output: bert::pooler(b, &xs, "pooler")?,
            loss: None,
        });
    }
    let decoder = match bc.tie_word_embeddings {
        true => word,
        false => b.parameter("predictions.decoder.weight", &[bc.vocab_size, e])?,
    };
    let head = MlmHead {
        dense: "predictions.dense",
        norm: "predictions.LayerNorm",
        activation: bc.hidden_act,
        width: e,
    };
    let logits = head.logits(b, bc, &xs, &decoder, "predictions.bias")?;
    mlm_outputs(b, logits, labels.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_follow_transformers() {
        let c = AlbertConfig::from_json(&json!({"model_type": "albert", "hidden_size": 8,
            "num_attention_heads": 2, "num_hidden_layers": 6, "num_hidden_groups": 3}))
        .unwrap();
        let groups: Vec<i64> = (0..6).map(|i| c.group_of(i)).collect();
        assert_eq!(groups, [0, 0, 1, 1, 2, 2]);
        let bad = AlbertConfig::from_json(&json!({"model_type": "albert", "inner_group_num": 0}));
        assert!(bad.unwrap_err().to_string().contains("inner_group_num 0"));
    }
}

//! ALBERT (Lan et al., 2019) as a graph, following transformers' `modeling_albert.py` and the
//! PyTorch side's `src/models/albert.rs`: BERT's embeddings `embedding_size` wide, projected by
//! `encoder.embedding_hidden_mapping_in`, then `num_hidden_layers` passes through
//! `num_hidden_groups` groups of `inner_group_num` layers whose parameters are shared across
//! depth (each pass asks the builder for the group's names again, so one variable feeds every
//! pass and TensorFlow sums its gradients); `AlbertModel` with its pooler, or
//! `AlbertForMaskedLM` (no pooler, decoder tied to the word embeddings).

use super::bert::{self, Encoder, MlmHead};
use super::builder::GraphBuilder;
use super::layers::{linear, mlm_outputs, token_inputs, Outputs, Shape};
use anyhow::Result;
use run_benchmark_core::spec::albert::AlbertConfig;

/// The graph of `AlbertModel` (pooled output) or `AlbertForMaskedLM` (logits, and the loss
/// against a `labels` input).
pub fn build<B: GraphBuilder>(
    b: &mut B,
    c: &AlbertConfig,
    shape: Shape,
) -> Result<Outputs<B::Value>> {
    let bc = &Encoder::albert(c);
    let (e, h, vocab) = (c.embedding_size, c.hidden_size, c.vocab_size);
    let (ids, labels) = token_inputs(b, shape)?;
    let root = if shape.lm_head { "albert." } else { "" };
    let (xs, word) = bert::embeddings(b, bc, root, &ids)?;
    let encoder = format!("{root}encoder");
    let mut xs = linear(
        b,
        &xs,
        &format!("{encoder}.embedding_hidden_mapping_in"),
        e,
        h,
        true,
    )?;
    for i in 0..c.num_hidden_layers {
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
    let decoder = match c.tie_word_embeddings {
        true => word,
        false => b.parameter("predictions.decoder.weight", &[vocab, e])?,
    };
    let head = MlmHead {
        dense: "predictions.dense",
        norm: "predictions.LayerNorm",
        activation: c.hidden_act,
        width: e,
    };
    let logits = head.logits(b, bc, &xs, &decoder, "predictions.bias")?;
    mlm_outputs(b, logits, labels.as_ref())
}

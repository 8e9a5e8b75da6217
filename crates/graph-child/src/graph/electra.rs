//! ELECTRA (Clark et al., 2020) as a graph, following transformers' `modeling_electra.py` and
//! the PyTorch side's `src/models/electra.rs`: BERT's embeddings `embedding_size` wide,
//! `embeddings_project` to the hidden size when they differ, BERT's encoder, no pooler. The
//! head is the one the PyTorch side trains: `ElectraForPreTraining` (the discriminator, with
//! transformers' `BCEWithLogitsLoss` against the labels cast to float) when
//! `architectures[0]` names it, else `ElectraForMaskedLM` (the generator).

use super::bert::{self, Encoder, MlmHead};
use super::builder::GraphBuilder;
use super::layers::{
    activate, bce_with_logits, linear, mlm_outputs, token_inputs, Activation, Outputs, Shape,
};
use anyhow::Result;
use run_benchmark_core::spec::electra::{ElectraConfig, ElectraHead};

/// The graph of `ElectraModel` (last hidden state), or of its language-modelling head with
/// the loss against a `labels` input.
pub fn build<B: GraphBuilder>(
    b: &mut B,
    c: &ElectraConfig,
    shape: Shape,
) -> Result<Outputs<B::Value>> {
    let bc = &Encoder::electra(c);
    let (e, h, vocab) = (c.embedding_size, c.hidden_size, c.vocab_size);
    let (ids, labels) = token_inputs(b, shape)?;
    let root = if shape.lm_head { "electra." } else { "" };
    let (mut xs, word) = bert::embeddings(b, bc, root, &ids)?;
    if e != h {
        xs = linear(b, &xs, &format!("{root}embeddings_project"), e, h, true)?;
    }
    for i in 0..c.num_hidden_layers {
        xs = bert::encoder_layer(b, bc, &xs, &format!("{root}encoder.layer.{i}"))?;
    }
    if !shape.lm_head {
        return Ok(Outputs {
            output: xs,
            loss: None,
        });
    }
    if c.lm_head() == ElectraHead::PreTraining {
        // `discriminator_predictions`: dense, hidden_act, one logit per token.
        let xs = linear(b, &xs, "discriminator_predictions.dense", h, h, true)?;
        let xs = activate(b, c.hidden_act, &xs)?;
        let xs = linear(
            b,
            &xs,
            "discriminator_predictions.dense_prediction",
            h,
            1,
            true,
        )?;
        let logits = b.reshape(&xs, &[shape.batch, shape.seq])?;
        let loss = match &labels {
            Some(labels) => Some(bce_with_logits(b, &logits, labels)?),
            None => None,
        };
        return Ok(Outputs {
            output: logits,
            loss,
        });
    }
    // `generator_predictions` (always exact GELU) and `generator_lm_head`.
    let decoder = match c.tie_word_embeddings {
        true => word,
        false => b.parameter("generator_lm_head.weight", &[vocab, e])?,
    };
    let head = MlmHead {
        dense: "generator_predictions.dense",
        norm: "generator_predictions.LayerNorm",
        activation: Activation::Gelu,
        width: e,
    };
    let logits = head.logits(b, bc, &xs, &decoder, "generator_lm_head.bias")?;
    mlm_outputs(b, logits, labels.as_ref())
}

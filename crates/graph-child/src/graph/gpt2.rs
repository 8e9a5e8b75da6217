//! GPT-2 (Radford et al., 2019) as a graph, following transformers' `modeling_gpt2.py` and the
//! PyTorch side's `src/models/gpt2.rs`: `GPT2Model` (last hidden state after `ln_f`) as the
//! bare model and `GPT2LMHeadModel` (tied `lm_head`) with the causal-LM loss. Parameter
//! names are the checkpoint's: `transformer.h.0.attn.c_attn.weight` (Conv1D, (in, out)).

use super::builder::{Binary, DType, GraphBuilder};
use super::layers::{
    activate, attention, causal_lm_outputs, causal_mask, conv1d, layer_norm, merge_heads,
    positions, Outputs, Shape,
};
use anyhow::{bail, Result};
use run_benchmark_core::spec::gpt2::Gpt2Config;

/// The graph of `GPT2Model` or `GPT2LMHeadModel` on `input_ids` (batch, seq).
pub fn build<B: GraphBuilder>(
    b: &mut B,
    c: &Gpt2Config,
    shape: Shape,
) -> Result<Outputs<B::Value>> {
    let (batch, seq, h) = (shape.batch, shape.seq, c.n_embd);
    if seq > c.n_positions {
        bail!(
            "sequence length {seq} exceeds n_positions {}",
            c.n_positions
        );
    }
    let ids = b.input("input_ids", DType::I64, &[batch, seq])?;
    let labels = match shape.loss {
        true => Some(b.input("labels", DType::I64, &[batch, seq])?),
        false => None,
    };
    let root = if shape.lm_head { "transformer." } else { "" };
    let wte = b.parameter(&format!("{root}wte.weight"), &[c.vocab_size, h])?;
    let wpe = b.parameter(&format!("{root}wpe.weight"), &[c.n_positions, h])?;
    let words = b.gather(&wte, &ids)?;
    let pos = positions(b, seq)?;
    let pos = b.gather(&wpe, &pos)?;
    let mut xs = b.binary(Binary::Add, &words, &pos)?;
    let mask = causal_mask(b, seq, None)?;
    let inner = c.inner_dim();
    let eps = c.layer_norm_epsilon;
    for i in 0..c.n_layer {
        let p = format!("{root}h.{i}");
        let normed = layer_norm(b, &xs, &format!("{p}.ln_1"), h, eps)?;
        // c_attn's output is [q | k | v], each split into heads.
        let qkv = conv1d(b, &normed, &format!("{p}.attn.c_attn"), h, 3 * h)?;
        let qkv = b.reshape(&qkv, &[batch, seq, 3, c.n_head, h / c.n_head])?;
        let qkv = b.transpose(&qkv, &[2, 0, 3, 1, 4])?;
        let parts = b.split(&qkv, 0, 3)?;
        let heads: Vec<_> = parts
            .iter()
            .map(|t| b.reshape(t, &[batch, c.n_head, seq, h / c.n_head]))
            .collect::<Result<_>>()?;
        let mut scale = 1.0f32;
        if c.scale_attn_weights {
            scale /= ((h / c.n_head) as f32).sqrt();
        }
        if c.scale_attn_by_inverse_layer_idx {
            scale /= (i + 1) as f32;
        }
        let context = attention(b, &heads[0], &heads[1], &heads[2], scale, Some(&mask))?;
        let context = merge_heads(b, &context)?;
        let attended = conv1d(b, &context, &format!("{p}.attn.c_proj"), h, h)?;
        xs = b.binary(Binary::Add, &xs, &attended)?;
        let normed = layer_norm(b, &xs, &format!("{p}.ln_2"), h, eps)?;
        let hidden = conv1d(b, &normed, &format!("{p}.mlp.c_fc"), h, inner)?;
        let hidden = activate(b, c.activation_function, &hidden)?;
        let out = conv1d(b, &hidden, &format!("{p}.mlp.c_proj"), inner, h)?;
        xs = b.binary(Binary::Add, &xs, &out)?;
    }
    let xs = layer_norm(b, &xs, &format!("{root}ln_f"), h, eps)?;
    causal_lm_outputs(
        b,
        xs,
        wte,
        c.tie_word_embeddings,
        (c.vocab_size, h),
        shape,
        labels.as_ref(),
    )
}

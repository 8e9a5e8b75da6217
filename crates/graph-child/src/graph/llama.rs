//! Llama-style decoders as graphs: LLaMA, Mistral, Qwen2 and Qwen3, following transformers'
//! `modeling_llama.py` (and its siblings) and the PyTorch side's `src/models/llama.rs`:
//! pre-norm RMSNorm blocks, rotary position embeddings, grouped-query causal attention
//! (sliding windows included) and a SwiGLU MLP. `LlamaModel` is the bare model,
//! `LlamaForCausalLM` (`model.*`, `lm_head`) the LM. Only the default rotary embedding is
//! built (a `rope_scaling` is refused) and no mixture of experts.

use super::builder::{Binary, Constant, DType, GraphBuilder, Unary};
use super::layers::{
    activate, attention, causal_lm_outputs, causal_mask, linear, merge_heads, rms_norm,
    split_heads, Outputs, Shape,
};
use anyhow::{bail, Result};
use run_benchmark_core::spec::llama::LlamaConfig;
use run_benchmark_core::spec::rope::RopeType;

/// What the graph build cannot do of a config the core accepts.
pub fn unsupported(c: &LlamaConfig) -> Result<()> {
    if c.moe.is_some() {
        bail!("mixture-of-experts layers have no graph build");
    }
    if c.rope != RopeType::Default {
        bail!("rope_scaling has no graph build (only the default rotary embedding)");
    }
    Ok(())
}

/// The rotary tables cos, sin (seq, head_dim) in float32 as transformers computes them:
/// inv_freq = 1 / theta^(2i/d), angles = position · inv_freq, repeated for both halves.
fn rotary<B: GraphBuilder>(b: &mut B, c: &LlamaConfig, seq: i64) -> Result<(B::Value, B::Value)> {
    let d = c.head_dim;
    let inv: Vec<f32> = (0..d / 2)
        .map(|i| 1.0 / (c.rope_theta as f32).powf((2 * i) as f32 / d as f32))
        .collect();
    let (mut cos, mut sin) = (Vec::new(), Vec::new());
    for p in 0..seq {
        for j in 0..d {
            let angle = p as f32 * inv[(j % (d / 2)) as usize];
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
    }
    Ok((
        b.constant(Constant::f32(&[seq, d], cos))?,
        b.constant(Constant::f32(&[seq, d], sin))?,
    ))
}

/// x · cos + rotate_half(x) · sin, rotate_half(x) = [-x2, x1].
fn rotate<B: GraphBuilder>(
    b: &mut B,
    x: &B::Value,
    cos: &B::Value,
    sin: &B::Value,
) -> Result<B::Value> {
    let halves = b.split(x, -1, 2)?;
    let neg = b.unary(Unary::Neg, &halves[1])?;
    let rotated = b.concat(&[neg, halves[0].clone()], -1)?;
    let a = b.binary(Binary::Mul, x, cos)?;
    let r = b.binary(Binary::Mul, &rotated, sin)?;
    b.binary(Binary::Add, &a, &r)
}

/// transformers' `repeat_kv`: (b, kv, s, d) -> (b, kv · n, s, d), each head n times.
fn repeat_kv<B: GraphBuilder>(b: &mut B, x: &B::Value, n: i64) -> Result<B::Value> {
    if n == 1 {
        return Ok(x.clone());
    }
    let s = b.shape(x)?;
    let one = b.reshape(x, &[s[0], s[1], 1, s[2], s[3]])?;
    let copies = vec![one; n as usize];
    let repeated = b.concat(&copies, 2)?;
    b.reshape(&repeated, &[s[0], s[1] * n, s[2], s[3]])
}

/// The graph of `LlamaModel` or `LlamaForCausalLM` on `input_ids` (batch, seq).
pub fn build<B: GraphBuilder>(
    b: &mut B,
    c: &LlamaConfig,
    shape: Shape,
) -> Result<Outputs<B::Value>> {
    let (batch, seq, h) = (shape.batch, shape.seq, c.hidden_size);
    let (heads, kv, d) = (c.num_attention_heads, c.num_key_value_heads, c.head_dim);
    let ids = b.input("input_ids", DType::I64, &[batch, seq])?;
    let labels = match shape.loss {
        true => Some(b.input("labels", DType::I64, &[batch, seq])?),
        false => None,
    };
    let root = if shape.lm_head { "model." } else { "" };
    let embed = b.parameter(&format!("{root}embed_tokens.weight"), &[c.vocab_size, h])?;
    let mut xs = b.gather(&embed, &ids)?;
    let (cos, sin) = rotary(b, c, seq)?;
    let mut masks: Vec<(Option<i64>, B::Value)> = Vec::new();
    let eps = c.rms_norm_eps;
    for (i, window) in c.sliding_windows.iter().enumerate() {
        // A window at least as long as the sequence masks nothing more than causality.
        let window = window.filter(|&w| w < seq);
        let mask = match masks.iter().find(|(w, _)| *w == window) {
            Some((_, m)) => m.clone(),
            None => {
                let m = causal_mask(b, seq, window)?;
                masks.push((window, m.clone()));
                m
            }
        };
        let p = format!("{root}layers.{i}");
        let normed = rms_norm(b, &xs, &format!("{p}.input_layernorm"), h, eps)?;
        let a = format!("{p}.self_attn");
        let q = linear(b, &normed, &format!("{a}.q_proj"), h, heads * d, c.qkv_bias)?;
        let k = linear(b, &normed, &format!("{a}.k_proj"), h, kv * d, c.qkv_bias)?;
        let v = linear(b, &normed, &format!("{a}.v_proj"), h, kv * d, c.qkv_bias)?;
        let (q, k) = match c.qk_norm {
            true => {
                let q = b.reshape(&q, &[batch, seq, heads, d])?;
                let k = b.reshape(&k, &[batch, seq, kv, d])?;
                let q = rms_norm(b, &q, &format!("{a}.q_norm"), d, eps)?;
                let k = rms_norm(b, &k, &format!("{a}.k_norm"), d, eps)?;
                (
                    b.reshape(&q, &[batch, seq, heads * d])?,
                    b.reshape(&k, &[batch, seq, kv * d])?,
                )
            }
            false => (q, k),
        };
        let q = split_heads(b, &q, heads)?;
        let k = split_heads(b, &k, kv)?;
        let v = split_heads(b, &v, kv)?;
        let q = rotate(b, &q, &cos, &sin)?;
        let k = rotate(b, &k, &cos, &sin)?;
        let k = repeat_kv(b, &k, heads / kv)?;
        let v = repeat_kv(b, &v, heads / kv)?;
        let context = attention(b, &q, &k, &v, 1.0 / (d as f32).sqrt(), Some(&mask))?;
        let context = merge_heads(b, &context)?;
        let attended = linear(b, &context, &format!("{a}.o_proj"), heads * d, h, c.o_bias)?;
        xs = b.binary(Binary::Add, &xs, &attended)?;
        let normed = rms_norm(b, &xs, &format!("{p}.post_attention_layernorm"), h, eps)?;
        let (m, i) = (format!("{p}.mlp"), c.intermediate_size);
        let gate = linear(b, &normed, &format!("{m}.gate_proj"), h, i, c.mlp_bias)?;
        let gate = activate(b, c.hidden_act, &gate)?;
        let up = linear(b, &normed, &format!("{m}.up_proj"), h, i, c.mlp_bias)?;
        let inner = b.binary(Binary::Mul, &gate, &up)?;
        let out = linear(b, &inner, &format!("{m}.down_proj"), i, h, c.mlp_bias)?;
        xs = b.binary(Binary::Add, &xs, &out)?;
    }
    let xs = rms_norm(b, &xs, &format!("{root}norm"), h, eps)?;
    causal_lm_outputs(
        b,
        xs,
        embed,
        c.tie_word_embeddings,
        (c.vocab_size, h),
        shape,
        labels.as_ref(),
    )
}

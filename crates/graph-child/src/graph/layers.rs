//! Building blocks shared by the graph families, each a few [`GraphBuilder`] operations in
//! transformers' order of operations: linear layers, norms, activations, attention and the
//! language-modelling losses.

use super::builder::{Binary, Constant, DType, GraphBuilder, Reduce, Unary};
use anyhow::{bail, Result};

pub use run_benchmark_core::spec::activation::Activation;

/// What a family's graph computes: the logits (or the base model's output), and with
/// labels, the language-modelling loss.
pub struct Outputs<V> {
    pub output: V,
    pub loss: Option<V>,
}

/// What a family graph is built for: one cell's sizes, the head, and whether it trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub batch: i64,
    pub seq: i64,
    /// The language-modelling head (`BertForMaskedLM`, `GPT2LMHeadModel`, `LlamaForCausalLM`);
    /// false: the bare model (`BertModel`, ...), as the inference task of the PyTorch side.
    pub lm_head: bool,
    /// A `labels` input (batch, seq) and the loss.
    pub loss: bool,
}

/// `a op b`.
pub fn bin<B: GraphBuilder>(b: &mut B, op: Binary, x: &B::Value, y: &B::Value) -> Result<B::Value> {
    b.binary(op, x, y)
}

/// `x op scalar` (the scalar in the model's float type).
pub fn scalar_op<B: GraphBuilder>(
    b: &mut B,
    op: Binary,
    x: &B::Value,
    value: f32,
) -> Result<B::Value> {
    let s = b.constant(Constant::scalar(value))?;
    b.binary(op, x, &s)
}

/// `y = x W^T + bias` for x (.., din) and the checkpoint's `{prefix}.weight` (dout, din) and
/// `{prefix}.bias`, as one 2-D matrix product.
pub fn linear<B: GraphBuilder>(
    b: &mut B,
    x: &B::Value,
    prefix: &str,
    din: i64,
    dout: i64,
    bias: bool,
) -> Result<B::Value> {
    let weight = b.parameter(&format!("{prefix}.weight"), &[dout, din])?;
    project(
        b,
        x,
        &weight,
        true,
        bias.then(|| format!("{prefix}.bias")),
        dout,
    )
}

/// x (.., din) times `weight` ((dout, din) when `transposed`, else (din, dout)) plus the
/// parameter `bias` if named.
pub fn project<B: GraphBuilder>(
    b: &mut B,
    x: &B::Value,
    weight: &B::Value,
    transposed: bool,
    bias: Option<String>,
    dout: i64,
) -> Result<B::Value> {
    let shape = b.shape(x)?;
    let (lead, din) = shape.split_at(shape.len() - 1);
    let rows: i64 = lead.iter().product();
    let flat = b.reshape(x, &[rows, din[0]])?;
    let mut y = b.matmul(&flat, weight, false, transposed)?;
    if let Some(name) = bias {
        let bias = b.parameter(&name, &[dout])?;
        y = b.binary(Binary::Add, &y, &bias)?;
    }
    let mut out = lead.to_vec();
    out.push(dout);
    b.reshape(&y, &out)
}

/// GPT-2's `Conv1D`: weight (din, dout), `y = x W + bias`.
pub fn conv1d<B: GraphBuilder>(
    b: &mut B,
    x: &B::Value,
    prefix: &str,
    din: i64,
    dout: i64,
) -> Result<B::Value> {
    let weight = b.parameter(&format!("{prefix}.weight"), &[din, dout])?;
    project(b, x, &weight, false, Some(format!("{prefix}.bias")), dout)
}

/// `nn.LayerNorm` over the last axis: (x - mean) / sqrt(var + eps) · weight + bias, the
/// variance biased, as torch computes it.
pub fn layer_norm<B: GraphBuilder>(
    b: &mut B,
    x: &B::Value,
    prefix: &str,
    dim: i64,
    eps: f64,
) -> Result<B::Value> {
    let weight = b.parameter(&format!("{prefix}.weight"), &[dim])?;
    let bias = b.parameter(&format!("{prefix}.bias"), &[dim])?;
    b.layer_norm(x, &weight, &bias, eps)
}

/// [`GraphBuilder::layer_norm`] composed of the builder's operations.
pub fn composed_layer_norm<B: GraphBuilder>(
    b: &mut B,
    x: &B::Value,
    weight: &B::Value,
    bias: &B::Value,
    eps: f64,
) -> Result<B::Value> {
    let mean = b.reduce(Reduce::Mean, x, &[-1], true)?;
    let centred = b.binary(Binary::Sub, x, &mean)?;
    let squares = b.unary(Unary::Square, &centred)?;
    let var = b.reduce(Reduce::Mean, &squares, &[-1], true)?;
    let var = scalar_op(b, Binary::Add, &var, eps as f32)?;
    let inv = b.unary(Unary::Rsqrt, &var)?;
    let normed = b.binary(Binary::Mul, &centred, &inv)?;
    let scaled = b.binary(Binary::Mul, &normed, weight)?;
    b.binary(Binary::Add, &scaled, bias)
}

/// Llama's `RMSNorm`: x / sqrt(mean(x²) + eps) · weight.
pub fn rms_norm<B: GraphBuilder>(
    b: &mut B,
    x: &B::Value,
    prefix: &str,
    dim: i64,
    eps: f64,
) -> Result<B::Value> {
    let weight = b.parameter(&format!("{prefix}.weight"), &[dim])?;
    b.rms_norm(x, &weight, eps)
}

/// [`GraphBuilder::rms_norm`] composed of the builder's operations.
pub fn composed_rms_norm<B: GraphBuilder>(
    b: &mut B,
    x: &B::Value,
    weight: &B::Value,
    eps: f64,
) -> Result<B::Value> {
    let squares = b.unary(Unary::Square, x)?;
    let mean = b.reduce(Reduce::Mean, &squares, &[-1], true)?;
    let mean = scalar_op(b, Binary::Add, &mean, eps as f32)?;
    let inv = b.unary(Unary::Rsqrt, &mean)?;
    let normed = b.binary(Binary::Mul, x, &inv)?;
    b.binary(Binary::Mul, &normed, weight)
}

/// `x` through the activation a config names.
pub fn activate<B: GraphBuilder>(b: &mut B, a: Activation, x: &B::Value) -> Result<B::Value> {
    match a {
        Activation::Gelu => b.gelu(x, false),
        Activation::GeluNew | Activation::GeluPytorchTanh => b.gelu(x, true),
        Activation::Silu => {
            let gate = b.unary(Unary::Sigmoid, x)?;
            b.binary(Binary::Mul, x, &gate)
        }
        Activation::Tanh => b.unary(Unary::Tanh, x),
        Activation::Relu => bail!("relu has no graph lowering (no model here uses it)"),
        Activation::QuickGelu => bail!("quick_gelu has no graph lowering (no model here uses it)"),
    }
}

/// [`GraphBuilder::gelu`] composed of the builder's operations.
pub fn composed_gelu<B: GraphBuilder>(b: &mut B, x: &B::Value, tanh: bool) -> Result<B::Value> {
    if !tanh {
        // 0.5 · x · (1 + erf(x / √2))
        let scaled = scalar_op(b, Binary::Mul, x, std::f32::consts::FRAC_1_SQRT_2)?;
        let erf = b.unary(Unary::Erf, &scaled)?;
        return half_x_times_one_plus(b, x, &erf);
    }
    // 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
    let square = b.unary(Unary::Square, x)?;
    let cube = b.binary(Binary::Mul, &square, x)?;
    let cube = scalar_op(b, Binary::Mul, &cube, 0.044715)?;
    let inner = b.binary(Binary::Add, x, &cube)?;
    let inner = scalar_op(b, Binary::Mul, &inner, (2.0 / std::f32::consts::PI).sqrt())?;
    let tanh = b.unary(Unary::Tanh, &inner)?;
    half_x_times_one_plus(b, x, &tanh)
}

fn half_x_times_one_plus<B: GraphBuilder>(
    b: &mut B,
    x: &B::Value,
    t: &B::Value,
) -> Result<B::Value> {
    let one_plus = scalar_op(b, Binary::Add, t, 1.0)?;
    let half_x = scalar_op(b, Binary::Mul, x, 0.5)?;
    b.binary(Binary::Mul, &half_x, &one_plus)
}

/// (batch, seq, heads · head_dim) -> (batch, heads, seq, head_dim).
pub fn split_heads<B: GraphBuilder>(b: &mut B, x: &B::Value, heads: i64) -> Result<B::Value> {
    let s = b.shape(x)?;
    let x = b.reshape(x, &[s[0], s[1], heads, s[2] / heads])?;
    b.transpose(&x, &[0, 2, 1, 3])
}

/// (batch, heads, seq, head_dim) -> (batch, seq, heads · head_dim).
pub fn merge_heads<B: GraphBuilder>(b: &mut B, x: &B::Value) -> Result<B::Value> {
    let s = b.shape(x)?;
    let x = b.transpose(x, &[0, 2, 1, 3])?;
    b.reshape(&x, &[s[0], s[2], s[1] * s[3]])
}

/// Scaled dot-product attention of q, k, v (batch, heads, seq, head_dim): softmax(q kᵀ ·
/// scale + mask) v, `mask` additive (0 where allowed, a large negative number elsewhere).
pub fn attention<B: GraphBuilder>(
    b: &mut B,
    q: &B::Value,
    k: &B::Value,
    v: &B::Value,
    scale: f32,
    mask: Option<&B::Value>,
) -> Result<B::Value> {
    let scores = b.matmul(q, k, false, true)?;
    let mut scores = scalar_op(b, Binary::Mul, &scores, scale)?;
    if let Some(mask) = mask {
        scores = b.binary(Binary::Add, &scores, mask)?;
    }
    let probs = b.softmax(&scores)?;
    b.matmul(&probs, v, false, false)
}

/// The additive mask (seq, seq) of causal attention, optionally within a sliding `window`
/// (key j visible to query i when i - window < j <= i, as transformers' sliding window).
pub fn causal_mask<B: GraphBuilder>(b: &mut B, seq: i64, window: Option<i64>) -> Result<B::Value> {
    let mut values = Vec::with_capacity((seq * seq) as usize);
    for i in 0..seq {
        for j in 0..seq {
            let visible = j <= i && window.is_none_or(|w| i - j < w);
            // exp(-1e9 - max) is exactly 0 in f32, as with transformers' finfo.min.
            values.push(if visible { 0.0 } else { -1e9 });
        }
    }
    b.constant(Constant::f32(&[seq, seq], values))
}

/// The integer positions 0..seq as a constant (seq).
pub fn positions<B: GraphBuilder>(b: &mut B, seq: i64) -> Result<B::Value> {
    b.constant(Constant::i64(&[seq], (0..seq).collect()))
}

/// transformers' `CrossEntropyLoss` (mean over labels that are not -100) of `logits`
/// (batch, seq, vocab), in float32. The log-probabilities of the labels are picked by one
/// gather from the flattened (batch · seq · vocab) log-softmax, since TensorFlow's C++
/// gradients have no sparse cross-entropy and a one-hot matrix would double the logits'
/// memory.
pub fn lm_loss<B: GraphBuilder>(
    b: &mut B,
    logits: &B::Value,
    labels: &B::Value,
) -> Result<B::Value> {
    let shape = b.shape(logits)?;
    let vocab = shape[2];
    let rows = shape[0] * shape[1];
    let logits = match b.float() {
        DType::F32 => logits.clone(),
        _ => b.cast(logits, DType::F32)?,
    };
    let flat = b.reshape(&logits, &[rows, vocab])?;
    let logp = b.log_softmax(&flat)?;
    let logp = b.reshape(&logp, &[rows * vocab])?;
    let labels = b.reshape(labels, &[rows])?;
    let ignored = b.constant(Constant::i64(&[], vec![-100]))?;
    let kept = b.not_equal(&labels, &ignored)?;
    let kept_ids = b.cast(&kept, DType::I64)?;
    // Ignored labels pick row's class 0, weighted by 0.
    let labels = b.binary(Binary::Mul, &labels, &kept_ids)?;
    let offsets = b.constant(Constant::i64(
        &[rows],
        (0..rows).map(|r| r * vocab).collect(),
    ))?;
    let index = b.binary(Binary::Add, &labels, &offsets)?;
    let picked = b.gather(&logp, &index)?;
    let weights = b.cast(&kept, DType::F32)?;
    let picked = b.binary(Binary::Mul, &picked, &weights)?;
    let total = b.reduce(Reduce::Sum, &picked, &[0], false)?;
    let count = b.reduce(Reduce::Sum, &weights, &[0], false)?;
    let mean = b.binary(Binary::Div, &total, &count)?;
    b.unary(Unary::Neg, &mean)
}

/// The `input_ids` input (batch, seq), and `labels` beside it when the cell trains.
pub fn token_inputs<B: GraphBuilder>(
    b: &mut B,
    shape: Shape,
) -> Result<(B::Value, Option<B::Value>)> {
    let ids = b.input("input_ids", DType::I64, &[shape.batch, shape.seq])?;
    let labels = match shape.loss {
        true => Some(b.input("labels", DType::I64, &[shape.batch, shape.seq])?),
        false => None,
    };
    Ok((ids, labels))
}

/// A masked LM's outputs: its logits, and the loss ([`lm_loss`]) where labels are fed.
pub fn mlm_outputs<B: GraphBuilder>(
    b: &mut B,
    logits: B::Value,
    labels: Option<&B::Value>,
) -> Result<Outputs<B::Value>> {
    let loss = match labels {
        Some(labels) => Some(lm_loss(b, &logits, labels)?),
        None => None,
    };
    Ok(Outputs {
        output: logits,
        loss,
    })
}

/// transformers' `BCEWithLogitsLoss` (mean) of `logits` against `labels` cast to float32:
/// softplus(x) - x·y, with softplus(x) = -log_softmax([0, x])[0], which is stable and
/// differentiable by TensorFlow's C++ gradients (they have no Softplus, Log or Abs).
pub fn bce_with_logits<B: GraphBuilder>(
    b: &mut B,
    logits: &B::Value,
    labels: &B::Value,
) -> Result<B::Value> {
    let n: i64 = b.shape(logits)?.iter().product();
    let x = b.reshape(logits, &[n, 1])?;
    let zeros = b.constant(Constant::f32(&[n, 1], vec![0.0; n as usize]))?;
    let pair = b.concat(&[zeros, x.clone()], 1)?;
    let logp = b.log_softmax(&pair)?;
    let (x, logp) = match b.float() {
        DType::F32 => (x, logp),
        _ => (b.cast(&x, DType::F32)?, b.cast(&logp, DType::F32)?),
    };
    let minus_softplus = b.split(&logp, 1, 2)?.remove(0);
    let labels = b.reshape(labels, &[n, 1])?;
    let y = b.cast(&labels, DType::F32)?;
    let xy = b.binary(Binary::Mul, &x, &y)?;
    let sum = b.binary(Binary::Add, &minus_softplus, &xy)?;
    let mean = b.reduce(Reduce::Mean, &sum, &[0, 1], false)?;
    b.unary(Unary::Neg, &mean)
}

/// transformers' `ForCausalLMLoss`: logits at t predict the label at t + 1, the last
/// position predicting nothing (its label -100).
pub fn causal_lm_loss<B: GraphBuilder>(
    b: &mut B,
    logits: &B::Value,
    labels: &B::Value,
) -> Result<B::Value> {
    let s = b.shape(labels)?;
    let next = b.slice(labels, &[0, 1], &[s[0], s[1] - 1])?;
    let none = b.constant(Constant::i64(&[s[0], 1], vec![-100; s[0] as usize]))?;
    let shifted = b.concat(&[next, none], 1)?;
    lm_loss(b, logits, &shifted)
}

/// A decoder's end: the final hidden states where the cell has no head, else the logits through
/// the tied embedding or the model's own `lm_head.weight`, with transformers' causal-LM loss
/// where labels are fed.
pub fn causal_lm_outputs<B: GraphBuilder>(
    b: &mut B,
    xs: B::Value,
    embedding: B::Value,
    tied: bool,
    (vocab, hidden): (i64, i64),
    shape: Shape,
    labels: Option<&B::Value>,
) -> Result<Outputs<B::Value>> {
    if !shape.lm_head {
        return Ok(Outputs {
            output: xs,
            loss: None,
        });
    }
    let head = match tied {
        true => embedding,
        false => b.parameter("lm_head.weight", &[vocab, hidden])?,
    };
    let logits = project(b, &xs, &head, true, None, vocab)?;
    let loss = match labels {
        Some(labels) => Some(causal_lm_loss(b, &logits, labels)?),
        None => None,
    };
    Ok(Outputs {
        output: logits,
        loss,
    })
}

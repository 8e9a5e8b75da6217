//! Building blocks shared by the model families: linear, embedding and normalisation layers
//! initialised as transformers initialises them, and the activations named in HF configs.

use crate::measure::profile::{self, scope, Part};
pub use run_benchmark_core::spec::activation::Activation;
pub use run_benchmark_core::spec::flops::{attention_flops, gated_mlp_flops, lm_head_flops};
use tch::{nn, Tensor};

/// Applies a config's activation to a tensor.
pub trait Apply {
    fn apply(self, xs: &Tensor) -> Tensor;
}

impl Apply for Activation {
    fn apply(self, xs: &Tensor) -> Tensor {
        match self {
            Activation::Gelu => xs.gelu("none"),
            Activation::GeluNew | Activation::GeluPytorchTanh => xs.gelu("tanh"),
            Activation::Relu => xs.relu(),
            Activation::Silu => xs.silu(),
            Activation::Tanh => xs.tanh(),
            Activation::QuickGelu => xs * (xs * 1.702).sigmoid(),
        }
    }
}

/// `y = x W^T + b` through one fused addmm (`at::linear`), with the checkpoint's names
/// `weight` and `bias`.
#[derive(Debug)]
pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    /// Weight ~ N(0, std), bias zero: transformers' `_init_weights` for `nn.Linear`.
    pub fn new(p: nn::Path, in_dim: i64, out_dim: i64, bias: bool, std: f64) -> Self {
        let weight = super::weights::normal(&p, "weight", &[out_dim, in_dim], std);
        let bias = bias.then(|| p.var("bias", &[out_dim], nn::Init::Const(0.0)));
        Linear { weight, bias }
    }

    pub fn forward(&self, xs: &Tensor) -> Tensor {
        scope(Part::Projection, || {
            xs.linear(&self.weight, self.bias.as_ref())
        })
    }
}

#[derive(Debug)]
pub struct Embedding {
    pub weight: Tensor,
}

impl Embedding {
    /// Rows ~ N(0, std); the padding row, if any, is zero, as transformers does.
    pub fn new(p: nn::Path, num: i64, dim: i64, std: f64, padding_idx: Option<i64>) -> Self {
        let weight = super::weights::normal(&p, "weight", &[num, dim], std);
        if let Some(idx) = padding_idx.filter(|&i| (0..num).contains(&i)) {
            tch::no_grad(|| {
                let _ = weight.get(idx).zero_();
            });
        }
        Embedding { weight }
    }

    pub fn forward(&self, ids: &Tensor) -> Tensor {
        scope(Part::Embeddings, || {
            Tensor::embedding(&self.weight, ids, -1, false, false)
        })
    }
}

#[derive(Debug)]
pub struct LayerNorm {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    eps: f64,
    dim: i64,
}

impl LayerNorm {
    pub fn new(p: nn::Path, dim: i64, eps: f64) -> Self {
        Self::with_bias(p, dim, eps, true)
    }

    /// `nn.LayerNorm(dim, eps, bias=bias)`: ModernBERT's norms have no bias.
    pub fn with_bias(p: nn::Path, dim: i64, eps: f64, bias: bool) -> Self {
        LayerNorm {
            weight: p.var("weight", &[dim], nn::Init::Const(1.0)),
            bias: bias.then(|| p.var("bias", &[dim], nn::Init::Const(0.0))),
            eps,
            dim,
        }
    }

    pub fn forward(&self, xs: &Tensor) -> Tensor {
        scope(Part::Norm, || self.apply(xs))
    }

    fn apply(&self, xs: &Tensor) -> Tensor {
        xs.layer_norm(
            [self.dim],
            Some(&self.weight),
            self.bias.as_ref(),
            self.eps,
            true,
        )
    }
}

/// libtorch's fused scaled-dot-product attention (scores, softmax, weighted values), profiled
/// as the attention kernel; the arguments are those of `Tensor::scaled_dot_product_attention`.
#[allow(clippy::too_many_arguments)]
pub fn attention_kernel<T: std::borrow::Borrow<Tensor>>(
    query: &Tensor,
    key: &Tensor,
    value: &Tensor,
    attn_mask: Option<T>,
    dropout_p: f64,
    is_causal: bool,
    scale: impl Into<Option<f64>>,
    enable_gqa: bool,
) -> Tensor {
    scope(Part::AttentionKernel, || {
        Tensor::scaled_dot_product_attention(
            query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa,
        )
    })
}

/// Dropout that is the identity outside training, without a copy.
pub fn dropout(xs: Tensor, p: f64, train: bool) -> Tensor {
    if train && p > 0.0 {
        xs.dropout(p, true)
    } else {
        xs
    }
}

/// LayerDrop (Fan et al., 2019): in training, each layer is skipped with probability `p`,
/// drawn from torch's generator as `torch.rand([])`.
pub fn drop_layer(p: f64, train: bool) -> bool {
    train && p > 0.0 && Tensor::rand([], (tch::Kind::Float, tch::Device::Cpu)).double_value(&[]) < p
}

/// Mean cross-entropy of `logits` (.., vocab) against `labels` (..), ignoring -100, as
/// transformers' `CrossEntropyLoss` does for language-modelling heads.
pub fn lm_loss(logits: &Tensor, labels: &Tensor) -> Tensor {
    let vocab = logits.size().last().copied().unwrap_or(1);
    scope(Part::Loss, || {
        logits.view([-1, vocab]).cross_entropy_loss::<Tensor>(
            &labels.view([-1]),
            None,
            tch::Reduction::Mean,
            -100,
            0.0,
        )
    })
}

/// transformers' `ForCausalLMLoss`: logits at position t predict labels at t + 1 (the last
/// position predicts nothing), mean cross-entropy in float32, ignoring -100. The labels are
/// shifted rather than the logits, which avoids copying the (batch, seq, vocab) logits.
pub fn causal_lm_loss(logits: &Tensor, labels: &Tensor) -> Tensor {
    let seq = labels.size().last().copied().unwrap_or(0);
    let next = labels.narrow(-1, 1, seq - 1);
    let none = labels.narrow(-1, 0, 1).full_like(-100);
    scope(Part::Loss, || {
        lm_loss(
            &logits.to_kind(tch::Kind::Float),
            &Tensor::cat(&[next, none], -1),
        )
    })
}

/// (batch, seq, heads · head_dim) -> (batch, heads, seq, head_dim), as attention takes it.
pub fn split_heads(xs: &Tensor, num_heads: i64) -> Tensor {
    let (b, s, _) = xs.size3().expect("hidden states are (batch, seq, hidden)");
    xs.view([b, s, num_heads, -1]).transpose(1, 2)
}

/// (batch, heads, seq, head_dim) -> (batch, seq, heads · head_dim): the inverse of
/// [`split_heads`], for the attention output.
pub fn merge_heads(xs: &Tensor) -> Tensor {
    let (b, _, s, _) = xs.size4().expect("heads are (batch, heads, seq, head_dim)");
    xs.transpose(1, 2).reshape([b, s, -1])
}

/// An attention mask (batch, seq), 1 for tokens and 0 for padding, as the boolean mask of
/// `scaled_dot_product_attention` over keys: (batch, 1, 1, seq), true where a key is a token.
pub fn key_padding_mask(attention_mask: &Tensor) -> Tensor {
    attention_mask.ne(0).unsqueeze(1).unsqueeze(1)
}

/// `allowed` (.., seq, seq) narrowed to the keys that are tokens, then with each query's own
/// key allowed again: a padding query that sees no token would give NaN, which would reach
/// real tokens through the next layer's values. Padding queries' outputs are ignored anyway.
pub fn with_key_padding(allowed: &Tensor, attention_mask: &Tensor) -> Tensor {
    let s = attention_mask.size()[1];
    let own = Tensor::eye(s, (tch::Kind::Bool, attention_mask.device()));
    allowed
        .logical_and(&key_padding_mask(attention_mask))
        .logical_or(&own)
}

/// The causal mask (seq, seq), true where query i may see key j <= i.
pub fn causal_mask(s: i64, device: tch::Device) -> Tensor {
    Tensor::ones([s, s], (tch::Kind::Bool, device)).tril(0)
}

/// Labels for a padded batch: the input ids, -100 (ignored by the losses) at padding.
pub fn masked_labels(input_ids: &Tensor, attention_mask: &Tensor) -> Tensor {
    input_ids.where_self(&attention_mask.ne(0), &input_ids.full_like(-100))
}

/// A decoder's projection onto the vocabulary (`lm_head`, `embed_out`) under `p`: the weight
/// is `tied_to`'s own tensor (so training updates both) or else a new (vocab, hidden)
/// `weight`; with `bias`, a new zero `bias` in either case.
pub fn lm_head(
    p: nn::Path,
    tied_to: Option<&Embedding>,
    hidden: i64,
    vocab: i64,
    bias: bool,
    std: f64,
) -> Linear {
    match tied_to {
        Some(embedding) => Linear {
            weight: embedding.weight.shallow_clone(),
            bias: bias.then(|| p.var("bias", &[vocab], nn::Init::Const(0.0))),
        },
        None => Linear::new(p, hidden, vocab, bias, std),
    }
}

/// The gated MLP of Llama-like decoders (SwiGLU): `down(act(gate(x)) · up(x))`; also each
/// expert of moe.rs.
pub struct GatedMlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
    activation: Activation,
}

impl GatedMlp {
    /// With the checkpoint's (gate, up, down) names, e.g. Mixtral's experts' w1, w3, w2.
    pub fn named(
        p: nn::Path,
        [gate, up, down]: [&str; 3],
        hidden: i64,
        intermediate: i64,
        bias: bool,
        activation: Activation,
        std: f64,
    ) -> Self {
        let (h, i) = (hidden, intermediate);
        GatedMlp {
            gate_proj: Linear::new(&p / gate, h, i, bias, std),
            up_proj: Linear::new(&p / up, h, i, bias, std),
            down_proj: Linear::new(&p / down, i, h, bias, std),
            activation,
        }
    }

    pub fn forward(&self, xs: &Tensor) -> Tensor {
        let _mlp = profile::part(Part::Mlp);
        let gate = self.activation.apply(&self.gate_proj.forward(xs));
        self.down_proj.forward(&(gate * self.up_proj.forward(xs)))
    }
}

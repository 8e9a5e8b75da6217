//! Building blocks shared by the model families: linear, embedding and normalisation layers
//! initialised as transformers initialises them, and the activations named in HF configs.

use super::Task;
use serde::Deserialize;
use tch::{nn, Tensor};

/// Activation functions by their Hugging Face config names (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Gelu,
    GeluNew,
    #[serde(alias = "gelu_fast")]
    GeluPytorchTanh,
    Relu,
    #[serde(alias = "swish")]
    Silu,
    Tanh,
    QuickGelu,
}

impl Activation {
    pub fn apply(self, xs: &Tensor) -> Tensor {
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
        let weight = p.var(
            "weight",
            &[out_dim, in_dim],
            nn::Init::Randn {
                mean: 0.0,
                stdev: std,
            },
        );
        let bias = bias.then(|| p.var("bias", &[out_dim], nn::Init::Const(0.0)));
        Linear { weight, bias }
    }

    pub fn forward(&self, xs: &Tensor) -> Tensor {
        xs.linear(&self.weight, self.bias.as_ref())
    }
}

#[derive(Debug)]
pub struct Embedding {
    pub weight: Tensor,
}

impl Embedding {
    /// Rows ~ N(0, std); the padding row, if any, is zero, as transformers does.
    pub fn new(p: nn::Path, num: i64, dim: i64, std: f64, padding_idx: Option<i64>) -> Self {
        let weight = p.var(
            "weight",
            &[num, dim],
            nn::Init::Randn {
                mean: 0.0,
                stdev: std,
            },
        );
        if let Some(idx) = padding_idx.filter(|&i| (0..num).contains(&i)) {
            tch::no_grad(|| {
                let _ = weight.get(idx).zero_();
            });
        }
        Embedding { weight }
    }

    pub fn forward(&self, ids: &Tensor) -> Tensor {
        Tensor::embedding(&self.weight, ids, -1, false, false)
    }
}

#[derive(Debug)]
pub struct LayerNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    eps: f64,
    dim: i64,
}

impl LayerNorm {
    pub fn new(p: nn::Path, dim: i64, eps: f64) -> Self {
        LayerNorm {
            weight: p.var("weight", &[dim], nn::Init::Const(1.0)),
            bias: p.var("bias", &[dim], nn::Init::Const(0.0)),
            eps,
            dim,
        }
    }

    pub fn forward(&self, xs: &Tensor) -> Tensor {
        xs.layer_norm(
            [self.dim],
            Some(&self.weight),
            Some(&self.bias),
            self.eps,
            true,
        )
    }
}

/// Dropout that is the identity outside training, without a copy.
pub fn dropout(xs: Tensor, p: f64, train: bool) -> Tensor {
    if train && p > 0.0 {
        xs.dropout(p, true)
    } else {
        xs
    }
}

/// Mean cross-entropy of `logits` (.., vocab) against `labels` (..), ignoring -100, as
/// transformers' `CrossEntropyLoss` does for language-modelling heads.
pub fn lm_loss(logits: &Tensor, labels: &Tensor) -> Tensor {
    let vocab = logits.size().last().copied().unwrap_or(1);
    logits.view([-1, vocab]).cross_entropy_loss::<Tensor>(
        &labels.view([-1]),
        None,
        tch::Reduction::Mean,
        -100,
        0.0,
    )
}

/// transformers' `ForCausalLMLoss`: logits at position t predict labels at t + 1 (the last
/// position predicts nothing), mean cross-entropy in float32, ignoring -100. The labels are
/// shifted rather than the logits, which avoids copying the (batch, seq, vocab) logits.
pub fn causal_lm_loss(logits: &Tensor, labels: &Tensor) -> Tensor {
    let seq = labels.size().last().copied().unwrap_or(0);
    let next = labels.narrow(-1, 1, seq - 1);
    let none = labels.narrow(-1, 0, 1).full_like(-100);
    lm_loss(
        &logits.to_kind(tch::Kind::Float),
        &Tensor::cat(&[next, none], -1),
    )
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

/// FLOPs of a language-modelling head on (batch, seq): 2·B·S·H·V, none for the base model.
pub fn lm_head_flops(task: Task, batch: f64, seq: f64, hidden: f64, vocab: f64) -> f64 {
    match task {
        Task::Base => 0.0,
        Task::LanguageModel => 2.0 * batch * seq * hidden * vocab,
    }
}

/// [`Model`](super::Model) for a decoder-only family: the base model (`$base`, named
/// `$base_name` as in transformers) returns its last hidden state from `encode` and has no
/// loss; the causal LM (`$lm`) returns `logits` and trains on [`causal_lm_loss`].
macro_rules! decoder_only_models {
    ($base:ty, $base_name:literal, $lm:ty, $lm_name:literal) => {
        impl $crate::models::Model for $base {
            fn forward(&self, input_ids: &tch::Tensor, train: bool) -> anyhow::Result<tch::Tensor> {
                Ok(self.encode(input_ids, train))
            }

            fn loss(
                &self,
                _input_ids: &tch::Tensor,
                _labels: &tch::Tensor,
                _train: bool,
            ) -> anyhow::Result<tch::Tensor> {
                anyhow::bail!(concat!(
                    $base_name,
                    " has no language-modelling head; train ",
                    $lm_name,
                    " instead"
                ))
            }
        }

        impl $crate::models::Model for $lm {
            fn forward(&self, input_ids: &tch::Tensor, train: bool) -> anyhow::Result<tch::Tensor> {
                Ok(self.logits(input_ids, train))
            }

            fn loss(
                &self,
                input_ids: &tch::Tensor,
                labels: &tch::Tensor,
                train: bool,
            ) -> anyhow::Result<tch::Tensor> {
                Ok($crate::models::layers::causal_lm_loss(
                    &self.logits(input_ids, train),
                    labels,
                ))
            }
        }
    };
}
pub(crate) use decoder_only_models;

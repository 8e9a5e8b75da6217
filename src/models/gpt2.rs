//! GPT-2 (Radford et al., 2019, "Language Models are Unsupervised Multitask Learners"), and
//! distilgpt2, following transformers' `modeling_gpt2.py`: `GPT2Model` for inference and
//! `GPT2LMHeadModel` (lm_head tied to `wte`) for the causal LM loss. Parameter paths are the
//! checkpoint's: `h.0.attn.c_attn.weight`, under `transformer.` in a `GPT2LMHeadModel`.

use super::checks::{check_heads, check_positive};
use super::layers::{
    decoder_only_models, dropout, lm_head, lm_head_flops, merge_heads, Activation, Embedding,
    LayerNorm, Linear,
};
use super::{parse_config, Architecture, Model, Task};
use anyhow::Result;
use serde::Deserialize;
use tch::{nn, Kind, Tensor};

/// `GPT2Config`, with transformers' defaults; its `attribute_map` names are accepted too.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Gpt2Config {
    pub vocab_size: i64,
    #[serde(alias = "max_position_embeddings")]
    pub n_positions: i64,
    #[serde(alias = "hidden_size")]
    pub n_embd: i64,
    #[serde(alias = "num_hidden_layers")]
    pub n_layer: i64,
    #[serde(alias = "num_attention_heads")]
    pub n_head: i64,
    /// The MLP width; None means 4 · n_embd.
    pub n_inner: Option<i64>,
    pub activation_function: Activation,
    pub resid_pdrop: f64,
    pub embd_pdrop: f64,
    pub attn_pdrop: f64,
    pub layer_norm_epsilon: f64,
    pub initializer_range: f64,
    pub scale_attn_weights: bool,
    pub scale_attn_by_inverse_layer_idx: bool,
    /// Only changes fp16/bf16 numerics in transformers (scores computed in fp32); fused
    /// attention already accumulates in fp32, so it needs nothing here.
    pub reorder_and_upcast_attn: bool,
    pub tie_word_embeddings: bool,
}

impl Default for Gpt2Config {
    fn default() -> Self {
        Gpt2Config {
            vocab_size: 50257,
            n_positions: 1024,
            n_embd: 768,
            n_layer: 12,
            n_head: 12,
            n_inner: None,
            activation_function: Activation::GeluNew,
            resid_pdrop: 0.1,
            embd_pdrop: 0.1,
            attn_pdrop: 0.1,
            layer_norm_epsilon: 1e-5,
            initializer_range: 0.02,
            scale_attn_weights: true,
            scale_attn_by_inverse_layer_idx: false,
            reorder_and_upcast_attn: false,
            tie_word_embeddings: true,
        }
    }
}

impl Gpt2Config {
    pub fn inner_dim(&self) -> i64 {
        self.n_inner.unwrap_or(4 * self.n_embd)
    }

    pub fn validate(&self) -> Result<()> {
        check_heads(("n_embd", self.n_embd), ("n_head", self.n_head))?;
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("n_positions", self.n_positions),
            ("n_embd", self.n_embd),
            ("n_layer", self.n_layer),
            ("n_inner", self.inner_dim()),
        ])?;
        Ok(())
    }
}

/// transformers' `Conv1D`: a linear layer whose weight is stored (in, out), as in the
/// checkpoints. The transposed view makes `linear` the same single addmm as transformers'.
struct Conv1D {
    weight: Tensor,
    bias: Tensor,
}

impl Conv1D {
    fn new(p: nn::Path, in_dim: i64, out_dim: i64, std: f64) -> Self {
        Conv1D {
            weight: p.var(
                "weight",
                &[in_dim, out_dim],
                nn::Init::Randn {
                    mean: 0.0,
                    stdev: std,
                },
            ),
            bias: p.var("bias", &[out_dim], nn::Init::Const(0.0)),
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        xs.linear(&self.weight.tr(), Some(&self.bias))
    }
}

struct Gpt2Block {
    ln_1: LayerNorm,
    c_attn: Conv1D,
    attn_proj: Conv1D,
    ln_2: LayerNorm,
    c_fc: Conv1D,
    mlp_proj: Conv1D,
    num_heads: i64,
    scale: f64,
    activation: Activation,
    resid_dropout: f64,
    attn_dropout: f64,
}

impl Gpt2Block {
    fn new(p: nn::Path, c: &Gpt2Config, layer_idx: i64) -> Self {
        let (h, std) = (c.n_embd, c.initializer_range);
        // transformers scales the init of both c_proj weights by 1/sqrt(2 · n_layer).
        let proj_std = std / (2.0 * c.n_layer as f64).sqrt();
        let mut scale = 1.0;
        if c.scale_attn_weights {
            scale /= ((h / c.n_head) as f64).sqrt();
        }
        if c.scale_attn_by_inverse_layer_idx {
            scale /= (layer_idx + 1) as f64;
        }
        let (attn, mlp) = (&p / "attn", &p / "mlp");
        Gpt2Block {
            ln_1: LayerNorm::new(&p / "ln_1", h, c.layer_norm_epsilon),
            c_attn: Conv1D::new(&attn / "c_attn", h, 3 * h, std),
            attn_proj: Conv1D::new(&attn / "c_proj", h, h, proj_std),
            ln_2: LayerNorm::new(&p / "ln_2", h, c.layer_norm_epsilon),
            c_fc: Conv1D::new(&mlp / "c_fc", h, c.inner_dim(), std),
            mlp_proj: Conv1D::new(&mlp / "c_proj", c.inner_dim(), h, proj_std),
            num_heads: c.n_head,
            scale,
            activation: c.activation_function,
            resid_dropout: c.resid_pdrop,
            attn_dropout: c.attn_pdrop,
        }
    }

    fn attention(&self, xs: &Tensor, train: bool) -> Tensor {
        let (b, s, _) = xs.size3().expect("hidden states are (batch, seq, hidden)");
        // c_attn's output is [q | k | v], each split into heads.
        let qkv = self
            .c_attn
            .forward(xs)
            .view([b, s, 3, self.num_heads, -1])
            .permute([2, 0, 3, 1, 4]);
        let attn_dropout = if train { self.attn_dropout } else { 0.0 };
        let context = Tensor::scaled_dot_product_attention::<Tensor>(
            &qkv.get(0),
            &qkv.get(1),
            &qkv.get(2),
            None,
            attn_dropout,
            true,
            self.scale,
            false,
        );
        dropout(
            self.attn_proj.forward(&merge_heads(&context)),
            self.resid_dropout,
            train,
        )
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        let xs = xs + self.attention(&self.ln_1.forward(xs), train);
        let inner = self
            .activation
            .apply(&self.c_fc.forward(&self.ln_2.forward(&xs)));
        let out = dropout(self.mlp_proj.forward(&inner), self.resid_dropout, train);
        xs + out
    }
}

/// `GPT2Model`: token and learned position embeddings, pre-LN blocks, final `ln_f`.
pub struct Gpt2Model {
    wte: Embedding,
    wpe: Embedding,
    h: Vec<Gpt2Block>,
    ln_f: LayerNorm,
    embd_dropout: f64,
}

impl Gpt2Model {
    pub fn new(p: nn::Path, c: &Gpt2Config) -> Self {
        let std = c.initializer_range;
        let blocks = &p / "h";
        Gpt2Model {
            wte: Embedding::new(&p / "wte", c.vocab_size, c.n_embd, std, None),
            wpe: Embedding::new(&p / "wpe", c.n_positions, c.n_embd, std, None),
            h: (0..c.n_layer)
                .map(|i| Gpt2Block::new(&blocks / i, c, i))
                .collect(),
            ln_f: LayerNorm::new(&p / "ln_f", c.n_embd, c.layer_norm_epsilon),
            embd_dropout: c.embd_pdrop,
        }
    }

    /// Last hidden state (batch, seq, hidden), after `ln_f`.
    pub fn encode(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let seq_len = input_ids.size()[1];
        let positions = Tensor::arange(seq_len, (Kind::Int64, input_ids.device()));
        let xs = self.wte.forward(input_ids) + self.wpe.forward(&positions);
        let mut xs = dropout(xs, self.embd_dropout, train);
        for block in &self.h {
            xs = block.forward(&xs, train);
        }
        self.ln_f.forward(&xs)
    }
}

/// `GPT2LMHeadModel`: `GPT2Model` under `transformer`, then `lm_head` (no bias), tied to
/// `wte` unless `tie_word_embeddings` is false.
pub struct Gpt2LmHeadModel {
    transformer: Gpt2Model,
    lm_head: Linear,
}

impl Gpt2LmHeadModel {
    pub fn new(p: nn::Path, c: &Gpt2Config) -> Self {
        let transformer = Gpt2Model::new(&p / "transformer", c);
        let lm_head = lm_head(
            &p / "lm_head",
            c.tie_word_embeddings.then_some(&transformer.wte),
            c.n_embd,
            c.vocab_size,
            false,
            c.initializer_range,
        );
        Gpt2LmHeadModel {
            transformer,
            lm_head,
        }
    }

    pub fn logits(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.lm_head
            .forward(&self.transformer.encode(input_ids, train))
    }
}

decoder_only_models!(Gpt2Model, "GPT2Model", Gpt2LmHeadModel, "GPT2LMHeadModel");

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Architecture>> {
    let c: Gpt2Config = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Architecture for Gpt2Config {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.n_positions)
    }

    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(Gpt2Model::new(p, self)),
            Task::LanguageModel => Box::new(Gpt2LmHeadModel::new(p, self)),
        })
    }

    /// Per layer: c_attn 2BS·H·3H and c_proj 2BSH², the MLP 2·2BSHI, scores and weighted
    /// values 2·2BS²H (the full S×S products, as transformers' eager attention computes
    /// them, though half are masked). The LM head adds 2BSHV.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, i, v) = (
            self.n_embd as f64,
            self.inner_dim() as f64,
            self.vocab_size as f64,
        );
        let layer = 2.0 * b * s * (4.0 * h * h + 2.0 * h * i) + 4.0 * b * s * s * h;
        let head = lm_head_flops(task, b, s, h, v);
        self.n_layer as f64 * layer + head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        let c = Gpt2Config {
            n_embd: 4,
            n_inner: Some(8),
            n_layer: 1,
            n_head: 2,
            vocab_size: 10,
            ..Gpt2Config::default()
        };
        // B=1, S=2. c_attn: 2·2·4·12 = 192; c_proj: 2·2·4·4 = 64; MLP: 2 · (2·2·4·8) = 256;
        // scores and values: 2 · (2·2·2·4) = 64.
        assert_eq!(
            c.forward_flops(1, 2, Task::Base),
            192.0 + 64.0 + 256.0 + 64.0
        );
        // lm_head: 2·2·4·10 = 160.
        assert_eq!(c.forward_flops(1, 2, Task::LanguageModel), 576.0 + 160.0);
    }

    #[test]
    fn gpt2_forward_is_about_2_n_per_token() {
        // 85M non-embedding parameters: 2·85M·128 ≈ 21.8 GFLOP, plus attention 1.2 GFLOP.
        let f = Gpt2Config::default().forward_flops(1, 128, Task::Base);
        assert!((2.2e10..2.4e10).contains(&f), "{f:e}");
    }

    #[test]
    fn attribute_map_names_are_accepted() {
        let c: Gpt2Config =
            parse_config(&serde_json::json!({"hidden_size": 64, "num_hidden_layers": 3})).unwrap();
        assert_eq!((c.n_embd, c.n_layer), (64, 3));
    }
}

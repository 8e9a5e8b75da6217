//! GPT-2 (Radford et al., 2019, "Language Models are Unsupervised Multitask Learners"), and
//! distilgpt2, following transformers' `modeling_gpt2.py`: `GPT2Model` for inference and
//! `GPT2LMHeadModel` (lm_head tied to `wte`) for the causal LM loss. Parameter paths are the
//! checkpoint's: `h.0.attn.c_attn.weight`, under `transformer.` in a `GPT2LMHeadModel`.

use super::kv_cache::{CausalLm, KvCache};
use super::layers::Apply;
use super::layers::{
    causal_lm_loss, dropout, lm_head, merge_heads, Activation, Embedding, LayerNorm, Linear,
};
use super::{Architecture, Generator, Model, Task};
use crate::measure::profile::{self, Part};
use anyhow::{bail, Result};
use tch::{nn, Kind, Tensor};

pub use run_benchmark_core::spec::gpt2::*;

/// transformers' `Conv1D`: a linear layer whose weight is stored (in, out), as in the
/// checkpoints. The transposed view makes `linear` the same single addmm as transformers'.
struct Conv1D {
    weight: Tensor,
    bias: Tensor,
}

impl Conv1D {
    fn new(p: nn::Path, in_dim: i64, out_dim: i64, std: f64) -> Self {
        Conv1D {
            weight: super::weights::normal(&p, "weight", &[in_dim, out_dim], std),
            bias: p.var("bias", &[out_dim], nn::Init::Const(0.0)),
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        profile::scope(Part::Projection, || {
            xs.linear(&self.weight.tr(), Some(&self.bias))
        })
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
    layer: usize,
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
            layer: layer_idx as usize,
        }
    }

    fn attention(&self, xs: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        let _attention = profile::part(Part::Attention);
        let (b, s, _) = xs.size3().expect("hidden states are (batch, seq, hidden)");
        // c_attn's output is [q | k | v], each split into heads.
        let qkv = self
            .c_attn
            .forward(xs)
            .view([b, s, 3, self.num_heads, -1])
            .permute([2, 0, 3, 1, 4]);
        let attn_dropout = if train { self.attn_dropout } else { 0.0 };
        let context = cache.attend(
            self.layer,
            &qkv.get(0),
            qkv.get(1),
            qkv.get(2),
            None,
            Some(self.scale),
            attn_dropout,
        );
        dropout(
            self.attn_proj.forward(&merge_heads(&context)),
            self.resid_dropout,
            train,
        )
    }

    fn forward(&self, xs: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        let _layer = profile::part(Part::Layer);
        let xs = xs + self.attention(&self.ln_1.forward(xs), train, cache);
        let mlp = profile::part(Part::Mlp);
        let inner = self
            .activation
            .apply(&self.c_fc.forward(&self.ln_2.forward(&xs)));
        let out = dropout(self.mlp_proj.forward(&inner), self.resid_dropout, train);
        drop(mlp);
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
        self.encode_masked(input_ids, None, train)
    }

    /// [`Self::encode`] with an attention mask (batch, seq) over right padding: positions
    /// count from 0 in every row, so real tokens keep theirs.
    pub fn encode_masked(
        &self,
        input_ids: &Tensor,
        padding: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        self.encode_cached(input_ids, train, &mut KvCache::off_masked(padding))
    }

    /// Last hidden state of `input_ids`, the tokens after the `cache`d ones.
    pub fn encode_cached(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        let (past, seq_len) = (cache.past(), input_ids.size()[1]);
        let positions =
            Tensor::arange_start(past, past + seq_len, (Kind::Int64, input_ids.device()));
        let xs = self.wte.forward(input_ids) + self.wpe.forward(&positions);
        let mut xs = dropout(xs, self.embd_dropout, train);
        for block in &self.h {
            xs = block.forward(&xs, train, cache);
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
        self.logits_masked(input_ids, None, train)
    }

    pub fn logits_masked(
        &self,
        input_ids: &Tensor,
        padding: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        let hidden = self.transformer.encode_masked(input_ids, padding, train);
        profile::scope(Part::Head, || self.lm_head.forward(&hidden))
    }
}

impl CausalLm for Gpt2LmHeadModel {
    fn hidden(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        self.transformer.encode_cached(input_ids, train, cache)
    }

    fn head(&self, hidden: &Tensor) -> Tensor {
        profile::scope(Part::Head, || self.lm_head.forward(hidden))
    }
}

impl Model for Gpt2Model {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(self.encode_masked(input_ids, mask, train))
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("GPT2Model has no language-modelling head; train GPT2LMHeadModel instead")
    }
}

impl Model for Gpt2LmHeadModel {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(self.logits_masked(input_ids, mask, train))
    }

    fn loss(
        &self,
        input_ids: &Tensor,
        mask: Option<&Tensor>,
        labels: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        Ok(causal_lm_loss(
            &self.logits_masked(input_ids, mask, train),
            labels,
        ))
    }
}

impl Architecture for Gpt2Config {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(Gpt2Model::new(p, self)),
            Task::LanguageModel => Box::new(Gpt2LmHeadModel::new(p, self)),
        })
    }

    fn generator(&self, p: nn::Path) -> Option<Box<dyn Generator>> {
        Some(Box::new(Gpt2LmHeadModel::new(p, self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::parse_config;
    use crate::models::Spec;

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

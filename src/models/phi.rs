//! Phi-1/1.5/2 (Gunasekar et al., 2023, "Textbooks Are All You Need"; Li et al., 2023),
//! following transformers' `modeling_phi.py`: `PhiModel` (last hidden state after
//! `final_layernorm`) and `PhiForCausalLM` (`model.*`, `lm_head` with bias). Each layer
//! runs attention and the MLP in parallel on one shared input LayerNorm:
//! `x + dense(attn(ln(x))) + mlp(ln(x))`; rotary embeddings cover the first
//! `partial_rotary_factor` of each head; optional per-head q/k LayerNorm (`qk_layernorm`).

use super::kv_cache::{CausalLm, KvCache};
use super::layers::Apply;
use super::layers::{
    causal_lm_loss, dropout, lm_head, merge_heads, split_heads, Activation, Embedding, LayerNorm,
    Linear,
};
use super::rotary::{RopeType, Rotary, RotaryTables};
use super::{no_mask, Architecture, Generator, Model, Task};
use crate::measure::profile::{self, Part};
use anyhow::{bail, Result};
use tch::{nn, Tensor};

pub use run_benchmark_core::spec::phi::*;

struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    dense: Linear,
    q_layernorm: Option<LayerNorm>,
    k_layernorm: Option<LayerNorm>,
    num_heads: i64,
    num_kv_heads: i64,
    dropout: f64,
    layer: usize,
}

impl Attention {
    fn new(p: nn::Path, c: &PhiConfig, layer: usize) -> Self {
        let (h, d, std) = (c.hidden_size, c.head_dim(), c.initializer_range);
        let kv = c.kv_heads() * d;
        let norm = |name: &str| LayerNorm::new(&p / name, d, c.layer_norm_eps);
        Attention {
            q_proj: Linear::new(&p / "q_proj", h, h, true, std),
            k_proj: Linear::new(&p / "k_proj", h, kv, true, std),
            v_proj: Linear::new(&p / "v_proj", h, kv, true, std),
            dense: Linear::new(&p / "dense", h, h, true, std),
            q_layernorm: c.qk_layernorm.then(|| norm("q_layernorm")),
            k_layernorm: c.qk_layernorm.then(|| norm("k_layernorm")),
            num_heads: c.num_attention_heads,
            num_kv_heads: c.kv_heads(),
            dropout: c.attention_dropout,
            layer,
        }
    }

    fn forward(
        &self,
        xs: &Tensor,
        rope: &RotaryTables,
        train: bool,
        cache: &mut KvCache,
    ) -> Tensor {
        let _attention = profile::part(Part::Attention);
        let heads = |t: Tensor, n: i64, norm: &Option<LayerNorm>| {
            let t = split_heads(&t, n);
            match norm {
                Some(norm) => norm.forward(&t),
                None => t,
            }
        };
        let q = heads(self.q_proj.forward(xs), self.num_heads, &self.q_layernorm);
        let k = heads(
            self.k_proj.forward(xs),
            self.num_kv_heads,
            &self.k_layernorm,
        );
        let v = heads(self.v_proj.forward(xs), self.num_kv_heads, &None);
        let dropout = if train { self.dropout } else { 0.0 };
        let (q, k) = (rope.apply(&q), rope.apply(&k));
        let context = cache.attend(self.layer, &q, k, v, None, None, dropout);
        self.dense.forward(&merge_heads(&context))
    }
}

struct Mlp {
    fc1: Linear,
    fc2: Linear,
    activation: Activation,
}

impl Mlp {
    fn new(p: nn::Path, c: &PhiConfig) -> Self {
        let (h, i, std) = (c.hidden_size, c.intermediate_size, c.initializer_range);
        Mlp {
            fc1: Linear::new(&p / "fc1", h, i, true, std),
            fc2: Linear::new(&p / "fc2", i, h, true, std),
            activation: c.hidden_act,
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        let _mlp = profile::part(Part::Mlp);
        self.fc2
            .forward(&self.activation.apply(&self.fc1.forward(xs)))
    }
}

struct DecoderLayer {
    self_attn: Attention,
    mlp: Mlp,
    input_layernorm: LayerNorm,
    resid_dropout: f64,
}

impl DecoderLayer {
    fn new(p: nn::Path, c: &PhiConfig, layer: usize) -> Self {
        DecoderLayer {
            self_attn: Attention::new(&p / "self_attn", c, layer),
            mlp: Mlp::new(&p / "mlp", c),
            input_layernorm: LayerNorm::new(
                &p / "input_layernorm",
                c.hidden_size,
                c.layer_norm_eps,
            ),
            resid_dropout: c.resid_pdrop,
        }
    }

    fn forward(
        &self,
        xs: &Tensor,
        rope: &RotaryTables,
        train: bool,
        cache: &mut KvCache,
    ) -> Tensor {
        let _layer = profile::part(Part::Layer);
        let normed = self.input_layernorm.forward(xs);
        let attended = dropout(
            self.self_attn.forward(&normed, rope, train, cache),
            self.resid_dropout,
            train,
        );
        let mlp = dropout(self.mlp.forward(&normed), self.resid_dropout, train);
        attended + mlp + xs
    }
}

/// `PhiModel`: `embed_tokens`, the layers and `final_layernorm`.
pub struct PhiModel {
    embed_tokens: Embedding,
    layers: Vec<DecoderLayer>,
    final_layernorm: LayerNorm,
    rotary: Rotary,
    embd_pdrop: f64,
}

impl PhiModel {
    pub fn new(p: nn::Path, c: &PhiConfig) -> Self {
        let layers = &p / "layers";
        let rope = RopeType::from_scaling(c.rope_scaling.as_ref())
            .expect("rope_scaling is validated when the config is parsed");
        PhiModel {
            embed_tokens: Embedding::new(
                &p / "embed_tokens",
                c.vocab_size,
                c.hidden_size,
                c.initializer_range,
                c.pad_token_id,
            ),
            layers: (0..c.num_hidden_layers)
                .map(|i| DecoderLayer::new(&layers / i, c, i as usize))
                .collect(),
            final_layernorm: LayerNorm::new(
                &p / "final_layernorm",
                c.hidden_size,
                c.layer_norm_eps,
            ),
            rotary: Rotary::new(rope, c.rope_theta, c.rotary_dim(), p.device()),
            embd_pdrop: c.embd_pdrop,
        }
    }

    /// Last hidden state (batch, seq, hidden), after the final LayerNorm.
    pub fn encode(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.encode_cached(input_ids, train, &mut KvCache::off())
    }

    /// Last hidden state of `input_ids`, the tokens after the `cache`d ones.
    pub fn encode_cached(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        let mut xs = dropout(self.embed_tokens.forward(input_ids), self.embd_pdrop, train);
        let rope = self
            .rotary
            .tables(cache.past(), input_ids.size()[1], xs.kind());
        for layer in &self.layers {
            xs = layer.forward(&xs, &rope, train, cache);
        }
        self.final_layernorm.forward(&xs)
    }
}

/// `PhiForCausalLM`: the model under `model.` and `lm_head` with bias; its weight is tied
/// to `embed_tokens` when `tie_word_embeddings`.
pub struct PhiForCausalLm {
    model: PhiModel,
    lm_head: Linear,
}

impl PhiForCausalLm {
    pub fn new(p: nn::Path, c: &PhiConfig) -> Self {
        let model = PhiModel::new(&p / "model", c);
        let lm_head = lm_head(
            &p / "lm_head",
            c.tie_word_embeddings.then_some(&model.embed_tokens),
            c.hidden_size,
            c.vocab_size,
            true,
            c.initializer_range,
        );
        PhiForCausalLm { model, lm_head }
    }

    pub fn logits(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let hidden = self.model.encode(input_ids, train);
        profile::scope(Part::Head, || self.lm_head.forward(&hidden))
    }
}

impl CausalLm for PhiForCausalLm {
    fn hidden(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        self.model.encode_cached(input_ids, train, cache)
    }

    fn head(&self, hidden: &Tensor) -> Tensor {
        profile::scope(Part::Head, || self.lm_head.forward(hidden))
    }
}

impl Model for PhiModel {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        no_mask(mask)?;
        Ok(self.encode(input_ids, train))
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("PhiModel has no language-modelling head; train PhiForCausalLM instead")
    }
}

impl Model for PhiForCausalLm {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        no_mask(mask)?;
        Ok(self.logits(input_ids, train))
    }

    fn loss(
        &self,
        input_ids: &Tensor,
        mask: Option<&Tensor>,
        labels: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        no_mask(mask)?;
        Ok(causal_lm_loss(&self.logits(input_ids, train), labels))
    }
}

impl Architecture for PhiConfig {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(PhiModel::new(p, self)),
            Task::LanguageModel => Box::new(PhiForCausalLm::new(p, self)),
        })
    }

    fn generator(&self, p: nn::Path) -> Option<Box<dyn Generator>> {
        Some(Box::new(PhiForCausalLm::new(p, self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Spec;

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        let c = PhiConfig {
            hidden_size: 4,
            intermediate_size: 8,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            num_key_value_heads: Some(1),
            vocab_size: 10,
            ..PhiConfig::default()
        };
        // B=1, S=2, head_dim 2, K = 2. q, dense: 2·(2·2·4·4) = 128; k, v: 2·(2·2·4·2) = 64;
        // MLP: 2·(2·2·4·8) = 256; scores and values: 2·(2·2·2·4) = 64.
        assert_eq!(
            c.forward_flops(1, 2, Task::Base),
            128.0 + 64.0 + 256.0 + 64.0
        );
        // lm_head: 2·2·4·10 = 160.
        assert_eq!(c.forward_flops(1, 2, Task::LanguageModel), 512.0 + 160.0);
    }

    #[test]
    fn phi_2_rotates_32_of_80_dimensions_and_has_2_7b_parameters() {
        let (_, text) = crate::hub::embedded("microsoft/phi-2").unwrap();
        let c: PhiConfig = serde_json::from_str(text).unwrap();
        assert_eq!((c.head_dim(), c.rotary_dim()), (80, 32));
        // 2.52B in the layers plus the 131M-parameter head (embeddings are not counted).
        let per_token = c.forward_flops(1, 1, Task::LanguageModel) / 2.0;
        assert!((2.6e9..2.7e9).contains(&per_token), "{per_token:e}");
    }
}

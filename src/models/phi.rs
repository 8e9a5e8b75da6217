//! Phi-1/1.5/2 (Gunasekar et al., 2023, "Textbooks Are All You Need"; Li et al., 2023),
//! following transformers' `modeling_phi.py`: `PhiModel` (last hidden state after
//! `final_layernorm`) and `PhiForCausalLM` (`model.*`, `lm_head` with bias). Each layer
//! runs attention and the MLP in parallel on one shared input LayerNorm:
//! `x + dense(attn(ln(x))) + mlp(ln(x))`; rotary embeddings cover the first
//! `partial_rotary_factor` of each head; optional per-head q/k LayerNorm (`qk_layernorm`).

use super::checks::check_positive;
use super::layers::{
    decoder_only_models, dropout, lm_head, lm_head_flops, split_heads, Activation, Embedding,
    LayerNorm, Linear,
};
use super::rotary::{causal_attention, RopeScaling, RopeType, Rotary, RotaryTables};
use super::{parse_config, Architecture, Model, Task};
use anyhow::{bail, Result};
use serde::Deserialize;
use tch::{nn, Tensor};

/// `PhiConfig`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PhiConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub intermediate_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    /// None (or null): as many as the query heads.
    pub num_key_value_heads: Option<i64>,
    pub resid_pdrop: f64,
    pub embd_pdrop: f64,
    pub attention_dropout: f64,
    pub hidden_act: Activation,
    pub initializer_range: f64,
    pub layer_norm_eps: f64,
    pub tie_word_embeddings: bool,
    pub rope_theta: f64,
    pub rope_scaling: Option<RopeScaling>,
    pub partial_rotary_factor: f64,
    pub qk_layernorm: bool,
    pub pad_token_id: Option<i64>,
}

impl Default for PhiConfig {
    fn default() -> Self {
        PhiConfig {
            vocab_size: 51200,
            hidden_size: 2048,
            intermediate_size: 8192,
            num_hidden_layers: 24,
            num_attention_heads: 32,
            num_key_value_heads: None,
            resid_pdrop: 0.0,
            embd_pdrop: 0.0,
            attention_dropout: 0.0,
            hidden_act: Activation::GeluNew,
            initializer_range: 0.02,
            layer_norm_eps: 1e-5,
            tie_word_embeddings: false,
            rope_theta: 10000.0,
            rope_scaling: None,
            partial_rotary_factor: 0.5,
            qk_layernorm: false,
            pad_token_id: None,
        }
    }
}

impl PhiConfig {
    pub fn validate(&self) -> Result<()> {
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.kv_heads()),
        ])?;
        if self.hidden_size % self.num_attention_heads != 0 {
            bail!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size,
                self.num_attention_heads
            );
        }
        if self.num_attention_heads % self.kv_heads() != 0 {
            bail!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_attention_heads,
                self.kv_heads()
            );
        }
        if !(0.0..=1.0).contains(&self.partial_rotary_factor) || self.rotary_dim() % 2 != 0 {
            bail!(
                "partial_rotary_factor {} of head size {} must give an even number of rotary \
                 dimensions",
                self.partial_rotary_factor,
                self.head_dim()
            );
        }
        RopeType::from_scaling(self.rope_scaling.as_ref())?;
        Ok(())
    }

    pub fn head_dim(&self) -> i64 {
        self.hidden_size / self.num_attention_heads
    }

    pub fn kv_heads(&self) -> i64 {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// `int(head_dim * partial_rotary_factor)`, as transformers truncates it.
    pub fn rotary_dim(&self) -> i64 {
        (self.head_dim() as f64 * self.partial_rotary_factor) as i64
    }
}

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
}

impl Attention {
    fn new(p: nn::Path, c: &PhiConfig) -> Self {
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
        }
    }

    fn forward(&self, xs: &Tensor, rope: &RotaryTables, train: bool) -> Tensor {
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
        let context = causal_attention(&rope.apply(&q), &rope.apply(&k), &v, None, dropout);
        self.dense.forward(&context)
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
    fn new(p: nn::Path, c: &PhiConfig) -> Self {
        DecoderLayer {
            self_attn: Attention::new(&p / "self_attn", c),
            mlp: Mlp::new(&p / "mlp", c),
            input_layernorm: LayerNorm::new(
                &p / "input_layernorm",
                c.hidden_size,
                c.layer_norm_eps,
            ),
            resid_dropout: c.resid_pdrop,
        }
    }

    fn forward(&self, xs: &Tensor, rope: &RotaryTables, train: bool) -> Tensor {
        let normed = self.input_layernorm.forward(xs);
        let attended = dropout(
            self.self_attn.forward(&normed, rope, train),
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
                .map(|i| DecoderLayer::new(&layers / i, c))
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
        let mut xs = dropout(self.embed_tokens.forward(input_ids), self.embd_pdrop, train);
        let rope = self.rotary.tables(input_ids.size()[1], xs.kind());
        for layer in &self.layers {
            xs = layer.forward(&xs, &rope, train);
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
        self.lm_head.forward(&self.model.encode(input_ids, train))
    }
}

decoder_only_models!(PhiModel, "PhiModel", PhiForCausalLm, "PhiForCausalLM");

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Architecture>> {
    let c: PhiConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Architecture for PhiConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    /// Unbounded: rotary embeddings are computed for any position, and transformers runs
    /// Phi past max_position_embeddings without error.
    fn max_positions(&self) -> Option<i64> {
        None
    }

    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(PhiModel::new(p, self)),
            Task::LanguageModel => Box::new(PhiForCausalLm::new(p, self)),
        })
    }

    /// Per layer, with kv_heads·head_dim = K: q and dense projections 2·2BSH², k and v
    /// 2·2BSHK, the MLP 2·2BSHI, scores and weighted values 2·2BS²H (the full S×S
    /// products). Then the LM head 2BSHV (causal LM only).
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, i, v) = (
            self.hidden_size as f64,
            self.intermediate_size as f64,
            self.vocab_size as f64,
        );
        let kv = (self.kv_heads() * self.head_dim()) as f64;
        let layer = 2.0 * b * s * (2.0 * h * h + 2.0 * h * kv + 2.0 * h * i) + 4.0 * b * s * s * h;
        let head = lm_head_flops(task, b, s, h, v);
        self.num_hidden_layers as f64 * layer + head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! Phi-3 (Abdin et al., 2024, "Phi-3 Technical Report"; also Phi-3.5-mini and Phi-4-mini),
//! following transformers' `modeling_phi3.py`: `Phi3Model` (last hidden state after the
//! final RMSNorm) and `Phi3ForCausalLM` (`model.*`, `lm_head`). A Llama-style pre-norm
//! decoder whose projections are fused: `qkv_proj` (queries, then keys, then values) and
//! `gate_up_proj` (gate, then up) of a SwiGLU MLP; rotary embeddings over the first
//! `partial_rotary_factor` of each head, with `rope_scaling` none or LongRoPE (`longrope`,
//! and its older names `su` and `yarn`), and a sliding window over every layer when
//! `sliding_window` is set. Residual dropout `resid_pdrop` after attention and the MLP.

use super::checks::{check_heads, check_positive};
use super::kv_cache::{CausalLm, KvCache};
use super::layers::{
    attention_flops, decoder_only_models, dropout, gated_mlp_flops, lm_head, lm_head_flops,
    merge_heads, Activation, Embedding, Linear,
};
use super::rotary::{RmsNorm, RopeType, Rotary, RotaryTables};
use super::{parse_config, Architecture, Generator, KvLayout, Model, Task};
use crate::measure::profile::{self, Part};
use anyhow::{bail, Result};
use serde::Deserialize;
use serde_json::Value;
use tch::{nn, Tensor};

/// `Phi3Config`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Phi3Config {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub intermediate_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    /// None (or null): as many as the query heads.
    pub num_key_value_heads: Option<i64>,
    /// transformers reads it when a config.json has it; else hidden / heads.
    pub head_dim: Option<i64>,
    pub resid_pdrop: f64,
    pub attention_dropout: f64,
    pub hidden_act: Activation,
    pub max_position_embeddings: i64,
    pub original_max_position_embeddings: i64,
    pub initializer_range: f64,
    pub rms_norm_eps: f64,
    pub tie_word_embeddings: bool,
    pub rope_theta: f64,
    /// Kept as written; [`Phi3Config::rope`] validates it as Phi3Config does.
    pub rope_scaling: Option<Value>,
    pub partial_rotary_factor: f64,
    pub pad_token_id: Option<i64>,
    pub sliding_window: Option<i64>,
}

impl Default for Phi3Config {
    fn default() -> Self {
        Phi3Config {
            vocab_size: 32064,
            hidden_size: 3072,
            intermediate_size: 8192,
            num_hidden_layers: 32,
            num_attention_heads: 32,
            num_key_value_heads: None,
            head_dim: None,
            resid_pdrop: 0.0,
            attention_dropout: 0.0,
            hidden_act: Activation::Silu,
            max_position_embeddings: 4096,
            original_max_position_embeddings: 4096,
            initializer_range: 0.02,
            rms_norm_eps: 1e-5,
            tie_word_embeddings: false,
            rope_theta: 10000.0,
            rope_scaling: None,
            partial_rotary_factor: 1.0,
            pad_token_id: Some(32000),
            sliding_window: None,
        }
    }
}

impl Phi3Config {
    pub fn from_json(config: &Value) -> Result<Self> {
        let c: Phi3Config = parse_config(config)?;
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<()> {
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.kv_heads()),
            (
                "original_max_position_embeddings",
                self.original_max_position_embeddings,
            ),
        ])?;
        if self.head_dim.is_none() {
            check_heads(
                ("hidden_size", self.hidden_size),
                ("num_attention_heads", self.num_attention_heads),
            )?;
        }
        check_heads(
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.kv_heads()),
        )?;
        if !(0.0..=1.0).contains(&self.partial_rotary_factor) || self.rotary_dim() % 2 != 0 {
            bail!(
                "partial_rotary_factor {} of head size {} must give an even number of rotary \
                 dimensions",
                self.partial_rotary_factor,
                self.head_dim()
            );
        }
        if let Some(w) = self.sliding_window.filter(|&w| w <= 0) {
            bail!("sliding_window must be positive, got {w}");
        }
        self.rope()?;
        Ok(())
    }

    pub fn head_dim(&self) -> i64 {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads)
    }

    pub fn kv_heads(&self) -> i64 {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// `int(head_dim * partial_rotary_factor)`, as transformers truncates it.
    pub fn rotary_dim(&self) -> i64 {
        (self.head_dim() as f64 * self.partial_rotary_factor) as i64
    }

    /// The rotary scaling, checked as `Phi3Config._rope_scaling_validation`: none, or a
    /// LongRoPE `{type, short_factor, long_factor}` with rotary_dim/2 factors each. Its
    /// attention factor is transformers' default, sqrt(1 + ln(f)/ln(original)) for
    /// f = max_position_embeddings / original_max_position_embeddings > 1.
    pub fn rope(&self) -> Result<RopeType> {
        let Some(scaling) = self.rope_scaling.as_ref().filter(|s| !s.is_null()) else {
            return Ok(RopeType::Default);
        };
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct LongRope {
            #[serde(rename = "type", alias = "rope_type")]
            kind: String,
            short_factor: Vec<f64>,
            long_factor: Vec<f64>,
        }
        let s: LongRope = serde_path_to_error::deserialize(scaling.clone()).map_err(|e| {
            anyhow::anyhow!(
                "rope_scaling: {e} (Phi-3 takes {{\"type\": \"longrope\", \"short_factor\": \
                 [...], \"long_factor\": [...]}})"
            )
        })?;
        if !["longrope", "su", "yarn"].contains(&s.kind.as_str()) {
            bail!(
                "rope_scaling type \"{}\" is not supported for phi3 (supported: longrope)",
                s.kind
            );
        }
        let half = (self.rotary_dim() / 2) as usize;
        for (name, factors) in [
            ("short_factor", &s.short_factor),
            ("long_factor", &s.long_factor),
        ] {
            if factors.len() != half {
                bail!(
                    "rope_scaling.{name} has {} entries; the rotary dimension {} needs {half}",
                    factors.len(),
                    self.rotary_dim()
                );
            }
        }
        let original = self.original_max_position_embeddings;
        let factor = self.max_position_embeddings as f64 / original as f64;
        let attention_factor = if factor <= 1.0 {
            1.0
        } else {
            (1.0 + factor.ln() / (original as f64).ln()).sqrt()
        };
        Ok(RopeType::LongRope {
            short_factor: s.short_factor,
            long_factor: s.long_factor,
            original_max_position_embeddings: original,
            attention_factor,
        })
    }
}

struct Attention {
    qkv_proj: Linear,
    o_proj: Linear,
    num_heads: i64,
    num_kv_heads: i64,
    head_dim: i64,
    sliding_window: Option<i64>,
    dropout: f64,
    layer: usize,
}

impl Attention {
    fn new(p: nn::Path, c: &Phi3Config, layer: usize) -> Self {
        let (h, d, std) = (c.hidden_size, c.head_dim(), c.initializer_range);
        let (q_dim, kv_dim) = (c.num_attention_heads * d, c.kv_heads() * d);
        Attention {
            qkv_proj: Linear::new(&p / "qkv_proj", h, q_dim + 2 * kv_dim, false, std),
            o_proj: Linear::new(&p / "o_proj", q_dim, h, false, std),
            num_heads: c.num_attention_heads,
            num_kv_heads: c.kv_heads(),
            head_dim: d,
            sliding_window: c.sliding_window,
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
        let (b, s, _) = xs.size3().expect("hidden states are (batch, seq, hidden)");
        let qkv = self.qkv_proj.forward(xs);
        let (q_dim, kv_dim) = (
            self.num_heads * self.head_dim,
            self.num_kv_heads * self.head_dim,
        );
        let heads = |start: i64, len: i64, n: i64| {
            qkv.narrow(-1, start, len)
                .reshape([b, s, n, self.head_dim])
                .transpose(1, 2)
        };
        let q = heads(0, q_dim, self.num_heads);
        let k = heads(q_dim, kv_dim, self.num_kv_heads);
        let v = heads(q_dim + kv_dim, kv_dim, self.num_kv_heads);
        let dropout = if train { self.dropout } else { 0.0 };
        let context = cache.attend(
            self.layer,
            &rope.apply(&q),
            rope.apply(&k),
            v,
            self.sliding_window,
            None,
            dropout,
        );
        self.o_proj.forward(&merge_heads(&context))
    }
}

/// SwiGLU with one fused projection: `gate, up = gate_up_proj(x).chunk(2)`,
/// `down(up · act(gate))`.
struct Mlp {
    gate_up_proj: Linear,
    down_proj: Linear,
    activation: Activation,
    intermediate: i64,
}

impl Mlp {
    fn new(p: nn::Path, c: &Phi3Config) -> Self {
        let (h, i, std) = (c.hidden_size, c.intermediate_size, c.initializer_range);
        Mlp {
            gate_up_proj: Linear::new(&p / "gate_up_proj", h, 2 * i, false, std),
            down_proj: Linear::new(&p / "down_proj", i, h, false, std),
            activation: c.hidden_act,
            intermediate: i,
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        let _mlp = profile::part(Part::Mlp);
        let fused = self.gate_up_proj.forward(xs);
        let gate = fused.narrow(-1, 0, self.intermediate);
        let up = fused.narrow(-1, self.intermediate, self.intermediate);
        self.down_proj.forward(&(up * self.activation.apply(&gate)))
    }
}

struct DecoderLayer {
    self_attn: Attention,
    mlp: Mlp,
    input_layernorm: RmsNorm,
    post_attention_layernorm: RmsNorm,
    resid_dropout: f64,
}

impl DecoderLayer {
    fn new(p: nn::Path, c: &Phi3Config, layer: usize) -> Self {
        let norm = |name: &str| RmsNorm::new(&p / name, c.hidden_size, c.rms_norm_eps);
        DecoderLayer {
            self_attn: Attention::new(&p / "self_attn", c, layer),
            mlp: Mlp::new(&p / "mlp", c),
            input_layernorm: norm("input_layernorm"),
            post_attention_layernorm: norm("post_attention_layernorm"),
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
        let attended =
            self.self_attn
                .forward(&self.input_layernorm.forward(xs), rope, train, cache);
        let xs = xs + dropout(attended, self.resid_dropout, train);
        let mlp = self
            .mlp
            .forward(&self.post_attention_layernorm.forward(&xs));
        &xs + dropout(mlp, self.resid_dropout, train)
    }
}

/// `Phi3Model`: `embed_tokens`, the layers and the final `norm`.
pub struct Phi3Model {
    embed_tokens: Embedding,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    rotary: Rotary,
}

impl Phi3Model {
    pub fn new(p: nn::Path, c: &Phi3Config) -> Self {
        let layers = &p / "layers";
        let rope = c
            .rope()
            .expect("rope_scaling is validated when the config is parsed");
        Phi3Model {
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
            norm: RmsNorm::new(&p / "norm", c.hidden_size, c.rms_norm_eps),
            rotary: Rotary::new(rope, c.rope_theta, c.rotary_dim(), p.device()),
        }
    }

    /// Last hidden state (batch, seq, hidden), after the final norm.
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

    /// Last hidden state of `input_ids`, the tokens after the `cache`d ones. LongRoPE's
    /// tables switch to the long factors once the positions pass the original context
    /// (`Rotary::tables`).
    pub fn encode_cached(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        let mut xs = self.embed_tokens.forward(input_ids);
        let rope = self
            .rotary
            .tables(cache.past(), input_ids.size()[1], xs.kind());
        for layer in &self.layers {
            xs = layer.forward(&xs, &rope, train, cache);
        }
        self.norm.forward(&xs)
    }
}

/// `Phi3ForCausalLM`: the model under `model.` and `lm_head` (no bias; tied when
/// `tie_word_embeddings`, as Phi-4-mini).
pub struct Phi3ForCausalLm {
    model: Phi3Model,
    lm_head: Linear,
}

impl Phi3ForCausalLm {
    pub fn new(p: nn::Path, c: &Phi3Config) -> Self {
        let model = Phi3Model::new(&p / "model", c);
        let lm_head = lm_head(
            &p / "lm_head",
            c.tie_word_embeddings.then_some(&model.embed_tokens),
            c.hidden_size,
            c.vocab_size,
            false,
            c.initializer_range,
        );
        Phi3ForCausalLm { model, lm_head }
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
        self.head(&self.model.encode_masked(input_ids, padding, train))
    }
}

impl CausalLm for Phi3ForCausalLm {
    fn hidden(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        self.model.encode_cached(input_ids, train, cache)
    }

    fn head(&self, hidden: &Tensor) -> Tensor {
        profile::scope(Part::Head, || self.lm_head.forward(hidden))
    }
}

decoder_only_models!(
    Phi3Model,
    "Phi3Model",
    Phi3ForCausalLm,
    "Phi3ForCausalLM",
    masked
);

pub fn from_json(config: &Value) -> Result<Box<dyn Architecture>> {
    Ok(Box::new(Phi3Config::from_json(config)?))
}

impl Architecture for Phi3Config {
    fn takes_attention_mask(&self) -> bool {
        true
    }

    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    /// Unbounded: rotary embeddings, as transformers runs them past max_position_embeddings.
    fn max_positions(&self) -> Option<i64> {
        None
    }

    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(Phi3Model::new(p, self)),
            Task::LanguageModel => Box::new(Phi3ForCausalLm::new(p, self)),
        })
    }

    fn generator(&self, p: nn::Path) -> Option<Box<dyn Generator>> {
        Some(Box::new(Phi3ForCausalLm::new(p, self)))
    }

    /// One window (or none) for every layer.
    fn kv_layout(&self) -> Option<KvLayout> {
        Some(KvLayout::uniform(
            self.num_hidden_layers,
            self.sliding_window,
            self.kv_heads(),
            self.head_dim(),
        ))
    }

    /// As separate projections: the fused qkv_proj and gate_up_proj multiply the same
    /// numbers ([`attention_flops`], [`gated_mlp_flops`]); then the LM head 2BSHV.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, v) = (self.hidden_size as f64, self.vocab_size as f64);
        let q = (self.num_attention_heads * self.head_dim()) as f64;
        let kv = (self.kv_heads() * self.head_dim()) as f64;
        let layer = attention_flops(b * s, s, h, q, kv)
            + gated_mlp_flops(b * s, h, self.intermediate_size as f64);
        self.num_hidden_layers as f64 * layer + lm_head_flops(task, b, s, h, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phi3_mini_forward_is_about_2_n_flop_per_token() {
        let (_, text) = crate::hub::embedded("microsoft/Phi-3-mini-4k-instruct").unwrap();
        let c = Phi3Config::from_json(&serde_json::from_str(text).unwrap()).unwrap();
        // 3.82B parameters, 0.098B of them in the input embeddings.
        let per_token = c.forward_flops(1, 1, Task::LanguageModel) / 2.0;
        assert!((3.65e9..3.80e9).contains(&per_token), "{per_token:e}");
        assert_eq!(c.rope().unwrap(), RopeType::Default);
        assert_eq!(c.sliding_window, Some(2047));
    }

    #[test]
    fn longrope_takes_its_attention_factor_from_the_context_extension() {
        let (_, text) = crate::hub::embedded("microsoft/Phi-3.5-mini-instruct").unwrap();
        let c = Phi3Config::from_json(&serde_json::from_str(text).unwrap()).unwrap();
        let RopeType::LongRope {
            attention_factor,
            original_max_position_embeddings,
            short_factor,
            ..
        } = c.rope().unwrap()
        else {
            panic!("not longrope")
        };
        // 131072 / 4096 = 32: sqrt(1 + ln 32 / ln 4096) = sqrt(1 + 5/12).
        assert!((attention_factor - (17.0f64 / 12.0).sqrt()).abs() < 1e-12);
        assert_eq!(
            (original_max_position_embeddings, short_factor.len()),
            (4096, 48)
        );
    }

    #[test]
    fn unsupported_rope_scaling_is_named() {
        let bad = |scaling: Value| {
            Phi3Config::from_json(&json!({"hidden_size": 64, "num_attention_heads": 4,
                "rope_scaling": scaling}))
            .unwrap_err()
            .to_string()
        };
        let eight = vec![1.0; 8];
        let err = bad(json!({"type": "dynamic", "short_factor": eight, "long_factor": eight}));
        assert!(err.contains("\"dynamic\" is not supported"), "{err}");
        let err = bad(json!({"type": "longrope", "short_factor": [1.0], "long_factor": [1.0]}));
        assert!(err.contains("short_factor has 1 entries"), "{err}");
        let err = bad(json!({"type": "linear", "factor": 2.0}));
        assert!(err.contains("rope_scaling"), "{err}");
    }
}

//! gemma's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/gemma.rs`).

use super::activation::Activation;
use super::checks::{check_heads, check_positive};
use super::flops::{attention_flops, gated_mlp_flops, lm_head_flops};
use super::rope::{RopeScaling, RopeType};
use super::{parse_config, KvLayout, Spec, Task};
use anyhow::{bail, Result};
use serde::{Deserialize, Deserializer};

/// Which transformers class a config belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Gemma,
    Gemma2,
    Gemma3,
}

/// The keys of `GemmaConfig`, `Gemma2Config` and `Gemma3TextConfig`; a key left out takes
/// its class's default.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Keys {
    model_type: String,
    vocab_size: Option<i64>,
    hidden_size: Option<i64>,
    intermediate_size: Option<i64>,
    num_hidden_layers: Option<i64>,
    num_attention_heads: Option<i64>,
    num_key_value_heads: Option<i64>,
    head_dim: Option<i64>,
    /// Gemma's activation key; Gemma 2 and 3 read `hidden_activation` instead.
    hidden_act: Option<Activation>,
    hidden_activation: Option<Activation>,
    initializer_range: Option<f64>,
    rms_norm_eps: Option<f64>,
    tie_word_embeddings: Option<bool>,
    rope_theta: Option<f64>,
    rope_scaling: Option<RopeScaling>,
    rope_local_base_freq: Option<f64>,
    attention_bias: Option<bool>,
    attention_dropout: Option<f64>,
    pad_token_id: Option<i64>,
    query_pre_attn_scalar: Option<f64>,
    /// Absent (the class default) differs from null (no window).
    #[serde(deserialize_with = "present_i64")]
    sliding_window: Option<Option<i64>>,
    sliding_window_pattern: Option<i64>,
    layer_types: Option<Vec<String>>,
    #[serde(deserialize_with = "present_f64")]
    final_logit_softcapping: Option<Option<f64>>,
    #[serde(deserialize_with = "present_f64")]
    attn_logit_softcapping: Option<Option<f64>>,
    use_bidirectional_attention: Option<bool>,
}

pub fn present_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

pub fn present_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<f64>>, D::Error> {
    Option::<f64>::deserialize(d).map(Some)
}

/// A resolved config, every default filled in as the variant's class does.
#[derive(Debug, Clone)]
pub struct GemmaConfig {
    pub variant: Variant,
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub intermediate_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub num_key_value_heads: i64,
    pub head_dim: i64,
    pub activation: Activation,
    pub initializer_range: f64,
    pub rms_norm_eps: f64,
    pub tie_word_embeddings: bool,
    pub rope_theta: f64,
    pub rope: RopeType,
    /// Gemma 3: the sliding layers' rotary base (default rope, no scaling).
    pub local_rope_theta: Option<f64>,
    pub attention_bias: bool,
    pub attention_dropout: f64,
    pub pad_token_id: Option<i64>,
    /// Attention scale: `query_pre_attn_scalar^-0.5` (Gemma 2/3) or `head_dim^-0.5`.
    pub attention_scale: f64,
    /// Per layer, the attention window (None: full causal attention).
    pub sliding_windows: Vec<Option<i64>>,
    pub attn_logit_softcapping: Option<f64>,
    pub final_logit_softcapping: Option<f64>,
    /// Gemma 2/3's norms after attention and around the MLP.
    pub sandwich_norms: bool,
    /// Gemma 3's per-head q/k norms.
    pub qk_norm: bool,
}

impl GemmaConfig {
    pub fn from_json(config: &serde_json::Value) -> Result<Self> {
        let k: Keys = parse_config(config)?;
        let variant = match k.model_type.as_str() {
            "gemma" => Variant::Gemma,
            "gemma2" => Variant::Gemma2,
            "gemma3_text" => Variant::Gemma3,
            other => bail!("model_type \"{other}\" is not a Gemma text model"),
        };
        // (vocab, hidden, intermediate, layers, heads, kv heads, rope_theta)
        let d = match variant {
            Variant::Gemma => (256000, 3072, 24576, 28, 16, 16, 10000.0),
            Variant::Gemma2 => (256000, 2304, 9216, 26, 8, 4, 10000.0),
            Variant::Gemma3 => (262208, 2304, 9216, 26, 8, 4, 1_000_000.0),
        };
        let layers = k.num_hidden_layers.unwrap_or(d.3);
        let head_dim = k.head_dim.unwrap_or(256);
        let activation = match variant {
            Variant::Gemma => k.hidden_act,
            Variant::Gemma2 | Variant::Gemma3 => k.hidden_activation,
        }
        .unwrap_or(Activation::GeluPytorchTanh);
        let windows = match variant {
            Variant::Gemma => vec![None; layers.max(0) as usize],
            Variant::Gemma2 | Variant::Gemma3 => {
                let window = k.sliding_window.unwrap_or(Some(4096));
                // Gemma 2: every other layer slides; Gemma 3: all but every
                // `sliding_window_pattern`-th.
                let pattern = match variant {
                    Variant::Gemma2 => 2,
                    _ => k.sliding_window_pattern.unwrap_or(6),
                };
                if pattern <= 0 {
                    bail!("sliding_window_pattern must be positive, got {pattern}");
                }
                match &k.layer_types {
                    Some(types) => layer_windows(types, layers, window)?,
                    None => (0..layers)
                        .map(|i| window.filter(|_| (i + 1) % pattern != 0))
                        .collect(),
                }
            }
        };
        if variant == Variant::Gemma3 && k.use_bidirectional_attention.unwrap_or(false) {
            bail!("use_bidirectional_attention: true is not supported (causal attention only)");
        }
        let (attn_cap, final_cap) = match variant {
            Variant::Gemma => (None, None),
            Variant::Gemma2 => (
                k.attn_logit_softcapping.unwrap_or(Some(50.0)),
                k.final_logit_softcapping.unwrap_or(Some(30.0)),
            ),
            // Gemma3Attention stores attn_logit_softcapping but never applies it.
            Variant::Gemma3 => (None, k.final_logit_softcapping.unwrap_or(None)),
        };
        let attention_scale = match variant {
            Variant::Gemma => (head_dim as f64).powf(-0.5),
            _ => k.query_pre_attn_scalar.unwrap_or(256.0).powf(-0.5),
        };
        let rope = match variant {
            // GemmaConfig and Gemma2Config have no rope_scaling.
            Variant::Gemma | Variant::Gemma2 => RopeType::Default,
            Variant::Gemma3 => RopeType::from_scaling(k.rope_scaling.as_ref())?,
        };
        let c = GemmaConfig {
            variant,
            vocab_size: k.vocab_size.unwrap_or(d.0),
            hidden_size: k.hidden_size.unwrap_or(d.1),
            intermediate_size: k.intermediate_size.unwrap_or(d.2),
            num_hidden_layers: layers,
            num_attention_heads: k.num_attention_heads.unwrap_or(d.4),
            num_key_value_heads: k.num_key_value_heads.unwrap_or(d.5),
            head_dim,
            activation,
            initializer_range: k.initializer_range.unwrap_or(0.02),
            rms_norm_eps: k.rms_norm_eps.unwrap_or(1e-6),
            tie_word_embeddings: k.tie_word_embeddings.unwrap_or(true),
            rope_theta: k.rope_theta.unwrap_or(d.6),
            rope,
            local_rope_theta: (variant == Variant::Gemma3)
                .then(|| k.rope_local_base_freq.unwrap_or(10000.0)),
            attention_bias: k.attention_bias.unwrap_or(false),
            attention_dropout: k.attention_dropout.unwrap_or(0.0),
            pad_token_id: k.pad_token_id.or(Some(0)),
            attention_scale,
            sliding_windows: windows,
            attn_logit_softcapping: attn_cap,
            final_logit_softcapping: final_cap,
            sandwich_norms: variant != Variant::Gemma,
            qk_norm: variant == Variant::Gemma3,
        };
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
            ("num_key_value_heads", self.num_key_value_heads),
            ("head_dim", self.head_dim),
        ])?;
        check_heads(
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
        )?;
        if self.head_dim % 2 != 0 {
            bail!(
                "head_dim {} must be even for rotary embeddings",
                self.head_dim
            );
        }
        if let Some(w) = self.sliding_windows.iter().flatten().find(|&&w| w <= 0) {
            bail!("sliding_window must be positive, got {w}");
        }
        for (name, cap) in [
            ("attn_logit_softcapping", self.attn_logit_softcapping),
            ("final_logit_softcapping", self.final_logit_softcapping),
        ] {
            if let Some(cap) = cap.filter(|&c| c <= 0.0) {
                bail!("{name} must be positive, got {cap}");
            }
        }
        Ok(())
    }
}

/// `layer_types`: the window for "sliding_attention" layers, none for "full_attention".
pub fn layer_windows(
    types: &[String],
    layers: i64,
    window: Option<i64>,
) -> Result<Vec<Option<i64>>> {
    if types.len() as i64 != layers {
        bail!(
            "layer_types has {} entries for {layers} layers",
            types.len()
        );
    }
    types
        .iter()
        .map(|t| match t.as_str() {
            "full_attention" => Ok(None),
            "sliding_attention" => Ok(window),
            other => bail!(
                "layer_types: \"{other}\" is not supported (full_attention, sliding_attention)"
            ),
        })
        .collect()
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    Ok(Box::new(GemmaConfig::from_json(config)?))
}

impl Spec for GemmaConfig {
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

    /// Gemma 2/3's sliding layers hold at most their window.
    fn kv_layout(&self) -> Option<KvLayout> {
        Some(KvLayout {
            windows: self.sliding_windows.clone(),
            kv_heads: self.num_key_value_heads,
            head_dim: self.head_dim,
            cross_layers: 0,
        })
    }

    /// As Llama's (q, k, v, o projections, the three GeGLU matrices, full S×S scores and
    /// values, which also the sliding layers compute in eager attention), then the head.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, v) = (self.hidden_size as f64, self.vocab_size as f64);
        let q = (self.num_attention_heads * self.head_dim) as f64;
        let kv = (self.num_key_value_heads * self.head_dim) as f64;
        let layer = attention_flops(b * s, s, h, q, kv)
            + gated_mlp_flops(b * s, h, self.intermediate_size as f64);
        self.num_hidden_layers as f64 * layer + lm_head_flops(task, b, s, h, v)
    }

    /// Token embeddings V·H; per layer q, k, v, o (biases with `attention_bias`), Gemma 3's
    /// per-head q/k norms, the GeGLU MLP 3·H·I (no biases), two RMSNorm weights (four with
    /// Gemma 2/3's sandwich norms); the final norm; `lm_head` V·H unless tied.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (h, d, v) = (self.hidden_size, self.head_dim, self.vocab_size);
        let (q, kv) = (self.num_attention_heads * d, self.num_key_value_heads * d);
        let bias = if self.attention_bias {
            q + 2 * kv + h
        } else {
            0
        };
        let qk_norms = if self.qk_norm { 2 * d } else { 0 };
        let norms = if self.sandwich_norms { 4 * h } else { 2 * h };
        let layer = 2 * h * q + 2 * h * kv + bias + qk_norms + 3 * h * self.intermediate_size;
        let head = match (task, self.tie_word_embeddings) {
            (Task::LanguageModel, false) => v * h,
            _ => 0,
        };
        Some((v * h + self.num_hidden_layers * (layer + norms) + h + head) as f64)
    }
}

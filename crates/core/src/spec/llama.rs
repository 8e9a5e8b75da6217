//! llama's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/llama.rs`).

use super::activation::Activation;
use super::checks::check_positive;
use super::flops::{attention_flops, gated_mlp_flops, lm_head_flops};
use super::moe::{MoeConfig, Naming};
use super::rope::{RopeScaling, RopeType};
use super::{parse_config, KvLayout, Spec, Task};
use anyhow::{bail, Result};
use serde::{Deserialize, Deserializer};

/// Which transformers class a config belongs to: it decides the defaults and switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Llama,
    Mistral,
    Qwen2,
    Qwen3,
    Mixtral,
    Qwen3Moe,
}

impl Variant {
    pub fn from_model_type(model_type: &str) -> Result<Self> {
        Ok(match model_type {
            "llama" => Variant::Llama,
            "mistral" => Variant::Mistral,
            "qwen2" => Variant::Qwen2,
            "qwen3" => Variant::Qwen3,
            "mixtral" => Variant::Mixtral,
            "qwen3_moe" => Variant::Qwen3Moe,
            other => bail!("model_type \"{other}\" is not a Llama-style decoder"),
        })
    }
}

/// The keys of `LlamaConfig`, `MistralConfig`, `Qwen2Config` and `Qwen3Config` as a
/// config.json writes them; a key left out or null takes its class's default.
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
    hidden_act: Option<Activation>,
    initializer_range: Option<f64>,
    rms_norm_eps: Option<f64>,
    tie_word_embeddings: Option<bool>,
    rope_theta: Option<f64>,
    rope_scaling: Option<RopeScaling>,
    attention_bias: Option<bool>,
    mlp_bias: Option<bool>,
    attention_dropout: Option<f64>,
    pad_token_id: Option<i64>,
    /// Absent (the class default, 4096) differs from null (no window).
    #[serde(deserialize_with = "present")]
    sliding_window: Option<Option<i64>>,
    use_sliding_window: Option<bool>,
    max_window_layers: Option<i64>,
    layer_types: Option<Vec<String>>,
    // Mixture of experts (Mixtral: num_local_experts; Qwen3-MoE: num_experts).
    num_local_experts: Option<i64>,
    num_experts: Option<i64>,
    num_experts_per_tok: Option<i64>,
    moe_intermediate_size: Option<i64>,
    norm_topk_prob: Option<bool>,
    decoder_sparse_step: Option<i64>,
    mlp_only_layers: Option<Vec<i64>>,
    output_router_logits: Option<bool>,
    router_aux_loss_coef: Option<f64>,
    router_jitter_noise: Option<f64>,
}

pub fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

/// A resolved config: every default filled in as the variant's transformers class does.
#[derive(Debug, Clone)]
pub struct LlamaConfig {
    pub variant: Variant,
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub intermediate_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub num_key_value_heads: i64,
    pub head_dim: i64,
    pub hidden_act: Activation,
    pub initializer_range: f64,
    pub rms_norm_eps: f64,
    pub tie_word_embeddings: bool,
    pub rope_theta: f64,
    pub rope: RopeType,
    /// Biases of q_proj, k_proj, v_proj.
    pub qkv_bias: bool,
    pub o_bias: bool,
    pub mlp_bias: bool,
    /// Qwen3's per-head RMSNorm of queries and keys, before the rotation.
    pub qk_norm: bool,
    pub attention_dropout: f64,
    pub pad_token_id: Option<i64>,
    /// Per layer, the attention window (None: full causal attention).
    pub sliding_windows: Vec<Option<i64>>,
    /// Mixtral and Qwen3-MoE: the routed experts.
    pub moe: Option<MoeConfig>,
}

impl LlamaConfig {
    pub fn from_json(config: &serde_json::Value) -> Result<Self> {
        let k: Keys = parse_config(config)?;
        let variant = Variant::from_model_type(&k.model_type)?;
        let qwen = matches!(variant, Variant::Qwen2 | Variant::Qwen3);
        // (vocab, hidden, intermediate, layers, heads, rope_theta, rms_norm_eps)
        let d = match variant {
            Variant::Llama => (32000, 4096, 11008, 32, 32, 10000.0, 1e-6),
            Variant::Mistral => (32000, 4096, 14336, 32, 32, 10000.0, 1e-6),
            Variant::Qwen2 | Variant::Qwen3 => (151936, 4096, 22016, 32, 32, 10000.0, 1e-6),
            Variant::Mixtral => (32000, 4096, 14336, 32, 32, 1e6, 1e-5),
            Variant::Qwen3Moe => (151936, 2048, 6144, 24, 32, 10000.0, 1e-6),
        };
        let hidden_size = k.hidden_size.unwrap_or(d.1);
        let heads = k.num_attention_heads.unwrap_or(d.4);
        let num_hidden_layers = k.num_hidden_layers.unwrap_or(d.3);
        let kv_default = match variant {
            Variant::Mistral | Variant::Mixtral => 8,
            Variant::Qwen3Moe => 4,
            _ => heads,
        };
        let kv_heads = match config.get("num_key_value_heads") {
            // An explicit null means "as many as the query heads" in every class.
            Some(serde_json::Value::Null) => heads,
            _ => k.num_key_value_heads.unwrap_or(kv_default),
        };
        if heads <= 0 || (k.head_dim.is_none() && hidden_size % heads != 0) {
            bail!("hidden_size {hidden_size} is not a multiple of num_attention_heads {heads}");
        }
        let head_dim = match (variant, k.head_dim) {
            (_, Some(d)) => d,
            (Variant::Qwen3, None) => 128,
            _ => hidden_size / heads,
        };
        let attention_bias = k.attention_bias.unwrap_or(false);
        let (qkv_bias, o_bias) = match variant {
            Variant::Llama | Variant::Qwen3 | Variant::Qwen3Moe => (attention_bias, attention_bias),
            Variant::Mistral | Variant::Mixtral => (false, false),
            Variant::Qwen2 => (true, false),
        };
        // Mistral always slides (window 4096 unless given), Mixtral when sliding_window is
        // set, Qwen3-MoE in every layer with use_sliding_window; Qwen2/3 only with
        // use_sliding_window, in the layers its layer_types (by default: from
        // max_window_layers on) mark as sliding.
        let layers = num_hidden_layers.max(0) as usize;
        let window = k.sliding_window.unwrap_or(Some(4096));
        let sliding_windows = if variant == Variant::Mistral {
            vec![window; layers]
        } else if variant == Variant::Mixtral {
            vec![k.sliding_window.flatten(); layers]
        } else if variant == Variant::Qwen3Moe {
            let slides = k.use_sliding_window.unwrap_or(false);
            vec![window.filter(|_| slides); layers]
        } else if qwen && k.use_sliding_window.unwrap_or(false) {
            let first_sliding = k.max_window_layers.unwrap_or(28);
            match &k.layer_types {
                Some(types) => layer_windows(types, num_hidden_layers, window)?,
                None => (0..num_hidden_layers)
                    .map(|i| window.filter(|_| i >= first_sliding))
                    .collect(),
            }
        } else {
            vec![None; num_hidden_layers.max(0) as usize]
        };
        let moe = moe_config(
            &k,
            variant,
            num_hidden_layers,
            k.intermediate_size.unwrap_or(d.2),
        )?;
        let c = LlamaConfig {
            variant,
            vocab_size: k.vocab_size.unwrap_or(d.0),
            hidden_size,
            intermediate_size: k.intermediate_size.unwrap_or(d.2),
            num_hidden_layers,
            num_attention_heads: heads,
            num_key_value_heads: kv_heads,
            head_dim,
            hidden_act: k.hidden_act.unwrap_or(Activation::Silu),
            initializer_range: k.initializer_range.unwrap_or(0.02),
            rms_norm_eps: k.rms_norm_eps.unwrap_or(d.6),
            tie_word_embeddings: k.tie_word_embeddings.unwrap_or(false),
            rope_theta: k.rope_theta.unwrap_or(d.5),
            rope: RopeType::from_scaling(k.rope_scaling.as_ref())?,
            qkv_bias,
            o_bias,
            mlp_bias: variant == Variant::Llama && k.mlp_bias.unwrap_or(false),
            qk_norm: matches!(variant, Variant::Qwen3 | Variant::Qwen3Moe),
            attention_dropout: k.attention_dropout.unwrap_or(0.0),
            pad_token_id: k.pad_token_id,
            sliding_windows,
            moe,
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
            ("num_key_value_heads", self.num_key_value_heads),
            ("head_dim", self.head_dim),
        ])?;
        if self.num_attention_heads % self.num_key_value_heads != 0 {
            bail!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_attention_heads,
                self.num_key_value_heads
            );
        }
        if self.head_dim % 2 != 0 {
            bail!(
                "head_dim {} must be even for rotary embeddings",
                self.head_dim
            );
        }
        if let Some(w) = self.sliding_windows.iter().flatten().find(|&&w| w <= 0) {
            bail!("sliding_window must be positive, got {w}");
        }
        if let Some(moe) = &self.moe {
            moe.validate()?;
        }
        Ok(())
    }
}

/// The experts of a Mixtral or Qwen3-MoE config, with each class's defaults; None for the
/// dense variants.
pub fn moe_config(
    k: &Keys,
    variant: Variant,
    layers: i64,
    intermediate: i64,
) -> Result<Option<MoeConfig>> {
    let layers = 0..layers.max(0);
    Ok(Some(match variant {
        Variant::Mixtral => MoeConfig {
            naming: Naming::Mixtral,
            num_experts: k.num_local_experts.unwrap_or(8),
            top_k: k.num_experts_per_tok.unwrap_or(2),
            expert_intermediate_size: intermediate,
            norm_topk_prob: true,
            sparse_layers: layers.map(|_| true).collect(),
            output_router_logits: k.output_router_logits.unwrap_or(false),
            router_aux_loss_coef: k.router_aux_loss_coef.unwrap_or(0.001),
            router_jitter_noise: k.router_jitter_noise.unwrap_or(0.0),
        },
        Variant::Qwen3Moe => {
            let experts = k.num_experts.unwrap_or(128);
            let step = k.decoder_sparse_step.unwrap_or(1);
            if step <= 0 {
                bail!("decoder_sparse_step must be positive, got {step}");
            }
            let dense = k.mlp_only_layers.clone().unwrap_or_default();
            MoeConfig {
                naming: Naming::Qwen,
                num_experts: experts,
                top_k: k.num_experts_per_tok.unwrap_or(8),
                expert_intermediate_size: k.moe_intermediate_size.unwrap_or(768),
                norm_topk_prob: k.norm_topk_prob.unwrap_or(false),
                sparse_layers: layers
                    .map(|i| !dense.contains(&i) && experts > 0 && (i + 1) % step == 0)
                    .collect(),
                output_router_logits: k.output_router_logits.unwrap_or(false),
                router_aux_loss_coef: k.router_aux_loss_coef.unwrap_or(0.001),
                router_jitter_noise: 0.0,
            }
        }
        _ => return Ok(None),
    }))
}

/// Qwen's `layer_types`: the window for "sliding_attention" layers, none for the others.
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
    Ok(Box::new(LlamaConfig::from_json(config)?))
}

impl Spec for LlamaConfig {
    fn experts(&self) -> Option<&MoeConfig> {
        self.moe.as_ref()
    }

    fn takes_attention_mask(&self) -> bool {
        true
    }

    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    /// Unbounded: rotary embeddings are computed for any position, and transformers runs
    /// these models past max_position_embeddings without error.
    fn max_positions(&self) -> Option<i64> {
        None
    }

    fn kv_layout(&self) -> Option<KvLayout> {
        Some(KvLayout {
            windows: self.sliding_windows.clone(),
            kv_heads: self.num_key_value_heads,
            head_dim: self.head_dim,
            cross_layers: 0,
        })
    }

    /// Per layer, with heads·head_dim = Q and kv_heads·head_dim = K: q and o projections
    /// 2·2BSHQ, k and v 2·2BSHK, the SwiGLU MLP 3·2BSHI, scores and weighted values
    /// 2·2BS²Q (the full S×S products, as eager attention computes them, although the
    /// causal kernel skips the masked half). A sparse layer's MLP counts the router and
    /// only the top-k experts each token is routed to ([`MoeConfig::flops`]), not all of
    /// them. Then the LM head 2BSHV (causal LM only).
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, v) = (self.hidden_size as f64, self.vocab_size as f64);
        let q = (self.num_attention_heads * self.head_dim) as f64;
        let kv = (self.num_key_value_heads * self.head_dim) as f64;
        let attention = attention_flops(b * s, s, h, q, kv);
        let dense = gated_mlp_flops(b * s, h, self.intermediate_size as f64);
        let mlps: f64 = (0..self.num_hidden_layers as usize)
            .map(|layer| match &self.moe {
                Some(moe) if moe.sparse_layers[layer] => moe.flops(b * s, h),
                _ => dense,
            })
            .sum();
        self.num_hidden_layers as f64 * attention + mlps + lm_head_flops(task, b, s, h, v)
    }

    /// Token embeddings V·H; per layer q, k, v, o (biases where the variant has them),
    /// Qwen3's per-head q/k RMSNorm weights, two RMSNorm weights, and a gated MLP (three
    /// matrices, biases with `mlp_bias`) or a mixture of experts (router H·E, E gated
    /// experts); the final norm; `lm_head` V·H unless tied.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (h, d, v) = (self.hidden_size, self.head_dim, self.vocab_size);
        let (q, kv) = (self.num_attention_heads * d, self.num_key_value_heads * d);
        let bias = |on: bool, n: i64| if on { n } else { 0 };
        let attention = 2 * h * q
            + 2 * h * kv
            + bias(self.qkv_bias, q + 2 * kv)
            + bias(self.o_bias, h)
            + bias(self.qk_norm, 2 * d);
        let i = self.intermediate_size;
        let dense = 3 * h * i + bias(self.mlp_bias, 2 * i + h);
        let mlps: i64 = (0..self.num_hidden_layers as usize)
            .map(|layer| match &self.moe {
                Some(moe) if moe.sparse_layers[layer] => {
                    h * moe.num_experts + moe.num_experts * 3 * h * moe.expert_intermediate_size
                }
                _ => dense,
            })
            .sum();
        let layers = self.num_hidden_layers * (attention + 2 * h) + mlps;
        let head = match (task, self.tie_word_embeddings) {
            (Task::LanguageModel, false) => v * h,
            _ => 0,
        };
        Some((v * h + layers + h + head) as f64)
    }
}

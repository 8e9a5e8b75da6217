//! Gemma (Gemma Team, 2024, "Gemma: Open Models Based on Gemini Research and Technology"),
//! Gemma 2 ("Gemma 2: Improving Open Language Models at a Practical Size") and Gemma 3's
//! text model ("Gemma 3 Technical Report", 2025), following transformers'
//! `modeling_gemma.py`, `modeling_gemma2.py` and `modeling_gemma3.py` (`Gemma3TextModel`,
//! `Gemma3ForCausalLM`). All three are Llama-style decoders with RMSNorm scaled by
//! `1 + weight` (computed in float32), a GeGLU MLP, embeddings multiplied by sqrt(hidden)
//! and a head tied to the embeddings. Gemma 2 adds a norm after attention and around the
//! MLP, attention scaled by `query_pre_attn_scalar`, soft-capped attention scores and
//! logits, and sliding-window attention in the layers `layer_types` marks (every other one
//! by default). Gemma 3 keeps the four norms, drops the capping (transformers ignores
//! `attn_logit_softcapping` there), adds per-head q/k norms and gives the sliding layers
//! their own rotary base (`rope_local_base_freq`). Parameter paths are the checkpoint's:
//! `model.layers.0.self_attn.q_proj.weight`.

use super::kv_cache::{AttentionOptions, CausalLm, KvCache};
use super::layers::Apply;
use super::layers::{causal_lm_loss, lm_head, merge_heads, Activation, Embedding, Linear};
use super::rotary::{RopeType, Rotary, RotaryTables};
use super::{Architecture, Generator, Model, Task};
use crate::measure::profile::{self, Part};
use anyhow::{bail, Result};
use tch::{nn, Kind, Tensor};

pub use run_benchmark_core::spec::gemma::*;
/// Gemma's RMSNorm: `x / sqrt(mean(x²) + eps) · (1 + weight)` in float32, cast back; the
/// weight starts at zero.
#[derive(Debug)]
pub struct GemmaRmsNorm {
    pub weight: Tensor,
    eps: f64,
    dim: i64,
}

impl GemmaRmsNorm {
    pub fn new(p: nn::Path, dim: i64, eps: f64) -> Self {
        GemmaRmsNorm {
            weight: p.var("weight", &[dim], nn::Init::Const(0.0)),
            eps,
            dim,
        }
    }

    pub fn forward(&self, xs: &Tensor) -> Tensor {
        let _norm = profile::part(Part::Norm);
        let normed = xs
            .to_kind(Kind::Float)
            .rms_norm([self.dim], None::<&Tensor>, self.eps);
        (normed * (self.weight.to_kind(Kind::Float) + 1.0)).to_kind(xs.kind())
    }
}

struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: Option<GemmaRmsNorm>,
    k_norm: Option<GemmaRmsNorm>,
    num_heads: i64,
    num_kv_heads: i64,
    head_dim: i64,
    options: AttentionOptions,
    layer: usize,
}

impl Attention {
    fn new(p: nn::Path, c: &GemmaConfig, layer: usize) -> Self {
        let (h, d, std) = (c.hidden_size, c.head_dim, c.initializer_range);
        let (q_dim, kv_dim) = (c.num_attention_heads * d, c.num_key_value_heads * d);
        let bias = c.attention_bias;
        let norm = |name: &str| GemmaRmsNorm::new(&p / name, d, c.rms_norm_eps);
        Attention {
            q_proj: Linear::new(&p / "q_proj", h, q_dim, bias, std),
            k_proj: Linear::new(&p / "k_proj", h, kv_dim, bias, std),
            v_proj: Linear::new(&p / "v_proj", h, kv_dim, bias, std),
            o_proj: Linear::new(&p / "o_proj", q_dim, h, bias, std),
            q_norm: c.qk_norm.then(|| norm("q_norm")),
            k_norm: c.qk_norm.then(|| norm("k_norm")),
            num_heads: c.num_attention_heads,
            num_kv_heads: c.num_key_value_heads,
            head_dim: d,
            options: AttentionOptions {
                sliding_window: c.sliding_windows[layer],
                scale: Some(c.attention_scale),
                softcap: c.attn_logit_softcapping,
                dropout: c.attention_dropout,
            },
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
        let heads = |t: Tensor, n: i64, norm: &Option<GemmaRmsNorm>| {
            let t = t.view([b, s, n, self.head_dim]);
            let t = match norm {
                Some(norm) => norm.forward(&t),
                None => t,
            };
            t.transpose(1, 2)
        };
        let q = heads(self.q_proj.forward(xs), self.num_heads, &self.q_norm);
        let k = heads(self.k_proj.forward(xs), self.num_kv_heads, &self.k_norm);
        let v = heads(self.v_proj.forward(xs), self.num_kv_heads, &None);
        let options = AttentionOptions {
            dropout: if train { self.options.dropout } else { 0.0 },
            ..self.options
        };
        let context = cache.attend_with(self.layer, &rope.apply(&q), rope.apply(&k), v, options);
        self.o_proj.forward(&merge_heads(&context))
    }
}

/// GeGLU: `down(act(gate(x)) · up(x))`, no biases.
struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
    activation: Activation,
}

impl Mlp {
    fn new(p: nn::Path, c: &GemmaConfig) -> Self {
        let (h, i, std) = (c.hidden_size, c.intermediate_size, c.initializer_range);
        Mlp {
            gate_proj: Linear::new(&p / "gate_proj", h, i, false, std),
            up_proj: Linear::new(&p / "up_proj", h, i, false, std),
            down_proj: Linear::new(&p / "down_proj", i, h, false, std),
            activation: c.activation,
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        let _mlp = profile::part(Part::Mlp);
        let gate = self.activation.apply(&self.gate_proj.forward(xs));
        self.down_proj.forward(&(gate * self.up_proj.forward(xs)))
    }
}

struct DecoderLayer {
    self_attn: Attention,
    mlp: Mlp,
    input_layernorm: GemmaRmsNorm,
    post_attention_layernorm: GemmaRmsNorm,
    /// Gemma 2/3: (pre_feedforward_layernorm, post_feedforward_layernorm).
    feedforward_norms: Option<(GemmaRmsNorm, GemmaRmsNorm)>,
    sliding: bool,
}

impl DecoderLayer {
    fn new(p: nn::Path, c: &GemmaConfig, layer: usize) -> Self {
        let norm = |name: &str| GemmaRmsNorm::new(&p / name, c.hidden_size, c.rms_norm_eps);
        DecoderLayer {
            self_attn: Attention::new(&p / "self_attn", c, layer),
            mlp: Mlp::new(&p / "mlp", c),
            input_layernorm: norm("input_layernorm"),
            post_attention_layernorm: norm("post_attention_layernorm"),
            feedforward_norms: c.sandwich_norms.then(|| {
                (
                    norm("pre_feedforward_layernorm"),
                    norm("post_feedforward_layernorm"),
                )
            }),
            sliding: c.sliding_windows[layer].is_some(),
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
        match &self.feedforward_norms {
            // Gemma: pre-norm, as Llama; post_attention_layernorm feeds the MLP.
            None => {
                let xs = xs + attended;
                let mlp = self
                    .mlp
                    .forward(&self.post_attention_layernorm.forward(&xs));
                xs + mlp
            }
            Some((pre, post)) => {
                let xs = xs + self.post_attention_layernorm.forward(&attended);
                let mlp = post.forward(&self.mlp.forward(&pre.forward(&xs)));
                xs + mlp
            }
        }
    }
}

/// `GemmaModel`, `Gemma2Model`, `Gemma3TextModel`: scaled embeddings, layers, final norm.
pub struct GemmaModel {
    embed_tokens: Embedding,
    layers: Vec<DecoderLayer>,
    norm: GemmaRmsNorm,
    rotary: Rotary,
    /// Gemma 3's rotary embeddings of the sliding layers.
    rotary_local: Option<Rotary>,
    embed_scale: f64,
}

impl GemmaModel {
    pub fn new(p: nn::Path, c: &GemmaConfig) -> Self {
        let layers = &p / "layers";
        GemmaModel {
            embed_tokens: Embedding::new(
                &p / "embed_tokens",
                c.vocab_size,
                c.hidden_size,
                c.initializer_range,
                c.pad_token_id,
            ),
            layers: (0..c.num_hidden_layers as usize)
                .map(|i| DecoderLayer::new(&layers / i, c, i))
                .collect(),
            norm: GemmaRmsNorm::new(&p / "norm", c.hidden_size, c.rms_norm_eps),
            rotary: Rotary::new(c.rope.clone(), c.rope_theta, c.head_dim, p.device()),
            rotary_local: c
                .local_rope_theta
                .map(|theta| Rotary::new(RopeType::Default, theta, c.head_dim, p.device())),
            embed_scale: (c.hidden_size as f64).sqrt(),
        }
    }

    /// Last hidden state (batch, seq, hidden), after the final norm.
    pub fn encode(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.encode_masked(input_ids, None, train)
    }

    /// [`Self::encode`] with an attention mask (batch, seq) over right padding: positions
    /// count from 0 in every row, so real tokens keep theirs; padding keys are hidden, in
    /// the sliding layers too.
    pub fn encode_masked(
        &self,
        input_ids: &Tensor,
        padding: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        self.encode_cached(input_ids, train, &mut KvCache::off_masked(padding))
    }

    /// Last hidden state of `input_ids`, the tokens after the `cache`d ones; the sliding
    /// layers' cache keeps only their window.
    pub fn encode_cached(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        let embedded = self.embed_tokens.forward(input_ids);
        // transformers rounds sqrt(hidden) to the hidden states' dtype first.
        let scale = Tensor::from(self.embed_scale)
            .to_kind(embedded.kind())
            .to_device(embedded.device());
        let mut xs = embedded * scale;
        let (past, seq) = (cache.past(), input_ids.size()[1]);
        let global = self.rotary.tables(past, seq, xs.kind());
        let local = self
            .rotary_local
            .as_ref()
            .map(|r| r.tables(past, seq, xs.kind()));
        for layer in &self.layers {
            let rope = match (&local, layer.sliding) {
                (Some(local), true) => local,
                _ => &global,
            };
            xs = layer.forward(&xs, rope, train, cache);
        }
        self.norm.forward(&xs)
    }
}

/// `GemmaForCausalLM`, `Gemma2ForCausalLM`, `Gemma3ForCausalLM`: the model under `model.`
/// and `lm_head` (tied unless `tie_word_embeddings` is false); logits soft-capped where the
/// config says.
pub struct GemmaForCausalLm {
    model: GemmaModel,
    lm_head: Linear,
    final_logit_softcapping: Option<f64>,
}

impl GemmaForCausalLm {
    pub fn new(p: nn::Path, c: &GemmaConfig) -> Self {
        let model = GemmaModel::new(&p / "model", c);
        let lm_head = lm_head(
            &p / "lm_head",
            c.tie_word_embeddings.then_some(&model.embed_tokens),
            c.hidden_size,
            c.vocab_size,
            false,
            c.initializer_range,
        );
        GemmaForCausalLm {
            model,
            lm_head,
            final_logit_softcapping: c.final_logit_softcapping,
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
        self.head(&self.model.encode_masked(input_ids, padding, train))
    }
}

impl CausalLm for GemmaForCausalLm {
    fn hidden(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        self.model.encode_cached(input_ids, train, cache)
    }

    /// The logits, soft-capped where the config says (also at every decode step, as
    /// transformers' generate sees them).
    fn head(&self, hidden: &Tensor) -> Tensor {
        let _head = profile::part(Part::Head);
        let logits = self.lm_head.forward(hidden);
        match self.final_logit_softcapping {
            Some(cap) => (logits / cap).tanh() * cap,
            None => logits,
        }
    }
}

impl Model for GemmaModel {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(self.encode_masked(input_ids, mask, train))
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("GemmaModel has no language-modelling head; train GemmaForCausalLM instead")
    }
}

impl Model for GemmaForCausalLm {
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

impl Architecture for GemmaConfig {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(GemmaModel::new(p, self)),
            Task::LanguageModel => Box::new(GemmaForCausalLm::new(p, self)),
        })
    }

    fn generator(&self, p: nn::Path) -> Option<Box<dyn Generator>> {
        Some(Box::new(GemmaForCausalLm::new(p, self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Spec;
    use serde_json::json;

    fn parse(config: serde_json::Value) -> GemmaConfig {
        GemmaConfig::from_json(&config).unwrap()
    }

    #[test]
    fn defaults_follow_each_class() {
        let g1 = parse(json!({"model_type": "gemma", "num_hidden_layers": 2}));
        assert_eq!(g1.sliding_windows, [None, None]);
        assert_eq!(
            (g1.attn_logit_softcapping, g1.sandwich_norms),
            (None, false)
        );
        assert_eq!(g1.attention_scale, 1.0 / 16.0);
        let g2 = parse(json!({"model_type": "gemma2", "num_hidden_layers": 4}));
        assert_eq!(g2.sliding_windows, [Some(4096), None, Some(4096), None]);
        assert_eq!(
            (g2.attn_logit_softcapping, g2.final_logit_softcapping),
            (Some(50.0), Some(30.0))
        );
        let g3 = parse(json!({"model_type": "gemma3_text", "num_hidden_layers": 7}));
        let full: Vec<usize> = (0..7)
            .filter(|&i| g3.sliding_windows[i].is_none())
            .collect();
        assert_eq!(full, [5]);
        assert_eq!((g3.qk_norm, g3.local_rope_theta), (true, Some(10000.0)));
        assert_eq!(g3.final_logit_softcapping, None);
    }

    #[test]
    fn unsupported_keys_are_named() {
        let err = GemmaConfig::from_json(&json!({
            "model_type": "gemma3_text", "use_bidirectional_attention": true,
        }))
        .unwrap_err();
        assert!(
            err.to_string().contains("use_bidirectional_attention"),
            "{err}"
        );
        let err = GemmaConfig::from_json(&json!({
            "model_type": "gemma3_text", "rope_scaling": {"rope_type": "yarn", "factor": 2.0},
        }))
        .unwrap_err();
        assert!(
            err.to_string().contains("\"yarn\" is not supported"),
            "{err}"
        );
    }

    #[test]
    fn embedded_gemma_configs_are_about_their_published_sizes() {
        // Non-embedding parameters ≈ forward FLOPs per token / 2 without attention scores.
        for (id, billions) in [
            ("google/gemma-2b", 1.98),
            ("google/gemma-2-2b-it", 2.02),
            ("google/gemma-3-1b-it", 0.70),
        ] {
            let (_, text) = crate::hub::embedded(id).unwrap_or_else(|| panic!("{id}"));
            let c = GemmaConfig::from_json(&serde_json::from_str(text).unwrap()).unwrap();
            let per_token = c.forward_flops(1, 1, Task::Base) / 2.0 / 1e9;
            assert!(
                (per_token - billions).abs() < 0.05 * billions,
                "{id}: {per_token} B"
            );
        }
    }
}

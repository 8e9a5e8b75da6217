//! Phi-3 (Abdin et al., 2024, "Phi-3 Technical Report"; also Phi-3.5-mini and Phi-4-mini),
//! following transformers' `modeling_phi3.py`: `Phi3Model` (last hidden state after the
//! final RMSNorm) and `Phi3ForCausalLM` (`model.*`, `lm_head`). A Llama-style pre-norm
//! decoder whose projections are fused: `qkv_proj` (queries, then keys, then values) and
//! `gate_up_proj` (gate, then up) of a SwiGLU MLP; rotary embeddings over the first
//! `partial_rotary_factor` of each head, with `rope_scaling` none or LongRoPE (`longrope`,
//! and its older names `su` and `yarn`), and a sliding window over every layer when
//! `sliding_window` is set. Residual dropout `resid_pdrop` after attention and the MLP.

use super::kv_cache::{CausalLm, KvCache};
use super::layers::Apply;
use super::layers::{causal_lm_loss, dropout, lm_head, merge_heads, Activation, Embedding, Linear};
use super::rotary::{RmsNorm, Rotary, RotaryTables};
use super::{Architecture, Generator, Model, Task};
use crate::measure::profile::{self, Part};
use anyhow::{bail, Result};
use tch::{nn, Tensor};

pub use run_benchmark_core::spec::phi3::*;

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

impl Model for Phi3Model {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(self.encode_masked(input_ids, mask, train))
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("Phi3Model has no language-modelling head; train Phi3ForCausalLM instead")
    }
}

impl Model for Phi3ForCausalLm {
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

impl Architecture for Phi3Config {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(Phi3Model::new(p, self)),
            Task::LanguageModel => Box::new(Phi3ForCausalLm::new(p, self)),
        })
    }

    fn generator(&self, p: nn::Path) -> Option<Box<dyn Generator>> {
        Some(Box::new(Phi3ForCausalLm::new(p, self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::rotary::RopeType;
    use crate::models::Spec;
    use serde_json::json;
    use serde_json::Value;

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

//! Llama-style decoders: LLaMA (Touvron et al., 2023, "LLaMA: Open and Efficient Foundation
//! Language Models"; also SmolLM2, TinyLlama, Llama 2/3), Mistral (Jiang et al., 2023,
//! "Mistral 7B"), Qwen2 and Qwen3, following transformers' `modeling_llama.py`,
//! `modeling_mistral.py`, `modeling_qwen2.py` and `modeling_qwen3.py`: pre-norm RMSNorm
//! blocks, rotary position embeddings, grouped-query causal attention and a SwiGLU MLP.
//! The four differ only in defaults and a few switches: projection biases (Llama's
//! `attention_bias`/`mlp_bias`, Qwen2's fixed q/k/v biases), Qwen3's per-head q/k RMSNorm,
//! and sliding-window attention (Mistral, Qwen2/3 with `use_sliding_window`), which is
//! implemented, not ignored: a window shorter than the sequence masks the older keys.
//! Their mixture-of-experts siblings are here too: Mixtral (Mistral's attention) and
//! Qwen3-MoE (Qwen3's), whose feed-forward blocks are moe.rs's routed experts
//! (`modeling_mixtral.py`, `modeling_qwen3_moe.py`).
//! `LlamaModel` (last hidden state after the final norm) is the base model and
//! `LlamaForCausalLM` (`model.*`, `lm_head`) the LM. Parameter paths are the checkpoint's:
//! `model.layers.0.self_attn.q_proj.weight`.

use super::kv_cache::{CausalLm, KvCache};
use super::layers::{causal_lm_loss, lm_head, merge_heads, Embedding, GatedMlp, Linear};
use super::moe::{load_balancing_loss, FeedForward, MoeConfig, SparseMoe};
use super::rotary::{RmsNorm, Rotary, RotaryTables};
use super::{Architecture, Generator, Model, Task};
use crate::measure::profile::{self, Part};
use anyhow::{bail, Result};
use tch::{nn, Tensor};

pub use run_benchmark_core::spec::llama::*;
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: Option<RmsNorm>,
    k_norm: Option<RmsNorm>,
    num_heads: i64,
    num_kv_heads: i64,
    head_dim: i64,
    sliding_window: Option<i64>,
    dropout: f64,
    layer: usize,
}

impl Attention {
    fn new(p: nn::Path, c: &LlamaConfig, layer: usize) -> Self {
        let (h, d, std) = (c.hidden_size, c.head_dim, c.initializer_range);
        let (q_dim, kv_dim) = (c.num_attention_heads * d, c.num_key_value_heads * d);
        let norm = |name: &str| RmsNorm::new(&p / name, d, c.rms_norm_eps);
        Attention {
            q_proj: Linear::new(&p / "q_proj", h, q_dim, c.qkv_bias, std),
            k_proj: Linear::new(&p / "k_proj", h, kv_dim, c.qkv_bias, std),
            v_proj: Linear::new(&p / "v_proj", h, kv_dim, c.qkv_bias, std),
            o_proj: Linear::new(&p / "o_proj", q_dim, h, c.o_bias, std),
            q_norm: c.qk_norm.then(|| norm("q_norm")),
            k_norm: c.qk_norm.then(|| norm("k_norm")),
            num_heads: c.num_attention_heads,
            num_kv_heads: c.num_key_value_heads,
            head_dim: d,
            sliding_window: c.sliding_windows[layer],
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
        let heads = |t: Tensor, n: i64, norm: &Option<RmsNorm>| {
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

struct DecoderLayer {
    self_attn: Attention,
    mlp: FeedForward,
    input_layernorm: RmsNorm,
    post_attention_layernorm: RmsNorm,
}

impl DecoderLayer {
    fn new(p: nn::Path, c: &LlamaConfig, layer: usize) -> Self {
        let mlp = match &c.moe {
            Some(moe) if moe.sparse_layers[layer] => FeedForward::Sparse(SparseMoe::new(
                &p / moe.naming.block(),
                moe,
                c.hidden_size,
                c.hidden_act,
                c.initializer_range,
            )),
            _ => FeedForward::Dense(GatedMlp::named(
                &p / "mlp",
                ["gate_proj", "up_proj", "down_proj"],
                c.hidden_size,
                c.intermediate_size,
                c.mlp_bias,
                c.hidden_act,
                c.initializer_range,
            )),
        };
        DecoderLayer {
            self_attn: Attention::new(&p / "self_attn", c, layer),
            mlp,
            input_layernorm: RmsNorm::new(&p / "input_layernorm", c.hidden_size, c.rms_norm_eps),
            post_attention_layernorm: RmsNorm::new(
                &p / "post_attention_layernorm",
                c.hidden_size,
                c.rms_norm_eps,
            ),
        }
    }

    /// The layer's output, and its router logits if its feed-forward block is sparse.
    fn forward(
        &self,
        xs: &Tensor,
        rope: &RotaryTables,
        train: bool,
        cache: &mut KvCache,
    ) -> (Tensor, Option<Tensor>) {
        let _layer = profile::part(Part::Layer);
        let xs = xs
            + self
                .self_attn
                .forward(&self.input_layernorm.forward(xs), rope, train, cache);
        let (mlp, router_logits) = self
            .mlp
            .forward(&self.post_attention_layernorm.forward(&xs), train);
        (xs + mlp, router_logits)
    }
}

/// `LlamaModel` (and Mistral/Qwen2/Qwen3's): embeddings, decoder layers, final RMSNorm.
pub struct LlamaModel {
    embed_tokens: Embedding,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    rotary: Rotary,
}

impl LlamaModel {
    pub fn new(p: nn::Path, c: &LlamaConfig) -> Self {
        let layers = &p / "layers";
        LlamaModel {
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
            norm: RmsNorm::new(&p / "norm", c.hidden_size, c.rms_norm_eps),
            rotary: Rotary::new(c.rope.clone(), c.rope_theta, c.head_dim, p.device()),
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
        self.encode_routed(input_ids, train, &mut KvCache::off_masked(padding))
            .0
    }

    /// Last hidden state of `input_ids` (the tokens after the `cache`d ones) and every
    /// sparse layer's router logits (batch·seq, experts).
    pub fn encode_routed(
        &self,
        input_ids: &Tensor,
        train: bool,
        cache: &mut KvCache,
    ) -> (Tensor, Vec<Tensor>) {
        let mut xs = self.embed_tokens.forward(input_ids);
        let rope = self
            .rotary
            .tables(cache.past(), input_ids.size()[1], xs.kind());
        let mut router_logits = Vec::new();
        for layer in &self.layers {
            let (out, logits) = layer.forward(&xs, &rope, train, cache);
            xs = out;
            router_logits.extend(logits);
        }
        (self.norm.forward(&xs), router_logits)
    }
}

/// `LlamaForCausalLM`: the decoder under `model.` and `lm_head` (no bias), tied to the
/// input embeddings when `tie_word_embeddings`. For the MoE variants, the training loss
/// adds `router_aux_loss_coef` times the load-balancing loss when `output_router_logits`
/// is set, as `MixtralForCausalLM` and `Qwen3MoeForCausalLM` do.
pub struct LlamaForCausalLm {
    model: LlamaModel,
    lm_head: Linear,
    aux_loss: Option<MoeConfig>,
}

impl LlamaForCausalLm {
    pub fn new(p: nn::Path, c: &LlamaConfig) -> Self {
        let model = LlamaModel::new(&p / "model", c);
        let lm_head = lm_head(
            &p / "lm_head",
            c.tie_word_embeddings.then_some(&model.embed_tokens),
            c.hidden_size,
            c.vocab_size,
            false,
            c.initializer_range,
        );
        let aux_loss = c.moe.clone().filter(|m| m.output_router_logits);
        LlamaForCausalLm {
            model,
            lm_head,
            aux_loss,
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
        let hidden = self.model.encode_masked(input_ids, padding, train);
        profile::scope(Part::Head, || self.lm_head.forward(&hidden))
    }

    /// The causal-LM loss with `labels`, plus the router's auxiliary loss where
    /// transformers adds it.
    pub fn lm_loss(&self, input_ids: &Tensor, labels: &Tensor, train: bool) -> Tensor {
        self.lm_loss_masked(input_ids, None, labels, train)
    }

    /// [`Self::lm_loss`] with an attention mask (labels of padding are -100). Padding tokens
    /// are routed too (which changes no real token's experts); the load-balancing loss
    /// leaves them out.
    pub fn lm_loss_masked(
        &self,
        input_ids: &Tensor,
        padding: Option<&Tensor>,
        labels: &Tensor,
        train: bool,
    ) -> Tensor {
        let mut cache = KvCache::off_masked(padding);
        let (hidden, router_logits) = self.model.encode_routed(input_ids, train, &mut cache);
        let logits = profile::scope(Part::Head, || self.lm_head.forward(&hidden));
        let loss = causal_lm_loss(&logits, labels);
        match &self.aux_loss {
            Some(moe) if !router_logits.is_empty() => {
                // Padding is left out of the balance, as transformers given the mask.
                let aux = load_balancing_loss(&router_logits, moe.num_experts, moe.top_k, padding);
                loss + aux * moe.router_aux_loss_coef
            }
            _ => loss,
        }
    }
}

impl CausalLm for LlamaForCausalLm {
    fn hidden(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        self.model.encode_routed(input_ids, train, cache).0
    }

    fn head(&self, hidden: &Tensor) -> Tensor {
        profile::scope(Part::Head, || self.lm_head.forward(hidden))
    }
}

impl Model for LlamaModel {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(self.encode_masked(input_ids, mask, train))
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("LlamaModel has no language-modelling head; train LlamaForCausalLM instead")
    }
}

impl Model for LlamaForCausalLm {
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
        Ok(self.lm_loss_masked(input_ids, mask, labels, train))
    }
}

impl Architecture for LlamaConfig {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(LlamaModel::new(p, self)),
            Task::LanguageModel => Box::new(LlamaForCausalLm::new(p, self)),
        })
    }

    fn generator(&self, p: nn::Path) -> Option<Box<dyn Generator>> {
        Some(Box::new(LlamaForCausalLm::new(p, self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Spec;
    use serde_json::json;

    fn parse(config: serde_json::Value) -> LlamaConfig {
        LlamaConfig::from_json(&config).unwrap()
    }

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        let c = parse(json!({
            "model_type": "llama", "hidden_size": 4, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
            "vocab_size": 10,
        }));
        // B=1, S=2, head_dim 2: Q = 4, K = 2. q, o: 2·(2·2·4·4) = 128; k, v: 2·(2·2·4·2)
        // = 64; MLP: 3·(2·2·4·8) = 384; scores and values: 2·(2·2·2·4) = 64.
        assert_eq!(
            c.forward_flops(1, 2, Task::Base),
            128.0 + 64.0 + 384.0 + 64.0
        );
        // LM head: 2·2·4·10 = 160.
        assert_eq!(c.forward_flops(1, 2, Task::LanguageModel), 640.0 + 160.0);
    }

    #[test]
    fn smollm2_135m_forward_is_about_2_n_flop_per_token() {
        let (_, text) = crate::hub::embedded("HuggingFaceTB/SmolLM2-135M").unwrap();
        let c = LlamaConfig::from_json(&serde_json::from_str(text).unwrap()).unwrap();
        // 106M non-embedding parameters (30 layers of 3.54M) plus the 28M-parameter head.
        let per_token = c.forward_flops(1, 1, Task::LanguageModel) / 2.0;
        assert!((1.30e8..1.40e8).contains(&per_token), "{per_token:e}");
    }

    #[test]
    fn moe_flops_count_only_the_routed_experts() {
        // Per token, forward FLOPs / 2 are the parameters a token passes through except
        // the input embeddings: Mixtral-8x7B's 12.9B active of 46.7B (two of eight
        // experts), Qwen3-30B-A3B's 3.3B active of 30.5B (eight of 128).
        for (id, low, high) in [
            ("mistralai/Mixtral-8x7B-v0.1", 12.6e9, 12.9e9),
            ("Qwen/Qwen3-30B-A3B", 2.95e9, 3.15e9),
        ] {
            let (_, text) = crate::hub::embedded(id).unwrap();
            let c = LlamaConfig::from_json(&serde_json::from_str(text).unwrap()).unwrap();
            let per_token = c.forward_flops(1, 1, Task::LanguageModel) / 2.0;
            assert!((low..high).contains(&per_token), "{id}: {per_token:e}");
        }
    }

    #[test]
    fn qwen3_moe_layers_follow_mlp_only_layers_and_sparse_step() {
        let c = parse(json!({
            "model_type": "qwen3_moe", "num_hidden_layers": 4, "decoder_sparse_step": 2,
            "mlp_only_layers": [3],
        }));
        let moe = c.moe.unwrap();
        assert_eq!(moe.sparse_layers, [false, true, false, false]);
        assert_eq!(
            (moe.num_experts, moe.top_k, moe.norm_topk_prob),
            (128, 8, false)
        );
        assert!(c.qk_norm);
        let mixtral = parse(json!({"model_type": "mixtral"}));
        assert_eq!(mixtral.sliding_windows[0], None);
        assert_eq!((mixtral.rope_theta, mixtral.rms_norm_eps), (1e6, 1e-5));
        assert!(mixtral.moe.unwrap().norm_topk_prob);
        let err = LlamaConfig::from_json(&json!({
            "model_type": "qwen3_moe", "decoder_sparse_step": 0,
        }))
        .unwrap_err();
        assert!(err.to_string().contains("decoder_sparse_step"), "{err}");
        let err = LlamaConfig::from_json(&json!({
            "model_type": "mixtral", "num_local_experts": 2, "num_experts_per_tok": 3,
        }))
        .unwrap_err();
        assert!(err.to_string().contains("num_experts_per_tok 3"), "{err}");
    }

    #[test]
    fn defaults_follow_each_class() {
        let llama = parse(json!({"model_type": "llama"}));
        assert_eq!((llama.num_key_value_heads, llama.head_dim), (32, 128));
        assert!(llama.sliding_windows.iter().all(Option::is_none));
        let mistral = parse(json!({"model_type": "mistral"}));
        assert_eq!(mistral.num_key_value_heads, 8);
        assert_eq!(mistral.sliding_windows[0], Some(4096));
        let no_window = parse(json!({"model_type": "mistral", "sliding_window": null}));
        assert_eq!(no_window.sliding_windows[0], None);
        let qwen2 =
            parse(json!({"model_type": "qwen2", "hidden_size": 64, "num_attention_heads": 4}));
        assert_eq!(
            (qwen2.head_dim, qwen2.qkv_bias, qwen2.o_bias),
            (16, true, false)
        );
        let qwen3 =
            parse(json!({"model_type": "qwen3", "hidden_size": 64, "num_attention_heads": 4}));
        assert_eq!(
            (qwen3.head_dim, qwen3.qk_norm, qwen3.qkv_bias),
            (128, true, false)
        );
        assert!(qwen3.sliding_windows.iter().all(Option::is_none));
    }

    #[test]
    fn qwen_slides_from_max_window_layers_on() {
        let c = parse(json!({
            "model_type": "qwen2", "num_hidden_layers": 3, "use_sliding_window": true,
            "sliding_window": 16, "max_window_layers": 1,
        }));
        assert_eq!(c.sliding_windows, [None, Some(16), Some(16)]);
        let err = LlamaConfig::from_json(&json!({
            "model_type": "qwen3", "num_hidden_layers": 1, "use_sliding_window": true,
            "layer_types": ["chunked_attention"],
        }))
        .unwrap_err();
        assert!(err.to_string().contains("chunked_attention"), "{err}");
    }

    #[test]
    fn unknown_rope_scaling_is_rejected() {
        let err = LlamaConfig::from_json(&json!({
            "model_type": "llama", "rope_scaling": {"type": "dynamic", "factor": 2.0},
        }))
        .unwrap_err();
        assert!(
            err.to_string().contains("\"dynamic\" is not supported"),
            "{err}"
        );
    }
}

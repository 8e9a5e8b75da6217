//! GPT-NeoX (Black et al., 2022, "GPT-NeoX-20B: An Open-Source Autoregressive Language
//! Model") and Pythia (Biderman et al., 2023), following transformers'
//! `modeling_gpt_neox.py`: `GPTNeoXModel` (last hidden state after `final_layer_norm`) and
//! `GPTNeoXForCausalLM` (`gpt_neox.*`, `embed_out`). One fused `query_key_value`
//! projection whose output is laid out per head as [q | k | v], rotary embeddings on the
//! first `rotary_pct` of each head, LayerNorm, and (by default) the parallel residual
//! `x + attn(ln1(x)) + mlp(ln2(x))`.

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

pub use run_benchmark_core::spec::gpt_neox::*;

struct Attention {
    query_key_value: Linear,
    dense: Linear,
    num_heads: i64,
    dropout: f64,
    layer: usize,
}

impl Attention {
    fn new(p: nn::Path, c: &GptNeoxConfig, layer: usize) -> Self {
        let (h, std) = (c.hidden_size, c.initializer_range);
        Attention {
            query_key_value: Linear::new(&p / "query_key_value", h, 3 * h, c.attention_bias, std),
            dense: Linear::new(&p / "dense", h, h, c.attention_bias, std),
            num_heads: c.num_attention_heads,
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
        // Per head, the fused output holds that head's q, k and v side by side.
        let qkv = split_heads(&self.query_key_value.forward(xs), self.num_heads);
        let head_size = qkv.size()[3] / 3;
        let part = |i: i64| qkv.narrow(-1, i * head_size, head_size);
        let dropout = if train { self.dropout } else { 0.0 };
        let context = cache.attend(
            self.layer,
            &rope.apply(&part(0)),
            rope.apply(&part(1)),
            part(2),
            None,
            None,
            dropout,
        );
        self.dense.forward(&merge_heads(&context))
    }
}

struct Mlp {
    dense_h_to_4h: Linear,
    dense_4h_to_h: Linear,
    activation: Activation,
}

impl Mlp {
    fn new(p: nn::Path, c: &GptNeoxConfig) -> Self {
        let (h, i, std) = (c.hidden_size, c.intermediate_size, c.initializer_range);
        Mlp {
            dense_h_to_4h: Linear::new(&p / "dense_h_to_4h", h, i, true, std),
            dense_4h_to_h: Linear::new(&p / "dense_4h_to_h", i, h, true, std),
            activation: c.hidden_act,
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        let _mlp = profile::part(Part::Mlp);
        self.dense_4h_to_h
            .forward(&self.activation.apply(&self.dense_h_to_4h.forward(xs)))
    }
}

struct Layer {
    input_layernorm: LayerNorm,
    post_attention_layernorm: LayerNorm,
    attention: Attention,
    mlp: Mlp,
    use_parallel_residual: bool,
    hidden_dropout: f64,
}

impl Layer {
    fn new(p: nn::Path, c: &GptNeoxConfig, layer: usize) -> Self {
        let (h, eps) = (c.hidden_size, c.layer_norm_eps);
        Layer {
            input_layernorm: LayerNorm::new(&p / "input_layernorm", h, eps),
            post_attention_layernorm: LayerNorm::new(&p / "post_attention_layernorm", h, eps),
            attention: Attention::new(&p / "attention", c, layer),
            mlp: Mlp::new(&p / "mlp", c),
            use_parallel_residual: c.use_parallel_residual,
            hidden_dropout: c.hidden_dropout,
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
            self.attention
                .forward(&self.input_layernorm.forward(xs), rope, train, cache);
        let attended = dropout(attended, self.hidden_dropout, train);
        if self.use_parallel_residual {
            let mlp = self.mlp.forward(&self.post_attention_layernorm.forward(xs));
            dropout(mlp, self.hidden_dropout, train) + attended + xs
        } else {
            let attended = attended + xs;
            let mlp = self
                .mlp
                .forward(&self.post_attention_layernorm.forward(&attended));
            dropout(mlp, self.hidden_dropout, train) + attended
        }
    }
}

/// `GPTNeoXModel`: `embed_in`, the layers and `final_layer_norm`.
pub struct GptNeoxModel {
    embed_in: Embedding,
    layers: Vec<Layer>,
    final_layer_norm: LayerNorm,
    rotary: Rotary,
    hidden_dropout: f64,
}

impl GptNeoxModel {
    pub fn new(p: nn::Path, c: &GptNeoxConfig) -> Self {
        let layers = &p / "layers";
        let rope = RopeType::from_scaling(c.rope_scaling.as_ref())
            .expect("rope_scaling is validated when the config is parsed");
        GptNeoxModel {
            embed_in: Embedding::new(
                &p / "embed_in",
                c.vocab_size,
                c.hidden_size,
                c.initializer_range,
                None,
            ),
            layers: (0..c.num_hidden_layers)
                .map(|i| Layer::new(&layers / i, c, i as usize))
                .collect(),
            final_layer_norm: LayerNorm::new(
                &p / "final_layer_norm",
                c.hidden_size,
                c.layer_norm_eps,
            ),
            rotary: Rotary::new(rope, c.rotary_emb_base, c.rotary_dim(), p.device()),
            hidden_dropout: c.hidden_dropout,
        }
    }

    /// Last hidden state (batch, seq, hidden), after the final LayerNorm.
    pub fn encode(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.encode_cached(input_ids, train, &mut KvCache::off())
    }

    /// Last hidden state of `input_ids`, the tokens after the `cache`d ones.
    pub fn encode_cached(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        let mut xs = dropout(self.embed_in.forward(input_ids), self.hidden_dropout, train);
        let rope = self
            .rotary
            .tables(cache.past(), input_ids.size()[1], xs.kind());
        for layer in &self.layers {
            xs = layer.forward(&xs, &rope, train, cache);
        }
        self.final_layer_norm.forward(&xs)
    }
}

/// `GPTNeoXForCausalLM`: the model under `gpt_neox.` and `embed_out` (no bias), tied to
/// `embed_in` when `tie_word_embeddings`.
pub struct GptNeoxForCausalLm {
    gpt_neox: GptNeoxModel,
    embed_out: Linear,
}

impl GptNeoxForCausalLm {
    pub fn new(p: nn::Path, c: &GptNeoxConfig) -> Self {
        let gpt_neox = GptNeoxModel::new(&p / "gpt_neox", c);
        let embed_out = lm_head(
            &p / "embed_out",
            c.tie_word_embeddings.then_some(&gpt_neox.embed_in),
            c.hidden_size,
            c.vocab_size,
            false,
            c.initializer_range,
        );
        GptNeoxForCausalLm {
            gpt_neox,
            embed_out,
        }
    }

    pub fn logits(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let hidden = self.gpt_neox.encode(input_ids, train);
        profile::scope(Part::Head, || self.embed_out.forward(&hidden))
    }
}

impl CausalLm for GptNeoxForCausalLm {
    fn hidden(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        self.gpt_neox.encode_cached(input_ids, train, cache)
    }

    fn head(&self, hidden: &Tensor) -> Tensor {
        profile::scope(Part::Head, || self.embed_out.forward(hidden))
    }
}

impl Model for GptNeoxModel {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        no_mask(mask)?;
        Ok(self.encode(input_ids, train))
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("GPTNeoXModel has no language-modelling head; train GPTNeoXForCausalLM instead")
    }
}

impl Model for GptNeoxForCausalLm {
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

impl Architecture for GptNeoxConfig {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(GptNeoxModel::new(p, self)),
            Task::LanguageModel => Box::new(GptNeoxForCausalLm::new(p, self)),
        })
    }

    fn generator(&self, p: nn::Path) -> Option<Box<dyn Generator>> {
        Some(Box::new(GptNeoxForCausalLm::new(p, self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Spec;

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        let c = GptNeoxConfig {
            hidden_size: 4,
            intermediate_size: 8,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            vocab_size: 10,
            ..GptNeoxConfig::default()
        };
        // B=1, S=2. qkv: 2·2·4·12 = 192; dense: 2·2·4·4 = 64; MLP: 2·(2·2·4·8) = 256;
        // scores and values: 2·(2·2·2·4) = 64.
        assert_eq!(
            c.forward_flops(1, 2, Task::Base),
            192.0 + 64.0 + 256.0 + 64.0
        );
        // embed_out: 2·2·4·10 = 160.
        assert_eq!(c.forward_flops(1, 2, Task::LanguageModel), 576.0 + 160.0);
    }

    #[test]
    fn pythia_160m_rotates_a_quarter_of_each_head() {
        let (_, text) = crate::hub::embedded("EleutherAI/pythia-160m").unwrap();
        let c: GptNeoxConfig = serde_json::from_str(text).unwrap();
        assert_eq!((c.head_size(), c.rotary_dim()), (64, 16));
        // 85M non-embedding parameters plus the 38.6M-parameter embed_out.
        let per_token = c.forward_flops(1, 1, Task::LanguageModel) / 2.0;
        assert!((1.22e8..1.25e8).contains(&per_token), "{per_token:e}");
    }
}

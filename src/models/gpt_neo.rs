//! GPT-Neo (Black et al., 2021, EleutherAI's GPT-Neo), following transformers'
//! `modeling_gpt_neo.py`: `GPTNeoModel` for inference and `GPTNeoForCausalLM` (lm_head tied
//! to `wte`) for the causal LM loss. Layers alternate global and local (sliding-window)
//! causal attention, and attention scores are not scaled by 1/sqrt(head_dim). Parameter
//! paths are the checkpoint's: `h.0.attn.attention.q_proj.weight`, under `transformer.` in a
//! `GPTNeoForCausalLM`.

use super::kv_cache::{CausalLm, KvCache};
use super::layers::Apply;
use super::layers::{
    causal_lm_loss, dropout, lm_head, merge_heads, split_heads, Activation, Embedding, LayerNorm,
    Linear,
};
use super::{no_mask, Architecture, Generator, Model, Task};
use crate::measure::profile::{self, Part};
use anyhow::{bail, Result};
use tch::{nn, Kind, Tensor};

pub use run_benchmark_core::spec::gpt_neo::*;

struct GptNeoBlock {
    ln_1: LayerNorm,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    ln_2: LayerNorm,
    c_fc: Linear,
    c_proj: Linear,
    /// Local layers' window (`window_size`); None for global layers.
    window: Option<i64>,
    layer: usize,
    num_heads: i64,
    activation: Activation,
    resid_dropout: f64,
    attention_dropout: f64,
}

impl GptNeoBlock {
    fn new(p: nn::Path, c: &GptNeoConfig, attention_type: AttentionType, layer: usize) -> Self {
        let (h, std) = (c.hidden_size, c.initializer_range);
        let (attn, mlp) = (&p / "attn" / "attention", &p / "mlp");
        GptNeoBlock {
            ln_1: LayerNorm::new(&p / "ln_1", h, c.layer_norm_epsilon),
            q_proj: Linear::new(&attn / "q_proj", h, h, false, std),
            k_proj: Linear::new(&attn / "k_proj", h, h, false, std),
            v_proj: Linear::new(&attn / "v_proj", h, h, false, std),
            out_proj: Linear::new(&attn / "out_proj", h, h, true, std),
            ln_2: LayerNorm::new(&p / "ln_2", h, c.layer_norm_epsilon),
            c_fc: Linear::new(&mlp / "c_fc", h, c.inner_dim(), true, std),
            c_proj: Linear::new(&mlp / "c_proj", c.inner_dim(), h, true, std),
            window: (attention_type == AttentionType::Local).then_some(c.window_size),
            layer,
            num_heads: c.num_heads,
            activation: c.activation_function,
            resid_dropout: c.resid_dropout,
            attention_dropout: c.attention_dropout,
        }
    }

    fn attention(&self, xs: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        let _attention = profile::part(Part::Attention);
        let heads = |t: Tensor| split_heads(&t, self.num_heads);
        let attention_dropout = if train { self.attention_dropout } else { 0.0 };
        let context = cache.attend(
            self.layer,
            &heads(self.q_proj.forward(xs)),
            heads(self.k_proj.forward(xs)),
            heads(self.v_proj.forward(xs)),
            self.window,
            // GPT-Neo does not scale the scores.
            Some(1.0),
            attention_dropout,
        );
        dropout(
            self.out_proj.forward(&merge_heads(&context)),
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
        let out = dropout(self.c_proj.forward(&inner), self.resid_dropout, train);
        drop(mlp);
        xs + out
    }
}

/// `GPTNeoModel`: token and learned position embeddings, pre-LN blocks, final `ln_f`.
pub struct GptNeoModel {
    wte: Embedding,
    wpe: Embedding,
    h: Vec<GptNeoBlock>,
    ln_f: LayerNorm,
    embed_dropout: f64,
}

impl GptNeoModel {
    pub fn new(p: nn::Path, c: &GptNeoConfig) -> Self {
        let std = c.initializer_range;
        let blocks = &p / "h";
        GptNeoModel {
            wte: Embedding::new(&p / "wte", c.vocab_size, c.hidden_size, std, None),
            wpe: Embedding::new(
                &p / "wpe",
                c.max_position_embeddings,
                c.hidden_size,
                std,
                None,
            ),
            h: c.layer_types()
                .into_iter()
                .enumerate()
                .map(|(i, kind)| GptNeoBlock::new(&blocks / i, c, kind, i))
                .collect(),
            ln_f: LayerNorm::new(&p / "ln_f", c.hidden_size, c.layer_norm_epsilon),
            embed_dropout: c.embed_dropout,
        }
    }

    /// Last hidden state (batch, seq, hidden), after `ln_f`.
    pub fn encode(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.encode_cached(input_ids, train, &mut KvCache::off())
    }

    /// Last hidden state of `input_ids`, the tokens after the `cache`d ones.
    pub fn encode_cached(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        let (past, seq_len) = (cache.past(), input_ids.size()[1]);
        let positions =
            Tensor::arange_start(past, past + seq_len, (Kind::Int64, input_ids.device()));
        let xs = self.wte.forward(input_ids) + self.wpe.forward(&positions);
        let mut xs = dropout(xs, self.embed_dropout, train);
        for block in &self.h {
            xs = block.forward(&xs, train, cache);
        }
        self.ln_f.forward(&xs)
    }
}

/// `GPTNeoForCausalLM`: `GPTNeoModel` under `transformer`, then `lm_head` (no bias), tied to
/// `wte` unless `tie_word_embeddings` is false.
pub struct GptNeoForCausalLm {
    transformer: GptNeoModel,
    lm_head: Linear,
}

impl GptNeoForCausalLm {
    pub fn new(p: nn::Path, c: &GptNeoConfig) -> Self {
        let transformer = GptNeoModel::new(&p / "transformer", c);
        let lm_head = lm_head(
            &p / "lm_head",
            c.tie_word_embeddings.then_some(&transformer.wte),
            c.hidden_size,
            c.vocab_size,
            false,
            c.initializer_range,
        );
        GptNeoForCausalLm {
            transformer,
            lm_head,
        }
    }

    pub fn logits(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let hidden = self.transformer.encode(input_ids, train);
        profile::scope(Part::Head, || self.lm_head.forward(&hidden))
    }
}

impl CausalLm for GptNeoForCausalLm {
    fn hidden(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        self.transformer.encode_cached(input_ids, train, cache)
    }

    fn head(&self, hidden: &Tensor) -> Tensor {
        profile::scope(Part::Head, || self.lm_head.forward(hidden))
    }
}

impl Model for GptNeoModel {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        no_mask(mask)?;
        Ok(self.encode(input_ids, train))
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("GPTNeoModel has no language-modelling head; train GPTNeoForCausalLM instead")
    }
}

impl Model for GptNeoForCausalLm {
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

impl Architecture for GptNeoConfig {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(GptNeoModel::new(p, self)),
            Task::LanguageModel => Box::new(GptNeoForCausalLm::new(p, self)),
        })
    }

    fn generator(&self, p: nn::Path) -> Option<Box<dyn Generator>> {
        Some(Box::new(GptNeoForCausalLm::new(p, self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::from_json;
    use crate::models::parse_config;
    use crate::models::Spec;

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        let c = GptNeoConfig {
            hidden_size: 4,
            intermediate_size: Some(8),
            num_layers: 1,
            num_heads: 2,
            vocab_size: 10,
            ..GptNeoConfig::default()
        };
        // B=1, S=2. q,k,v,out: 4 · (2·2·4·4) = 256; MLP: 2 · (2·2·4·8) = 256;
        // scores and values: 2 · (2·2·2·4) = 64. lm_head: 2·2·4·10 = 160.
        assert_eq!(c.forward_flops(1, 2, Task::Base), 576.0);
        assert_eq!(c.forward_flops(1, 2, Task::LanguageModel), 576.0 + 160.0);
    }

    #[test]
    fn attention_types_expand_as_transformers() {
        let c: GptNeoConfig = parse_config(&serde_json::json!({
            "num_layers": 5,
            "attention_types": [[["global", "local"], 2], [["local"], 1]],
        }))
        .unwrap();
        use AttentionType::{Global, Local};
        assert_eq!(c.layer_types(), [Global, Local, Global, Local, Local]);
        c.validate().unwrap();
        let err =
            from_json(&serde_json::json!({"model_type": "gpt_neo", "num_layers": 3})).unwrap_err();
        assert!(err.to_string().contains("24 layers"), "{err}");
    }
}

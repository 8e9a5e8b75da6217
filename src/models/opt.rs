//! OPT (Zhang et al., 2022, "OPT: Open Pre-trained Transformer Language Models"), following
//! transformers' `modeling_opt.py`: `OPTModel` for inference and `OPTForCausalLM` (lm_head
//! tied to `embed_tokens`) for the causal LM loss. Parameter paths are the checkpoint's:
//! `decoder.layers.0.self_attn.q_proj.weight`, under `model.` in an `OPTForCausalLM`.

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

pub use run_benchmark_core::spec::opt::*;

struct OptDecoderLayer {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    self_attn_layer_norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    final_layer_norm: LayerNorm,
    num_heads: i64,
    pre_norm: bool,
    activation: Activation,
    dropout: f64,
    attention_dropout: f64,
    layer: usize,
}

impl OptDecoderLayer {
    fn new(p: nn::Path, c: &OptConfig, layer: usize) -> Self {
        let (h, std, bias) = (c.hidden_size, c.init_std, c.enable_bias);
        let attn = &p / "self_attn";
        OptDecoderLayer {
            q_proj: Linear::new(&attn / "q_proj", h, h, bias, std),
            k_proj: Linear::new(&attn / "k_proj", h, h, bias, std),
            v_proj: Linear::new(&attn / "v_proj", h, h, bias, std),
            out_proj: Linear::new(&attn / "out_proj", h, h, bias, std),
            self_attn_layer_norm: LayerNorm::new(&p / "self_attn_layer_norm", h, LAYER_NORM_EPS),
            fc1: Linear::new(&p / "fc1", h, c.ffn_dim, bias, std),
            fc2: Linear::new(&p / "fc2", c.ffn_dim, h, bias, std),
            final_layer_norm: LayerNorm::new(&p / "final_layer_norm", h, LAYER_NORM_EPS),
            num_heads: c.num_attention_heads,
            pre_norm: c.do_layer_norm_before,
            activation: c.activation_function,
            dropout: c.dropout,
            attention_dropout: c.attention_dropout,
            layer,
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
            None,
            None,
            attention_dropout,
        );
        dropout(
            self.out_proj.forward(&merge_heads(&context)),
            self.dropout,
            train,
        )
    }

    fn forward(&self, xs: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        let _layer = profile::part(Part::Layer);
        let attn_in = if self.pre_norm {
            self.self_attn_layer_norm.forward(xs)
        } else {
            xs.shallow_clone()
        };
        let mut xs = xs + self.attention(&attn_in, train, cache);
        if !self.pre_norm {
            xs = self.self_attn_layer_norm.forward(&xs);
        }
        let ffn_in = if self.pre_norm {
            self.final_layer_norm.forward(&xs)
        } else {
            xs.shallow_clone()
        };
        let mlp = profile::part(Part::Mlp);
        let inner = self.activation.apply(&self.fc1.forward(&ffn_in));
        let out = dropout(self.fc2.forward(&inner), self.dropout, train);
        drop(mlp);
        let xs = xs + out;
        if self.pre_norm {
            xs
        } else {
            self.final_layer_norm.forward(&xs)
        }
    }
}

/// `OPTModel`: its `OPTDecoder` under `decoder`.
pub struct OptModel {
    embed_tokens: Embedding,
    embed_positions: Embedding,
    project_in: Option<Linear>,
    project_out: Option<Linear>,
    layers: Vec<OptDecoderLayer>,
    final_layer_norm: Option<LayerNorm>,
    layerdrop: f64,
}

impl OptModel {
    pub fn new(p: nn::Path, c: &OptConfig) -> Self {
        let p = &p / "decoder";
        let (h, e, std) = (c.hidden_size, c.embed_dim(), c.init_std);
        let projected = e != h;
        let layers = &p / "layers";
        OptModel {
            embed_tokens: Embedding::new(&p / "embed_tokens", c.vocab_size, e, std, c.pad_token_id),
            embed_positions: Embedding::new(
                &p / "embed_positions",
                c.max_position_embeddings + POSITION_OFFSET,
                h,
                std,
                None,
            ),
            project_in: projected.then(|| Linear::new(&p / "project_in", e, h, false, std)),
            project_out: projected.then(|| Linear::new(&p / "project_out", h, e, false, std)),
            layers: (0..c.num_hidden_layers)
                .map(|i| OptDecoderLayer::new(&layers / i, c, i as usize))
                .collect(),
            final_layer_norm: (c.do_layer_norm_before && !c.remove_final_layer_norm)
                .then(|| LayerNorm::new(&p / "final_layer_norm", h, LAYER_NORM_EPS)),
            layerdrop: c.layerdrop,
        }
    }

    /// Last hidden state (batch, seq, word_embed_proj_dim).
    pub fn encode(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.encode_cached(input_ids, train, &mut KvCache::off())
    }

    /// Last hidden state of `input_ids`, the tokens after the `cache`d ones.
    pub fn encode_cached(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        let (past, seq_len) = (cache.past(), input_ids.size()[1]);
        // Without padding, transformers' cumsum of the attention mask is 0..seq.
        let positions = Tensor::arange_start(
            past + POSITION_OFFSET,
            past + seq_len + POSITION_OFFSET,
            (Kind::Int64, input_ids.device()),
        );
        let embeds = self.embed_tokens.forward(input_ids);
        let embeds = match &self.project_in {
            Some(project_in) => project_in.forward(&embeds),
            None => embeds,
        };
        let mut xs = embeds + self.embed_positions.forward(&positions);
        for layer in &self.layers {
            // LayerDrop (Fan et al., 2019): in training, each layer is skipped with this
            // probability, as transformers does.
            if train && self.layerdrop > 0.0 && rand_uniform() < self.layerdrop {
                continue;
            }
            xs = layer.forward(&xs, train, cache);
        }
        if let Some(norm) = &self.final_layer_norm {
            xs = norm.forward(&xs);
        }
        match &self.project_out {
            Some(project_out) => project_out.forward(&xs),
            None => xs,
        }
    }
}

/// One draw from U[0, 1) from libtorch's generator, so `tch::manual_seed` governs it.
fn rand_uniform() -> f64 {
    Tensor::rand([], (Kind::Double, tch::Device::Cpu)).double_value(&[])
}

/// `OPTForCausalLM`: `OPTModel` under `model`, then `lm_head` (no bias) on the
/// word_embed_proj_dim outputs, tied to `embed_tokens` unless `tie_word_embeddings` is false.
pub struct OptForCausalLm {
    model: OptModel,
    lm_head: Linear,
}

impl OptForCausalLm {
    pub fn new(p: nn::Path, c: &OptConfig) -> Self {
        let model = OptModel::new(&p / "model", c);
        let lm_head = lm_head(
            &p / "lm_head",
            c.tie_word_embeddings.then_some(&model.embed_tokens),
            c.embed_dim(),
            c.vocab_size,
            false,
            c.init_std,
        );
        OptForCausalLm { model, lm_head }
    }

    pub fn logits(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let hidden = self.model.encode(input_ids, train);
        profile::scope(Part::Head, || self.lm_head.forward(&hidden))
    }
}

impl CausalLm for OptForCausalLm {
    fn hidden(&self, input_ids: &Tensor, train: bool, cache: &mut KvCache) -> Tensor {
        self.model.encode_cached(input_ids, train, cache)
    }

    fn head(&self, hidden: &Tensor) -> Tensor {
        profile::scope(Part::Head, || self.lm_head.forward(hidden))
    }
}

impl Model for OptModel {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        no_mask(mask)?;
        Ok(self.encode(input_ids, train))
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("OPTModel has no language-modelling head; train OPTForCausalLM instead")
    }
}

impl Model for OptForCausalLm {
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

impl Architecture for OptConfig {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(OptModel::new(p, self)),
            Task::LanguageModel => Box::new(OptForCausalLm::new(p, self)),
        })
    }

    fn generator(&self, p: nn::Path) -> Option<Box<dyn Generator>> {
        Some(Box::new(OptForCausalLm::new(p, self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::parse_config;
    use crate::models::Spec;

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        let c = OptConfig {
            hidden_size: 4,
            ffn_dim: 8,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            vocab_size: 10,
            ..OptConfig::default()
        };
        // B=1, S=2. q,k,v,out: 4 · (2·2·4·4) = 256; fc1, fc2: 2 · (2·2·4·8) = 256;
        // scores and values: 2 · (2·2·2·4) = 64.
        assert_eq!(c.forward_flops(1, 2, Task::Base), 576.0);
        // lm_head: 2·2·4·10 = 160.
        assert_eq!(c.forward_flops(1, 2, Task::LanguageModel), 576.0 + 160.0);
        // E = 3: project_in and project_out 2 · (2·2·3·4) = 96; lm_head 2·2·3·10 = 120.
        let projected = OptConfig {
            word_embed_proj_dim: Some(3),
            ..c
        };
        assert_eq!(projected.forward_flops(1, 2, Task::Base), 576.0 + 96.0);
        assert_eq!(
            projected.forward_flops(1, 2, Task::LanguageModel),
            576.0 + 96.0 + 120.0
        );
    }

    #[test]
    fn underscore_key_is_read() {
        let c: OptConfig =
            parse_config(&serde_json::json!({"_remove_final_layer_norm": true})).unwrap();
        assert!(c.remove_final_layer_norm);
    }
}

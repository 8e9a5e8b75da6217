//! OPT (Zhang et al., 2022, "OPT: Open Pre-trained Transformer Language Models"), following
//! transformers' `modeling_opt.py`: `OPTModel` for inference and `OPTForCausalLM` (lm_head
//! tied to `embed_tokens`) for the causal LM loss. Parameter paths are the checkpoint's:
//! `decoder.layers.0.self_attn.q_proj.weight`, under `model.` in an `OPTForCausalLM`.

use super::checks::{check_heads, check_positive};
use super::layers::{
    decoder_only_models, dropout, lm_head, lm_head_flops, merge_heads, split_heads, Activation,
    Embedding, LayerNorm, Linear,
};
use super::{parse_config, Architecture, Model, Task};
use anyhow::{bail, Result};
use serde::Deserialize;
use tch::{nn, Kind, Tensor};

/// OPT's learned positions start at 2: rows 0 and 1 of `embed_positions` are never used
/// without padding, a leftover of fairseq.
const POSITION_OFFSET: i64 = 2;
/// OPT's LayerNorms keep nn.LayerNorm's default epsilon.
const LAYER_NORM_EPS: f64 = 1e-5;

/// `OPTConfig`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OptConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub ffn_dim: i64,
    pub max_position_embeddings: i64,
    /// Pre-LN blocks (most sizes) or post-LN (opt-350m).
    pub do_layer_norm_before: bool,
    #[serde(rename = "_remove_final_layer_norm")]
    pub remove_final_layer_norm: bool,
    /// The embedding width; None means hidden_size. When it differs, project_in and
    /// project_out map between the two.
    pub word_embed_proj_dim: Option<i64>,
    pub dropout: f64,
    pub attention_dropout: f64,
    pub num_attention_heads: i64,
    pub activation_function: Activation,
    pub layerdrop: f64,
    pub init_std: f64,
    pub pad_token_id: Option<i64>,
    pub enable_bias: bool,
    pub layer_norm_elementwise_affine: bool,
    pub tie_word_embeddings: bool,
}

impl Default for OptConfig {
    fn default() -> Self {
        OptConfig {
            vocab_size: 50272,
            hidden_size: 768,
            num_hidden_layers: 12,
            ffn_dim: 3072,
            max_position_embeddings: 2048,
            do_layer_norm_before: true,
            remove_final_layer_norm: false,
            word_embed_proj_dim: None,
            dropout: 0.1,
            attention_dropout: 0.0,
            num_attention_heads: 12,
            activation_function: Activation::Relu,
            layerdrop: 0.0,
            init_std: 0.02,
            pad_token_id: Some(1),
            enable_bias: true,
            layer_norm_elementwise_affine: true,
            tie_word_embeddings: true,
        }
    }
}

impl OptConfig {
    pub fn embed_dim(&self) -> i64 {
        self.word_embed_proj_dim.unwrap_or(self.hidden_size)
    }

    pub fn validate(&self) -> Result<()> {
        check_heads(
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
        )?;
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("ffn_dim", self.ffn_dim),
            ("max_position_embeddings", self.max_position_embeddings),
            ("word_embed_proj_dim", self.embed_dim()),
        ])?;
        if !self.layer_norm_elementwise_affine {
            // transformers 4.57.1 cannot build it either (its _init_weights fills the
            // missing LayerNorm weight).
            bail!("layer_norm_elementwise_affine = false is not supported");
        }
        if !(0.0..=1.0).contains(&self.layerdrop) {
            bail!("layerdrop must be in [0, 1], got {}", self.layerdrop);
        }
        Ok(())
    }
}

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
}

impl OptDecoderLayer {
    fn new(p: nn::Path, c: &OptConfig) -> Self {
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
        }
    }

    fn attention(&self, xs: &Tensor, train: bool) -> Tensor {
        let heads = |t: Tensor| split_heads(&t, self.num_heads);
        let attention_dropout = if train { self.attention_dropout } else { 0.0 };
        let context = Tensor::scaled_dot_product_attention::<Tensor>(
            &heads(self.q_proj.forward(xs)),
            &heads(self.k_proj.forward(xs)),
            &heads(self.v_proj.forward(xs)),
            None,
            attention_dropout,
            true,
            None,
            false,
        );
        dropout(
            self.out_proj.forward(&merge_heads(&context)),
            self.dropout,
            train,
        )
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        let attn_in = if self.pre_norm {
            self.self_attn_layer_norm.forward(xs)
        } else {
            xs.shallow_clone()
        };
        let mut xs = xs + self.attention(&attn_in, train);
        if !self.pre_norm {
            xs = self.self_attn_layer_norm.forward(&xs);
        }
        let ffn_in = if self.pre_norm {
            self.final_layer_norm.forward(&xs)
        } else {
            xs.shallow_clone()
        };
        let inner = self.activation.apply(&self.fc1.forward(&ffn_in));
        let xs = xs + dropout(self.fc2.forward(&inner), self.dropout, train);
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
                .map(|i| OptDecoderLayer::new(&layers / i, c))
                .collect(),
            final_layer_norm: (c.do_layer_norm_before && !c.remove_final_layer_norm)
                .then(|| LayerNorm::new(&p / "final_layer_norm", h, LAYER_NORM_EPS)),
            layerdrop: c.layerdrop,
        }
    }

    /// Last hidden state (batch, seq, word_embed_proj_dim).
    pub fn encode(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let seq_len = input_ids.size()[1];
        // Without padding, transformers' cumsum of the attention mask is 0..seq.
        let positions = Tensor::arange_start(
            POSITION_OFFSET,
            seq_len + POSITION_OFFSET,
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
            xs = layer.forward(&xs, train);
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
        self.lm_head.forward(&self.model.encode(input_ids, train))
    }
}

decoder_only_models!(OptModel, "OPTModel", OptForCausalLm, "OPTForCausalLM");

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Architecture>> {
    let c: OptConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Architecture for OptConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.max_position_embeddings)
    }

    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(OptModel::new(p, self)),
            Task::LanguageModel => Box::new(OptForCausalLm::new(p, self)),
        })
    }

    /// Per layer: q, k, v and out projections 4·2BSH², fc1 and fc2 2·2BSHF, scores and
    /// weighted values 2·2BS²H (full S×S products, as transformers' eager attention). With
    /// word_embed_proj_dim E ≠ H, project_in and project_out add 2·2BSEH. The LM head adds
    /// 2BSEV.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, f, e, v) = (
            self.hidden_size as f64,
            self.ffn_dim as f64,
            self.embed_dim() as f64,
            self.vocab_size as f64,
        );
        let layer = 2.0 * b * s * (4.0 * h * h + 2.0 * h * f) + 4.0 * b * s * s * h;
        let projections = if e != h { 4.0 * b * s * e * h } else { 0.0 };
        let head = lm_head_flops(task, b, s, e, v);
        self.num_hidden_layers as f64 * layer + projections + head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! GPT-Neo (Black et al., 2021, EleutherAI's GPT-Neo), following transformers'
//! `modeling_gpt_neo.py`: `GPTNeoModel` for inference and `GPTNeoForCausalLM` (lm_head tied
//! to `wte`) for the causal LM loss. Layers alternate global and local (sliding-window)
//! causal attention, and attention scores are not scaled by 1/sqrt(head_dim). Parameter
//! paths are the checkpoint's: `h.0.attn.attention.q_proj.weight`, under `transformer.` in a
//! `GPTNeoForCausalLM`.

use super::checks::{check_heads, check_positive};
use super::layers::{
    decoder_only_models, dropout, lm_head, lm_head_flops, merge_heads, split_heads, Activation,
    Embedding, LayerNorm, Linear,
};
use super::{parse_config, Architecture, Model, Task};
use anyhow::{bail, Result};
use serde::Deserialize;
use tch::{nn, Device, Kind, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionType {
    Global,
    Local,
}

/// `GPTNeoConfig`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct GptNeoConfig {
    pub vocab_size: i64,
    pub max_position_embeddings: i64,
    pub hidden_size: i64,
    pub num_layers: i64,
    /// `[[["global", "local"], 12]]`: the pattern, repeated that many times.
    pub attention_types: Vec<(Vec<AttentionType>, usize)>,
    /// The expanded pattern, one entry per layer; transformers takes it from the config
    /// when present, else expands `attention_types`.
    pub attention_layers: Option<Vec<AttentionType>>,
    pub num_heads: i64,
    /// The MLP width; None means 4 · hidden_size.
    pub intermediate_size: Option<i64>,
    pub window_size: i64,
    pub activation_function: Activation,
    pub resid_dropout: f64,
    pub embed_dropout: f64,
    pub attention_dropout: f64,
    pub layer_norm_epsilon: f64,
    pub initializer_range: f64,
    pub tie_word_embeddings: bool,
}

impl Default for GptNeoConfig {
    fn default() -> Self {
        GptNeoConfig {
            vocab_size: 50257,
            max_position_embeddings: 2048,
            hidden_size: 2048,
            num_layers: 24,
            attention_types: vec![(vec![AttentionType::Global, AttentionType::Local], 12)],
            attention_layers: None,
            num_heads: 16,
            intermediate_size: None,
            window_size: 256,
            activation_function: Activation::GeluNew,
            resid_dropout: 0.0,
            embed_dropout: 0.0,
            attention_dropout: 0.0,
            layer_norm_epsilon: 1e-5,
            initializer_range: 0.02,
            tie_word_embeddings: true,
        }
    }
}

impl GptNeoConfig {
    pub fn inner_dim(&self) -> i64 {
        self.intermediate_size.unwrap_or(4 * self.hidden_size)
    }

    fn expanded_attention_types(&self) -> Vec<AttentionType> {
        self.attention_types
            .iter()
            .flat_map(|(pattern, repeat)| {
                pattern.iter().copied().cycle().take(pattern.len() * repeat)
            })
            .collect()
    }

    /// The attention type of every layer.
    pub fn layer_types(&self) -> Vec<AttentionType> {
        self.attention_layers
            .clone()
            .unwrap_or_else(|| self.expanded_attention_types())
    }

    pub fn validate(&self) -> Result<()> {
        check_heads(
            ("hidden_size", self.hidden_size),
            ("num_heads", self.num_heads),
        )?;
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("hidden_size", self.hidden_size),
            ("num_layers", self.num_layers),
            ("intermediate_size", self.inner_dim()),
            ("window_size", self.window_size),
        ])?;
        // transformers checks the expanded attention_types, then uses attention_layers.
        for (name, n) in [
            ("attention_types", self.expanded_attention_types().len()),
            ("attention_layers", self.layer_types().len()),
        ] {
            if n as i64 != self.num_layers {
                bail!(
                    "{name} describes {n} layers but num_layers is {}",
                    self.num_layers
                );
            }
        }
        Ok(())
    }
}

struct GptNeoBlock {
    ln_1: LayerNorm,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    ln_2: LayerNorm,
    c_fc: Linear,
    c_proj: Linear,
    local: bool,
    num_heads: i64,
    activation: Activation,
    resid_dropout: f64,
    attention_dropout: f64,
}

impl GptNeoBlock {
    fn new(p: nn::Path, c: &GptNeoConfig, attention_type: AttentionType) -> Self {
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
            local: attention_type == AttentionType::Local,
            num_heads: c.num_heads,
            activation: c.activation_function,
            resid_dropout: c.resid_dropout,
            attention_dropout: c.attention_dropout,
        }
    }

    /// `window_mask` is the local layers' mask, None when the window covers the sequence
    /// (local attention is then plain causal attention).
    fn attention(&self, xs: &Tensor, window_mask: Option<&Tensor>, train: bool) -> Tensor {
        let heads = |t: Tensor| split_heads(&t, self.num_heads);
        let attention_dropout = if train { self.attention_dropout } else { 0.0 };
        let mask = window_mask.filter(|_| self.local);
        let context = Tensor::scaled_dot_product_attention(
            &heads(self.q_proj.forward(xs)),
            &heads(self.k_proj.forward(xs)),
            &heads(self.v_proj.forward(xs)),
            mask,
            attention_dropout,
            mask.is_none(),
            // GPT-Neo does not scale the scores.
            1.0,
            false,
        );
        dropout(
            self.out_proj.forward(&merge_heads(&context)),
            self.resid_dropout,
            train,
        )
    }

    fn forward(&self, xs: &Tensor, window_mask: Option<&Tensor>, train: bool) -> Tensor {
        let xs = xs + self.attention(&self.ln_1.forward(xs), window_mask, train);
        let inner = self
            .activation
            .apply(&self.c_fc.forward(&self.ln_2.forward(&xs)));
        let out = dropout(self.c_proj.forward(&inner), self.resid_dropout, train);
        xs + out
    }
}

/// Query i sees keys j with 0 <= i - j < window: (seq, seq), true where attended.
fn sliding_window_mask(seq: i64, window: i64, device: Device) -> Tensor {
    let positions = Tensor::arange(seq, (Kind::Int64, device));
    let distance = positions.unsqueeze(1) - positions.unsqueeze(0);
    distance.ge(0).logical_and(&distance.lt(window))
}

/// `GPTNeoModel`: token and learned position embeddings, pre-LN blocks, final `ln_f`.
pub struct GptNeoModel {
    wte: Embedding,
    wpe: Embedding,
    h: Vec<GptNeoBlock>,
    ln_f: LayerNorm,
    window_size: i64,
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
                .map(|(i, kind)| GptNeoBlock::new(&blocks / i, c, kind))
                .collect(),
            ln_f: LayerNorm::new(&p / "ln_f", c.hidden_size, c.layer_norm_epsilon),
            window_size: c.window_size,
            embed_dropout: c.embed_dropout,
        }
    }

    /// Last hidden state (batch, seq, hidden), after `ln_f`.
    pub fn encode(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let seq_len = input_ids.size()[1];
        let device = input_ids.device();
        let positions = Tensor::arange(seq_len, (Kind::Int64, device));
        let xs = self.wte.forward(input_ids) + self.wpe.forward(&positions);
        let mut xs = dropout(xs, self.embed_dropout, train);
        let window_mask = (seq_len > self.window_size)
            .then(|| sliding_window_mask(seq_len, self.window_size, device));
        for block in &self.h {
            xs = block.forward(&xs, window_mask.as_ref(), train);
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
        self.lm_head
            .forward(&self.transformer.encode(input_ids, train))
    }
}

decoder_only_models!(
    GptNeoModel,
    "GPTNeoModel",
    GptNeoForCausalLm,
    "GPTNeoForCausalLM"
);

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Architecture>> {
    let c: GptNeoConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Architecture for GptNeoConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.max_position_embeddings)
    }

    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(GptNeoModel::new(p, self)),
            Task::LanguageModel => Box::new(GptNeoForCausalLm::new(p, self)),
        })
    }

    /// Per layer: q, k, v and out projections 4·2BSH², the MLP 2·2BSHI, scores and weighted
    /// values 2·2BS²H for global and local layers alike (transformers' eager attention
    /// computes the full S×S products and masks them). The LM head adds 2BSHV.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, i, v) = (
            self.hidden_size as f64,
            self.inner_dim() as f64,
            self.vocab_size as f64,
        );
        let layer = 2.0 * b * s * (4.0 * h * h + 2.0 * h * i) + 4.0 * b * s * s * h;
        let head = lm_head_flops(task, b, s, h, v);
        self.num_layers as f64 * layer + head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::from_json;

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

    #[test]
    fn sliding_window_sees_the_last_window_tokens() {
        let mask = sliding_window_mask(4, 2, Device::Cpu).to_kind(Kind::Int64);
        let expected =
            Tensor::from_slice2(&[[1i64, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]);
        assert!(mask.equal(&expected), "{mask}");
    }
}

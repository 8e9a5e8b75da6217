//! ModernBERT (Warner et al., 2024, "Smarter, Better, Faster, Longer: A Modern Bidirectional
//! Encoder for Fast, Memory Efficient, and Long Context Finetuning and Inference"), following
//! transformers' `modeling_modernbert.py` on its padded (eager / SDPA) path: pre-norm layers
//! without biases, a fused `Wqkv`, rotary embeddings, global attention every
//! `global_attn_every_n_layers` layers (from layer 0) and sliding-window attention over
//! `local_attention` tokens in the others, each with its own rope theta, and a GeGLU MLP.
//! `ModernBertModel` (last hidden state after `final_norm`) is the base model and
//! `ModernBertForMaskedLM` (`model.*`, `head.*`, `decoder` tied to the token embeddings) the
//! masked LM. Parameter paths are the checkpoint's: `model.layers.1.attn.Wqkv.weight`.

use super::layers::Apply;
use super::layers::{
    dropout, lm_head, merge_heads, with_key_padding, Activation, Embedding, LayerNorm, Linear,
};
use super::rotary::{Rotary, RotaryTables};
use super::{Architecture, Model, Task};
use anyhow::{bail, Result};
use tch::{nn, Kind, Tensor};

pub use run_benchmark_core::spec::modernbert::*;

/// `ModernBertAttention`: fused `Wqkv`, rotary q and k, bidirectional attention (within the
/// window in a local layer), `Wo`.
struct Attention {
    wqkv: Linear,
    wo: Linear,
    heads: i64,
    /// Half the window: None in a global layer.
    half_window: Option<i64>,
    dropout: f64,
}

impl Attention {
    /// `padding`: the attention mask (batch, seq), 0 at padding, if any.
    fn forward(
        &self,
        xs: &Tensor,
        rope: &RotaryTables,
        padding: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        let (b, s, _) = xs.size3().expect("hidden states are (batch, seq, hidden)");
        // (batch, seq, 3, heads, head_dim) -> 3 x (batch, heads, seq, head_dim).
        let qkv = self
            .wqkv
            .forward(xs)
            .view([b, s, 3, self.heads, -1])
            .permute([2, 0, 3, 1, 4]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
        let (q, k) = (rope.apply(&q), rope.apply(&k));
        // Keys further than half the window away are masked; a window that covers the
        // whole sequence masks nothing.
        let window = self.half_window.filter(|&w| w < s - 1).map(|w| {
            let i = Tensor::arange(s, (Kind::Int64, xs.device()));
            let distance = (i.unsqueeze(1) - i.unsqueeze(0)).abs();
            distance.le(w)
        });
        // Padding keys are hidden too; a padding query keeps its own key, so that one far
        // from every token in a local layer gives no NaN (see `with_key_padding`).
        let mask = match padding {
            Some(padding) => {
                let all = || Tensor::ones([s, s], (Kind::Bool, xs.device()));
                Some(with_key_padding(&window.unwrap_or_else(all), padding))
            }
            None => window,
        };
        let p = if train { self.dropout } else { 0.0 };
        let context = Tensor::scaled_dot_product_attention(&q, &k, &v, mask, p, false, None, false);
        dropout(self.wo.forward(&merge_heads(&context)), self.dropout, train)
    }
}

/// `ModernBertEncoderLayer`: `x + attn(attn_norm(x))` (no norm in layer 0), then
/// `x + mlp(mlp_norm(x))` with the GeGLU `Wo(act(input) * gate)`, `Wi` giving both halves.
struct Layer {
    attn_norm: Option<LayerNorm>,
    attn: Attention,
    mlp_norm: LayerNorm,
    wi: Linear,
    wo: Linear,
    activation: Activation,
    mlp_dropout: f64,
}

impl Layer {
    fn new(p: nn::Path, c: &ModernBertConfig, index: i64) -> Self {
        let (h, i, std) = (c.hidden_size, c.intermediate_size, c.initializer_range);
        let norm = |name: &str| LayerNorm::with_bias(&p / name, h, c.norm_eps, c.norm_bias);
        let attn = &p / "attn";
        let mlp = &p / "mlp";
        Layer {
            attn_norm: (index > 0).then(|| norm("attn_norm")),
            attn: Attention {
                wqkv: Linear::new(&attn / "Wqkv", h, 3 * h, c.attention_bias, std),
                wo: Linear::new(&attn / "Wo", h, h, c.attention_bias, std),
                heads: c.num_attention_heads,
                half_window: (!c.is_global(index)).then_some(c.local_attention / 2),
                dropout: c.attention_dropout,
            },
            mlp_norm: norm("mlp_norm"),
            wi: Linear::new(&mlp / "Wi", h, 2 * i, c.mlp_bias, std),
            wo: Linear::new(&mlp / "Wo", i, h, c.mlp_bias, std),
            activation: c.hidden_activation,
            mlp_dropout: c.mlp_dropout,
        }
    }

    fn forward(
        &self,
        xs: &Tensor,
        rope: &RotaryTables,
        padding: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        let normed = match &self.attn_norm {
            Some(norm) => norm.forward(xs),
            None => xs.shallow_clone(),
        };
        let xs = xs + self.attn.forward(&normed, rope, padding, train);
        let halves = self.wi.forward(&self.mlp_norm.forward(&xs)).chunk(2, -1);
        let gated = self.activation.apply(&halves[0]) * &halves[1];
        let out = self.wo.forward(&dropout(gated, self.mlp_dropout, train));
        xs + out
    }
}

/// `ModernBertModel`: `embeddings` (`tok_embeddings`, `norm`), `layers`, `final_norm`.
pub struct ModernBertModel {
    tok_embeddings: Embedding,
    embeddings_norm: LayerNorm,
    embedding_dropout: f64,
    layers: Vec<Layer>,
    final_norm: LayerNorm,
    global_rotary: Rotary,
    local_rotary: Rotary,
    global: Vec<bool>,
}

impl ModernBertModel {
    pub fn new(p: nn::Path, c: &ModernBertConfig) -> Self {
        let embeddings = &p / "embeddings";
        let layers = &p / "layers";
        let rope = c.rope().expect("validated config");
        let rotary = |theta| Rotary::new(rope.clone(), theta, c.head_dim(), p.device());
        ModernBertModel {
            tok_embeddings: Embedding::new(
                &embeddings / "tok_embeddings",
                c.vocab_size,
                c.hidden_size,
                c.initializer_range,
                c.pad_token_id,
            ),
            embeddings_norm: LayerNorm::with_bias(
                &embeddings / "norm",
                c.hidden_size,
                c.norm_eps,
                c.norm_bias,
            ),
            embedding_dropout: c.embedding_dropout,
            layers: (0..c.num_hidden_layers)
                .map(|i| Layer::new(&layers / i, c, i))
                .collect(),
            final_norm: LayerNorm::with_bias(
                &p / "final_norm",
                c.hidden_size,
                c.norm_eps,
                c.norm_bias,
            ),
            global_rotary: rotary(c.global_rope_theta),
            local_rotary: rotary(c.local_rope_theta.unwrap_or(c.global_rope_theta)),
            global: (0..c.num_hidden_layers).map(|i| c.is_global(i)).collect(),
        }
    }

    /// Last hidden state (batch, seq, hidden), after `final_norm`.
    pub fn encode(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.encode_masked(input_ids, None, train)
    }

    /// [`Self::encode`] with an attention mask (batch, seq), 0 at padding: padding keys are
    /// hidden in global and local layers; positions count from 0 in every row.
    pub fn encode_masked(
        &self,
        input_ids: &Tensor,
        padding: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        let xs = self.tok_embeddings.forward(input_ids);
        let mut xs = dropout(
            self.embeddings_norm.forward(&xs),
            self.embedding_dropout,
            train,
        );
        let seq = input_ids.size()[1];
        let global = self.global_rotary.tables(0, seq, xs.kind());
        let local = self.local_rotary.tables(0, seq, xs.kind());
        for (layer, &is_global) in self.layers.iter().zip(&self.global) {
            let rope = if is_global { &global } else { &local };
            xs = layer.forward(&xs, rope, padding, train);
        }
        self.final_norm.forward(&xs)
    }
}

/// `ModernBertForMaskedLM`: `model`, then `head` (dense, activation, norm) and `decoder`,
/// whose weight is the token embeddings' when `tie_word_embeddings`.
pub struct ModernBertForMaskedLm {
    model: ModernBertModel,
    dense: Linear,
    activation: Activation,
    norm: LayerNorm,
    decoder: Linear,
}

impl ModernBertForMaskedLm {
    pub fn new(p: nn::Path, c: &ModernBertConfig) -> Self {
        let model = ModernBertModel::new(&p / "model", c);
        let (h, std) = (c.hidden_size, c.initializer_range);
        let head = &p / "head";
        let decoder = lm_head(
            &p / "decoder",
            c.tie_word_embeddings.then_some(&model.tok_embeddings),
            h,
            c.vocab_size,
            c.decoder_bias,
            std,
        );
        ModernBertForMaskedLm {
            dense: Linear::new(&head / "dense", h, h, c.classifier_bias, std),
            activation: c.classifier_activation,
            norm: LayerNorm::with_bias(&head / "norm", h, c.norm_eps, c.norm_bias),
            decoder,
            model,
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
        let xs = self.activation.apply(&self.dense.forward(&hidden));
        self.decoder.forward(&self.norm.forward(&xs))
    }
}

impl Model for ModernBertModel {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(self.encode_masked(input_ids, mask, train))
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("ModernBertModel has no language-modelling head; train ModernBertForMaskedLM instead")
    }
}

impl Model for ModernBertForMaskedLm {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(self.logits_masked(input_ids, mask, train))
    }

    /// transformers' `ForMaskedLMLoss`: mean cross-entropy of the float32 logits, every
    /// token predicted (labels = input_ids, so `sparse_prediction` would change nothing);
    /// the labels of padding are -100, so they are ignored.
    fn loss(
        &self,
        input_ids: &Tensor,
        mask: Option<&Tensor>,
        labels: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        let logits = self.logits_masked(input_ids, mask, train);
        Ok(super::layers::lm_loss(&logits.to_kind(Kind::Float), labels))
    }
}

impl Architecture for ModernBertConfig {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(ModernBertModel::new(p, self)),
            Task::LanguageModel => Box::new(ModernBertForMaskedLm::new(p, self)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Spec;
    use serde_json::json;

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        let c = ModernBertConfig {
            vocab_size: 10,
            hidden_size: 4,
            intermediate_size: 6,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            ..ModernBertConfig::default()
        };
        // B=1, S=2, H=4, I=6. Wqkv 2·2·4·12 = 192, Wo 2·2·4·4 = 64, Wi 2·2·4·12 = 192,
        // MLP Wo 2·2·6·4 = 96, scores and values 2·(2·2·2·4) = 64: 608.
        assert_eq!(c.forward_flops(1, 2, Task::Base), 608.0);
        // Head: dense 2·2·4·4 = 64, decoder 2·2·4·10 = 160.
        assert_eq!(c.forward_flops(1, 2, Task::LanguageModel), 608.0 + 224.0);
    }

    #[test]
    fn modernbert_base_forward_is_about_2_flops_per_parameter_and_token() {
        // 22 layers of 5.0M parameters (Wqkv 1.77M, Wo 0.59M, Wi 1.77M, Wo 0.88M): 110M
        // outside the embeddings (149M in all), plus attention over 128 positions.
        let f = ModernBertConfig::default().forward_flops(1, 128, Task::Base) / 128.0;
        assert!((2.2e8..2.4e8).contains(&f), "{f:e}");
    }

    #[test]
    fn every_third_layer_from_the_first_is_global() {
        let c = ModernBertConfig::default();
        let global: Vec<i64> = (0..22).filter(|&i| c.is_global(i)).collect();
        assert_eq!(global, [0, 3, 6, 9, 12, 15, 18, 21]);
    }

    #[test]
    fn unsupported_keys_are_named() {
        let err = from_json(&json!({"rope_parameters": {"full_attention": {}}})).unwrap_err();
        assert!(err.to_string().contains("\"rope_parameters\""), "{err}");
        let err = from_json(&json!({"rope_scaling": {"rope_type": "yarn"}})).unwrap_err();
        assert!(
            err.to_string().contains("\"yarn\" is not supported"),
            "{err}"
        );
        let err = from_json(&json!({"hidden_activation": "swiglu"})).unwrap_err();
        assert!(err.to_string().contains("hidden_activation"), "{err}");
    }
}

//! BART (Lewis et al., 2019, "BART: Denoising Sequence-to-Sequence Pre-training for Natural
//! Language Generation, Translation, and Comprehension"), following transformers'
//! `modeling_bart.py`: `BartModel` (the decoder's last hidden state) for inference and
//! `BartForConditionalGeneration` (tied `lm_head` plus `final_logits_bias`) for the loss.
//! Both are called with `decoder_input_ids = input_ids`, as the original benchmark did.
//! Parameter paths are the checkpoint's: `model.encoder.layers.0.self_attn.q_proj.weight`.

use super::checks::check_positive;
use super::layers::{dropout, lm_head_flops, lm_loss, Activation, Embedding, LayerNorm, Linear};
use super::{parse_config, Architecture, Model, Task};
use anyhow::{bail, Result};
use serde::Deserialize;
use tch::{nn, Kind, Tensor};

/// `nn.LayerNorm`'s default: BART's norms do not read an epsilon from the config.
const LAYER_NORM_EPS: f64 = 1e-5;
/// `BartLearnedPositionalEmbedding` keeps two rows before position 0 (fairseq's padding
/// offset).
const POSITION_OFFSET: i64 = 2;

/// `BartConfig`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct BartConfig {
    pub vocab_size: i64,
    pub max_position_embeddings: i64,
    pub d_model: i64,
    pub encoder_layers: i64,
    pub encoder_ffn_dim: i64,
    pub encoder_attention_heads: i64,
    pub decoder_layers: i64,
    pub decoder_ffn_dim: i64,
    pub decoder_attention_heads: i64,
    pub encoder_layerdrop: f64,
    pub decoder_layerdrop: f64,
    pub activation_function: Activation,
    pub dropout: f64,
    pub attention_dropout: f64,
    pub activation_dropout: f64,
    pub init_std: f64,
    /// Multiplies the token embeddings by sqrt(d_model).
    pub scale_embedding: bool,
    pub pad_token_id: Option<i64>,
    pub tie_word_embeddings: bool,
}

impl Default for BartConfig {
    fn default() -> Self {
        BartConfig {
            vocab_size: 50265,
            max_position_embeddings: 1024,
            d_model: 1024,
            encoder_layers: 12,
            encoder_ffn_dim: 4096,
            encoder_attention_heads: 16,
            decoder_layers: 12,
            decoder_ffn_dim: 4096,
            decoder_attention_heads: 16,
            encoder_layerdrop: 0.0,
            decoder_layerdrop: 0.0,
            activation_function: Activation::Gelu,
            dropout: 0.1,
            attention_dropout: 0.0,
            activation_dropout: 0.0,
            init_std: 0.02,
            scale_embedding: false,
            pad_token_id: Some(1),
            tie_word_embeddings: true,
        }
    }
}

impl BartConfig {
    pub fn validate(&self) -> Result<()> {
        for (name, heads) in [
            ("encoder_attention_heads", self.encoder_attention_heads),
            ("decoder_attention_heads", self.decoder_attention_heads),
        ] {
            if heads <= 0 || self.d_model % heads != 0 {
                bail!(
                    "d_model {} is not a multiple of {name} {heads}",
                    self.d_model
                );
            }
        }
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("encoder_layers", self.encoder_layers),
            ("encoder_ffn_dim", self.encoder_ffn_dim),
            ("decoder_layers", self.decoder_layers),
            ("decoder_ffn_dim", self.decoder_ffn_dim),
        ])?;
        Ok(())
    }
}

/// `BartAttention`: multi-head attention with biased projections, scaled by head_dim^-0.5.
struct BartAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    num_heads: i64,
    dropout: f64,
}

impl BartAttention {
    fn new(p: nn::Path, c: &BartConfig, num_heads: i64) -> Self {
        let (d, std) = (c.d_model, c.init_std);
        BartAttention {
            q_proj: Linear::new(&p / "q_proj", d, d, true, std),
            k_proj: Linear::new(&p / "k_proj", d, d, true, std),
            v_proj: Linear::new(&p / "v_proj", d, d, true, std),
            out_proj: Linear::new(&p / "out_proj", d, d, true, std),
            num_heads,
            dropout: c.attention_dropout,
        }
    }

    /// Self-attention when `key_value` is None, else cross-attention over it; no padding
    /// mask, as the benchmark's inputs have none.
    fn forward(
        &self,
        xs: &Tensor,
        key_value: Option<&Tensor>,
        causal: bool,
        train: bool,
    ) -> Tensor {
        let (b, s, d) = xs.size3().expect("hidden states are (batch, seq, d_model)");
        let heads = |t: Tensor| {
            t.view([b, -1, self.num_heads, d / self.num_heads])
                .transpose(1, 2)
        };
        let kv = key_value.unwrap_or(xs);
        let q = heads(self.q_proj.forward(xs));
        let k = heads(self.k_proj.forward(kv));
        let v = heads(self.v_proj.forward(kv));
        let context = Tensor::scaled_dot_product_attention::<Tensor>(
            &q,
            &k,
            &v,
            None,
            if train { self.dropout } else { 0.0 },
            causal,
            None,
            false,
        )
        .transpose(1, 2)
        .reshape([b, s, d]);
        self.out_proj.forward(&context)
    }
}

/// `BartEncoderLayer` and `BartDecoderLayer`: post-LayerNorm sublayers, `x = norm(x +
/// dropout(sublayer(x)))`; the decoder's self-attention is causal and followed by
/// cross-attention (`encoder_attn`) over the encoder's output.
struct BartLayer {
    self_attn: BartAttention,
    self_attn_layer_norm: LayerNorm,
    encoder_attn: Option<(BartAttention, LayerNorm)>,
    fc1: Linear,
    fc2: Linear,
    final_layer_norm: LayerNorm,
    activation: Activation,
    dropout: f64,
    activation_dropout: f64,
}

impl BartLayer {
    fn new(p: nn::Path, c: &BartConfig, is_decoder: bool) -> Self {
        let (d, std) = (c.d_model, c.init_std);
        let (heads, ffn) = if is_decoder {
            (c.decoder_attention_heads, c.decoder_ffn_dim)
        } else {
            (c.encoder_attention_heads, c.encoder_ffn_dim)
        };
        BartLayer {
            self_attn: BartAttention::new(&p / "self_attn", c, heads),
            self_attn_layer_norm: LayerNorm::new(&p / "self_attn_layer_norm", d, LAYER_NORM_EPS),
            encoder_attn: is_decoder.then(|| {
                (
                    BartAttention::new(&p / "encoder_attn", c, heads),
                    LayerNorm::new(&p / "encoder_attn_layer_norm", d, LAYER_NORM_EPS),
                )
            }),
            fc1: Linear::new(&p / "fc1", d, ffn, true, std),
            fc2: Linear::new(&p / "fc2", ffn, d, true, std),
            final_layer_norm: LayerNorm::new(&p / "final_layer_norm", d, LAYER_NORM_EPS),
            activation: c.activation_function,
            dropout: c.dropout,
            activation_dropout: c.activation_dropout,
        }
    }

    fn forward(&self, xs: &Tensor, encoder_hidden: Option<&Tensor>, train: bool) -> Tensor {
        let causal = self.encoder_attn.is_some();
        let attended = self.self_attn.forward(xs, None, causal, train);
        let mut xs = self
            .self_attn_layer_norm
            .forward(&(xs + dropout(attended, self.dropout, train)));
        if let (Some((attention, norm)), Some(encoder_hidden)) =
            (&self.encoder_attn, encoder_hidden)
        {
            let attended = attention.forward(&xs, Some(encoder_hidden), false, train);
            xs = norm.forward(&(&xs + dropout(attended, self.dropout, train)));
        }
        let inner = dropout(
            self.activation.apply(&self.fc1.forward(&xs)),
            self.activation_dropout,
            train,
        );
        let out = dropout(self.fc2.forward(&inner), self.dropout, train);
        self.final_layer_norm.forward(&(out + xs))
    }
}

/// `BartEncoder` or `BartDecoder`: scaled shared token embeddings plus learned positions,
/// `layernorm_embedding`, then the layers (no final norm).
struct BartStack {
    embed_positions: Embedding,
    layernorm_embedding: LayerNorm,
    layers: Vec<BartLayer>,
    layerdrop: f64,
    dropout: f64,
}

impl BartStack {
    fn new(p: nn::Path, c: &BartConfig, is_decoder: bool) -> Self {
        let (layers, layerdrop) = if is_decoder {
            (c.decoder_layers, c.decoder_layerdrop)
        } else {
            (c.encoder_layers, c.encoder_layerdrop)
        };
        let layer = &p / "layers";
        BartStack {
            embed_positions: Embedding::new(
                &p / "embed_positions",
                c.max_position_embeddings + POSITION_OFFSET,
                c.d_model,
                c.init_std,
                None,
            ),
            layernorm_embedding: LayerNorm::new(
                &p / "layernorm_embedding",
                c.d_model,
                LAYER_NORM_EPS,
            ),
            layers: (0..layers)
                .map(|i| BartLayer::new(&layer / i, c, is_decoder))
                .collect(),
            layerdrop,
            dropout: c.dropout,
        }
    }

    fn forward(
        &self,
        token_embeddings: Tensor,
        encoder_hidden: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        let seq = token_embeddings.size()[1];
        let positions = Tensor::arange_start(
            POSITION_OFFSET,
            seq + POSITION_OFFSET,
            (Kind::Int64, token_embeddings.device()),
        );
        let xs = token_embeddings + self.embed_positions.forward(&positions);
        let mut xs = dropout(self.layernorm_embedding.forward(&xs), self.dropout, train);
        for layer in &self.layers {
            // LayerDrop (Fan et al., 2019): in training, each layer is skipped at random.
            if train && self.layerdrop > 0.0 && rand_unit() < self.layerdrop {
                continue;
            }
            xs = layer.forward(&xs, encoder_hidden, train);
        }
        xs
    }
}

/// A uniform draw in [0, 1) from torch's generator, as `torch.rand([])`.
fn rand_unit() -> f64 {
    Tensor::rand([], (Kind::Float, tch::Device::Cpu)).double_value(&[])
}

/// `BartModel`: `shared` embedding, encoder and decoder.
pub struct BartModel {
    shared: Embedding,
    embed_scale: f64,
    encoder: BartStack,
    decoder: BartStack,
}

impl BartModel {
    pub fn new(p: nn::Path, c: &BartConfig) -> Self {
        BartModel {
            shared: Embedding::new(
                &p / "shared",
                c.vocab_size,
                c.d_model,
                c.init_std,
                c.pad_token_id,
            ),
            embed_scale: if c.scale_embedding {
                (c.d_model as f64).sqrt()
            } else {
                1.0
            },
            encoder: BartStack::new(&p / "encoder", c, false),
            decoder: BartStack::new(&p / "decoder", c, true),
        }
    }

    fn embed(&self, ids: &Tensor) -> Tensor {
        let xs = self.shared.forward(ids);
        if self.embed_scale == 1.0 {
            xs
        } else {
            xs * self.embed_scale
        }
    }

    /// The encoder's last hidden state (batch, seq, d_model).
    pub fn encode(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.encoder.forward(self.embed(input_ids), None, train)
    }

    /// The decoder's last hidden state over `decoder_input_ids` and the encoder's output.
    pub fn decode(
        &self,
        decoder_input_ids: &Tensor,
        encoder_hidden: &Tensor,
        train: bool,
    ) -> Tensor {
        self.decoder
            .forward(self.embed(decoder_input_ids), Some(encoder_hidden), train)
    }

    /// The decoder's last hidden state, with `decoder_input_ids = input_ids`.
    pub fn last_hidden_state(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.decode(input_ids, &self.encode(input_ids, train), train)
    }
}

/// `BartForConditionalGeneration`: `model` (a `BartModel`), `lm_head` (tied to
/// `model.shared` when `tie_word_embeddings`) and the `final_logits_bias` buffer.
pub struct BartForConditionalGeneration {
    model: BartModel,
    lm_head: Tensor,
    final_logits_bias: Tensor,
}

impl BartForConditionalGeneration {
    pub fn new(p: nn::Path, c: &BartConfig) -> Self {
        let model = BartModel::new(&p / "model", c);
        let lm_head = if c.tie_word_embeddings {
            model.shared.weight.shallow_clone()
        } else {
            Linear::new(&p / "lm_head", c.d_model, c.vocab_size, false, c.init_std).weight
        };
        BartForConditionalGeneration {
            model,
            lm_head,
            final_logits_bias: p.zeros_no_train("final_logits_bias", &[1, c.vocab_size]),
        }
    }

    pub fn logits(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.model
            .last_hidden_state(input_ids, train)
            .linear(&self.lm_head, Some(&self.final_logits_bias.squeeze_dim(0)))
    }
}

impl Model for BartModel {
    fn forward(&self, input_ids: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.last_hidden_state(input_ids, train))
    }

    fn loss(&self, _input_ids: &Tensor, _labels: &Tensor, _train: bool) -> Result<Tensor> {
        bail!(
            "BartModel has no language-modelling head; train BartForConditionalGeneration instead"
        )
    }
}

impl Model for BartForConditionalGeneration {
    fn forward(&self, input_ids: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.logits(input_ids, train))
    }

    /// Cross-entropy of the logits against `labels` unshifted: with `decoder_input_ids`
    /// given, transformers does not shift the labels.
    fn loss(&self, input_ids: &Tensor, labels: &Tensor, train: bool) -> Result<Tensor> {
        Ok(lm_loss(&self.logits(input_ids, train), labels))
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Architecture>> {
    let c: BartConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Architecture for BartConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.max_position_embeddings)
    }

    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(BartModel::new(p, self)),
            Task::LanguageModel => Box::new(BartForConditionalGeneration::new(p, self)),
        })
    }

    /// With D = d_model and the encoder and decoder both over S tokens: an attention (self or
    /// cross) costs q, k, v, out 4·2BSD² plus scores and values 2·2BS²D (the decoder's causal
    /// half included, as eager computes it); a feed-forward 2·2BSDF with F its ffn_dim.
    /// Encoder layers have self-attention and feed-forward, decoder layers self-attention,
    /// cross-attention and feed-forward. The LM head adds 2BSDV.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (d, v) = (self.d_model as f64, self.vocab_size as f64);
        let attention = 8.0 * b * s * d * d + 4.0 * b * s * s * d;
        let feed_forward = |ffn: i64| 4.0 * b * s * d * ffn as f64;
        let encoder = self.encoder_layers as f64 * (attention + feed_forward(self.encoder_ffn_dim));
        let decoder =
            self.decoder_layers as f64 * (2.0 * attention + feed_forward(self.decoder_ffn_dim));
        let head = lm_head_flops(task, b, s, d, v);
        encoder + decoder + head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        let c = BartConfig {
            vocab_size: 10,
            d_model: 4,
            encoder_attention_heads: 2,
            decoder_attention_heads: 2,
            encoder_layers: 1,
            encoder_ffn_dim: 8,
            decoder_layers: 2,
            decoder_ffn_dim: 6,
            ..BartConfig::default()
        };
        // B=1, S=2, D=4. Attention: q,k,v,out 4·(2·2·4·4) = 256, scores and values
        // 2·(2·2·2·4) = 64: 320. Encoder: 320 + ffn 2·(2·2·4·8) = 256 -> 576.
        // Decoder: 2·(2·320 + ffn 2·(2·2·4·6) = 192) = 1664.
        assert_eq!(c.forward_flops(1, 2, Task::Base), 576.0 + 1664.0);
        // LM head 2·2·4·10 = 160.
        assert_eq!(
            c.forward_flops(1, 2, Task::LanguageModel),
            576.0 + 1664.0 + 160.0
        );
    }

    #[test]
    fn bart_large_forward_is_about_90_gflop_per_128_tokens() {
        // 2·352M non-embedding parameters per token (12 + 12 layers at D=1024), plus
        // attention over 128 positions.
        let f = BartConfig::default().forward_flops(1, 128, Task::Base);
        assert!((8.5e10..9.5e10).contains(&f), "{f:e}");
    }
}

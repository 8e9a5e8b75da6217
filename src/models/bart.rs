//! BART (Lewis et al., 2019, "BART: Denoising Sequence-to-Sequence Pre-training for Natural
//! Language Generation, Translation, and Comprehension"), following transformers'
//! `modeling_bart.py`: `BartModel` (the decoder's last hidden state) for inference and
//! `BartForConditionalGeneration` (tied `lm_head` plus `final_logits_bias`) for the loss.
//! Both are called with `decoder_input_ids = input_ids`, as the original benchmark did.
//! Parameter paths are the checkpoint's: `model.encoder.layers.0.self_attn.q_proj.weight`.

use super::kv_cache::KvCache;
use super::layers::Apply;
use super::layers::{
    attention_kernel, drop_layer, dropout, lm_loss, Activation, Embedding, LayerNorm, Linear,
};
use super::{no_mask, Architecture, Generator, Model, Task};
use crate::measure::profile::{self, Part};
use anyhow::{anyhow, bail, Result};
use tch::{nn, Kind, Tensor};

pub use run_benchmark_core::spec::bart::*;

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

    /// (batch, seq, d_model) -> (batch, heads, seq, head_dim).
    fn heads(&self, xs: &Tensor) -> Tensor {
        let (b, s, d) = xs.size3().expect("projections are (batch, seq, d_model)");
        xs.view([b, s, self.num_heads, d / self.num_heads])
            .transpose(1, 2)
    }

    /// Self-attention of layer `layer`: the encoder's bidirectional (without a cache), or
    /// the decoder's causal one over the `cache`d keys and values. No padding mask, as the
    /// benchmark's inputs have none.
    fn self_attention(
        &self,
        xs: &Tensor,
        causal: bool,
        train: bool,
        cache: &mut KvCache,
        layer: usize,
    ) -> Tensor {
        let _attention = profile::part(Part::Attention);
        let q = self.heads(&self.q_proj.forward(xs));
        let (k, v) = (
            self.heads(&self.k_proj.forward(xs)),
            self.heads(&self.v_proj.forward(xs)),
        );
        let dropout = if train { self.dropout } else { 0.0 };
        let context = if causal {
            cache.attend(layer, &q, k, v, None, None, dropout)
        } else {
            attention_kernel::<Tensor>(&q, &k, &v, None, dropout, false, None, false)
        };
        self.output(xs, &context)
    }

    /// Cross-attention over the encoder's output, whose keys and values the `cache` keeps.
    fn cross_attention(
        &self,
        xs: &Tensor,
        encoder_hidden: &Tensor,
        train: bool,
        cache: &mut KvCache,
        layer: usize,
    ) -> Tensor {
        let _attention = profile::part(Part::Attention);
        let q = self.heads(&self.q_proj.forward(xs));
        let (k, v) = cache.cross(layer, || {
            (
                self.heads(&self.k_proj.forward(encoder_hidden)),
                self.heads(&self.v_proj.forward(encoder_hidden)),
            )
        });
        let context = attention_kernel::<Tensor>(
            &q,
            &k,
            &v,
            None,
            if train { self.dropout } else { 0.0 },
            false,
            None,
            false,
        );
        self.output(xs, &context)
    }

    fn output(&self, xs: &Tensor, context: &Tensor) -> Tensor {
        let (b, s, d) = xs.size3().expect("hidden states are (batch, seq, d_model)");
        self.out_proj
            .forward(&context.transpose(1, 2).reshape([b, s, d]))
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

    fn forward(
        &self,
        xs: &Tensor,
        encoder_hidden: Option<&Tensor>,
        train: bool,
        cache: &mut KvCache,
        layer: usize,
    ) -> Tensor {
        let _layer = profile::part(Part::Layer);
        let causal = self.encoder_attn.is_some();
        let attended = self
            .self_attn
            .self_attention(xs, causal, train, cache, layer);
        let mut xs = self
            .self_attn_layer_norm
            .forward(&(xs + dropout(attended, self.dropout, train)));
        if let (Some((attention, norm)), Some(encoder_hidden)) =
            (&self.encoder_attn, encoder_hidden)
        {
            let attended = attention.cross_attention(&xs, encoder_hidden, train, cache, layer);
            xs = norm.forward(&(&xs + dropout(attended, self.dropout, train)));
        }
        let mlp = profile::part(Part::Mlp);
        let inner = dropout(
            self.activation.apply(&self.fc1.forward(&xs)),
            self.activation_dropout,
            train,
        );
        let out = dropout(self.fc2.forward(&inner), self.dropout, train);
        drop(mlp);
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
        cache: &mut KvCache,
    ) -> Tensor {
        let _stack = profile::part(match encoder_hidden {
            Some(_) => Part::Decoder,
            None => Part::Encoder,
        });
        let (past, seq) = (cache.past(), token_embeddings.size()[1]);
        let positions = Tensor::arange_start(
            past + POSITION_OFFSET,
            past + seq + POSITION_OFFSET,
            (Kind::Int64, token_embeddings.device()),
        );
        let xs = token_embeddings + self.embed_positions.forward(&positions);
        let mut xs = dropout(self.layernorm_embedding.forward(&xs), self.dropout, train);
        for (i, layer) in self.layers.iter().enumerate() {
            if drop_layer(self.layerdrop, train) {
                continue;
            }
            xs = layer.forward(&xs, encoder_hidden, train, cache, i);
        }
        xs
    }
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
        self.encoder
            .forward(self.embed(input_ids), None, train, &mut KvCache::off())
    }

    /// The decoder's last hidden state over `decoder_input_ids` and the encoder's output.
    pub fn decode(
        &self,
        decoder_input_ids: &Tensor,
        encoder_hidden: &Tensor,
        train: bool,
    ) -> Tensor {
        self.decode_cached(
            decoder_input_ids,
            encoder_hidden,
            train,
            &mut KvCache::off(),
        )
    }

    /// The decoder's last hidden state over `decoder_input_ids`, the tokens after the
    /// `cache`d ones.
    pub fn decode_cached(
        &self,
        decoder_input_ids: &Tensor,
        encoder_hidden: &Tensor,
        train: bool,
        cache: &mut KvCache,
    ) -> Tensor {
        self.decoder.forward(
            self.embed(decoder_input_ids),
            Some(encoder_hidden),
            train,
            cache,
        )
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
    decoder_start_token_id: i64,
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
            decoder_start_token_id: c.decoder_start_token_id,
        }
    }

    pub fn logits(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.head(&self.model.last_hidden_state(input_ids, train))
    }

    fn head(&self, hidden: &Tensor) -> Tensor {
        let _head = profile::part(Part::Head);
        hidden.linear(&self.lm_head, Some(&self.final_logits_bias.squeeze_dim(0)))
    }
}

/// The encoder once over the prompt, then the decoder from `decoder_start_token_id`, one
/// token at a time over its self-attention cache and the encoder's cross-attention keys.
impl Generator for BartForConditionalGeneration {
    fn prefill(&self, input_ids: &Tensor) -> Result<(Tensor, KvCache)> {
        let mut cache = KvCache::new();
        cache.encoder_hidden = Some(self.model.encode(input_ids, false));
        let start = Tensor::full(
            [input_ids.size()[0], 1],
            self.decoder_start_token_id,
            (Kind::Int64, input_ids.device()),
        );
        let logits = self.step(&start, &mut cache)?;
        Ok((logits, cache))
    }

    fn step(&self, input_ids: &Tensor, cache: &mut KvCache) -> Result<Tensor> {
        let encoder_hidden = cache
            .encoder_hidden
            .as_ref()
            .map(Tensor::shallow_clone)
            .ok_or_else(|| anyhow!("BART decode step before the prefill"))?;
        let hidden = self
            .model
            .decode_cached(input_ids, &encoder_hidden, false, cache);
        Ok(self.head(&hidden).squeeze_dim(1))
    }
}

impl Model for BartModel {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        no_mask(mask)?;
        Ok(self.last_hidden_state(input_ids, train))
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!(
            "BartModel has no language-modelling head; train BartForConditionalGeneration instead"
        )
    }
}

impl Model for BartForConditionalGeneration {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        no_mask(mask)?;
        Ok(self.logits(input_ids, train))
    }

    /// Cross-entropy of the logits against `labels` unshifted: with `decoder_input_ids`
    /// given, transformers does not shift the labels.
    fn loss(
        &self,
        input_ids: &Tensor,
        mask: Option<&Tensor>,
        labels: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        no_mask(mask)?;
        Ok(lm_loss(&self.logits(input_ids, train), labels))
    }
}

impl Architecture for BartConfig {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(BartModel::new(p, self)),
            Task::LanguageModel => Box::new(BartForConditionalGeneration::new(p, self)),
        })
    }

    fn generator(&self, p: nn::Path) -> Option<Box<dyn Generator>> {
        Some(Box::new(BartForConditionalGeneration::new(p, self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Spec;

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

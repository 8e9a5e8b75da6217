//! T5 (Raffel et al., 2019, "Exploring the Limits of Transfer Learning with a Unified
//! Text-to-Text Transformer") and flan-T5 (Chung et al., 2022, "Scaling Instruction-Finetuned
//! Language Models"), following transformers' `modeling_t5.py`: `T5Model` (the decoder's last
//! hidden state) for inference and `T5ForConditionalGeneration` (`lm_head`) for the loss.
//! Both are called with `decoder_input_ids = input_ids`, as the original benchmark did.
//! Parameter paths are the checkpoint's: `encoder.block.0.layer.0.SelfAttention.q.weight`.

use super::kv_cache::KvCache;
use super::layers::Apply;
use super::layers::{
    attention_kernel, dropout, key_padding_mask, lm_loss, Activation, Embedding, Linear,
};
use super::{Architecture, Generator, Model, Task};
use crate::measure::profile::{self, Part};
use anyhow::{anyhow, bail, Result};
use tch::{nn, Kind, Tensor};

pub use run_benchmark_core::spec::t5::*;

/// T5LayerNorm: RMS normalisation with a weight, no bias and no mean subtraction.
struct T5LayerNorm {
    weight: Tensor,
    eps: f64,
}

impl T5LayerNorm {
    fn new(p: nn::Path, c: &T5Config) -> Self {
        T5LayerNorm {
            weight: p.var(
                "weight",
                &[c.d_model],
                nn::Init::Const(c.initializer_factor),
            ),
            eps: c.layer_norm_epsilon,
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        let _norm = profile::part(Part::Norm);
        xs.rms_norm(self.weight.size(), Some(&self.weight), self.eps)
    }
}

/// Multi-head attention without scaling of the scores (T5 folds 1/sqrt(d_kv) into the init),
/// with an additive bias (relative positions, causal mask) instead of a mask.
struct T5Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    num_heads: i64,
    dropout: f64,
}

impl T5Attention {
    fn new(p: nn::Path, c: &T5Config) -> Self {
        let (d, inner, f) = (c.d_model, c.inner_dim(), c.initializer_factor);
        let (d_f, inner_f) = (d as f64, inner as f64);
        T5Attention {
            q: Linear::new(
                &p / "q",
                d,
                inner,
                false,
                f * (d_f * c.d_kv as f64).powf(-0.5),
            ),
            k: Linear::new(&p / "k", d, inner, false, f * d_f.powf(-0.5)),
            v: Linear::new(&p / "v", d, inner, false, f * d_f.powf(-0.5)),
            o: Linear::new(&p / "o", inner, d, false, f * inner_f.powf(-0.5)),
            num_heads: c.num_heads,
            dropout: c.dropout_rate,
        }
    }

    /// Self-attention of layer `layer`, its keys and values appended to the `cache`;
    /// `bias` is the relative-position bias (and causal mask) of the new queries.
    fn self_attention(
        &self,
        xs: &Tensor,
        bias: &Tensor,
        train: bool,
        cache: &mut KvCache,
        layer: usize,
    ) -> Tensor {
        let _attention = profile::part(Part::Attention);
        let (k, v, _) = cache.append(
            layer,
            self.heads(&self.k.forward(xs)),
            self.heads(&self.v.forward(xs)),
            None,
        );
        self.attend(xs, &k, &v, Some(bias), train)
    }

    /// Cross-attention over the encoder's output, whose keys and values the `cache` keeps.
    fn cross_attention(
        &self,
        xs: &Tensor,
        encoder_hidden: &Tensor,
        cross_mask: Option<&Tensor>,
        train: bool,
        cache: &mut KvCache,
        layer: usize,
    ) -> Tensor {
        let _attention = profile::part(Part::Attention);
        let (k, v) = cache.cross(layer, || {
            (
                self.heads(&self.k.forward(encoder_hidden)),
                self.heads(&self.v.forward(encoder_hidden)),
            )
        });
        self.attend(xs, &k, &v, cross_mask, train)
    }

    /// (batch, seq, heads·d_kv) -> (batch, heads, seq, d_kv).
    fn heads(&self, xs: &Tensor) -> Tensor {
        let (b, s, inner) = xs.size3().expect("projections are (batch, seq, inner)");
        xs.view([b, s, self.num_heads, inner / self.num_heads])
            .transpose(1, 2)
    }

    /// Unscaled attention of `xs`'s queries over k, v, plus `bias`.
    fn attend(
        &self,
        xs: &Tensor,
        k: &Tensor,
        v: &Tensor,
        bias: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        let (b, s, _) = xs.size3().expect("hidden states are (batch, seq, d_model)");
        let q = self.heads(&self.q.forward(xs));
        let context = attention_kernel(
            &q,
            k,
            v,
            bias,
            if train { self.dropout } else { 0.0 },
            false,
            1.0,
            false,
        )
        .transpose(1, 2)
        .reshape([b, s, -1]);
        self.o.forward(&context)
    }
}

/// `DenseReluDense`: wo(act(wi x)), or wo(act(wi_0 x) * wi_1 x) when gated.
struct T5FeedForward {
    wi: Vec<Linear>,
    wo: Linear,
    activation: Activation,
    dropout: f64,
}

impl T5FeedForward {
    fn new(p: nn::Path, c: &T5Config) -> Self {
        let (gated, activation) = c.feed_forward().expect("a validated config");
        let std_in = c.initializer_factor * (c.d_model as f64).powf(-0.5);
        let wi = |name: &str| Linear::new(&p / name, c.d_model, c.d_ff, false, std_in);
        T5FeedForward {
            wi: if gated {
                vec![wi("wi_0"), wi("wi_1")]
            } else {
                vec![wi("wi")]
            },
            wo: Linear::new(
                &p / "wo",
                c.d_ff,
                c.d_model,
                false,
                c.initializer_factor * (c.d_ff as f64).powf(-0.5),
            ),
            activation,
            dropout: c.dropout_rate,
        }
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        let _mlp = profile::part(Part::Mlp);
        let activated = self.activation.apply(&self.wi[0].forward(xs));
        // Not in place: autograd keeps the activation's output (relu) for the backward.
        let inner = match self.wi.get(1) {
            Some(linear) => activated * linear.forward(xs),
            None => activated,
        };
        self.wo.forward(&dropout(inner, self.dropout, train))
    }
}

/// `T5Block`: self-attention, cross-attention (decoder only) and feed-forward, each as
/// `x + dropout(sublayer(layer_norm(x)))` under `layer.<i>`.
struct T5Block {
    self_attention: T5Attention,
    self_attention_norm: T5LayerNorm,
    cross_attention: Option<(T5Attention, T5LayerNorm)>,
    feed_forward: T5FeedForward,
    feed_forward_norm: T5LayerNorm,
    dropout: f64,
}

impl T5Block {
    fn new(p: nn::Path, c: &T5Config, is_decoder: bool) -> Self {
        let layer = &p / "layer";
        let ff = &layer / if is_decoder { 2 } else { 1 };
        T5Block {
            self_attention: T5Attention::new(&layer / 0 / "SelfAttention", c),
            self_attention_norm: T5LayerNorm::new(&layer / 0 / "layer_norm", c),
            cross_attention: is_decoder.then(|| {
                (
                    T5Attention::new(&layer / 1 / "EncDecAttention", c),
                    T5LayerNorm::new(&layer / 1 / "layer_norm", c),
                )
            }),
            feed_forward: T5FeedForward::new(&ff / "DenseReluDense", c),
            feed_forward_norm: T5LayerNorm::new(&ff / "layer_norm", c),
            dropout: c.dropout_rate,
        }
    }

    /// `encoder`: the encoder's output and the boolean key mask of its padding, if any.
    fn forward(
        &self,
        xs: &Tensor,
        position_bias: &Tensor,
        encoder: Option<(&Tensor, Option<&Tensor>)>,
        train: bool,
        cache: &mut KvCache,
        layer: usize,
    ) -> Tensor {
        let _layer = profile::part(Part::Layer);
        let attended = self.self_attention.self_attention(
            &self.self_attention_norm.forward(xs),
            position_bias,
            train,
            cache,
            layer,
        );
        let xs = xs + dropout(attended, self.dropout, train);
        let xs = match (&self.cross_attention, encoder) {
            // No position bias: only the self-attention has relative positions; the
            // encoder's padding, if any, is masked.
            (Some((attention, norm)), Some((encoder_hidden, cross_mask))) => {
                let attended = attention.cross_attention(
                    &norm.forward(&xs),
                    encoder_hidden,
                    cross_mask,
                    train,
                    cache,
                    layer,
                );
                &xs + dropout(attended, self.dropout, train)
            }
            _ => xs,
        };
        let fed = self
            .feed_forward
            .forward(&self.feed_forward_norm.forward(&xs), train);
        xs + dropout(fed, self.dropout, train)
    }
}

/// T5's bucket of each relative position `memory - query` (`_relative_position_bucket`):
/// half the buckets for exact small distances, the rest logarithmic up to `max_distance`;
/// bidirectional splits them between both signs. The float steps are transformers' own, so
/// that bucket boundaries round the same way.
fn relative_position_bucket(
    relative: &Tensor,
    bidirectional: bool,
    num_buckets: i64,
    max_distance: i64,
) -> Tensor {
    let (num_buckets, offset, distance) = if bidirectional {
        let half = num_buckets / 2;
        (
            half,
            relative.gt(0).to_kind(Kind::Int64) * half,
            relative.abs(),
        )
    } else {
        (num_buckets, relative.zeros_like(), (-relative).clamp_min(0))
    };
    let max_exact = num_buckets / 2;
    let large = ((distance.to_kind(Kind::Float) / max_exact as f64).log()
        / (max_distance as f64 / max_exact as f64).ln()
        * (num_buckets - max_exact) as f64)
        .to_kind(Kind::Int64)
        + max_exact;
    let large = large.clamp_max(num_buckets - 1);
    offset + distance.where_self(&distance.lt(max_exact), &large)
}

/// `T5Stack`: the encoder or the decoder over the shared embedding. Relative positions are
/// embedded by block 0 only and the bias is shared by all blocks.
struct T5Stack {
    blocks: Vec<T5Block>,
    relative_attention_bias: Embedding,
    final_layer_norm: T5LayerNorm,
    is_decoder: bool,
    num_buckets: i64,
    max_distance: i64,
    dropout: f64,
}

impl T5Stack {
    fn new(p: nn::Path, c: &T5Config, is_decoder: bool) -> Self {
        let block = &p / "block";
        let layers = if is_decoder {
            c.decoder_layers()
        } else {
            c.num_layers
        };
        T5Stack {
            blocks: (0..layers)
                .map(|i| T5Block::new(&block / i, c, is_decoder))
                .collect(),
            relative_attention_bias: Embedding::new(
                &block / 0 / "layer" / 0 / "SelfAttention" / "relative_attention_bias",
                c.relative_attention_num_buckets,
                c.num_heads,
                c.initializer_factor * (c.d_model as f64).powf(-0.5),
                None,
            ),
            final_layer_norm: T5LayerNorm::new(&p / "final_layer_norm", c),
            is_decoder,
            num_buckets: c.relative_attention_num_buckets,
            max_distance: c.relative_attention_max_distance,
            dropout: c.dropout_rate,
        }
    }

    /// The additive attention bias (1, heads, seq, past + seq) of queries at past..past +
    /// seq over keys at 0..past + seq: relative positions, plus -inf on future keys in the
    /// decoder.
    fn position_bias(&self, past: i64, seq: i64, device: tch::Device) -> Tensor {
        let queries = Tensor::arange_start(past, past + seq, (Kind::Int64, device));
        let keys = Tensor::arange(past + seq, (Kind::Int64, device));
        let relative = keys.unsqueeze(0) - queries.unsqueeze(1);
        let buckets = relative_position_bucket(
            &relative,
            !self.is_decoder,
            self.num_buckets,
            self.max_distance,
        );
        let bias = self
            .relative_attention_bias
            .forward(&buckets)
            .permute([2, 0, 1])
            .unsqueeze(0);
        let bias = if self.is_decoder {
            bias.masked_fill(&relative.gt(0), f64::NEG_INFINITY)
        } else {
            bias
        };
        // Laid out once here, as every block reads it.
        bias.contiguous()
    }

    /// `attention_mask` (batch, seq), 0 at padding, hides this stack's padding keys;
    /// `encoder` is the encoder's output and its attention mask.
    fn forward(
        &self,
        embeddings: &Embedding,
        input_ids: &Tensor,
        attention_mask: Option<&Tensor>,
        encoder: Option<(&Tensor, Option<&Tensor>)>,
        train: bool,
        cache: &mut KvCache,
    ) -> Tensor {
        let _stack = profile::part(match encoder {
            Some(_) => Part::Decoder,
            None => Part::Encoder,
        });
        let position_bias =
            self.position_bias(cache.past(), input_ids.size()[1], input_ids.device());
        // Padding keys get -inf added (broadcast to (batch, heads, seq, seq)); not in
        // place, since the position bias is shared by the batch.
        let bias = match attention_mask {
            Some(mask) => {
                let hidden = key_padding_mask(mask).logical_not();
                let padding = hidden
                    .zeros_like()
                    .to_kind(position_bias.kind())
                    .masked_fill(&hidden, f64::NEG_INFINITY);
                position_bias + padding
            }
            None => position_bias,
        };
        let cross_mask = encoder.and_then(|(_, mask)| mask).map(key_padding_mask);
        let mut xs = dropout(embeddings.forward(input_ids), self.dropout, train);
        for (i, block) in self.blocks.iter().enumerate() {
            xs = block.forward(
                &xs,
                &bias,
                encoder.map(|(hidden, _)| (hidden, cross_mask.as_ref())),
                train,
                cache,
                i,
            );
        }
        dropout(self.final_layer_norm.forward(&xs), self.dropout, train)
    }
}

/// `T5Model`: `shared` embedding, encoder and decoder.
pub struct T5Model {
    shared: Embedding,
    encoder: T5Stack,
    decoder: T5Stack,
}

impl T5Model {
    pub fn new(p: nn::Path, c: &T5Config) -> Self {
        T5Model {
            shared: Embedding::new(
                &p / "shared",
                c.vocab_size,
                c.d_model,
                c.initializer_factor,
                None,
            ),
            encoder: T5Stack::new(&p / "encoder", c, false),
            decoder: T5Stack::new(&p / "decoder", c, true),
        }
    }

    /// The encoder's last hidden state (batch, seq, d_model).
    pub fn encode(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.encoder.forward(
            &self.shared,
            input_ids,
            None,
            None,
            train,
            &mut KvCache::off(),
        )
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
            &self.shared,
            decoder_input_ids,
            None,
            Some((encoder_hidden, None)),
            train,
            cache,
        )
    }

    /// The decoder's last hidden state, with `decoder_input_ids = input_ids`.
    pub fn last_hidden_state(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.last_hidden_state_masked(input_ids, None, train)
    }

    /// [`Self::last_hidden_state`] over right padding: `attention_mask` (batch, seq) masks
    /// the padding of the encoder, of the decoder (the same ids) and of the cross-attention.
    /// Relative positions count from each token, so real tokens keep theirs.
    pub fn last_hidden_state_masked(
        &self,
        input_ids: &Tensor,
        attention_mask: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        let encoded = self.encoder.forward(
            &self.shared,
            input_ids,
            attention_mask,
            None,
            train,
            &mut KvCache::off(),
        );
        self.decoder.forward(
            &self.shared,
            input_ids,
            attention_mask,
            Some((&encoded, attention_mask)),
            train,
            &mut KvCache::off(),
        )
    }
}

/// `T5ForConditionalGeneration`: `T5Model` and `lm_head`, tied to `shared` when
/// `tie_word_embeddings`.
pub struct T5ForConditionalGeneration {
    model: T5Model,
    lm_head: Tensor,
    /// d_model^-0.5 when tied: the decoder output is rescaled before the tied head.
    scale: Option<f64>,
    decoder_start_token_id: i64,
}

impl T5ForConditionalGeneration {
    pub fn new(p: nn::Path, c: &T5Config) -> Self {
        let model = T5Model::new(p.clone(), c);
        let lm_head = if c.tie_word_embeddings {
            model.shared.weight.shallow_clone()
        } else {
            Linear::new(
                &p / "lm_head",
                c.d_model,
                c.vocab_size,
                false,
                c.initializer_factor,
            )
            .weight
        };
        T5ForConditionalGeneration {
            model,
            lm_head,
            scale: c.tie_word_embeddings.then(|| (c.d_model as f64).powf(-0.5)),
            decoder_start_token_id: c.decoder_start_token_id,
        }
    }

    pub fn logits(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.logits_masked(input_ids, None, train)
    }

    pub fn logits_masked(
        &self,
        input_ids: &Tensor,
        attention_mask: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        self.head(
            self.model
                .last_hidden_state_masked(input_ids, attention_mask, train),
        )
    }

    fn head(&self, hidden: Tensor) -> Tensor {
        let _head = profile::part(Part::Head);
        let hidden = match self.scale {
            Some(scale) => hidden * scale,
            None => hidden,
        };
        hidden.linear::<Tensor>(&self.lm_head, None)
    }
}

/// The encoder once over the prompt, then the decoder from `decoder_start_token_id`, one
/// token at a time over its self-attention cache and the encoder's cross-attention keys.
impl Generator for T5ForConditionalGeneration {
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
            .ok_or_else(|| anyhow!("T5 decode step before the prefill"))?;
        let hidden = self
            .model
            .decode_cached(input_ids, &encoder_hidden, false, cache);
        Ok(self.head(hidden).squeeze_dim(1))
    }
}

impl Model for T5Model {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(self.last_hidden_state_masked(input_ids, mask, train))
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("T5Model has no language-modelling head; train T5ForConditionalGeneration instead")
    }
}

impl Model for T5ForConditionalGeneration {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(self.logits_masked(input_ids, mask, train))
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
        Ok(lm_loss(&self.logits_masked(input_ids, mask, train), labels))
    }
}

impl Architecture for T5Config {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(T5Model::new(p, self)),
            Task::LanguageModel => Box::new(T5ForConditionalGeneration::new(p, self)),
        })
    }

    fn generator(&self, p: nn::Path) -> Option<Box<dyn Generator>> {
        Some(Box::new(T5ForConditionalGeneration::new(p, self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::layers::Activation;
    use crate::models::Spec;

    fn tiny() -> T5Config {
        T5Config {
            vocab_size: 10,
            d_model: 4,
            d_kv: 3,
            num_heads: 2,
            d_ff: 8,
            num_layers: 1,
            num_decoder_layers: Some(2),
            ..T5Config::default()
        }
    }

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        // B=1, S=2, D=4, A=2·3=6, F=8. Attention: q,k,v,o 4·(2·2·4·6) = 384, scores and
        // values 2·(2·2·2·6) = 96: 480. Relu feed-forward 2·(2·2·4·8) = 256.
        // Encoder 1·(480 + 256) = 736; decoder 2·(2·480 + 256) = 2432.
        let c = tiny();
        assert_eq!(c.forward_flops(1, 2, Task::Base), 736.0 + 2432.0);
        // LM head 2·2·4·10 = 160.
        assert_eq!(
            c.forward_flops(1, 2, Task::LanguageModel),
            736.0 + 2432.0 + 160.0
        );
        // Gated: 3·(2·2·4·8) = 384 per feed-forward, 128 more in each of the 3 layers.
        let gated = T5Config {
            feed_forward_proj: "gated-gelu".into(),
            ..tiny()
        };
        assert_eq!(
            gated.forward_flops(1, 2, Task::Base),
            736.0 + 2432.0 + 3.0 * 128.0
        );
    }

    #[test]
    fn t5_small_forward_is_about_12_gflop_per_128_tokens() {
        // 2·44M non-embedding parameters per token, plus attention over 128 positions.
        let f = T5Config::default().forward_flops(1, 128, Task::Base);
        assert!((1.1e10..1.3e10).contains(&f), "{f:e}");
    }

    #[test]
    fn feed_forward_proj_reads_as_transformers() {
        let read = |s: &str| {
            T5Config {
                feed_forward_proj: s.into(),
                ..T5Config::default()
            }
            .feed_forward()
        };
        assert_eq!(read("relu").unwrap(), (false, Activation::Relu));
        assert_eq!(read("gated-gelu").unwrap(), (true, Activation::GeluNew));
        assert_eq!(read("gated-silu").unwrap(), (true, Activation::Silu));
        assert_eq!(read("gelu").unwrap(), (false, Activation::Gelu));
        assert!(read("fancy-gelu").is_err());
        assert!(read("gated-gated-gelu").is_err());
        assert!(read("gated-nope").is_err());
    }

    #[test]
    fn buckets_match_transformers() {
        // transformers' T5Attention._relative_position_bucket, as printed by 4.57.1.
        let buckets = |relative: &[i64], bidirectional, num, max| {
            let relative = Tensor::from_slice(relative);
            Vec::<i64>::try_from(&relative_position_bucket(
                &relative,
                bidirectional,
                num,
                max,
            ))
            .unwrap()
        };
        let small: Vec<i64> = (-7..8).collect();
        assert_eq!(
            buckets(&small, true, 8, 5),
            [3, 3, 3, 3, 2, 2, 1, 0, 5, 6, 6, 7, 7, 7, 7]
        );
        assert_eq!(
            buckets(&small, false, 8, 5),
            [7, 7, 7, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let default = [-200, -128, -127, -9, -8, -1, 0, 1, 8, 9, 16, 127, 128, 200];
        assert_eq!(
            buckets(&default, true, 32, 128),
            [15, 15, 15, 8, 8, 1, 0, 17, 24, 24, 26, 31, 31, 31]
        );
        assert_eq!(
            buckets(&default, false, 32, 128),
            [31, 31, 31, 9, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }
}

//! Whisper (Radford et al., 2022, "Robust Speech Recognition via Large-Scale Weak
//! Supervision"), following transformers' `modeling_whisper.py`: log-mel features through a
//! convolutional stem (two conv1d + GELU, the second with stride 2), fixed sinusoidal
//! encoder positions, pre-LayerNorm encoder layers; a decoder with learned positions, causal
//! self-attention and cross-attention over the encoder's output, and the output projection
//! `proj_out` tied to `embed_tokens`. `WhisperModel` (the decoder's last hidden state) is the
//! base model and `WhisperForConditionalGeneration` the head.
//!
//! A cell's size is the audio length in seconds: 100 mel frames a second (the feature
//! extractor's 160-sample hop at 16 kHz), halved by the stem into encoder positions.
//! transformers' encoder takes exactly `2 · max_source_positions` frames (30 s, the input
//! padded); this one runs the true length with the position table sliced to it, as
//! whisper.cpp's `audio_ctx` does, and refuses more than the table holds. The decoder reads
//! a fixed prefix of [`DECODER_PREFIX`] tokens (see [`WhisperConfig::decoder_prefix`]).
//! Parameter paths are the checkpoint's: `model.encoder.layers.0.self_attn.q_proj.weight`.

use super::layers::Apply;
use super::layers::{
    attention_kernel, drop_layer, dropout, lm_loss, merge_heads, split_heads, Activation,
    Embedding, LayerNorm, Linear,
};
use super::{no_mask, Architecture, Model, Task};
use crate::cell::MEL_FRAMES_PER_SECOND;
use crate::measure::profile::{self, scope, Part};
use anyhow::{bail, Result};
use tch::{nn, Device, Kind, Tensor};

pub use run_benchmark_core::spec::whisper::*;

/// Whisper's `sinusoids(length, channels)`: sines then cosines of position · timescale, the
/// timescales geometric from 1 to 1/10000 over channels/2 - 1 steps.
pub fn sinusoids(length: i64, channels: i64) -> Tensor {
    let half = channels / 2;
    let increment = 10000f64.ln() / (half - 1) as f64;
    let inv_timescales = (Tensor::arange(half, (Kind::Float, Device::Cpu)) * -increment).exp();
    let scaled = Tensor::arange(length, (Kind::Float, Device::Cpu)).view([-1, 1])
        * inv_timescales.view([1, -1]);
    Tensor::cat(&[scaled.sin(), scaled.cos()], 1)
}

/// `WhisperAttention`: q, v and out projections with biases, k without; scores scaled by
/// head_dim^-0.5. The keys and values are projected apart from the attention itself, so that
/// a decode step can keep them: the cross-attention's once per utterance, the
/// self-attention's grown by a token a step.
struct WhisperAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    num_heads: i64,
    dropout: f64,
}

impl WhisperAttention {
    fn new(p: nn::Path, c: &WhisperConfig, num_heads: i64) -> Self {
        let (d, std) = (c.d_model, c.init_std);
        WhisperAttention {
            q_proj: Linear::new(&p / "q_proj", d, d, true, std),
            k_proj: Linear::new(&p / "k_proj", d, d, false, std),
            v_proj: Linear::new(&p / "v_proj", d, d, true, std),
            out_proj: Linear::new(&p / "out_proj", d, d, true, std),
            num_heads,
            dropout: c.attention_dropout,
        }
    }

    /// The keys and values of `states`, split into heads.
    fn key_value(&self, states: &Tensor) -> (Tensor, Tensor) {
        (
            split_heads(&self.k_proj.forward(states), self.num_heads),
            split_heads(&self.v_proj.forward(states), self.num_heads),
        )
    }

    /// Attention of `xs`'s queries over `key`, `value` (from [`Self::key_value`]).
    fn attend(
        &self,
        xs: &Tensor,
        key: &Tensor,
        value: &Tensor,
        causal: bool,
        train: bool,
    ) -> Tensor {
        let q = split_heads(&self.q_proj.forward(xs), self.num_heads);
        let p = if train { self.dropout } else { 0.0 };
        let context = attention_kernel::<Tensor>(&q, key, value, None, p, causal, None, false);
        self.out_proj.forward(&merge_heads(&context))
    }

    /// Self-attention over `xs` when `key_value` is None, else cross-attention over it.
    fn forward(
        &self,
        xs: &Tensor,
        key_value: Option<&Tensor>,
        causal: bool,
        train: bool,
    ) -> Tensor {
        let _attention = profile::part(Part::Attention);
        let (k, v) = self.key_value(key_value.unwrap_or(xs));
        self.attend(xs, &k, &v, causal, train)
    }
}

/// `WhisperEncoderLayer` and `WhisperDecoderLayer`: pre-LayerNorm sublayers, `x = x +
/// dropout(sublayer(norm(x)))`; the decoder's self-attention is causal and followed by
/// cross-attention (`encoder_attn`) over the encoder's output.
struct WhisperLayer {
    self_attn: WhisperAttention,
    self_attn_layer_norm: LayerNorm,
    encoder_attn: Option<(WhisperAttention, LayerNorm)>,
    fc1: Linear,
    fc2: Linear,
    final_layer_norm: LayerNorm,
    activation: Activation,
    dropout: f64,
    activation_dropout: f64,
}

impl WhisperLayer {
    fn new(p: nn::Path, c: &WhisperConfig, is_decoder: bool) -> Self {
        let (d, std) = (c.d_model, c.init_std);
        let (heads, ffn) = match is_decoder {
            true => (c.decoder_attention_heads, c.decoder_ffn_dim),
            false => (c.encoder_attention_heads, c.encoder_ffn_dim),
        };
        let norm = |name: &str| LayerNorm::new(&p / name, d, LAYER_NORM_EPS);
        WhisperLayer {
            self_attn: WhisperAttention::new(&p / "self_attn", c, heads),
            self_attn_layer_norm: norm("self_attn_layer_norm"),
            encoder_attn: is_decoder.then(|| {
                (
                    WhisperAttention::new(&p / "encoder_attn", c, heads),
                    norm("encoder_attn_layer_norm"),
                )
            }),
            fc1: Linear::new(&p / "fc1", d, ffn, true, std),
            fc2: Linear::new(&p / "fc2", ffn, d, true, std),
            final_layer_norm: norm("final_layer_norm"),
            activation: c.activation_function,
            dropout: c.dropout,
            activation_dropout: c.activation_dropout,
        }
    }

    fn forward(&self, xs: &Tensor, encoder_hidden: Option<&Tensor>, train: bool) -> Tensor {
        let _layer = profile::part(Part::Layer);
        let causal = self.encoder_attn.is_some();
        let normed = self.self_attn_layer_norm.forward(xs);
        let attended = self.self_attn.forward(&normed, None, causal, train);
        let mut xs = xs + dropout(attended, self.dropout, train);
        if let (Some((attention, norm)), Some(encoder_hidden)) =
            (&self.encoder_attn, encoder_hidden)
        {
            let attended =
                attention.forward(&norm.forward(&xs), Some(encoder_hidden), false, train);
            xs = &xs + dropout(attended, self.dropout, train);
        }
        let mlp = profile::part(Part::Mlp);
        let inner = dropout(
            self.activation
                .apply(&self.fc1.forward(&self.final_layer_norm.forward(&xs))),
            self.activation_dropout,
            train,
        );
        let out = dropout(self.fc2.forward(&inner), self.dropout, train);
        drop(mlp);
        let xs = out + xs;
        if self.encoder_attn.is_none() && xs.kind() == Kind::Half {
            // As transformers' encoder layer: keep float16 activations finite.
            let max = F16_MAX - 1000.0;
            return xs.clamp(-max, max);
        }
        xs
    }
}

/// A `Conv1d` as its checkpoint holds it: `weight` (out, in, kernel) and `bias`.
struct Conv1d {
    weight: Tensor,
    bias: Tensor,
    stride: i64,
}

impl Conv1d {
    fn new(p: nn::Path, input: i64, output: i64, stride: i64, std: f64) -> Self {
        Conv1d {
            weight: super::weights::normal(&p, "weight", &[output, input, KERNEL], std),
            bias: p.var("bias", &[output], nn::Init::Const(0.0)),
            stride,
        }
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        Ok(xs.f_conv1d(
            &self.weight,
            Some(&self.bias),
            [self.stride],
            [KERNEL / 2],
            [1],
            1,
        )?)
    }
}

/// `WhisperEncoder`: `conv1`, `conv2`, the frozen sinusoidal `embed_positions`, the layers
/// and a final `layer_norm`.
pub struct WhisperEncoder {
    conv1: Conv1d,
    conv2: Conv1d,
    embed_positions: Tensor,
    layers: Vec<WhisperLayer>,
    layer_norm: LayerNorm,
    layerdrop: f64,
    dropout: f64,
    num_mel_bins: i64,
}

impl WhisperEncoder {
    fn new(p: nn::Path, c: &WhisperConfig) -> Self {
        let (d, std) = (c.d_model, c.init_std);
        // transformers keeps the table as a parameter with requires_grad off; it is in the
        // checkpoint, so it is loaded like a weight but never trained.
        let mut embed_positions =
            (&p / "embed_positions").zeros_no_train("weight", &[c.max_source_positions, d]);
        // Computed and written for real in a shape-only build too (max_source_positions x
        // d_model floats, 7.3 MiB for large-v3): a Meta result cannot be copied into it.
        super::shapes::computed(|| {
            tch::no_grad(|| {
                embed_positions.copy_(&sinusoids(c.max_source_positions, d));
            })
        });
        let layer = &p / "layers";
        WhisperEncoder {
            conv1: Conv1d::new(&p / "conv1", c.num_mel_bins, d, 1, std),
            conv2: Conv1d::new(&p / "conv2", d, d, STRIDE, std),
            embed_positions,
            layers: (0..c.encoder_layers)
                .map(|i| WhisperLayer::new(&layer / i, c, false))
                .collect(),
            layer_norm: LayerNorm::new(&p / "layer_norm", d, LAYER_NORM_EPS),
            layerdrop: c.encoder_layerdrop,
            dropout: c.dropout,
            num_mel_bins: c.num_mel_bins,
        }
    }

    /// The last hidden state (batch, positions, d_model) of `features` (batch,
    /// num_mel_bins, frames): `2 · max_source_positions` frames as transformers takes them,
    /// or fewer, with the positions sliced to the stem's output.
    pub fn forward(&self, features: &Tensor, train: bool) -> Result<Tensor> {
        let _encoder = profile::part(Part::Encoder);
        let (_, bins, frames) = features.size3()?;
        let table = self.embed_positions.size()[0];
        if bins != self.num_mel_bins || frames < 1 || frames > STRIDE * table {
            bail!(
                "input features are {bins} mel bins x {frames} frames; the encoder takes \
                 num_mel_bins {} x 1 to {} frames (max_source_positions {table})",
                self.num_mel_bins,
                STRIDE * table
            );
        }
        let xs = scope(Part::Embeddings, || -> Result<Tensor> {
            let xs = self.conv1.forward(features)?.gelu("none");
            let xs = self.conv2.forward(&xs)?.gelu("none").permute([0, 2, 1]);
            let positions = xs.size()[1];
            Ok(xs + self.embed_positions.narrow(0, 0, positions))
        })?;
        let mut xs = dropout(xs, self.dropout, train);
        for layer in &self.layers {
            if !drop_layer(self.layerdrop, train) {
                xs = layer.forward(&xs, None, train);
            }
        }
        Ok(self.layer_norm.forward(&xs))
    }
}

/// `WhisperDecoder`: `embed_tokens`, learned `embed_positions`, the layers and a final
/// `layer_norm`.
pub struct WhisperDecoder {
    embed_tokens: Embedding,
    embed_positions: Tensor,
    layers: Vec<WhisperLayer>,
    layer_norm: LayerNorm,
    layerdrop: f64,
    dropout: f64,
}

impl WhisperDecoder {
    fn new(p: nn::Path, c: &WhisperConfig) -> Self {
        let (d, std) = (c.d_model, c.init_std);
        let layer = &p / "layers";
        WhisperDecoder {
            embed_tokens: Embedding::new(&p / "embed_tokens", c.vocab_size, d, std, c.pad_token_id),
            embed_positions: super::weights::normal(
                &(&p / "embed_positions"),
                "weight",
                &[c.max_target_positions, d],
                std,
            ),
            layers: (0..c.decoder_layers)
                .map(|i| WhisperLayer::new(&layer / i, c, true))
                .collect(),
            layer_norm: LayerNorm::new(&p / "layer_norm", d, LAYER_NORM_EPS),
            layerdrop: c.decoder_layerdrop,
            dropout: c.dropout,
        }
    }

    /// The last hidden state over `ids` (batch, tokens) at positions 0.., attending to
    /// `encoder_hidden`.
    pub fn forward(&self, ids: &Tensor, encoder_hidden: &Tensor, train: bool) -> Result<Tensor> {
        let _decoder = profile::part(Part::Decoder);
        let tokens = ids.size2()?.1;
        let table = self.embed_positions.size()[0];
        if tokens > table {
            bail!("{tokens} decoder tokens exceed max_target_positions {table}");
        }
        let xs = scope(Part::Embeddings, || {
            self.embed_tokens.forward(ids) + self.embed_positions.narrow(0, 0, tokens)
        });
        let mut xs = dropout(xs, self.dropout, train);
        for layer in &self.layers {
            if !drop_layer(self.layerdrop, train) {
                xs = layer.forward(&xs, Some(encoder_hidden), train);
            }
        }
        Ok(self.layer_norm.forward(&xs))
    }
}

/// `WhisperModel`: `encoder` and `decoder`; called on features, it decodes the fixed prefix.
pub struct WhisperModel {
    pub encoder: WhisperEncoder,
    pub decoder: WhisperDecoder,
    /// [`WhisperConfig::decoder_prefix`], (1, tokens) on the model's device.
    prefix: Tensor,
}

impl WhisperModel {
    pub fn new(p: nn::Path, c: &WhisperConfig) -> Self {
        let prefix = Tensor::from_slice(&c.decoder_prefix())
            .view([1, -1])
            .to_device(p.device());
        WhisperModel {
            encoder: WhisperEncoder::new(&p / "encoder", c),
            decoder: WhisperDecoder::new(&p / "decoder", c),
            prefix,
        }
    }

    /// The decoder prefix for a batch of `batch`: (batch, [`DECODER_PREFIX`]).
    pub fn prefix(&self, batch: i64) -> Tensor {
        self.prefix.expand([batch, -1], false)
    }

    /// The decoder's last hidden state over `decoder_input_ids`, after encoding `features`.
    pub fn last_hidden_state(
        &self,
        features: &Tensor,
        decoder_input_ids: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        let encoded = self.encoder.forward(features, train)?;
        self.decoder.forward(decoder_input_ids, &encoded, train)
    }
}

/// `WhisperForConditionalGeneration`: `model` and `proj_out`, tied to
/// `model.decoder.embed_tokens` unless `tie_word_embeddings` is false.
pub struct WhisperForConditionalGeneration {
    pub model: WhisperModel,
    proj_out: Tensor,
}

impl WhisperForConditionalGeneration {
    pub fn new(p: nn::Path, c: &WhisperConfig) -> Self {
        let model = WhisperModel::new(&p / "model", c);
        let proj_out = match c.tie_word_embeddings {
            true => model.decoder.embed_tokens.weight.shallow_clone(),
            false => {
                Linear::new(&p / "proj_out", c.d_model, c.vocab_size, false, c.init_std).weight
            }
        };
        WhisperForConditionalGeneration { model, proj_out }
    }

    /// Logits (batch, tokens, vocab) over `decoder_input_ids`.
    pub fn logits_for(
        &self,
        features: &Tensor,
        decoder_input_ids: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        let hidden = self
            .model
            .last_hidden_state(features, decoder_input_ids, train)?;
        let _head = profile::part(Part::Head);
        Ok(hidden.linear::<Tensor>(&self.proj_out, None))
    }

    /// Logits over the fixed decoder prefix.
    pub fn logits(&self, features: &Tensor, train: bool) -> Result<Tensor> {
        let prefix = self.model.prefix(features.size()[0]);
        self.logits_for(features, &prefix, train)
    }
}

impl Model for WhisperModel {
    fn forward(&self, features: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        no_mask(mask)?;
        self.last_hidden_state(features, &self.prefix(features.size()[0]), train)
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("WhisperModel has no language-modelling head; train WhisperForConditionalGeneration instead")
    }
}

impl Model for WhisperForConditionalGeneration {
    fn forward(&self, features: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        no_mask(mask)?;
        self.logits(features, train)
    }

    /// Cross-entropy of the prefix's logits against `labels` (batch, prefix tokens),
    /// unshifted: with `decoder_input_ids` given, transformers does not shift the labels.
    fn loss(
        &self,
        features: &Tensor,
        mask: Option<&Tensor>,
        labels: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        no_mask(mask)?;
        Ok(lm_loss(&self.logits(features, train)?, labels))
    }
}

impl Architecture for WhisperConfig {
    /// Log-mel features ~ N(0, 1) (the feature extractor's are scaled to about [-1, 1]),
    /// (batch, num_mel_bins, 100 · seconds), in the model's dtype; labels are the decoder
    /// prefix itself (the original's `labels = input_ids`).
    fn random_inputs(
        &self,
        batch: i64,
        seconds: i64,
        kind: Kind,
        device: Device,
    ) -> (Tensor, Tensor) {
        let frames = seconds * MEL_FRAMES_PER_SECOND;
        let features = Tensor::randn([batch, self.num_mel_bins, frames], (kind, device));
        let labels = Tensor::from_slice(&self.decoder_prefix())
            .view([1, -1])
            .expand([batch, -1], false)
            .contiguous()
            .to_device(device);
        (features, labels)
    }

    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(WhisperModel::new(p, self)),
            Task::LanguageModel => Box::new(WhisperForConditionalGeneration::new(p, self)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::parse_config;
    use crate::models::{InputKind, Spec};

    fn embedded(id: &str) -> WhisperConfig {
        let text = crate::hub::embedded(id).unwrap().1;
        parse_config(&serde_json::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn published_sizes() {
        // transformers' parameter counts of the published checkpoints (tied proj_out not
        // counted twice): whisper-tiny 37.76M, whisper-base 72.59M.
        for (id, expected) in [
            ("openai/whisper-tiny", 37_760_640.0),
            ("openai/whisper-base", 72_593_920.0),
        ] {
            let c = embedded(id);
            assert_eq!(c.parameters(Task::LanguageModel), Some(expected), "{id}");
            assert_eq!(c.max_seconds(), 30, "{id}");
            assert_eq!(c.decoder_prefix(), [50258, 50259, 50359, 50363], "{id}");
        }
    }

    #[test]
    fn the_size_is_seconds_of_audio() {
        let c = embedded("openai/whisper-tiny");
        assert_eq!(
            c.input_kind(),
            InputKind::Audio {
                mel_bins: 80,
                decoder_tokens: 4
            }
        );
        // 30 s: 3000 frames, 1500 encoder positions.
        assert_eq!(c.input_kind().tokens(30), 1500);
        assert_eq!(c.input_kind().tokens(5), 250);
        let (features, labels) = c.random_inputs(2, 5, Kind::Float, Device::Cpu);
        assert_eq!(features.size(), [2, 80, 500]);
        assert_eq!(labels.size(), [2, 4]);
        assert!(
            features.abs().min().double_value(&[]) > 0.0,
            "no zero features"
        );
        assert_eq!(c.size_not_supported(30), None);
        let reason = c.size_not_supported(31).unwrap();
        assert!(reason.contains("31 s exceeds the 30 s"), "{reason}");
        assert!(c.size_not_supported(0).is_some());
    }

    #[test]
    fn parameters_are_what_the_modules_hold_tied_or_not() {
        for tie in [true, false] {
            let c = WhisperConfig {
                vocab_size: 50,
                num_mel_bins: 6,
                d_model: 16,
                encoder_attention_heads: 2,
                decoder_attention_heads: 4,
                encoder_ffn_dim: 24,
                decoder_ffn_dim: 20,
                max_source_positions: 30,
                max_target_positions: 8,
                decoder_start_token_id: 3,
                tie_word_embeddings: tie,
                ..WhisperConfig::default()
            };
            for task in [Task::Base, Task::LanguageModel] {
                let vs = nn::VarStore::new(Device::Cpu);
                let _model = c.build(vs.root(), task).unwrap();
                let held: i64 = vs.variables().values().map(Tensor::numel).sum::<usize>() as i64;
                assert_eq!(c.parameters(task), Some(held as f64), "tie {tie}, {task:?}");
                let untied_head = vs.variables().contains_key("proj_out.weight");
                assert_eq!(untied_head, !tie && task == Task::LanguageModel);
            }
        }
    }

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        let c = WhisperConfig {
            vocab_size: 10,
            num_mel_bins: 2,
            d_model: 4,
            encoder_attention_heads: 2,
            decoder_attention_heads: 2,
            encoder_layers: 1,
            encoder_ffn_dim: 8,
            decoder_layers: 1,
            decoder_ffn_dim: 6,
            ..WhisperConfig::default()
        };
        // B=1, 1 s: F=100 frames, N=50, P=4, D=4, M=2.
        // Stem: 2·100·3·2·4 = 4800, 2·50·3·4·4 = 4800.
        // Encoder: 8·50·16 = 6400, 4·2500·4 = 40000, 4·50·4·8 = 6400 -> 52800.
        // Decoder: 8·4·16 = 512, 4·16·4 = 256, 4·4·16 = 256, 4·50·16 = 3200,
        // 4·4·50·4 = 3200, 4·4·4·6 = 384 -> 7808. Head 2·4·4·10 = 320.
        assert_eq!(c.forward_flops(1, 1, Task::Base), 9600.0 + 52800.0 + 7808.0);
        assert_eq!(
            c.forward_flops(1, 1, Task::LanguageModel),
            9600.0 + 52800.0 + 7808.0 + 320.0
        );
    }

    #[test]
    fn sinusoids_are_whispers() {
        // sinusoids(length, 4): timescales 1 and 1/10000; row t = sin t, sin t/1e4, cos t,
        // cos t/1e4.
        let s = sinusoids(3, 4);
        let row = Vec::<f32>::try_from(s.get(2)).unwrap();
        let want = [2f32.sin(), (2e-4f32).sin(), 2f32.cos(), (2e-4f32).cos()];
        for (a, b) in row.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{row:?}");
        }
    }

    #[test]
    fn errors_name_the_key() {
        for (config, key) in [
            (
                serde_json::json!({"apply_spec_augment": true}),
                "apply_spec_augment",
            ),
            (
                serde_json::json!({"d_model": 32}),
                "encoder_attention_heads",
            ),
            (
                serde_json::json!({"max_target_positions": 3}),
                "max_target_positions",
            ),
            (
                serde_json::json!({"activation_function": "gelu_10"}),
                "activation_function",
            ),
            (
                serde_json::json!({"vocab_size": 100, "decoder_start_token_id": 3,
                                   "forced_decoder_ids": [[1, 200]]}),
                "forced_decoder_ids",
            ),
            (
                serde_json::json!({"decoder_start_token_id": 99999}),
                "decoder_start_token_id",
            ),
        ] {
            let err = from_json(&config).unwrap_err().to_string();
            assert!(err.contains(key), "{config}: {err}");
        }
        // A null forced token (language detection) leaves the start token there.
        let c: WhisperConfig = parse_config(&serde_json::json!({
            "decoder_start_token_id": 7, "forced_decoder_ids": [[1, null], [2, 9]]
        }))
        .unwrap();
        assert_eq!(c.decoder_prefix(), [7, 7, 9, 7]);
    }
}

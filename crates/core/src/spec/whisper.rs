//! whisper's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/whisper.rs`).

use super::activation::Activation;
use super::checks::{check_heads, check_positive};
use super::{parse_config, InputKind, Spec, Task};
use crate::cell::MEL_FRAMES_PER_SECOND;
use anyhow::{bail, Result};
use serde::Deserialize;

/// `nn.LayerNorm`'s default: Whisper's norms do not read an epsilon from the config.
pub const LAYER_NORM_EPS: f64 = 1e-5;
/// Tokens the decoder reads in forward and training cells: `<|startoftranscript|>`, language,
/// task, `<|notimestamps|>` (the prompt transcription starts from).
pub const DECODER_PREFIX: i64 = 4;
/// The stem's kernel; its second convolution's stride.
pub const KERNEL: i64 = 3;
pub const STRIDE: i64 = 2;
/// `torch.finfo(torch.float16).max`.
pub const F16_MAX: f64 = 65504.0;

/// `WhisperConfig`, with transformers' defaults for every key a config.json may leave out.
/// Generation-only keys (`suppress_tokens`, `begin_suppress_tokens`, `max_length`, ...) and
/// `WhisperForAudioClassification`'s (`use_weighted_layer_sum`, `classifier_proj_size`) do
/// not change these modules and are not read.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct WhisperConfig {
    pub vocab_size: i64,
    pub num_mel_bins: i64,
    pub d_model: i64,
    pub encoder_layers: i64,
    pub encoder_attention_heads: i64,
    pub encoder_ffn_dim: i64,
    pub decoder_layers: i64,
    pub decoder_attention_heads: i64,
    pub decoder_ffn_dim: i64,
    pub encoder_layerdrop: f64,
    pub decoder_layerdrop: f64,
    pub activation_function: Activation,
    pub dropout: f64,
    pub attention_dropout: f64,
    pub activation_dropout: f64,
    pub init_std: f64,
    /// transformers defines `embed_scale` from it but never applies it: it changes nothing.
    pub scale_embedding: bool,
    /// Encoder positions: the stem's output for `2 ·` this many mel frames.
    pub max_source_positions: i64,
    /// Decoder positions (learned).
    pub max_target_positions: i64,
    pub pad_token_id: Option<i64>,
    pub decoder_start_token_id: i64,
    /// `[position, token]` pairs generation forces after the start token; a null token is
    /// left for the model to choose (language detection).
    pub forced_decoder_ids: Option<Vec<(i64, Option<i64>)>>,
    pub tie_word_embeddings: bool,
    /// SpecAugment on training inputs: random masks this implementation does not draw.
    pub apply_spec_augment: bool,
}

impl Default for WhisperConfig {
    fn default() -> Self {
        WhisperConfig {
            vocab_size: 51865,
            num_mel_bins: 80,
            d_model: 384,
            encoder_layers: 4,
            encoder_attention_heads: 6,
            encoder_ffn_dim: 1536,
            decoder_layers: 4,
            decoder_attention_heads: 6,
            decoder_ffn_dim: 1536,
            encoder_layerdrop: 0.0,
            decoder_layerdrop: 0.0,
            activation_function: Activation::Gelu,
            dropout: 0.0,
            attention_dropout: 0.0,
            activation_dropout: 0.0,
            init_std: 0.02,
            scale_embedding: false,
            max_source_positions: 1500,
            max_target_positions: 448,
            pad_token_id: Some(50256),
            decoder_start_token_id: 50257,
            forced_decoder_ids: None,
            tie_word_embeddings: true,
            apply_spec_augment: false,
        }
    }
}

impl WhisperConfig {
    pub fn validate(&self) -> Result<()> {
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("num_mel_bins", self.num_mel_bins),
            ("d_model", self.d_model),
            ("encoder_layers", self.encoder_layers),
            ("encoder_ffn_dim", self.encoder_ffn_dim),
            ("decoder_layers", self.decoder_layers),
            ("decoder_ffn_dim", self.decoder_ffn_dim),
            ("max_source_positions", self.max_source_positions),
        ])?;
        check_heads(
            ("d_model", self.d_model),
            ("encoder_attention_heads", self.encoder_attention_heads),
        )?;
        check_heads(
            ("d_model", self.d_model),
            ("decoder_attention_heads", self.decoder_attention_heads),
        )?;
        if self.d_model % 2 != 0 || self.d_model < 4 {
            // `sinusoids` splits the channels into sines and cosines.
            bail!(
                "d_model {} must be even (and at least 4) for the sinusoidal encoder positions",
                self.d_model
            );
        }
        if self.max_target_positions < DECODER_PREFIX {
            bail!(
                "max_target_positions {} is shorter than the {DECODER_PREFIX}-token decoder prefix",
                self.max_target_positions
            );
        }
        if self.apply_spec_augment {
            bail!("apply_spec_augment true is not supported (SpecAugment's random training masks)");
        }
        let in_vocab = |id: i64| (0..self.vocab_size).contains(&id);
        if !in_vocab(self.decoder_start_token_id) {
            bail!(
                "decoder_start_token_id {} is outside the vocabulary (vocab_size {})",
                self.decoder_start_token_id,
                self.vocab_size
            );
        }
        for &(position, token) in self.forced_decoder_ids.iter().flatten() {
            if let Some(token) = token.filter(|&t| !in_vocab(t)) {
                bail!(
                    "forced_decoder_ids: token {token} at position {position} is outside the \
                     vocabulary (vocab_size {})",
                    self.vocab_size
                );
            }
        }
        Ok(())
    }

    /// The tokens the decoder reads: `decoder_start_token_id`, then `forced_decoder_ids`'
    /// tokens at positions 1 to 3 (for the published multilingual checkpoints
    /// `<|startoftranscript|><|en|><|transcribe|><|notimestamps|>`); a position the config
    /// does not force repeats the start token.
    pub fn decoder_prefix(&self) -> Vec<i64> {
        let mut prefix = vec![self.decoder_start_token_id; DECODER_PREFIX as usize];
        for &(position, token) in self.forced_decoder_ids.iter().flatten() {
            if let (Some(token), 1..DECODER_PREFIX) = (token, position) {
                prefix[position as usize] = token;
            }
        }
        prefix
    }

    /// The longest audio the encoder's positions cover, in whole seconds.
    pub fn max_seconds(&self) -> i64 {
        self.max_source_positions * STRIDE / MEL_FRAMES_PER_SECOND
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: WhisperConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Spec for WhisperConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    /// The size is in seconds, bounded by [`Architecture::size_not_supported`].
    fn max_positions(&self) -> Option<i64> {
        None
    }

    fn size_not_supported(&self, seconds: i64) -> Option<String> {
        let max = self.max_seconds();
        match seconds {
            s if s < 1 => Some(format!("audio length {s} s: Whisper needs at least 1 s")),
            s if s > max => Some(format!(
                "audio length {s} s exceeds the {max} s the encoder's positions cover \
                 (max_source_positions {} = {} mel frames at {MEL_FRAMES_PER_SECOND} a second)",
                self.max_source_positions,
                STRIDE * self.max_source_positions
            )),
            _ => None,
        }
    }

    fn input_kind(&self) -> InputKind {
        InputKind::Audio {
            mel_bins: self.num_mel_bins,
            decoder_tokens: DECODER_PREFIX,
        }
    }

    /// On B clips of F = 100 · seconds frames, N = ⌈F / 2⌉ encoder positions and the
    /// P-token decoder prefix, with D = d_model and M mel bins: the stem 2·B·F·3M·D +
    /// 2·B·N·3D·D; per encoder layer q, k, v, out 8·B·N·D², scores and values 4·B·N²·D,
    /// feed-forward 4·B·N·D·F_enc; per decoder layer self-attention 8·B·P·D² + 4·B·P²·D,
    /// cross-attention q and out 4·B·P·D², its keys and values over the encoder 4·B·N·D²,
    /// scores and values 4·B·P·N·D, feed-forward 4·B·P·D·F_dec; `proj_out` 2·B·P·D·V.
    fn forward_flops(&self, batch: i64, seconds: i64, task: Task) -> f64 {
        let b = batch as f64;
        let frames = (seconds * MEL_FRAMES_PER_SECOND) as f64;
        let n = self.input_kind().tokens(seconds) as f64;
        let p = DECODER_PREFIX as f64;
        let (d, m, v) = (
            self.d_model as f64,
            self.num_mel_bins as f64,
            self.vocab_size as f64,
        );
        let k = KERNEL as f64;
        let stem = 2.0 * b * frames * k * m * d + 2.0 * b * n * k * d * d;
        let encoder_layer = 8.0 * b * n * d * d
            + 4.0 * b * n * n * d
            + 4.0 * b * n * d * self.encoder_ffn_dim as f64;
        let decoder_layer = 8.0 * b * p * d * d
            + 4.0 * b * p * p * d
            + 4.0 * b * p * d * d
            + 4.0 * b * n * d * d
            + 4.0 * b * p * n * d
            + 4.0 * b * p * d * self.decoder_ffn_dim as f64;
        let head = match task {
            Task::Base => 0.0,
            Task::LanguageModel => 2.0 * b * p * d * v,
        };
        stem + self.encoder_layers as f64 * encoder_layer
            + self.decoder_layers as f64 * decoder_layer
            + head
    }

    /// Every tensor of the checkpoint: the stem, the encoder's position table, the layers
    /// (k_proj has no bias), the norms, the token and position embeddings, and `proj_out`
    /// when untied.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (d, m, v) = (
            self.d_model as f64,
            self.num_mel_bins as f64,
            self.vocab_size as f64,
        );
        let k = KERNEL as f64;
        let attention = 4.0 * d * d + 3.0 * d;
        let norm = 2.0 * d;
        let ffn = |f: i64| 2.0 * d * f as f64 + f as f64 + d;
        let encoder = (m * k * d + d)
            + (d * k * d + d)
            + self.max_source_positions as f64 * d
            + self.encoder_layers as f64 * (attention + 2.0 * norm + ffn(self.encoder_ffn_dim))
            + norm;
        let decoder = v * d
            + self.max_target_positions as f64 * d
            + self.decoder_layers as f64
                * (2.0 * attention + 3.0 * norm + ffn(self.decoder_ffn_dim))
            + norm;
        let head = match (task, self.tie_word_embeddings) {
            (Task::LanguageModel, false) => v * d,
            _ => 0.0,
        };
        Some(encoder + decoder + head)
    }
}

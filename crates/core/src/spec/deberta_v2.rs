//! deberta_v2's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/deberta_v2.rs`).

use super::activation::Activation;
use super::checks::{check_heads, check_positive};
use super::{parse_config, Spec, Task};
use anyhow::{bail, Result};
use serde::{Deserialize, Deserializer};

/// `DebertaV2Config`, with its defaults (those of deberta-v2-xlarge) for every key a
/// config.json may leave out, and the keys transformers reads with `getattr` defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DebertaV2Config {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub hidden_act: Activation,
    pub hidden_dropout_prob: f64,
    pub attention_probs_dropout_prob: f64,
    pub max_position_embeddings: i64,
    pub type_vocab_size: i64,
    pub initializer_range: f64,
    pub layer_norm_eps: f64,
    pub relative_attention: bool,
    /// Below 1: `max_position_embeddings`.
    pub max_relative_positions: i64,
    pub pad_token_id: Option<i64>,
    pub position_biased_input: bool,
    /// `"p2c|c2p"` or a list; null or absent: neither.
    #[serde(deserialize_with = "pos_att_types")]
    pub pos_att_type: Vec<String>,
    /// Above 0: relative positions are log-bucketed into this many per side.
    pub position_buckets: i64,
    /// `"layer_norm"` normalises the relative embeddings (`encoder.LayerNorm`).
    pub norm_rel_ebd: String,
    /// The position projections are the content ones (`query_proj`, `key_proj`).
    pub share_att_key: bool,
    pub embedding_size: Option<i64>,
    pub attention_head_size: Option<i64>,
    /// Above 0: DeBERTa-v2's convolution after the first layer (not implemented).
    pub conv_kernel_size: i64,
    /// The masked-LM head's layout: `cls.predictions.*` (true; false is refused).
    pub legacy: bool,
    pub tie_word_embeddings: bool,
}

pub fn pos_att_types<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Types {
        Joined(String),
        List(Vec<String>),
    }
    Ok(match Option::<Types>::deserialize(d)? {
        None => Vec::new(),
        Some(Types::Joined(s)) => s.split('|').map(|t| t.trim().to_lowercase()).collect(),
        Some(Types::List(list)) => list,
    })
}

impl Default for DebertaV2Config {
    fn default() -> Self {
        DebertaV2Config {
            vocab_size: 128100,
            hidden_size: 1536,
            num_hidden_layers: 24,
            num_attention_heads: 24,
            intermediate_size: 6144,
            hidden_act: Activation::Gelu,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 512,
            type_vocab_size: 0,
            initializer_range: 0.02,
            layer_norm_eps: 1e-7,
            relative_attention: false,
            max_relative_positions: -1,
            pad_token_id: Some(0),
            position_biased_input: true,
            pos_att_type: Vec::new(),
            position_buckets: -1,
            norm_rel_ebd: "none".into(),
            share_att_key: false,
            embedding_size: None,
            attention_head_size: None,
            conv_kernel_size: 0,
            legacy: true,
            tie_word_embeddings: true,
        }
    }
}

impl DebertaV2Config {
    pub fn validate(&self) -> Result<()> {
        check_heads(
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
        )?;
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("embedding_size", self.embedding_dim()),
        ])?;
        if let Some(t) = self
            .pos_att_type
            .iter()
            .find(|t| !["c2p", "p2c"].contains(&t.as_str()))
        {
            bail!("pos_att_type \"{t}\" is not supported (supported: c2p, p2c)");
        }
        if self.conv_kernel_size > 0 {
            bail!(
                "conv_kernel_size {} is not supported (DeBERTa-v2's ConvLayer)",
                self.conv_kernel_size
            );
        }
        if let Some(size) = self.attention_head_size {
            // transformers' output projection is hidden x hidden: other sizes do not run.
            if size * self.num_attention_heads != self.hidden_size {
                bail!("attention_head_size {size} is not supported (only hidden_size / num_attention_heads)");
            }
        }
        for norm in self.norm_rel_ebd.split('|').map(str::trim) {
            if !["none", "layer_norm"].contains(&norm.to_lowercase().as_str()) {
                bail!("norm_rel_ebd \"{norm}\" is not supported (supported: none, layer_norm)");
            }
        }
        if !self.legacy {
            // transformers ties `lm_predictions.lm_head.dense` to the word embeddings then,
            // which cannot be the model the config means.
            bail!("legacy false is not supported (the masked-LM head of legacy true only)");
        }
        Ok(())
    }

    pub fn embedding_dim(&self) -> i64 {
        self.embedding_size.unwrap_or(self.hidden_size)
    }

    pub fn has(&self, pos_att: &str) -> bool {
        self.pos_att_type.iter().any(|t| t == pos_att)
    }

    /// `max_relative_positions`, or `max_position_embeddings` below 1.
    pub fn max_relative(&self) -> i64 {
        if self.max_relative_positions < 1 {
            self.max_position_embeddings
        } else {
            self.max_relative_positions
        }
    }

    /// `att_span`: relative distances run over -span..span (the table has 2·span rows).
    pub fn span(&self) -> i64 {
        if self.position_buckets > 0 {
            self.position_buckets
        } else {
            self.max_relative()
        }
    }

    pub fn normalises_rel_embeddings(&self) -> bool {
        self.norm_rel_ebd
            .split('|')
            .any(|n| n.trim().eq_ignore_ascii_case("layer_norm"))
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: DebertaV2Config = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

impl Spec for DebertaV2Config {
    fn takes_attention_mask(&self) -> bool {
        true
    }

    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    /// Bounded by the absolute position table where there is one; relative positions
    /// alone take any length (distances past the span share its last bucket).
    fn max_positions(&self) -> Option<i64> {
        self.position_biased_input
            .then_some(self.max_position_embeddings)
    }

    /// BERT's encoder FLOPs (q, k, v, output 4·2BSH², feed-forward 2·2BSHI, scores and values
    /// 2·2BS²H per layer), plus, with relative attention, per layer: each position term's
    /// product against all 2·span relative embeddings, 2·B·S·2span·H (c2p and p2c), and the
    /// projections of the 2·span embeddings, 2·2span·H² each (once per layer, not per
    /// sequence; shared keys project both). `embed_proj` adds 2BS·E·H; the masked-LM head
    /// 2BS·H·E and its decoder 2BS·E·V.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, i, e, v) = (
            self.hidden_size as f64,
            self.intermediate_size as f64,
            self.embedding_dim() as f64,
            self.vocab_size as f64,
        );
        let mut layer = 2.0 * b * s * (4.0 * h * h + 2.0 * h * i) + 4.0 * b * s * s * h;
        if self.relative_attention {
            let rows = 2.0 * self.span() as f64;
            let terms = (self.has("c2p") as i64 + self.has("p2c") as i64) as f64;
            let projections = if self.share_att_key { 2.0 } else { terms };
            layer += terms * 2.0 * b * s * rows * h + projections * 2.0 * rows * h * h;
        }
        let embed = if e != h { 2.0 * b * s * e * h } else { 0.0 };
        let head = match task {
            Task::Base => 0.0,
            Task::LanguageModel => 2.0 * b * s * e * (h + v),
        };
        self.num_hidden_layers as f64 * layer + embed + head
    }

    /// Embeddings (words, positions when `position_biased_input`, token types, each E wide;
    /// `embed_proj` E·H without bias when E ≠ H; LayerNorm); per layer q, k, v and output
    /// H·H + H each, the separate position projections of c2p / p2c (unless
    /// `share_att_key`), two LayerNorms, the feed-forward 2·H·I + I + H; the relative
    /// embeddings 2·span·H and their LayerNorm; the masked-LM head's transform H·E + E and
    /// LayerNorm, its bias V, and its decoder E·V when untied.
    fn parameters(&self, task: Task) -> Option<f64> {
        let (h, i, e, v) = (
            self.hidden_size as f64,
            self.intermediate_size as f64,
            self.embedding_dim() as f64,
            self.vocab_size as f64,
        );
        let linear = h * h + h;
        let norm = |d: f64| 2.0 * d;
        let positions = match self.position_biased_input {
            true => self.max_position_embeddings as f64 * e,
            false => 0.0,
        };
        let project = if e != h { e * h } else { 0.0 };
        let embeddings = (v * e + positions + self.type_vocab_size as f64 * e) + project + norm(h);
        let separate = self.relative_attention && !self.share_att_key;
        let position_projections =
            separate as i64 as f64 * (self.has("c2p") as i64 + self.has("p2c") as i64) as f64;
        let layer = (4.0 + position_projections) * linear + 2.0 * norm(h) + 2.0 * h * i + i + h;
        let relative = match self.relative_attention {
            true => {
                2.0 * self.span() as f64 * h
                    + self.normalises_rel_embeddings() as i64 as f64 * norm(h)
            }
            false => 0.0,
        };
        let head = match task {
            Task::Base => 0.0,
            Task::LanguageModel => {
                h * e + e + norm(e) + v + (!self.tie_word_embeddings) as i64 as f64 * e * v
            }
        };
        Some(embeddings + self.num_hidden_layers as f64 * layer + relative + head)
    }
}

//! BERT (Devlin et al., 2018) and RoBERTa (Liu et al., 2019; also XLM-RoBERTa) as graphs,
//! following transformers' `modeling_bert.py` / `modeling_roberta.py` and the PyTorch side's
//! `src/models/bert.rs` / `roberta.rs`: `BertModel` (with pooler) as the bare model and
//! `BertForMaskedLM` (tied decoder) with the masked-LM loss; RoBERTa is the same encoder with
//! position ids counted after the padding token and its `lm_head`; DistilBERT (Sanh et al.,
//! 2019) the same post-LayerNorm layers under its own names, no token types and no pooler.
//! Parameter names are the
//! checkpoint's: `bert.encoder.layer.0.attention.self.query.weight`, `roberta.…`, `lm_head.dense`.

use super::builder::{Binary, Constant, DType, GraphBuilder, Unary};
use super::layers::{
    attention, layer_norm, linear, merge_heads, mlm_outputs, positions, project, split_heads,
    token_inputs, Activation, Outputs, Shape,
};
use anyhow::{bail, Result};
use serde::Deserialize;

/// `BertConfig`'s keys this build reads, with transformers' defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct BertConfig {
    pub model_type: String,
    pub pad_token_id: Option<i64>,
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub hidden_act: Activation,
    pub max_position_embeddings: i64,
    pub type_vocab_size: i64,
    pub layer_norm_eps: f64,
    pub position_embedding_type: String,
    pub tie_word_embeddings: bool,
}

impl Default for BertConfig {
    fn default() -> Self {
        BertConfig {
            model_type: "bert".into(),
            pad_token_id: Some(0),
            vocab_size: 30522,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: Activation::Gelu,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            position_embedding_type: "absolute".into(),
            tie_word_embeddings: true,
        }
    }
}

impl BertConfig {
    pub fn from_json(config: &serde_json::Value) -> Result<Self> {
        let mut config = config.clone();
        let roberta = matches!(
            config["model_type"].as_str(),
            Some("roberta" | "xlm-roberta")
        );
        if let (true, Some(keys)) = (roberta, config.as_object_mut()) {
            // RobertaConfig's defaults where they differ from BertConfig's.
            keys.entry("pad_token_id").or_insert(1.into());
            if keys.get("model_type").and_then(|v| v.as_str()) == Some("roberta") {
                keys.entry("vocab_size").or_insert(50265.into());
            }
        }
        let c: BertConfig = match config["model_type"].as_str() {
            Some("distilbert") => serde_json::from_value::<DistilBertKeys>(config)?.into_bert()?,
            _ => serde_json::from_value(config)?,
        };
        if c.is_roberta() && c.padding_idx().is_none() {
            bail!("pad_token_id is null; RoBERTa's position ids need it");
        }
        if c.position_embedding_type != "absolute" {
            bail!(
                "position_embedding_type \"{}\" is not supported (only \"absolute\")",
                c.position_embedding_type
            );
        }
        if c.num_attention_heads <= 0 || c.hidden_size % c.num_attention_heads != 0 {
            bail!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                c.hidden_size,
                c.num_attention_heads
            );
        }
        Ok(c)
    }

    pub fn is_distilbert(&self) -> bool {
        self.model_type == "distilbert"
    }

    /// Where the encoder layers are, under the model's root.
    fn layers_path(&self) -> &'static str {
        match self.is_distilbert() {
            true => "transformer.layer",
            false => "encoder.layer",
        }
    }

    fn layer_names(&self) -> &'static LayerNames {
        match self.model_type.as_str() {
            "distilbert" => &DISTILBERT_LAYER,
            "albert" => &ALBERT_LAYER,
            _ => &BERT_LAYER,
        }
    }

    pub fn is_roberta(&self) -> bool {
        matches!(self.model_type.as_str(), "roberta" | "xlm-roberta")
    }

    fn padding_idx(&self) -> Option<i64> {
        self.pad_token_id
            .filter(|&p| p >= 0 && p + 1 < self.max_position_embeddings)
    }

    /// The longest sequence: RoBERTa's positions start after the padding index.
    pub fn max_positions(&self) -> i64 {
        match (self.is_roberta(), self.padding_idx()) {
            (true, Some(pad)) => self.max_position_embeddings - pad - 1,
            _ => self.max_position_embeddings,
        }
    }
}

/// `config` with `defaults` for the keys it leaves out (a family's defaults where they differ
/// from BertConfig's).
pub(super) fn with_defaults(
    config: &serde_json::Value,
    defaults: &[(&str, serde_json::Value)],
) -> serde_json::Value {
    let mut config = config.clone();
    if let Some(keys) = config.as_object_mut() {
        for (key, value) in defaults {
            keys.entry(*key).or_insert(value.clone());
        }
    }
    config
}

/// The positive integer at `key` of `config`, or `default` where it is absent.
pub(super) fn positive(config: &serde_json::Value, key: &str, default: i64) -> Result<i64> {
    match config.get(key) {
        None => Ok(default),
        Some(v) => match v.as_i64() {
            Some(n) if n > 0 => Ok(n),
            _ => bail!("{key} {v} is not a positive integer"),
        },
    }
}

/// Checkpoint names of an encoder layer's parts, relative to the layer.
struct LayerNames {
    query: &'static str,
    key: &'static str,
    value: &'static str,
    attention_output: &'static str,
    attention_norm: &'static str,
    intermediate: &'static str,
    output: &'static str,
    output_norm: &'static str,
}

const BERT_LAYER: LayerNames = LayerNames {
    query: "attention.self.query",
    key: "attention.self.key",
    value: "attention.self.value",
    attention_output: "attention.output.dense",
    attention_norm: "attention.output.LayerNorm",
    intermediate: "intermediate.dense",
    output: "output.dense",
    output_norm: "output.LayerNorm",
};

const DISTILBERT_LAYER: LayerNames = LayerNames {
    query: "attention.q_lin",
    key: "attention.k_lin",
    value: "attention.v_lin",
    attention_output: "attention.out_lin",
    attention_norm: "sa_layer_norm",
    intermediate: "ffn.lin1",
    output: "ffn.lin2",
    output_norm: "output_layer_norm",
};

const ALBERT_LAYER: LayerNames = LayerNames {
    query: "attention.query",
    key: "attention.key",
    value: "attention.value",
    attention_output: "attention.dense",
    attention_norm: "attention.LayerNorm",
    intermediate: "ffn",
    output: "ffn_output",
    output_norm: "full_layer_layer_norm",
};

/// `DistilBertConfig`'s keys, read into a [`BertConfig`] (no token types, LayerNorm eps 1e-12).
#[derive(Debug, Deserialize)]
#[serde(default)]
struct DistilBertKeys {
    vocab_size: i64,
    max_position_embeddings: i64,
    sinusoidal_pos_embds: bool,
    #[serde(alias = "num_hidden_layers")]
    n_layers: i64,
    #[serde(alias = "num_attention_heads")]
    n_heads: i64,
    #[serde(alias = "hidden_size")]
    dim: i64,
    hidden_dim: i64,
    activation: Activation,
    pad_token_id: Option<i64>,
    tie_word_embeddings: bool,
}

impl Default for DistilBertKeys {
    fn default() -> Self {
        DistilBertKeys {
            vocab_size: 30522,
            max_position_embeddings: 512,
            sinusoidal_pos_embds: false,
            n_layers: 6,
            n_heads: 12,
            dim: 768,
            hidden_dim: 4 * 768,
            activation: Activation::Gelu,
            pad_token_id: Some(0),
            tie_word_embeddings: true,
        }
    }
}

impl DistilBertKeys {
    fn into_bert(self) -> Result<BertConfig> {
        if self.sinusoidal_pos_embds {
            bail!("sinusoidal_pos_embds has no graph build (learned positions only)");
        }
        Ok(BertConfig {
            model_type: "distilbert".into(),
            pad_token_id: self.pad_token_id,
            vocab_size: self.vocab_size,
            hidden_size: self.dim,
            num_hidden_layers: self.n_layers,
            num_attention_heads: self.n_heads,
            intermediate_size: self.hidden_dim,
            hidden_act: self.activation,
            max_position_embeddings: self.max_position_embeddings,
            type_vocab_size: 0,
            layer_norm_eps: 1e-12,
            position_embedding_type: "absolute".into(),
            tie_word_embeddings: self.tie_word_embeddings,
        })
    }
}

/// RoBERTa's `create_position_ids_from_input_ids`: non-padding tokens count from
/// padding_idx + 1, padding tokens get padding_idx. The running count is a product with an
/// upper-triangular matrix of ones (exact in f32 for any sequence length here).
fn positions_after_padding<B: GraphBuilder>(
    b: &mut B,
    ids: &B::Value,
    pad: i64,
    seq: i64,
) -> Result<B::Value> {
    let pad_id = b.constant(Constant::i64(&[], vec![pad]))?;
    let kept = b.not_equal(ids, &pad_id)?;
    let kept = b.cast(&kept, DType::F32)?;
    let upper: Vec<f32> = (0..seq)
        .flat_map(|i| (0..seq).map(move |j| if i <= j { 1.0 } else { 0.0 }))
        .collect();
    let upper = b.constant(Constant::f32(&[seq, seq], upper))?;
    let upper = match b.float() {
        DType::F32 => upper,
        _ => b.cast(&upper, DType::F32)?,
    };
    let counts = b.matmul(&kept, &upper, false, false)?;
    let counts = b.binary(Binary::Mul, &counts, &kept)?;
    let counts = b.cast(&counts, DType::I64)?;
    let pad_id = b.constant(Constant::i64(&[], vec![pad]))?;
    b.binary(Binary::Add, &counts, &pad_id)
}

/// BERT's embeddings of `ids` (batch, seq), `width` wide (ELECTRA's and ALBERT's
/// `embedding_size`): word + token type 0 + position, then LayerNorm; with the word table,
/// which a tied decoder reuses.
pub(super) fn embeddings<B: GraphBuilder>(
    b: &mut B,
    c: &BertConfig,
    root: &str,
    ids: &B::Value,
    width: i64,
) -> Result<(B::Value, B::Value)> {
    let seq = b.shape(ids)?[1];
    if seq > c.max_positions() {
        bail!(
            "sequence length {seq} exceeds the {} positions of max_position_embeddings {}",
            c.max_positions(),
            c.max_position_embeddings
        );
    }
    let word = b.parameter(
        &format!("{root}embeddings.word_embeddings.weight"),
        &[c.vocab_size, width],
    )?;
    let mut xs = b.gather(&word, ids)?;
    if c.type_vocab_size > 0 {
        // Every token is of type 0, transformers' buffered default.
        let table = b.parameter(
            &format!("{root}embeddings.token_type_embeddings.weight"),
            &[c.type_vocab_size, width],
        )?;
        let zero = b.constant(Constant::i64(&[1], vec![0]))?;
        let row = b.gather(&table, &zero)?;
        xs = b.binary(Binary::Add, &xs, &row)?;
    }
    let table = b.parameter(
        &format!("{root}embeddings.position_embeddings.weight"),
        &[c.max_position_embeddings, width],
    )?;
    let pos = match (c.is_roberta(), c.padding_idx()) {
        (true, Some(pad)) => positions_after_padding(b, ids, pad, seq)?,
        _ => positions(b, seq)?,
    };
    let pos = b.gather(&table, &pos)?;
    xs = b.binary(Binary::Add, &xs, &pos)?;
    let xs = layer_norm(
        b,
        &xs,
        &format!("{root}embeddings.LayerNorm"),
        width,
        c.layer_norm_eps,
    )?;
    Ok((xs, word))
}

/// The graph of `BertModel` (pooled output) or `BertForMaskedLM` (logits, and the loss
/// against a `labels` input) on an `input_ids` input (batch, seq).
pub fn build<B: GraphBuilder>(
    b: &mut B,
    c: &BertConfig,
    shape: Shape,
) -> Result<Outputs<B::Value>> {
    let h = c.hidden_size;
    let (ids, labels) = token_inputs(b, shape)?;
    let root = match (shape.lm_head, c.model_type.as_str()) {
        (false, _) => "",
        (true, "roberta" | "xlm-roberta") => "roberta.",
        (true, "distilbert") => "distilbert.",
        (true, _) => "bert.",
    };
    let (mut xs, word) = embeddings(b, c, root, &ids, h)?;
    for i in 0..c.num_hidden_layers {
        xs = encoder_layer(b, c, &xs, &format!("{root}{}.{i}", c.layers_path()))?;
    }
    if !shape.lm_head && c.is_distilbert() {
        // `DistilBertModel` has no pooler: its output is the last hidden state.
        return Ok(Outputs {
            output: xs,
            loss: None,
        });
    }
    if !shape.lm_head {
        return Ok(Outputs {
            output: pooler(b, &xs, "pooler.dense")?,
            loss: None,
        });
    }
    // BERT's `cls.predictions.transform`, RoBERTa's `lm_head` (always exact GELU) or
    // DistilBERT's `vocab_transform` (its decoder is `vocab_projector`: tied weight, own bias).
    let (head, dense, norm, activation) = match c.model_type.as_str() {
        "roberta" | "xlm-roberta" => (
            "lm_head",
            "lm_head.dense",
            "lm_head.layer_norm",
            Activation::Gelu,
        ),
        "distilbert" => (
            "vocab_projector",
            "vocab_transform",
            "vocab_layer_norm",
            c.hidden_act,
        ),
        _ => (
            "cls.predictions",
            "cls.predictions.transform.dense",
            "cls.predictions.transform.LayerNorm",
            c.hidden_act,
        ),
    };
    let decoder = match c.tie_word_embeddings {
        true => word,
        false if c.is_distilbert() => b.parameter(&format!("{head}.weight"), &[c.vocab_size, h])?,
        false => b.parameter(&format!("{head}.decoder.weight"), &[c.vocab_size, h])?,
    };
    let transform = MlmHead {
        dense,
        norm,
        activation,
        width: h,
    };
    let logits = transform.logits(b, c, &xs, &decoder, &format!("{head}.bias"))?;
    mlm_outputs(b, logits, labels.as_ref())
}

/// The pooler: tanh(dense(first token)) of the states (batch, seq, hidden).
pub(super) fn pooler<B: GraphBuilder>(b: &mut B, xs: &B::Value, dense: &str) -> Result<B::Value> {
    let s = b.shape(xs)?;
    let (batch, h) = (s[0], s[2]);
    let first = b.slice(xs, &[0, 0, 0], &[batch, 1, h])?;
    let first = b.reshape(&first, &[batch, h])?;
    let dense = linear(b, &first, dense, h, h, true)?;
    b.unary(Unary::Tanh, &dense)
}

/// A masked-LM head's transform: dense (hidden size to `width`), activation, LayerNorm,
/// then the decoder (tied or own) with its bias.
pub(super) struct MlmHead<'a> {
    pub dense: &'a str,
    pub norm: &'a str,
    pub activation: Activation,
    /// The hidden size, or ELECTRA's and ALBERT's embedding_size.
    pub width: i64,
}

impl MlmHead<'_> {
    /// The logits (batch, seq, vocab) of the encoder's states `xs`, `decoder` (vocab, width).
    pub(super) fn logits<B: GraphBuilder>(
        &self,
        b: &mut B,
        c: &BertConfig,
        xs: &B::Value,
        decoder: &B::Value,
        bias: &str,
    ) -> Result<B::Value> {
        let xs = linear(b, xs, self.dense, c.hidden_size, self.width, true)?;
        let xs = self.activation.apply(b, &xs)?;
        let xs = layer_norm(b, &xs, self.norm, self.width, c.layer_norm_eps)?;
        project(b, &xs, decoder, true, Some(bias.to_string()), c.vocab_size)
    }
}

/// The post-LayerNorm encoder layer: x = LN(x + attention(x)), x = LN(x + W2 act(W1 x)).
pub(super) fn encoder_layer<B: GraphBuilder>(
    b: &mut B,
    c: &BertConfig,
    xs: &B::Value,
    p: &str,
) -> Result<B::Value> {
    let (h, heads) = (c.hidden_size, c.num_attention_heads);
    let n = c.layer_names();
    let q = linear(b, xs, &format!("{p}.{}", n.query), h, h, true)?;
    let k = linear(b, xs, &format!("{p}.{}", n.key), h, h, true)?;
    let v = linear(b, xs, &format!("{p}.{}", n.value), h, h, true)?;
    let (q, k, v) = (
        split_heads(b, &q, heads)?,
        split_heads(b, &k, heads)?,
        split_heads(b, &v, heads)?,
    );
    let scale = 1.0 / ((h / heads) as f32).sqrt();
    let context = attention(b, &q, &k, &v, scale, None)?;
    let context = merge_heads(b, &context)?;
    let attended = linear(
        b,
        &context,
        &format!("{p}.{}", n.attention_output),
        h,
        h,
        true,
    )?;
    let attended = b.binary(Binary::Add, &attended, xs)?;
    let attended = layer_norm(
        b,
        &attended,
        &format!("{p}.{}", n.attention_norm),
        h,
        c.layer_norm_eps,
    )?;
    let inner = linear(
        b,
        &attended,
        &format!("{p}.{}", n.intermediate),
        h,
        c.intermediate_size,
        true,
    )?;
    let inner = c.hidden_act.apply(b, &inner)?;
    let out = linear(
        b,
        &inner,
        &format!("{p}.{}", n.output),
        c.intermediate_size,
        h,
        true,
    )?;
    let out = b.binary(Binary::Add, &out, &attended)?;
    layer_norm(
        b,
        &out,
        &format!("{p}.{}", n.output_norm),
        h,
        c.layer_norm_eps,
    )
}

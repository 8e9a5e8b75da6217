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
    activate, attention, layer_norm, linear, merge_heads, mlm_outputs, positions, project,
    split_heads, token_inputs, Activation, Outputs, Shape,
};
use anyhow::{bail, Result};
use run_benchmark_core::spec::albert::AlbertConfig;
use run_benchmark_core::spec::bert::{BertConfig, EmbeddingSpec, LayerSpec, PositionIds};
use run_benchmark_core::spec::distilbert::DistilBertConfig;
use run_benchmark_core::spec::electra::ElectraConfig;
use run_benchmark_core::spec::roberta::RobertaConfig;

/// Which checkpoint's names a BERT-like encoder carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    Bert,
    Roberta,
    DistilBert,
    /// ELECTRA's encoder: BERT's layer names under `electra.`.
    Electra,
    Albert,
}

/// What the BERT-like builders read of a config the core parsed and validated (BERT,
/// RoBERTa, DistilBERT; the encoders of ELECTRA and ALBERT): the core's embedding and layer
/// shapes, the depth and the checkpoint's names.
#[derive(Debug, Clone)]
pub struct Encoder {
    pub naming: Naming,
    pub embeddings: EmbeddingSpec,
    pub layer: LayerSpec,
    pub layers: i64,
    pub tie_word_embeddings: bool,
}

impl Encoder {
    pub fn bert(c: &BertConfig) -> Self {
        Encoder {
            naming: Naming::Bert,
            embeddings: c.embedding_spec(c.hidden_size, PositionIds::FromZero),
            layer: c.layer_spec(),
            layers: c.num_hidden_layers,
            tie_word_embeddings: c.tie_word_embeddings,
        }
    }

    pub fn roberta(c: &RobertaConfig) -> Self {
        let position_ids = PositionIds::AfterPadding(c.padding_idx);
        Encoder {
            naming: Naming::Roberta,
            embeddings: c.bert.embedding_spec(c.bert.hidden_size, position_ids),
            ..Encoder::bert(&c.bert)
        }
    }

    pub fn distilbert(c: &DistilBertConfig) -> Self {
        Encoder {
            naming: Naming::DistilBert,
            embeddings: c.embedding_spec(),
            layer: c.layer_spec(),
            layers: c.n_layers,
            tie_word_embeddings: c.tie_word_embeddings,
        }
    }

    pub fn electra(c: &ElectraConfig) -> Self {
        let bert = c.bert();
        Encoder {
            naming: Naming::Electra,
            embeddings: bert.embedding_spec(c.embedding_size, PositionIds::FromZero),
            ..Encoder::bert(&bert)
        }
    }

    pub fn albert(c: &AlbertConfig) -> Self {
        Encoder {
            naming: Naming::Albert,
            embeddings: c.embedding_spec(),
            layer: c.layer_spec(),
            layers: c.num_hidden_layers,
            tie_word_embeddings: c.tie_word_embeddings,
        }
    }

    /// What the graph build cannot do of a config the core accepts.
    pub fn unsupported(&self) -> Result<()> {
        if self.embeddings.sinusoidal {
            bail!("sinusoidal_pos_embds has no graph build (learned positions only)");
        }
        Ok(())
    }

    fn is_distilbert(&self) -> bool {
        self.naming == Naming::DistilBert
    }

    /// Where the encoder layers are, under the model's root.
    fn layers_path(&self) -> &'static str {
        match self.is_distilbert() {
            true => "transformer.layer",
            false => "encoder.layer",
        }
    }

    fn layer_names(&self) -> &'static LayerNames {
        match self.naming {
            Naming::DistilBert => &DISTILBERT_LAYER,
            Naming::Albert => &ALBERT_LAYER,
            _ => &BERT_LAYER,
        }
    }

    /// The longest sequence: RoBERTa's positions start after the padding index.
    pub fn max_positions(&self) -> i64 {
        let e = &self.embeddings;
        match e.position_ids {
            PositionIds::AfterPadding(pad) => e.max_positions - pad - 1,
            PositionIds::FromZero => e.max_positions,
        }
    }

    pub fn vocab_size(&self) -> i64 {
        self.embeddings.vocab_size
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
    c: &Encoder,
    root: &str,
    ids: &B::Value,
) -> Result<(B::Value, B::Value)> {
    let e = &c.embeddings;
    let width = e.dim;
    let seq = b.shape(ids)?[1];
    if seq > c.max_positions() {
        bail!(
            "sequence length {seq} exceeds the {} positions of max_position_embeddings {}",
            c.max_positions(),
            e.max_positions
        );
    }
    let word = b.parameter(
        &format!("{root}embeddings.word_embeddings.weight"),
        &[e.vocab_size, width],
    )?;
    let mut xs = b.gather(&word, ids)?;
    if e.type_vocab_size > 0 {
        // Every token is of type 0, transformers' buffered default.
        let table = b.parameter(
            &format!("{root}embeddings.token_type_embeddings.weight"),
            &[e.type_vocab_size, width],
        )?;
        let zero = b.constant(Constant::i64(&[1], vec![0]))?;
        let row = b.gather(&table, &zero)?;
        xs = b.binary(Binary::Add, &xs, &row)?;
    }
    let table = b.parameter(
        &format!("{root}embeddings.position_embeddings.weight"),
        &[e.max_positions, width],
    )?;
    let pos = match e.position_ids {
        PositionIds::AfterPadding(pad) => positions_after_padding(b, ids, pad, seq)?,
        PositionIds::FromZero => positions(b, seq)?,
    };
    let pos = b.gather(&table, &pos)?;
    xs = b.binary(Binary::Add, &xs, &pos)?;
    let xs = layer_norm(
        b,
        &xs,
        &format!("{root}embeddings.LayerNorm"),
        width,
        e.layer_norm_eps,
    )?;
    Ok((xs, word))
}

/// The graph of `BertModel` (pooled output) or `BertForMaskedLM` (logits, and the loss
/// against a `labels` input) on an `input_ids` input (batch, seq).
pub fn build<B: GraphBuilder>(b: &mut B, c: &Encoder, shape: Shape) -> Result<Outputs<B::Value>> {
    let (h, vocab) = (c.layer.hidden, c.vocab_size());
    let (ids, labels) = token_inputs(b, shape)?;
    let root = match (shape.lm_head, c.naming) {
        (false, _) => "",
        (true, Naming::Roberta) => "roberta.",
        (true, Naming::DistilBert) => "distilbert.",
        (true, _) => "bert.",
    };
    let (mut xs, word) = embeddings(b, c, root, &ids)?;
    for i in 0..c.layers {
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
    let (head, dense, norm, activation) = match c.naming {
        Naming::Roberta => (
            "lm_head",
            "lm_head.dense",
            "lm_head.layer_norm",
            Activation::Gelu,
        ),
        Naming::DistilBert => (
            "vocab_projector",
            "vocab_transform",
            "vocab_layer_norm",
            c.layer.activation,
        ),
        _ => (
            "cls.predictions",
            "cls.predictions.transform.dense",
            "cls.predictions.transform.LayerNorm",
            c.layer.activation,
        ),
    };
    let decoder = match c.tie_word_embeddings {
        true => word,
        false if c.is_distilbert() => b.parameter(&format!("{head}.weight"), &[vocab, h])?,
        false => b.parameter(&format!("{head}.decoder.weight"), &[vocab, h])?,
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
        c: &Encoder,
        xs: &B::Value,
        decoder: &B::Value,
        bias: &str,
    ) -> Result<B::Value> {
        let xs = linear(b, xs, self.dense, c.layer.hidden, self.width, true)?;
        let xs = activate(b, self.activation, &xs)?;
        let xs = layer_norm(b, &xs, self.norm, self.width, c.layer.layer_norm_eps)?;
        project(
            b,
            &xs,
            decoder,
            true,
            Some(bias.to_string()),
            c.vocab_size(),
        )
    }
}

/// The post-LayerNorm encoder layer: x = LN(x + attention(x)), x = LN(x + W2 act(W1 x)).
pub(super) fn encoder_layer<B: GraphBuilder>(
    b: &mut B,
    c: &Encoder,
    xs: &B::Value,
    p: &str,
) -> Result<B::Value> {
    let l = &c.layer;
    let (h, heads) = (l.hidden, l.heads);
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
        l.layer_norm_eps,
    )?;
    let inner = linear(
        b,
        &attended,
        &format!("{p}.{}", n.intermediate),
        h,
        l.intermediate,
        true,
    )?;
    let inner = activate(b, l.activation, &inner)?;
    let out = linear(
        b,
        &inner,
        &format!("{p}.{}", n.output),
        l.intermediate,
        h,
        true,
    )?;
    let out = b.binary(Binary::Add, &out, &attended)?;
    layer_norm(
        b,
        &out,
        &format!("{p}.{}", n.output_norm),
        h,
        l.layer_norm_eps,
    )
}

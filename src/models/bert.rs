//! BERT (Devlin et al., 2018, "BERT: Pre-training of Deep Bidirectional Transformers for
//! Language Understanding"), following transformers' `modeling_bert.py`: `BertModel` (with
//! pooler) for inference and `BertForMaskedLM` (no pooler, tied decoder) for the MLM loss.
//! Parameter paths are the checkpoint's: `bert.encoder.layer.0.attention.self.query.weight`.
//!
//! Its blocks are shared by the families derived from it, whose maths is the same under other
//! names: [`Embeddings`] (RoBERTa's position ids, ALBERT's and ELECTRA's narrower embeddings,
//! DistilBERT's missing token types), the post-LayerNorm [`EncoderLayer`] (DistilBERT's and
//! ALBERT's paths and dropout placement), [`BertModel`] itself (RoBERTa, ELECTRA) and the
//! masked-LM [`MlmHead`].

use super::checks::{check_heads, check_positive};
use super::layers::{dropout, lm_loss, Activation, Embedding, LayerNorm, Linear};
use super::{parse_config, Architecture, Model, Task};
use anyhow::{bail, Result};
use serde::Deserialize;
use std::rc::Rc;
use tch::{nn, Kind, Tensor};

/// `BertConfig`, with transformers' defaults for every key a config.json may leave out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct BertConfig {
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
    pub pad_token_id: Option<i64>,
    pub position_embedding_type: String,
    pub tie_word_embeddings: bool,
}

impl Default for BertConfig {
    fn default() -> Self {
        BertConfig {
            vocab_size: 30522,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: Activation::Gelu,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            initializer_range: 0.02,
            layer_norm_eps: 1e-12,
            pad_token_id: Some(0),
            position_embedding_type: "absolute".into(),
            tie_word_embeddings: true,
        }
    }
}

impl BertConfig {
    pub fn validate(&self) -> Result<()> {
        if self.position_embedding_type != "absolute" {
            bail!(
                "position_embedding_type \"{}\" is not supported (only \"absolute\")",
                self.position_embedding_type
            );
        }
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
            ("type_vocab_size", self.type_vocab_size),
        ])
    }

    /// The embeddings' shape: `dim` wide (ELECTRA embeds narrower than hidden_size).
    pub fn embedding_spec(&self, dim: i64, position_ids: PositionIds) -> EmbeddingSpec {
        EmbeddingSpec {
            vocab_size: self.vocab_size,
            dim,
            max_positions: self.max_position_embeddings,
            type_vocab_size: self.type_vocab_size,
            pad_token_id: self.pad_token_id,
            position_ids,
            sinusoidal: false,
            layer_norm_eps: self.layer_norm_eps,
            dropout: self.hidden_dropout_prob,
            init_std: self.initializer_range,
        }
    }

    pub fn layer_spec(&self) -> LayerSpec {
        LayerSpec {
            hidden: self.hidden_size,
            intermediate: self.intermediate_size,
            heads: self.num_attention_heads,
            activation: self.hidden_act,
            layer_norm_eps: self.layer_norm_eps,
            init_std: self.initializer_range,
            attention_probs_dropout: self.attention_probs_dropout_prob,
            attention_output_dropout: self.hidden_dropout_prob,
            ffn_output_dropout: self.hidden_dropout_prob,
        }
    }
}

/// `p` followed by a dotted checkpoint path (`attention.self.query`); tch paths take one
/// name at a time.
fn sub<'a>(p: &nn::Path<'a>, dotted: &str) -> nn::Path<'a> {
    let mut names = dotted.split('.');
    let first = p / names.next().unwrap_or_default();
    names.fold(first, |path, name| &path / name)
}

/// Where the position ids come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionIds {
    /// 0, 1, ..., seq - 1 (BERT).
    FromZero,
    /// RoBERTa's `create_position_ids_from_input_ids` with this padding index: non-padding
    /// tokens count from padding_idx + 1, padding tokens get padding_idx.
    AfterPadding(i64),
}

impl PositionIds {
    /// The ids for `input_ids` (batch, seq): (seq) or (batch, seq).
    pub fn for_input(self, input_ids: &Tensor) -> Tensor {
        match self {
            PositionIds::FromZero => {
                Tensor::arange(input_ids.size()[1], (Kind::Int64, input_ids.device()))
            }
            PositionIds::AfterPadding(padding_idx) => {
                let mask = input_ids.ne(padding_idx).to_kind(Kind::Int64);
                mask.cumsum(1, Kind::Int64) * &mask + padding_idx
            }
        }
    }
}

/// The shape of the embeddings of a BERT-like model.
#[derive(Debug, Clone)]
pub struct EmbeddingSpec {
    pub vocab_size: i64,
    pub dim: i64,
    pub max_positions: i64,
    /// 0: no token type embeddings (DistilBERT).
    pub type_vocab_size: i64,
    pub pad_token_id: Option<i64>,
    pub position_ids: PositionIds,
    /// Fixed sinusoidal position embeddings (DistilBERT's `sinusoidal_pos_embds`), not trained.
    pub sinusoidal: bool,
    pub layer_norm_eps: f64,
    pub dropout: f64,
    pub init_std: f64,
}

/// Word + token type (all of type 0, as transformers' buffered default) + position
/// embeddings, then LayerNorm and dropout; paths `word_embeddings`, `token_type_embeddings`,
/// `position_embeddings`, `LayerNorm`.
pub struct Embeddings {
    pub word_embeddings: Embedding,
    position_embeddings: Embedding,
    token_type_embeddings: Option<Embedding>,
    layer_norm: LayerNorm,
    position_ids: PositionIds,
    dropout: f64,
}

impl Embeddings {
    pub fn new(p: nn::Path, s: &EmbeddingSpec) -> Self {
        let position_embeddings = if s.sinusoidal {
            let mut weight =
                (&p / "position_embeddings").zeros_no_train("weight", &[s.max_positions, s.dim]);
            tch::no_grad(|| weight.copy_(&sinusoidal_table(s.max_positions, s.dim)));
            Embedding { weight }
        } else {
            // RoBERTa's position table has a padding row too (zero at init).
            let padding_idx = match s.position_ids {
                PositionIds::AfterPadding(idx) => Some(idx),
                PositionIds::FromZero => None,
            };
            Embedding::new(
                &p / "position_embeddings",
                s.max_positions,
                s.dim,
                s.init_std,
                padding_idx,
            )
        };
        Embeddings {
            word_embeddings: Embedding::new(
                &p / "word_embeddings",
                s.vocab_size,
                s.dim,
                s.init_std,
                s.pad_token_id,
            ),
            position_embeddings,
            token_type_embeddings: (s.type_vocab_size > 0).then(|| {
                Embedding::new(
                    &p / "token_type_embeddings",
                    s.type_vocab_size,
                    s.dim,
                    s.init_std,
                    None,
                )
            }),
            layer_norm: LayerNorm::new(&p / "LayerNorm", s.dim, s.layer_norm_eps),
            position_ids: s.position_ids,
            dropout: s.dropout,
        }
    }

    /// The embedding width.
    pub fn dim(&self) -> i64 {
        self.word_embeddings.weight.size()[1]
    }

    pub fn forward(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let words = self.word_embeddings.forward(input_ids);
        // Every token is of type 0: row 0, broadcast.
        let xs = match &self.token_type_embeddings {
            Some(token_type) => words + token_type.weight.get(0),
            None => words,
        };
        let positions = self.position_ids.for_input(input_ids);
        let xs = xs + self.position_embeddings.forward(&positions);
        dropout(self.layer_norm.forward(&xs), self.dropout, train)
    }
}

/// DistilBERT's `create_sinusoidal_embeddings`: angle pos / 10000^(2⌊j/2⌋/dim), sine in even
/// columns and cosine in odd ones, computed in f64 as numpy does.
pub fn sinusoidal_table(positions: i64, dim: i64) -> Tensor {
    let pos = Tensor::arange(positions, (Kind::Double, tch::Device::Cpu)).unsqueeze(1);
    let j = Tensor::arange(dim, (Kind::Int64, tch::Device::Cpu));
    let exponent = (j.divide_scalar_mode(2, "floor") * 2).to_kind(Kind::Double) / dim as f64;
    let angles = pos / Tensor::from(10000.0f64).pow(&exponent).unsqueeze(0);
    let even = j.remainder(2).eq(0).unsqueeze(0);
    angles
        .sin()
        .where_self(&even, &angles.cos())
        .to_kind(Kind::Float)
}

/// Checkpoint names of an [`EncoderLayer`]'s parts, relative to the layer.
#[derive(Debug, Clone, Copy)]
pub struct LayerNames {
    pub query: &'static str,
    pub key: &'static str,
    pub value: &'static str,
    pub attention_output: &'static str,
    pub attention_norm: &'static str,
    pub intermediate: &'static str,
    pub output: &'static str,
    pub output_norm: &'static str,
}

pub const BERT_LAYER: LayerNames = LayerNames {
    query: "attention.self.query",
    key: "attention.self.key",
    value: "attention.self.value",
    attention_output: "attention.output.dense",
    attention_norm: "attention.output.LayerNorm",
    intermediate: "intermediate.dense",
    output: "output.dense",
    output_norm: "output.LayerNorm",
};

/// Sizes and dropout of an [`EncoderLayer`]. Families drop out in different places.
#[derive(Debug, Clone)]
pub struct LayerSpec {
    pub hidden: i64,
    pub intermediate: i64,
    pub heads: i64,
    pub activation: Activation,
    pub layer_norm_eps: f64,
    pub init_std: f64,
    /// On the attention probabilities.
    pub attention_probs_dropout: f64,
    /// On the attention's output projection, before the residual.
    pub attention_output_dropout: f64,
    /// On the feed-forward output, before the residual.
    pub ffn_output_dropout: f64,
}

/// BERT's post-LayerNorm encoder layer: x = LN(x + attention(x)), then
/// x = LN(x + W2 act(W1 x)), with bidirectional scaled dot-product attention.
pub struct EncoderLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
    spec: LayerSpec,
}

impl EncoderLayer {
    pub fn new(p: nn::Path, names: &LayerNames, s: &LayerSpec) -> Self {
        let (h, i, std) = (s.hidden, s.intermediate, s.init_std);
        let linear = |name: &str, din, dout| Linear::new(sub(&p, name), din, dout, true, std);
        EncoderLayer {
            query: linear(names.query, h, h),
            key: linear(names.key, h, h),
            value: linear(names.value, h, h),
            attention_output: linear(names.attention_output, h, h),
            attention_norm: LayerNorm::new(sub(&p, names.attention_norm), h, s.layer_norm_eps),
            intermediate: linear(names.intermediate, h, i),
            output: linear(names.output, i, h),
            output_norm: LayerNorm::new(sub(&p, names.output_norm), h, s.layer_norm_eps),
            spec: s.clone(),
        }
    }

    pub fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        let (b, s, h) = xs.size3().expect("hidden states are (batch, seq, hidden)");
        let heads = |t: Tensor| t.view([b, s, self.spec.heads, -1]).transpose(1, 2);
        let q = heads(self.query.forward(xs));
        let k = heads(self.key.forward(xs));
        let v = heads(self.value.forward(xs));
        let attention_dropout = if train {
            self.spec.attention_probs_dropout
        } else {
            0.0
        };
        // No attention mask: the benchmark's inputs have no padding, as in the original.
        let context = Tensor::scaled_dot_product_attention::<Tensor>(
            &q,
            &k,
            &v,
            None,
            attention_dropout,
            false,
            None,
            false,
        )
        .transpose(1, 2)
        .reshape([b, s, h]);
        let attended = dropout(
            self.attention_output.forward(&context),
            self.spec.attention_output_dropout,
            train,
        );
        let attended = self.attention_norm.forward(&(attended + xs));
        let inner = self
            .spec
            .activation
            .apply(&self.intermediate.forward(&attended));
        let out = dropout(
            self.output.forward(&inner),
            self.spec.ffn_output_dropout,
            train,
        );
        self.output_norm.forward(&(out + attended))
    }
}

/// The masked-LM head of the BERT family: dense, activation, LayerNorm, then the decoder to
/// the vocabulary (see [`decoder`]).
pub struct MlmHead {
    pub dense: Linear,
    pub activation: Activation,
    pub norm: LayerNorm,
    pub decoder: Linear,
}

impl MlmHead {
    pub fn forward(&self, hidden: &Tensor) -> Tensor {
        let xs = self.activation.apply(&self.dense.forward(hidden));
        self.decoder.forward(&self.norm.forward(&xs))
    }
}

/// The projection to the vocabulary: its weight is the word embeddings' (one shared tensor)
/// when `tie`, else its own `weight` under `p` (N(0, std) at init); its bias is `bias`.
pub fn decoder(
    p: nn::Path,
    word_embeddings: &Embedding,
    tie: bool,
    bias: Tensor,
    std: f64,
) -> Linear {
    let weight = if tie {
        word_embeddings.weight.shallow_clone()
    } else {
        let size = word_embeddings.weight.size();
        p.var(
            "weight",
            &size,
            nn::Init::Randn {
                mean: 0.0,
                stdev: std,
            },
        )
    };
    Linear {
        weight,
        bias: Some(bias),
    }
}

/// `BertModel`: embeddings, encoder and (optionally) the pooler. The other families' base
/// models are this one with other parts: RoBERTa's and DistilBERT's embeddings, ELECTRA's
/// and ALBERT's projection of narrower embeddings, ALBERT's layers shared across depth.
pub struct BertModel {
    embeddings: Embeddings,
    embeddings_project: Option<Linear>,
    layers: Vec<Rc<EncoderLayer>>,
    pooler: Option<Linear>,
}

impl BertModel {
    pub fn new(p: nn::Path, c: &BertConfig, with_pooler: bool) -> Self {
        let spec = c.embedding_spec(c.hidden_size, PositionIds::FromZero);
        let embeddings = Embeddings::new(&p / "embeddings", &spec);
        Self::with_embeddings(p, c, embeddings, with_pooler)
    }

    /// BERT's model on `embeddings` (under `p / "embeddings"`); embeddings narrower than the
    /// hidden size are mapped to it by ELECTRA's `embeddings_project`.
    pub fn with_embeddings(
        p: nn::Path,
        c: &BertConfig,
        embeddings: Embeddings,
        with_pooler: bool,
    ) -> Self {
        let (h, std) = (c.hidden_size, c.initializer_range);
        let encoder = &p / "encoder" / "layer";
        let spec = c.layer_spec();
        let embeddings_project = (embeddings.dim() != h)
            .then(|| Linear::new(&p / "embeddings_project", embeddings.dim(), h, true, std));
        let layers = (0..c.num_hidden_layers)
            .map(|i| Rc::new(EncoderLayer::new(&encoder / i, &BERT_LAYER, &spec)))
            .collect();
        let pooler = with_pooler.then(|| Linear::new(&p / "pooler" / "dense", h, h, true, std));
        Self::from_parts(embeddings, embeddings_project, layers, pooler)
    }

    /// `layers` run in order; one layer may appear several times (ALBERT).
    pub fn from_parts(
        embeddings: Embeddings,
        embeddings_project: Option<Linear>,
        layers: Vec<Rc<EncoderLayer>>,
        pooler: Option<Linear>,
    ) -> Self {
        BertModel {
            embeddings,
            embeddings_project,
            layers,
            pooler,
        }
    }

    pub fn word_embeddings(&self) -> &Embedding {
        &self.embeddings.word_embeddings
    }

    /// Last hidden state (batch, seq, hidden).
    pub fn encode(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let mut xs = self.embeddings.forward(input_ids, train);
        if let Some(project) = &self.embeddings_project {
            xs = project.forward(&xs);
        }
        for layer in &self.layers {
            xs = layer.forward(&xs, train);
        }
        xs
    }

    /// tanh(dense(first token)), the pooled output; None without a pooler.
    pub fn pool(&self, hidden: &Tensor) -> Option<Tensor> {
        self.pooler
            .as_ref()
            .map(|dense| dense.forward(&hidden.select(1, 0)).tanh())
    }
}

/// `BertForMaskedLM`: the encoder without pooler, then transform (dense, activation,
/// LayerNorm) and a decoder tied to the word embeddings.
pub struct BertForMaskedLm {
    bert: BertModel,
    head: MlmHead,
}

impl BertForMaskedLm {
    pub fn new(p: nn::Path, c: &BertConfig) -> Self {
        let bert = BertModel::new(&p / "bert", c, false);
        let predictions = &p / "cls" / "predictions";
        let transform = &predictions / "transform";
        let bias = predictions.var("bias", &[c.vocab_size], nn::Init::Const(0.0));
        let head = MlmHead {
            dense: Linear::new(
                &transform / "dense",
                c.hidden_size,
                c.hidden_size,
                true,
                c.initializer_range,
            ),
            activation: c.hidden_act,
            norm: LayerNorm::new(&transform / "LayerNorm", c.hidden_size, c.layer_norm_eps),
            decoder: decoder(
                &predictions / "decoder",
                bert.word_embeddings(),
                c.tie_word_embeddings,
                bias,
                c.initializer_range,
            ),
        };
        BertForMaskedLm { bert, head }
    }

    /// A masked-LM model of another family of the same shape (RoBERTa, ELECTRA's generator).
    pub fn from_parts(bert: BertModel, head: MlmHead) -> Self {
        BertForMaskedLm { bert, head }
    }

    pub fn logits(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.head.forward(&self.bert.encode(input_ids, train))
    }
}

impl Model for BertModel {
    fn forward(&self, input_ids: &Tensor, train: bool) -> Result<Tensor> {
        let hidden = self.encode(input_ids, train);
        Ok(match self.pool(&hidden) {
            Some(pooled) => pooled,
            None => hidden,
        })
    }

    fn loss(&self, _input_ids: &Tensor, _labels: &Tensor, _train: bool) -> Result<Tensor> {
        bail!("the base model has no language-modelling head; train its masked-LM model instead")
    }
}

impl Model for BertForMaskedLm {
    fn forward(&self, input_ids: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.logits(input_ids, train))
    }

    fn loss(&self, input_ids: &Tensor, labels: &Tensor, train: bool) -> Result<Tensor> {
        Ok(lm_loss(&self.logits(input_ids, train), labels))
    }
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Architecture>> {
    let c: BertConfig = parse_config(config)?;
    c.validate()?;
    Ok(Box::new(c))
}

/// Forward FLOPs of `layers` BERT encoder layers of width `h` and feed-forward width `i` on
/// (b, s): per layer, q, k, v and output projections 4·2BSH², the feed-forward 2·2BSHI,
/// scores and weighted values 2·2BS²H.
pub fn encoder_flops(b: f64, s: f64, layers: f64, h: f64, i: f64) -> f64 {
    layers * (2.0 * b * s * (4.0 * h * h + 2.0 * h * i) + 4.0 * b * s * s * h)
}

impl Architecture for BertConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.max_position_embeddings)
    }

    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(BertModel::new(p, self, true)),
            Task::LanguageModel => Box::new(BertForMaskedLm::new(p, self)),
        })
    }

    /// The encoder ([`encoder_flops`]), then the pooler 2BH² (base) or the MLM transform
    /// 2BSH² and decoder 2BSHV (masked LM).
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, i, v) = (
            self.hidden_size as f64,
            self.intermediate_size as f64,
            self.vocab_size as f64,
        );
        let head = match task {
            Task::Base => 2.0 * b * h * h,
            Task::LanguageModel => 2.0 * b * s * h * (h + v),
        };
        encoder_flops(b, s, self.num_hidden_layers as f64, h, i) + head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        let c = BertConfig {
            hidden_size: 4,
            intermediate_size: 8,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            vocab_size: 10,
            ..BertConfig::default()
        };
        // B=1, S=2. q,k,v,o: 4 · (2·2·4·4) = 256; ffn: 2 · (2·2·4·8) = 256;
        // scores and values: 2 · (2·2·2·4) = 64. Pooler: 2·4·4 = 32.
        assert_eq!(
            c.forward_flops(1, 2, Task::Base),
            256.0 + 256.0 + 64.0 + 32.0
        );
        // MLM: transform 2·2·4·4 = 64, decoder 2·2·4·10 = 160.
        assert_eq!(
            c.forward_flops(1, 2, Task::LanguageModel),
            576.0 + 64.0 + 160.0
        );
    }

    #[test]
    fn bert_base_forward_is_about_22_gflop_per_128_tokens() {
        // The usual 2·N·tokens estimate for the 85M encoder parameters plus attention.
        let f = BertConfig::default().forward_flops(1, 128, Task::Base);
        assert!((2.2e10..2.4e10).contains(&f), "{f:e}");
    }

    #[test]
    fn position_ids_after_padding_skip_padding_tokens() {
        // transformers' create_position_ids_from_input_ids with padding_idx 1.
        let ids = Tensor::from_slice2(&[[5i64, 7, 1, 9], [1, 1, 4, 4]]);
        let got = PositionIds::AfterPadding(1).for_input(&ids);
        let want = Tensor::from_slice2(&[[2i64, 3, 1, 4], [1, 1, 2, 3]]);
        assert_eq!(got, want);
        let from_zero = PositionIds::FromZero.for_input(&ids);
        assert_eq!(from_zero, Tensor::from_slice(&[0i64, 1, 2, 3]));
    }

    #[test]
    fn sinusoidal_table_by_hand() {
        let t = sinusoidal_table(3, 4);
        // Row 2: sin(2), cos(2), sin(2/100), cos(2/100).
        let want = [2f64.sin(), 2f64.cos(), 0.02f64.sin(), 0.02f64.cos()];
        for (j, w) in want.iter().enumerate() {
            let got = t.double_value(&[2, j as i64]);
            assert!((got - w).abs() < 1e-6, "column {j}: {got} vs {w}");
        }
        assert_eq!(t.double_value(&[0, 1]), 1.0);
    }
}

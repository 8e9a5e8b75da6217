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

use super::layers::Apply;
use super::layers::{
    attention_kernel, dropout, key_padding_mask, lm_loss, Activation, Embedding, LayerNorm, Linear,
};
use super::{Architecture, Model, Task};
use crate::measure::profile::{self, Part};
use anyhow::{bail, Result};
use std::rc::Rc;
use tch::{nn, Kind, Tensor};

pub use run_benchmark_core::spec::bert::*;

/// `p` followed by a dotted checkpoint path (`attention.self.query`); tch paths take one
/// name at a time.
fn sub<'a>(p: &nn::Path<'a>, dotted: &str) -> nn::Path<'a> {
    let mut names = dotted.split('.');
    let first = p / names.next().unwrap_or_default();
    names.fold(first, |path, name| &path / name)
}

/// The position ids of `input_ids` (batch, seq): (seq) or (batch, seq).
pub fn position_ids(kind: PositionIds, input_ids: &Tensor) -> Tensor {
    match kind {
        PositionIds::FromZero => {
            Tensor::arange(input_ids.size()[1], (Kind::Int64, input_ids.device()))
        }
        PositionIds::AfterPadding(padding_idx) => {
            let mask = input_ids.ne(padding_idx).to_kind(Kind::Int64);
            mask.cumsum(1, Kind::Int64) * &mask + padding_idx
        }
    }
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
            // Written for real in a shape-only build too (`where` has no Meta kernel).
            super::shapes::computed(|| {
                tch::no_grad(|| weight.copy_(&sinusoidal_table(s.max_positions, s.dim)))
            });
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
        let _embeddings = profile::part(Part::Embeddings);
        let words = self.word_embeddings.forward(input_ids);
        // Every token is of type 0: row 0, broadcast.
        let xs = match &self.token_type_embeddings {
            Some(token_type) => words + token_type.weight.get(0),
            None => words,
        };
        let positions = position_ids(self.position_ids, input_ids);
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

    /// `padding`: the boolean key mask of [`key_padding_mask`], None without padding.
    pub fn forward(&self, xs: &Tensor, padding: Option<&Tensor>, train: bool) -> Tensor {
        let _layer = profile::part(Part::Layer);
        let attention = profile::part(Part::Attention);
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
        // Random inputs have no padding (as in the original), so no mask; text inputs have one.
        let context =
            attention_kernel::<&Tensor>(&q, &k, &v, padding, attention_dropout, false, None, false)
                .transpose(1, 2)
                .reshape([b, s, h]);
        let attended = dropout(
            self.attention_output.forward(&context),
            self.spec.attention_output_dropout,
            train,
        );
        drop(attention);
        let attended = self.attention_norm.forward(&(attended + xs));
        let mlp = profile::part(Part::Mlp);
        let inner = self
            .spec
            .activation
            .apply(&self.intermediate.forward(&attended));
        let out = dropout(
            self.output.forward(&inner),
            self.spec.ffn_output_dropout,
            train,
        );
        drop(mlp);
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
        let _head = profile::part(Part::Head);
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
        super::weights::normal(&p, "weight", &size, std)
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
        self.encode_masked(input_ids, None, train)
    }

    /// [`Self::encode`] with an attention mask (batch, seq), 0 at padding: no token attends
    /// to padding. Positions count from 0 in every row, so right padding moves no token.
    pub fn encode_masked(
        &self,
        input_ids: &Tensor,
        attention_mask: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        let padding = attention_mask.map(key_padding_mask);
        let mut xs = self.embeddings.forward(input_ids, train);
        if let Some(project) = &self.embeddings_project {
            xs = project.forward(&xs);
        }
        for layer in &self.layers {
            xs = layer.forward(&xs, padding.as_ref(), train);
        }
        xs
    }

    /// tanh(dense(first token)), the pooled output; None without a pooler.
    pub fn pool(&self, hidden: &Tensor) -> Option<Tensor> {
        let _head = profile::part(Part::Head);
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
        self.logits_masked(input_ids, None, train)
    }

    pub fn logits_masked(
        &self,
        input_ids: &Tensor,
        attention_mask: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        self.head
            .forward(&self.bert.encode_masked(input_ids, attention_mask, train))
    }
}

impl Model for BertModel {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        let hidden = self.encode_masked(input_ids, mask, train);
        Ok(match self.pool(&hidden) {
            Some(pooled) => pooled,
            None => hidden,
        })
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("the base model has no language-modelling head; train its masked-LM model instead")
    }
}

impl Model for BertForMaskedLm {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(self.logits_masked(input_ids, mask, train))
    }

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

impl Architecture for BertConfig {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(BertModel::new(p, self, true)),
            Task::LanguageModel => Box::new(BertForMaskedLm::new(p, self)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Spec;

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
        let got = position_ids(PositionIds::AfterPadding(1), &ids);
        let want = Tensor::from_slice2(&[[2i64, 3, 1, 4], [1, 1, 2, 3]]);
        assert_eq!(got, want);
        let from_zero = position_ids(PositionIds::FromZero, &ids);
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

//! BERT (Devlin et al., 2018, "BERT: Pre-training of Deep Bidirectional Transformers for
//! Language Understanding"), following transformers' `modeling_bert.py`: `BertModel` (with
//! pooler) for inference and `BertForMaskedLM` (no pooler, tied decoder) for the MLM loss.
//! Parameter paths are the checkpoint's: `bert.encoder.layer.0.attention.self.query.weight`.

use super::layers::{dropout, lm_loss, Activation, Embedding, LayerNorm, Linear};
use super::{parse_config, Architecture, Model, Task};
use anyhow::{bail, Result};
use serde::Deserialize;
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
        if self.num_attention_heads <= 0 || self.hidden_size % self.num_attention_heads != 0 {
            bail!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size,
                self.num_attention_heads
            );
        }
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ] {
            if v <= 0 {
                bail!("{name} must be positive, got {v}");
            }
        }
        Ok(())
    }
}

struct BertEmbeddings {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    token_type_embeddings: Embedding,
    layer_norm: LayerNorm,
    dropout: f64,
}

impl BertEmbeddings {
    fn new(p: nn::Path, c: &BertConfig) -> Self {
        let std = c.initializer_range;
        BertEmbeddings {
            word_embeddings: Embedding::new(
                &p / "word_embeddings",
                c.vocab_size,
                c.hidden_size,
                std,
                c.pad_token_id,
            ),
            position_embeddings: Embedding::new(
                &p / "position_embeddings",
                c.max_position_embeddings,
                c.hidden_size,
                std,
                None,
            ),
            token_type_embeddings: Embedding::new(
                &p / "token_type_embeddings",
                c.type_vocab_size,
                c.hidden_size,
                std,
                None,
            ),
            layer_norm: LayerNorm::new(&p / "LayerNorm", c.hidden_size, c.layer_norm_eps),
            dropout: c.hidden_dropout_prob,
        }
    }

    fn forward(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let seq_len = input_ids.size()[1];
        let device = input_ids.device();
        let positions = Tensor::arange(seq_len, (Kind::Int64, device));
        // As transformers' buffered default: every token of type 0.
        let token_type = Tensor::zeros([seq_len], (Kind::Int64, device));
        let xs = self.word_embeddings.forward(input_ids)
            + self.position_embeddings.forward(&positions)
            + self.token_type_embeddings.forward(&token_type);
        dropout(self.layer_norm.forward(&xs), self.dropout, train)
    }
}

struct BertLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
    num_heads: i64,
    activation: Activation,
    hidden_dropout: f64,
    attention_dropout: f64,
}

impl BertLayer {
    fn new(p: nn::Path, c: &BertConfig) -> Self {
        let (h, i, std) = (c.hidden_size, c.intermediate_size, c.initializer_range);
        let attention = &p / "attention";
        let self_attention = &attention / "self";
        let attention_out = &attention / "output";
        let output = &p / "output";
        BertLayer {
            query: Linear::new(&self_attention / "query", h, h, true, std),
            key: Linear::new(&self_attention / "key", h, h, true, std),
            value: Linear::new(&self_attention / "value", h, h, true, std),
            attention_output: Linear::new(&attention_out / "dense", h, h, true, std),
            attention_norm: LayerNorm::new(&attention_out / "LayerNorm", h, c.layer_norm_eps),
            intermediate: Linear::new(&p / "intermediate" / "dense", h, i, true, std),
            output: Linear::new(&output / "dense", i, h, true, std),
            output_norm: LayerNorm::new(&output / "LayerNorm", h, c.layer_norm_eps),
            num_heads: c.num_attention_heads,
            activation: c.hidden_act,
            hidden_dropout: c.hidden_dropout_prob,
            attention_dropout: c.attention_probs_dropout_prob,
        }
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        let (b, s, h) = xs.size3().expect("hidden states are (batch, seq, hidden)");
        let heads = |t: Tensor| t.view([b, s, self.num_heads, -1]).transpose(1, 2);
        let q = heads(self.query.forward(xs));
        let k = heads(self.key.forward(xs));
        let v = heads(self.value.forward(xs));
        let attention_dropout = if train { self.attention_dropout } else { 0.0 };
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
            self.hidden_dropout,
            train,
        );
        let attended = self.attention_norm.forward(&(attended + xs));
        let inner = self.activation.apply(&self.intermediate.forward(&attended));
        let out = dropout(self.output.forward(&inner), self.hidden_dropout, train);
        self.output_norm.forward(&(out + attended))
    }
}

/// `BertModel`: embeddings, encoder and (optionally) the pooler.
pub struct BertModel {
    embeddings: BertEmbeddings,
    layers: Vec<BertLayer>,
    pooler: Option<Linear>,
}

impl BertModel {
    pub fn new(p: nn::Path, c: &BertConfig, with_pooler: bool) -> Self {
        let encoder = &p / "encoder" / "layer";
        BertModel {
            embeddings: BertEmbeddings::new(&p / "embeddings", c),
            layers: (0..c.num_hidden_layers)
                .map(|i| BertLayer::new(&encoder / i, c))
                .collect(),
            pooler: with_pooler.then(|| {
                Linear::new(
                    &p / "pooler" / "dense",
                    c.hidden_size,
                    c.hidden_size,
                    true,
                    c.initializer_range,
                )
            }),
        }
    }

    /// Last hidden state (batch, seq, hidden).
    pub fn encode(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let mut xs = self.embeddings.forward(input_ids, train);
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
    transform: Linear,
    activation: Activation,
    transform_norm: LayerNorm,
    decoder_weight: Tensor,
    decoder_bias: Tensor,
}

impl BertForMaskedLm {
    pub fn new(p: nn::Path, c: &BertConfig) -> Self {
        let bert = BertModel::new(&p / "bert", c, false);
        let predictions = &p / "cls" / "predictions";
        let transform = &predictions / "transform";
        let decoder_weight = bert.embeddings.word_embeddings.weight.shallow_clone();
        BertForMaskedLm {
            bert,
            transform: Linear::new(
                &transform / "dense",
                c.hidden_size,
                c.hidden_size,
                true,
                c.initializer_range,
            ),
            activation: c.hidden_act,
            transform_norm: LayerNorm::new(
                &transform / "LayerNorm",
                c.hidden_size,
                c.layer_norm_eps,
            ),
            decoder_weight,
            decoder_bias: predictions.var("bias", &[c.vocab_size], nn::Init::Const(0.0)),
        }
    }

    pub fn logits(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let hidden = self.bert.encode(input_ids, train);
        let xs = self
            .transform_norm
            .forward(&self.activation.apply(&self.transform.forward(&hidden)));
        xs.linear(&self.decoder_weight, Some(&self.decoder_bias))
    }
}

impl Model for BertModel {
    fn forward(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let hidden = self.encode(input_ids, train);
        match self.pool(&hidden) {
            Some(pooled) => pooled,
            None => hidden,
        }
    }

    fn loss(&self, _input_ids: &Tensor, _labels: &Tensor, _train: bool) -> Result<Tensor> {
        bail!("BertModel has no language-modelling head; train BertForMaskedLM instead")
    }
}

impl Model for BertForMaskedLm {
    fn forward(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.logits(input_ids, train)
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

impl Architecture for BertConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    fn max_positions(&self) -> Option<i64> {
        Some(self.max_position_embeddings)
    }

    fn build(&self, p: nn::Path, task: Task) -> Box<dyn Model> {
        match task {
            Task::Base => Box::new(BertModel::new(p, self, true)),
            Task::LanguageModel => Box::new(BertForMaskedLm::new(p, self)),
        }
    }

    /// Per layer: q, k, v and output projections 4·2BSH², the feed-forward 2·2BSHI, scores
    /// and weighted values 2·2BS²H. Then the pooler 2BH² (base) or the MLM transform 2BSH²
    /// and decoder 2BSHV (masked LM).
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        let (b, s) = (batch as f64, seq as f64);
        let (h, i, v) = (
            self.hidden_size as f64,
            self.intermediate_size as f64,
            self.vocab_size as f64,
        );
        let layer = 2.0 * b * s * (4.0 * h * h + 2.0 * h * i) + 4.0 * b * s * s * h;
        let head = match task {
            Task::Base => 2.0 * b * h * h,
            Task::LanguageModel => 2.0 * b * s * h * (h + v),
        };
        self.num_hidden_layers as f64 * layer + head
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
}

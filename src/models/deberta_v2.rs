//! DeBERTa-v2 and DeBERTa-v3 (He et al., 2020, "DeBERTa: Decoding-enhanced BERT with
//! Disentangled Attention"; He et al., 2021, "DeBERTaV3"), following transformers'
//! `modeling_deberta_v2.py`: BERT's post-LayerNorm layers with disentangled attention, whose
//! scores add content-to-position (`c2p`) and position-to-content (`p2c`) terms over shared
//! relative-position embeddings (`encoder.rel_embeddings`, log-bucketed beyond
//! `position_buckets / 2`). `DebertaV2Model` (last hidden state, no pooler) is the base model
//! and `DebertaV2ForMaskedLM` (`deberta.*`, `cls.predictions.*`) the masked LM. Parameter paths are the checkpoint's:
//! `deberta.encoder.layer.0.attention.self.query_proj.weight`.

use super::bert::{decoder, MlmHead};
use super::layers::Apply;
use super::layers::{
    dropout, lm_loss, merge_heads, split_heads, with_key_padding, Activation, Embedding,
};
use super::layers::{LayerNorm, Linear};
use super::{Architecture, Model, Task};
use anyhow::{bail, Result};
use tch::{nn, Kind, Tensor};

pub use run_benchmark_core::spec::deberta_v2::*;

/// transformers' `make_log_bucket_position`: distances within ±bucket_size/2 stay, longer ones
/// shrink logarithmically so that `max_position - 1` maps to bucket_size/2 - 1 past the middle;
/// in float32 and in its operation order, so that the buckets are the same.
fn log_bucket(relative: &Tensor, bucket_size: i64, max_position: i64) -> Tensor {
    let mid = bucket_size / 2;
    let near = relative.lt(mid).logical_and(&relative.gt(-mid));
    let abs_pos = relative.abs().masked_fill(&near, mid - 1);
    let log_base = Tensor::from(((max_position - 1) as f64 / mid as f64) as f32).log();
    let log_pos = ((abs_pos.to_kind(Kind::Float) / mid as f64).log() / log_base * (mid - 1) as f64)
        .ceil()
        + mid as f64;
    let far = log_pos * relative.sign().to_kind(Kind::Float);
    relative
        .to_kind(Kind::Float)
        .where_self(&abs_pos.le(mid), &far)
        .to_kind(Kind::Int64)
}

/// `build_relative_position` for a sequence of `seq`: (seq, seq), query i minus key j,
/// bucketed when the config says so.
fn relative_positions(c: &DebertaV2Config, seq: i64, device: tch::Device) -> Tensor {
    let ids = Tensor::arange(seq, (Kind::Int64, device));
    let relative = ids.unsqueeze(1) - ids.unsqueeze(0);
    if c.position_buckets > 0 {
        log_bucket(&relative, c.position_buckets, c.max_relative())
    } else {
        relative
    }
}

/// `DisentangledSelfAttention` with `DebertaV2SelfOutput` (dense, dropout, residual, LayerNorm).
struct Attention {
    query_proj: Linear,
    key_proj: Linear,
    value_proj: Linear,
    /// `pos_key_proj` / `pos_query_proj` when the position projections are not shared.
    pos_key_proj: Option<Linear>,
    pos_query_proj: Option<Linear>,
    dense: Linear,
    norm: LayerNorm,
    heads: i64,
    span: i64,
    c2p: bool,
    p2c: bool,
    relative: bool,
    share_att_key: bool,
    probs_dropout: f64,
    hidden_dropout: f64,
}

impl Attention {
    fn new(p: nn::Path, c: &DebertaV2Config) -> Self {
        let (h, std) = (c.hidden_size, c.initializer_range);
        let this = &p / "self";
        let linear = |name: &str| Linear::new(&this / name, h, h, true, std);
        let separate = c.relative_attention && !c.share_att_key;
        Attention {
            query_proj: linear("query_proj"),
            key_proj: linear("key_proj"),
            value_proj: linear("value_proj"),
            pos_key_proj: (separate && c.has("c2p")).then(|| linear("pos_key_proj")),
            pos_query_proj: (separate && c.has("p2c")).then(|| linear("pos_query_proj")),
            dense: Linear::new(&p / "output" / "dense", h, h, true, std),
            norm: LayerNorm::new(&p / "output" / "LayerNorm", h, c.layer_norm_eps),
            heads: c.num_attention_heads,
            span: c.span(),
            c2p: c.has("c2p"),
            p2c: c.has("p2c"),
            relative: c.relative_attention,
            share_att_key: c.share_att_key,
            probs_dropout: c.attention_probs_dropout_prob,
            hidden_dropout: c.hidden_dropout_prob,
        }
    }

    /// `xs` (batch, seq, hidden); `relative` (seq, seq) positions; `rel_embeddings`
    /// (2·span, hidden), already normalised; `allowed` (batch, 1, seq, seq), true where a
    /// query may see a key, None without padding.
    fn forward(
        &self,
        xs: &Tensor,
        relative: &Tensor,
        rel_embeddings: &Tensor,
        allowed: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        let q = split_heads(&self.query_proj.forward(xs), self.heads);
        let k = split_heads(&self.key_proj.forward(xs), self.heads);
        let v = split_heads(&self.value_proj.forward(xs), self.heads);
        let (b, heads, s, d) = q.size4().expect("heads are (batch, heads, seq, head_dim)");
        // Every term is divided by sqrt(d · (1 + number of position terms)).
        let scale = ((d * (1 + self.c2p as i64 + self.p2c as i64)) as f64).sqrt();
        let mut scores = q.matmul(&k.transpose(-1, -2)) / scale;
        if self.relative {
            let rel = dropout(
                rel_embeddings.narrow(0, 0, 2 * self.span),
                self.hidden_dropout,
                train,
            )
            .unsqueeze(0);
            let project = |own: &Option<Linear>, shared: &Linear| {
                let proj = if self.share_att_key {
                    shared
                } else {
                    own.as_ref().expect("built")
                };
                split_heads(&proj.forward(&rel), self.heads)
            };
            let index = |positions: Tensor| {
                positions
                    .clamp(0, 2 * self.span - 1)
                    .expand([b, heads, s, s], false)
            };
            if self.c2p {
                // Query i against the position of key j relative to it: row i, bucket(i - j).
                let pos_key = project(&self.pos_key_proj, &self.key_proj);
                let c2p = q.matmul(&pos_key.transpose(-1, -2));
                scores += c2p.gather(-1, &index(relative + self.span), false) / scale;
            }
            if self.p2c {
                // Key j against the position of query i relative to it, transposed to (i, j).
                let pos_query = project(&self.pos_query_proj, &self.query_proj);
                let p2c = k.matmul(&pos_query.transpose(-1, -2));
                let gathered = p2c.gather(-1, &index(-relative + self.span), false);
                scores += gathered.transpose(-1, -2) / scale;
            }
        }
        // Random inputs have no padding: transformers' all-true mask changes nothing.
        if let Some(allowed) = allowed {
            scores = scores.masked_fill(&allowed.logical_not(), f64::NEG_INFINITY);
        }
        let probs = dropout(scores.softmax(-1, scores.kind()), self.probs_dropout, train);
        let context = merge_heads(&probs.matmul(&v));
        let out = dropout(self.dense.forward(&context), self.hidden_dropout, train);
        self.norm.forward(&(out + xs))
    }
}

/// `DebertaV2Layer`: attention, then `intermediate.dense` + activation and `output.dense`,
/// dropout, residual, `output.LayerNorm`.
struct Layer {
    attention: Attention,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
    activation: Activation,
    dropout: f64,
}

impl Layer {
    fn new(p: nn::Path, c: &DebertaV2Config) -> Self {
        let (h, i, std) = (c.hidden_size, c.intermediate_size, c.initializer_range);
        Layer {
            attention: Attention::new(&p / "attention", c),
            intermediate: Linear::new(&p / "intermediate" / "dense", h, i, true, std),
            output: Linear::new(&p / "output" / "dense", i, h, true, std),
            output_norm: LayerNorm::new(&p / "output" / "LayerNorm", h, c.layer_norm_eps),
            activation: c.hidden_act,
            dropout: c.hidden_dropout_prob,
        }
    }

    fn forward(
        &self,
        xs: &Tensor,
        relative: &Tensor,
        rel_embeddings: &Tensor,
        allowed: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        let attended = self
            .attention
            .forward(xs, relative, rel_embeddings, allowed, train);
        let inner = self.activation.apply(&self.intermediate.forward(&attended));
        let out = dropout(self.output.forward(&inner), self.dropout, train);
        self.output_norm.forward(&(out + attended))
    }
}

/// `DebertaV2Model`: `embeddings` (word, optional absolute positions and token types,
/// optional `embed_proj`, LayerNorm) and `encoder` (layers, `rel_embeddings`, their LayerNorm).
pub struct DebertaV2Model {
    word_embeddings: Embedding,
    position_embeddings: Option<Embedding>,
    token_type_embeddings: Option<Embedding>,
    embed_proj: Option<Linear>,
    embeddings_norm: LayerNorm,
    layers: Vec<Layer>,
    rel_embeddings: Option<Embedding>,
    rel_norm: Option<LayerNorm>,
    config: DebertaV2Config,
}

impl DebertaV2Model {
    pub fn new(p: nn::Path, c: &DebertaV2Config) -> Self {
        let (e, h, std) = (c.embedding_dim(), c.hidden_size, c.initializer_range);
        let embeddings = &p / "embeddings";
        let encoder = &p / "encoder";
        let layer = &encoder / "layer";
        let embedding =
            |name: &str, rows, padding| Embedding::new(&embeddings / name, rows, e, std, padding);
        DebertaV2Model {
            word_embeddings: embedding("word_embeddings", c.vocab_size, c.pad_token_id),
            position_embeddings: c
                .position_biased_input
                .then(|| embedding("position_embeddings", c.max_position_embeddings, None)),
            token_type_embeddings: (c.type_vocab_size > 0)
                .then(|| embedding("token_type_embeddings", c.type_vocab_size, None)),
            embed_proj: (e != h).then(|| Linear::new(&embeddings / "embed_proj", e, h, false, std)),
            embeddings_norm: LayerNorm::new(&embeddings / "LayerNorm", h, c.layer_norm_eps),
            layers: (0..c.num_hidden_layers)
                .map(|i| Layer::new(&layer / i, c))
                .collect(),
            rel_embeddings: c
                .relative_attention
                .then(|| Embedding::new(&encoder / "rel_embeddings", 2 * c.span(), h, std, None)),
            rel_norm: (c.relative_attention && c.normalises_rel_embeddings())
                .then(|| LayerNorm::new(&encoder / "LayerNorm", h, c.layer_norm_eps)),
            config: c.clone(),
        }
    }

    fn word_embeddings(&self) -> &Embedding {
        &self.word_embeddings
    }

    /// Last hidden state (batch, seq, hidden).
    pub fn encode(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.encode_masked(input_ids, None, train)
    }

    /// [`Self::encode`] with an attention mask (batch, seq), 0 at padding: padding keys are
    /// hidden from every query (each padding query keeps its own key, so that no row is all
    /// -inf), and padding embeddings are zeroed, as transformers does.
    pub fn encode_masked(
        &self,
        input_ids: &Tensor,
        padding: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        let seq = input_ids.size()[1];
        let mut xs = self.word_embeddings.forward(input_ids);
        if let Some(positions) = &self.position_embeddings {
            xs += positions.forward(&Tensor::arange(seq, (Kind::Int64, input_ids.device())));
        }
        if let Some(token_type) = &self.token_type_embeddings {
            // Every token is of type 0.
            xs += token_type.weight.get(0);
        }
        if let Some(project) = &self.embed_proj {
            xs = project.forward(&xs);
        }
        let mut xs = self.embeddings_norm.forward(&xs);
        if let Some(mask) = padding {
            xs *= mask.unsqueeze(-1).to_kind(xs.kind());
        }
        let mut xs = dropout(xs, self.config.hidden_dropout_prob, train);
        let relative = relative_positions(&self.config, seq, input_ids.device());
        let rel_embeddings = match (&self.rel_embeddings, &self.rel_norm) {
            (Some(table), Some(norm)) => norm.forward(&table.weight),
            (Some(table), None) => table.weight.shallow_clone(),
            // Unused without relative attention.
            (None, _) => Tensor::zeros([0], (xs.kind(), xs.device())),
        };
        let allowed = padding.map(|mask| {
            let all = Tensor::ones([seq, seq], (Kind::Bool, input_ids.device()));
            with_key_padding(&all, mask)
        });
        for layer in &self.layers {
            xs = layer.forward(&xs, &relative, &rel_embeddings, allowed.as_ref(), train);
        }
        xs
    }
}

/// `DebertaV2ForMaskedLM`: the encoder, then BERT's masked-LM head shape (dense to the
/// embedding width, activation, LayerNorm, decoder tied to the word embeddings, own bias).
pub struct DebertaV2ForMaskedLm {
    deberta: DebertaV2Model,
    head: MlmHead,
}

impl DebertaV2ForMaskedLm {
    pub fn new(p: nn::Path, c: &DebertaV2Config) -> Self {
        let deberta = DebertaV2Model::new(&p / "deberta", c);
        let (e, h, std) = (c.embedding_dim(), c.hidden_size, c.initializer_range);
        let predictions = &p / "cls" / "predictions";
        let transform = &predictions / "transform";
        let bias = predictions.var("bias", &[c.vocab_size], nn::Init::Const(0.0));
        let head = MlmHead {
            dense: Linear::new(&transform / "dense", h, e, true, std),
            activation: c.hidden_act,
            norm: LayerNorm::new(&transform / "LayerNorm", e, c.layer_norm_eps),
            decoder: decoder(
                &predictions / "decoder",
                deberta.word_embeddings(),
                c.tie_word_embeddings,
                bias,
                std,
            ),
        };
        DebertaV2ForMaskedLm { deberta, head }
    }

    pub fn logits(&self, input_ids: &Tensor, train: bool) -> Tensor {
        self.logits_masked(input_ids, None, train)
    }

    pub fn logits_masked(
        &self,
        input_ids: &Tensor,
        padding: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        self.head
            .forward(&self.deberta.encode_masked(input_ids, padding, train))
    }
}

impl Model for DebertaV2Model {
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(self.encode_masked(input_ids, mask, train))
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("DebertaV2Model has no language-modelling head; train DebertaV2ForMaskedLM instead")
    }
}

impl Model for DebertaV2ForMaskedLm {
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

impl Architecture for DebertaV2Config {
    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(DebertaV2Model::new(p, self)),
            Task::LanguageModel => Box::new(DebertaV2ForMaskedLm::new(p, self)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::parse_config;
    use crate::models::Spec;
    use serde_json::json;

    fn v3_base() -> DebertaV2Config {
        let text = crate::hub::embedded("microsoft/deberta-v3-base").unwrap().1;
        parse_config(&serde_json::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn log_buckets_as_transformers() {
        // make_log_bucket_position(rel, 4, 8): |rel| <= 2 kept; ceil(log(|rel|/2) / log(3.5))
        // + 2 beyond: 3 for |rel| of 3 to 7.
        let rel = Tensor::from_slice(&[-7i64, -4, -3, -2, -1, 0, 1, 2, 3, 5, 7]);
        let got = Vec::<i64>::try_from(log_bucket(&rel, 4, 8)).unwrap();
        assert_eq!(got, [-3, -3, -3, -2, -1, 0, 1, 2, 3, 3, 3]);
        // deberta-v3: 256 buckets over 512 positions; 128 stays, 511 is the last bucket.
        let rel = Tensor::from_slice(&[128i64, 129, 511, -511]);
        let got = Vec::<i64>::try_from(log_bucket(&rel, 256, 512)).unwrap();
        assert_eq!(got[0], 128);
        assert!(got[1] > 128 && got[2] == 255 && got[3] == -255, "{got:?}");
    }

    #[test]
    fn flops_by_hand_for_a_tiny_config() {
        let c = DebertaV2Config {
            vocab_size: 10,
            hidden_size: 4,
            intermediate_size: 8,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            relative_attention: true,
            position_buckets: 3,
            pos_att_type: vec!["c2p".into(), "p2c".into()],
            share_att_key: true,
            ..DebertaV2Config::default()
        };
        // B=1, S=2, H=4: BERT's layer 256 + 256 + 64 = 576. Relative, 6 rows: c2p and p2c
        // 2 · (2·2·6·4) = 192, projections 2 · (2·6·4·4) = 384.
        assert_eq!(c.forward_flops(1, 2, Task::Base), 576.0 + 192.0 + 384.0);
        // Head: dense 2·2·4·4 = 64, decoder 2·2·4·10 = 160.
        assert_eq!(c.forward_flops(1, 2, Task::LanguageModel), 1152.0 + 224.0);
    }

    #[test]
    fn deberta_v3_base_is_bert_base_plus_relative_attention() {
        let c = v3_base();
        assert_eq!((c.span(), c.max_relative()), (256, 512));
        assert!(c.share_att_key && c.normalises_rel_embeddings() && !c.position_biased_input);
        assert_eq!(c.max_positions(), None);
        // 85M encoder parameters: ~2.2e10 FLOPs per 128 tokens as BERT-base, plus c2p and
        // p2c against 512 relative embeddings (2·2·128·512·768·12 = 2.4e9) and their
        // projections (2·2·512·768²·12 = 1.4e10, per call, not per token).
        let f = c.forward_flops(1, 128, Task::Base);
        assert!((3.7e10..4.0e10).contains(&f), "{f:e}");
    }

    #[test]
    fn unsupported_keys_are_named() {
        for (config, key) in [
            (json!({"pos_att_type": "p2c|p2p"}), "pos_att_type \"p2p\""),
            (json!({"conv_kernel_size": 3}), "conv_kernel_size"),
            (json!({"norm_rel_ebd": "batch_norm"}), "norm_rel_ebd"),
            (json!({"attention_head_size": 7}), "attention_head_size"),
            (json!({"legacy": false}), "legacy"),
        ] {
            let err = from_json(&config).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
        // transformers' own spellings parse: a list, or null for none.
        let c: DebertaV2Config = parse_config(&json!({"pos_att_type": ["c2p"]})).unwrap();
        assert_eq!(c.pos_att_type, ["c2p"]);
        let c: DebertaV2Config = parse_config(&json!({"pos_att_type": null})).unwrap();
        assert!(c.pos_att_type.is_empty());
    }
}

//! Bytes of memory traffic of one call, from the model's facts: what MBU, the bound-by verdict
//! and the roofline divide by, and the bandwidth side of the time estimate.
//!
//! - weights (as the memory estimate counts them: the matrix products' weights and the
//!   embedding tables; biases and norms, under 0.1% of a real model, are left out): every
//!   weight read once per forward, but for the experts no token was routed to (a call of T tokens reads at most top-k · T experts a layer) and the embedding
//!   tables, of which only the gathered rows are read (a tied language-modelling head reads
//!   the whole table);
//! - activations: each layer's tensors written once and read once: 6·D + 2·F values a token
//!   (hidden states, q, k, v, attention output, residual; the feed-forward's two F-wide
//!   tensors) and its attention scores (h · s² a sample), plus the logits written once;
//! - generation: the prompt as one forward, then each decode step reads the weights for
//!   one token a sample, reads the KV cache of its context and writes one token's keys and
//!   values;
//! - training: the weights read by forward and backward, the gradients written, the
//!   optimizer's reads and writes (AdamW: w, g, m, v read, w, m, v written; SGD: w and g
//!   read, w written), and the activations three times (forward, then backward reads them
//!   and writes their gradients).
//!
//! Shared weights (ALBERT's layers) count once a call: the distinct bytes, as the parameter
//! count. An encoder-decoder's decode step runs its decoder layers only, but is counted as
//! reading all the weights (the encoder's too): an over-count until the facts split them.
//!
//! Caches are ignored: every byte counts as coming from memory, so this is what a call would
//! move with a cache too small for any reuse (weights of a model far larger than the LLC).

use super::{dtype_bytes, Positions, Shape};
use crate::cell::{Cell, InputKind, Mode, Optimizer};
use run_benchmark_core::spec::{self, Task};
use serde::{Deserialize, Serialize};

/// Bytes one call moves, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// weights + activations + kv_cache.
    pub bytes: f64,
    pub weights: f64,
    pub activations: f64,
    /// Generation: the KV cache read and written by every decode step.
    pub kv_cache: f64,
    /// Generation with two new tokens or more: the mean decode step.
    pub decode: Option<Step>,
}

/// One decode step (one new token a sample), averaged over the request's steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Decode steps of a request: new tokens − 1 (the first comes from the prompt's forward).
    pub steps: i64,
    /// Matrix-product FLOPs of a step (attention over the cache not counted, as the FLOP
    /// formulas).
    pub flops: f64,
    /// Bytes of a step: weights, activations and KV cache.
    pub bytes: f64,
    /// Of `bytes`, the KV cache.
    pub kv_cache: f64,
}

impl Traffic {
    /// FLOPs per byte.
    pub fn intensity(&self, flops: f64) -> f64 {
        flops / self.bytes
    }
}

/// The traffic of one call of `cell`; None where no family parses its config.
pub fn traffic(cell: &Cell) -> Option<Traffic> {
    let arch = spec::from_json(&cell.config).ok()?;
    let task = match cell.mode {
        Mode::Inference => spec::inference_task(&cell.config, cell.settings.only_pretrain_model),
        Mode::Training | Mode::Generation => Task::LanguageModel,
    };
    let shape = Shape::of(&cell.config);
    let e = dtype_bytes(cell.settings.dtype);
    let parameters = arch.parameters(task).unwrap_or(0.0);
    let p = Positions::of(cell, &shape, task);
    // Positions a sample reads from the learned table: a speech model's decoder prefix.
    let per_sample = match cell.input {
        InputKind::Audio { decoder_tokens, .. } => decoder_tokens as f64,
        _ => cell.input.tokens(cell.sequence_length) as f64,
    };
    let weights = read_weights(parameters, &shape, task, p.logit_tokens, per_sample) * e;
    let activations =
        (2.0 * (p.layer_tokens * layer_values(&shape) + p.layer_scores) + p.logits) * e;
    let forward = Traffic {
        bytes: weights + activations,
        weights,
        activations,
        kv_cache: 0.0,
        decode: None,
    };
    Some(match cell.mode {
        Mode::Inference => forward,
        Mode::Training => {
            let optimizer = match cell.settings.optimizer {
                Optimizer::AdamW => 7.0,
                Optimizer::Sgd => 3.0,
                Optimizer::None => 0.0,
            };
            let weights = weights * (3.0 + optimizer);
            let activations = 3.0 * activations;
            Traffic {
                bytes: weights + activations,
                weights,
                activations,
                ..forward
            }
        }
        Mode::Generation => {
            let new_tokens = cell.new_tokens.unwrap_or(1).max(1);
            let steps = new_tokens - 1;
            let b = cell.batch_size;
            let bf = b as f64;
            let step_weights = read_weights(parameters, &shape, task, bf, 1.0) * e;
            let layout = arch.kv_layout();
            // A step runs the decoder's layers only (an encoder-decoder's encoder ran once).
            let step_layers = match &layout {
                Some(l) if l.cross_layers > 0 => l.windows.len() as f64,
                _ => shape.layers,
            };
            let (mut kv, mut step_activations) = (0.0, 0.0);
            for i in 1..=steps {
                // The context a step attends over: prompt and the tokens so far (an
                // encoder-decoder's decoder: its start token and the tokens so far).
                let context = match layout.as_ref().map(|l| l.cross_layers) {
                    Some(0) | None => cell.sequence_length + i,
                    Some(_) => 1 + i,
                };
                if let Some(l) = &layout {
                    let read = l.bytes(b, cell.sequence_length, context, e as i64);
                    let written = l.bytes(b, 0, 1, e as i64);
                    kv += (read + written) as f64;
                }
                step_activations += (2.0
                    * step_layers
                    * (bf * layer_values(&shape) + bf * shape.heads * context as f64)
                    + bf * shape.vocab)
                    * e;
            }
            let decode = (steps > 0).then(|| {
                let n = steps as f64;
                Step {
                    steps,
                    flops: arch.forward_flops(b, 1, task),
                    bytes: step_weights + (kv + step_activations) / n,
                    kv_cache: kv / n,
                }
            });
            let weights = weights + steps as f64 * step_weights;
            let activations = activations + step_activations;
            Traffic {
                bytes: weights + activations + kv,
                weights,
                activations,
                kv_cache: kv,
                decode,
            }
        }
    })
}

/// Activation values a token writes in one layer: hidden states, q, k, v, attention output
/// and residual (6·D), and the feed-forward's two F-wide tensors.
fn layer_values(shape: &Shape) -> f64 {
    6.0 * shape.hidden + 2.0 * shape.intermediate
}

/// Weight values one forward reads over `tokens` tokens of `per_sample` positions each.
fn read_weights(parameters: f64, shape: &Shape, task: Task, tokens: f64, per_sample: f64) -> f64 {
    // Experts: at most top-k per token are read, all of them once enough tokens come.
    let unread_experts = match shape.experts > 0.0 {
        true => (shape.experts - (shape.active_experts * tokens).min(shape.experts)) * shape.expert,
        false => 0.0,
    };
    // The token table: only the gathered rows, unless a tied head reads it whole.
    let head_reads_table = task == Task::LanguageModel && shape.tied;
    let unread_table = match head_reads_table {
        true => 0.0,
        false => (shape.vocab - tokens.min(shape.vocab)) * shape.embedding,
    };
    let unread_positions = shape.position_tables
        * (shape.positions - per_sample.min(shape.positions))
        * shape.embedding;
    (parameters - unread_experts - unread_table - unread_positions).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{DeviceChoice, Dtype, Metric, Settings};
    use crate::measure::timing::Protocol;
    use serde_json::{json, Value};

    fn cell(config: Value, mode: Mode, batch: i64, seq: i64) -> Cell {
        Cell {
            model: "tiny".into(),
            config,
            batch_size: batch,
            sequence_length: seq,
            mode,
            metric: Metric::Speed,
            settings: Settings {
                protocol: Protocol::Original {
                    repeat: 1,
                    number: 1,
                },
                device: DeviceChoice::Cpu,
                dtype: Dtype::F32,
                threads: None,
                optimizer: Optimizer::None,
                only_pretrain_model: false,
                framework: Default::default(),
                profile: false,
                profile_trace: None,
                onnxruntime_level: None,
                routing: None,
                seed: 0,
            },
            input: Default::default(),
            inputs: Default::default(),
            new_tokens: None,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    /// A BERT of hidden 8, 2 layers, 2 heads, feed-forward 16, vocabulary 50, 20 positions,
    /// as a bare model: every weight is read but the two tables' unused rows.
    #[test]
    fn bert_reads_its_weights_and_the_gathered_rows() {
        let config = json!({
            "model_type": "bert", "architectures": ["BertModel"], "hidden_size": 8,
            "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16,
            "vocab_size": 50, "max_position_embeddings": 20, "type_vocab_size": 2
        });
        let c = cell(config, Mode::Inference, 2, 5);
        let t = traffic(&c).unwrap();
        // Every parameter (transformers' count): per layer q, k, v, o 4·(8·8 + 8), the
        // feed-forward 8·16 + 16 and 16·8 + 8, two LayerNorms 2·2·8: 600; the tables 50·8
        // words, 20·8 positions, 2·8 token types and their LayerNorm 2·8; the pooler 8·8 + 8.
        let layer = 4.0 * (64.0 + 8.0) + (128.0 + 16.0) + (128.0 + 8.0) + 2.0 * 16.0;
        let all = 2.0 * layer + (400.0 + 160.0 + 16.0 + 16.0) + (64.0 + 8.0);
        let parameters = crate::estimate::model_parameters(&c.config).unwrap();
        assert!(close(parameters, all), "{parameters} vs {all}");
        // Read: 10 word rows of 50, 5 position rows of 20.
        let read = all - (50.0 - 10.0) * 8.0 - (20.0 - 5.0) * 8.0;
        assert!(
            close(t.weights, 4.0 * read),
            "{} vs {}",
            t.weights,
            4.0 * read
        );
        // Activations: 2 layers · 10 tokens · (6·8 + 2·16) values, 2 · 2 heads · 5² scores,
        // written and read; no logits.
        let activations = 2.0 * (2.0 * 10.0 * 80.0 + 2.0 * 2.0 * 2.0 * 25.0);
        assert!(close(t.activations, 4.0 * activations));
        assert!(close(t.bytes, 4.0 * (read + activations)));
        assert_eq!((t.kv_cache, t.decode), (0.0, None));
    }

    fn tiny_llama() -> Value {
        json!({
            "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 8,
            "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
            "intermediate_size": 16, "vocab_size": 50, "max_position_embeddings": 64,
            "tie_word_embeddings": false, "rms_norm_eps": 1e-6
        })
    }

    /// A Llama of hidden 8, 2 layers, 2 heads of 4 with 1 KV head, feed-forward 16,
    /// vocabulary 50, an untied head: a prompt of 3 and 4 new tokens.
    #[test]
    fn llama_decode_reads_weights_and_the_kv_cache_per_step() {
        let mut c = cell(tiny_llama(), Mode::Generation, 1, 3);
        c.new_tokens = Some(4);
        let t = traffic(&c).unwrap();
        // Per layer: q 8·8, k and v 8·4 each, o 8·8, gate/up/down 3·8·16: 576, and two
        // RMSNorm weights 2·8. The final norm 8, table 50·8, head 50·8.
        let all = 2.0 * (576.0 + 16.0) + 8.0 + 400.0 + 400.0;
        // One decode step gathers one row of the table and reads the rest whole.
        let step_weights = all - 49.0 * 8.0;
        let d = t.decode.unwrap();
        assert_eq!(d.steps, 3);
        // Steps 1..3 attend over 4, 5, 6 tokens: keys and values of 1 head of 4, 2 layers,
        // 4 bytes: 2·1·4·2·4 = 64 bytes a token, plus the one token written.
        let kv = 64.0 * ((4.0 + 5.0 + 6.0) + 3.0);
        assert!(close(t.kv_cache, kv), "{} vs {kv}", t.kv_cache);
        assert!(close(d.kv_cache, kv / 3.0));
        // A step's activations: 2 layers · (6·8 + 2·16) + 2 heads · context, twice; logits 50.
        let step_acts = |context: f64| 4.0 * (2.0 * 2.0 * (80.0 + 2.0 * context) + 50.0);
        let acts = step_acts(4.0) + step_acts(5.0) + step_acts(6.0);
        assert!(close(d.bytes, 4.0 * step_weights + (kv + acts) / 3.0));
        // The prompt: 3 rows gathered, 2 layers · 3 tokens, 2 heads · 3² scores, 3·50 logits.
        let prefill_weights = all - 47.0 * 8.0;
        let prefill_acts = 4.0 * (2.0 * (2.0 * 3.0 * 80.0 + 2.0 * 2.0 * 9.0) + 150.0);
        assert!(close(
            t.bytes,
            4.0 * prefill_weights + prefill_acts + 3.0 * 4.0 * step_weights + acts + kv
        ));
    }

    /// A Mixtral of 4 experts, 2 routed a token (otherwise the Llama above): one token reads
    /// 2 experts a layer, a call of 3 tokens all 4.
    #[test]
    fn experts_are_read_only_where_tokens_are_routed() {
        let mut config = tiny_llama();
        config["model_type"] = json!("mixtral");
        config["architectures"] = json!(["MixtralForCausalLM"]);
        config["num_local_experts"] = json!(4);
        config["num_experts_per_tok"] = json!(2);
        // Per layer: q 8·8, k, v 8·4, o 8·8, router 8·4, 4 experts of 3·8·16, two RMSNorm
        // weights: 192 + 32 + 1536 + 16 = 1776. The final norm 8, table 50·8, head 50·8.
        let all = 2.0 * 1776.0 + 8.0 + 800.0;
        let parameters = crate::estimate::model_parameters(&config).unwrap();
        assert!(close(parameters, all), "{parameters} vs {all}");
        let one = traffic(&cell(config.clone(), Mode::Inference, 1, 1)).unwrap();
        let three = traffic(&cell(config, Mode::Inference, 1, 3)).unwrap();
        // One token: 2 experts of 2 · 3 · 8 · 16 unread over the layers, 49 table rows.
        assert!(close(one.weights, 4.0 * (all - 2.0 * 768.0 - 49.0 * 8.0)));
        // Three tokens route to 6 ≥ 4 experts: all read; 47 table rows unread.
        assert!(
            close(three.weights, 4.0 * (all - 47.0 * 8.0)),
            "{}",
            three.weights / 4.0
        );
    }

    /// A GPT-2 of hidden 8, 2 layers, 2 heads, 16 positions, a tied head; 4 tokens.
    #[test]
    fn training_counts_backward_and_the_optimizer() {
        let config = json!({
            "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 8,
            "n_layer": 2, "n_head": 2, "vocab_size": 50, "n_positions": 16
        });
        let inference = traffic(&cell(config.clone(), Mode::Inference, 1, 4)).unwrap();
        // Per layer: c_attn 8·24 + 24, c_proj 8·8 + 8, c_fc 8·32 + 32, c_proj 32·8 + 8, two
        // LayerNorms 2·2·8: 872; ln_f 2·8. Tables 50·8 and 16·8. The tied head reads the
        // whole word table; 4 of 16 position rows are read.
        let layer = (192.0 + 24.0) + (64.0 + 8.0) + (256.0 + 32.0) + (256.0 + 8.0) + 32.0;
        let read = 2.0 * layer + 16.0 + 400.0 + 128.0 - 12.0 * 8.0;
        assert!(
            close(inference.weights, 4.0 * read),
            "{}",
            inference.weights / 4.0
        );
        // 2 layers · 4 tokens · (6·8 + 2·32) values and 2 · 2 heads · 4² scores, written and
        // read; 4 · 50 logits written.
        let activations = 2.0 * (2.0 * 4.0 * 112.0 + 2.0 * 2.0 * 16.0) + 200.0;
        assert!(close(inference.activations, 4.0 * activations));
        let mut training = cell(config, Mode::Training, 1, 4);
        training.settings.optimizer = Optimizer::AdamW;
        let t = traffic(&training).unwrap();
        // Forward and backward read, gradients written, AdamW's 4 reads and 3 writes.
        assert!(close(t.weights, 10.0 * inference.weights));
        assert!(close(t.activations, 3.0 * inference.activations));
        training.settings.optimizer = Optimizer::Sgd;
        assert!(close(
            traffic(&training).unwrap().weights,
            6.0 * inference.weights
        ));
    }

    /// A bare encoder of hidden 32, 2 layers, 4 heads, feed-forward 64, vocabulary 100, batch 1
    /// of 8 tokens: f32 bytes of the weights (all parameters as transformers counts them,
    /// checked against transformers by the facts tests, less the table rows no token
    /// gathers) and of the activations.
    fn check_inference(config: Value, unread_rows: f64, logits: f64) {
        let c = cell(config, Mode::Inference, 1, 8);
        let t = traffic(&c).unwrap();
        let all = crate::estimate::model_parameters(&c.config).unwrap();
        let weights = 4.0 * (all - unread_rows * 32.0);
        assert!(close(t.weights, weights), "{} vs {weights}", t.weights);
        // 2 layers · 8 tokens · (6·32 + 2·64 = 320) values, 2 layers · 4 heads · 8² scores,
        // each written and read, then the logits written once.
        let acts = 4.0 * (2.0 * (2.0 * 8.0 * 320.0 + 2.0 * 4.0 * 64.0) + logits);
        assert!(close(t.activations, acts), "{} vs {acts}", t.activations);
        assert!(close(t.bytes, weights + acts));
        assert_eq!((t.kv_cache, t.decode), (0.0, None));
    }

    fn encoder(model_type: &str, architecture: &str) -> Value {
        json!({
            "model_type": model_type, "architectures": [architecture], "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
            "vocab_size": 100, "max_position_embeddings": 40, "type_vocab_size": 2
        })
    }

    /// RoBERTa and ELECTRA: 92 of 100 word rows and 32 of 40 position rows unread.
    #[test]
    fn roberta_and_electra_read_the_gathered_rows() {
        check_inference(encoder("roberta", "RobertaModel"), 92.0 + 32.0, 0.0);
        let mut electra = encoder("electra", "ElectraModel");
        electra["embedding_size"] = json!(32);
        check_inference(electra, 92.0 + 32.0, 0.0);
    }

    /// ModernBERT has rotary positions: no position table, only 92 word rows unread.
    #[test]
    fn modernbert_has_no_position_table() {
        check_inference(encoder("modernbert", "ModernBertModel"), 92.0, 0.0);
    }

    /// DeBERTa-v2 reads a position table only with position_biased_input (its default);
    /// without it, relative positions only: 92 word rows unread.
    #[test]
    fn deberta_v2_position_table_only_when_biased() {
        let mut config = encoder("deberta-v2", "DebertaV2Model");
        check_inference(config.clone(), 92.0 + 32.0, 0.0);
        config["position_biased_input"] = json!(false);
        check_inference(config, 92.0, 0.0);
    }

    /// DistilBERT (its own key names): 92 word rows and 32 position rows unread.
    #[test]
    fn distilbert_reads_the_gathered_rows() {
        let config = json!({
            "model_type": "distilbert", "architectures": ["DistilBertModel"], "dim": 32,
            "n_layers": 2, "n_heads": 4, "hidden_dim": 64, "vocab_size": 100,
            "max_position_embeddings": 40
        });
        check_inference(config, 92.0 + 32.0, 0.0);
    }

    /// ALBERT's layers share one set of weights: "read once per call" counts them once (the
    /// distinct bytes a call needs, as the parameter count; a machine whose cache cannot
    /// hold one layer would reread them per layer). Embedding 32 wide as the hidden here.
    #[test]
    fn albert_reads_its_shared_layer_once() {
        let mut config = encoder("albert", "AlbertModel");
        config["embedding_size"] = json!(32);
        check_inference(config, 92.0 + 32.0, 0.0);
    }

    /// OPT offsets positions by 2: its table has 40 + 2 rows, 34 unread; the tied head reads
    /// the whole word table; 8 · 100 logits.
    #[test]
    fn opt_position_table_has_two_more_rows() {
        let config = json!({
            "model_type": "opt", "architectures": ["OPTForCausalLM"], "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 4, "ffn_dim": 64,
            "vocab_size": 100, "max_position_embeddings": 40, "word_embed_proj_dim": 32
        });
        check_inference(config, 34.0, 800.0);
    }

    /// BART: one position table of 40 + 2 rows in the encoder and one in the decoder, each
    /// read for 8 tokens: 2 · 34 rows unread; 92 word rows of the shared table; the encoder's
    /// and decoder's layers (1 + 1) as the 2 layers.
    #[test]
    fn bart_has_two_offset_position_tables() {
        let config = json!({
            "model_type": "bart", "architectures": ["BartModel"], "d_model": 32,
            "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 4,
            "decoder_attention_heads": 4, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64,
            "vocab_size": 100, "max_position_embeddings": 40
        });
        check_inference(config, 92.0 + 2.0 * 34.0, 0.0);
    }

    fn decoder(model_type: &str, architecture: &str) -> Value {
        json!({
            "model_type": model_type, "architectures": [architecture], "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
            "vocab_size": 100, "max_position_embeddings": 64, "tie_word_embeddings": false
        })
    }

    /// A rotary decoder of hidden 32, 2 layers, 4 heads of 8 (all of them KV heads), feed-
    /// forward 64, vocabulary 100, an untied head: inference over 8 tokens (92 rows of the
    /// table unread, 8 · 100 logits), then a prompt of 8 and 3 new tokens: 2 decode steps.
    fn check_decoder(config: Value) {
        check_inference(config.clone(), 92.0, 800.0);
        let all = crate::estimate::model_parameters(&config).unwrap();
        let mut c = cell(config, Mode::Generation, 1, 8);
        c.new_tokens = Some(3);
        let t = traffic(&c).unwrap();
        let d = t.decode.unwrap();
        assert_eq!(d.steps, 2);
        // Keys and values of 4 heads of 8 in 2 layers, f32: 2·4·8·2·4 = 512 bytes a token;
        // steps 1 and 2 read 9 and 10 tokens and write 1 each.
        let kv = 512.0 * (9.0 + 10.0 + 2.0);
        assert!(close(t.kv_cache, kv), "{} vs {kv}", t.kv_cache);
        // A step reads the weights with one table row (99 unread), and writes and reads
        // 2 layers · (320 values + 4 heads · context scores), then 100 logits.
        let step_weights = 4.0 * (all - 99.0 * 32.0);
        let acts = |context: f64| 4.0 * (2.0 * 2.0 * (320.0 + 4.0 * context) + 100.0);
        let step = step_weights + (kv + acts(9.0) + acts(10.0)) / 2.0;
        assert!(close(d.bytes, step), "{} vs {step}", d.bytes);
    }

    #[test]
    fn rotary_decoders_read_weights_and_kv_cache_per_step() {
        let mut gemma = decoder("gemma", "GemmaForCausalLM");
        gemma["head_dim"] = json!(8);
        gemma["num_key_value_heads"] = json!(4);
        check_decoder(gemma);
        let mut phi3 = decoder("phi3", "Phi3ForCausalLM");
        phi3["num_key_value_heads"] = json!(4);
        check_decoder(phi3);
        let mut phi = decoder("phi", "PhiForCausalLM");
        phi["num_key_value_heads"] = json!(4);
        check_decoder(phi);
        check_decoder(decoder("gpt_neox", "GPTNeoXForCausalLM"));
    }

    /// T5 of d_model 32, 2 encoder and (by default) 2 decoder layers, 4 heads of 8, bare:
    /// 4 layers over 8 tokens in inference; a decode step runs the 2 decoder layers only,
    /// over its own tokens (start token and those so far) and cross-attends the prompt.
    #[test]
    fn t5_decode_runs_the_decoder_and_reads_the_cross_cache() {
        let config = json!({
            "model_type": "t5", "architectures": ["T5ForConditionalGeneration"],
            "d_model": 32, "num_layers": 2, "num_heads": 4, "d_kv": 8, "d_ff": 64,
            "vocab_size": 100, "feed_forward_proj": "relu"
        });
        // Inference over 8 tokens: 2 encoder and 2 decoder layers, 8 · 100 logits.
        let inference = traffic(&cell(config.clone(), Mode::Inference, 1, 8)).unwrap();
        let acts = 4.0 * (2.0 * (4.0 * 8.0 * 320.0 + 4.0 * 4.0 * 64.0) + 800.0);
        assert!(
            close(inference.activations, acts),
            "{}",
            inference.activations
        );
        let mut c = cell(config, Mode::Generation, 1, 8);
        c.new_tokens = Some(3);
        let t = traffic(&c).unwrap();
        let d = t.decode.unwrap();
        // 2·4·8·4 = 256 bytes a token and layer: step i reads 1 + i own tokens in 2 layers
        // and the 8 prompt tokens' cross keys and values in 2 layers; writes 1 token in 2.
        let kv = 256.0 * ((2.0 * 2.0 + 16.0) + (2.0 * 3.0 + 16.0) + 2.0 * 2.0);
        assert!(close(t.kv_cache, kv), "{} vs {kv}", t.kv_cache);
        // Step activations: 2 decoder layers · (320 + 4 heads · context), written and read,
        // and 100 logits; contexts 2 and 3.
        let acts = |context: f64| 4.0 * (2.0 * 2.0 * (320.0 + 4.0 * context) + 100.0);
        let all = crate::estimate::model_parameters(&c.config).unwrap();
        // The tied head reads the whole table: nothing unread.
        let step = 4.0 * all + (kv + acts(2.0) + acts(3.0)) / 2.0;
        assert!(close(d.bytes, step), "{} vs {step}", d.bytes);
    }

    /// GPT-Neo with a global and a local layer of window 4, learned positions (40 rows, 32
    /// unread for 8 tokens), a tied head reading the whole table, 8 · 100 logits; a prompt
    /// of 8 and 3 new tokens: the local layer keeps only its 4 latest tokens.
    #[test]
    fn gpt_neo_local_layers_keep_their_window() {
        let config = json!({
            "model_type": "gpt_neo", "architectures": ["GPTNeoForCausalLM"], "hidden_size": 32,
            "num_layers": 2, "num_heads": 4, "intermediate_size": 64, "vocab_size": 100,
            "max_position_embeddings": 40, "window_size": 4,
            "attention_types": [[["global", "local"], 1]]
        });
        check_inference(config.clone(), 32.0, 800.0);
        let mut c = cell(config, Mode::Generation, 1, 8);
        c.new_tokens = Some(3);
        let t = traffic(&c).unwrap();
        // 2·4·8·4 = 256 bytes a token and layer: steps over 9 and 10 tokens read them all in
        // the global layer and 4 in the local one; each writes 1 token in both.
        let kv = 256.0 * ((9.0 + 4.0) + (10.0 + 4.0) + 2.0 * 2.0);
        assert!(close(t.kv_cache, kv), "{} vs {kv}", t.kv_cache);
    }

    /// ViT of hidden 32, 2 layers, 4 heads, feed-forward 64, images of 32 in patches of 8:
    /// 16 patches a sample, every weight read (no token table; the position table is read
    /// whole at the configured image size). The class token is not counted as a position.
    #[test]
    fn vit_reads_every_weight_over_its_patches() {
        let config = json!({
            "model_type": "vit", "architectures": ["ViTModel"], "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
            "image_size": 32, "patch_size": 8, "num_channels": 3
        });
        let mut c = cell(config, Mode::Inference, 1, 32);
        c.input = InputKind::Pixels {
            channels: 3,
            patch_size: 8,
        };
        let t = traffic(&c).unwrap();
        let all = crate::estimate::model_parameters(&c.config).unwrap();
        assert!(
            close(t.weights, 4.0 * all),
            "{} vs {}",
            t.weights,
            4.0 * all
        );
        // 2 layers · 16 patches · 320 values, 2 layers · 4 heads · 16² scores, twice.
        let acts = 4.0 * 2.0 * (2.0 * 16.0 * 320.0 + 2.0 * 4.0 * 256.0);
        assert!(close(t.activations, acts), "{} vs {acts}", t.activations);
    }

    /// Whisper of d_model 32, 1 encoder and 1 decoder layer, 4 heads, feed-forward 64,
    /// vocabulary 100, 8 mel bins, 1 s of audio: 50 encoder positions, a decoder prefix of 4
    /// tokens. The bare model gathers 4 of 100 word rows and 4 of the decoder's 16 position
    /// rows (the encoder's 50 are all read).
    #[test]
    fn whisper_reads_the_decoder_prefix_rows() {
        let config = json!({
            "model_type": "whisper", "architectures": ["WhisperModel"], "d_model": 32,
            "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 4,
            "decoder_attention_heads": 4, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64,
            "vocab_size": 100, "num_mel_bins": 8, "max_source_positions": 50,
            "max_target_positions": 16, "decoder_start_token_id": 1
        });
        let mut c = cell(config, Mode::Inference, 1, 1);
        c.input = InputKind::Audio {
            mel_bins: 8,
            decoder_tokens: 4,
        };
        let t = traffic(&c).unwrap();
        let all = crate::estimate::model_parameters(&c.config).unwrap();
        let weights = 4.0 * (all - (96.0 + 12.0) * 32.0);
        assert!(close(t.weights, weights), "{} vs {weights}", t.weights);
        // The encoder layer holds 50 positions, the decoder's 4 tokens: 54 · 320 values; the
        // encoder's 4 heads · 50² scores; written and read.
        let acts = 4.0 * 2.0 * (54.0 * 320.0 + 4.0 * 2500.0);
        assert!(close(t.activations, acts), "{} vs {acts}", t.activations);
    }

    /// Gemma 2 and Gemma 3 slide every other layer here (Gemma 2's rule; Gemma 3 with
    /// sliding_window_pattern 2) with a window of 4: the inference is the decoder's above;
    /// in decode, with 4 KV heads of 8 (2·4·8·4 = 256 bytes a token and layer), steps over
    /// 9 and 10 tokens read 4 of them in the sliding layer and all in the global one, and
    /// write 1 token in each layer.
    #[test]
    fn gemma2_and_gemma3_sliding_layers_keep_their_window() {
        for (model_type, architecture) in [
            ("gemma2", "Gemma2ForCausalLM"),
            ("gemma3_text", "Gemma3ForCausalLM"),
        ] {
            let mut config = decoder(model_type, architecture);
            config["head_dim"] = json!(8);
            config["num_key_value_heads"] = json!(4);
            config["sliding_window"] = json!(4);
            config["sliding_window_pattern"] = json!(2);
            check_inference(config.clone(), 92.0, 800.0);
            let mut c = cell(config, Mode::Generation, 1, 8);
            c.new_tokens = Some(3);
            let t = traffic(&c).unwrap();
            let kv = 256.0 * ((4.0 + 9.0) + (4.0 + 10.0) + 2.0 * 2.0);
            assert!(
                close(t.kv_cache, kv),
                "{model_type}: {} vs {kv}",
                t.kv_cache
            );
        }
    }

    /// GPT-2 of hidden 32, 2 layers, 4 heads, 40 learned positions, a tied head: a decode
    /// step gathers one position row (39 unread) and reads the whole word table.
    #[test]
    fn gpt2_decode_reads_one_position_row() {
        let config = json!({
            "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 32,
            "n_layer": 2, "n_head": 4, "vocab_size": 100, "n_positions": 40
        });
        let all = crate::estimate::model_parameters(&config).unwrap();
        let mut c = cell(config, Mode::Generation, 1, 8);
        c.new_tokens = Some(2);
        let t = traffic(&c).unwrap();
        let d = t.decode.unwrap();
        // One step over 9 tokens: 4 heads of 8 in 2 layers, 512 bytes a token; 1 written.
        let kv = 512.0 * (9.0 + 1.0);
        // Activations: 2 layers · (6·32 + 2·128 values + 4 heads · 9 scores), twice; 100 logits.
        let acts = 4.0 * (2.0 * 2.0 * (448.0 + 36.0) + 100.0);
        let step = 4.0 * (all - 39.0 * 32.0) + kv + acts;
        assert!(close(d.bytes, step), "{} vs {step}", d.bytes);
    }
}

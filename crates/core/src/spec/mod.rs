//! Neutral model facts, one file per family: each config parsed with transformers' key names
//! and defaults, validated (errors name the key), with its parameter count, FLOPs per call,
//! KV-cache layout, input kind and mask support. No framework is imported here: the planner,
//! estimates, catalog, shards and hub read these facts without loading libtorch, and every
//! framework builds its models from the same configs (libtorch in `src/models/`, the graph
//! frameworks in `crates/graph-child/src/graph/`).
//!
//! Adding a family: one file here (config, checks, [`Spec`] impl, `from_json`), one line in
//! [`FAMILIES`], then a build in each framework.

pub mod activation;
pub mod albert;
pub mod bart;
pub mod bert;
pub mod checks;
pub mod deberta_v2;
pub mod distilbert;
pub mod electra;
pub mod flops;
pub mod gemma;
pub mod gpt2;
pub mod gpt_neo;
pub mod gpt_neox;
pub mod llama;
pub mod modernbert;
pub mod moe;
pub mod opt;
pub mod phi;
pub mod phi3;
pub mod roberta;
pub mod rope;
pub mod t5;
pub mod torchscript;
pub mod vit;
pub mod whisper;

pub use crate::cell::InputKind;
use anyhow::{anyhow, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::any::Any;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// Why a family without a masked forward cannot take text inputs.
pub const NO_MASK: &str = "padding mask not supported by this model family (text inputs \
    need one; BERT-like encoders, ModernBERT, DeBERTa-v2, GPT-2, Llama-like decoders, Gemma, \
    Phi-3 and T5 take it)";
/// The shape of a model's KV cache, for its size from the config.
#[derive(Debug, Clone, PartialEq)]
pub struct KvLayout {
    /// Per decoder layer, its attention window (None: every token is kept).
    pub windows: Vec<Option<i64>>,
    pub kv_heads: i64,
    pub head_dim: i64,
    /// Encoder-decoders: the cross-attention cache's layers (over the prompt).
    pub cross_layers: i64,
}

impl KvLayout {
    /// Bytes of a cache holding `context` tokens of self-attention (and, for an
    /// encoder-decoder, the cross-attention keys and values of `prompt` tokens):
    /// 2 (keys and values) · kv_heads · head_dim · batch · dtype bytes per token and layer,
    /// a sliding-window layer holding at most its window.
    pub fn bytes(&self, batch: i64, prompt: i64, context: i64, dtype_bytes: i64) -> i64 {
        let per_token = 2 * self.kv_heads * self.head_dim * batch * dtype_bytes;
        let own: i64 = self
            .windows
            .iter()
            .map(|w| w.map_or(context, |w| context.min(w)))
            .sum();
        per_token * (own + self.cross_layers * prompt)
    }

    /// Decoder-only: one window for every layer.
    pub fn uniform(layers: i64, window: Option<i64>, kv_heads: i64, head_dim: i64) -> Self {
        KvLayout {
            windows: vec![window; layers.max(0) as usize],
            kv_heads,
            head_dim,
            cross_layers: 0,
        }
    }
}

/// Which module of a family to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// The bare model (`BertModel`), as transformers' `MODEL_MAPPING`.
    Base,
    /// The language-modelling head (`BertForMaskedLM`, `GPT2LMHeadModel`, ...), as
    /// `MODEL_WITH_LM_HEAD_MAPPING`; for vision models, the classification head
    /// (`ViTForImageClassification`).
    LanguageModel,
}

/// A config's value as [`Any`], so that a framework finds its own build of the family.
pub trait IntoAny {
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Any> IntoAny for T {
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// A parsed, validated config of a supported family: what is known of its model without
/// building it.
pub trait Spec: std::fmt::Debug + IntoAny {
    fn vocab_size(&self) -> i64;
    /// The longest sequence the model accepts (learned position embeddings), if bounded.
    fn max_positions(&self) -> Option<i64>;
    /// Why a cell of this size cannot run (said before any work), or None: by default a
    /// sequence longer than [`Self::max_positions`].
    fn size_not_supported(&self, size: i64) -> Option<String> {
        let max = self.max_positions()?;
        (size > max)
            .then(|| format!("sequence length {size} exceeds max_position_embeddings {max}"))
    }
    /// The parameters of the module built for `task`, counted exactly from the config as
    /// transformers' `num_parameters()` counts them (a tied head once, buffers not at all);
    /// None only where the config cannot know (a TorchScript file).
    fn parameters(&self, task: Task) -> Option<f64>;
    /// Floating-point operations of one forward call on a (batch, seq) input: 2·m·n·k for
    /// every matrix product (projections, attention scores and values, heads); element-wise
    /// work, norms and softmax are not counted.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64;
    /// Whether the built models honour an attention mask (a masked forward), which text
    /// inputs need; the planner refuses `--input-text` for a family without one.
    fn takes_attention_mask(&self) -> bool {
        false
    }
    /// What a cell's size means and what the model is fed: token ids unless overridden.
    fn input_kind(&self) -> InputKind {
        InputKind::Tokens
    }
    /// The KV cache's shape, for the families that generate.
    fn kv_layout(&self) -> Option<KvLayout> {
        None
    }
    /// The mixture-of-experts part, for the families with experts.
    fn experts(&self) -> Option<&moe::MoeConfig> {
        None
    }
}

/// Encoder-only families: they have no causal language model to generate with.
const ENCODER_ONLY: &[&str] = &[
    "albert",
    "bert",
    "deberta-v2",
    "distilbert",
    "electra",
    "modernbert",
    "roberta",
    "xlm-roberta",
];

/// Why a model of `model_type` cannot generate, one line (for the N/A cell).
pub fn no_generation_reason(model_type: &str) -> String {
    match model_type {
        t if ENCODER_ONLY.contains(&t) => {
            format!("{t} is an encoder-only model: it does not generate text")
        }
        "vit" => "vit is an image encoder: it does not generate text".to_string(),
        "torchscript" => {
            "a TorchScript file has no decode step or KV cache to generate with".to_string()
        }
        t => format!("generation is not implemented for {t} yet"),
    }
}

type Parser = fn(&Value) -> Result<Box<dyn Spec>>;

/// `model_type` -> parser, for every family this build implements.
const FAMILIES: &[(&str, Parser)] = &[
    ("albert", albert::from_json),
    ("bart", bart::from_json),
    ("bert", bert::from_json),
    ("deberta-v2", deberta_v2::from_json),
    ("distilbert", distilbert::from_json),
    ("electra", electra::from_json),
    ("gemma", gemma::from_json),
    ("gemma2", gemma::from_json),
    ("gemma3_text", gemma::from_json),
    ("gpt2", gpt2::from_json),
    ("gpt_neo", gpt_neo::from_json),
    ("gpt_neox", gpt_neox::from_json),
    ("llama", llama::from_json),
    ("mistral", llama::from_json),
    ("mixtral", llama::from_json),
    ("modernbert", modernbert::from_json),
    ("opt", opt::from_json),
    ("phi", phi::from_json),
    ("phi3", phi3::from_json),
    ("qwen2", llama::from_json),
    ("qwen3", llama::from_json),
    ("qwen3_moe", llama::from_json),
    ("roberta", roberta::from_json),
    ("t5", t5::from_json),
    ("torchscript", torchscript::from_json),
    ("vit", vit::from_json),
    ("whisper", whisper::from_json),
    ("xlm-roberta", roberta::from_json),
];

/// The `model_type`s this build implements.
pub fn supported_model_types() -> Vec<&'static str> {
    FAMILIES.iter().map(|(name, _)| *name).collect()
}

/// Parses a config.json value; errors name the offending key.
pub fn from_json(config: &Value) -> Result<Box<dyn Spec>> {
    let model_type = config
        .get("model_type")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("it has no \"model_type\" key"))?;
    let (_, parse) = FAMILIES
        .iter()
        .find(|(name, _)| *name == model_type)
        .ok_or_else(|| {
            anyhow!(
                "model_type \"{model_type}\" is not supported; supported: {}",
                supported_model_types().join(", ")
            )
        })?;
    parse(config)
}

/// What a resolved config's model is fed ([`Spec::input_kind`]); token ids for a
/// config that does not parse (resolving already reported it).
pub fn input_kind(config: &Value) -> InputKind {
    from_json(config)
        .map(|arch| arch.input_kind())
        .unwrap_or_default()
}

/// Deserialises a family's config struct, naming the key at fault; notes which top-level
/// keys it read, which it skipped and which fields it has (with the value each took), for
/// [`key_report`].
pub fn parse_config<T: DeserializeOwned + std::fmt::Debug>(config: &Value) -> Result<T> {
    let mut ignored = BTreeSet::new();
    let mut note = |path: serde_ignored::Path| {
        if let serde_ignored::Path::Map { parent, key } = path {
            if matches!(parent, serde_ignored::Path::Root) {
                ignored.insert(key.clone());
            }
        }
    };
    let deserializer = serde_ignored::Deserializer::new(config.clone(), &mut note);
    let parsed: T = serde_path_to_error::deserialize(deserializer)
        .map_err(|e| anyhow!("key \"{}\": {}", e.path(), e.inner()))?;
    let values = field_values(&format!("{parsed:?}"));
    KEYS.with_borrow_mut(|log| {
        if let Some(object) = config.as_object() {
            log.read
                .extend(object.keys().filter(|k| !ignored.contains(*k)).cloned());
        }
        log.ignored.extend(ignored);
        for field in struct_fields::<T>() {
            log.fields
                .entry(field.to_string())
                .or_insert_with(|| values.get(*field).cloned());
        }
    });
    Ok(parsed)
}

/// The field names a derived `Deserialize` asks for (serde's `FIELDS`): a deserializer
/// that records them and stops.
fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Fields(&'static [&'static str]);
    impl<'de> serde::Deserializer<'de> for &mut Fields {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: serde::de::Visitor<'de>>(
            self,
            _: V,
        ) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields;
            Err(serde::de::Error::custom("fields noted"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields = Fields(&[]);
    let _ = T::deserialize(&mut fields);
    fields.0
}

/// `field -> value` of a struct's `Debug` text (`Name { a: 1, b: Some(2) }`), top level only.
fn field_values(debug: &str) -> BTreeMap<String, String> {
    let Some(body) = debug
        .split_once('{')
        .and_then(|(_, rest)| rest.trim_end().strip_suffix('}'))
    else {
        return BTreeMap::new();
    };
    let (mut parts, mut depth, mut quoted, mut start) = (Vec::new(), 0i32, false, 0);
    let mut escaped = false;
    for (at, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '(' | '[' | '{' if !quoted => depth += 1,
            ')' | ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(&body[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
        .iter()
        .filter_map(|part| part.split_once(": "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// What [`parse_config`] saw of a config's top-level keys, on this thread.
#[derive(Debug, Default)]
struct KeyLog {
    read: BTreeSet<String>,
    ignored: BTreeSet<String>,
    /// Every field of the parsed structs, with its value (`Debug`) where it showed one.
    fields: BTreeMap<String, Option<String>>,
}

thread_local! {
    static KEYS: RefCell<KeyLog> = RefCell::new(KeyLog::default());
}

/// Keys every config may hold that this tool reads outside the family parsers.
const KEYS_READ_EVERYWHERE: &[&str] = &["model_type", "architectures"];

/// How a config's keys fared in its family's parser.
#[derive(Debug, Default)]
pub struct KeyReport {
    /// Keys of the config the family does not read (its parser skipped them).
    pub unread: Vec<String>,
    /// Keys of the config its parsers read.
    pub read: BTreeSet<String>,
    /// Every key the family reads (its structs' fields and the keys it read), with the
    /// value it took from this config (its default where the config has none), when known.
    pub known: BTreeMap<String, Option<String>>,
}

impl KeyReport {
    /// The key the family reads that `key` most likely misspells, if any.
    pub fn closest(&self, key: &str) -> Option<&str> {
        self.known
            .keys()
            .map(|known| (strsim::jaro_winkler(key, known), known))
            .filter(|(score, _)| *score >= 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, known)| known.as_str())
    }

    /// A near miss: a read key within two edits of `key` (case aside) that the config does
    /// not hold itself, so a typo of it fell back to the default.
    pub fn near_miss(&self, key: &str, config: &Value) -> Option<&str> {
        let wanted = key.to_ascii_lowercase();
        self.known
            .keys()
            .filter(|known| config.get(known.as_str()).is_none())
            .map(|known| {
                let d = strsim::damerau_levenshtein(&wanted, &known.to_ascii_lowercase());
                (d, known)
            })
            .filter(|&(d, known)| d > 0 && d <= 2 && known.len() > 4)
            .min_by_key(|&(d, _)| d)
            .map(|(_, known)| known.as_str())
    }
}

/// Parses `config` in its family and reports which of its keys the family skipped and
/// which it reads.
pub fn key_report(config: &Value) -> Result<KeyReport> {
    KEYS.with_borrow_mut(|log| *log = KeyLog::default());
    let parsed = from_json(config);
    let log = KEYS.with_borrow_mut(std::mem::take);
    parsed?;
    let mut known = log.fields;
    for key in &log.read {
        known.entry(key.clone()).or_insert(None);
    }
    let unread = (log.ignored.iter())
        .filter(|k| !log.read.contains(*k) && !KEYS_READ_EVERYWHERE.contains(&k.as_str()))
        .cloned()
        .collect();
    Ok(KeyReport {
        unread,
        read: log.read,
        known,
    })
}

/// Of `keys` (a model's command-line overrides), the ones the config's family does not read,
/// each with the closest key it does read: an override it ignores would benchmark a
/// different model than its name says.
pub fn unread_keys(config: &Value, keys: &[&str]) -> Result<Vec<(String, Option<String>)>> {
    let report = key_report(config)?;
    Ok(keys
        .iter()
        .filter(|k| !report.read.contains(**k) && !KEYS_READ_EVERYWHERE.contains(k))
        .map(|key| (key.to_string(), report.closest(key).map(String::from)))
        .collect())
}

/// The module the original benchmarked for inference: `architectures[0]` when the config
/// names a language-modelling (or image-classification) head, unless `only_pretrain_model`;
/// otherwise the base model.
pub fn inference_task(config: &Value, only_pretrain_model: bool) -> Task {
    let head = config
        .get("architectures")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or("");
    let is_lm_head = [
        "ForMaskedLM",
        "LMHeadModel",
        "ForCausalLM",
        "ForPreTraining",
        "ForConditionalGeneration",
        "ForImageClassification",
    ]
    .iter()
    .any(|suffix| head.ends_with(suffix));
    if is_lm_head && !only_pretrain_model {
        Task::LanguageModel
    } else {
        Task::Base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inference_task_follows_architectures() {
        let mlm = json!({"architectures": ["BertForMaskedLM"]});
        assert_eq!(inference_task(&mlm, false), Task::LanguageModel);
        assert_eq!(inference_task(&mlm, true), Task::Base);
        assert_eq!(
            inference_task(&json!({"architectures": ["BertModel"]}), false),
            Task::Base
        );
        assert_eq!(inference_task(&json!({}), false), Task::Base);
    }

    #[test]
    fn unknown_model_type_lists_the_supported_ones() {
        let err = from_json(&json!({"model_type": "xlnet"})).unwrap_err();
        assert!(
            err.to_string().contains("supported: albert, bart, bert,"),
            "{err}"
        );
        let err = from_json(&json!({"hidden_size": 3})).unwrap_err();
        assert!(err.to_string().contains("no \"model_type\""), "{err}");
    }
}

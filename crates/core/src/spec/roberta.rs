//! roberta's neutral facts: its config with transformers' key names and defaults, the checks
//! that name a bad key, FLOPs and shapes (the libtorch build is `src/models/roberta.rs`).

use super::bert::BertConfig;
use super::{parse_config, Spec, Task};
use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};

/// `RobertaConfig` / `XLMRobertaConfig`: BERT's keys, with pad_token_id 1 by default (and
/// RoBERTa's vocabulary of 50265).
#[derive(Debug, Clone)]
pub struct RobertaConfig {
    pub bert: BertConfig,
    /// The padding index, from which position ids count.
    pub padding_idx: i64,
}

impl RobertaConfig {
    /// Parses a `roberta` or `xlm-roberta` config.json.
    pub fn from_value(config: &Value) -> Result<Self> {
        let mut config = config.clone();
        let keys = config
            .as_object_mut()
            .ok_or_else(|| anyhow!("a config is a JSON object"))?;
        keys.entry("pad_token_id").or_insert(json!(1));
        if keys.get("model_type").and_then(Value::as_str) == Some("roberta") {
            keys.entry("vocab_size").or_insert(json!(50265));
        }
        let bert: BertConfig = parse_config(&config)?;
        bert.validate()?;
        let padding_idx = bert
            .pad_token_id
            .ok_or_else(|| anyhow!("pad_token_id is null; RoBERTa's position ids need it"))?;
        if padding_idx < 0 || padding_idx + 1 >= bert.max_position_embeddings {
            bail!(
                "pad_token_id {padding_idx} leaves no positions in max_position_embeddings {}",
                bert.max_position_embeddings
            );
        }
        Ok(RobertaConfig { bert, padding_idx })
    }
}

pub fn from_json(config: &Value) -> Result<Box<dyn Spec>> {
    Ok(Box::new(RobertaConfig::from_value(config)?))
}

impl Spec for RobertaConfig {
    fn takes_attention_mask(&self) -> bool {
        true
    }

    fn vocab_size(&self) -> i64 {
        self.bert.vocab_size
    }

    /// Positions padding_idx + 1 ..= padding_idx + seq are used: 512 of roberta-base's 514.
    fn max_positions(&self) -> Option<i64> {
        Some(self.bert.max_position_embeddings - self.padding_idx - 1)
    }

    /// BERT's: the same encoder, pooler and masked-LM head shapes.
    fn forward_flops(&self, batch: i64, seq: i64, task: Task) -> f64 {
        self.bert.forward_flops(batch, seq, task)
    }

    /// BERT's: the same embeddings (position rows after the padding index included), layers,
    /// pooler and masked-LM head.
    fn parameters(&self, task: Task) -> Option<f64> {
        self.bert.parameters(task)
    }
}

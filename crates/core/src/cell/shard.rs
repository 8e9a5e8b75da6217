//! A sharded sweep's record of its whole plan, as a shard's JSON export keeps it: every
//! cell in plan order with its shard, so that `merge` can rebuild the single-machine sweep.
//! (`--shard` itself, the environment and the assignment, are the root crate's `shard`.)

use crate::cell::{Axes, Cell, Dtype, Framework, InputKind, Inputs, Metric, Mode, Settings};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One part of a sharded plan; `index` is 1-based (`--shard 1/4` .. `--shard 4/4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a shard's JSON export records of the whole plan, so that `merge` can rebuild the
/// single-machine sweep: every cell in plan order with its shard, the models' configs once
/// each, and a fingerprint that tells shards of one plan from shards of another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShardRecord {
    pub shard: Shard,
    /// FNV-1a of the whole plan's cells and settings, as JSON.
    pub plan_id: String,
    /// (name, resolved config) of every model in the plan.
    pub models: Vec<(String, Value)>,
    pub plan: Vec<PlannedCell>,
}

/// One cell of the whole plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlannedCell {
    /// Index into [`ShardRecord::models`].
    pub model: usize,
    pub batch_size: i64,
    pub sequence_length: i64,
    pub mode: Mode,
    pub metric: Metric,
    /// What the cell feeds the model: random ids, or which text through which tokenizer
    /// (their digests), so that merge rebuilds a missing cell as it was planned.
    #[serde(default)]
    pub inputs: Inputs,
    /// Generation cells' new tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_tokens: Option<i64>,
    /// The cell's dtype (older records: the sweep's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<Dtype>,
    /// The cell's `--threads` value (none: libtorch's default, or in older records the
    /// sweep's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// The cell's framework, where the plan crossed several or it is neither PyTorch nor
    /// TorchScript (absent: the sweep's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<Framework>,
    /// 0-based shard the cell belongs to.
    pub shard: usize,
}

impl ShardRecord {
    /// The record of `cells` (the whole plan) split as `shard_of` says.
    pub fn new(cells: &[Cell], shard_of: &[usize], shard: Shard) -> ShardRecord {
        let mut models: Vec<(String, Value)> = Vec::new();
        let mut plan = Vec::new();
        let frameworks_vary = Axes::of(cells).framework_varies();
        for (cell, &part) in cells.iter().zip(shard_of) {
            let model = match models
                .iter()
                .position(|(n, c)| *n == cell.model && *c == cell.config)
            {
                Some(i) => i,
                None => {
                    models.push((cell.model.clone(), cell.config.clone()));
                    models.len() - 1
                }
            };
            plan.push(PlannedCell {
                model,
                batch_size: cell.batch_size,
                sequence_length: cell.sequence_length,
                mode: cell.mode,
                metric: cell.metric,
                inputs: cell.inputs.clone(),
                new_tokens: cell.new_tokens,
                dtype: Some(cell.settings.dtype),
                threads: cell.settings.threads,
                framework: (frameworks_vary || !cell.settings.framework.is_torch())
                    .then_some(cell.settings.framework),
                shard: part,
            });
        }
        let settings = cells.first().map(|c| &c.settings);
        let fingerprint =
            serde_json::to_string(&(&models, &plan_keys(&plan), settings)).unwrap_or_default();
        ShardRecord {
            shard,
            plan_id: format!("{:016x}", fnv1a(fingerprint.as_bytes())),
            models,
            plan,
        }
    }

    /// Whether `cell` is the planned cell `p`.
    pub fn is(&self, p: &PlannedCell, cell: &Cell) -> bool {
        let (name, config) = &self.models[p.model];
        *name == cell.model
            && *config == cell.config
            && (p.batch_size, p.sequence_length, p.mode, p.metric)
                == (
                    cell.batch_size,
                    cell.sequence_length,
                    cell.mode,
                    cell.metric,
                )
            && p.inputs == cell.inputs
            && p.new_tokens == cell.new_tokens
            && p.dtype.is_none_or(|d| d == cell.settings.dtype)
            && p.framework.is_none_or(|f| f == cell.settings.framework)
            && (p.threads.is_none() || p.threads == cell.settings.threads)
    }

    /// The planned cell as the whole plan's run would have had it (`settings` with the cell's
    /// own dtype and threads; `input_of` reads the input kind from the model's config).
    pub fn cell(
        &self,
        p: &PlannedCell,
        settings: &Settings,
        input_of: impl Fn(&Value) -> InputKind,
    ) -> Cell {
        let (name, config) = &self.models[p.model];
        let settings = Settings {
            framework: p.framework.unwrap_or(settings.framework),
            dtype: p.dtype.unwrap_or(settings.dtype),
            threads: p.threads.or(settings.threads),
            ..settings.clone()
        };
        Cell {
            model: name.clone(),
            config: config.clone(),
            batch_size: p.batch_size,
            sequence_length: p.sequence_length,
            mode: p.mode,
            metric: p.metric,
            settings,
            input: input_of(config),
            inputs: p.inputs.clone(),
            new_tokens: p.new_tokens,
        }
    }
}

/// The plan's cells without their shard numbers: the same plan split in a different number
/// of shards is still the same plan; the same cells on other text are another plan.
#[allow(clippy::type_complexity)]
fn plan_keys(
    plan: &[PlannedCell],
) -> Vec<(
    usize,
    i64,
    i64,
    Mode,
    Metric,
    &Inputs,
    Option<i64>,
    Option<Dtype>,
    Option<usize>,
)> {
    plan.iter()
        .map(|p| {
            (
                p.model,
                p.batch_size,
                p.sequence_length,
                p.mode,
                p.metric,
                &p.inputs,
                p.new_tokens,
                p.dtype,
                p.threads,
            )
        })
        .collect()
}

/// 64-bit FNV-1a: a stable fingerprint, the same on every machine and build.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |hash, &b| {
        (hash ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_cell(text_digest: &str) -> Cell {
        use crate::cell::{DeviceChoice, Dtype, Optimizer, TextInputs};
        let settings = Settings {
            protocol: crate::measure::timing::Protocol::Original {
                repeat: 1,
                number: 1,
            },
            device: DeviceChoice::Cpu,
            dtype: Dtype::F32,
            threads: None,
            optimizer: Optimizer::None,
            only_pretrain_model: false,
            framework: crate::cell::Framework::Pytorch,
            seed: 0,
            profile: false,
            profile_trace: None,
            onnxruntime_level: None,
            routing: None,
        };
        Cell {
            model: "bert".into(),
            config: serde_json::json!({"model_type": "bert"}),
            batch_size: 4,
            sequence_length: 16,
            mode: Mode::Inference,
            metric: Metric::Speed,
            settings,
            input: Default::default(),
            inputs: Inputs::Text(TextInputs {
                tokenizer: "tok.json".into(),
                text: "corpus.txt".into(),
                tokenizer_digest: "00000000000000aa".into(),
                text_digest: text_digest.into(),
                passages: 3,
                padding_tokens: 20,
                truncated_rows: 1,
                cycled: true,
                pad_token: "[PAD]".into(),
            }),
            new_tokens: None,
        }
    }

    #[test]
    fn the_record_keeps_each_cells_text_inputs() {
        let cell = text_cell("00000000000000bb");
        let shard = Shard { index: 1, count: 2 };
        let record = ShardRecord::new(std::slice::from_ref(&cell), &[1], shard);
        let planned = &record.plan[0];
        let rebuilt = record.cell(planned, &cell.settings, |_| InputKind::Tokens);
        assert_eq!(rebuilt.inputs, cell.inputs);
        assert!(record.is(planned, &cell));
        // The same cell on text with other content is another cell, of another plan.
        let other = text_cell("00000000000000cc");
        assert!(!record.is(planned, &other));
        let other_record = ShardRecord::new(std::slice::from_ref(&other), &[1], shard);
        assert_ne!(record.plan_id, other_record.plan_id);
        // Another dtype or thread count is another planned cell, rebuilt with its own.
        let mut bf16 = cell.clone();
        bf16.settings.dtype = crate::cell::Dtype::Bf16;
        bf16.settings.threads = Some(2);
        let both = ShardRecord::new(&[cell.clone(), bf16.clone()], &[0, 1], shard);
        assert!(both.is(&both.plan[1], &bf16) && !both.is(&both.plan[0], &bf16));
        assert!(!both.is(&both.plan[1], &cell));
        assert_eq!(
            both.cell(&both.plan[1], &cell.settings, |_| InputKind::Tokens)
                .settings,
            bf16.settings
        );
        // And the record survives its JSON.
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<ShardRecord>(&json).unwrap(), record);
    }
}

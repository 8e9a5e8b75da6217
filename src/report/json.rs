//! The JSON export: schema-versioned, every cell with its settings, raw samples, statistics
//! and N/A reason, so reports and comparisons can be rebuilt without re-running anything.
//!
//! Schema 2 is made for jq: the environment is an object, sections and rows are objects with
//! named fields, a row's `status` is only its outcome (`ok` or `not_available`) and its figures
//! sit under `speed` or `memory`, and each row's `cell.dtype` and `cell.threads` are the dtype
//! and thread count it ran with (a sweep may cross several: `--dtypes f32 bf16 --threads 1
//! 2`), as `settings.dtype` and `settings.threads` are the first of them. docs/export-schema.json is its JSON Schema, generated from these types (a test keeps
//! it current). Schema 1 files (rows as `[cell, result]` pairs) are still read.

use super::{write_file, Row, Sweep};
use crate::cell::{
    Calibration, CalibrationResult, Cell, CellResult, DeviceChoice, Dtype, Framework, InputKind,
    Inputs, MemoryResult, Metric, Mode, Optimizer, Settings, SpeedResult, TokenizationCell,
    TokenizationResult,
};
use crate::measure::timing::Protocol;
use crate::shard::{PlannedCell, Shard, ShardRecord};
use anyhow::{Context, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bumped when a field changes meaning or disappears; adding fields keeps it.
pub const SCHEMA_VERSION: u32 = 2;

/// A read export, whichever schema it had.
#[derive(Debug)]
pub struct Export {
    pub schema_version: u32,
    pub tool: String,
    pub sweep: Sweep,
}

/// Everything one sweep measured: its settings, environment, calibration and every finished
/// cell with its raw samples, statistics or N/A reason.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "run-benchmark JSON export, schema 2")]
pub struct ExportV2 {
    /// Always 2 for this layout; bumped when a field changes meaning or disappears.
    pub schema_version: u32,
    /// `run-benchmark VERSION`.
    pub tool: String,
    pub settings: SettingsV2,
    /// The environment information, key by key (as the tables' ENVIRONMENT INFORMATION).
    #[serde(with = "ordered_map")]
    #[schemars(with = "BTreeMap<String, String>")]
    pub environment: Vec<(String, String)>,
    /// The device's achievable FLOP/s in the dtype and threads of `settings` (the denominator
    /// of MFU), when speed was measured and the calibration succeeded.
    pub calibration: Option<CalibrationResult>,
    /// Every calibration, one per (device, dtype, threads) of the speed rows: a row's MFU
    /// is over the one of its own dtype and threads. Older files have only `calibration`.
    #[serde(default)]
    pub calibrations: Vec<CalibrationV2>,
    /// The sections asked for, in the order they are printed.
    pub sections: Vec<SectionV2>,
    /// Every finished cell, in the order of the plan.
    pub rows: Vec<RowV2>,
    /// Tokenization speed, when the cells took text inputs (`--input-text`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokenization: Vec<TokenizationRowV2>,
    /// A sweep run with `--shard K/N`: its part and the whole plan, for `merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardV2>,
    /// Per model, the keys of its config file that its family does not read (so they did
    /// not change what was benchmarked); absent when every key was read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unread_config_keys: BTreeMap<String, Vec<String>>,
}

/// What a shard's export records of the whole plan (see `run-benchmark merge`).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ShardV2 {
    /// This part: `index` of `count`, 1-based.
    pub shard: Shard,
    /// A fingerprint of the whole plan's cells and settings: parts of one plan share it.
    pub plan_id: String,
    /// Every model of the plan, once each; `plan[].model` indexes this list.
    pub models: Vec<PlanModelV2>,
    /// Every cell of the whole plan, in plan order, with the (0-based) part it belongs to.
    pub plan: Vec<PlannedCell>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct PlanModelV2 {
    pub name: String,
    /// The resolved config.json, overrides applied.
    pub config: Value,
}

impl ShardV2 {
    fn of(record: &ShardRecord) -> ShardV2 {
        ShardV2 {
            shard: record.shard,
            plan_id: record.plan_id.clone(),
            models: (record.models.iter())
                .map(|(name, config)| PlanModelV2 {
                    name: name.clone(),
                    config: config.clone(),
                })
                .collect(),
            plan: record.plan.clone(),
        }
    }

    fn into_record(self) -> ShardRecord {
        ShardRecord {
            shard: self.shard,
            plan_id: self.plan_id,
            models: self
                .models
                .into_iter()
                .map(|m| (m.name, m.config))
                .collect(),
            plan: self.plan,
        }
    }
}

/// One matmul ceiling and the settings it was measured with.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct CalibrationV2 {
    pub device: DeviceChoice,
    pub dtype: Dtype,
    /// libtorch's intra-op threads it ran with.
    pub threads: Option<usize>,
    #[serde(flatten)]
    pub result: CalibrationResult,
}

/// The sweep's settings; every cell ran with them, but for the dtype and threads, which are
/// the first of `dtypes` and `thread_counts` (a row's own are in its cell).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct SettingsV2 {
    pub protocol: Protocol,
    pub device: DeviceChoice,
    pub dtype: Dtype,
    /// libtorch's intra-op threads the cells ran with.
    pub threads: Option<usize>,
    /// True when `threads` is libtorch's default (no `--threads`).
    pub threads_default: bool,
    /// Every dtype the rows hold, in order: more than one when `--dtypes` swept several.
    #[serde(default)]
    pub dtypes: Vec<Dtype>,
    /// Every thread count the rows ran with, in order: more than one when `--threads` swept
    /// several.
    #[serde(default)]
    pub thread_counts: Vec<usize>,
    pub optimizer: Optimizer,
    pub only_pretrain_model: bool,
    /// The original's field: the (first) framework is PyTorch traced by TorchScript.
    pub torchscript: bool,
    /// The (first) framework where it is neither PyTorch nor TorchScript (which
    /// `torchscript` says); absent otherwise, and in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<Framework>,
    pub seed: i64,
    /// `--profile`: speed cells also hold their call's breakdown (`speed.profile`).
    #[serde(default)]
    pub profile: bool,
    /// `--profile-trace DIR`: where the operator traces were written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_trace: Option<std::path::PathBuf>,
    /// `--onnxruntime-level`: the graph optimisation level of the onnxruntime rows, when
    /// one was asked for (absent: ORT_ENABLE_ALL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onnxruntime_level: Option<String>,
    /// `--routing`: how mixture-of-experts layers routed their tokens, when asked for
    /// (absent: the model's own router).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<crate::cell::Routing>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct SectionV2 {
    pub mode: Mode,
    pub metric: Metric,
}

/// What a cell measured: one model, batch size, sequence length, mode and metric.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct CellV2 {
    /// The label in tables and CSV files.
    pub model: String,
    /// The resolved config.json, overrides applied.
    pub config: Value,
    pub batch_size: i64,
    /// Tokens per sample, or an image's side in pixels where `input.kind` is `pixels`.
    pub sequence_length: i64,
    pub mode: Mode,
    pub metric: Metric,
    /// The dtype the cell ran in (older files: `settings.dtype`).
    #[serde(default)]
    pub dtype: Option<Dtype>,
    /// libtorch's intra-op threads the cell ran with (older files: `settings.threads`).
    #[serde(default)]
    pub threads: Option<usize>,
    /// The framework the cell ran in, written where the sweep crossed several or it is
    /// neither PyTorch nor TorchScript (absent: the settings' framework).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<Framework>,
    /// What the model is fed: token ids, square images cut into patches, or audio.
    #[serde(default)]
    pub input: InputKind,
    /// Random token ids, or the user's text through the model's tokenizer.
    #[serde(default)]
    pub inputs: Inputs,
    /// Generation cells: the new tokens of every request (the prompt is `sequence_length`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_tokens: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Measured: `speed` or `memory` (as `cell.metric` says) holds the figures.
    Ok,
    /// Not measured: `reason` says why.
    NotAvailable,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct RowV2 {
    pub cell: CellV2,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<SpeedResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a tokenization cell encoded: the first `passages` passages of `text` through the
/// tokenizer of `model`, each alone (`batch_size` null) or `batch_size` at a time.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TokenizationCellV2 {
    /// The first model (in order) that uses this tokenizer.
    pub model: String,
    pub tokenizer: PathBuf,
    pub text: PathBuf,
    pub passages: usize,
    pub batch_size: Option<usize>,
    /// The tokenizers crate's parallelism inside `encode_batch`.
    pub parallel: bool,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TokenizationRowV2 {
    pub cell: TokenizationCellV2,
    pub status: Status,
    /// Tokens made per call (special tokens included, no padding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// Threads of the crate's pool (1 without parallelism).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Seconds per call: encoding all the cell's passages once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<SpeedResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl TokenizationRowV2 {
    fn of((cell, result): &(TokenizationCell, TokenizationResult)) -> TokenizationRowV2 {
        let cell = TokenizationCellV2 {
            model: cell.model.clone(),
            tokenizer: cell.tokenizer.clone(),
            text: cell.text.clone(),
            passages: cell.passages,
            batch_size: cell.batch_size,
            parallel: cell.parallel,
        };
        match result {
            TokenizationResult::Speed {
                tokens,
                threads,
                speed,
            } => TokenizationRowV2 {
                cell,
                status: Status::Ok,
                tokens: Some(*tokens),
                threads: Some(*threads),
                speed: Some((**speed).clone()),
                reason: None,
            },
            TokenizationResult::NotAvailable { reason } => TokenizationRowV2 {
                cell,
                status: Status::NotAvailable,
                tokens: None,
                threads: None,
                speed: None,
                reason: Some(reason.clone()),
            },
        }
    }

    fn into_row(self, settings: &Settings) -> Result<(TokenizationCell, TokenizationResult)> {
        let c = self.cell;
        let result = match (self.status, self.tokens, self.threads, self.speed) {
            (Status::Ok, Some(tokens), Some(threads), Some(speed)) => TokenizationResult::Speed {
                tokens,
                threads,
                speed: Box::new(speed),
            },
            (Status::Ok, ..) => anyhow::bail!("status \"ok\" without tokens, threads and speed"),
            (Status::NotAvailable, ..) => TokenizationResult::NotAvailable {
                reason: self.reason.unwrap_or_default(),
            },
        };
        let cell = TokenizationCell {
            model: c.model,
            tokenizer: c.tokenizer,
            text: c.text,
            passages: c.passages,
            batch_size: c.batch_size,
            parallel: c.parallel,
            settings: settings.clone(),
        };
        Ok((cell, result))
    }
}

/// Schema 1: the in-memory types as they were serialised, with one calibration.
#[derive(Debug, Deserialize)]
struct ExportV1 {
    tool: String,
    calibration: Option<CalibrationResult>,
    #[serde(flatten)]
    sweep: Sweep,
}

impl ExportV1 {
    /// `value` is the file's JSON: its `settings.torchscript`, a bool before the framework
    /// axis replaced it, makes every row TorchScript's.
    fn into_sweep(self, value: &Value) -> Sweep {
        let mut sweep = self.sweep;
        if value["settings"]["torchscript"] == Value::Bool(true) {
            sweep.settings.framework = Framework::Torchscript;
            for (cell, _) in &mut sweep.rows {
                cell.settings.framework = Framework::Torchscript;
            }
        }
        if let Some(c) = self.calibration {
            sweep.calibrations = vec![(Calibration::of(&sweep.settings), c)];
        }
        // Schema 1 recorded libtorch's default thread count only in its environment.
        sweep.default_threads = (sweep.environment.iter())
            .find(|(k, _)| k == "threads")
            .and_then(|(_, v)| v.parse().ok());
        sweep
    }
}

impl ExportV2 {
    fn of(sweep: &Sweep) -> ExportV2 {
        let s = &sweep.settings;
        // The threads the children ran with, default or not: the plan's default count.
        let effective = |threads: Option<usize>| threads.or(sweep.default_threads);
        let axes = sweep.axes();
        let frameworks_vary = axes.framework_varies();
        ExportV2 {
            schema_version: SCHEMA_VERSION,
            tool: format!("run-benchmark {}", env!("CARGO_PKG_VERSION")),
            settings: SettingsV2 {
                protocol: s.protocol.clone(),
                device: s.device,
                dtype: s.dtype,
                threads: effective(s.threads),
                threads_default: s.threads.is_none(),
                dtypes: axes.dtypes,
                thread_counts: axes.threads.into_iter().filter_map(effective).collect(),
                optimizer: s.optimizer,
                only_pretrain_model: s.only_pretrain_model,
                torchscript: s.framework.torchscript(),
                framework: (!s.framework.is_torch()).then_some(s.framework),
                seed: s.seed,
                profile: s.profile,
                profile_trace: s.profile_trace.clone(),
                onnxruntime_level: (sweep.rows.iter())
                    .find_map(|(cell, _)| cell.settings.onnxruntime_level.clone()),
                routing: s.routing,
            },
            environment: sweep.environment.clone(),
            calibration: sweep.calibration_for(&sweep.settings).cloned(),
            calibrations: (sweep.calibrations.iter())
                .map(|(key, result)| CalibrationV2 {
                    device: key.device,
                    dtype: key.dtype,
                    threads: effective(key.threads),
                    result: result.clone(),
                })
                .collect(),
            sections: sweep
                .sections
                .iter()
                .map(|&(mode, metric)| SectionV2 { mode, metric })
                .collect(),
            rows: (sweep.rows.iter())
                .map(|row| {
                    let framework = row.0.settings.framework;
                    let framework = (frameworks_vary || !framework.is_torch()).then_some(framework);
                    RowV2::of(row, effective(row.0.settings.threads), framework)
                })
                .collect(),
            tokenization: (sweep.tokenization.iter())
                .map(TokenizationRowV2::of)
                .collect(),
            shard: sweep.shard.as_ref().map(ShardV2::of),
            unread_config_keys: sweep.unread_config_keys.iter().cloned().collect(),
        }
    }

    fn into_sweep(self, path: &Path) -> Result<Sweep> {
        let s = self.settings;
        let settings = Settings {
            protocol: s.protocol,
            device: s.device,
            dtype: s.dtype,
            threads: if s.threads_default { None } else { s.threads },
            optimizer: s.optimizer,
            only_pretrain_model: s.only_pretrain_model,
            framework: s.framework.unwrap_or(match s.torchscript {
                true => Framework::Torchscript,
                false => Framework::Pytorch,
            }),
            seed: s.seed,
            profile: s.profile,
            profile_trace: s.profile_trace,
            onnxruntime_level: None,
            routing: s.routing,
        };
        // A row's settings are the sweep's with its own framework, dtype and threads.
        let threads_default = s.threads_default;
        let own =
            |framework: Option<Framework>, dtype: Option<Dtype>, threads: Option<usize>| Settings {
                framework: framework.unwrap_or(settings.framework),
                onnxruntime_level: (s.onnxruntime_level.clone())
                    .filter(|_| framework == Some(Framework::Onnxruntime)),
                dtype: dtype.unwrap_or(settings.dtype),
                threads: match threads_default {
                    true => None,
                    false => threads.or(settings.threads),
                },
                ..settings.clone()
            };
        let calibrations = match (self.calibrations.is_empty(), self.calibration) {
            (true, Some(c)) => vec![(Calibration::of(&settings), c)],
            _ => (self.calibrations.into_iter())
                .map(|c| {
                    let key = Calibration::of(&own(None, Some(c.dtype), c.threads));
                    let key = Calibration {
                        device: c.device,
                        ..key
                    };
                    (key, c.result)
                })
                .collect(),
        };
        let rows = self
            .rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let settings = own(row.cell.framework, row.cell.dtype, row.cell.threads);
                row.into_row(&settings)
                    .with_context(|| format!("{}: rows[{i}]", path.display()))
            })
            .collect::<Result<Vec<Row>>>()?;
        let tokenization = (self.tokenization.into_iter().enumerate())
            .map(|(i, row)| {
                row.into_row(&settings)
                    .with_context(|| format!("{}: tokenization[{i}]", path.display()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Sweep {
            settings,
            environment: self.environment,
            calibrations,
            sections: self.sections.iter().map(|s| (s.mode, s.metric)).collect(),
            rows,
            tokenization,
            shard: self.shard.map(ShardV2::into_record),
            unread_config_keys: self.unread_config_keys.into_iter().collect(),
            // The count a default-threads sweep recorded: a rewrite says it again.
            default_threads: s.threads.filter(|_| threads_default),
        })
    }
}

impl RowV2 {
    /// The row; `threads` are the ones its cell ran with (libtorch's default resolved),
    /// `framework` its framework where the row says it.
    fn of((cell, result): &Row, threads: Option<usize>, framework: Option<Framework>) -> RowV2 {
        let (status, speed, memory, reason) = match result {
            CellResult::Speed(s) => (Status::Ok, Some(s.clone()), None, None),
            CellResult::Memory(m) => (Status::Ok, None, Some(m.clone()), None),
            CellResult::NotAvailable { reason } => {
                (Status::NotAvailable, None, None, Some(reason.clone()))
            }
        };
        RowV2 {
            cell: CellV2 {
                model: cell.model.clone(),
                config: cell.config.clone(),
                batch_size: cell.batch_size,
                sequence_length: cell.sequence_length,
                mode: cell.mode,
                metric: cell.metric,
                dtype: Some(cell.settings.dtype),
                threads,
                framework,
                input: cell.input,
                inputs: cell.inputs.clone(),
                new_tokens: cell.new_tokens,
            },
            status,
            speed,
            memory,
            reason,
        }
    }

    fn into_row(self, settings: &Settings) -> Result<Row> {
        let c = self.cell;
        let result = match (self.status, c.metric, self.speed, self.memory) {
            (Status::Ok, Metric::Speed, Some(speed), _) => CellResult::Speed(speed),
            (Status::Ok, Metric::Memory, _, Some(memory)) => CellResult::Memory(memory),
            (Status::Ok, metric, ..) => {
                anyhow::bail!("status \"ok\" without its {} figures", metric.name())
            }
            (Status::NotAvailable, ..) => CellResult::na(self.reason.unwrap_or_default()),
        };
        let cell = Cell {
            model: c.model,
            config: c.config,
            batch_size: c.batch_size,
            sequence_length: c.sequence_length,
            mode: c.mode,
            metric: c.metric,
            settings: settings.clone(),
            input: c.input,
            inputs: c.inputs,
            new_tokens: c.new_tokens,
        };
        Ok((cell, result))
    }
}

/// The export's text.
pub fn render(sweep: &Sweep) -> Result<String> {
    Ok(serde_json::to_string_pretty(&ExportV2::of(sweep))? + "\n")
}

/// Writes the sweep to `path`, replacing the file atomically.
pub fn write(path: &Path, sweep: &Sweep) -> Result<()> {
    write_file(path, render(sweep)?.as_bytes(), "JSON")
}

/// The JSON Schema of the export, as docs/export-schema.json holds it.
pub fn schema() -> String {
    let schema = schemars::schema_for!(ExportV2);
    serde_json::to_string_pretty(&schema).expect("a schema serialises") + "\n"
}

/// Reads an export of schema 2 or 1.
pub fn read(path: &Path) -> Result<Export> {
    let text = super::read_input(path, "")?;
    from_text(&text, path)
}

/// Reads an export's text; `path` names where it came from in errors (a file, or a run of the
/// results database).
pub fn from_text(text: &str, path: &Path) -> Result<Export> {
    let text = text.to_string();
    let not_export = || format!("{} is not a run-benchmark JSON export", path.display());
    let value: Value = serde_json::from_str(&text).with_context(not_export)?;
    let version = value
        .get("schema_version")
        .and_then(Value::as_u64)
        .with_context(not_export)?;
    match version {
        2 => {
            let export: ExportV2 = parse(&text).with_context(not_export)?;
            let tool = export.tool.clone();
            Ok(Export {
                schema_version: 2,
                tool,
                sweep: export.into_sweep(path)?,
            })
        }
        1 => {
            let export: ExportV1 = parse(&text).with_context(not_export)?;
            Ok(Export {
                schema_version: 1,
                tool: export.tool.clone(),
                sweep: export.into_sweep(&value),
            })
        }
        other => anyhow::bail!(
            "{}: schema version {other} is not supported (this build reads 1 and {SCHEMA_VERSION})",
            path.display()
        ),
    }
}

/// Parses from the text, not a `Value`, so the environment keeps the file's order; errors
/// name the field (`rows[3].speed.seconds: invalid type`).
fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    Ok(serde_path_to_error::deserialize(&mut de)?)
}

/// Key-value pairs as a JSON object, in their order (read back in the file's order).
mod ordered_map {
    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(pairs.len()))?;
        for (k, v) in pairs {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Vec<(String, String)>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(pairs)
            }
        }
        d.deserialize_map(Pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA_1: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/export-schema1.json"
    );

    fn rows_json(sweep: &Sweep) -> Value {
        serde_json::to_value(&sweep.rows).unwrap()
    }

    #[test]
    fn schema_1_files_are_still_read() {
        let export = read(Path::new(SCHEMA_1)).unwrap();
        assert_eq!(export.schema_version, 1);
        let sweep = export.sweep;
        assert_eq!(sweep.rows.len(), 2);
        assert_eq!(sweep.settings.threads, Some(1));
        assert_eq!(sweep.environment[0].0, "run_benchmark_version");
        assert!(matches!(&sweep.rows[0].1, CellResult::Speed(s) if s.samples.len() == 20));
    }

    #[test]
    fn schema_2_round_trips_with_objects_for_jq() {
        let mut sweep = read(Path::new(SCHEMA_1)).unwrap().sweep;
        // libtorch's default threads: null in the settings, 2 in the environment.
        sweep.settings.threads = None;
        for (cell, _) in &mut sweep.rows {
            cell.settings.threads = None;
        }
        for (k, v) in &mut sweep.environment {
            if k == "threads" {
                *v = "2".into();
            }
        }
        sweep.default_threads = Some(2);
        let mut na = sweep.rows[0].clone();
        na.0.sequence_length = 4096;
        na.1 = CellResult::na("sequence length 4096 exceeds max_position_embeddings 64");
        sweep.rows.push(na);

        let text = render(&sweep).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["schema_version"], 2);
        assert_eq!(value["environment"]["threads"], "2");
        assert_eq!(
            value["settings"]["threads"], 2,
            "the threads the cells ran with"
        );
        assert_eq!(value["settings"]["threads_default"], true);
        assert_eq!(value["sections"][0]["metric"], "speed");
        let rows = value["rows"].as_array().unwrap();
        assert_eq!(rows[0]["status"], "ok");
        assert_eq!(rows[0]["cell"]["model"], "tiny");
        assert!(rows[0]["speed"]["seconds"].as_f64().unwrap() > 0.0);
        assert_eq!(rows[2]["status"], "not_available");
        assert!(rows[2]["reason"].as_str().unwrap().contains("4096"));
        assert!(rows[2].get("speed").is_none());
        // The environment keeps its order in the file.
        let keys: Vec<&String> = value["environment"].as_object().unwrap().keys().collect();
        assert!(!keys.is_empty());
        assert!(
            text.find("run_benchmark_version").unwrap() < text.find("\"threads\": \"2\"").unwrap()
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.json");
        write(&path, &sweep).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.schema_version, 2);
        assert_eq!(back.sweep.settings, sweep.settings);
        assert_eq!(back.sweep.environment, sweep.environment);
        assert_eq!(back.sweep.sections, sweep.sections);
        assert_eq!(rows_json(&back.sweep), rows_json(&sweep));
    }

    #[test]
    fn schema_2_keeps_generation_text_inputs_and_tokenization() {
        let mut sweep = read(Path::new(SCHEMA_1)).unwrap().sweep;
        let text = crate::cell::TextInputs {
            tokenizer: "tok.json".into(),
            text: "corpus.txt".into(),
            tokenizer_digest: "1".into(),
            text_digest: "2".into(),
            passages: 3,
            padding_tokens: 12,
            truncated_rows: 1,
            cycled: true,
            pad_token: "[PAD]".into(),
        };
        let mut generation = sweep.rows[0].clone();
        generation.0.mode = Mode::Generation;
        generation.0.new_tokens = Some(4);
        generation.0.inputs = Inputs::Text(text);
        sweep.rows.push(generation);
        let speed = match &sweep.rows[0].1 {
            CellResult::Speed(s) => s.clone(),
            other => panic!("{other:?}"),
        };
        let cell = |batch_size| TokenizationCell {
            model: "tiny".into(),
            tokenizer: "tok.json".into(),
            text: "corpus.txt".into(),
            passages: 3,
            batch_size,
            parallel: batch_size.is_some(),
            settings: sweep.settings.clone(),
        };
        sweep.tokenization = vec![
            (
                cell(None),
                TokenizationResult::Speed {
                    tokens: 40,
                    threads: 1,
                    speed: Box::new(speed),
                },
            ),
            (
                cell(Some(2)),
                TokenizationResult::NotAvailable {
                    reason: "boom".into(),
                },
            ),
        ];

        let value: Value = serde_json::from_str(&render(&sweep).unwrap()).unwrap();
        let row = &value["rows"][2];
        assert_eq!(row["cell"]["new_tokens"], 4);
        assert_eq!(row["cell"]["inputs"]["kind"], "text");
        let tokenization = value["tokenization"].as_array().unwrap();
        assert_eq!(tokenization[0]["status"], "ok");
        assert_eq!(tokenization[0]["cell"]["batch_size"], Value::Null);
        assert_eq!(tokenization[0]["tokens"], 40);
        assert!(tokenization[0]["speed"]["seconds"].as_f64().unwrap() > 0.0);
        assert_eq!(tokenization[1]["status"], "not_available");
        assert_eq!(tokenization[1]["reason"], "boom");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.json");
        write(&path, &sweep).unwrap();
        let back = read(&path).unwrap().sweep;
        assert_eq!(rows_json(&back), rows_json(&sweep));
        assert_eq!(back.tokenization, sweep.tokenization);
    }

    #[test]
    fn rows_say_their_own_dtype_and_threads_and_older_files_take_the_sweeps() {
        let mut sweep = read(Path::new(SCHEMA_1)).unwrap().sweep;
        let calibration = CalibrationResult {
            size: 1024,
            flops_per_second: 1e11,
            bandwidth: Some(crate::cell::Bandwidth {
                buffer_bytes: 1 << 30,
                read_bytes_per_second: 5e10,
                copy_bytes_per_second: 3e10,
            }),
        };
        let mut other = sweep.rows[0].clone();
        other.0.settings.threads = Some(2);
        other.0.settings.dtype = Dtype::Bf16;
        sweep.rows.push(other.clone());
        sweep.calibrations = vec![
            (Calibration::of(&sweep.settings), calibration.clone()),
            (Calibration::of(&other.0.settings), calibration.clone()),
        ];
        let value: Value = serde_json::from_str(&render(&sweep).unwrap()).unwrap();
        assert_eq!(value["rows"][2]["cell"]["dtype"], "bf16");
        assert_eq!(value["rows"][2]["cell"]["threads"], 2);
        assert_eq!(value["rows"][0]["cell"]["threads"], 1);
        assert_eq!(
            value["settings"]["thread_counts"],
            serde_json::json!([1, 2])
        );
        assert_eq!(value["calibrations"][1]["dtype"], "bf16");
        assert_eq!(value["calibrations"][1]["threads"], 2);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.json");
        write(&path, &sweep).unwrap();
        let back = read(&path).unwrap().sweep;
        assert_eq!(back.rows[2].0.settings, other.0.settings);
        assert_eq!(back.calibrations, sweep.calibrations);
        assert_eq!(rows_json(&back), rows_json(&sweep));

        // An older schema-2 file: no per-row settings, one calibration.
        let mut old = value.clone();
        old.as_object_mut().unwrap().remove("calibrations");
        old["rows"] = Value::Array(old["rows"].as_array().unwrap()[..2].to_vec());
        for row in old["rows"].as_array_mut().unwrap() {
            let cell = row["cell"].as_object_mut().unwrap();
            cell.remove("dtype");
            cell.remove("threads");
        }
        std::fs::write(&path, old.to_string()).unwrap();
        let back = read(&path).unwrap().sweep;
        assert!(back.rows.iter().all(|(c, _)| c.settings == back.settings));
        assert_eq!(back.calibration_for(&back.settings), Some(&calibration));
    }

    #[test]
    fn unreadable_exports_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, r#"{"schema_version": 3}"#).unwrap();
        let e = format!("{:#}", read(&path).unwrap_err());
        assert!(e.contains("schema version 3 is not supported"), "{e}");
        std::fs::write(&path, r#"{"schema_version": 2, "tool": "x"}"#).unwrap();
        let e = format!("{:#}", read(&path).unwrap_err());
        assert!(
            e.contains("x.json is not a run-benchmark JSON export"),
            "{e}"
        );
        assert!(e.contains("settings"), "names the missing field: {e}");
    }
}

//! `--shard K/N`: the K-th of N disjoint parts of a plan, for sweeps spread over a Slurm job
//! array or a Kubernetes Indexed Job. Every shard computes the same assignment from the same
//! plan, with no coordination: cells are placed by estimated cost, longest first, each on the
//! least-loaded shard (LPT scheduling), ties broken by plan order and shard number.
//!
//! Cells are placed one by one, not a model's cells together: every cell builds its own model
//! in its own child process, so keeping a model on one shard would save no build.

use crate::cell::{Cell, Dtype, Inputs, Metric, Mode, Settings};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::str::FromStr;

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

/// What `--shard` says: a fixed part, or one read from the scheduler's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSpec {
    Fixed(Shard),
    Auto,
}

impl FromStr for ShardSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            return Ok(ShardSpec::Auto);
        }
        let bad = || format!("\"{s}\" is not K/N (1 <= K <= N, e.g. 1/4) or auto");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(ShardSpec::Fixed(Shard { index, count }))
    }
}

/// The shard of this task: a Slurm job array (`SLURM_ARRAY_TASK_ID` counted from
/// `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`) or a Kubernetes Indexed Job
/// (`JOB_COMPLETION_INDEX`, 0-based, of `count`, which the Job's spec holds and its pods do not).
pub fn from_environment(
    var: impl Fn(&str) -> Option<String>,
    count: Option<usize>,
) -> Result<Shard> {
    let number = |name: &str| -> Result<Option<usize>> {
        var(name)
            .map(|v| {
                v.trim()
                    .parse::<usize>()
                    .with_context(|| format!("--shard auto: {name}={v:?} is not a whole number"))
            })
            .transpose()
    };
    let shard = if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        if number("SLURM_ARRAY_TASK_STEP")?.is_some_and(|step| step != 1) {
            bail!("--shard auto: the Slurm array has a step other than 1 (SLURM_ARRAY_TASK_STEP); use --array=A-B or give --shard K/N");
        }
        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let total = number("SLURM_ARRAY_TASK_COUNT")?.context(
            "--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not",
        )?;
        Shard {
            index: id
                .checked_sub(min)
                .context("--shard auto: SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN")?
                + 1,
            count: total,
        }
    } else if let Some(index) = number("JOB_COMPLETION_INDEX")? {
        let total = count.context(
            "--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): give the Job's \
             completions as --shard-count N (or shard_count in the sweep file)",
        )?;
        Shard {
            index: index + 1,
            count: total,
        }
    } else {
        bail!(
            "--shard auto: neither a Slurm job array (SLURM_ARRAY_TASK_ID) nor a Kubernetes \
             Indexed Job (JOB_COMPLETION_INDEX) is in the environment; give --shard K/N"
        );
    };
    if shard.count == 0 || shard.index > shard.count {
        bail!(
            "--shard auto: task {} of {} is not a part of the array",
            shard.index,
            shard.count
        );
    }
    Ok(shard)
}

/// The 0-based shard of every cell, from the cells' estimated costs. Shards beyond the number
/// of cells would stay empty, so no more than that many are allocated, whatever `count` is.
pub fn assign(costs: &[f64], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    // Longest first; equal costs keep plan order, so every machine sorts alike.
    order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]).then(a.cmp(&b)));
    let mut load = vec![0.0f64; count.min(costs.len()).max(1)];
    let mut shard_of = vec![0; costs.len()];
    for cell in order {
        let lightest = (0..load.len())
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .unwrap_or(0);
        load[lightest] += costs[cell];
        shard_of[cell] = lightest;
    }
    shard_of
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
    /// 0-based shard the cell belongs to.
    pub shard: usize,
}

impl ShardRecord {
    /// The record of `cells` (the whole plan) split as `shard_of` says.
    pub fn new(cells: &[Cell], shard_of: &[usize], shard: Shard) -> ShardRecord {
        let mut models: Vec<(String, Value)> = Vec::new();
        let mut plan = Vec::new();
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
            && (p.threads.is_none() || p.threads == cell.settings.threads)
    }

    /// The planned cell as the whole plan's run would have had it (`settings` with the cell's
    /// own dtype and threads).
    pub fn cell(&self, p: &PlannedCell, settings: &Settings) -> Cell {
        let (name, config) = &self.models[p.model];
        let settings = Settings {
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
            input: crate::models::input_kind(config),
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

    fn var<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn shard_flag_values() {
        assert_eq!(
            "2/4".parse(),
            Ok(ShardSpec::Fixed(Shard { index: 2, count: 4 }))
        );
        assert_eq!("auto".parse(), Ok(ShardSpec::Auto));
        for bad in ["0/4", "5/4", "1/0", "1", "a/b", "1/4/2", ""] {
            let err = bad.parse::<ShardSpec>().unwrap_err();
            assert!(err.contains("is not K/N"), "{bad}: {err}");
        }
    }

    #[test]
    fn slurm_and_kubernetes_indices() {
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(
            from_environment(var(&slurm), None).unwrap(),
            Shard { index: 3, count: 4 }
        );
        let k8s = [("JOB_COMPLETION_INDEX", "0")];
        assert_eq!(
            from_environment(var(&k8s), Some(3)).unwrap(),
            Shard { index: 1, count: 3 }
        );
        let err = from_environment(var(&k8s), None).unwrap_err().to_string();
        assert!(err.contains("--shard-count"), "{err}");
        let err = from_environment(var(&[]), None).unwrap_err().to_string();
        assert!(err.contains("neither a Slurm job array"), "{err}");
        let stepped = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert!(from_environment(var(&stepped), None).is_err());
        let outside = [("JOB_COMPLETION_INDEX", "3")];
        assert!(from_environment(var(&outside), Some(3)).is_err());
    }

    #[test]
    fn assignment_is_deterministic_and_covers_every_cell_once() {
        let costs = [3.0, 1.0, 2.0, 2.0, 5.0, 1.0];
        let a = assign(&costs, 3);
        assert_eq!(a, assign(&costs, 3));
        assert_eq!(a.len(), costs.len());
        assert!(a.iter().all(|&s| s < 3));
        // Longest first onto the lightest shard: 5 -> 0, 3 -> 1, 2 -> 2, 2 -> 2 (load 2),
        // 1 -> 1 (load 3), 1 -> 1 (loads 5, 4, 4: the lowest number wins the tie).
        assert_eq!(a, vec![1, 1, 2, 2, 0, 1]);
    }

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
            torchscript: false,
            seed: 0,
            profile: false,
            profile_trace: None,
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
        let rebuilt = record.cell(planned, &cell.settings);
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
            both.cell(&both.plan[1], &cell.settings).settings,
            bf16.settings
        );
        // And the record survives its JSON.
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<ShardRecord>(&json).unwrap(), record);
    }
}

//! Flags -> the plan: resolved models, settings, the cells in the original's order, and the
//! exports asked for. Everything that can be wrong with the input fails here, before any cell.

use crate::cell::{Cell, DeviceChoice, Dtype, Machine, Metric, Mode, Settings};
use crate::cli::{ProtocolChoice, RunArgs};
use crate::estimate::{self, Estimate};
use crate::hub::{self, ResolvedModel};
use crate::measure::timing::Protocol;
use crate::models::{self, inference_task, Task};
use crate::report::export::{CsvFiles, Outputs};
use crate::shard::{self, Shard, ShardRecord, ShardSpec};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// Calls per repetition in the original's protocol (`timeit.repeat(number=10)`).
const CALLS_PER_REPETITION: usize = 10;

/// What a sweep will do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub models: Vec<ResolvedModel>,
    pub settings: Settings,
    pub scope: Scope,
    /// Every cell, in the order they run and are reported.
    pub cells: Vec<Cell>,
    /// Each cell's expected cost, in the same order.
    pub estimates: Vec<Estimate>,
    pub outputs: Outputs,
    /// With `--shard`: this part and the whole plan; `cells` are then this part's only.
    pub shard: Option<ShardRecord>,
}

/// The plan of the parsed command line (a sweep file already merged into it).
pub fn from_args(args: &RunArgs, machine: &Machine) -> Result<Plan> {
    args.check()?;
    if args.models.is_empty() {
        bail!("no models: give --models, or `models` in the sweep file");
    }
    let models = args
        .models
        .iter()
        .map(hub::resolve)
        .collect::<Result<Vec<_>>>()?;
    let scope = Scope {
        inference: !args.no_inference,
        training: args.training,
        speed: !args.no_speed,
        memory: !args.no_memory,
    };
    if scope.sections().is_empty() {
        bail!("nothing to measure: --no-inference without --training, or both --no-speed and --no-memory");
    }
    let variants = variants(&settings(args, machine)?, args);
    let settings = variants[0].clone();
    let mut cells = cells(
        &models,
        &args.batch_sizes,
        &args.sequence_lengths,
        scope,
        &variants,
    );
    let shard = match args.shard {
        Some(spec) => {
            let part = match spec {
                ShardSpec::Fixed(part) => part,
                ShardSpec::Auto => shard::from_environment(
                    |name| std::env::var(name).ok(),
                    args.shard_count.map(|n| n as usize),
                )?,
            };
            let (mine, record) = split(cells, part);
            cells = mine;
            Some(record)
        }
        None => None,
    };
    Ok(Plan {
        estimates: cells.iter().map(estimate::cell).collect(),
        models,
        settings,
        scope,
        cells,
        outputs: outputs(args),
        shard,
    })
}

/// This shard's cells of the whole plan, in plan order, and the record `merge` needs.
fn split(cells: Vec<Cell>, part: Shard) -> (Vec<Cell>, ShardRecord) {
    let costs: Vec<f64> = cells.iter().map(estimated_seconds).collect();
    let shard_of = shard::assign(&costs, part.count);
    let record = ShardRecord::new(&cells, &shard_of, part);
    let mine = (cells.into_iter().zip(shard_of))
        .filter(|(_, s)| *s + 1 == part.index)
        .map(|(cell, _)| cell)
        .collect();
    (mine, record)
}

/// Nominal rates of the cost model: only the ratios between cells matter for balancing.
const FLOP_PER_SECOND: f64 = 1e11;
/// Random weights are written at about 1 GB/s per core: 4 bytes a parameter.
const PARAMETERS_PER_SECOND: f64 = 2.5e8;
/// Starting a child, loading libtorch and reporting back.
const CELL_OVERHEAD_S: f64 = 0.3;

/// Estimated seconds to measure `cell`: start-up, building the model, and its calls (the
/// protocol's timed and warm-up calls for speed, one call for memory).
pub fn estimated_seconds(cell: &Cell) -> f64 {
    let Ok(config) = models::from_json(&cell.config) else {
        return CELL_OVERHEAD_S;
    };
    let task = match cell.mode {
        Mode::Inference => inference_task(&cell.config, cell.settings.only_pretrain_model),
        Mode::Training => Task::LanguageModel,
    };
    let forward = config.forward_flops(cell.batch_size, cell.sequence_length, task);
    // A forward pass costs 2 FLOPs per parameter and token, so one token's FLOPs / 2 is the
    // parameter count (attention's share is small at one token).
    let parameters = config.forward_flops(1, 1, task) / 2.0;
    let per_call = match cell.mode {
        Mode::Inference => forward,
        Mode::Training => 3.0 * forward,
    } / FLOP_PER_SECOND;
    let calls_time = match (cell.metric, &cell.settings.protocol) {
        (Metric::Memory, _) => per_call,
        (
            Metric::Speed,
            Protocol::Adaptive {
                warmup,
                min_runs,
                max_runs,
                min_time_s,
                ..
            },
        ) => {
            let timed =
                (*min_runs as f64 * per_call).max(min_time_s.min(*max_runs as f64 * per_call));
            timed + *warmup as f64 * per_call
        }
        (Metric::Speed, Protocol::Original { repeat, number }) => {
            (*repeat * *number) as f64 * per_call
        }
    };
    let total = CELL_OVERHEAD_S + parameters / PARAMETERS_PER_SECOND + calls_time;
    if total.is_finite() {
        total
    } else {
        CELL_OVERHEAD_S
    }
}

pub fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The exports the flags ask for; CSV files without a name get the original's
/// `<section>_<unix time>.csv`.
fn outputs(args: &RunArgs) -> Outputs {
    let csv = args.save_to_csv.then(|| {
        let stamped = CsvFiles::stamped(unix_time());
        let pick = |given: &Option<PathBuf>, default: PathBuf| given.clone().unwrap_or(default);
        CsvFiles {
            inference_time: pick(&args.inference_time_csv_file, stamped.inference_time),
            inference_memory: pick(&args.inference_memory_csv_file, stamped.inference_memory),
            train_time: pick(&args.train_time_csv_file, stamped.train_time),
            train_memory: pick(&args.train_memory_csv_file, stamped.train_memory),
            env_info: pick(&args.env_info_csv_file, stamped.env_info),
        }
    });
    Outputs {
        csv,
        json: args.export_json.clone(),
        markdown: args.export_markdown.clone(),
    }
}

/// The sweep's settings from the flags; an unavailable device is an error here, before any cell.
fn settings(args: &RunArgs, machine: &Machine) -> Result<Settings> {
    let device = match args.device {
        Some(DeviceChoice::Cuda(i)) => {
            if i >= machine.cuda_devices {
                bail!(
                    "--device cuda:{i}: this machine has {} CUDA device(s)",
                    machine.cuda_devices
                );
            }
            DeviceChoice::Cuda(i)
        }
        Some(DeviceChoice::Cpu) => DeviceChoice::Cpu,
        None if !args.no_cuda && machine.cuda_devices > 0 => DeviceChoice::Cuda(0),
        None => DeviceChoice::Cpu,
    };
    let protocol = match (args.protocol, args.runs) {
        (ProtocolChoice::Original, _) => Protocol::Original {
            repeat: args.repeat as usize,
            number: CALLS_PER_REPETITION,
        },
        (ProtocolChoice::Adaptive, Some(runs)) => Protocol::Adaptive {
            warmup: args.warmup as usize,
            min_runs: runs as usize,
            max_runs: runs as usize,
            min_time_s: 0.0,
            precision: None,
            max_time_s: None,
        },
        (ProtocolChoice::Adaptive, None) => {
            if args.max_runs < args.min_runs {
                bail!(
                    "--max-runs {} is below --min-runs {}",
                    args.max_runs,
                    args.min_runs
                );
            }
            Protocol::Adaptive {
                warmup: args.warmup as usize,
                min_runs: args.min_runs as usize,
                max_runs: args.max_runs as usize,
                min_time_s: args.min_time,
                precision: args.precision.0,
                max_time_s: args.precision.0.map(|_| args.max_time),
            }
        }
    };
    if let Some(dir) = &args.profile_trace {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "--profile-trace {}: cannot create the folder",
                dir.display()
            )
        })?;
    }
    Ok(Settings {
        protocol,
        device,
        dtype: match (args.fp16, args.bf16) {
            (true, _) => Dtype::F16,
            (_, true) => Dtype::Bf16,
            _ => Dtype::F32,
        },
        threads: args.threads.first().map(|&t| t as usize),
        optimizer: args.optimizer.into(),
        only_pretrain_model: args.only_pretrain_model,
        torchscript: args.torchscript,
        seed: args.seed,
        profile: args.profile,
        profile_trace: args.profile_trace.clone(),
    })
}

/// The settings of every (dtype, threads) the flags ask for, dtypes outermost, in the order
/// given (repeats dropped); the first is the sweep's own.
fn variants(base: &Settings, args: &RunArgs) -> Vec<Settings> {
    let dtypes: Vec<Dtype> = match args.dtypes.is_empty() {
        true => vec![base.dtype],
        false => args.dtypes.iter().map(|&d| d.into()).collect(),
    };
    let threads: Vec<Option<usize>> = match args.threads.is_empty() {
        true => vec![None],
        false => args.threads.iter().map(|&t| Some(t as usize)).collect(),
    };
    let mut variants: Vec<Settings> = Vec::new();
    for &dtype in &dtypes {
        for &threads in &threads {
            let variant = Settings {
                dtype,
                threads,
                ..base.clone()
            };
            if !variants.contains(&variant) {
                variants.push(variant);
            }
        }
    }
    variants
}

/// Which parts of the benchmark run.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub inference: bool,
    pub training: bool,
    pub speed: bool,
    pub memory: bool,
}

impl Scope {
    /// The (mode, metric) sections that run, in the order they are printed.
    pub fn sections(&self) -> Vec<(Mode, Metric)> {
        let mut sections = Vec::new();
        for (mode, on) in [
            (Mode::Inference, self.inference),
            (Mode::Training, self.training),
        ] {
            for (metric, wanted) in [(Metric::Speed, self.speed), (Metric::Memory, self.memory)] {
                if on && wanted {
                    sections.push((mode, metric));
                }
            }
        }
        sections
    }
}

/// For each model, batch size, sequence length and settings variant (dtype, threads):
/// inference memory, inference speed, training memory, training speed (the original's
/// `Benchmark.run` order, the variants inside it as llama-bench crosses its axes).
fn cells(
    models: &[ResolvedModel],
    batch_sizes: &[i64],
    sequence_lengths: &[i64],
    scope: Scope,
    variants: &[Settings],
) -> Vec<Cell> {
    let mut cells = Vec::new();
    for model in models {
        // What the sizes mean: sequence lengths, or image sides for vision models.
        let input = crate::models::input_kind(&model.config);
        for &batch_size in batch_sizes {
            for (&sequence_length, settings) in
                (sequence_lengths.iter()).flat_map(|s| variants.iter().map(move |v| (s, v)))
            {
                for (mode, on) in [
                    (Mode::Inference, scope.inference),
                    (Mode::Training, scope.training),
                ] {
                    for (metric, wanted) in
                        [(Metric::Memory, scope.memory), (Metric::Speed, scope.speed)]
                    {
                        if on && wanted {
                            cells.push(Cell {
                                model: model.name.clone(),
                                config: model.config.clone(),
                                batch_size,
                                sequence_length,
                                mode,
                                metric,
                                settings: settings.clone(),
                                input,
                            });
                        }
                    }
                }
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{DeviceChoice, Optimizer};
    use serde_json::json;

    fn model(name: &str) -> ResolvedModel {
        ResolvedModel {
            name: name.into(),
            origin: "test".into(),
            config: json!({"model_type": "bert"}),
        }
    }

    fn settings() -> Settings {
        Settings {
            protocol: crate::measure::timing::Protocol::Original {
                repeat: 3,
                number: 10,
            },
            device: DeviceChoice::Cpu,
            dtype: crate::cell::Dtype::F32,
            threads: None,
            optimizer: crate::cell::Optimizer::None,
            only_pretrain_model: false,
            torchscript: false,
            profile: false,
            profile_trace: None,
            seed: 0,
        }
    }

    fn protocol_settings() -> Settings {
        Settings {
            protocol: Protocol::Adaptive {
                warmup: 2,
                min_runs: 10,
                max_runs: 1000,
                min_time_s: 1.0,
                precision: None,
                max_time_s: None,
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
        }
    }

    fn embedded(id: &str) -> serde_json::Value {
        serde_json::from_str(crate::hub::embedded(id).unwrap().1).unwrap()
    }

    fn sweep(
        models: &[(&str, serde_json::Value)],
        batches: &[i64],
        seqs: &[i64],
        modes: &[Mode],
    ) -> Vec<Cell> {
        let mut cells = Vec::new();
        for (name, config) in models {
            for &batch_size in batches {
                for &sequence_length in seqs {
                    for &mode in modes {
                        for metric in [Metric::Memory, Metric::Speed] {
                            cells.push(Cell {
                                model: name.to_string(),
                                config: config.clone(),
                                batch_size,
                                sequence_length,
                                mode,
                                metric,
                                settings: protocol_settings(),
                                input: Default::default(),
                            });
                        }
                    }
                }
            }
        }
        cells
    }

    /// Assigns `cells` to `count` equal machines by the cost estimate and checks the longest
    /// shard: within 25% of the mean where the sweep can be split that finely, and never
    /// longer than that or than its single costliest cell (a cell cannot be split).
    fn check_balance(sweep: &str, cells: &[Cell], count: usize, within_25_percent: bool) {
        let costs: Vec<f64> = cells.iter().map(estimated_seconds).collect();
        let shard_of = shard::assign(&costs, count);
        let mut load = vec![0.0; count];
        for (cell, shard) in shard_of.iter().enumerate() {
            load[*shard] += costs[cell];
        }
        let mean = load.iter().sum::<f64>() / count as f64;
        let longest = load.iter().cloned().fold(0.0, f64::max);
        let largest_cell = costs.iter().cloned().fold(0.0, f64::max);
        let what =
            format!("{sweep}: {count} shards: loads {load:.1?}, costliest cell {largest_cell:.1}");
        println!("{what}");
        assert!(longest <= (1.25 * mean).max(largest_cell) + 1e-9, "{what}");
        if within_25_percent {
            assert!(
                longest <= 1.25 * mean,
                "{what}: longest {:.2}x the mean",
                longest / mean
            );
        }
    }

    #[test]
    fn the_seed_sweep_splits_within_25_percent() {
        let base = embedded("google-bert/bert-base-uncased");
        let mut hid384 = base.clone();
        hid384["hidden_size"] = 384.into();
        let mut lay6 = base.clone();
        lay6["num_hidden_layers"] = 6.into();
        let models = [
            ("bert-base", base),
            ("bert-384-hid", hid384),
            ("bert-6-lay", lay6),
        ];
        let cells = sweep(&models, &[8], &[8, 32, 128, 512], &[Mode::Inference]);
        assert_eq!(cells.len(), 24);
        // bert-base's sequence-512 speed cell is a third of the sweep: 2 and 3 machines
        // balance; with 4 that one cell is the longest shard.
        check_balance("seed (24 cells)", &cells, 2, true);
        check_balance("seed (24 cells)", &cells, 3, true);
        check_balance("seed (24 cells)", &cells, 4, false);
    }

    #[test]
    fn a_500_cell_sweep_splits_within_25_percent() {
        let ids = [
            "google-bert/bert-base-uncased",
            "openai-community/gpt2",
            "HuggingFaceTB/SmolLM2-135M",
            "google-t5/t5-small",
            "distilbert/distilbert-base-uncased",
        ];
        let models: Vec<(&str, serde_json::Value)> =
            ids.iter().map(|id| (*id, embedded(id))).collect();
        let cells = sweep(
            &models,
            &[1, 2, 4, 8, 16],
            &[8, 16, 32, 64, 128],
            &[Mode::Inference, Mode::Training],
        );
        assert_eq!(cells.len(), 500);
        for count in [2, 4, 8, 16] {
            check_balance("500 cells", &cells, count, true);
        }
        check_balance("500 cells", &cells, 32, false);
    }

    #[test]
    fn full_sweep_in_original_order() {
        let scope = Scope {
            inference: true,
            training: true,
            speed: true,
            memory: true,
        };
        let cells = cells(
            &[model("a"), model("b")],
            &[1, 8],
            &[8, 32, 128],
            scope,
            &settings(),
        );
        assert_eq!(cells.len(), 2 * 2 * 3 * 4);
        let first: Vec<_> = cells[..4].iter().map(|c| (c.mode, c.metric)).collect();
        assert_eq!(
            first,
            vec![
                (Mode::Inference, Metric::Memory),
                (Mode::Inference, Metric::Speed),
                (Mode::Training, Metric::Memory),
                (Mode::Training, Metric::Speed)
            ]
        );
        assert_eq!((cells[4].batch_size, cells[4].sequence_length), (1, 32));
        assert_eq!(cells[24].model, "b");
    }

    #[test]
    fn scope_limits_cells_and_sections() {
        let scope = Scope {
            inference: true,
            training: false,
            speed: true,
            memory: false,
        };
        let cells = cells(&[model("a")], &[8], &[8, 32], scope, &settings());
        assert_eq!(cells.len(), 2);
        assert!(cells
            .iter()
            .all(|c| c.metric == Metric::Speed && c.mode == Mode::Inference));
        assert_eq!(scope.sections(), vec![(Mode::Inference, Metric::Speed)]);
    }
}

//! Flags -> the plan: resolved models, settings, the cells in the original's order, and the
//! exports asked for. Everything that can be wrong with the input fails here, before any cell.

use crate::cell::{Cell, DeviceChoice, Dtype, Machine, Metric, Mode, Settings};
use crate::cli::{ProtocolChoice, RunArgs};
use crate::hub::{self, ResolvedModel};
use crate::measure::timing::Protocol;
use crate::report::export::{CsvFiles, Outputs};
use anyhow::{bail, Result};
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
    pub outputs: Outputs,
}

/// The plan of the parsed command line (a sweep file already merged into it).
pub fn from_args(args: &RunArgs, machine: &Machine) -> Result<Plan> {
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
    let settings = settings(args, machine)?;
    let cells = cells(
        &models,
        &args.batch_sizes,
        &args.sequence_lengths,
        scope,
        &settings,
    );
    Ok(Plan {
        models,
        settings,
        scope,
        cells,
        outputs: outputs(args),
    })
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
        let stamp = unix_time();
        let pick = |given: &Option<PathBuf>, stem: &str| {
            given
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{stem}_{stamp}.csv")))
        };
        CsvFiles {
            inference_time: pick(&args.inference_time_csv_file, "inference_time"),
            inference_memory: pick(&args.inference_memory_csv_file, "inference_memory"),
            train_time: pick(&args.train_time_csv_file, "train_time"),
            train_memory: pick(&args.train_memory_csv_file, "train_memory"),
            env_info: pick(&args.env_info_csv_file, "env_info"),
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
            }
        }
    };
    Ok(Settings {
        protocol,
        device,
        dtype: match (args.fp16, args.bf16) {
            (true, _) => Dtype::F16,
            (_, true) => Dtype::Bf16,
            _ => Dtype::F32,
        },
        threads: args.threads.map(|t| t as usize),
        optimizer: args.optimizer.into(),
        only_pretrain_model: args.only_pretrain_model,
        torchscript: args.torchscript,
        seed: args.seed,
    })
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

/// For each model, batch size and sequence length: inference memory, inference speed,
/// training memory, training speed (the original's `Benchmark.run` order).
fn cells(
    models: &[ResolvedModel],
    batch_sizes: &[i64],
    sequence_lengths: &[i64],
    scope: Scope,
    settings: &Settings,
) -> Vec<Cell> {
    let mut cells = Vec::new();
    for model in models {
        for &batch_size in batch_sizes {
            for &sequence_length in sequence_lengths {
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
    use crate::cell::DeviceChoice;
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
            seed: 0,
        }
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

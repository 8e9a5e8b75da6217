//! The default command: resolve models, plan cells, run them, report.

use crate::cell::{Calibration, Cell, CellResult, DeviceChoice, Dtype, Metric, Mode, Settings};
use crate::cli::{ProtocolChoice, RunArgs};
use crate::measure::timing::Protocol;
use crate::plan::{self, Scope};
use crate::report::{self, Sweep};
use crate::runner::Runner;
use crate::{env, hub};
use anyhow::{bail, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Calls per repetition in the original's protocol (`timeit.repeat(number=10)`).
const CALLS_PER_REPETITION: usize = 10;

pub fn run(args: RunArgs) -> Result<()> {
    // Everything that can be wrong with the input is checked before any cell runs.
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
    let settings = settings(&args)?;
    let csv = args.save_to_csv.then(|| CsvFiles::new(&args));
    if let Some(csv) = &csv {
        // Creating the files now turns an unwritable path into an error before the sweep.
        for &(mode, metric) in &scope.sections() {
            report::csv::write_results(csv.path(mode, metric), &[], mode, metric)?;
        }
        report::csv::write_environment(&csv.env_info, &[])?;
    }
    let json_path = args.export_json.as_deref();
    let json_to_stdout = json_path == Some(Path::new("-"));
    let runner = Runner {
        multi_process: !args.no_multi_process,
        timeout: Duration::from_secs_f64(args.timeout),
        verbose: args.verbose,
    };
    let mut sweep = Sweep {
        environment: env::collect(&env::RunFacts {
            settings: &settings,
            use_multiprocessing: runner.multi_process,
        }),
        settings,
        calibration: None,
        rows: Vec::new(),
    };
    if let Some(path) = json_path.filter(|_| !json_to_stdout) {
        report::json::write(path, &sweep)?;
    }

    if scope.speed {
        eprint!(
            "Calibrating: fastest matmul in {:?} on {}",
            sweep.settings.dtype, sweep.settings.device
        );
        let calibration = runner.calibrate(Calibration {
            device: sweep.settings.device,
            dtype: sweep.settings.dtype,
            threads: sweep.settings.threads,
        });
        match &calibration {
            Ok(c) => eprintln!(": {:.1} GFLOP/s", c.flops_per_second / 1e9),
            Err(reason) => eprintln!(": failed ({reason}); MFU will be N/A"),
        }
        sweep.calibration = calibration.ok();
    }

    let cells = plan::cells(
        &models,
        &args.batch_sizes,
        &args.sequence_lengths,
        scope,
        &sweep.settings,
    );
    let total = cells.len();
    for (index, cell) in cells.into_iter().enumerate() {
        eprint!("[{}/{total}] {}", index + 1, describe(&cell));
        let result = runner.run(&cell);
        eprintln!(": {}", summary(&result));
        let (mode, metric) = (cell.mode, cell.metric);
        sweep.rows.push((cell, result));
        // Exports are rewritten after every cell, so an interrupted sweep keeps what finished.
        if let Some(csv) = &csv {
            report::csv::write_results(csv.path(mode, metric), &sweep.rows, mode, metric)?;
        }
        if let Some(path) = json_path.filter(|_| !json_to_stdout) {
            report::json::write(path, &sweep)?;
        }
    }

    if json_to_stdout {
        report::json::write(Path::new("-"), &sweep)?;
    } else {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for (mode, metric) in scope.sections() {
            report::table::print_section(&mut out, &sweep, mode, metric)?;
        }
        if args.env_print {
            report::table::print_environment(&mut out, &sweep.environment)?;
        }
        out.flush()?;
    }
    if let Some(csv) = &csv {
        report::csv::write_environment(&csv.env_info, &sweep.environment)?;
        for (mode, metric) in scope.sections() {
            eprintln!("Saved {}", csv.path(mode, metric).display());
        }
        eprintln!("Saved {}", csv.env_info.display());
    }
    if let Some(path) = json_path.filter(|_| !json_to_stdout) {
        eprintln!("Saved {}", path.display());
    }
    Ok(())
}

/// The sweep's settings from the flags; an unavailable device is an error here, before any cell.
fn settings(args: &RunArgs) -> Result<Settings> {
    let device = match args.device {
        Some(DeviceChoice::Cuda(i)) => {
            let count = tch::Cuda::device_count() as usize;
            if i >= count {
                bail!("--device cuda:{i}: this machine has {count} CUDA device(s)");
            }
            DeviceChoice::Cuda(i)
        }
        Some(DeviceChoice::Cpu) => DeviceChoice::Cpu,
        None if !args.no_cuda && tch::Cuda::is_available() => DeviceChoice::Cuda(0),
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
        optimizer: args.optimizer,
        only_pretrain_model: args.only_pretrain_model,
        torchscript: args.torchscript,
        seed: args.seed,
    })
}

fn describe(cell: &Cell) -> String {
    let mode = match cell.mode {
        Mode::Inference => "inference",
        Mode::Training => "training",
    };
    let metric = match cell.metric {
        Metric::Speed => "speed",
        Metric::Memory => "memory",
    };
    format!(
        "{} batch {} sequence {} {mode} {metric}",
        cell.model, cell.batch_size, cell.sequence_length
    )
}

fn summary(result: &CellResult) -> String {
    match result {
        CellResult::Speed(_) => format!("{} s", report::table_value(result)),
        CellResult::Memory(_) => format!("{} MB", report::table_value(result)),
        CellResult::NotAvailable { reason } => format!("N/A ({reason})"),
    }
}

/// The five CSV paths, with the original's default names sharing one Unix timestamp.
struct CsvFiles {
    inference_time: PathBuf,
    inference_memory: PathBuf,
    train_time: PathBuf,
    train_memory: PathBuf,
    env_info: PathBuf,
}

impl CsvFiles {
    fn new(args: &RunArgs) -> Self {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
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
    }

    fn path(&self, mode: Mode, metric: Metric) -> &PathBuf {
        match (mode, metric) {
            (Mode::Inference, Metric::Speed) => &self.inference_time,
            (Mode::Inference, Metric::Memory) => &self.inference_memory,
            (Mode::Training, Metric::Speed) => &self.train_time,
            (Mode::Training, Metric::Memory) => &self.train_memory,
        }
    }
}

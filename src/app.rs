//! The default command: resolve models, plan cells, run them, report.

use crate::cell::{Cell, CellResult, DeviceChoice, Metric, Mode, Settings};
use crate::cli::RunArgs;
use crate::plan::{self, Scope};
use crate::report::{self, Row};
use crate::runner::Runner;
use crate::{env, hub};
use anyhow::{bail, Result};
use std::io::Write;
use std::path::PathBuf;
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
    let device = if !args.no_cuda && tch::Cuda::is_available() {
        DeviceChoice::Cuda(0)
    } else {
        DeviceChoice::Cpu
    };
    let settings = Settings {
        repeat: args.repeat as usize,
        calls_per_repetition: CALLS_PER_REPETITION,
        device,
        only_pretrain_model: args.only_pretrain_model,
        seed: args.seed,
    };
    let csv = args.save_to_csv.then(|| CsvFiles::new(&args));
    if let Some(csv) = &csv {
        // Creating the files now turns an unwritable path into an error before the sweep.
        for &(mode, metric) in &scope.sections() {
            report::csv::write_results(csv.path(mode, metric), &[], mode, metric)?;
        }
        report::csv::write_environment(&csv.env_info, &[])?;
    }

    let cells = plan::cells(
        &models,
        &args.batch_sizes,
        &args.sequence_lengths,
        scope,
        &settings,
    );
    let runner = Runner {
        multi_process: !args.no_multi_process,
        timeout: Duration::from_secs_f64(args.timeout),
        verbose: args.verbose,
    };
    let mut rows: Vec<Row> = Vec::with_capacity(cells.len());
    let total = cells.len();
    for (index, cell) in cells.into_iter().enumerate() {
        eprint!("[{}/{total}] {}", index + 1, describe(&cell));
        let result = runner.run(&cell);
        eprintln!(": {}", summary(&result));
        let (mode, metric) = (cell.mode, cell.metric);
        rows.push((cell, result));
        if let Some(csv) = &csv {
            report::csv::write_results(csv.path(mode, metric), &rows, mode, metric)?;
        }
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (mode, metric) in scope.sections() {
        report::table::print_section(&mut out, &rows, mode, metric)?;
    }
    let info = (args.env_print || csv.is_some()).then(|| {
        env::collect(&env::RunFacts {
            fp16: false,
            use_multiprocessing: runner.multi_process,
            only_pretrain_model: args.only_pretrain_model,
            use_gpu: device != DeviceChoice::Cpu,
        })
    });
    if let (true, Some(info)) = (args.env_print, &info) {
        report::table::print_environment(&mut out, info)?;
    }
    out.flush()?;
    if let (Some(csv), Some(info)) = (&csv, &info) {
        report::csv::write_environment(&csv.env_info, info)?;
        for (mode, metric) in scope.sections() {
            eprintln!("Saved {}", csv.path(mode, metric).display());
        }
        eprintln!("Saved {}", csv.env_info.display());
    }
    Ok(())
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
        CellResult::Speed { .. } => format!("{} s", report::table_value(result)),
        CellResult::Memory { .. } => format!("{} MB", report::table_value(result)),
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

//! The default command: resolve models, plan cells, run them, report.

use crate::cell::{Calibration, Cell, CellResult, DeviceChoice, Dtype, Metric, Mode, Settings};
use crate::cli::{ProtocolChoice, RunArgs};
use crate::measure::timing::Protocol;
use crate::plan::{self, Scope};
use crate::progress::Progress;
use crate::report::export::{CsvExport, Destination, Exporter, JsonExport, MarkdownExport};
use crate::report::{self, Row, Sweep};
use crate::resume::Previous;
use crate::runner::{Interrupted, Runner};
use crate::{console, env, hub, interrupt};
use anyhow::{bail, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Calls per repetition in the original's protocol (`timeit.repeat(number=10)`).
const CALLS_PER_REPETITION: usize = 10;

/// How a sweep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Finished,
    /// Ctrl-C: the finished cells were written and printed.
    Interrupted,
}

pub fn run(args: RunArgs) -> Result<Outcome> {
    if args.log_print || args.log_filename.is_some() {
        console::open_log(
            &args
                .log_filename
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("log_{}.csv", unix_time()))),
        )?;
    }
    if args.models.is_empty() {
        bail!("no models: give --models, or `models` in the sweep file");
    }
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
    let exporters = exporters(&args, &scope)?;
    let stdout_export = exporters.iter().any(|e| e.to_stdout());
    let previous = args.resume.as_deref().map(Previous::load).transpose()?;
    let runner = Runner {
        multi_process: !args.no_multi_process,
        timeout: Duration::from_secs_f64(args.timeout),
        verbose: args.verbose,
        stop: Some(interrupt::flag()),
    };
    let mut sweep = Sweep {
        environment: env::collect(&env::RunFacts {
            settings: &settings,
            use_multiprocessing: runner.multi_process,
        }),
        settings,
        calibration: None,
        sections: scope.sections(),
        rows: Vec::new(),
    };
    let cells = plan::cells(
        &models,
        &args.batch_sizes,
        &args.sequence_lengths,
        scope,
        &sweep.settings,
    );
    // Each planned cell's result, in plan order: carried over from --resume, or measured now.
    let mut results: Vec<Option<CellResult>> = cells
        .iter()
        .map(|cell| previous.as_ref().and_then(|p| p.result_for(cell)))
        .collect();
    let to_run = results.iter().filter(|r| r.is_none()).count();
    if let Some(previous) = &previous {
        sweep.calibration = previous.calibration_for(&sweep.settings);
    }
    sweep.rows = finished_rows(&cells, &results);
    // Creating the files now turns an unwritable path into an error before the sweep; the
    // carried-over cells are in them from the start (--resume may name the same file).
    write_files(&exporters, &sweep)?;
    interrupt::install()?;
    let progress = Progress::new(to_run, args.quiet);
    if let Some(path) = &args.resume {
        progress.note(&format!(
            "Resuming from {}: {} of {} cells carried over, {to_run} to measure",
            path.display(),
            cells.len() - to_run,
            cells.len()
        ));
    }

    let mut interrupted = false;
    let wants_calibration = cells
        .iter()
        .zip(&results)
        .any(|(c, r)| r.is_none() && c.metric == Metric::Speed);
    if sweep.calibration.is_none() && wants_calibration {
        let what = format!(
            "Calibrating: fastest matmul in {:?} on {}",
            sweep.settings.dtype, sweep.settings.device
        );
        progress.task(&what);
        match runner.calibrate(Calibration {
            device: sweep.settings.device,
            dtype: sweep.settings.dtype,
            threads: sweep.settings.threads,
        }) {
            Ok(Ok(c)) => {
                progress.task_done(&what, &format!("{:.1} GFLOP/s", c.flops_per_second / 1e9));
                sweep.calibration = Some(c);
            }
            Ok(Err(reason)) => {
                progress.task_done(&what, &format!("failed ({reason}); MFU will be N/A"))
            }
            Err(Interrupted) => {
                progress.interrupted();
                interrupted = true;
            }
        }
        // The calibration is part of the JSON export.
        write_files(&exporters, &sweep)?;
    }

    let mut index = 0;
    for position in 0..cells.len() {
        if interrupted || interrupt::requested() {
            interrupted = true;
            break;
        }
        if results[position].is_some() {
            continue;
        }
        let cell = &cells[position];
        index += 1;
        let label = describe(cell);
        progress.start(index, to_run, &label);
        match runner.run(cell) {
            Ok(result) => {
                progress.finish(index, to_run, &label, &summary(&result));
                results[position] = Some(result);
            }
            Err(Interrupted) => {
                progress.interrupted();
                interrupted = true;
                break;
            }
        }
        sweep.rows = finished_rows(&cells, &results);
        // Exports are rewritten after every cell, so an interrupted sweep keeps what finished.
        write_files(&exporters, &sweep)?;
    }
    progress.done();

    if stdout_export {
        for export in exporters.iter().filter(|e| e.to_stdout()) {
            export.write(&sweep)?;
        }
    } else {
        let mut out = console::Stdout;
        for &(mode, metric) in &sweep.sections {
            report::table::print_section(&mut out, &sweep, mode, metric)?;
        }
        if args.env_print {
            report::table::print_environment(&mut out, &sweep.environment)?;
        }
        out.flush()?;
    }
    for export in &exporters {
        for file in export.files() {
            progress.note(&format!("Saved {}", file.display()));
        }
    }
    if interrupted {
        let finished = sweep.rows.len();
        let json = args.export_json.as_deref().filter(|p| *p != Path::new("-"));
        let hint = match json {
            Some(path) => format!("; finish it with --resume {}", path.display()),
            None => "; with --export-json FILE, --resume FILE would finish it".into(),
        };
        console::eprintln(&format!(
            "Interrupted: {finished} of {} cells finished{hint}",
            cells.len()
        ));
        return Ok(Outcome::Interrupted);
    }
    Ok(Outcome::Finished)
}

fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The planned cells that have a result, in plan order.
fn finished_rows(cells: &[Cell], results: &[Option<CellResult>]) -> Vec<Row> {
    cells
        .iter()
        .zip(results)
        .filter_map(|(cell, result)| result.clone().map(|r| (cell.clone(), r)))
        .collect()
}

/// Rewrites every export that goes to a file.
fn write_files(exporters: &[Box<dyn Exporter>], sweep: &Sweep) -> Result<()> {
    for export in exporters.iter().filter(|e| !e.to_stdout()) {
        export.write(sweep)?;
    }
    Ok(())
}

/// The exports the flags ask for; at most one of them may go to stdout.
fn exporters(args: &RunArgs, scope: &Scope) -> Result<Vec<Box<dyn Exporter>>> {
    let mut exporters: Vec<Box<dyn Exporter>> = Vec::new();
    if args.save_to_csv {
        let stamp = unix_time();
        let pick = |given: &Option<PathBuf>, stem: &str| {
            given
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{stem}_{stamp}.csv")))
        };
        exporters.push(Box::new(CsvExport {
            inference_time: pick(&args.inference_time_csv_file, "inference_time"),
            inference_memory: pick(&args.inference_memory_csv_file, "inference_memory"),
            train_time: pick(&args.train_time_csv_file, "train_time"),
            train_memory: pick(&args.train_memory_csv_file, "train_memory"),
            env_info: pick(&args.env_info_csv_file, "env_info"),
            sections: scope.sections(),
        }));
    }
    if let Some(path) = &args.export_json {
        exporters.push(Box::new(JsonExport(Destination::new(path))));
    }
    if let Some(path) = &args.export_markdown {
        exporters.push(Box::new(MarkdownExport(Destination::new(path))));
    }
    if exporters.iter().filter(|e| e.to_stdout()).count() > 1 {
        bail!("only one of --export-json and --export-markdown can go to stdout ('-')");
    }
    Ok(exporters)
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
        CellResult::Speed(_) => report::table_value(result),
        CellResult::Memory(_) => format!("{} MB", report::table_value(result)),
        CellResult::NotAvailable { reason } => format!("N/A ({reason})"),
    }
}

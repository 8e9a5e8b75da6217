//! The default command, as the data flows: parse (done by main) -> plan -> run cells ->
//! report. This module only wires the pieces together.

use crate::cell::{Calibration, Cell, CellResult, Metric, Mode, Row, Sweep};
use crate::cli::RunArgs;
use crate::plan::{self, Plan};
use crate::progress::Progress;
use crate::report::export::{self, Exporter};
use crate::resume::Previous;
use crate::runner::{Interrupted, Runner};
use crate::{child, console, env, interrupt, report};
use anyhow::Result;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How a sweep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Finished,
    /// Ctrl-C: the finished cells were written and printed.
    Interrupted,
}

pub fn run(args: RunArgs) -> Result<Outcome> {
    if args.log_print || args.log_filename.is_some() {
        let default = PathBuf::from(format!("log_{}.csv", plan::unix_time()));
        console::open_log(args.log_filename.as_ref().unwrap_or(&default))?;
    }
    let machine = child::device::machine();
    let plan = plan::from_args(&args, &machine)?;
    let exporters = export::exporters(&plan.outputs, &plan.scope.sections())?;
    let previous = args.resume.as_deref().map(Previous::load).transpose()?;
    let runner = Runner {
        multi_process: !args.no_multi_process,
        timeout: Duration::from_secs_f64(args.timeout),
        verbose: args.verbose,
        stop: Some(interrupt::flag()),
        in_process: child::execute,
    };
    let mut sweep = Sweep {
        environment: env::collect(&env::RunFacts {
            settings: &plan.settings,
            use_multiprocessing: runner.multi_process,
            default_threads: machine.default_threads,
        }),
        settings: plan.settings.clone(),
        calibration: previous
            .as_ref()
            .and_then(|p| p.calibration_for(&plan.settings)),
        sections: plan.scope.sections(),
        rows: Vec::new(),
    };
    // Each planned cell's result, in plan order: carried over from --resume, or measured now.
    let mut results: Vec<Option<CellResult>> = (plan.cells.iter())
        .map(|cell| previous.as_ref().and_then(|p| p.result_for(cell)))
        .collect();
    let to_run = results.iter().filter(|r| r.is_none()).count();
    sweep.rows = finished_rows(&plan.cells, &results);
    // Replacing an earlier run's report is said, even with --quiet: it cannot be undone.
    if let Some(notice) = export::replacing_notice(&export::existing_files(&exporters)) {
        console::eprintln(&notice);
    }
    // Creating the files now turns an unwritable path into an error before the sweep; the
    // carried-over cells are in them from the start (--resume may name the same file).
    export::write_files(&exporters, &sweep)?;
    interrupt::install()?;
    let progress = Progress::new(to_run, args.quiet);
    if let Some(path) = &args.resume {
        progress.note(&format!(
            "Resuming from {}: {} of {} cells carried over, {to_run} to measure",
            path.display(),
            plan.cells.len() - to_run,
            plan.cells.len()
        ));
    }
    let mut interrupted = calibrate(&runner, &progress, &plan, &results, &mut sweep).is_err();
    export::write_files(&exporters, &sweep)?;
    if !interrupted {
        let mut sweep_run = SweepRun {
            runner: &runner,
            progress: &progress,
            exporters: &exporters,
            to_run,
        };
        interrupted = sweep_run.cells(&plan.cells, &mut results, &mut sweep)?;
    }
    progress.done();
    print_results(&args, &exporters, &sweep, &progress)?;
    if interrupted {
        let json = args.export_json.as_deref().filter(|p| *p != Path::new("-"));
        let hint = match json {
            Some(path) => format!("; finish it with --resume {}", path.display()),
            None => "; with --export-json FILE, --resume FILE would finish it".into(),
        };
        console::eprintln(&format!(
            "Interrupted: {} of {} cells finished{hint}",
            sweep.rows.len(),
            plan.cells.len()
        ));
        return Ok(Outcome::Interrupted);
    }
    Ok(Outcome::Finished)
}

/// Measures the matmul ceiling once, when a speed cell is still to run and no calibration
/// was carried over; a failed calibration only makes MFU N/A.
fn calibrate(
    runner: &Runner,
    progress: &Progress,
    plan: &Plan,
    results: &[Option<CellResult>],
    sweep: &mut Sweep,
) -> Result<(), Interrupted> {
    let wants_calibration =
        (plan.cells.iter().zip(results)).any(|(c, r)| r.is_none() && c.metric == Metric::Speed);
    if sweep.calibration.is_some() || !wants_calibration {
        return Ok(());
    }
    let settings = &sweep.settings;
    let what = format!(
        "Calibrating: fastest matmul in {:?} on {}",
        settings.dtype, settings.device
    );
    progress.task(&what);
    let calibration = Calibration {
        device: settings.device,
        dtype: settings.dtype,
        threads: settings.threads,
    };
    match runner.calibrate(calibration) {
        Ok(Ok(c)) => {
            progress.task_done(&what, &format!("{:.1} GFLOP/s", c.flops_per_second / 1e9));
            sweep.calibration = Some(c);
        }
        Ok(Err(reason)) => {
            progress.task_done(&what, &format!("failed ({reason}); MFU will be N/A"))
        }
        Err(Interrupted) => {
            progress.interrupted();
            return Err(Interrupted);
        }
    }
    Ok(())
}

/// The parts of a sweep that the cell loop reports to.
struct SweepRun<'a> {
    runner: &'a Runner,
    progress: &'a Progress,
    exporters: &'a [Box<dyn Exporter>],
    to_run: usize,
}

impl SweepRun<'_> {
    /// Runs every cell without a result, in plan order; true when interrupted.
    fn cells(
        &mut self,
        cells: &[Cell],
        results: &mut [Option<CellResult>],
        sweep: &mut Sweep,
    ) -> Result<bool> {
        let mut index = 0;
        for position in 0..cells.len() {
            if interrupt::requested() {
                return Ok(true);
            }
            if results[position].is_some() {
                continue;
            }
            let cell = &cells[position];
            index += 1;
            let label = describe(cell);
            self.progress.start(index, self.to_run, &label);
            match self.runner.run(cell) {
                Ok(result) => {
                    let summary = summary(&result);
                    self.progress.finish(index, self.to_run, &label, &summary);
                    results[position] = Some(result);
                }
                Err(Interrupted) => {
                    self.progress.interrupted();
                    return Ok(true);
                }
            }
            sweep.rows = finished_rows(cells, results);
            // Exports are rewritten after every cell, so an interrupted sweep keeps what finished.
            export::write_files(self.exporters, sweep)?;
        }
        Ok(false)
    }
}

/// The tables on stdout (or the one export that goes there), then where the files went.
fn print_results(
    args: &RunArgs,
    exporters: &[Box<dyn Exporter>],
    sweep: &Sweep,
    progress: &Progress,
) -> Result<()> {
    if exporters.iter().any(|e| e.to_stdout()) {
        for export in exporters.iter().filter(|e| e.to_stdout()) {
            export.write(sweep)?;
        }
    } else {
        let mut out = console::Stdout;
        for &(mode, metric) in &sweep.sections {
            report::table::print_section(&mut out, sweep, mode, metric)?;
        }
        if args.env_print {
            report::table::print_environment(&mut out, &sweep.environment)?;
        }
        out.flush()?;
    }
    for export in exporters {
        for file in export.files() {
            progress.note(&format!("Saved {}", file.display()));
        }
    }
    Ok(())
}

/// The planned cells that have a result, in plan order.
fn finished_rows(cells: &[Cell], results: &[Option<CellResult>]) -> Vec<Row> {
    cells
        .iter()
        .zip(results)
        .filter_map(|(cell, result)| result.clone().map(|r| (cell.clone(), r)))
        .collect()
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

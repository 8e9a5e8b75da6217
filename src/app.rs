//! The default command, as the data flows: parse (done by main) -> plan -> run cells ->
//! report. This module only wires the pieces together.

use crate::cell::{
    Axes, Cell, CellResult, DeviceChoice, Metric, Mode, Row, Sweep, TokenizationCell,
    TokenizationResult,
};
use crate::cli::{MergeArgs, PreferChoice, RunArgs};
use crate::estimate::Estimate;
use crate::plan::{self, Plan};
use crate::progress::Progress;
use crate::report::export::{self, CsvFiles, Exporter, Outputs};
use crate::report::merge::{self, Prefer};
use crate::resume::Previous;
use crate::runner::{Interrupted, Runner};
use crate::{calibration, child, console, env, interrupt, load, report};
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
    open_log(&args)?;
    let machine = crate::frameworks::torch::device::machine();
    let plan = plan::from_args(&args, &machine)?;
    let exporters = export::exporters(&plan.outputs, &plan.scope.sections())?;
    export::check_paths(&exporters)?;
    let previous = previous_run(&args, &plan, &exporters)?;
    let runner = runner(&args);
    let mut sweep = new_sweep(&plan, previous.as_ref(), &runner, &machine);
    // Each planned cell's result, in plan order: carried over from --resume, or measured now.
    let mut results: Vec<Option<CellResult>> = (plan.cells.iter())
        .map(|cell| previous.as_ref().and_then(|p| p.result_for(cell)))
        .collect();
    let to_run = results.iter().filter(|r| r.is_none()).count();
    sweep.rows = finished_rows(&plan.cells, &results);
    let calibrate = |sweep: &mut Sweep, progress: &Progress| {
        calibration::ensure(&runner, progress, &plan, &results, sweep, args.recalibrate)
    };
    if args.dry_run {
        let progress = Progress::new(0, args.quiet);
        let calibrated = calibrate(&mut sweep, &progress);
        // No bar is left on the screen above the plan.
        progress.done();
        return match calibrated {
            Ok(()) => dry_run(&plan, &results, &sweep).map(|()| Outcome::Finished),
            Err(Interrupted) => Ok(Outcome::Interrupted),
        };
    }
    // Replacing an earlier run's report is said, even with --quiet: it cannot be undone.
    if let Some(notice) = export::replacing_notice(&export::existing_files(&exporters)) {
        console::eprintln(&notice);
    }
    // Creating the files now turns an unwritable path into an error before the sweep; the
    // carried-over cells are in them from the start (--resume may name the same file).
    export::write_files(&exporters, &sweep)?;
    let mut recorder = recorder(&args, &sweep)?;
    interrupt::install()?;
    let progress = Progress::new(to_run, args.quiet);
    if let (Some(path), Some(previous)) = (&args.resume, &previous) {
        progress.note(&resumed_line(path, previous, &plan.cells, to_run));
    }
    // Is the machine busy? Looked at before the calibration, which a busy machine slows too.
    let mut watch = load::Watch::quiet(args.quiet);
    if to_run > 0 {
        watch.before(&mut sweep);
    }
    let mut interrupted = calibrate(&mut sweep, &progress).is_err();
    export::write_files(&exporters, &sweep)?;
    if !interrupted {
        progress.set_estimate(seconds_to_run(&plan, &results, &sweep));
        let mut sweep_run = SweepRun {
            runner: &runner,
            progress: &progress,
            exporters: &exporters,
            to_run,
            estimates: &plan.estimates,
            axes: crate::cell::Axes::of(&plan.cells),
            fit_check: !args.no_fit_check,
            watch: &mut watch,
            slots: &args.devices,
            db: recorder.as_mut(),
        };
        interrupted = sweep_run.cells(&plan.cells, &mut results, &mut sweep)?
            || sweep_run.tokenization(&plan.tokenization, &mut sweep)?;
    }
    progress.done();
    report::print_results(args.env_print, &exporters, &sweep, &progress)?;
    if let Some(recorder) = recorder {
        progress.note(&recorder.finish(&sweep, interrupted)?);
    }
    if interrupted {
        say_interrupted(args.export_json.as_deref(), &sweep, plan.cells.len());
        return Ok(Outcome::Interrupted);
    }
    Ok(Outcome::Finished)
}

/// `--log-print` / `--log-filename`: the original's log file, opened before anything is said.
fn open_log(args: &RunArgs) -> Result<()> {
    if args.log_print || args.log_filename.is_some() {
        let default = PathBuf::from(format!("log_{}.csv", plan::unix_time()));
        console::open_log(args.log_filename.as_ref().unwrap_or(&default))?;
    }
    Ok(())
}

/// `--resume FILE`: the earlier run (None when FILE does not exist yet), checked against the
/// plan and the files this run will write.
fn previous_run(
    args: &RunArgs,
    plan: &Plan,
    exporters: &[Box<dyn Exporter>],
) -> Result<Option<Previous>> {
    let previous = (args.resume.as_deref().map(Previous::load))
        .transpose()?
        .flatten();
    if let Some(previous) = &previous {
        let outputs: Vec<&Path> = exporters.iter().flat_map(|e| e.files()).collect();
        previous.check_kept(&plan.cells, &outputs)?;
    }
    Ok(previous)
}

/// `--db` / `--record`: the results database each finished cell is appended to.
fn recorder(args: &RunArgs, sweep: &Sweep) -> Result<Option<crate::db::Recorder>> {
    (args.record.target())
        .map(|path| {
            crate::db::Recorder::start(
                &path,
                sweep,
                args.record.label.clone(),
                args.record.save_baseline.clone(),
            )
        })
        .transpose()
}

/// "Resuming from F: 3 of 4 cells carried over, 1 to measure (not carried over: ...)".
fn resumed_line(path: &Path, previous: &Previous, cells: &[Cell], to_run: usize) -> String {
    let why = previous.why_not_carried(cells);
    let why = match why.is_empty() {
        true => String::new(),
        false => format!(" (not carried over: {})", why.join("; ")),
    };
    format!(
        "Resuming from {}: {} of {} cells carried over, {to_run} to measure{why}",
        path.display(),
        cells.len() - to_run,
        cells.len()
    )
}

/// The parent's runner of child processes, as the flags say.
fn runner(args: &RunArgs) -> Runner {
    Runner {
        multi_process: !args.no_multi_process,
        timeout: Duration::from_secs_f64(args.timeout),
        verbose: args.verbose,
        stop: Some(interrupt::flag()),
        in_process: child::execute,
        pin: None,
    }
}

/// The sweep before any cell: its environment, settings, sections and the calibrations
/// carried over from --resume.
fn new_sweep(
    plan: &Plan,
    previous: Option<&Previous>,
    runner: &Runner,
    machine: &crate::cell::Machine,
) -> Sweep {
    Sweep {
        environment: env::collect(&env::RunFacts {
            variants: &plan.variants,
            use_multiprocessing: runner.multi_process,
            default_threads: machine.default_threads,
        }),
        settings: plan.settings.clone(),
        calibrations: previous
            .map(|p| p.calibrations_for(&plan.variants))
            .unwrap_or_default(),
        sections: plan.scope.sections(),
        rows: Vec::new(),
        tokenization: Vec::new(),
        shard: plan.shard.clone(),
        default_threads: Some(plan.default_threads),
        unread_config_keys: (plan.models.iter())
            .filter(|m| !m.unread_keys.is_empty())
            .map(|m| (m.name.clone(), m.unread_keys.clone()))
            .collect(),
    }
}

/// The ETA: estimated seconds of the cells still to run, at the calibrated rate.
fn seconds_to_run(plan: &Plan, results: &[Option<CellResult>], sweep: &Sweep) -> f64 {
    (plan.estimates.iter().zip(results))
        .filter(|(_, r)| r.is_none())
        .zip(&plan.cells)
        .map(|((e, _), cell)| e.seconds(sweep.calibration_for(&cell.settings)))
        .sum()
}

/// The line an interrupted sweep ends with: what finished and how to finish the rest.
fn say_interrupted(export_json: Option<&Path>, sweep: &Sweep, cells: usize) {
    let json = export_json.filter(|p| *p != Path::new("-"));
    let hint = match json {
        Some(path) => format!("; finish it with --resume {}", path.display()),
        None => "; with --export-json FILE, --resume FILE would finish it".into(),
    };
    let by = match interrupt::signal_name() {
        "Ctrl-C" => String::new(),
        signal => format!(" ({signal})"),
    };
    console::eprintln(&format!(
        "Interrupted{by}: {} of {cells} cells finished{hint}",
        sweep.rows.len(),
    ));
}

/// `--dry-run`: the cells still to run with their estimates, and the totals.
fn dry_run(plan: &Plan, results: &[Option<CellResult>], sweep: &Sweep) -> Result<()> {
    let to_run: Vec<usize> = (0..plan.cells.len())
        .filter(|&i| results[i].is_none())
        .collect();
    let mut out = console::Stdout;
    let cells: Vec<Cell> = to_run.iter().map(|&i| plan.cells[i].clone()).collect();
    let not_measurable: Vec<Option<String>> =
        cells.iter().map(child::known::not_measurable).collect();
    report::dry_run::print(
        &mut out,
        &cells,
        &not_measurable,
        &to_run
            .iter()
            .map(|&i| plan.estimates[i])
            .collect::<Vec<_>>(),
        &sweep.calibrations,
        available_memory(sweep.settings.device),
        sweep.settings.device,
        console::stdout_width(),
    )?;
    out.flush()?;
    Ok(())
}

/// What the fit check compares a cell's estimate with: free RAM, or the GPU's free memory.
fn available_memory(device: DeviceChoice) -> Option<u64> {
    match device {
        DeviceChoice::Cpu => crate::measure::memory::available_bytes(),
        DeviceChoice::Cuda(i) => crate::measure::gpu::free_bytes(i).ok(),
    }
}

/// The parts of a sweep that the cell loop reports to.
struct SweepRun<'a> {
    runner: &'a Runner,
    progress: &'a Progress,
    exporters: &'a [Box<dyn Exporter>],
    to_run: usize,
    estimates: &'a [Estimate],
    /// The plan's dtypes and threads: progress lines name a cell's where they vary.
    axes: Axes,
    /// Mark cells whose estimate exceeds the available memory N/A without running them.
    fit_check: bool,
    watch: &'a mut crate::load::Watch,
    /// `--devices`: one cell per slot at once (empty: one at a time, unpinned).
    slots: &'a [crate::devices::Slot],
    /// `--db`: each finished cell is appended to the results database as it comes.
    db: Option<&'a mut crate::db::Recorder>,
}

impl SweepRun<'_> {
    /// Runs every cell without a result, in plan order; true when interrupted.
    fn cells(
        &mut self,
        cells: &[Cell],
        results: &mut [Option<CellResult>],
        sweep: &mut Sweep,
    ) -> Result<bool> {
        if !self.slots.is_empty() {
            return self.cells_on_slots(cells, results, sweep);
        }
        let mut index = 0;
        for position in 0..cells.len() {
            if interrupt::requested() {
                return Ok(true);
            }
            if results[position].is_some() {
                continue;
            }
            let group = group_at(cells, results, position);
            let labels: Vec<String> = group.iter().map(|&i| cells[i].label(&self.axes)).collect();
            let seconds: Vec<f64> = (group.iter())
                .map(|&i| self.estimates[i].seconds(sweep.calibration_for(&cells[i].settings)))
                .collect();
            self.progress
                .start(index + 1, self.to_run, &labels[0], seconds[0]);
            let outcome = match self.not_run(cells, position) {
                Some(reason) => Ok(vec![CellResult::na(reason); group.len()]),
                None => {
                    let members: Vec<Cell> = group.iter().map(|&i| cells[i].clone()).collect();
                    // The bar names the cell the child runs now: memory, then speed.
                    let moved_on = std::cell::Cell::new(0);
                    let on_result = |finished: usize| {
                        while moved_on.get() < finished.min(group.len() - 1) {
                            let k = moved_on.get() + 1;
                            (self.progress).next_in_group(seconds[k - 1], &labels[k], seconds[k]);
                            moved_on.set(k);
                        }
                    };
                    // The child has been waited for: its CPU time is ours, not another's.
                    let (outcome, load) =
                        crate::load::during(|| self.runner.run_cells_watched(&members, &on_result));
                    outcome.map(|mut finished| {
                        if let Some(load) = load {
                            self.watch.measured(load, &mut finished, sweep);
                        }
                        finished
                    })
                }
            };
            match outcome {
                Ok(finished) => {
                    for (k, (&i, result)) in group.iter().zip(finished).enumerate() {
                        let result = with_planned_costs(result, &cells[i], &self.estimates[i]);
                        index += 1;
                        if k > 0 {
                            (self.progress).start(index, self.to_run, &labels[k], seconds[k]);
                        }
                        let summary = summary(&result);
                        (self.progress).finish(
                            index,
                            self.to_run,
                            &labels[k],
                            &summary,
                            seconds[k],
                        );
                        if let Some(db) = self.db.as_deref_mut() {
                            db.cell(sweep, &(cells[i].clone(), result.clone()));
                        }
                        results[i] = Some(result);
                    }
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

/// The cells that run in one child from `position`: a memory cell and the speed cell of the
/// same point share it, on one built model (memory first, so its figure is what a child of
/// its own shows).
fn group_at(cells: &[Cell], results: &[Option<CellResult>], position: usize) -> Vec<usize> {
    let cell = &cells[position];
    match cells.get(position + 1) {
        Some(next)
            if cell.metric == Metric::Memory
                && next.metric == Metric::Speed
                && results[position + 1].is_none()
                && cell.same_point(next) =>
        {
            vec![position, position + 1]
        }
        _ => vec![position],
    }
}

impl SweepRun<'_> {
    /// Why the cell at `position` is N/A before a child starts: what its config says
    /// ([`child::known::not_measurable`]), or too big for the memory.
    fn not_run(&self, cells: &[Cell], position: usize) -> Option<String> {
        let cell = &cells[position];
        let unsupported = child::known::not_measurable(cell);
        let too_big = match self.fit_check {
            true => available_memory(cell.settings.device)
                .and_then(|a| self.estimates[position].does_not_fit(a, cell.settings.device)),
            false => None,
        };
        unsupported.or(too_big)
    }

    /// `--devices`: the cells without a result, one per slot at once, each child pinned to its
    /// slot; results land in plan order as they finish. No load marks: the other slots'
    /// children are this sweep's own work. True when interrupted.
    fn cells_on_slots(
        &mut self,
        cells: &[Cell],
        results: &mut [Option<CellResult>],
        sweep: &mut Sweep,
    ) -> Result<bool> {
        let slots: Vec<String> = self.slots.iter().map(|s| s.to_string()).collect();
        let value = format!("{} (one cell per device at once)", slots.join(", "));
        sweep.set_environment("devices", value);
        let mut groups = Vec::new();
        let mut position = 0;
        while position < cells.len() {
            if results[position].is_some() {
                position += 1;
                continue;
            }
            let group = group_at(cells, results, position);
            position += group.len();
            let skip = self.not_run(cells, group[0]);
            groups.push((group, skip));
        }
        let (mut index, mut interrupted, mut failure) = (0, false, None);
        crate::runner::run_on(
            self.slots,
            self.runner,
            groups,
            |runner, (group, skip)| match skip {
                Some(reason) => Ok(vec![CellResult::na(reason.clone()); group.len()]),
                None => {
                    let members: Vec<Cell> = group.iter().map(|&i| cells[i].clone()).collect();
                    runner.run_cells(&members)
                }
            },
            |(group, _), outcome| {
                let Ok(finished) = outcome else {
                    interrupted = true;
                    return false;
                };
                for (&i, result) in group.iter().zip(finished) {
                    let result = with_planned_costs(result, &cells[i], &self.estimates[i]);
                    let label = cells[i].label(&self.axes);
                    index += 1;
                    let seconds =
                        self.estimates[i].seconds(sweep.calibration_for(&cells[i].settings));
                    self.progress.start(index, self.to_run, &label, seconds);
                    (self.progress).finish(index, self.to_run, &label, &summary(&result), seconds);
                    results[i] = Some(result);
                }
                sweep.rows = finished_rows(cells, results);
                if let Err(e) = export::write_files(self.exporters, sweep) {
                    failure = Some(e);
                    return false;
                }
                !interrupt::requested()
            },
        );
        if let Some(e) = failure {
            return Err(e);
        }
        if interrupted || interrupt::requested() {
            self.progress.interrupted();
            return Ok(true);
        }
        Ok(false)
    }

    /// Times the tokenizers after the model cells (not resumed: they are quick); true when
    /// interrupted.
    fn tokenization(&mut self, cells: &[TokenizationCell], sweep: &mut Sweep) -> Result<bool> {
        for (index, cell) in cells.iter().enumerate() {
            if interrupt::requested() {
                return Ok(true);
            }
            let label = format!(
                "[{}/{}] tokenization {}",
                index + 1,
                cells.len(),
                report::tokenization::describe(cell)
            );
            self.progress.task(&label);
            let (result, load) = crate::load::during(|| self.runner.tokenize(cell));
            let mut result = match result {
                Ok(result) => result,
                Err(Interrupted) => {
                    self.progress.interrupted();
                    return Ok(true);
                }
            };
            if let Some(load) = load {
                if let TokenizationResult::Speed { speed, .. } = &mut result {
                    speed.load = Some(load);
                }
                self.watch.record(load, sweep);
            }
            let summary = report::tokenization::summary(&result);
            self.progress.task_done(&label, &summary);
            sweep.tokenization.push((cell.clone(), result));
            export::write_files(self.exporters, sweep)?;
        }
        Ok(false)
    }
}

/// `merge`: the parts of a sharded sweep, reported as the whole sweep.
pub fn merge(args: MergeArgs) -> Result<()> {
    let prefer = args.prefer.map(|p| match p {
        PreferChoice::First => Prefer::First,
        PreferChoice::Last => Prefer::Last,
    });
    let merged = merge::merge(&args.files, prefer)?;
    let outputs = Outputs {
        csv: match args.save_to_csv {
            true => Some(CsvFiles::fresh(plan::unix_time(), CsvFiles::all, true)?),
            false => None,
        },
        json: args.export_json,
        markdown: args.export_markdown,
        tidy_csv: None,
    };
    let exporters = export::exporters(&outputs, &merged.sweep.sections())?;
    export::check_paths(&exporters)?;
    let progress = Progress::new(0, false);
    for warning in &merged.warnings {
        console::eprintln(&format!("Warning: {warning}"));
    }
    if let Some(notice) = export::replacing_notice(&export::existing_files(&exporters)) {
        console::eprintln(&notice);
    }
    export::write_files(&exporters, &merged.sweep)?;
    report::print_results(args.env_print, &exporters, &merged.sweep, &progress)
}

/// A child's result with what the plan already knows of its cell, filled in here once for
/// every framework (no child computes the estimate again): a call's matrix-product FLOPs
/// (training counts three forwards; none for generation, whose calls are not one forward)
/// and bytes of traffic, so GFLOP/s, MFU, GB/s, MBU and the bound verdict compare across
/// frameworks; and a memory cell's estimated peak beside the measured one (libtorch's
/// process, which the estimate models; another framework's peak is its own).
fn with_planned_costs(mut result: CellResult, cell: &Cell, estimate: &Estimate) -> CellResult {
    match &mut result {
        CellResult::Speed(speed) => {
            speed.flops_per_call = match cell.mode {
                Mode::Inference | Mode::Training => estimate.flops,
                Mode::Generation => None,
            };
            speed.bytes_per_call = estimate.traffic.map(|t| t.bytes);
        }
        CellResult::Memory(memory) if cell.settings.framework.is_torch() => {
            memory.estimated_peak_bytes = estimate.memory_bytes.map(|b| b as u64);
        }
        CellResult::Memory(_) | CellResult::NotAvailable { .. } => {}
    }
    result
}

/// The planned cells that have a result, in plan order.
fn finished_rows(cells: &[Cell], results: &[Option<CellResult>]) -> Vec<Row> {
    cells
        .iter()
        .zip(results)
        .filter_map(|(cell, result)| result.clone().map(|r| (cell.clone(), r)))
        .collect()
}

fn summary(result: &CellResult) -> String {
    match result {
        CellResult::Speed(s) if s.load.is_some_and(|l| l.busy) => {
            format!("{} (machine busy)", report::table_value(result))
        }
        CellResult::Speed(_) => report::table_value(result),
        CellResult::Memory(_) => format!("{} MB", report::table_value(result)),
        CellResult::NotAvailable { reason } => format!("N/A ({reason})"),
    }
}

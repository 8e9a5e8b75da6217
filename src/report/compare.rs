//! `run-benchmark compare BASELINE.json NEW.json`: cells matched by model, batch size,
//! sequence length, mode and metric, and by dtype and threads where either file swept
//! several (two files of one setting each are matched across it, and the setting that
//! differs is said, as for any other setting); per cell the change NEW/BASELINE of the figures the tables
//! show and a verdict.
//!
//! The 95% bootstrap interval of a speed cell's ratio, resampled from its stored samples, only
//! knows the noise *within* each run; two runs of the same code on the same machine drift
//! further apart than that (frequency scaling, other processes, memory placement). So a speed
//! cell is regressed (improved) only when that whole interval lies beyond a run-to-run noise
//! floor, declared or measured from two runs of the same code, and the change is beyond the
//! threshold. Memory cells have one figure each, so the threshold alone decides.

use super::markdown;
use super::{format_seconds, json, memory_figure, Row, Sweep, TIME_DIGITS};
use crate::cell::{Axes, CellResult, Dtype, Framework, Metric, Mode, SpeedResult};
use crate::console;
use crate::measure::memory::to_mib;
use crate::measure::stats;
use crate::measure::timing::Statistic;
use anyhow::{bail, Result};
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

/// Bootstrap resamples per cell.
const RESAMPLES: usize = 4000;
/// Two-sided confidence of the interval.
const CONFIDENCE: f64 = 0.95;
/// The run-to-run noise floor when none is declared or measured: two runs of the same sweep
/// on a quiet machine drift by a few percent (docs/comparing.md).
pub const DEFAULT_NOISE_FLOOR: f64 = 0.10;

/// Where the noise floor comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum NoiseFloor {
    /// A fraction (0.1 = 10%); `declared` says whether the user gave it.
    Fixed { fraction: f64, declared: bool },
    /// The largest change between two runs of the same code (an A/A pair).
    MeasuredFrom(PathBuf, PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Markdown,
}

/// What `compare` is asked to do (the CLI converts its flags into this).
#[derive(Debug, Clone)]
pub struct Options {
    pub baseline: PathBuf,
    pub new: PathBuf,
    /// Smallest change that counts, a fraction (0.05 = 5%).
    pub threshold: f64,
    pub noise_floor: NoiseFloor,
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Improved,
    Regressed,
    /// A speed change the noise floor or the threshold can explain.
    WithinNoise,
    /// A memory change below the threshold.
    WithinThreshold,
    /// Measured in the baseline, N/A in the new run (it crashed, ran out of memory, timed
    /// out): as bad as a regression.
    Failed,
    /// One side is N/A, or the two cells cannot be compared.
    NotComparable,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::Regressed => "regressed",
            Verdict::WithinNoise => "within noise",
            Verdict::WithinThreshold => "within threshold",
            Verdict::Failed => "FAILED",
            Verdict::NotComparable => "n/a",
        }
    }
}

/// One matched cell.
#[derive(Debug, Clone)]
pub struct Line {
    pub model: String,
    /// ` bf16 2 threads`: the cell's dtype and threads, where the files sweep them.
    pub variant: String,
    pub batch_size: i64,
    pub sequence_length: i64,
    pub mode: Mode,
    pub metric: Metric,
    pub baseline: String,
    pub new: String,
    /// NEW / BASELINE of the figures.
    pub ratio: Option<f64>,
    /// Its confidence interval (speed cells).
    pub interval: Option<(f64, f64)>,
    pub verdict: Verdict,
    /// Why the cell has no verdict.
    pub note: Option<String>,
    /// Either run measured it while other processes took CPU: judged on a wider floor.
    pub busy: bool,
}

impl Line {
    pub fn describe(&self) -> String {
        format!(
            "{}{} batch {} sequence {} {}",
            self.model,
            self.variant,
            self.batch_size,
            self.sequence_length,
            measure(self.mode, self.metric)
        )
    }
}

pub struct Comparison {
    pub threshold: f64,
    /// The run-to-run noise floor applied, a fraction, and where it came from.
    pub noise_floor: f64,
    pub noise_source: String,
    pub lines: Vec<Line>,
    /// Cells only one of the files has.
    pub only_baseline: Vec<String>,
    pub only_new: Vec<String>,
    /// Settings that differ between the two sweeps.
    pub settings_differ: Vec<String>,
    /// Models whose configs differ under the same name, with the keys that differ.
    pub configs_differ: Vec<String>,
}

impl Comparison {
    pub fn regressions(&self) -> impl Iterator<Item = &Line> {
        self.lines
            .iter()
            .filter(|l| l.verdict == Verdict::Regressed)
    }

    /// Cells measured in the baseline that failed in the new run.
    pub fn failures(&self) -> impl Iterator<Item = &Line> {
        self.lines.iter().filter(|l| l.verdict == Verdict::Failed)
    }
}

fn measure(mode: Mode, metric: Metric) -> &'static str {
    match (mode, metric) {
        (Mode::Inference, Metric::Speed) => "inference time",
        (Mode::Inference, Metric::Memory) => "inference memory",
        (Mode::Training, Metric::Speed) => "training time",
        (Mode::Training, Metric::Memory) => "training memory",
        (Mode::Generation, Metric::Speed) => "generation time",
        (Mode::Generation, Metric::Memory) => "generation memory",
    }
}

/// Which cells match: the model, sizes, mode and metric, and the framework, dtype and threads
/// where `axes` (of both files together) say a file swept several.
#[allow(clippy::type_complexity)]
fn key<'a>(
    row: &'a Row,
    axes: &Axes,
) -> (
    &'a str,
    i64,
    i64,
    Mode,
    Metric,
    Option<i64>,
    Option<Framework>,
    Option<Dtype>,
    Option<Option<usize>>,
) {
    let (c, _) = row;
    (
        &c.model,
        c.batch_size,
        c.sequence_length,
        c.mode,
        c.metric,
        c.new_tokens,
        axes.framework_varies().then_some(c.settings.framework),
        axes.dtype_varies().then_some(c.settings.dtype),
        axes.threads_vary().then_some(c.settings.threads),
    )
}

/// The axes compare matches on: those that vary within either file.
fn matched_axes(a: &Sweep, b: &Sweep) -> Axes {
    let (a, b) = (a.axes(), b.axes());
    let (frameworks, dtypes, threads) = (
        a.framework_varies() || b.framework_varies(),
        a.dtype_varies() || b.dtype_varies(),
        a.threads_vary() || b.threads_vary(),
    );
    Axes {
        frameworks: match frameworks {
            true => [a.frameworks, b.frameworks].concat(),
            false => Vec::new(),
        },
        dtypes: match dtypes {
            true => [a.dtypes, b.dtypes].concat(),
            false => Vec::new(),
        },
        threads: match threads {
            true => [a.threads, b.threads].concat(),
            false => Vec::new(),
        },
    }
}

fn describe_row(row: &Row, axes: &Axes) -> String {
    let (c, _) = row;
    let new_tokens = c
        .new_tokens
        .map(|n| format!(" {n} new tokens"))
        .unwrap_or_default();
    format!(
        "{}{} batch {} sequence {}{new_tokens} {}",
        c.model,
        axes.describe(&c.settings),
        c.batch_size,
        c.sequence_length,
        measure(c.mode, c.metric)
    )
}

/// The subcommand: prints the comparison; true when a cell regressed. Errors (a missing or
/// unreadable file) are errors, not regressions: the caller gives them another exit status.
pub fn run(options: &Options) -> Result<bool> {
    let baseline = json::read(&options.baseline)?.sweep;
    let new = json::read(&options.new)?.sweep;
    report(options, &baseline, &new)
}

/// Prints the comparison of two sweeps however they were read (files, the results
/// database); true when a cell regressed.
pub fn report(options: &Options, baseline: &Sweep, new: &Sweep) -> Result<bool> {
    let (floor, source) = match &options.noise_floor {
        NoiseFloor::Fixed { fraction, declared } => (
            *fraction,
            if *declared {
                "declared with --noise-floor".to_string()
            } else {
                "the default; --noise-floor or --noise-from set it".to_string()
            },
        ),
        NoiseFloor::MeasuredFrom(a, b) => {
            let (a_sweep, b_sweep) = (json::read(a)?.sweep, json::read(b)?.sweep);
            let floor = measured_noise_floor(&a_sweep, &b_sweep).ok_or_else(|| {
                anyhow::anyhow!(
                    "--noise-from {} {}: the two files have no speed cell in common",
                    a.display(),
                    b.display()
                )
            })?;
            (
                floor,
                format!(
                    "measured: the largest change between {} and {}",
                    a.display(),
                    b.display()
                ),
            )
        }
    };
    let mut comparison = compare(baseline, new, options.threshold, floor);
    if comparison.lines.is_empty() {
        bail!(
            "{} and {} have no cell in common: nothing to compare",
            options.baseline.display(),
            options.new.display()
        );
    }
    comparison.noise_source = source;
    // A renamed model or a changed sweep matches only part of the cells: said, not silent.
    let unmatched = comparison.only_baseline.len() + comparison.only_new.len();
    if unmatched > 0 {
        console::eprintln(&format!(
            "warning: only {} cells match; {} only in {} and {} only in {} (listed under the table)",
            comparison.lines.len(),
            comparison.only_baseline.len(),
            options.baseline.display(),
            comparison.only_new.len(),
            options.new.display()
        ));
    }
    let text = match options.format {
        Format::Table => render_text(&comparison, console::stdout_width()),
        Format::Markdown => render_markdown(&comparison),
    };
    let mut out = console::Stdout;
    out.write_all(text.as_bytes())?;
    out.flush()?;
    let failed = comparison.failures().next().is_some();
    let regressed = comparison.regressions().next().is_some();
    Ok(regressed || failed)
}

/// The run-to-run noise of two runs of the same code: the largest |ratio - 1| of their
/// matched speed cells. None when they share no speed cell.
pub fn measured_noise_floor(a: &Sweep, b: &Sweep) -> Option<f64> {
    let axes = matched_axes(a, b);
    b.rows
        .iter()
        .filter_map(|row| {
            let base = a.rows.iter().find(|r| key(r, &axes) == key(row, &axes))?;
            match (&base.1, &row.1) {
                (CellResult::Speed(x), CellResult::Speed(y)) if x.statistic == y.statistic => {
                    let ratio = y.seconds / x.seconds;
                    // A slowdown of r and a speed-up of 1/r are the same distance.
                    Some(ratio.max(1.0 / ratio) - 1.0)
                }
                _ => None,
            }
        })
        .reduce(f64::max)
}

/// Compares every cell of `new` with the same cell of `baseline`; `threshold` and
/// `noise_floor` are fractions (0.05 = 5%).
pub fn compare(baseline: &Sweep, new: &Sweep, threshold: f64, noise_floor: f64) -> Comparison {
    let mut lines = Vec::new();
    let mut only_new = Vec::new();
    let mut configs_differ: Vec<String> = Vec::new();
    let axes = matched_axes(baseline, new);
    for row in &new.rows {
        match baseline
            .rows
            .iter()
            .find(|b| key(b, &axes) == key(row, &axes))
        {
            Some(base) => {
                let mut line = compare_cell(base, row, threshold, noise_floor);
                line.variant = axes.describe(&row.0.settings);
                lines.push(line);
                if let Some(diff) = config_differs(base, row) {
                    if !configs_differ.contains(&diff) {
                        configs_differ.push(diff);
                    }
                }
            }
            None => only_new.push(describe_row(row, &axes)),
        }
    }
    let only_baseline = baseline
        .rows
        .iter()
        .filter(|b| !new.rows.iter().any(|n| key(n, &axes) == key(b, &axes)))
        .map(|b| describe_row(b, &axes))
        .collect();
    Comparison {
        threshold,
        noise_floor,
        noise_source: String::new(),
        lines,
        only_baseline,
        only_new,
        settings_differ: settings_differ(baseline, new, &axes),
        configs_differ,
    }
}

/// The names of the settings whose values differ, as `name: baseline -> new`; the dtype and
/// threads only where cells are matched across them (rows matched on them differ by design).
fn settings_differ(baseline: &Sweep, new: &Sweep, axes: &Axes) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) = (
        serde_json::to_value(&baseline.settings),
        serde_json::to_value(&new.settings),
    ) else {
        return Vec::new();
    };
    let matched_on =
        |k: &str| (k == "dtype" && axes.dtype_varies()) || (k == "threads" && axes.threads_vary());
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(v) && !matched_on(k))
        .map(|(k, v)| {
            let n = b.get(k).map(|v| v.to_string()).unwrap_or_default();
            format!("{k}: {v} -> {n}")
        })
        .collect()
}

/// `model (key, key)` when two cells of the same name have different configs.
fn config_differs(base: &Row, new: &Row) -> Option<String> {
    let (a, b) = (&base.0.config, &new.0.config);
    if a == b {
        return None;
    }
    let keys: Vec<String> = match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            let mut keys: Vec<String> = a
                .iter()
                .filter(|(k, v)| b.get(*k) != Some(v))
                .map(|(k, _)| k.clone())
                .chain(b.keys().filter(|k| !a.contains_key(*k)).cloned())
                .collect();
            keys.sort();
            keys
        }
        _ => vec!["config".into()],
    };
    Some(format!("{} ({})", base.0.model, keys.join(", ")))
}

fn statistic_fn(statistic: Statistic) -> fn(&mut [f64]) -> f64 {
    match statistic {
        Statistic::Median => stats::median,
        Statistic::Minimum => stats::minimum,
    }
}

/// The bootstrap interval of the ratio of two speed cells' figures (the ratio itself when a
/// cell kept no samples).
pub fn bootstrap_interval(baseline: &SpeedResult, new: &SpeedResult) -> (f64, f64) {
    stats::bootstrap_ratio_interval(
        &baseline.samples,
        &new.samples,
        statistic_fn(new.statistic),
        RESAMPLES,
        CONFIDENCE,
    )
    .unwrap_or_else(|| {
        let ratio = new.seconds / baseline.seconds;
        (ratio, ratio)
    })
}

fn compare_cell(base: &Row, new: &Row, threshold: f64, noise_floor: f64) -> Line {
    let (cell, base_result) = base;
    let (_, new_result) = new;
    let mut line = Line {
        model: cell.model.clone(),
        variant: String::new(),
        batch_size: cell.batch_size,
        sequence_length: cell.sequence_length,
        mode: cell.mode,
        metric: cell.metric,
        baseline: figure(base_result),
        new: figure(new_result),
        ratio: None,
        interval: None,
        verdict: Verdict::NotComparable,
        note: None,
        busy: false,
    };
    match (base_result, new_result) {
        (CellResult::Speed(a), CellResult::Speed(b)) => {
            if a.statistic != b.statistic {
                line.note = Some("the figures are different statistics".into());
                return line;
            }
            let ratio = b.seconds / a.seconds;
            let (lo, hi) = bootstrap_interval(a, b);
            line.ratio = Some(ratio);
            line.interval = Some((lo, hi));
            // A cell whose threads and the other work together wanted more cores than the
            // machine has waited for cores mid-call: a thread descheduled at a barrier holds
            // up the others for a whole time slice, so the slowdown has no bound (a 0.2 ms
            // call took 200 ms at load 13 on 2 cores). No floor covers that: not comparable.
            if let Some(why) = oversubscribed(a).or_else(|| oversubscribed(b)) {
                line.busy = true;
                line.note = Some(why);
                return line;
            }
            // Other processes slow a measurement by more than any interval shows: sharing
            // its cores with k cores' worth of other work can make a cell up to k + 1 times
            // slower, so a cell either run measured busy gets that much more floor.
            let other = |r: &SpeedResult| r.load.filter(|l| l.busy).map(|l| l.other_cores);
            let busy = other(a).into_iter().chain(other(b)).reduce(f64::max);
            let noise_floor = match busy {
                Some(cores) => {
                    line.busy = true;
                    noise_floor.max(cores)
                }
                None => noise_floor,
            };
            // Beyond the floor on a log scale: 10% slower and 1/1.1 faster are alike.
            let floor = 1.0 + noise_floor;
            line.verdict = if ratio > 1.0 + threshold && lo > floor {
                Verdict::Regressed
            } else if ratio < 1.0 - threshold && hi < 1.0 / floor {
                Verdict::Improved
            } else {
                Verdict::WithinNoise
            };
        }
        (CellResult::Memory(a), CellResult::Memory(b)) => {
            let ratio = memory_figure(b) as f64 / memory_figure(a) as f64;
            line.ratio = Some(ratio);
            line.verdict = if ratio > 1.0 + threshold {
                Verdict::Regressed
            } else if ratio < 1.0 - threshold {
                Verdict::Improved
            } else {
                Verdict::WithinThreshold
            };
        }
        (CellResult::NotAvailable { reason }, _) => line.note = Some(format!("baseline: {reason}")),
        (_, CellResult::NotAvailable { reason }) => {
            line.verdict = Verdict::Failed;
            line.note = Some(format!("new: {reason}"));
        }
        _ => line.note = Some("different kinds of result".into()),
    }
    line
}

/// Why a speed cell measured busy is not comparable: its threads (two or more) and other
/// processes' work wanted more than the machine's cores (a single-threaded cell, or one with
/// cores to spare, is judged on the busy floor instead).
fn oversubscribed(result: &SpeedResult) -> Option<String> {
    let load = result.load.filter(|l| l.busy)?;
    let threads = result.ran.map_or(load.cores, |r| r.threads);
    // One thread waits for no other: time-sliced, it slows by the share it gets (the floor).
    (threads > 1 && load.other_cores + threads as f64 > load.cores as f64 + 0.5).then(|| {
        format!(
            "measured oversubscribed: {threads} thread(s) and {:.1} cores of other work on {} cores",
            load.other_cores, load.cores
        )
    })
}

fn figure(result: &CellResult) -> String {
    match result {
        CellResult::Speed(s) => format_seconds(s.seconds, TIME_DIGITS),
        CellResult::Memory(m) => format!("{} MB", to_mib(memory_figure(m))),
        CellResult::NotAvailable { .. } => "N/A".into(),
    }
}

fn percent(ratio: f64) -> String {
    format!("{:+.1}%", 100.0 * (ratio - 1.0))
}

const COLUMNS: [&str; 9] = [
    "Model Name",
    "Batch Size",
    "Seq Length",
    "Measure",
    "Baseline",
    "New",
    "Change",
    "Verdict",
    "95% CI of change",
];

/// The table's cells of one line.
fn cells(l: &Line) -> Vec<String> {
    vec![
        format!("{}{}", l.model, l.variant),
        l.batch_size.to_string(),
        l.sequence_length.to_string(),
        measure(l.mode, l.metric).to_string(),
        l.baseline.clone(),
        l.new.clone(),
        l.ratio.map(percent).unwrap_or_default(),
        l.verdict.label().to_string(),
        l.interval
            .map(|(lo, hi)| format!("{} to {}", percent(lo), percent(hi)))
            .unwrap_or_default(),
    ]
}

/// What is said under the table: the counts, the rule with its noise floor, what could not
/// be compared, and the regressions by name.
fn summary(c: &Comparison) -> Vec<String> {
    let count = |v: Verdict| c.lines.iter().filter(|l| l.verdict == v).count();
    let mut lines = vec![
        format!(
            "{} regressed, {} failed, {} improved, {} within noise, {} within threshold, {} not \
             comparable.",
            count(Verdict::Regressed),
            count(Verdict::Failed),
            count(Verdict::Improved),
            count(Verdict::WithinNoise),
            count(Verdict::WithinThreshold),
            count(Verdict::NotComparable),
        ),
        format!(
            "Noise floor {:.1}% ({}). Speed: regressed or improved when the whole 95% bootstrap \
             interval of the change lies beyond the noise floor and the change is beyond the \
             threshold of {}%; memory: the threshold alone.",
            100.0 * c.noise_floor,
            c.noise_source,
            100.0 * c.threshold
        ),
    ];
    for l in &c.lines {
        match &l.note {
            Some(note) if l.verdict == Verdict::Failed => lines.push(format!(
                "FAILED: {}: measured in the baseline ({}), N/A in the new run ({})",
                l.describe(),
                l.baseline,
                note.trim_start_matches("new: ")
            )),
            Some(note) => lines.push(format!("n/a {}: {note}", l.describe())),
            None => {}
        }
    }
    lines.extend(
        c.only_baseline
            .iter()
            .map(|cell| format!("Only in the baseline: {cell}")),
    );
    lines.extend(
        c.only_new
            .iter()
            .map(|cell| format!("Only in the new run: {cell}")),
    );
    if !c.settings_differ.is_empty() {
        lines.push(format!("Settings differ: {}", c.settings_differ.join("; ")));
    }
    if !c.configs_differ.is_empty() {
        lines.push(format!(
            "Configs differ under the same name: {}",
            c.configs_differ.join("; ")
        ));
    }
    let busy = c.lines.iter().filter(|l| l.busy).count();
    if busy > 0 {
        lines.push(format!(
            "{busy} speed cell(s) were measured while other processes took CPU: each is judged \
             on a floor of the cores those took (100% a core), or not at all (n/a) where its \
             threads and that work wanted more cores than the machine has; rerun on a quiet \
             machine, or with --threads 1 on a shared one, for a finer verdict."
        ));
    }
    if c.regressions().next().is_some() && c.noise_source.starts_with("the default") {
        lines.push(
            "A regression on a machine other work shares may be noise: rerun both on a quiet \
             machine (--threads 1 on a shared one), or measure the floor with --noise-from A.json \
             B.json (two runs of the same code)."
                .into(),
        );
    }
    for l in c.regressions() {
        lines.push(format!(
            "REGRESSED: {}: {} -> {} ({})",
            l.describe(),
            l.baseline,
            l.new,
            l.ratio.map(percent).unwrap_or_default()
        ));
    }
    lines
}

/// The comparison as a terminal table fitted to `width`, and its summary.
pub fn render_text(c: &Comparison, width: Option<usize>) -> String {
    let columns = COLUMNS.map(String::from);
    let rows: Vec<Vec<String>> = c.lines.iter().map(cells).collect();
    // The interval is the first thing a narrow terminal can spare.
    let (table, dropped) = super::table::fitted(&columns, &rows, 1, &[0, 3, 7], width);
    let mut out = format!("{table}\n");
    let mut notes = summary(c);
    if !dropped.is_empty() {
        notes.push(format!(
            "Left out to fit the terminal: {} (--format markdown shows it).",
            dropped.join(", ")
        ));
    }
    for line in notes {
        let _ = writeln!(out, "{}", console::wrap(&line, width));
    }
    out
}

/// The comparison as Markdown, for a pull-request comment.
pub fn render_markdown(c: &Comparison) -> String {
    let regressed = c.regressions().count();
    let mut out = format!(
        "## run-benchmark compare: {}\n\n",
        match regressed {
            0 => "no regression".to_string(),
            n => format!("{n} regressed"),
        }
    );
    let columns = COLUMNS.map(String::from);
    let rows: Vec<Vec<String>> = c.lines.iter().map(cells).collect();
    markdown::table(&mut out, &columns, &rows, true);
    out.push('\n');
    for line in summary(c) {
        let _ = writeln!(out, "- {}", markdown::escape(&line));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::stats::Stats;

    fn speed(samples: &[f64]) -> SpeedResult {
        let stats = Stats::of(samples).unwrap();
        SpeedResult {
            statistic: Statistic::Median,
            seconds: stats.median,
            samples: samples.to_vec(),
            calls_per_sample: 1,
            warmup_calls: 0,
            stats,
            flops_per_call: Some(1.0),
            bytes_per_call: None,
            interval: None,
            imprecise: false,
            build_seconds: None,
            profile: None,
            generation: None,
            load: None,
            ran: None,
            expert_load: None,
        }
    }

    #[test]
    fn identical_samples_have_a_ratio_of_one() {
        let a = speed(&[1.0, 1.1, 0.9, 1.05, 0.95]);
        let (lo, hi) = bootstrap_interval(&a, &a);
        assert!(lo < 1.0 && hi > 1.0, "{lo} {hi}");
    }

    #[test]
    fn clearly_slower_samples_give_an_interval_above_one() {
        let a = speed(&[1.0, 1.01, 0.99, 1.0, 1.02]);
        let b = speed(&[1.5, 1.52, 1.49, 1.51, 1.5]);
        let (lo, hi) = bootstrap_interval(&a, &b);
        assert!(lo > 1.4 && hi < 1.6, "{lo} {hi}");
    }

    #[test]
    fn overlapping_noisy_samples_are_not_significant() {
        let a = speed(&[1.0, 1.4, 0.8, 1.2, 0.9]);
        let b = speed(&[1.1, 1.5, 0.85, 1.3, 1.0]);
        let (lo, _) = bootstrap_interval(&a, &b);
        assert!(lo < 1.0, "{lo}");
    }
}

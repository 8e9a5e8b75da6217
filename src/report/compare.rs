//! `run-benchmark compare BASELINE.json NEW.json`: cells matched by model, batch size,
//! sequence length, mode and metric; per cell the ratio NEW/BASELINE of the figures the tables
//! show and a verdict. A speed cell is regressed (improved) only when the 95% bootstrap
//! confidence interval of that ratio, resampled from the stored samples, lies wholly above
//! (below) 1 and the ratio is beyond the threshold: significant and large enough to matter.
//! Memory cells have one figure each, so the threshold alone decides.

use super::{format_seconds, json, memory_figure, Row, Sweep, TIME_DIGITS};
use crate::cell::{CellResult, Metric, Mode, SpeedResult};
use crate::cli::CompareArgs;
use crate::console;
use crate::measure::memory::to_mib;
use crate::measure::timing::Statistic;
use std::io::{self, Write};

/// Bootstrap resamples per cell.
const RESAMPLES: usize = 4000;
/// Two-sided confidence of the interval.
const CONFIDENCE: f64 = 0.95;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Improved,
    Regressed,
    WithinNoise,
    /// One side is N/A, or the two cells cannot be compared.
    NotComparable,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::Regressed => "regressed",
            Verdict::WithinNoise => "within noise",
            Verdict::NotComparable => "n/a",
        }
    }
}

/// One matched cell.
#[derive(Debug, Clone)]
pub struct Line {
    pub model: String,
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
    /// Why the cell has no verdict, or what to know about it.
    pub note: Option<String>,
}

impl Line {
    pub fn describe(&self) -> String {
        format!(
            "{} batch {} sequence {} {}",
            self.model,
            self.batch_size,
            self.sequence_length,
            measure(self.mode, self.metric)
        )
    }
}

pub struct Comparison {
    pub threshold: f64,
    pub lines: Vec<Line>,
    /// Cells only one of the files has.
    pub only_baseline: Vec<String>,
    pub only_new: Vec<String>,
    /// Settings that differ between the two sweeps.
    pub settings_differ: Vec<String>,
}

impl Comparison {
    pub fn regressions(&self) -> impl Iterator<Item = &Line> {
        self.lines
            .iter()
            .filter(|l| l.verdict == Verdict::Regressed)
    }
}

fn measure(mode: Mode, metric: Metric) -> &'static str {
    match (mode, metric) {
        (Mode::Inference, Metric::Speed) => "inference time",
        (Mode::Inference, Metric::Memory) => "inference memory",
        (Mode::Training, Metric::Speed) => "training time",
        (Mode::Training, Metric::Memory) => "training memory",
    }
}

fn key(row: &Row) -> (&str, i64, i64, Mode, Metric) {
    let (c, _) = row;
    (&c.model, c.batch_size, c.sequence_length, c.mode, c.metric)
}

fn describe_row(row: &Row) -> String {
    let (c, _) = row;
    format!(
        "{} batch {} sequence {} {}",
        c.model,
        c.batch_size,
        c.sequence_length,
        measure(c.mode, c.metric)
    )
}

/// The subcommand: prints the comparison; true when a cell regressed.
pub fn run(args: &CompareArgs) -> anyhow::Result<bool> {
    let baseline = json::read(&args.baseline)?.sweep;
    let new = json::read(&args.new)?.sweep;
    let comparison = compare(&baseline, &new, args.threshold / 100.0);
    let mut out = console::Stdout;
    print(&mut out, &comparison)?;
    out.flush()?;
    let regressed = comparison.regressions().next().is_some();
    Ok(regressed)
}

/// Compares every cell of `new` with the same cell of `baseline`; `threshold` is a fraction
/// (0.05 = 5%).
pub fn compare(baseline: &Sweep, new: &Sweep, threshold: f64) -> Comparison {
    let mut lines = Vec::new();
    let mut only_new = Vec::new();
    for row in &new.rows {
        match baseline.rows.iter().find(|b| key(b) == key(row)) {
            Some(base) => lines.push(compare_cell(base, row, threshold)),
            None => only_new.push(describe_row(row)),
        }
    }
    let only_baseline = baseline
        .rows
        .iter()
        .filter(|b| !new.rows.iter().any(|n| key(n) == key(b)))
        .map(describe_row)
        .collect();
    Comparison {
        threshold,
        lines,
        only_baseline,
        only_new,
        settings_differ: settings_differ(baseline, new),
    }
}

/// The names of the settings whose values differ, as `name: baseline -> new`.
fn settings_differ(baseline: &Sweep, new: &Sweep) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) = (
        serde_json::to_value(&baseline.settings),
        serde_json::to_value(&new.settings),
    ) else {
        return Vec::new();
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, v)| {
            let n = b.get(k).map(|v| v.to_string()).unwrap_or_default();
            format!("{k}: {v} -> {n}")
        })
        .collect()
}

fn compare_cell(base: &Row, new: &Row, threshold: f64) -> Line {
    let (cell, base_result) = base;
    let (_, new_result) = new;
    let mut line = Line {
        model: cell.model.clone(),
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
    };
    match (base_result, new_result) {
        (CellResult::Speed(a), CellResult::Speed(b)) => {
            if a.statistic != b.statistic {
                line.note = Some("the figures are different statistics".into());
                return line;
            }
            let ratio = b.seconds / a.seconds;
            let interval = bootstrap_interval(a, b);
            line.ratio = Some(ratio);
            line.interval = Some(interval);
            line.verdict = if ratio > 1.0 + threshold && interval.0 > 1.0 {
                Verdict::Regressed
            } else if ratio < 1.0 - threshold && interval.1 < 1.0 {
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
                Verdict::WithinNoise
            };
        }
        (CellResult::NotAvailable { reason }, _) => line.note = Some(format!("baseline: {reason}")),
        (_, CellResult::NotAvailable { reason }) => line.note = Some(format!("new: {reason}")),
        _ => line.note = Some("different kinds of result".into()),
    }
    line
}

fn figure(result: &CellResult) -> String {
    match result {
        CellResult::Speed(s) => format_seconds(s.seconds, TIME_DIGITS),
        CellResult::Memory(m) => format!("{} MB", to_mib(memory_figure(m))),
        CellResult::NotAvailable { .. } => "N/A".into(),
    }
}

/// SplitMix64: a small deterministic generator, so a comparison prints the same every time.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The statistic the figure is, of a sample set.
fn statistic(statistic: Statistic, samples: &mut [f64]) -> f64 {
    match statistic {
        Statistic::Minimum => samples.iter().copied().fold(f64::INFINITY, f64::min),
        Statistic::Median => {
            samples.sort_by(f64::total_cmp);
            let n = samples.len();
            if n % 2 == 1 {
                samples[n / 2]
            } else {
                (samples[n / 2 - 1] + samples[n / 2]) / 2.0
            }
        }
    }
}

/// Percentile bootstrap interval of statistic(new) / statistic(baseline), each sample set
/// resampled with replacement on its own.
pub fn bootstrap_interval(baseline: &SpeedResult, new: &SpeedResult) -> (f64, f64) {
    let (a, b) = (&baseline.samples, &new.samples);
    if a.is_empty() || b.is_empty() {
        let ratio = new.seconds / baseline.seconds;
        return (ratio, ratio);
    }
    let mut rng = SplitMix(0x5eed);
    let mut ra = vec![0.0; a.len()];
    let mut rb = vec![0.0; b.len()];
    let mut ratios: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            ra.iter_mut().for_each(|x| *x = a[rng.below(a.len())]);
            rb.iter_mut().for_each(|x| *x = b[rng.below(b.len())]);
            statistic(new.statistic, &mut rb) / statistic(baseline.statistic, &mut ra)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    let at = |q: f64| ratios[((q * (RESAMPLES - 1) as f64).round() as usize).min(RESAMPLES - 1)];
    (at(tail), at(1.0 - tail))
}

fn percent(ratio: f64) -> String {
    format!("{:+.1}%", 100.0 * (ratio - 1.0))
}

/// The comparison as a table, with what could not be compared and the regressions named.
pub fn print(out: &mut dyn Write, c: &Comparison) -> io::Result<()> {
    let width = console::stdout_width();
    let mut table = super::table::new(
        &[
            "Model Name",
            "Batch Size",
            "Seq Length",
            "Measure",
            "Baseline",
            "New",
            "New/Baseline",
            "95% CI",
            "Verdict",
        ],
        width,
    );
    for l in &c.lines {
        table.add_row([
            l.model.clone(),
            l.batch_size.to_string(),
            l.sequence_length.to_string(),
            measure(l.mode, l.metric).to_string(),
            l.baseline.clone(),
            l.new.clone(),
            l.ratio
                .map(|r| format!("{r:.3} ({})", percent(r)))
                .unwrap_or_default(),
            l.interval
                .map(|(lo, hi)| format!("{lo:.3} - {hi:.3}"))
                .unwrap_or_default(),
            l.verdict.label().to_string(),
        ]);
    }
    super::table::align(&mut table, &[0, 3, 8]);
    writeln!(out, "{table}")?;
    let count = |v: Verdict| c.lines.iter().filter(|l| l.verdict == v).count();
    writeln!(
        out,
        "{} regressed, {} improved, {} within noise, {} not comparable (threshold {}%; \
         speed verdicts need the 95% bootstrap interval of the ratio to exclude 1).",
        count(Verdict::Regressed),
        count(Verdict::Improved),
        count(Verdict::WithinNoise),
        count(Verdict::NotComparable),
        100.0 * c.threshold
    )?;
    for l in &c.lines {
        if let Some(note) = &l.note {
            writeln!(out, "n/a {}: {note}", l.describe())?;
        }
    }
    for cell in &c.only_baseline {
        writeln!(out, "Only in the baseline: {cell}")?;
    }
    for cell in &c.only_new {
        writeln!(out, "Only in the new run: {cell}")?;
    }
    if !c.settings_differ.is_empty() {
        writeln!(out, "Settings differ: {}", c.settings_differ.join("; "))?;
    }
    for l in c.regressions() {
        writeln!(
            out,
            "REGRESSED: {}: {} -> {} ({})",
            l.describe(),
            l.baseline,
            l.new,
            l.ratio.map(percent).unwrap_or_default()
        )?;
    }
    Ok(())
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

//! `run-benchmark plot`: time or memory against sequence length (or batch size), one line per
//! model and batch size (or sequence length), from a JSON export or the original's result CSV
//! files, log-log by default, as SVG or PNG. As the original's plot_csv_file.py.

use super::{csv, json, memory_figure, Sweep};
use crate::cell::{CellResult, Metric, Mode};
use crate::measure::memory::to_mib;
use crate::measure::timing::Statistic;
use anyhow::{anyhow, bail, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// The horizontal axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    SequenceLength,
    BatchSize,
}

/// The figure drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Time,
    /// The tables' memory figure: peak resident memory (CPU), device memory used (GPU).
    Memory,
    /// What the call itself added: activations, gradients, optimizer state (mostly not
    /// libtorch, which the peak includes).
    Increase,
}

/// What `plot` is asked to draw (the CLI converts its flags into this).
#[derive(Debug, Clone)]
pub struct Options {
    pub files: Vec<PathBuf>,
    pub output: PathBuf,
    pub x: XAxis,
    /// Linear axes; otherwise log-log, with a linear y axis where the figures span less than
    /// a factor of three (a log axis would show one tick).
    pub linear: bool,
    pub mode: Mode,
    /// None: time, or memory for a CSV file whose name says so.
    pub metric: Option<Figure>,
    /// Draw the --profile breakdowns instead: one stacked bar per profiled cell.
    pub profile: bool,
    /// Draw the roofline instead: every speed cell at its FLOPs per byte and FLOP/s, under
    /// the calibrated ceilings.
    pub roofline: bool,
    pub title: Option<String>,
    pub size: (u32, u32),
}

/// Narrower ranges than this factor get a linear y axis.
const LOG_RANGE: f64 = 3.0;

/// One point of a result: which model, sizes and figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub model: String,
    pub batch_size: i64,
    pub sequence_length: i64,
    pub value: f64,
    /// The samples' interquartile range (p25, p75), where the file holds samples.
    pub spread: Option<(f64, f64)>,
}

/// What a chart shows, read from the files.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub metric: Figure,
    /// Words for the title and axis: "median time per call", "peak resident memory".
    pub what: String,
    /// (file label, points); the label tells series of several files apart.
    pub files: Vec<(String, Vec<Point>)>,
}

/// A line of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// (x, p25, p75) where the points have samples: drawn as a band (error bars alone).
    pub spread: Vec<(f64, f64, f64)>,
    /// Points drawn as red triangles: history's changes beyond the run-to-run spread.
    pub marked: Vec<(f64, f64)>,
}

/// The `plot` subcommand's chart of a sweep's figures (`--profile`'s chart is
/// [`super::profile_chart`]'s; [`super::plot`] picks).
pub fn run(args: &Options) -> Result<()> {
    let format = Format::of(&args.output)?;
    let data = load(&args.files, args.mode, args.metric)?;
    let series = series(&data, args.x);
    if series.iter().all(|s| s.points.is_empty()) {
        bail!(
            "nothing to plot: no {} figures in {}",
            metric_word(data.metric),
            list(&args.files)
        );
    }
    let mode = args.mode.title();
    let title = args.title.clone().unwrap_or_else(|| {
        format!(
            "{mode} {}: {} against {}",
            metric_word(data.metric),
            data.what,
            axis_word(args.x)
        )
    });
    // The axis holds the spread too, so no band is cut off.
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| {
            (s.points.iter().map(|p| p.1)).chain(s.spread.iter().flat_map(|b| [b.1, b.2]))
        })
        .collect();
    let (lo, hi) = bounds(&ys);
    // Ticks in the unit of the figures' size: 12 ms, not 0.012 s.
    let (unit, unit_size) = match data.metric {
        Figure::Time => time_unit(hi),
        _ => ("MB", 1.0),
    };
    let series: Vec<Series> = series
        .into_iter()
        .map(|s| Series {
            label: s.label,
            points: s.points.iter().map(|&(x, y)| (x, y / unit_size)).collect(),
            spread: (s.spread.iter())
                .map(|&(x, lo, hi)| (x, lo / unit_size, hi / unit_size))
                .collect(),
            marked: Vec::new(),
        })
        .collect();
    let log_x = !args.linear;
    let log_y = !args.linear && lo > 0.0 && hi / lo >= LOG_RANGE;
    let scale = |log: bool| if log { ", log scale" } else { "" };
    let chart = Chart {
        title,
        x_label: format!("{}{}", capitalise(axis_word(args.x)), scale(log_x)),
        y_label: format!("{}{}", capitalise(&unit_label(&data, unit)), scale(log_y)),
        series,
        log_x,
        log_y,
        x_names: Vec::new(),
        band_note: "shaded: the samples' interquartile range".into(),
    };
    let size = args.size;
    load_font()?;
    match format {
        Format::Png => {
            let root = png_backend(&args.output, size)?.into_drawing_area();
            draw(&root, &chart)?;
            root.present()
                .map_err(|e| anyhow!("cannot write {}: {e}", args.output.display()))?;
        }
        Format::Svg => {
            let root = SVGBackend::new(&args.output, size).into_drawing_area();
            draw(&root, &chart)?;
            root.present()
                .map_err(|e| anyhow!("cannot write {}: {e}", args.output.display()))?;
        }
    }
    crate::console::eprintln(&format!("Saved {}", args.output.display()));
    Ok(())
}

fn list(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn metric_word(metric: Figure) -> &'static str {
    match metric {
        Figure::Time => "time",
        Figure::Memory => "memory",
        Figure::Increase => "memory increase",
    }
}

fn axis_word(axis: XAxis) -> &'static str {
    match axis {
        XAxis::SequenceLength => "sequence length",
        XAxis::BatchSize => "batch size",
    }
}

fn unit_label(data: &Data, time_unit: &str) -> String {
    match data.metric {
        Figure::Time => format!("{} in {time_unit}", data.what),
        Figure::Memory | Figure::Increase => format!("{} in MB", data.what),
    }
}

/// The unit times are drawn in, chosen by the largest: s, ms or µs, and its size in seconds.
pub(super) fn time_unit(largest: f64) -> (&'static str, f64) {
    [("s", 1.0), ("ms", 1e-3)]
        .into_iter()
        .find(|(_, size)| largest >= *size)
        .unwrap_or(("µs", 1e-6))
}

pub(super) enum Format {
    Png,
    Svg,
}

impl Format {
    pub(super) fn of(path: &Path) -> Result<Format> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => bail!(
                "-o {}: the chart's file name must end in .svg or .png",
                path.display()
            ),
        }
    }
}

/// Reads every file: JSON exports (by their content) or result CSV files.
pub fn load(files: &[PathBuf], mode: Mode, metric: Option<Figure>) -> Result<Data> {
    let mut loaded: Vec<(String, Vec<Point>, Figure, String)> = Vec::new();
    for file in files {
        let text = super::read_input(file, "")?;
        let label = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (points, metric, what) = if text.trim_start().starts_with('{') {
            let sweep = json::read(file)?.sweep;
            from_sweep(&sweep, mode, metric)
        } else {
            let metric = metric.unwrap_or_else(|| {
                if label.to_ascii_lowercase().contains("memory") {
                    Figure::Memory
                } else {
                    Figure::Time
                }
            });
            let points = csv::read_results(file)?
                .into_iter()
                .filter_map(|r| {
                    // A sweep over frameworks, dtypes or threads: one line per (model,
                    // framework, dtype, threads).
                    let model = match &r.framework {
                        Some(f) => format!("{}, {f}", r.model),
                        None => r.model.clone(),
                    };
                    let model = match (&r.dtype, &r.threads) {
                        (Some(d), Some(t)) if t == "1" => format!("{model}, {d}, 1 thread"),
                        (Some(d), Some(t)) => format!("{model}, {d}, {t} threads"),
                        _ => model,
                    };
                    r.value.map(|value| Point {
                        model,
                        batch_size: r.batch_size,
                        sequence_length: r.sequence_length,
                        value,
                        spread: None,
                    })
                })
                .collect();
            let what = match metric {
                Figure::Time => "time per call",
                Figure::Memory | Figure::Increase => "memory",
            };
            (points, metric, what.to_string())
        };
        loaded.push((label, points, metric, what));
    }
    let (metric, what) = (loaded[0].2, loaded[0].3.clone());
    if let Some(other) = loaded.iter().find(|l| l.2 != metric) {
        bail!(
            "{} holds {} but {} holds {}; plot them apart, or choose with --metric",
            loaded[0].0,
            metric_word(metric),
            other.0,
            metric_word(other.2)
        );
    }
    let what = if loaded.iter().all(|l| l.3 == what) {
        what
    } else {
        metric_word(metric).to_string()
    };
    Ok(Data {
        metric,
        what,
        files: loaded
            .into_iter()
            .map(|(label, points, ..)| (label, points))
            .collect(),
    })
}

/// The figures of one section of a JSON export, and what they are.
fn from_sweep(sweep: &Sweep, mode: Mode, metric: Option<Figure>) -> (Vec<Point>, Figure, String) {
    let has = |m: Metric| {
        sweep
            .rows
            .iter()
            .any(|(c, _)| c.mode == mode && c.metric == m)
    };
    let metric = metric.unwrap_or(if has(Metric::Speed) || !has(Metric::Memory) {
        Figure::Time
    } else {
        Figure::Memory
    });
    let wanted = match metric {
        Figure::Time => Metric::Speed,
        Figure::Memory | Figure::Increase => Metric::Memory,
    };
    let mut statistics = Vec::new();
    let mut gpu = false;
    let axes = sweep.axes();
    let points = sweep
        .rows
        .iter()
        .filter(|(c, _)| c.mode == mode && c.metric == wanted)
        .filter_map(|(cell, result)| {
            let mut spread = None;
            let value = match result {
                // A generation cell's time is its median time per output token, its spread
                // the requests' TPOTs.
                CellResult::Speed(s) if s.generation.is_some() => {
                    let g = s.generation.as_ref()?;
                    let tpots: Vec<f64> = (g.token_seconds.iter())
                        .filter(|r| r.len() >= 2)
                        .map(|r| (r[r.len() - 1] - r[0]) / (r.len() - 1) as f64)
                        .collect();
                    spread = crate::measure::stats::quartiles(&tpots).filter(|_| tpots.len() >= 2);
                    g.tpot.as_ref()?.median
                }
                CellResult::Speed(s) => {
                    statistics.push(s.statistic);
                    // A lone sample has no spread worth drawing.
                    spread = crate::measure::stats::quartiles(&s.samples)
                        .filter(|_| s.samples.len() >= 2);
                    s.seconds
                }
                CellResult::Memory(m) => {
                    gpu |= m.gpu.is_some();
                    let bytes = match (metric, &m.gpu) {
                        (Figure::Increase, Some(g)) => g
                            .allocator
                            .peak_allocated
                            .saturating_sub(g.baseline_allocated_bytes),
                        (Figure::Increase, None) => m.rss_increase_bytes(),
                        _ => memory_figure(m),
                    };
                    to_mib(bytes) as f64
                }
                CellResult::NotAvailable { .. } => return None,
            };
            // One line per framework, dtype and thread count where they vary: `tiny,
            // tensorflow, bf16, 2 threads`.
            let variant: String = (axes.parts(&cell.settings).iter())
                .map(|p| format!(", {p}"))
                .collect();
            Some(Point {
                // One line per count of new tokens, too.
                model: match cell.new_tokens {
                    Some(n) => format!("{}{variant} ({n} new)", cell.model),
                    None => format!("{}{variant}", cell.model),
                },
                batch_size: cell.batch_size,
                sequence_length: cell.sequence_length,
                value,
                spread,
            })
        })
        .collect();
    let what = match metric {
        Figure::Time if mode == Mode::Generation => "median time per output token",
        Figure::Time => match statistics.first() {
            Some(first) if statistics.iter().all(|s| s == first) => match first {
                Statistic::Median => "median time per call",
                Statistic::Minimum => "fastest time per call",
            },
            _ => "time per call",
        },
        Figure::Memory if gpu => "GPU memory used",
        Figure::Memory => "peak resident memory",
        Figure::Increase if gpu => "peak allocated memory increase",
        Figure::Increase => "resident memory increase",
    };
    (points, metric, what.to_string())
}

/// One line per model and batch size (x = sequence length) or per model and sequence length
/// (x = batch size), in the order the files hold them, points sorted along x.
pub fn series(data: &Data, axis: XAxis) -> Vec<Series> {
    let several = data.files.len() > 1;
    let mut series: Vec<Series> = Vec::new();
    for (file, points) in &data.files {
        for p in points {
            let (x, label) = match axis {
                XAxis::SequenceLength => (
                    p.sequence_length,
                    format!("{}, batch {}", p.model, p.batch_size),
                ),
                XAxis::BatchSize => (
                    p.batch_size,
                    format!("{}, sequence {}", p.model, p.sequence_length),
                ),
            };
            let label = if several {
                format!("{file}: {label}")
            } else {
                label
            };
            let point = (x as f64, p.value);
            let spread = p.spread.map(|(lo, hi)| (x as f64, lo, hi));
            match series.iter_mut().find(|s| s.label == label) {
                Some(s) => {
                    s.points.push(point);
                    s.spread.extend(spread);
                }
                None => series.push(Series {
                    label,
                    points: vec![point],
                    spread: spread.into_iter().collect(),
                    marked: Vec::new(),
                }),
            }
        }
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
        s.spread.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    series
}

/// What is drawn.
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub log_x: bool,
    pub log_y: bool,
    /// Names of the x positions 0, 1, 2...: the x ticks say them instead of numbers.
    pub x_names: Vec<String>,
    /// What the shaded bands are, under the legend.
    pub band_note: String,
}

/// Tableau's ten colours: distinguishable, also in grey-scale print.
pub(super) const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// An axis: its range and ticks in drawing space (logarithms on a log axis).
struct Axis {
    range: std::ops::Range<f64>,
    ticks: Vec<f64>,
    minor: Vec<f64>,
}

/// A linear plotters axis whose ticks are ours.
struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
    minor: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

impl Axis {
    fn coord(self) -> Ticked {
        Ticked {
            inner: self.range.into(),
            ticks: self.ticks,
            minor: self.minor,
        }
    }
}

/// 1, 2, 5 times powers of ten (or every integer multiple, for narrow ranges) in [lo, hi].
fn log_ticks(lo: f64, hi: f64, mantissas: &[f64]) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut power = 10f64.powf(lo.log10().floor());
    while power <= hi {
        for m in mantissas {
            let t = m * power;
            if t >= lo * (1.0 - 1e-9) && t <= hi * (1.0 + 1e-9) {
                ticks.push(t);
            }
        }
        power *= 10.0;
    }
    ticks
}

fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 6.0;
    if raw <= 0.0 || !raw.is_finite() {
        return vec![lo];
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let mut t = (lo / step).ceil() * step;
    let mut ticks = Vec::new();
    while t <= hi + step * 1e-9 {
        ticks.push(t);
        t += step;
    }
    ticks
}

/// The x axis ticks at the measured sizes, when there are few enough of them.
fn x_axis(values: &[f64], log: bool) -> Axis {
    let (lo, hi) = bounds(values);
    let mut distinct: Vec<f64> = values.to_vec();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    if log {
        let (lo, hi) = if lo == hi {
            (lo / 2.0, hi * 2.0)
        } else {
            (lo, hi)
        };
        let pad = (hi / lo).powf(0.05);
        let ticks = if distinct.len() <= 16 {
            distinct
        } else {
            log_ticks(lo, hi, &[1.0, 2.0, 5.0])
        };
        Axis {
            range: (lo / pad).ln()..(hi * pad).ln(),
            ticks: ticks.iter().map(|t| t.ln()).collect(),
            minor: Vec::new(),
        }
    } else {
        let (lo, hi) = if lo == hi {
            (lo - 1.0, hi + 1.0)
        } else {
            (lo, hi)
        };
        let pad = (hi - lo) * 0.05;
        let ticks = if distinct.len() <= 16 {
            distinct
        } else {
            linear_ticks(lo, hi)
        };
        Axis {
            range: (lo - pad)..(hi + pad),
            ticks,
            minor: Vec::new(),
        }
    }
}

fn y_axis(values: &[f64], log: bool) -> Axis {
    let (lo, hi) = bounds(values);
    if log {
        let (lo, hi) = if lo == hi {
            (lo / 2.0, hi * 2.0)
        } else {
            (lo, hi)
        };
        let pad = (hi / lo).powf(0.08).max(1.05);
        let (lo, hi) = (lo / pad, hi * pad);
        let mut ticks = log_ticks(lo, hi, &[1.0, 2.0, 5.0]);
        if ticks.len() < 4 {
            ticks = log_ticks(lo, hi, &[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        }
        if ticks.len() > 12 {
            ticks = log_ticks(lo, hi, &[1.0]);
        }
        let minor = log_ticks(lo, hi, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        Axis {
            range: lo.ln()..hi.ln(),
            ticks: ticks.iter().map(|t| t.ln()).collect(),
            minor: minor.iter().map(|t| t.ln()).collect(),
        }
    } else {
        let hi = if hi <= 0.0 { 1.0 } else { hi * 1.08 };
        let lo = lo.min(0.0);
        Axis {
            range: lo..hi,
            ticks: linear_ticks(lo, hi),
            minor: Vec::new(),
        }
    }
}

fn bounds(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

/// Three significant digits, without trailing zeros: 8, 128, 0.0123, 1.5.
pub fn format_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".into();
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{x:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Characters of a legend label before it is shortened.
const LEGEND_CHARS: usize = 48;

fn shorten(label: &str) -> String {
    if label.chars().count() <= LEGEND_CHARS {
        return label.to_string();
    }
    // Keep the end, where the batch size or sequence length is.
    let tail: String = label
        .chars()
        .rev()
        .take(LEGEND_CHARS - 1)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

pub(super) fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| anyhow!("cannot draw the chart: {e}");
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    // The title spans the whole width; the legend gets a panel right of the plot, so it never
    // hides a line.
    let root = root
        .margin(14, 6, 6, 6)
        .titled(&chart.title, ("sans-serif", 24))
        .map_err(|e| fail(&e))?;
    let labels: Vec<String> = chart.series.iter().map(|s| shorten(&s.label)).collect();
    let legend_font: TextStyle = ("sans-serif", 15).into_font().color(&BLACK);
    let spread_note = chart.band_note.as_str();
    let note_font: TextStyle = ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90));
    let mut longest = 0;
    for label in &labels {
        let (w, _) = root
            .estimate_text_size(label, &legend_font)
            .map_err(|e| fail(&e))?;
        longest = longest.max(w);
    }
    let spread = chart.series.iter().any(|s| !s.spread.is_empty());
    if spread {
        let (w, _) = (root.estimate_text_size(spread_note, &note_font)).map_err(|e| fail(&e))?;
        // The note starts at the legend's left edge, not after a line sample.
        longest = longest.max(w.saturating_sub(34));
    }
    let width = root.dim_in_pixel().0;
    let legend_width = (longest + 56).clamp(120, width * 9 / 20);
    let (plot_area, legend_area) = root.split_horizontally(width - legend_width);
    let (log_x, log_y) = (chart.log_x, chart.log_y);
    let axis = |log: bool, v: f64| if log { v.ln() } else { v };
    let unaxis = move |log: bool, v: f64| if log { v.exp() } else { v };
    // A log axis cannot show zero or less.
    let drawable = |&(x, y): &(f64, f64)| (!log_x || x > 0.0) && (!log_y || y > 0.0);
    let points: Vec<(f64, f64)> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(drawable)
        .collect();
    let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = (points.iter().map(|p| p.1))
        .chain(
            (chart.series.iter())
                .flat_map(|s| s.spread.iter())
                .filter(|b| drawable(&(b.0, b.1)))
                .flat_map(|b| [b.1, b.2]),
        )
        .collect();
    let mut ctx = ChartBuilder::on(&plot_area)
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d(x_axis(&xs, log_x).coord(), y_axis(&ys, log_y).coord())
        .map_err(|e| fail(&e))?;
    let x_format = move |v: &f64| match chart.x_names.is_empty() {
        true => format_number(unaxis(log_x, *v)),
        // Named positions: only whole ones have a name.
        false => (v.fract().abs() < 1e-9)
            .then(|| chart.x_names.get(*v as usize))
            .flatten()
            .map(|n| shorten(n))
            .unwrap_or_default(),
    };
    let y_format = move |v: &f64| format_number(unaxis(log_y, *v));
    ctx.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 15))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(205, 205, 205))
        .draw()
        .map_err(|e| fail(&e))?;
    // The spread first, under every line: a band where a line has two or more points with
    // samples, an error bar at a lone point.
    for (index, series) in chart.series.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        let band: Vec<(f64, f64, f64)> = (series.spread.iter())
            .filter(|b| drawable(&(b.0, b.1)))
            .map(|&(x, lo, hi)| (axis(log_x, x), axis(log_y, lo), axis(log_y, hi)))
            .collect();
        if band.len() >= 2 {
            let outline: Vec<(f64, f64)> = (band.iter().map(|b| (b.0, b.1)))
                .chain(band.iter().rev().map(|b| (b.0, b.2)))
                .collect();
            ctx.draw_series(std::iter::once(Polygon::new(
                outline,
                colour.mix(0.2).filled(),
            )))
            .map_err(|e| fail(&e))?;
        } else {
            for &(x, lo, hi) in &band {
                ctx.draw_series(std::iter::once(PathElement::new(
                    vec![(x, lo), (x, hi)],
                    colour.mix(0.6).stroke_width(2),
                )))
                .map_err(|e| fail(&e))?;
            }
        }
    }
    for (index, series) in chart.series.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        let line: Vec<(f64, f64)> = series
            .points
            .iter()
            .copied()
            .filter(drawable)
            .map(|(x, y)| (axis(log_x, x), axis(log_y, y)))
            .collect();
        ctx.draw_series(LineSeries::new(line.clone(), colour.stroke_width(2)))
            .map_err(|e| fail(&e))?;
        ctx.draw_series(line.iter().map(|&p| Circle::new(p, 4, colour.filled())))
            .map_err(|e| fail(&e))?;
        let marked = (series.marked.iter().copied())
            .filter(drawable)
            .map(|(x, y)| (axis(log_x, x), axis(log_y, y)));
        ctx.draw_series(marked.map(|p| TriangleMarker::new(p, 9, RED.filled())))
            .map_err(|e| fail(&e))?;
        let y = 28 + 24 * index as i32;
        legend_area
            .draw(&PathElement::new(
                vec![(4, y), (30, y)],
                colour.stroke_width(2),
            ))
            .and_then(|_| legend_area.draw(&Circle::new((17, y), 4, colour.filled())))
            .and_then(|_| {
                legend_area.draw(&Text::new(
                    labels[index].as_str(),
                    (38, y - 8),
                    legend_font.clone(),
                ))
            })
            .map_err(|e| fail(&e))?;
    }
    if spread {
        let y = 28 + 24 * chart.series.len() as i32;
        legend_area
            .draw(&Text::new(spread_note, (4, y - 8), note_font))
            .map_err(|e| fail(&e))?;
    }
    Ok(())
}

/// DejaVu Sans (free licence, assets/fonts/DejaVuSans-LICENSE.txt), embedded so that charts
/// render the same on every machine, with no system fonts installed.
const EMBEDDED_FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the chart's font as "sans-serif" for plotters, once: `$RUN_BENCHMARK_FONT` (a
/// TrueType file) where set, else the embedded DejaVu Sans.
pub(super) fn load_font() -> Result<()> {
    LOADED
        .get_or_init(|| {
            let (bytes, name): (&'static [u8], String) =
                match std::env::var_os("RUN_BENCHMARK_FONT") {
                    Some(path) => {
                        let path = PathBuf::from(path);
                        let bytes = std::fs::read(&path)
                            .map_err(|e| format!("cannot read font {}: {e}", path.display()))?;
                        (
                            Box::leak(bytes.into_boxed_slice()),
                            path.display().to_string(),
                        )
                    }
                    None => (EMBEDDED_FONT, "the embedded DejaVu Sans".into()),
                };
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| format!("{name} is not a TrueType font"))?;
            Ok(bytes)
        })
        .clone()
        .map(|_| ())
        .map_err(|e| anyhow!(e))
}

static LOADED: std::sync::OnceLock<Result<&'static [u8], String>> = std::sync::OnceLock::new();

/// The TrueType bytes charts are drawn in (the embedded font until [`load_font`] loads one).
pub(super) fn font_bytes() -> &'static [u8] {
    match LOADED.get() {
        Some(Ok(bytes)) => bytes,
        _ => EMBEDDED_FONT,
    }
}

/// A PNG file's drawing backend: the bitmap, with text drawn by [`super::raster_text`].
pub(super) fn png_backend(
    path: &Path,
    size: (u32, u32),
) -> Result<super::raster_text::TrueText<BitMapBackend<'_>>> {
    super::raster_text::TrueText::new(BitMapBackend::new(path, size), font_bytes())
        .map_err(|_| anyhow!("the chart's font is not a TrueType font"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_three_significant_digits() {
        assert_eq!(format_number(8.0), "8");
        assert_eq!(format_number(127.99999), "128");
        assert_eq!(format_number(0.012345), "0.0123");
        assert_eq!(format_number(1.5), "1.5");
        assert_eq!(format_number(2048.0), "2048");
    }

    #[test]
    fn log_ticks_are_one_two_five() {
        let t = log_ticks(0.003, 0.06, &[1.0, 2.0, 5.0]);
        let expected = [0.005, 0.01, 0.02, 0.05];
        assert_eq!(t.len(), expected.len(), "{t:?}");
        assert!(
            t.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-12),
            "{t:?}"
        );
    }

    #[test]
    fn series_are_one_per_model_and_batch_size_sorted_along_x() {
        let p = |model: &str, b, s, v| Point {
            model: model.into(),
            batch_size: b,
            sequence_length: s,
            value: v,
            spread: Some((0.9 * v, 1.1 * v)),
        };
        let data = Data {
            metric: Figure::Time,
            what: "time".into(),
            files: vec![(
                "f".into(),
                vec![
                    p("a", 8, 32, 2.0),
                    p("a", 8, 8, 1.0),
                    p("a", 1, 8, 0.5),
                    p("b", 8, 8, 3.0),
                ],
            )],
        };
        let s = series(&data, XAxis::SequenceLength);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].label, "a, batch 8");
        assert_eq!(s[0].points, vec![(8.0, 1.0), (32.0, 2.0)]);
        // The spread follows its points along x.
        assert_eq!(s[0].spread, vec![(8.0, 0.9, 1.1), (32.0, 1.8, 2.2)]);
        let s = series(&data, XAxis::BatchSize);
        assert_eq!(s[0].label, "a, sequence 32");
        assert_eq!(s[1].label, "a, sequence 8");
        assert_eq!(s[1].points, vec![(1.0, 0.5), (8.0, 1.0)]);
    }
}

//! `run-benchmark history` and `plot --history`: each cell's figure over the runs of the
//! results database, as a table (a row per cell and run) or a chart (a line per cell, the
//! runs along x, the 95% interval as a band), the changes beyond the run-to-run spread marked.

use super::plot::{self, Chart, Series};
use super::{format_seconds, TIME_DIGITS};
use crate::cell::Metric;
use crate::console;
use crate::db::history::{CellHistory, MIN_CHANGE, SPREAD_FACTOR};
use crate::db::store::{CellKey, RunSummary};
use crate::measure::memory::to_mib;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

/// A cell in one line: `bert-base f32 cpu 1 thread batch 8 sequence 128 inference`, with its
/// framework after the model where it is not PyTorch (`bert-base tensorflow f32 ...`), and
/// ONNX Runtime's level and a forced routing where they apply.
pub fn describe(key: &CellKey) -> String {
    let threads = match key.threads {
        Some(1) => "1 thread".to_string(),
        Some(n) => format!("{n} threads"),
        None => "default threads".to_string(),
    };
    let new_tokens = key
        .new_tokens
        .map(|n| format!(" {n} new tokens"))
        .unwrap_or_default();
    let mut model = key.model.clone();
    if key.framework != "pytorch" {
        model = format!("{model} {}", key.framework);
    }
    if let Some(level) = &key.onnxruntime_level {
        model = format!("{model} {level}");
    }
    if let Some(routing) = &key.routing {
        model = format!("{model} routing {routing}");
    }
    format!(
        "{model} {} {} {threads} batch {} sequence {}{new_tokens} {}",
        key.dtype, key.device, key.batch_size, key.sequence_length, key.mode
    )
}

fn figure(metric: Metric, value: f64) -> String {
    match metric {
        Metric::Speed => format_seconds(value, TIME_DIGITS),
        Metric::Memory => format!("{} MB", to_mib(value as u64)),
    }
}

fn percent(change: f64) -> String {
    format!("{:+.1}%", 100.0 * change)
}

/// The arrow of a marked change: up is slower or larger.
fn arrow(change: f64, metric: Metric) -> &'static str {
    match (change > 0.0, metric) {
        (true, Metric::Speed) => "▲ slower",
        (false, Metric::Speed) => "▼ faster",
        (true, Metric::Memory) => "▲ larger",
        (false, Metric::Memory) => "▼ smaller",
    }
}

fn date(run: &RunSummary) -> String {
    run.started.replace('T', " ").chars().take(16).collect()
}

/// The table and what it means, fitted to `width`.
pub fn render(cells: &[CellHistory], width: Option<usize>) -> String {
    let columns = [
        "Cell", "Run", "Date", "Label", "Figure", "Change", "Marked", "95% CI",
    ]
    .map(String::from);
    let mut rows = Vec::new();
    for cell in cells {
        for (i, p) in cell.points.iter().enumerate() {
            rows.push(vec![
                if i == 0 {
                    describe(&cell.key)
                } else {
                    String::new()
                },
                p.run.id.to_string(),
                date(&p.run),
                p.run.name(),
                figure(cell.metric, p.value),
                p.change.map(percent).unwrap_or_default(),
                match (p.marked, p.change) {
                    (true, Some(c)) => arrow(c, cell.metric).to_string(),
                    _ => String::new(),
                },
                p.interval
                    .map(|(lo, hi)| {
                        format!("{} to {}", figure(cell.metric, lo), figure(cell.metric, hi))
                    })
                    .unwrap_or_default(),
            ]);
        }
    }
    let (table, dropped) = super::table::fitted(&columns, &rows, 1, &[0, 3], width);
    let mut out = format!("{table}\n");
    let mut notes = vec![format!(
        "Marked: a change from the cell's run before of more than {SPREAD_FACTOR} times its \
         run-to-run spread (the median change between its runs) and at least {}%, the two \
         runs' 95% intervals apart; it takes three runs of a cell to know its spread.",
        100.0 * MIN_CHANGE
    )];
    for cell in cells {
        for p in cell.points.iter().filter(|p| p.marked) {
            notes.push(format!(
                "{}: {} at run {} ({}): {} -> {}",
                describe(&cell.key),
                percent(p.change.unwrap_or_default()),
                p.run.id,
                p.run.name(),
                cell.points
                    .iter()
                    .take_while(|q| q.run.id != p.run.id)
                    .last()
                    .map(|q| figure(cell.metric, q.value))
                    .unwrap_or_default(),
                figure(cell.metric, p.value)
            ));
        }
    }
    if !dropped.is_empty() {
        notes.push(format!(
            "Left out to fit the terminal: {}.",
            dropped.join(", ")
        ));
    }
    for line in notes {
        let _ = writeln!(out, "{}", console::wrap(&line, width));
    }
    out
}

/// Draws the history: one line per cell, the runs (oldest first) along x, named by label or
/// commit; the 95% interval as a band; marked changes as red triangles.
pub fn draw(
    cells: &[CellHistory],
    output: &Path,
    title: Option<&str>,
    size: (u32, u32),
    linear: bool,
) -> Result<()> {
    let format = plot::Format::of(output)?;
    let mut runs: Vec<&RunSummary> = cells
        .iter()
        .flat_map(|c| c.points.iter().map(|p| &p.run))
        .collect();
    runs.sort_by_key(|r| r.id);
    runs.dedup_by_key(|r| r.id);
    let x = |run: &RunSummary| runs.iter().position(|r| r.id == run.id).unwrap_or(0) as f64;
    let metric = cells.first().map(|c| c.metric).unwrap_or(Metric::Speed);
    let largest = (cells.iter())
        .flat_map(|c| c.points.iter())
        .map(|p| p.interval.map_or(p.value, |i| i.1.max(p.value)))
        .fold(0.0, f64::max);
    let (unit, size_of_unit) = match metric {
        Metric::Speed => plot::time_unit(largest),
        Metric::Memory => ("MB", 1024.0 * 1024.0),
    };
    let series: Vec<Series> = cells
        .iter()
        .map(|c| Series {
            label: describe(&c.key),
            points: (c.points.iter())
                .map(|p| (x(&p.run), p.value / size_of_unit))
                .collect(),
            spread: (c.points.iter())
                .filter_map(|p| {
                    let (lo, hi) = p.interval?;
                    Some((x(&p.run), lo / size_of_unit, hi / size_of_unit))
                })
                .collect(),
            marked: (c.points.iter())
                .filter(|p| p.marked)
                .map(|p| (x(&p.run), p.value / size_of_unit))
                .collect(),
        })
        .collect();
    let values: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    let log_y = !linear && lo > 0.0 && hi / lo >= 3.0;
    let what = match metric {
        Metric::Speed => "time per call",
        Metric::Memory => "memory",
    };
    let chart = Chart {
        title: title
            .map(String::from)
            .unwrap_or_else(|| format!("{} over the runs", plot::capitalise(what))),
        x_label: "Run (label or commit), oldest first".into(),
        y_label: format!(
            "{} in {unit}{}",
            plot::capitalise(what),
            if log_y { ", log scale" } else { "" }
        ),
        series,
        log_x: false,
        log_y,
        x_names: runs.iter().map(|r| r.name()).collect(),
        band_note: "shaded: each run's 95% interval; red: a change beyond the spread".into(),
    };
    plot::load_font()?;
    let fail = |e: &dyn std::fmt::Display| anyhow!("cannot write {}: {e}", output.display());
    match format {
        plot::Format::Png => {
            let root = plot::png_backend(output, size)?.into_drawing_area();
            plot::draw(&root, &chart)?;
            root.present().map_err(|e| fail(&e))?;
        }
        plot::Format::Svg => {
            let root = SVGBackend::new(output, size).into_drawing_area();
            plot::draw(&root, &chart)?;
            root.present().map_err(|e| fail(&e))?;
        }
    }
    console::eprintln(&format!("Saved {}", output.display()));
    Ok(())
}

//! `run-benchmark plot --roofline`: every speed cell of JSON exports as a point at its
//! arithmetic intensity (FLOPs per byte) and achieved FLOP/s, under the machine's two
//! ceilings (the bandwidth line, rising, and the matmul line, flat), log-log, as SVG or PNG.
//! Generation cells are drawn by their decode steps.

use super::plot::{load_font, png_backend, Format, Options, COLOURS};
use super::roofline::{Bound, Roofline};
use super::{json, section_rows};
use crate::cell::{CalibrationResult, CellResult, Metric, Mode};
use anyhow::{anyhow, bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One cell on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// "bert-base-uncased b1 s128", "gpt2 b1 s8 decode".
    pub label: String,
    pub intensity: f64,
    pub flops_per_second: f64,
    pub bound: Bound,
}

/// What the chart shows: the ceilings (one pair per calibration) and the cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    /// (label, matmul FLOP/s, read bytes/s) of every distinct calibration of the points.
    pub ceilings: Vec<(String, f64, f64)>,
    pub points: Vec<Point>,
}

/// The points and ceilings of every speed cell (every mode) in the files.
pub fn load(args: &Options) -> Result<Data> {
    let mut data = Data {
        ceilings: Vec::new(),
        points: Vec::new(),
    };
    for file in &args.files {
        let sweep = json::read(file)?.sweep;
        let axes = sweep.axes();
        for mode in [Mode::Inference, Mode::Training, Mode::Generation] {
            for (cell, result) in section_rows(&sweep.rows, mode, Metric::Speed) {
                let CellResult::Speed(speed) = result else {
                    continue;
                };
                let calibration = sweep.calibration_for(&cell.settings);
                let Some(r) = Roofline::of(cell, speed, calibration) else {
                    continue;
                };
                let c: &CalibrationResult = calibration.expect("a roofline has a calibration");
                let read = c.bandwidth.map_or(0.0, |b| b.read_bytes_per_second);
                let ceiling = format!(
                    "{}{}",
                    sweep.settings.device,
                    match axes.dtype_varies() || axes.threads_vary() {
                        true => format!(",{}", axes.describe(&cell.settings)),
                        false => String::new(),
                    }
                );
                if !(data.ceilings.iter()).any(|(_, f, b)| *f == c.flops_per_second && *b == read) {
                    data.ceilings.push((ceiling, c.flops_per_second, read));
                }
                let what = match mode {
                    Mode::Inference => "",
                    Mode::Training => " training",
                    Mode::Generation => " decode",
                };
                data.points.push(Point {
                    label: format!(
                        "{} b{} s{}{what}",
                        cell.model, cell.batch_size, cell.sequence_length
                    ),
                    intensity: r.intensity,
                    flops_per_second: r.flops_per_second,
                    bound: r.bound,
                });
            }
        }
    }
    if data.points.is_empty() {
        bail!(
            "nothing to plot: no speed cell with FLOPs, bytes and both calibrated ceilings \
             (matmul and bandwidth) in {}",
            (args.files.iter())
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(data)
}

pub fn run(args: &Options) -> Result<()> {
    let format = Format::of(&args.output)?;
    let data = load(args)?;
    let title = (args.title.clone())
        .unwrap_or_else(|| "Roofline: achieved GFLOP/s against FLOPs per byte".into());
    load_font()?;
    let written =
        |e: &dyn std::fmt::Display| anyhow!("cannot write {}: {e}", args.output.display());
    match format {
        Format::Png => {
            let root = png_backend(&args.output, args.size)?.into_drawing_area();
            draw(&root, &title, &data)?;
            root.present().map_err(|e| written(&e))?;
        }
        Format::Svg => {
            let root = SVGBackend::new(&args.output, args.size).into_drawing_area();
            draw(&root, &title, &data)?;
            root.present().map_err(|e| written(&e))?;
        }
    }
    crate::console::eprintln(&format!("Saved {}", args.output.display()));
    Ok(())
}

/// A log range around `values` with a margin of `pad` times at each end.
fn span(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    (lo / pad, hi * pad)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, data: &Data) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| anyhow!("cannot draw the chart: {e}");
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let root = (root.margin(14, 6, 6, 6))
        .titled(title, ("sans-serif", 24))
        .map_err(|e| fail(&e))?;
    // GFLOP/s on the y axis; the x axis spans the points and every ridge point.
    let ridges = data.ceilings.iter().map(|(_, f, b)| f / b);
    let (x_lo, x_hi) = span(data.points.iter().map(|p| p.intensity).chain(ridges), 3.0);
    let ys = (data.points.iter().map(|p| p.flops_per_second / 1e9))
        .chain(data.ceilings.iter().map(|(_, f, _)| f / 1e9));
    let (y_lo, y_hi) = span(ys, 2.0);
    let mut ctx = ChartBuilder::on(&root)
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())
        .map_err(|e| fail(&e))?;
    let number = |v: &f64| super::plot::format_number(*v);
    ctx.configure_mesh()
        .x_desc("Arithmetic intensity, FLOPs per byte of memory traffic (log scale)")
        .y_desc("Achieved GFLOP/s (log scale)")
        .x_label_formatter(&number)
        .y_label_formatter(&number)
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 15))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(205, 205, 205))
        .draw()
        .map_err(|e| fail(&e))?;
    let grey = RGBColor(90, 90, 90);
    let note: TextStyle = ("sans-serif", 14).into_font().color(&grey);
    for (index, (label, flops, bytes)) in data.ceilings.iter().enumerate() {
        let (peak, bandwidth) = (flops / 1e9, bytes / 1e9);
        let ridge = peak / bandwidth;
        // Each ceiling over the whole axis, faint; the roof (the lower of the two) bold.
        // Ended inside the chart: a point past the axis bends the line where it is clipped.
        let x_end = x_hi.min(y_hi / bandwidth);
        let memory = vec![(x_lo, bandwidth * x_lo), (x_end, bandwidth * x_end)];
        let compute = vec![(x_lo, peak), (x_hi, peak)];
        for line in [memory, compute] {
            ctx.draw_series(LineSeries::new(line, grey.mix(0.35).stroke_width(1)))
                .map_err(|e| fail(&e))?;
        }
        let roof = vec![(x_lo, bandwidth * x_lo), (ridge, peak), (x_hi, peak)];
        ctx.draw_series(LineSeries::new(roof, BLACK.stroke_width(2)))
            .map_err(|e| fail(&e))?;
        let dy = 1.0 + 0.25 * index as f64;
        ctx.draw_series([
            Text::new(
                format!("{label}: matmul {:.0} GFLOP/s", peak),
                (ridge * 1.2, peak * 1.08 * dy),
                note.clone(),
            ),
            Text::new(
                format!("{label}: read {:.1} GB/s", bandwidth),
                (x_lo * 1.15, bandwidth * x_lo * 1.15 * dy),
                note.clone(),
            ),
        ])
        .map_err(|e| fail(&e))?;
    }
    let label_font: TextStyle = ("sans-serif", 13).into_font().color(&BLACK);
    for (index, p) in data.points.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        let at = (p.intensity, p.flops_per_second / 1e9);
        ctx.draw_series([Circle::new(at, 5, colour.filled())])
            .map_err(|e| fail(&e))?;
        ctx.draw_series([Text::new(
            p.label.clone(),
            (at.0 * 1.08, at.1 * 0.97),
            label_font.clone(),
        )])
        .map_err(|e| fail(&e))?;
    }
    Ok(())
}

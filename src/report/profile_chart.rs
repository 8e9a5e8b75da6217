//! `run-benchmark plot --profile`: one stacked bar per profiled cell of a JSON export, a
//! segment per kind of part (median seconds, summed by kind), so the cells' breakdowns can be
//! compared at a glance.

use super::plot::{load_font, Format, Options, COLOURS};
use super::{json, profile};
use crate::measure::profile::Part;
use anyhow::{anyhow, bail, Result};
use plotters::coord::Shift;
#[allow(unused_imports)]
use plotters::prelude::IntoDrawingArea;
use plotters::prelude::*;

/// One bar: its label and (kind, seconds) from the bottom up.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub segments: Vec<(Part, f64)>,
}

/// The bars of every profiled cell of `mode` in the files, in the order they ran.
pub fn bars(args: &Options) -> Result<Vec<Bar>> {
    let mode = args.mode;
    let mut bars = Vec::new();
    for file in &args.files {
        let export = json::read(file)?;
        for (cell, p) in profile::profiled(&export.sweep.rows) {
            if cell.mode != mode {
                continue;
            }
            let mut segments = p.by_part();
            // Every bar stacks the kinds in one order, so segments line up across bars.
            segments.retain(|&(_, seconds, _)| seconds > 0.0);
            segments.sort_by_key(|&(part, _, _)| KINDS.iter().position(|&k| k == part));
            bars.push(Bar {
                label: format!(
                    "{} b{} s{}",
                    cell.model, cell.batch_size, cell.sequence_length
                ),
                segments: segments.into_iter().map(|(part, s, _)| (part, s)).collect(),
            });
        }
    }
    if bars.is_empty() {
        bail!(
            "nothing to plot: no {} cell measured with --profile in {}",
            mode.name(),
            args.files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(bars)
}

pub fn run(args: &Options) -> Result<()> {
    let format = Format::of(&args.output)?;
    let bars = bars(args)?;
    let mode = args.mode.title();
    let title = args
        .title
        .clone()
        .unwrap_or_else(|| format!("{mode}: where a call's time goes, by kind of part"));
    let size = args.size;
    load_font()?;
    let written =
        |e: &dyn std::fmt::Display| anyhow!("cannot write {}: {e}", args.output.display());
    match format {
        Format::Png => {
            let root = super::plot::png_backend(&args.output, size)?.into_drawing_area();
            draw(&root, &title, &bars)?;
            root.present().map_err(|e| written(&e))?;
        }
        Format::Svg => {
            let root = SVGBackend::new(&args.output, size).into_drawing_area();
            draw(&root, &title, &bars)?;
            root.present().map_err(|e| written(&e))?;
        }
    }
    crate::console::eprintln(&format!("Saved {}", args.output.display()));
    Ok(())
}

/// Kinds in a fixed order, so each keeps its colour across bars and charts.
const KINDS: [Part; 14] = [
    Part::Embeddings,
    Part::Projection,
    Part::AttentionKernel,
    Part::Attention,
    Part::Mlp,
    Part::Norm,
    Part::Layer,
    Part::Encoder,
    Part::Decoder,
    Part::Head,
    Part::Loss,
    Part::Backward,
    Part::Optimizer,
    Part::Other,
];

fn colour(part: Part) -> RGBColor {
    let index = KINDS.iter().position(|&k| k == part).unwrap_or(0);
    match index {
        i if i < COLOURS.len() => COLOURS[i],
        10 => RGBColor(120, 120, 40),
        11 => RGBColor(40, 120, 120),
        12 => RGBColor(160, 60, 160),
        _ => RGBColor(170, 170, 170),
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    bars: &[Bar],
) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| anyhow!("cannot draw the chart: {e}");
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let root = root
        .margin(14, 6, 6, 6)
        .titled(title, ("sans-serif", 24))
        .map_err(|e| fail(&e))?;
    let width = root.dim_in_pixel().0;
    let (plot_area, legend_area) = root.split_horizontally(width - 240);
    let highest = bars
        .iter()
        .map(|b| b.segments.iter().map(|s| s.1).sum::<f64>())
        .fold(0.0, f64::max);
    let (scale, unit) = match highest {
        h if h >= 1.0 => (1.0, "s"),
        h if h >= 1e-3 => (1e3, "ms"),
        _ => (1e6, "µs"),
    };
    let n = bars.len();
    let mut ctx = ChartBuilder::on(&plot_area)
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..highest * scale * 1.05)
        .map_err(|e| fail(&e))?;
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let x_format = |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
            labels[i as usize].clone()
        } else {
            String::new()
        }
    };
    ctx.configure_mesh()
        .disable_x_mesh()
        .x_labels(n.max(1))
        .x_label_formatter(&x_format)
        .y_desc(format!("Median seconds per part, summed by kind ({unit})"))
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 14))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(205, 205, 205))
        .draw()
        .map_err(|e| fail(&e))?;
    for (i, bar) in bars.iter().enumerate() {
        let x = i as f64;
        let mut bottom = 0.0;
        for &(part, seconds) in &bar.segments {
            let top = bottom + seconds * scale;
            ctx.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.35, bottom), (x + 0.35, top)],
                colour(part).filled(),
            )))
            .map_err(|e| fail(&e))?;
            bottom = top;
        }
    }
    let legend_font: TextStyle = ("sans-serif", 15).into_font().color(&BLACK);
    let present: Vec<Part> = KINDS
        .iter()
        .copied()
        .filter(|k| bars.iter().any(|b| b.segments.iter().any(|s| s.0 == *k)))
        .collect();
    // Top to bottom, as the segments are stacked.
    for (index, part) in present.iter().rev().enumerate() {
        let y = 28 + 24 * index as i32;
        legend_area
            .draw(&Rectangle::new(
                [(4, y - 7), (26, y + 7)],
                colour(*part).filled(),
            ))
            .and_then(|_| {
                legend_area.draw(&Text::new(part.label(), (34, y - 8), legend_font.clone()))
            })
            .map_err(|e| fail(&e))?;
    }
    Ok(())
}

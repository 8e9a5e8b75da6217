//! `--dry-run`: every planned cell with the estimates the fit check and the ETA use, and the
//! totals. Nothing is measured.

use super::section::insert_axis_columns;
use super::table::fitted;
use crate::cell::{calibration_in, Axes, Calibration, CalibrationResult, Cell, DeviceChoice};
use crate::console::wrap;
use crate::estimate::Estimate;
use std::io::{self, Write};

const GIB: f64 = (1u64 << 30) as f64;

/// Prints the plan, fitted to `width` (the terminal's; None for a file or pipe). `available`
/// is the memory the fit check compares against; each cell's time is at the calibration of
/// its own dtype and threads. A cell with a reason in `not_measurable` will be N/A without
/// running: its Fits column says N/A, its time is not counted, and the reasons follow.
#[allow(clippy::too_many_arguments)]
pub fn print(
    out: &mut dyn Write,
    cells: &[Cell],
    not_measurable: &[Option<String>],
    estimates: &[Estimate],
    calibrations: &[(Calibration, CalibrationResult)],
    available: Option<u64>,
    device: DeviceChoice,
    width: Option<usize>,
) -> io::Result<()> {
    // The figures a user decides on first; FLOPs and calls (how the time was reckoned) are
    // what a narrow terminal leaves out.
    let columns: Vec<String> = [
        "Model Name",
        "Batch Size",
        "Seq Length",
        "Mode",
        "Metric",
        "Memory GiB",
        "Fits",
        "Time",
        "Per call",
        "GFLOP/call",
        "GB/call",
        "Calls",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = Vec::new();
    let mut total_seconds = 0.0;
    let mut too_big = 0;
    let mut will_be_na: Vec<(String, usize)> = Vec::new();
    for ((cell, e), na) in cells.iter().zip(estimates).zip(not_measurable) {
        let calibration = calibration_in(calibrations, &cell.settings);
        let seconds = match na {
            Some(_) => 0.0,
            None => e.seconds(calibration),
        };
        total_seconds += seconds;
        let fits = match available {
            _ if na.is_some() => {
                let reason = na.clone().unwrap_or_default();
                match will_be_na.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, n)) => *n += 1,
                    None => will_be_na.push((reason, 1)),
                }
                "N/A"
            }
            Some(a) if e.does_not_fit(a, device).is_some() => {
                too_big += 1;
                "no"
            }
            Some(_) if e.memory_bytes.is_some() => "yes",
            _ => "?",
        };
        rows.push(vec![
            cell.model.clone(),
            cell.batch_size.to_string(),
            cell.sequence_length.to_string(),
            match cell.new_tokens {
                Some(n) => format!("{} +{n}", cell.mode.name()),
                None => cell.mode.name().into(),
            },
            cell.metric.name().into(),
            e.memory_bytes
                .map(|b| format!("{:.2}", b / GIB))
                .unwrap_or_else(|| "N/A".into()),
            fits.to_string(),
            // An estimate: two significant digits are all it has.
            super::format_seconds(seconds, 2),
            e.per_call(calibration)
                .map(|s| super::format_seconds(s, 2))
                .unwrap_or_else(|| "N/A".into()),
            e.flops
                .map(|f| format!("{:.2}", f / 1e9))
                .unwrap_or_else(|| "N/A".into()),
            e.traffic
                .map(|t| format!("{:.3}", t.bytes / 1e9))
                .unwrap_or_else(|| "N/A".into()),
            e.calls.to_string(),
        ]);
    }
    // A sweep over dtypes or threads: each cell's, after the model.
    let mut columns = columns;
    let settings: Vec<_> = cells.iter().map(|c| &c.settings).collect();
    let added = insert_axis_columns(&Axes::of(cells), &mut columns, &mut rows, &settings);
    // The left-aligned columns: the model's, and those after the inserted ones.
    let left = [0, 3 + added, 4 + added];
    // What may go at a narrow width, last first: calls, traffic, FLOPs, the time per call.
    let (table, dropped) = fitted(&columns, &rows, 4, &left, width);
    writeln!(out, "{table}")?;
    let peak = estimates
        .iter()
        .filter_map(|e| e.memory_bytes)
        .fold(0.0, f64::max);
    let mut lines = vec![format!(
        "Total: {} cells, ≈{}; largest estimated peak {:.2} GiB{}.",
        cells.len(),
        super::format_seconds(total_seconds, 2),
        peak / GIB,
        available
            .map(|a| format!(", {:.1} GiB available", a as f64 / GIB))
            .unwrap_or_default()
    )];
    if !will_be_na.is_empty() {
        let reasons: Vec<String> = (will_be_na.iter())
            .map(|(reason, n)| format!("{reason} ({n} cell{})", if *n == 1 { "" } else { "s" }))
            .collect();
        lines.push(format!(
            "{} cell(s) will be N/A without running (Fits: N/A, not in the total): {}.",
            will_be_na.iter().map(|(_, n)| n).sum::<usize>(),
            reasons.join("; ")
        ));
    }
    if too_big > 0 {
        lines.push(format!(
            "{too_big} cell(s) would be N/A without running: their estimate exceeds the \
             available memory (--no-fit-check runs them anyway)."
        ));
    }
    lines.push(format!(
        "Estimates: FLOPs count the matrix products of one call (training: 3 x forward); \
         GB/call: its memory traffic (weights, activations, KV cache; docs/measurements.md); \
         Per call: one call at the ceilings, plus 30% overhead; Calls: warm-up and the fewest timed calls; memory: weights, activations, gradients \
         and optimizer state, plus libtorch; time: child start, weight fill and the calls at \
         {} (see docs/measurements.md).",
        match calibrations {
            [] => "an unknown rate (no calibration), so only start and build".into(),
            [(_, c)] => match c.bandwidth {
                Some(b) => format!(
                    "the calibrated ceilings, each part of a call (the prompt, every decode \
                     step) the longer of its FLOPs at {:.1} GFLOP/s and its bytes at {:.1} GB/s",
                    c.flops_per_second / 1e9,
                    b.read_bytes_per_second / 1e9
                ),
                None => format!("the calibrated {:.1} GFLOP/s", c.flops_per_second / 1e9),
            },
            _ => "the calibrated ceilings of each cell's dtype and threads, each part of a call \
                  the longer of its FLOPs at the matmul ceiling and its bytes at the bandwidth \
                  ceiling"
                .into(),
        }
    ));
    if !dropped.is_empty() {
        lines.push(format!(
            "Left out to fit {} columns: {} (a wider terminal or COLUMNS=200 shows them).",
            width.unwrap_or_default(),
            dropped.join(", ")
        ));
    }
    for line in lines {
        writeln!(out, "{}", wrap(&line, width))?;
    }
    Ok(())
}

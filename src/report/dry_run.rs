//! `--dry-run`: every planned cell with the estimates the fit check and the ETA use, and the
//! totals. Nothing is measured.

use crate::cell::{CalibrationResult, Cell, DeviceChoice, Metric, Mode};
use crate::estimate::Estimate;
use comfy_table::{presets::ASCII_FULL_CONDENSED, CellAlignment, Table};
use std::io::{self, Write};

const GIB: f64 = (1u64 << 30) as f64;

/// Prints the plan. `available` is the memory the fit check compares against.
pub fn print(
    out: &mut dyn Write,
    cells: &[Cell],
    estimates: &[Estimate],
    calibration: Option<&CalibrationResult>,
    available: Option<u64>,
    device: DeviceChoice,
) -> io::Result<()> {
    let mut table = Table::new();
    table.load_preset(ASCII_FULL_CONDENSED).set_header([
        "Model Name",
        "Batch Size",
        "Seq Length",
        "Mode",
        "Metric",
        "GFLOP/call",
        "Calls",
        "Memory GiB",
        "Fits",
        "Time s",
    ]);
    let mut total_seconds = 0.0;
    let mut too_big = 0;
    for (cell, e) in cells.iter().zip(estimates) {
        let seconds = e.seconds(calibration);
        total_seconds += seconds;
        let fits = match available {
            Some(a) if e.does_not_fit(a, device).is_some() => {
                too_big += 1;
                "no"
            }
            Some(_) if e.memory_bytes.is_some() => "yes",
            _ => "?",
        };
        table.add_row([
            cell.model.clone(),
            cell.batch_size.to_string(),
            cell.sequence_length.to_string(),
            match cell.mode {
                Mode::Inference => "inference".into(),
                Mode::Training => "training".into(),
                Mode::Generation => match cell.new_tokens {
                    Some(n) => format!("generation +{n}"),
                    None => "generation".into(),
                },
            },
            match cell.metric {
                Metric::Speed => "speed".into(),
                Metric::Memory => "memory".into(),
            },
            e.flops
                .map(|f| format!("{:.2}", f / 1e9))
                .unwrap_or_else(|| "N/A".into()),
            e.calls.to_string(),
            e.memory_bytes
                .map(|b| format!("{:.2}", b / GIB))
                .unwrap_or_else(|| "N/A".into()),
            fits.to_string(),
            format!("{seconds:.1}"),
        ]);
    }
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_cell_alignment(match index {
            0 | 3 | 4 => CellAlignment::Left,
            _ => CellAlignment::Right,
        });
    }
    writeln!(out, "{table}")?;
    let peak = estimates
        .iter()
        .filter_map(|e| e.memory_bytes)
        .fold(0.0, f64::max);
    writeln!(
        out,
        "Total: {} cells, ≈{:.0} s; largest estimated peak {:.2} GiB{}.",
        cells.len(),
        total_seconds,
        peak / GIB,
        available
            .map(|a| format!(", {:.1} GiB available", a as f64 / GIB))
            .unwrap_or_default()
    )?;
    if too_big > 0 {
        writeln!(
            out,
            "{too_big} cell(s) would be N/A without running: their estimate exceeds the \
             available memory (--no-fit-check runs them anyway)."
        )?;
    }
    writeln!(
        out,
        "Estimates: FLOPs count the matrix products of one call (training: 3 x forward); \
         Calls: warm-up and the fewest timed calls; memory: weights, activations, gradients \
         and optimizer state, plus libtorch; time: child start, weight fill and the calls at \
         {} (see docs/measurements.md).",
        match calibration {
            Some(c) => format!("the calibrated {:.1} GFLOP/s", c.flops_per_second / 1e9),
            None => "an unknown rate (no calibration), so only start and build".into(),
        }
    )
}

//! Bordered tables on stdout, one per section, with what the figure is and why cells are N/A.

use super::{header, section_rows, table_value, title, value_label, Row};
use crate::cell::{CellResult, Metric, Mode};
use comfy_table::{presets::ASCII_FULL_CONDENSED, CellAlignment, Table};
use std::io::{self, Write};

/// Prints one section: its header, the table, the statistic shown, and the N/A reasons.
pub fn print_section(
    out: &mut dyn Write,
    rows: &[Row],
    mode: Mode,
    metric: Metric,
) -> io::Result<()> {
    let rows = section_rows(rows, mode, metric);
    writeln!(out, "\n{}", header(title(mode, metric)))?;
    let mut table = Table::new();
    table.load_preset(ASCII_FULL_CONDENSED).set_header([
        "Model Name",
        "Batch Size",
        "Seq Length",
        value_label(metric),
    ]);
    for (cell, result) in &rows {
        table.add_row([
            cell.model.clone(),
            cell.batch_size.to_string(),
            cell.sequence_length.to_string(),
            table_value(result),
        ]);
    }
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_cell_alignment(if index == 0 {
            CellAlignment::Left
        } else {
            CellAlignment::Right
        });
    }
    writeln!(out, "{table}")?;
    writeln!(out, "{}", statistic_note(&rows, metric))?;
    for (cell, result) in &rows {
        if let CellResult::NotAvailable { reason } = result {
            writeln!(
                out,
                "N/A {} (batch {}, sequence {}): {reason}",
                cell.model, cell.batch_size, cell.sequence_length
            )?;
        }
    }
    Ok(())
}

/// Says which statistic the table's figure is.
fn statistic_note(rows: &[&Row], metric: Metric) -> String {
    match metric {
        Metric::Speed => {
            let protocol = rows
                .first()
                .map(|(cell, _)| (cell.settings.repeat, cell.settings.calls_per_repetition));
            match protocol {
                Some((repeat, calls)) => format!(
                    "Time in s: seconds per call, the fastest of {repeat} repetitions of {calls} calls."
                ),
                None => "Time in s: seconds per call.".into(),
            }
        }
        Metric::Memory => {
            let gpu = rows.iter().any(
                |(_, r)| matches!(r, CellResult::Memory { source, .. } if source == "GPU used"),
            );
            if gpu {
                "Memory in MB: used memory of the whole GPU after one call (NVML), MiB.".into()
            } else {
                "Memory in MB: peak resident memory (VmHWM) of the process that built the model and ran one call, MiB.".into()
            }
        }
    }
}

/// The environment information as a two-column table.
pub fn print_environment(out: &mut dyn Write, info: &[(String, String)]) -> io::Result<()> {
    writeln!(out, "\n{}", header("ENVIRONMENT INFORMATION"))?;
    let mut table = Table::new();
    table
        .load_preset(ASCII_FULL_CONDENSED)
        .set_header(["Key", "Value"]);
    for (key, value) in info {
        table.add_row([key, value]);
    }
    writeln!(out, "{table}")
}

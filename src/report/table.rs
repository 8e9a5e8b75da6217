//! Bordered tables on stdout, one per section, the original's headers above them.

use super::section::Section;
use super::{header, Sweep};
use crate::cell::{Metric, Mode};
use comfy_table::{presets::ASCII_FULL_CONDENSED, CellAlignment, Table};
use std::io::{self, Write};

/// Prints one section: its header, the table, what the figure is, and the N/A reasons.
pub fn print_section(
    out: &mut dyn Write,
    sweep: &Sweep,
    mode: Mode,
    metric: Metric,
) -> io::Result<()> {
    let section = super::section::build(sweep, mode, metric);
    write_section(out, &section)
}

fn write_section(out: &mut dyn Write, section: &Section) -> io::Result<()> {
    write_titled_table(
        out,
        section.title(),
        &section.columns,
        &section.rows,
        section.notes.iter().chain(&section.not_available),
    )
}

/// A section in the original's layout: the title between rules, a bordered table with the
/// first column left-aligned and the figures right-aligned, then its notes, one per line.
pub fn write_titled_table<'a>(
    out: &mut dyn Write,
    title: &str,
    columns: &[String],
    rows: &[Vec<String>],
    notes: impl Iterator<Item = &'a String>,
) -> io::Result<()> {
    writeln!(out, "\n{}", header(title))?;
    let mut table = Table::new();
    table
        .load_preset(ASCII_FULL_CONDENSED)
        .set_header(columns.to_vec());
    for line in rows {
        table.add_row(line.clone());
    }
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_cell_alignment(if index == 0 {
            CellAlignment::Left
        } else {
            CellAlignment::Right
        });
    }
    writeln!(out, "{table}")?;
    for line in notes {
        writeln!(out, "{line}")?;
    }
    Ok(())
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

//! The original's CSV files: `model,batch_size,sequence_length,result` per section, and a
//! header-less `key,value` environment file, with `\r\n` line ends as Python's csv module.

use super::{csv_value, section_rows, Row};
use crate::cell::{Metric, Mode};
use anyhow::{Context, Result};
use std::path::Path;

fn writer(path: &Path) -> Result<csv::Writer<std::fs::File>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_path(path)
        .with_context(|| format!("cannot write CSV file {}", path.display()))
}

/// Writes one section's finished rows (rewritten whole, so a partial sweep is kept).
pub fn write_results(path: &Path, rows: &[Row], mode: Mode, metric: Metric) -> Result<()> {
    let mut w = writer(path)?;
    w.write_record(["model", "batch_size", "sequence_length", "result"])?;
    for (cell, result) in section_rows(rows, mode, metric) {
        w.write_record([
            cell.model.clone(),
            cell.batch_size.to_string(),
            cell.sequence_length.to_string(),
            csv_value(result),
        ])?;
    }
    w.flush()
        .with_context(|| format!("cannot write CSV file {}", path.display()))
}

pub fn write_environment(path: &Path, info: &[(String, String)]) -> Result<()> {
    let mut w = writer(path)?;
    for (key, value) in info {
        w.write_record([key, value])?;
    }
    w.flush()
        .with_context(|| format!("cannot write CSV file {}", path.display()))
}

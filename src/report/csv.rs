//! The original's CSV files: `model,batch_size,sequence_length,result` per section, and a
//! header-less `key,value` environment file, with `\r\n` line ends as Python's csv module.
//! A sweep over several dtypes or thread counts appends `dtype,threads` to each row, after
//! the original's columns, so scripts that read those by position keep working; a sweep over
//! several frameworks appends `framework` after them.

use super::{csv_value, section_rows, write_file, Row};
use crate::cell::{Axes, Cell, Metric, Mode};
use anyhow::Result;
use std::path::Path;

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

fn finish(path: &Path, w: csv::Writer<Vec<u8>>) -> Result<()> {
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    write_file(path, &bytes, "CSV")
}

/// The columns a sweep over dtypes or threads appends: both `dtype` and `threads` where
/// either varies (a file's layout then depends only on that), none otherwise; then
/// `framework` where frameworks vary.
pub struct AxisColumns {
    dtype_threads: bool,
    framework: bool,
}

impl AxisColumns {
    pub fn of(rows: &[Row]) -> AxisColumns {
        let axes = Axes::of(rows.iter().map(|(cell, _)| cell));
        AxisColumns {
            dtype_threads: axes.dtype_varies() || axes.threads_vary(),
            framework: axes.framework_varies(),
        }
    }

    pub fn header(&self) -> Vec<&'static str> {
        let mut header = Vec::new();
        if self.dtype_threads {
            header.extend(["dtype", "threads"]);
        }
        if self.framework {
            header.push("framework");
        }
        header
    }

    /// `bf16`, `2` (`default`: libtorch's choice), `tensorflow`.
    pub fn values(&self, cell: &Cell) -> Vec<String> {
        let mut values = Vec::new();
        if self.dtype_threads {
            values.extend([
                cell.settings.dtype.name().to_string(),
                cell.settings.threads_name(),
            ]);
        }
        if self.framework {
            values.push(cell.settings.framework.name().to_string());
        }
        values
    }
}

/// Writes one section's finished rows (rewritten whole and atomically, so a partial sweep is
/// kept).
pub fn write_results(path: &Path, rows: &[Row], mode: Mode, metric: Metric) -> Result<()> {
    let mut w = writer();
    let axes = AxisColumns::of(rows);
    let head = ["model", "batch_size", "sequence_length", "result"];
    w.write_record(head.iter().chain(axes.header().iter()))?;
    for (cell, result) in section_rows(rows, mode, metric) {
        let mut record = vec![
            cell.model.clone(),
            cell.batch_size.to_string(),
            cell.sequence_length.to_string(),
            csv_value(result),
        ];
        record.extend(axes.values(cell));
        w.write_record(record)?;
    }
    finish(path, w)
}

pub fn write_environment(path: &Path, info: &[(String, String)]) -> Result<()> {
    let mut w = writer();
    for (key, value) in info {
        w.write_record([key, value])?;
    }
    finish(path, w)
}

/// One row of a result CSV file of the original's format.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvRow {
    pub model: String,
    pub batch_size: i64,
    pub sequence_length: i64,
    /// None for `N/A`.
    pub value: Option<f64>,
    /// `dtype` and `threads`, in files of a sweep over them.
    pub dtype: Option<String>,
    pub threads: Option<String>,
    /// `framework`, in files of a sweep over several.
    pub framework: Option<String>,
}

/// Reads a result CSV file (`model,batch_size,sequence_length,result`, then `dtype,threads`
/// where the sweep varied them).
pub fn read_results(path: &Path) -> Result<Vec<CsvRow>> {
    use anyhow::{bail, Context};
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("cannot read {}", path.display()))?
        .clone();
    let header: Vec<&str> = headers.iter().collect();
    let (axes, framework) = match header[..] {
        ["model", "batch_size", "sequence_length", "result"] => (false, None),
        ["model", "batch_size", "sequence_length", "result", "framework"] => (false, Some(4)),
        ["model", "batch_size", "sequence_length", "result", "dtype", "threads"] => (true, None),
        ["model", "batch_size", "sequence_length", "result", "dtype", "threads", "framework"] => {
            (true, Some(6))
        }
        _ => bail!(
            "{} is not a result CSV file: its header is not \
             model,batch_size,sequence_length,result[,dtype,threads][,framework]",
            path.display()
        ),
    };
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record.with_context(|| format!("{}: line {line}", path.display()))?;
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let number = |i: usize, what: &str| -> Result<i64> {
            field(i).parse().with_context(|| {
                format!(
                    "{}: line {line}: {what} \"{}\" is not a number",
                    path.display(),
                    field(i)
                )
            })
        };
        let value = match field(3) {
            "N/A" | "" => None,
            text => Some(text.parse().with_context(|| {
                format!(
                    "{}: line {line}: result \"{text}\" is not a number",
                    path.display()
                )
            })?),
        };
        rows.push(CsvRow {
            model: field(0).to_string(),
            batch_size: number(1, "batch_size")?,
            sequence_length: number(2, "sequence_length")?,
            value,
            dtype: axes.then(|| field(4).to_string()),
            threads: axes.then(|| field(5).to_string()),
            framework: framework.map(|i| field(i).to_string()),
        });
    }
    Ok(rows)
}

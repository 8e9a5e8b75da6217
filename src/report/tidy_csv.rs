//! `--export-csv FILE`: every finished cell in one tidy CSV file (one header, one row per
//! cell and statistic), as hyperfine and llama-bench give, for pandas, R or a spreadsheet;
//! beside the original's per-section files, which it does not replace.

use super::memory_figure;
use crate::cell::{CellResult, Sweep};
use crate::measure::timing::Statistic;
use anyhow::Result;

pub const HEADER: [&str; 13] = [
    "model",
    "batch_size",
    "sequence_length",
    "mode",
    "metric",
    "dtype",
    "threads",
    "framework",
    "new_tokens",
    "statistic",
    "value",
    "unit",
    "reason",
];

/// The file's text: speed cells give their table figure (`median` or `minimum`) and the
/// samples' mean, min, max, standard deviation and count, in seconds per call; memory cells
/// their peak in bytes; an N/A cell one row with its reason and no value.
pub fn render(sweep: &Sweep) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER)?;
    // A cell on libtorch's default thread count: the count the environment recorded.
    let default_threads = (sweep.environment.iter())
        .find(|(k, _)| k == "threads")
        .map(|(_, v)| v.clone());
    for (cell, result) in &sweep.rows {
        let (mode, metric) = (cell.mode.name(), cell.metric.name());
        let figures: Vec<(&str, String, &str, &str)> = match result {
            CellResult::Speed(s) => {
                let figure = match s.statistic {
                    Statistic::Median => "median",
                    Statistic::Minimum => "minimum",
                };
                let seconds = |v: f64| format!("{v:?}");
                vec![
                    (figure, seconds(s.seconds), "s", ""),
                    ("mean", seconds(s.stats.mean), "s", ""),
                    ("min", seconds(s.stats.min), "s", ""),
                    ("max", seconds(s.stats.max), "s", ""),
                    ("std_dev", seconds(s.stats.std_dev), "s", ""),
                    ("samples", s.stats.count.to_string(), "count", ""),
                ]
            }
            CellResult::Memory(m) => vec![("peak", memory_figure(m).to_string(), "B", "")],
            CellResult::NotAvailable { reason } => vec![("n/a", String::new(), "", reason)],
        };
        for (statistic, value, unit, reason) in figures {
            w.write_record([
                cell.model.as_str(),
                &cell.batch_size.to_string(),
                &cell.sequence_length.to_string(),
                mode,
                metric,
                cell.settings.dtype.name(),
                &(cell.settings.threads.map(|t| t.to_string()))
                    .or(default_threads.clone())
                    .unwrap_or_else(|| cell.settings.threads_name()),
                cell.settings.framework.name(),
                &cell.new_tokens.map(|n| n.to_string()).unwrap_or_default(),
                statistic,
                &value,
                unit,
                reason,
            ])?;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes)?)
}

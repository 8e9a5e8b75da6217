//! Reports only read results: printing tables and writing files never re-runs anything.

pub mod csv;
pub mod table;

use crate::cell::{Cell, CellResult, Metric, Mode};
use crate::measure::memory::to_mib;

/// A finished cell.
pub type Row = (Cell, CellResult);

/// The original's section title, singular for inference and plural for training.
pub fn title(mode: Mode, metric: Metric) -> &'static str {
    match (mode, metric) {
        (Mode::Inference, Metric::Speed) => "INFERENCE - SPEED - RESULT",
        (Mode::Inference, Metric::Memory) => "INFERENCE - MEMORY - RESULT",
        (Mode::Training, Metric::Speed) => "TRAIN - SPEED - RESULTS",
        (Mode::Training, Metric::Memory) => "TRAIN - MEMORY - RESULTS",
    }
}

/// `====================` + title centred in 40 columns + `====================`.
pub fn header(title: &str) -> String {
    let bar = "=".repeat(20);
    format!("{bar}{title:^40}{bar}")
}

pub fn value_label(metric: Metric) -> &'static str {
    match metric {
        Metric::Speed => "Time in s",
        Metric::Memory => "Memory in MB",
    }
}

/// The rows of one section, in the order they ran.
pub fn section_rows(rows: &[Row], mode: Mode, metric: Metric) -> Vec<&Row> {
    rows.iter()
        .filter(|(cell, _)| cell.mode == mode && cell.metric == metric)
        .collect()
}

/// Seconds rounded to milliseconds as the original printed them: `0.012`, `1.235`, `< 0.001`.
pub fn format_seconds(seconds: f64) -> String {
    let rounded = (seconds * 1000.0).round() / 1000.0;
    if rounded == 0.0 {
        "< 0.001".into()
    } else {
        format!("{rounded}")
    }
}

/// The figure a table shows for a result.
pub fn table_value(result: &CellResult) -> String {
    match result {
        CellResult::Speed {
            seconds_per_call, ..
        } => format_seconds(*seconds_per_call),
        CellResult::Memory { bytes, .. } => to_mib(*bytes).to_string(),
        CellResult::NotAvailable { .. } => "N/A".into(),
    }
}

/// The figure a CSV file holds: 4 decimals for times, whole MiB for memory, else `N/A`.
pub fn csv_value(result: &CellResult) -> String {
    match result {
        CellResult::Speed {
            seconds_per_call, ..
        } => format!("{seconds_per_call:.4}"),
        CellResult::Memory { bytes, .. } => to_mib(*bytes).to_string(),
        CellResult::NotAvailable { .. } => "N/A".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_the_original_exactly() {
        assert_eq!(
            header(title(Mode::Inference, Metric::Speed)),
            "====================       INFERENCE - SPEED - RESULT       ===================="
        );
        assert_eq!(
            header(title(Mode::Training, Metric::Memory)),
            "====================        TRAIN - MEMORY - RESULTS        ===================="
        );
        assert_eq!(
            header("ENVIRONMENT INFORMATION"),
            "====================        ENVIRONMENT INFORMATION         ===================="
        );
    }

    #[test]
    fn seconds_are_rounded_like_the_original() {
        assert_eq!(format_seconds(0.0004), "< 0.001");
        assert_eq!(format_seconds(0.01234), "0.012");
        assert_eq!(format_seconds(1.2346), "1.235");
        assert_eq!(format_seconds(0.1), "0.1");
    }

    #[test]
    fn csv_values() {
        let speed = CellResult::Speed {
            seconds_per_call: 0.01426,
            repetitions: vec![0.01426],
            calls_per_repetition: 10,
        };
        assert_eq!(csv_value(&speed), "0.0143");
        let memory = CellResult::Memory {
            bytes: 2521 << 20,
            source: "peak RSS".into(),
        };
        assert_eq!(csv_value(&memory), "2521");
        assert_eq!(table_value(&memory), "2521");
        assert_eq!(csv_value(&CellResult::na("x")), "N/A");
    }
}

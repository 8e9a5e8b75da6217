//! Reports only read results: printing tables and writing files never re-runs anything.

pub mod compare;
pub mod csv;
pub mod export;
pub mod generation;
pub mod json;
pub mod markdown;
pub mod merge;
pub mod plot;
pub mod section;
pub mod table;

use crate::cell::{CalibrationResult, Cell, CellResult, Metric, Mode, SpeedResult};
pub use crate::cell::{Row, Sweep};
use crate::measure::memory::to_mib;
use anyhow::{Context, Result};
use std::path::Path;

/// Replaces `path` with `bytes` atomically: a temporary file in the same folder, renamed over
/// it, so a reader (or an interrupted sweep) never sees a half-written file.
pub fn write_file(path: &Path, bytes: &[u8], what: &str) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
        .with_context(|| format!("cannot write {what} file {}", path.display()))
}

/// Derived speed figures of one cell.
pub struct Throughput {
    pub samples_per_second: f64,
    pub tokens_per_second: f64,
    pub flops_per_second: Option<f64>,
    /// Achieved FLOP/s over the calibrated matmul FLOP/s.
    pub mfu: Option<f64>,
}

impl Throughput {
    pub fn of(cell: &Cell, speed: &SpeedResult, calibration: Option<&CalibrationResult>) -> Self {
        let flops_per_second = speed.flops_per_call.map(|f| f / speed.seconds);
        Throughput {
            samples_per_second: cell.batch_size as f64 / speed.seconds,
            tokens_per_second: (cell.batch_size * cell.sequence_length) as f64 / speed.seconds,
            flops_per_second,
            mfu: flops_per_second
                .zip(calibration)
                .map(|(f, c)| f / c.flops_per_second),
        }
    }
}

/// The original's section title, singular for inference and plural for training.
pub fn title(mode: Mode, metric: Metric) -> &'static str {
    match (mode, metric) {
        (Mode::Inference, Metric::Speed) => "INFERENCE - SPEED - RESULT",
        (Mode::Inference, Metric::Memory) => "INFERENCE - MEMORY - RESULT",
        (Mode::Training, Metric::Speed) => "TRAIN - SPEED - RESULTS",
        (Mode::Training, Metric::Memory) => "TRAIN - MEMORY - RESULTS",
        (Mode::Generation, Metric::Speed) => "GENERATION - SPEED - RESULT",
        (Mode::Generation, Metric::Memory) => "GENERATION - MEMORY - RESULT",
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
        CellResult::Speed(speed) => format_seconds(speed.seconds),
        CellResult::Memory(memory) => to_mib(memory_figure(memory)).to_string(),
        CellResult::NotAvailable { .. } => "N/A".into(),
    }
}

/// The memory figure of the tables and CSV files: NVML's device-used memory on a GPU (the
/// original's), the peak resident memory on the CPU.
pub fn memory_figure(memory: &crate::cell::MemoryResult) -> u64 {
    memory
        .gpu
        .as_ref()
        .and_then(|g| g.device_used_bytes)
        .unwrap_or(memory.peak_rss_bytes)
}

/// The figure a CSV file holds: 4 decimals for times, whole MiB for memory, else `N/A`.
pub fn csv_value(result: &CellResult) -> String {
    match result {
        CellResult::Speed(speed) => format!("{:.4}", speed.seconds),
        CellResult::Memory(memory) => to_mib(memory_figure(memory)).to_string(),
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
        let samples = vec![0.01426, 0.015];
        let speed = CellResult::Speed(SpeedResult {
            statistic: crate::measure::timing::Statistic::Minimum,
            seconds: 0.01426,
            stats: crate::measure::stats::Stats::of(&samples).unwrap(),
            samples,
            calls_per_sample: 10,
            warmup_calls: 0,
            flops_per_call: Some(1e9),
            generation: None,
        });
        assert_eq!(csv_value(&speed), "0.0143");
        let memory = CellResult::Memory(crate::cell::MemoryResult {
            peak_rss_bytes: 2521 << 20,
            baseline_rss_bytes: 2000 << 20,
            build_peak_rss_bytes: 2600 << 20,
            gpu: None,
            kv_cache: None,
        });
        assert_eq!(csv_value(&memory), "2521");
        assert_eq!(table_value(&memory), "2521");
        assert_eq!(csv_value(&CellResult::na("x")), "N/A");
    }
}

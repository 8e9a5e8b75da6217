//! `--resume FILE.json`: the cells a previous JSON export measured, carried over into this
//! sweep when nothing about them changed (model name and config, batch size, sequence length,
//! mode, metric, new tokens and every setting). N/A cells are not carried over, so they run again.

use crate::cell::{CalibrationResult, Cell, CellResult, Settings};
use crate::report::{json, Row};
use anyhow::{Context, Result};
use std::path::Path;

pub struct Previous {
    rows: Vec<Row>,
    settings: Settings,
    calibration: Option<CalibrationResult>,
}

/// Whether a previous cell measured exactly what `cell` asks for.
pub fn same_cell(a: &Cell, b: &Cell) -> bool {
    a.model == b.model
        && a.config == b.config
        && a.batch_size == b.batch_size
        && a.sequence_length == b.sequence_length
        && a.mode == b.mode
        && a.metric == b.metric
        && a.new_tokens == b.new_tokens
        && a.settings == b.settings
}

impl Previous {
    pub fn load(path: &Path) -> Result<Previous> {
        let export = json::read(path).with_context(|| "--resume".to_string())?;
        Ok(Previous {
            rows: export.sweep.rows,
            settings: export.sweep.settings,
            calibration: export.sweep.calibration,
        })
    }

    /// The measured result for `cell`, if the previous sweep has one.
    pub fn result_for(&self, cell: &Cell) -> Option<CellResult> {
        self.rows
            .iter()
            .find(|(previous, result)| {
                !matches!(result, CellResult::NotAvailable { .. }) && same_cell(previous, cell)
            })
            .map(|(_, result)| result.clone())
    }

    /// The previous calibration, when it was made on the same device, dtype and threads, so
    /// carried-over and new cells share one MFU denominator.
    pub fn calibration_for(&self, settings: &Settings) -> Option<CalibrationResult> {
        let same = self.settings.device == settings.device
            && self.settings.dtype == settings.dtype
            && self.settings.threads == settings.threads;
        self.calibration.clone().filter(|_| same)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{DeviceChoice, Dtype, Metric, Mode, Optimizer};
    use crate::measure::timing::Protocol;
    use serde_json::json;

    fn cell(batch_size: i64) -> Cell {
        Cell {
            model: "m".into(),
            config: json!({"model_type": "bert", "hidden_size": 32}),
            batch_size,
            sequence_length: 8,
            mode: Mode::Inference,
            metric: Metric::Speed,
            settings: Settings {
                protocol: Protocol::Original {
                    repeat: 3,
                    number: 10,
                },
                device: DeviceChoice::Cpu,
                dtype: Dtype::F32,
                threads: None,
                optimizer: Optimizer::None,
                only_pretrain_model: false,
                torchscript: false,
                seed: 0,
            },
            new_tokens: None,
        }
    }

    #[test]
    fn only_identical_cells_with_results_are_carried_over() {
        let previous = Previous {
            rows: vec![
                (cell(1), CellResult::na("x")),
                (
                    cell(2),
                    CellResult::Memory(crate::cell::MemoryResult {
                        peak_rss_bytes: 1,
                        baseline_rss_bytes: 0,
                        build_peak_rss_bytes: 1,
                        gpu: None,
                        kv_cache: None,
                    }),
                ),
            ],
            settings: cell(1).settings,
            calibration: None,
        };
        assert!(previous.result_for(&cell(1)).is_none(), "N/A runs again");
        assert!(previous.result_for(&cell(2)).is_some());
        let mut other = cell(2);
        other.settings.seed = 1;
        assert!(previous.result_for(&other).is_none());
        let mut other = cell(2);
        other.config["hidden_size"] = json!(64);
        assert!(previous.result_for(&other).is_none());
        let mut other = cell(2);
        other.model = "n".into();
        assert!(previous.result_for(&other).is_none());
    }
}

//! `--resume FILE.json`: the cells a previous JSON export measured, carried over into this
//! sweep when nothing about them changed (model name and config, batch size, sequence length,
//! mode, metric, new tokens, every setting and the inputs). N/A cells are not carried over, so
//! they run again.
//! When the resumed file is also one of this sweep's exports, the sweep refuses to start if
//! that would drop any of the file's cells (a setting, model or size changed): the file is
//! rewritten with this sweep's cells only, so finished work would be lost.

use crate::cell::{Calibration, CalibrationResult, Cell, CellResult, Settings};
use crate::report::{json, Row};
use anyhow::{Context, Result};
use std::path::Path;

pub struct Previous {
    path: std::path::PathBuf,
    rows: Vec<Row>,
    calibrations: Vec<(Calibration, CalibrationResult)>,
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
        && a.inputs == b.inputs
}

impl Previous {
    /// The previous sweep; None, said in one line, when `path` does not exist yet (the first
    /// run of a job that resumes from its own export starts fresh).
    pub fn load(path: &Path) -> Result<Option<Previous>> {
        if !path.exists() && !path.is_symlink() {
            crate::console::eprintln(&format!(
                "--resume {}: no such file yet, so this sweep starts fresh",
                path.display()
            ));
            return Ok(None);
        }
        let export = json::read(path).with_context(|| "--resume".to_string())?;
        Ok(Some(Previous {
            path: path.to_path_buf(),
            rows: export.sweep.rows,
            calibrations: export.sweep.calibrations,
        }))
    }

    /// Why cells of `cells` that the previous sweep also measured (same model, sizes, mode
    /// and metric) were not carried over: what differs, once each; N/A cells run again.
    pub fn why_not_carried(&self, cells: &[Cell]) -> Vec<String> {
        let mut why: Vec<String> = Vec::new();
        let mut say = |reason: String| {
            if !why.contains(&reason) {
                why.push(reason);
            }
        };
        for cell in cells.iter().filter(|c| self.result_for(c).is_none()) {
            let twins = (self.rows.iter()).filter(|(p, _)| {
                p.model == cell.model
                    && p.batch_size == cell.batch_size
                    && p.sequence_length == cell.sequence_length
                    && p.mode == cell.mode
                    && p.metric == cell.metric
                    && p.new_tokens == cell.new_tokens
            });
            for (previous, result) in twins {
                if same_cell(previous, cell) {
                    if let CellResult::NotAvailable { .. } = result {
                        say("N/A cells run again".into());
                    }
                    continue;
                }
                if previous.config != cell.config {
                    let keys = differing_keys(&previous.config, &cell.config);
                    say(format!("{}'s config differs ({keys})", cell.model));
                }
                if previous.settings != cell.settings {
                    let keys = differing_keys(
                        &serde_json::to_value(&previous.settings).unwrap_or_default(),
                        &serde_json::to_value(&cell.settings).unwrap_or_default(),
                    );
                    say(format!("settings differ ({keys})"));
                }
                if previous.inputs != cell.inputs {
                    say("the inputs differ".into());
                }
            }
        }
        why
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

    /// Refuses a sweep that would overwrite the resumed file without all of its cells.
    pub fn check_kept(&self, cells: &[Cell], outputs: &[&Path]) -> Result<()> {
        if !outputs.iter().any(|out| same_file(out, &self.path)) {
            return Ok(());
        }
        let lost = (self.rows.iter())
            .filter(|(previous, _)| !cells.iter().any(|cell| same_cell(previous, cell)))
            .count();
        if lost > 0 {
            anyhow::bail!(
                "--resume {path}: {lost} of its {} cells are not part of this sweep (a model, \
                 size or setting differs), and {path} is also one of its exports, so they would \
                 be lost: export to another file, or resume with the flags that made it",
                self.rows.len(),
                path = self.path.display()
            );
        }
        Ok(())
    }

    /// The previous calibrations of the variants' (device, dtype, threads), so carried-over
    /// and new cells of one variant share one MFU denominator.
    pub fn calibrations_for(&self, variants: &[Settings]) -> Vec<(Calibration, CalibrationResult)> {
        (self.calibrations.iter())
            .filter(|(key, _)| variants.iter().any(|v| Calibration::of(v) == *key))
            .cloned()
            .collect()
    }
}

/// The top-level keys whose values differ between two JSON objects, sorted.
fn differing_keys(a: &serde_json::Value, b: &serde_json::Value) -> String {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            let mut keys: Vec<&str> = (a.iter())
                .filter(|(k, v)| b.get(*k) != Some(v))
                .map(|(k, _)| k.as_str())
                .chain(b.keys().filter(|k| !a.contains_key(*k)).map(String::as_str))
                .collect();
            keys.sort_unstable();
            keys.join(", ")
        }
        _ => "value".into(),
    }
}

/// The same file on disk (a link or another spelling of the path included).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
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
                framework: crate::cell::Framework::Pytorch,
                profile: false,
                profile_trace: None,
                onnxruntime_level: None,
                routing: None,
                seed: 0,
            },
            input: Default::default(),
            inputs: crate::cell::Inputs::Random,
            new_tokens: None,
        }
    }

    #[test]
    fn only_identical_cells_with_results_are_carried_over() {
        let previous = Previous {
            path: "previous.json".into(),
            rows: vec![
                (cell(1), CellResult::na("x")),
                (
                    cell(2),
                    CellResult::Memory(crate::cell::MemoryResult {
                        peak_rss_bytes: 1,
                        baseline_rss_bytes: 0,
                        build_peak_rss_bytes: 1,
                        gpu: None,
                        build_seconds: None,
                        estimated_peak_bytes: None,
                        kv_cache: None,
                        ran: None,
                    }),
                ),
            ],
            calibrations: Vec::new(),
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
        // Another thread count or dtype is another cell.
        let mut other = cell(2);
        other.settings.threads = Some(2);
        assert!(previous.result_for(&other).is_none());
        let mut other = cell(2);
        other.settings.dtype = Dtype::Bf16;
        assert!(previous.result_for(&other).is_none());
    }
}

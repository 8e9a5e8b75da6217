//! The notes under a table for rows that ran with a checkpoint's weights (`--weights
//! pretrained`): how long loading took for its bytes, and the share of subnormal values
//! with what `--flush-subnormals` changes.

use crate::cell::{Axes, CellResult, Row};

/// One note per model (and setting that varies) loaded from a checkpoint.
pub fn notes(rows: &[&Row], axes: &Axes) -> Vec<String> {
    let mut notes = Vec::new();
    let mut seen = Vec::new();
    for (cell, result) in rows {
        let ran = match result {
            CellResult::Speed(s) => s.ran,
            CellResult::Memory(m) => m.ran,
            CellResult::NotAvailable { .. } => None,
        };
        let Some(weights) = ran.and_then(|r| r.pretrained) else {
            continue;
        };
        let label = format!("{}{}", cell.model, axes.describe(&cell.settings));
        if seen.contains(&label) {
            continue;
        }
        let mut note = format!("Weights {label}: the checkpoint's");
        if let (Some(bytes), Some(seconds)) = (weights.checkpoint_bytes, weights.load_seconds) {
            let mib = bytes as f64 / (1u64 << 20) as f64;
            note.push_str(&format!(
                ", {mib:.1} MiB loaded in {seconds:.3} s ({:.0} MiB/s: mapping the files, \
                 copying every tensor into the model in {}, counting subnormals)",
                mib / seconds.max(1e-9),
                cell.settings.dtype.name()
            ));
        }
        note.push_str(&format!(
            "; {} of {} values subnormal ({:.4}%)",
            weights.subnormal,
            weights.values,
            100.0 * weights.subnormal_share()
        ));
        note.push_str(match (weights.flushed, weights.subnormal > 0) {
            (true, true) => {
                ", set to zero by --flush-subnormals: no kernel takes the slow subnormal \
                 path, and the outputs change by at most those values' contributions."
            }
            (false, true) => {
                ", kept: CPU kernels can take a many-fold slower path on them; \
                 --flush-subnormals sets them to zero."
            }
            (_, false) => ".",
        });
        seen.push(label);
        notes.push(note);
    }
    notes
}

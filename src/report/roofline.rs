//! How far a speed cell is from the machine's limits: its bytes per call against the
//! bandwidth ceiling (MBU), its arithmetic intensity (FLOPs per byte) against the ridge point
//! (matmul ceiling / bandwidth), and which ceiling bounds it, with the share of that ceiling
//! it reaches. A generation cell's figures are those of its decode steps.

use crate::cell::{Bandwidth, CalibrationResult, Cell, Mode, SpeedResult};
use crate::estimate;

/// Which ceiling bounds a cell: the one its intensity reaches first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Compute,
    Memory,
}

/// The roofline figures of one speed cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roofline {
    /// FLOPs per byte of traffic.
    pub intensity: f64,
    /// Achieved FLOP/s (decode steps: a step's FLOPs over TPOT).
    pub flops_per_second: f64,
    /// Achieved bytes/s.
    pub bytes_per_second: f64,
    /// Achieved bytes/s over the read bandwidth ceiling.
    pub mbu: f64,
    /// Achieved FLOP/s over the matmul ceiling.
    pub mfu: f64,
    pub bound: Bound,
}

impl Roofline {
    /// The figures of `cell`, or None where its FLOPs or bytes are unknown (a TorchScript
    /// file), no ceiling was measured, or a generation cell has a single new token.
    pub fn of(
        cell: &Cell,
        speed: &SpeedResult,
        calibration: Option<&CalibrationResult>,
    ) -> Option<Roofline> {
        let c = calibration?;
        let bandwidth = c.bandwidth?.read_bytes_per_second;
        let (flops, bytes, seconds) = match cell.mode {
            Mode::Generation => {
                let step = estimate::traffic(cell)?.decode?;
                let tpot = speed.generation.as_ref()?.tpot.as_ref()?.median;
                (step.flops, step.bytes, tpot)
            }
            Mode::Inference | Mode::Training => {
                let bytes =
                    (speed.bytes_per_call).or_else(|| estimate::traffic(cell).map(|t| t.bytes))?;
                (speed.flops_per_call?, bytes, speed.seconds)
            }
        };
        if !(bytes > 0.0 && seconds > 0.0 && bandwidth > 0.0 && c.flops_per_second > 0.0) {
            return None;
        }
        let intensity = flops / bytes;
        Some(Roofline {
            intensity,
            flops_per_second: flops / seconds,
            bytes_per_second: bytes / seconds,
            mbu: bytes / seconds / bandwidth,
            mfu: flops / seconds / c.flops_per_second,
            bound: match intensity < ridge(c)? {
                true => Bound::Memory,
                false => Bound::Compute,
            },
        })
    }

    /// "memory 43%": the ceiling that bounds the cell and the share of it reached.
    pub fn verdict(&self) -> String {
        match self.bound {
            Bound::Memory => format!("memory {:.0}%", 100.0 * self.mbu),
            Bound::Compute => format!("compute {:.0}%", 100.0 * self.mfu),
        }
    }
}

/// The ridge point: the intensity (FLOPs per byte) where the two ceilings meet.
pub fn ridge(c: &CalibrationResult) -> Option<f64> {
    let b = c.bandwidth?.read_bytes_per_second;
    (b > 0.0).then(|| c.flops_per_second / b)
}

/// "read 55.1 GB/s, copy 31.0 GB/s over 1.0 GiB": the bandwidth ceiling in words.
pub fn describe(b: &Bandwidth) -> String {
    format!(
        "read {:.1} GB/s, copy {:.1} GB/s over {:.1} GiB",
        b.read_bytes_per_second / 1e9,
        b.copy_bytes_per_second / 1e9,
        b.buffer_bytes as f64 / (1u64 << 30) as f64
    )
}

/// The notes of a speed section with MBU and bound-by columns.
pub fn notes(generation: bool) -> Vec<String> {
    let mut notes = vec![
        "GB/s: bytes of memory traffic of one call per second: every weight read once (the \
         embedding tables: only the rows gathered, unless a tied head reads the whole table; \
         experts: only those some token is routed to), each layer's activations (6 x hidden + \
         2 x feed-forward values a token, and the attention scores) written once and read \
         once, the logits written; training: the weights read twice, gradients written, the \
         optimizer's reads and writes, activations three times; caches ignored."
            .into(),
        "MBU: GB/s over the bandwidth ceiling (the fastest sustained read over a buffer past \
         the last-level cache, calibrated beside the matmul). Bound: memory where the call's \
         FLOPs per byte fall below the ridge point (matmul GFLOP/s / read GB/s), else compute; \
         the percentage is MBU or MFU, the share reached of the ceiling that applies."
            .into(),
    ];
    if generation {
        notes.push(
            "Decode MBU: a decode step's bytes (the weights for one token a sample, the KV \
             cache of its context read and one token's keys and values written, its \
             activations; averaged over the steps) over TPOT, over the read bandwidth \
             ceiling; Bound as above, with a step's FLOPs per byte."
                .into(),
        );
    }
    notes
}

/// The GB/s, MBU and Bound cells of a speed row (N/A where the figures are unknown).
pub(super) fn roofline_cells(r: Option<&Roofline>) -> [String; 3] {
    match r {
        Some(r) => [
            format!("{:.1}", r.bytes_per_second / 1e9),
            format!("{:.1}%", 100.0 * r.mbu),
            r.verdict(),
        ],
        None => ["N/A".into(), "N/A".into(), "N/A".into()],
    }
}

/// How MBU and the verdict are computed, and the bandwidth ceiling(s) of the rows.
pub(super) fn roofline_notes(
    sweep: &super::Sweep,
    rows: &[&super::Row],
    generation: bool,
) -> Vec<String> {
    let mut notes = notes(generation);
    let mut seen: Vec<crate::cell::Calibration> = Vec::new();
    let axes = sweep.axes();
    let several = axes.dtype_varies() || axes.threads_vary();
    for (cell, _) in rows {
        let key = crate::cell::Calibration::of(&cell.settings);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let Some(c) = sweep.calibration_for(&cell.settings) else {
            continue;
        };
        let (Some(b), Some(ridge)) = (c.bandwidth, ridge(c)) else {
            continue;
        };
        let whose = match several {
            true => format!(" ({})", axes.describe(&cell.settings).trim()),
            false => String::new(),
        };
        notes.push(format!(
            "Bandwidth ceiling{whose}: {} on {}; ridge point {ridge:.1} FLOPs per byte.",
            describe(&b),
            sweep.settings.device
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_names_the_ceiling_the_intensity_reaches_first() {
        let c = CalibrationResult {
            size: 1024,
            flops_per_second: 1e11,
            bandwidth: Some(Bandwidth {
                buffer_bytes: 1 << 30,
                read_bytes_per_second: 5e10,
                copy_bytes_per_second: 4e10,
            }),
        };
        assert_eq!(ridge(&c), Some(2.0));
        let memory = Roofline {
            intensity: 1.0,
            flops_per_second: 2e10,
            bytes_per_second: 2e10,
            mbu: 0.4,
            mfu: 0.2,
            bound: Bound::Memory,
        };
        assert_eq!(memory.verdict(), "memory 40%");
        let compute = Roofline {
            bound: Bound::Compute,
            mfu: 0.615,
            ..memory
        };
        assert_eq!(compute.verdict(), "compute 62%");
        assert_eq!(
            describe(&c.bandwidth.unwrap()),
            "read 50.0 GB/s, copy 40.0 GB/s over 1.0 GiB"
        );
    }
}

//! `--profile` in the child: after a speed cell's timed calls, the call broken down by part
//! and, with `--profile-trace`, libtorch's operators in one more call.

use super::device::synchronize;
use crate::cell::{Cell, DeviceChoice};
use crate::measure::profile::{self, Hooks, MemorySource, Profile};
use crate::measure::timing::Timing;
use crate::measure::{gpu, memory, operators};
use anyhow::Result;

/// Profiled calls: as many as the timed calls, at least 3 (a median) and at most 30.
pub fn breakdown(
    cell: &Cell,
    timing: &Timing,
    call: &mut impl FnMut() -> Result<()>,
) -> Result<Profile> {
    let calls = (timing.samples.len() * timing.calls_per_sample).clamp(3, 30);
    let mut breakdown = profile::profile(calls, &mut *call, hooks(cell.settings.device))?;
    if let Some(dir) = &cell.settings.profile_trace {
        let cuda = matches!(cell.settings.device, DeviceChoice::Cuda(_));
        let trace = dir.join(trace_file_name(cell));
        breakdown.operators = Some(operators::record(cuda, Some(&trace), call)?);
    }
    Ok(breakdown)
}

/// The device's synchronisation and allocated-bytes reading.
fn hooks(device: DeviceChoice) -> Hooks {
    match device {
        DeviceChoice::Cpu => Hooks {
            sync: Box::new(|| {}),
            memory: Box::new(|| memory::heap_in_use_bytes().unwrap_or(0) as i64),
            source: MemorySource::Heap,
        },
        DeviceChoice::Cuda(i) => Hooks {
            sync: Box::new(move || synchronize(device)),
            memory: Box::new(move || gpu::allocator_stats(i).map_or(0, |s| s.allocated as i64)),
            source: MemorySource::Allocator,
        },
    }
}

/// `<model>-b<batch>-s<sequence>-<mode>.json`, the model's name reduced to characters that
/// are safe in a file name.
fn trace_file_name(cell: &Cell) -> String {
    let model: String = cell
        .model
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    let mode = cell.mode.name();
    format!(
        "{model}-b{}-s{}-{mode}.json",
        cell.batch_size, cell.sequence_length
    )
}

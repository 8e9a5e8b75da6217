//! Memory of one measured call: the high-water marks reset just before it.

use super::Device;
use crate::cell::MemoryResult;
use crate::measure::memory;
use anyhow::Result;

/// Peak memory of one call of `work` on `device`, with the high-water marks (the process's
/// resident memory, and the device allocator's where there is one) reset just before it, so
/// the increase over the baseline is the call's own.
pub fn measure(device: &dyn Device, mut work: impl FnMut() -> Result<()>) -> Result<MemoryResult> {
    device.sync();
    let build_peak_rss_bytes = memory::peak_rss_bytes()?;
    let gpu_baseline = device.reset_peak_memory()?;
    memory::reset_peak_rss()?;
    let baseline_rss_bytes = memory::current_rss_bytes()?;
    work()?;
    device.sync();
    let peak_rss_bytes = memory::peak_rss_bytes()?;
    let gpu = match gpu_baseline {
        Some(baseline) => device.memory_after(baseline)?,
        None => None,
    };
    Ok(MemoryResult {
        peak_rss_bytes,
        baseline_rss_bytes,
        build_peak_rss_bytes,
        gpu,
        build_seconds: None,
        estimated_peak_bytes: None,
        kv_cache: None,
        ran: None,
    })
}

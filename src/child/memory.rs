//! Memory of one measured call: the high-water marks reset just before it.

use super::device::synchronize;
use crate::cell::{DeviceChoice, GpuMemory, MemoryResult};
use crate::measure::{gpu, memory};
use anyhow::Result;

/// Peak memory of one call of `work`, with the high-water marks reset just before it, so the
/// increase over the baseline is the call's own.
pub fn measure_memory(
    device: DeviceChoice,
    mut work: impl FnMut() -> Result<()>,
) -> Result<MemoryResult> {
    synchronize(device);
    let build_peak_rss_bytes = memory::peak_rss_bytes()?;
    let gpu_baseline = match device {
        DeviceChoice::Cuda(i) => {
            gpu::reset_peak_stats(i)?;
            Some(gpu::allocator_stats(i)?.allocated)
        }
        DeviceChoice::Cpu => None,
    };
    memory::reset_peak_rss()?;
    let baseline_rss_bytes = memory::current_rss_bytes()?;
    work()?;
    synchronize(device);
    let peak_rss_bytes = memory::peak_rss_bytes()?;
    let gpu = match (device, gpu_baseline) {
        (DeviceChoice::Cuda(i), Some(baseline_allocated_bytes)) => {
            let allocator = gpu::allocator_stats(i)?;
            let (device_used, process_used) = match gpu::nvml_used_bytes(i) {
                Ok((d, p)) => (Some(d), p),
                Err(_) => (None, None),
            };
            Some(GpuMemory {
                device_used_bytes: device_used,
                process_used_bytes: process_used,
                allocator,
                baseline_allocated_bytes,
            })
        }
        _ => None,
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

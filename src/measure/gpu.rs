//! GPU memory: the caching allocator's statistics (through csrc/accelerator_memory.cpp) and
//! NVML's view of the device and of this process.

use anyhow::{bail, Context, Result};

extern "C" {
    fn rb_accelerator_memory_stats(device_index: i32, out: *mut i64) -> i32;
    fn rb_accelerator_reset_peak_stats(device_index: i32) -> i32;
}

pub use run_benchmark_core::measure::allocator::AllocatorStats;

fn check(code: i32, what: &str) -> Result<()> {
    match code {
        0 => Ok(()),
        1 => bail!("{what}: no GPU is available"),
        _ => bail!("{what}: libtorch raised an error"),
    }
}

pub fn allocator_stats(device_index: usize) -> Result<AllocatorStats> {
    let mut out = [0i64; 4];
    // SAFETY: the shim writes exactly four int64 values into `out`.
    let code = unsafe { rb_accelerator_memory_stats(device_index as i32, out.as_mut_ptr()) };
    check(code, "allocator statistics")?;
    Ok(AllocatorStats {
        allocated: out[0].max(0) as u64,
        peak_allocated: out[1].max(0) as u64,
        reserved: out[2].max(0) as u64,
        peak_reserved: out[3].max(0) as u64,
    })
}

/// Makes the peaks equal the current values, so later peaks are the measured calls' own.
pub fn reset_peak_stats(device_index: usize) -> Result<()> {
    // SAFETY: no pointers; the shim checks the index.
    check(
        unsafe { rb_accelerator_reset_peak_stats(device_index as i32) },
        "reset of allocator peaks",
    )
}

/// NVML's free memory of the device: what a new cell can still allocate there.
pub fn free_bytes(device_index: usize) -> Result<u64> {
    let nvml = nvml_wrapper::Nvml::init().context("NVML is not available")?;
    Ok(nvml
        .device_by_index(nvml_index(device_index))?
        .memory_info()?
        .free)
}

/// NVML counts every GPU of the machine, CUDA only those CUDA_VISIBLE_DEVICES lists (as
/// `--devices` pins a child): CUDA's device `index` is NVML's GPU at that place of the list.
fn nvml_index(index: usize) -> u32 {
    visible_index(std::env::var("CUDA_VISIBLE_DEVICES").ok().as_deref(), index)
}

fn visible_index(visible: Option<&str>, index: usize) -> u32 {
    visible
        .and_then(|list| list.split(',').nth(index)?.trim().parse().ok())
        .unwrap_or(index as u32)
}

/// NVML's used memory of the whole device (the original's figure) and of this process.
pub fn nvml_used_bytes(device_index: usize) -> Result<(u64, Option<u64>)> {
    let nvml = nvml_wrapper::Nvml::init().context("NVML is not available")?;
    let device = nvml.device_by_index(nvml_index(device_index))?;
    let device_used = device.memory_info()?.used;
    let pid = std::process::id();
    let process_used = device
        .running_compute_processes()
        .ok()
        .and_then(|list| list.into_iter().find(|p| p.pid == pid))
        .and_then(|p| match p.used_gpu_memory {
            nvml_wrapper::enums::device::UsedGpuMemory::Used(bytes) => Some(bytes),
            nvml_wrapper::enums::device::UsedGpuMemory::Unavailable => None,
        });
    Ok((device_used, process_used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_childs_gpu_is_nvmls_gpu_of_its_visible_list() {
        assert_eq!(visible_index(Some("3"), 0), 3);
        assert_eq!(visible_index(Some("2,5"), 1), 5);
        assert_eq!(visible_index(None, 1), 1);
        // GPU UUIDs are not numbers: the index stands.
        assert_eq!(visible_index(Some("GPU-8f2e"), 0), 0);
    }

    #[test]
    fn without_a_gpu_the_shim_says_so() {
        if tch::Cuda::is_available() {
            let stats = allocator_stats(0).unwrap();
            assert!(stats.peak_reserved >= stats.reserved);
            return;
        }
        let err = allocator_stats(0).unwrap_err().to_string();
        assert_eq!(err, "allocator statistics: no GPU is available");
        assert!(reset_peak_stats(0).is_err());
        assert!(allocator_stats(7).is_err());
    }

    #[test]
    fn without_nvidia_driver_nvml_is_an_error_not_a_crash() {
        if nvml_wrapper::Nvml::init().is_err() {
            let err = nvml_used_bytes(0).unwrap_err().to_string();
            assert!(err.contains("NVML is not available"), "{err}");
        }
    }
}

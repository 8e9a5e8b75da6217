//! CPU memory readings: the process's resident set and its high-water mark.

use anyhow::{anyhow, Context, Result};

/// Peak resident set size of this process in bytes: the kernel's `VmHWM`, or getrusage's
/// `ru_maxrss` where /proc is missing.
pub fn peak_rss_bytes() -> Result<u64> {
    match std::fs::read_to_string("/proc/self/status") {
        Ok(status) => parse_vm_hwm(&status).ok_or_else(|| anyhow!("no VmHWM in /proc/self/status")),
        Err(_) => {
            let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
            // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
            let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error()).context("getrusage");
            }
            // SAFETY: initialised by the successful call above.
            let max_rss_kib = unsafe { usage.assume_init() }.ru_maxrss;
            Ok(max_rss_kib as u64 * 1024)
        }
    }
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    status_field(status, "VmHWM:")
}

/// A `kB` field of /proc/self/status, in bytes.
fn status_field(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Current resident set size of this process in bytes (`VmRSS`).
pub fn current_rss_bytes() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("/proc/self/status")?;
    status_field(&status, "VmRSS:").ok_or_else(|| anyhow!("no VmRSS in /proc/self/status"))
}

/// Resets the kernel's high-water mark to the current resident size (writing 5 to
/// `/proc/self/clear_refs`), so a later `VmHWM` is the peak since now.
pub fn reset_peak_rss() -> Result<()> {
    std::fs::write("/proc/self/clear_refs", "5")
        .context("cannot reset VmHWM via /proc/self/clear_refs")
}

/// Keeps freed heap memory in the process for reuse instead of handing it back to the kernel
/// (glibc's `M_TRIM_THRESHOLD`), and serves blocks up to 32 MiB from the heap rather than
/// fresh mappings (`M_MMAP_THRESHOLD`). Without this, glibc's default thresholds make a tch
/// forward pass trim and regrow the heap at every call: SmolLM2-135M at batch 8 × 128
/// tokens took 1.3M page faults and ~20% longer per call than transformers in Python. For
/// speed cells only; memory cells pin glibc's static defaults ([`static_heap_thresholds`]).
pub fn retain_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; both values are within glibc's
    // accepted ranges (32 MiB is its maximum mmap threshold on 64-bit).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

/// Pins glibc's heap thresholds at their static defaults (blocks of 128 KiB and more are
/// mapped, and unmapped when freed; the heap is trimmed above 128 KiB free). glibc otherwise
/// raises both after the first large block is freed, so a memory figure would depend on the
/// allocations before the measured call: the same cell measured 564 or 601 MB depending on
/// the length of the job description the child parsed first. For memory cells.
pub fn static_heap_thresholds() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; these are glibc's own defaults.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}

/// Memory a new process can still use: the kernel's `MemAvailable`, or less where a cgroup
/// (a container, a Slurm job) limits this process to less. None where /proc is missing.
pub fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available = status_field(&meminfo, "MemAvailable:")?;
    let cgroup = |name: &str| -> Option<u64> {
        let text = std::fs::read_to_string(format!("/sys/fs/cgroup/{name}")).ok()?;
        text.trim().parse().ok()
    };
    match (cgroup("memory.max"), cgroup("memory.current")) {
        (Some(max), Some(current)) => Some(available.min(max.saturating_sub(current))),
        _ => Some(available),
    }
}

/// Bytes the C heap has handed out and not had back (glibc's `mallinfo2`: `uordblks`,
/// the in-use heap chunks, plus `hblkhd`, the mmapped blocks), where libtorch's CPU tensors
/// live: unlike the resident size, it goes down when a tensor is freed. None off glibc.
pub fn heap_in_use_bytes() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's counters (glibc 2.33 and later).
        let info = unsafe { libc::mallinfo2() };
        Some((info.uordblks + info.hblkhd) as u64)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

/// Whole mebibytes, as the original's "MB" (`bytes >> 20`).
pub fn to_mib(bytes: u64) -> u64 {
    bytes >> 20
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// The high-water mark is per process: tests that move it must not overlap.
    static RSS: Mutex<()> = Mutex::new(());

    #[test]
    fn parses_vm_hwm_in_kib() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1024 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(2048 * 1024));
        assert_eq!(parse_vm_hwm("Name: x\n"), None);
    }

    #[test]
    fn peak_rss_grows_when_memory_is_touched() {
        let _serial = RSS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let before = peak_rss_bytes().unwrap();
        let block = vec![1u8; 64 << 20];
        let after = peak_rss_bytes().unwrap();
        assert!(block.iter().step_by(4096).all(|&b| b == 1));
        assert!(
            after >= before + (60 << 20),
            "before {before}, after {after}"
        );
    }

    #[test]
    fn reset_brings_the_peak_down_to_the_current_size() {
        let _serial = RSS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        {
            let block = vec![1u8; 128 << 20];
            assert!(block.iter().step_by(4096).all(|&b| b == 1));
        }
        let before = peak_rss_bytes().unwrap();
        reset_peak_rss().unwrap();
        let after = peak_rss_bytes().unwrap();
        let current = current_rss_bytes().unwrap();
        assert!(
            after + (100 << 20) < before,
            "before {before}, after {after}"
        );
        assert!(
            after >= current.saturating_sub(16 << 20),
            "after {after}, rss {current}"
        );
    }

    #[test]
    fn available_memory_is_positive_and_below_the_total() {
        let available = available_bytes().unwrap();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
        let total = status_field(&meminfo, "MemTotal:").unwrap();
        assert!(
            available > 0 && available <= total,
            "{available} of {total}"
        );
    }

    #[test]
    fn heap_in_use_follows_an_allocation_and_its_free() {
        let _serial = RSS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // The heap is the process's: a test in another thread may free memory in between, so
        // one of a few tries must see the whole 8 MiB come and go.
        let tries: Vec<(u64, u64, u64)> = (0..5)
            .map(|_| {
                let before = heap_in_use_bytes().unwrap();
                // Zeros come from fresh, untouched pages, so the resident size (which the
                // other tests watch) does not move; black_box keeps the allocation.
                let block = std::hint::black_box(vec![0u8; 8 << 20]);
                let during = heap_in_use_bytes().unwrap();
                drop(block);
                (before, during, heap_in_use_bytes().unwrap())
            })
            .collect();
        assert!(
            (tries.iter()).any(|&(before, during, after)| during >= before + (8 << 20)
                && after + (8 << 20) <= during),
            "(before, during, after): {tries:?}"
        );
    }

    #[test]
    fn mib_truncates() {
        assert_eq!(to_mib((3 << 20) + 5), 3);
    }
}

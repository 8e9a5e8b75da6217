//! Resident memory of this process, as the PyTorch side reads it: the kernel's VmRSS and
//! VmHWM (the high-water mark, reset through /proc/self/clear_refs before a measured call).

use anyhow::{anyhow, Context, Result};

fn status_field(field: &str) -> Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("cannot read /proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kb| kb * 1024)
        .ok_or_else(|| anyhow!("no {field} in /proc/self/status"))
}

pub fn current_rss_bytes() -> Result<u64> {
    status_field("VmRSS:")
}

pub fn peak_rss_bytes() -> Result<u64> {
    status_field("VmHWM:")
}

/// Resets VmHWM to the current resident size, so a later peak is the peak since now.
pub fn reset_peak_rss() -> Result<()> {
    std::fs::write("/proc/self/clear_refs", "5")
        .context("cannot reset VmHWM via /proc/self/clear_refs")
}

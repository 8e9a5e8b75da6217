//! The memory bandwidth ceiling that MBU is measured against: the fastest sustained read and
//! copy over a buffer well past the last-level cache, in the calibration's threads.

use super::device::{synchronize, tch_device};
use crate::cell::{Bandwidth, DeviceChoice};
use crate::measure::stats::Stats;
use crate::measure::timing::Protocol;
use anyhow::{anyhow, Result};
use tch::{Kind, Tensor};

/// The smallest buffer: 1 GiB, four times the largest last-level cache of common server CPUs
/// (a GPU's L2 is 50 MiB at most).
const MIN_BUFFER_BYTES: u64 = 1 << 30;
/// On a GPU: 2 GiB, so the read is no shorter than a few hundred microseconds at 3 TB/s.
const GPU_BUFFER_BYTES: u64 = 2 << 30;

/// Times a sum over the whole buffer (reads its bytes once) and a copy of one half into the
/// other (reads half, writes half), each the fastest of a fifth of a second of repeats. The
/// figure is bytes, whatever the dtype: a float32 buffer is summed, as any dtype's would be.
pub fn measure(device: DeviceChoice) -> Result<Bandwidth> {
    let buffer_bytes = match device {
        DeviceChoice::Cpu => MIN_BUFFER_BYTES.max(4 * last_level_cache_bytes().unwrap_or(0)),
        DeviceChoice::Cuda(_) => GPU_BUFFER_BYTES,
    };
    let values = (buffer_bytes / 4) as i64 / 2 * 2;
    // Filled, so every page is touched before the clock starts.
    let buffer = Tensor::ones([values], (Kind::Float, tch_device(device)));
    let (first, second) = (
        buffer.narrow(0, 0, values / 2),
        buffer.narrow(0, values / 2, values / 2),
    );
    let bytes = (values * 4) as f64;
    let read = fastest(device, || {
        let _ = buffer.sum(Kind::Float);
    })?;
    let mut target = second;
    let copy = fastest(device, || {
        target.copy_(&first);
    })?;
    Ok(Bandwidth {
        buffer_bytes: values as u64 * 4,
        read_bytes_per_second: bytes / read,
        copy_bytes_per_second: bytes / copy,
    })
}

/// Seconds of the fastest of at least 3 runs over 0.2 s, after one warm-up run.
fn fastest(device: DeviceChoice, mut run: impl FnMut()) -> Result<f64> {
    let protocol = Protocol::Adaptive {
        warmup: 1,
        warmup_time_s: None,
        min_runs: 3,
        max_runs: 50,
        min_time_s: 0.2,
        precision: None,
        max_time_s: None,
    };
    let timing = protocol.run(
        || {
            run();
            Ok(())
        },
        || synchronize(device),
    )?;
    Ok(Stats::of(&timing.samples)
        .ok_or_else(|| anyhow!("no timed passes over the buffer"))?
        .min)
}

/// The largest cache of CPU 0 (Linux sysfs), in bytes.
fn last_level_cache_bytes() -> Option<u64> {
    let dir = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache").ok()?;
    dir.filter_map(|entry| {
        let size = std::fs::read_to_string(entry.ok()?.path().join("size")).ok()?;
        parse_size(size.trim())
    })
    .max()
}

/// "260M", "48K", "1024" (bytes) as bytes.
fn parse_size(text: &str) -> Option<u64> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let n: u64 = digits.parse().ok()?;
    match unit {
        "" => Some(n),
        "K" => Some(n << 10),
        "M" => Some(n << 20),
        "G" => Some(n << 30),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_sizes_are_read_as_sysfs_writes_them() {
        assert_eq!(parse_size("260M"), Some(260 << 20));
        assert_eq!(parse_size("48K"), Some(48 << 10));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("2X"), None);
    }
}

//! The CPU's memory bandwidth ceiling that MBU is measured against: the fastest sustained read
//! and copy over a buffer well past the last-level cache, split over the cell's threads.
//!
//! Measured with plain loops, not a framework's kernels: the ceiling is the machine's, and a
//! framework that moves bytes slower than memory can (libtorch's `copy_` writes through the
//! cache, a read-for-ownership per line that `memcpy`'s streaming stores avoid) shows as a low
//! MBU rather than as a lower ceiling. The same figures as numpy's max and copyto
//! (scripts/bandwidth_check.py compares them).

use crate::cell::Bandwidth;
use crate::measure::stats::Stats;
use crate::measure::timing::Protocol;
use anyhow::{anyhow, Result};

/// The smallest buffer: 1 GiB, four times the largest last-level cache of common server CPUs.
pub const MIN_BUFFER_BYTES: u64 = 1 << 30;

/// Times a sum over the whole buffer (reads its bytes once) and a copy of one half into the
/// other (reads half, writes half), each the fastest of a fifth of a second of repeats, the
/// buffer split into `threads` parts worked on at once.
pub fn cpu(threads: usize) -> Result<Bandwidth> {
    let threads = threads.max(1);
    let buffer_bytes = MIN_BUFFER_BYTES.max(4 * last_level_cache_bytes().unwrap_or(0));
    let words = (buffer_bytes / 8) as usize / (2 * threads) * (2 * threads);
    let mut buffer: Vec<u64> = Vec::with_capacity(words);
    advise_huge_pages(buffer.as_mut_ptr() as usize, words * 8);
    // Filled with non-zero values, so every page is touched before the clock starts.
    buffer.extend(0..words as u64);
    let read = fastest(
        || {
            let parts = buffer.chunks(words / threads);
            let total = std::thread::scope(|scope| {
                let sums: Vec<_> = parts.map(|p| scope.spawn(move || sum(p))).collect();
                (sums.into_iter()).fold(0u64, |a, s| a.wrapping_add(s.join().unwrap_or(0)))
            });
            std::hint::black_box(total);
        },
        || (),
    )?;
    let (first, second) = buffer.split_at_mut(words / 2);
    let copy = fastest(
        || {
            let pairs =
                (second.chunks_mut(words / 2 / threads)).zip(first.chunks(words / 2 / threads));
            std::thread::scope(|scope| {
                for (to, from) in pairs {
                    scope.spawn(move || to.copy_from_slice(from));
                }
            });
            std::hint::black_box(&second);
        },
        || (),
    )?;
    let bytes = (words * 8) as f64;
    Ok(Bandwidth {
        buffer_bytes: (words * 8) as u64,
        read_bytes_per_second: bytes / read,
        copy_bytes_per_second: bytes / copy,
    })
}

/// Asks the kernel for transparent huge pages over the buffer's whole 2 MiB pages, as numpy
/// does for large arrays: with 4 KiB pages a sweep over a gigabyte waits on page-table walks
/// (costly under a hypervisor), and the ceiling would be the TLB's, not the memory's. Where
/// the kernel says no, the buffer keeps small pages.
fn advise_huge_pages(start: usize, len: usize) {
    const HUGE: usize = 2 << 20;
    let (first, end) = (start.next_multiple_of(HUGE), (start + len) / HUGE * HUGE);
    if end > first {
        // SAFETY: the range lies inside the buffer's allocation; madvise only sets a hint.
        unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
    }
}

/// The wrapping sum of `words`, with the widest vector additions the CPU has: the loop must
/// wait on memory, not on arithmetic (a busy core shares its cycles).
fn sum(words: &[u64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512 (checked just above).
        return unsafe { sum_avx512(words) };
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { sum_avx2(words) };
    }
    plain_sum(words)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sum_avx512(words: &[u64]) -> u64 {
    plain_sum(words)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sum_avx2(words: &[u64]) -> u64 {
    plain_sum(words)
}

/// The plain fold, which the compiler unrolls into several vector accumulators (an explicit
/// eight-lane loop measured a quarter slower: one accumulator chain).
#[inline(always)]
fn plain_sum(words: &[u64]) -> u64 {
    words.iter().fold(0u64, |a, w| a.wrapping_add(*w))
}

/// Seconds of the fastest of at least 3 runs over 0.2 s, after one warm-up run.
pub fn fastest(mut run: impl FnMut(), sync: impl Fn()) -> Result<f64> {
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
        sync,
    )?;
    Ok(Stats::of(&timing.samples)
        .ok_or_else(|| anyhow!("no timed passes over the buffer"))?
        .min)
}

/// The largest cache of CPU 0 (Linux sysfs), in bytes.
pub fn last_level_cache_bytes() -> Option<u64> {
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

    #[test]
    fn the_lanes_sum_every_word() {
        let words: Vec<u64> = (1..=1001).collect();
        assert_eq!(sum(&words), 1001 * 1002 / 2);
        assert_eq!(sum(&[u64::MAX, 2]), 1);
    }
}

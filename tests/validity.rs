//! Validity of the measurements themselves: work of a known size must be reported as that
//! size. Kept in a test binary of its own, since the memory high-water mark is per process.

use run_benchmark::cell::DeviceChoice;
use run_benchmark::child::memory::measure_memory;
use run_benchmark::measure::stats::Stats;
use run_benchmark::measure::timing::Protocol;
use tch::{Device, Kind, Tensor};

#[test]
fn a_256_mib_tensor_is_reported_as_a_256_mib_increase_within_2_percent() {
    let expected = 256u64 << 20;
    let memory = measure_memory(DeviceChoice::Cpu, || {
        // 64 Mi floats, written (so resident), alive until the end of the call.
        let block = Tensor::ones([64 << 20], (Kind::Float, Device::Cpu));
        assert_eq!(block.numel(), 64 << 20);
        Ok(())
    })
    .unwrap();
    let increase = memory.rss_increase_bytes();
    let error = (increase as f64 - expected as f64).abs() / expected as f64;
    println!(
        "increase {increase} bytes, expected {expected}, error {:.3}%",
        100.0 * error
    );
    assert!(
        error <= 0.02,
        "increase {increase} vs {expected}: {:.2}% off",
        100.0 * error
    );
    assert!(memory.peak_rss_bytes >= memory.baseline_rss_bytes + expected);
}

/// Seconds on CLOCK_MONOTONIC_RAW, a clock the timing protocol does not use.
fn raw_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_RAW, &mut ts) },
        0
    );
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Each call spins for 20 ms of a reference clock and records how long it took by that
/// clock; the protocol must report each call as that long. A busy machine that preempts a
/// call makes both clocks see the same longer call, so the check holds under load, unlike
/// a sleep against a fixed expectation.
#[test]
fn each_timed_call_matches_a_reference_clock_within_1_percent() {
    let length = 0.020;
    let protocol = Protocol::Adaptive {
        warmup: 1,
        warmup_time_s: None,
        min_runs: 10,
        max_runs: 10,
        min_time_s: 0.0,
        precision: None,
        max_time_s: None,
    };
    let mut reference = Vec::new();
    let timing = protocol
        .run(
            || {
                let start = raw_seconds();
                while raw_seconds() - start < length {
                    std::hint::spin_loop();
                }
                reference.push(raw_seconds() - start);
                Ok(())
            },
            || {},
        )
        .unwrap();
    assert_eq!(timing.calls_per_sample, 1);
    // The warm-up call is not a sample: the last samples pair with the last references.
    let reference = &reference[reference.len() - timing.samples.len()..];
    let mut errors: Vec<f64> = timing
        .samples
        .iter()
        .zip(reference)
        .map(|(measured, inner)| (measured - inner) / inner)
        .collect();
    println!("relative errors: {errors:?}");
    errors.sort_by(f64::total_cmp);
    // Never shorter than the call itself, and the median within 1% (a timer that is off,
    // or that counts its own bookkeeping, fails this).
    assert!(
        errors[0] > -0.001,
        "a call was measured shorter: {errors:?}"
    );
    let median = Stats::of(&errors).unwrap().median;
    assert!(median.abs() <= 0.01, "median error {:.3}%", 100.0 * median);
}

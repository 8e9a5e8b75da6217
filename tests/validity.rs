//! Validity of the measurements themselves: work of a known size must be reported as that
//! size. Kept in a test binary of its own, since the memory high-water mark is per process.

use run_benchmark::cell::{measure_memory, DeviceChoice};
use run_benchmark::measure::stats::Stats;
use run_benchmark::measure::timing::Protocol;
use std::time::Duration;
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

#[test]
fn a_50_ms_call_is_reported_as_50_ms_within_1_percent() {
    let expected = 0.050;
    let protocol = Protocol::Adaptive {
        warmup: 1,
        min_runs: 10,
        max_runs: 10,
        min_time_s: 0.0,
        precision: None,
        max_time_s: None,
    };
    let timing = protocol
        .run(
            || {
                std::thread::sleep(Duration::from_secs_f64(expected));
                Ok(())
            },
            || {},
        )
        .unwrap();
    let median = Stats::of(&timing.samples).unwrap().median;
    let error = (median - expected).abs() / expected;
    println!(
        "median {median:.6} s, expected {expected} s, error {:.3}%",
        100.0 * error
    );
    assert!(error <= 0.01, "median {median} s vs {expected} s");
}

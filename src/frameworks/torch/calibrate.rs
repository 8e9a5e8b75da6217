//! The matmul ceiling that MFU is measured against, and the bandwidth ceiling beside it.

use super::device::{apply_threads, check_available, kind, synchronize, tch_device};
use crate::cell::{Calibration, CalibrationResult, DeviceChoice};
use crate::measure::stats::Stats;
use crate::measure::timing::Protocol;
use anyhow::{anyhow, Result};
use tch::Tensor;

/// Times square matrix products in the sweep's dtype on its device: the FLOP/s ceiling that
/// MFU is measured against (achieved, not the vendor's datasheet peak). The product is a
/// `linear` with bias, the kernel path the models' projections take (on CPUs, fp16 `mm` and
/// `linear` run different kernels, 30x apart). The side doubles from
/// 1024 until one product takes 20 ms or the largest size is reached, so slow dtypes (fp16 on
/// most CPUs) calibrate in seconds too.
pub fn calibrate(c: &Calibration) -> Result<CalibrationResult> {
    check_available(c.device)?;
    apply_threads(c.threads);
    let largest: i64 = match c.device {
        DeviceChoice::Cpu => 2048,
        DeviceChoice::Cuda(_) => 8192,
    };
    let options = (kind(c.dtype), tch_device(c.device));
    // 1024 at least: smaller products are too short to time on a busy machine.
    let mut size = 1024;
    loop {
        let a = Tensor::randn([size, size], options);
        let weight = Tensor::randn([size, size], options);
        let bias = Tensor::randn([size], options);
        let protocol = Protocol::Adaptive {
            warmup: 1,
            warmup_time_s: None,
            min_runs: 3,
            max_runs: 20,
            min_time_s: 0.2,
            precision: None,
            max_time_s: None,
        };
        let timing = protocol.run(
            || {
                let _ = a.linear(&weight, Some(&bias));
                Ok(())
            },
            || synchronize(c.device),
        )?;
        let fastest = Stats::of(&timing.samples)
            .ok_or_else(|| anyhow!("no timed products"))?
            .min;
        if fastest >= 0.02 || size >= largest {
            drop((a, weight, bias));
            return Ok(CalibrationResult {
                size,
                flops_per_second: 2.0 * (size as f64).powi(3) / fastest,
                // A failed bandwidth measurement leaves MBU N/A, not MFU too.
                bandwidth: super::bandwidth::measure(c.device).ok(),
            });
        }
        size *= 2;
    }
}

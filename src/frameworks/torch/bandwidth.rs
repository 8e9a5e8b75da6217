//! The memory bandwidth ceiling that MBU is measured against. On a CPU, the plain loops of
//! [`crate::measure::bandwidth`] in the calibration's threads; on a GPU, the same read and copy
//! through libtorch's kernels over the device's memory.

use super::device::{synchronize, tch_device};
use crate::cell::{Bandwidth, DeviceChoice};
use crate::measure::bandwidth::{cpu, fastest};
use anyhow::Result;
use tch::{Kind, Tensor};

/// On a GPU: 2 GiB, so the read is no shorter than a few hundred microseconds at 3 TB/s (a
/// GPU's L2 is 50 MiB at most).
const GPU_BUFFER_BYTES: u64 = 2 << 30;

/// The device's read and copy ceiling, in the threads libtorch was set to.
pub fn measure(device: DeviceChoice) -> Result<Bandwidth> {
    match device {
        DeviceChoice::Cpu => cpu(tch::get_num_threads().max(1) as usize),
        DeviceChoice::Cuda(_) => gpu(device),
    }
}

/// A sum over the whole buffer (reads its bytes once) and a copy of one half into the other
/// (reads half, writes half), each the fastest of a fifth of a second of repeats.
fn gpu(device: DeviceChoice) -> Result<Bandwidth> {
    let values = (GPU_BUFFER_BYTES / 4) as i64 / 2 * 2;
    // Filled, so every page is touched before the clock starts.
    let buffer = Tensor::ones([values], (Kind::Float, tch_device(device)));
    let (first, second) = (
        buffer.narrow(0, 0, values / 2),
        buffer.narrow(0, values / 2, values / 2),
    );
    let bytes = (values * 4) as f64;
    let read = fastest(
        || {
            let _ = buffer.sum(Kind::Float);
        },
        || synchronize(device),
    )?;
    let mut target = second;
    let copy = fastest(
        || {
            target.copy_(&first);
        },
        || synchronize(device),
    )?;
    Ok(Bandwidth {
        buffer_bytes: values as u64 * 4,
        read_bytes_per_second: bytes / read,
        copy_bytes_per_second: bytes / copy,
    })
}

//! Memory of one measured call on a libtorch device (the core's protocol::memory, with the
//! CUDA caching allocator's readings where the device is a GPU).

use crate::cell::{DeviceChoice, MemoryResult};
use crate::frameworks::torch::Torch;
use anyhow::Result;

/// Peak memory of one call of `work`, with the high-water marks reset just before it, so the
/// increase over the baseline is the call's own.
pub fn measure_memory(
    device: DeviceChoice,
    work: impl FnMut() -> Result<()>,
) -> Result<MemoryResult> {
    run_benchmark_core::protocol::memory::measure(&Torch::on(device), work)
}

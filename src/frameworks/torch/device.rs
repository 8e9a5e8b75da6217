//! The plain device and dtype choices in libtorch's terms.

use crate::cell::{DeviceChoice, Dtype, Machine, Ran};
use anyhow::{bail, Result};
use tch::{Device, Kind};

pub fn tch_device(device: DeviceChoice) -> Device {
    match device {
        DeviceChoice::Cpu => Device::Cpu,
        DeviceChoice::Cuda(i) => Device::Cuda(i),
    }
}

pub fn kind(dtype: Dtype) -> Kind {
    match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::F16 => Kind::Half,
        Dtype::Bf16 => Kind::BFloat16,
    }
}

/// Waits for the device's queued work (a no-op on the CPU).
pub fn synchronize(device: DeviceChoice) {
    if let DeviceChoice::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

pub fn check_available(device: DeviceChoice) -> Result<()> {
    if let DeviceChoice::Cuda(i) = device {
        let count = tch::Cuda::device_count() as usize;
        if i >= count {
            bail!("CUDA device {i} is not available ({count} CUDA device(s))");
        }
    }
    Ok(())
}

pub fn apply_threads(threads: Option<usize>) {
    if let Some(n) = threads {
        tch::set_num_threads(n as i32);
    }
}

/// What libtorch says this child runs with, once the model is built: its intra-op threads
/// and the dtype of the model's weights (a weight of another kind counts as none).
pub fn ran(vs: &tch::nn::VarStore) -> Option<Ran> {
    let dtype = match vs.variables().values().next()?.kind() {
        Kind::Float => Dtype::F32,
        Kind::Half => Dtype::F16,
        Kind::BFloat16 => Dtype::Bf16,
        _ => return None,
    };
    Some(Ran {
        threads: tch::get_num_threads().max(1) as usize,
        dtype,
        pretrained: None,
    })
}

/// What libtorch sees of this machine, for the planner and the environment report.
pub fn machine() -> Machine {
    Machine {
        cuda_devices: tch::Cuda::device_count().max(0) as usize,
        default_threads: tch::get_num_threads().max(1) as usize,
    }
}

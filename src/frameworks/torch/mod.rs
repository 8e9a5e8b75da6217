//! libtorch (through tch), the first implementation of the core's measuring protocol:
//! [`Torch`] is the device and the build, [`model::TorchModel`] one built model's calls.
//! Each family's libtorch build is in `crate::models`.

pub mod bandwidth;
pub mod calibrate;
pub mod device;
pub mod model;
pub mod profile;
pub mod reason;

use crate::cell::{
    Cell, DeviceChoice, Dtype, Framework as CellFramework, GpuMemory, Mode, Settings,
};
use crate::measure::gpu;
use crate::models::{self, inference_task, no_generation_reason, Task};
use anyhow::{anyhow, Result};
use device::{apply_threads, check_available, kind, synchronize, tch_device};
use model::{Built, TorchModel};
use run_benchmark_core::protocol::{Device, Framework};
use tch::nn::VarStore;

/// libtorch on one device (the CPU until [`Framework::prepare`] says otherwise).
#[derive(Debug, Clone, Copy)]
pub struct Torch {
    device: DeviceChoice,
}

impl Torch {
    pub fn on(device: DeviceChoice) -> Torch {
        Torch { device }
    }
}

impl Device for Torch {
    fn sync(&self) {
        synchronize(self.device);
    }

    fn reset_peak_memory(&self) -> Result<Option<u64>> {
        match self.device {
            DeviceChoice::Cuda(i) => {
                gpu::reset_peak_stats(i)?;
                Ok(Some(gpu::allocator_stats(i)?.allocated))
            }
            DeviceChoice::Cpu => Ok(None),
        }
    }

    fn memory_after(&self, baseline_allocated_bytes: u64) -> Result<Option<GpuMemory>> {
        let DeviceChoice::Cuda(i) = self.device else {
            return Ok(None);
        };
        let allocator = gpu::allocator_stats(i)?;
        let (device_used, process_used) = match gpu::nvml_used_bytes(i) {
            Ok((d, p)) => (Some(d), p),
            Err(_) => (None, None),
        };
        Ok(Some(GpuMemory {
            device_used_bytes: device_used,
            process_used_bytes: process_used,
            allocator,
            baseline_allocated_bytes,
        }))
    }
}

impl Framework for Torch {
    type Loaded = TorchModel;

    fn unsupported(&self, cell: &Cell) -> Option<String> {
        match (cell.settings.framework, cell.mode) {
            // The runner starts other frameworks' cells in the graph child; a cell that
            // reaches libtorch's anyway is not measured here as if it were PyTorch's.
            (f, _) if !f.is_torch() => Some(format!(
                "{f} cells run in run-benchmark-graph, not in the libtorch child"
            )),
            // As the original: `NotImplementedError("Training for torchscript ...")`.
            (CellFramework::Torchscript, Mode::Training) => {
                Some("Training for torchscript is currently not implemented".into())
            }
            (CellFramework::Torchscript, Mode::Generation) => {
                Some("generation with --torchscript is not implemented".into())
            }
            _ => None,
        }
    }

    fn prepare(&mut self, settings: &Settings) -> Result<()> {
        check_available(settings.device)?;
        apply_threads(settings.threads);
        self.device = settings.device;
        tch::manual_seed(settings.seed);
        Ok(())
    }

    fn build(&mut self, cell: &Cell) -> Result<TorchModel> {
        let settings = &cell.settings;
        let config = models::from_json(&cell.config)?;
        let mut vs = VarStore::new(tch_device(settings.device));
        // Weights are created in the dtype, never as a float32 copy first: a 7B model is
        // 27 GB in float32 and 13.5 GB in bfloat16.
        vs.set_kind(kind(settings.dtype));
        let model_type = cell.config["model_type"].as_str().unwrap_or("this model");
        let built = match cell.mode {
            Mode::Generation => Built::Generator(
                models::moe::routed(settings.routing(), || {
                    models::weights::sharing_blocks(|| config.generator(vs.root()))
                })
                .ok_or_else(|| anyhow!(no_generation_reason(model_type)))?,
            ),
            Mode::Inference | Mode::Training => {
                let task = match cell.mode {
                    Mode::Training => Task::LanguageModel,
                    _ => inference_task(&cell.config, settings.only_pretrain_model),
                };
                Built::Model(models::moe::routed(settings.routing(), || {
                    models::weights::sharing_blocks(|| config.build(vs.root(), task))
                })?)
            }
        };
        if settings.dtype != Dtype::F32 {
            // The few buffers a family creates in float32 (`zeros_no_train`) follow.
            vs.set_kind(kind(settings.dtype));
        }
        let mut pretrained = None;
        if let Some(dir) = cell.config["pretrained_weights"].as_str() {
            let flush = cell.config["flush_subnormals"].as_bool().unwrap_or(false);
            let prefix = models::weights::base_model_prefix(model_type);
            let dir = std::path::Path::new(dir);
            let checkpoint_bytes = (crate::hub::checkpoint_files(dir)?.iter())
                .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
                .sum();
            let start = std::time::Instant::now();
            let loaded = models::weights::load_pretrained(&vs, dir, prefix, flush)?;
            synchronize(settings.device);
            let load_seconds = start.elapsed().as_secs_f64();
            pretrained = Some(crate::cell::PretrainedWeights {
                values: loaded.values,
                subnormal: loaded.subnormal,
                flushed: loaded.flushed,
                checkpoint_bytes: Some(checkpoint_bytes),
                load_seconds: Some(load_seconds),
            });
        }
        let mut model = TorchModel::new(vs, config, built, cell);
        model.pretrained = pretrained;
        Ok(model)
    }
}

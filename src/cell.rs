//! One measurement: a (model, batch size, sequence length, mode, metric) point and the child
//! side that measures it. Plain data, so the parent hands it to a child as JSON.

use crate::measure::{memory, timing};
use crate::models::{self, inference_task, Task};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::panic::{self, AssertUnwindSafe};
use tch::{nn::VarStore, Device, Kind, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Inference,
    Training,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Speed,
    Memory,
}

/// Where a cell runs: the CPU or one CUDA device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceChoice {
    Cpu,
    Cuda(usize),
}

impl DeviceChoice {
    pub fn tch(self) -> Device {
        match self {
            DeviceChoice::Cpu => Device::Cpu,
            DeviceChoice::Cuda(i) => Device::Cuda(i),
        }
    }
}

/// Settings shared by every cell of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Repetitions of `calls_per_repetition` calls (the original's `--repeat`).
    pub repeat: usize,
    pub calls_per_repetition: usize,
    pub device: DeviceChoice,
    pub only_pretrain_model: bool,
    pub seed: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    pub model: String,
    /// The resolved config.json, overrides applied.
    pub config: Value,
    pub batch_size: i64,
    pub sequence_length: i64,
    pub mode: Mode,
    pub metric: Metric,
    pub settings: Settings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CellResult {
    Speed {
        /// The table's figure: the fastest repetition's seconds per call.
        seconds_per_call: f64,
        /// Seconds per call of every repetition, in order.
        repetitions: Vec<f64>,
        calls_per_repetition: usize,
    },
    Memory {
        bytes: u64,
        /// What `bytes` is: "peak RSS" (VmHWM of the measuring process) or "GPU used" (NVML).
        source: String,
    },
    NotAvailable {
        reason: String,
    },
}

impl CellResult {
    pub fn na(reason: impl Into<String>) -> Self {
        CellResult::NotAvailable {
            reason: reason.into(),
        }
    }
}

/// Measures a cell in this process; every failure, panics included, becomes N/A.
pub fn run(cell: &Cell) -> CellResult {
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| measure(cell)));
    panic::set_hook(previous_hook);
    match outcome {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => CellResult::na(first_line(&format!("{e:#}"))),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("panic");
            CellResult::na(first_line(message))
        }
    }
}

/// libtorch errors carry C++ backtraces; the first line says what went wrong.
pub fn first_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error")
        .to_string()
}

fn measure(cell: &Cell) -> Result<CellResult> {
    let config = models::from_json(&cell.config)?;
    if let Some(max) = config.max_positions() {
        if cell.sequence_length > max {
            return Ok(CellResult::na(format!(
                "sequence length {} exceeds max_position_embeddings {max}",
                cell.sequence_length
            )));
        }
    }
    let device = cell.settings.device.tch();
    if let Device::Cuda(i) = device {
        if i >= tch::Cuda::device_count() as usize {
            bail!("CUDA device {i} is not available");
        }
    }
    tch::manual_seed(cell.settings.seed);
    let vs = VarStore::new(device);
    let task = match cell.mode {
        Mode::Inference => inference_task(&cell.config, cell.settings.only_pretrain_model),
        Mode::Training => Task::LanguageModel,
    };
    let model = config.build(vs.root(), task);
    let input_ids = Tensor::randint(
        config.vocab_size(),
        [cell.batch_size, cell.sequence_length],
        (Kind::Int64, device),
    );
    let mut trainable = vs.trainable_variables();
    let mut call = || -> Result<()> {
        match cell.mode {
            Mode::Inference => {
                let _ = tch::no_grad(|| model.forward(&input_ids, false));
            }
            Mode::Training => {
                // Gradients are zeroed between calls, so each call is one training step's
                // worth of work (the original let them accumulate).
                for var in trainable.iter_mut() {
                    var.zero_grad();
                }
                model.loss(&input_ids, &input_ids, true)?.backward();
            }
        }
        Ok(())
    };
    let sync = || {
        if let Device::Cuda(i) = device {
            tch::Cuda::synchronize(i as i64);
        }
    };
    match cell.metric {
        Metric::Speed => {
            let repetitions = timing::repeat_calls(
                &mut call,
                cell.settings.repeat,
                cell.settings.calls_per_repetition,
                sync,
            )?;
            let seconds_per_call = timing::minimum(&repetitions)
                .ok_or_else(|| anyhow::anyhow!("--repeat must be at least 1"))?;
            Ok(CellResult::Speed {
                seconds_per_call,
                repetitions,
                calls_per_repetition: cell.settings.calls_per_repetition,
            })
        }
        Metric::Memory => {
            call()?;
            sync();
            match device {
                Device::Cuda(i) => Ok(CellResult::Memory {
                    bytes: memory::gpu_used_bytes(i as u32)?,
                    source: "GPU used".into(),
                }),
                _ => Ok(CellResult::Memory {
                    bytes: memory::peak_rss_bytes()?,
                    source: "peak RSS".into(),
                }),
            }
        }
    }
}

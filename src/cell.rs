//! One measurement: a (model, batch size, sequence length, mode, metric) point and the child
//! side that measures it. Plain data, so the parent hands it to a child as JSON.

use crate::measure::gpu::{self, AllocatorStats};
use crate::measure::memory;
use crate::measure::operators;
use crate::measure::profile::{self, Part};
use crate::measure::stats::Stats;
use crate::measure::timing::{Protocol, Statistic};
use crate::models::{self, inference_task, Task};
use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::panic::{self, AssertUnwindSafe};
use tch::{nn, nn::OptimizerConfig, nn::VarStore, Device, Kind, Tensor};

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

    /// Waits for the device's queued work (a no-op on the CPU).
    pub fn synchronize(self) {
        if let DeviceChoice::Cuda(i) = self {
            tch::Cuda::synchronize(i as i64);
        }
    }

    fn check_available(self) -> Result<()> {
        if let DeviceChoice::Cuda(i) = self {
            let count = tch::Cuda::device_count() as usize;
            if i >= count {
                bail!("CUDA device {i} is not available ({count} CUDA device(s))");
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Cpu => write!(f, "cpu"),
            DeviceChoice::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

/// The floating-point type of weights and activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    F32,
    F16,
    Bf16,
}

impl Dtype {
    pub fn kind(self) -> Kind {
        match self {
            Dtype::F32 => Kind::Float,
            Dtype::F16 => Kind::Half,
            Dtype::Bf16 => Kind::BFloat16,
        }
    }
}

/// What a training step does after backward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    /// Forward, loss and backward only (the original).
    None,
    Sgd,
    #[value(name = "adamw")]
    AdamW,
}

/// Settings shared by every cell of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub protocol: Protocol,
    pub device: DeviceChoice,
    pub dtype: Dtype,
    /// Intra-op threads; None leaves libtorch's default.
    pub threads: Option<usize>,
    pub optimizer: Optimizer,
    pub only_pretrain_model: bool,
    /// Trace the model with TorchScript and time the traced module (the original's
    /// `--torchscript`; inference only).
    #[serde(default)]
    pub torchscript: bool,
    pub seed: i64,
    /// `--profile`: speed cells also break their call down by part.
    #[serde(default)]
    pub profile: bool,
    /// `--profile-trace DIR`: and write libtorch's operator trace of one call there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_trace: Option<std::path::PathBuf>,
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
pub struct SpeedResult {
    /// Which statistic `seconds` is.
    pub statistic: Statistic,
    /// The table's figure, in seconds per call.
    pub seconds: f64,
    /// Seconds per call of every sample, in order.
    pub samples: Vec<f64>,
    pub calls_per_sample: usize,
    pub warmup_calls: usize,
    pub stats: Stats,
    /// Matrix-product FLOPs of one call (training: 3 × forward); None where unknown (a
    /// TorchScript file).
    pub flops_per_call: Option<f64>,
    /// `--profile`: the call broken down by part, measured after the timed calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<crate::measure::profile::Profile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryResult {
    /// Peak resident memory of the measuring process during the measured call, weights and
    /// libtorch included: comparable with the original's CPU figure.
    pub peak_rss_bytes: u64,
    /// Resident memory after the model and inputs were built, before the call.
    pub baseline_rss_bytes: u64,
    /// Peak resident memory while building the model, before the high-water mark was reset.
    pub build_peak_rss_bytes: u64,
    pub gpu: Option<GpuMemory>,
}

impl MemoryResult {
    /// Growth of resident memory during the measured call: activations, gradients,
    /// optimizer state and workspace, without the weights.
    pub fn rss_increase_bytes(&self) -> u64 {
        self.peak_rss_bytes.saturating_sub(self.baseline_rss_bytes)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuMemory {
    /// NVML: used memory of the whole device after the call (the original's GPU figure).
    pub device_used_bytes: Option<u64>,
    /// NVML: memory of this process on the device, where the driver reports it.
    pub process_used_bytes: Option<u64>,
    /// The caching allocator, with peaks reset just before the measured call.
    pub allocator: AllocatorStats,
    /// Allocated bytes before the call (weights and inputs).
    pub baseline_allocated_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CellResult {
    Speed(SpeedResult),
    Memory(MemoryResult),
    NotAvailable { reason: String },
}

impl CellResult {
    pub fn na(reason: impl Into<String>) -> Self {
        CellResult::NotAvailable {
            reason: reason.into(),
        }
    }
}

/// A matrix product that times the device's achievable FLOP/s, the denominator of MFU.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub device: DeviceChoice,
    pub dtype: Dtype,
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationResult {
    /// Side of the square matrices multiplied.
    pub size: i64,
    /// FLOP/s of the fastest of the timed products.
    pub flops_per_second: f64,
}

/// What a child process is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    Cell(Cell),
    Calibrate(Calibration),
}

impl Job {
    /// Runs the job in this process and returns its result as JSON; every failure, panics
    /// included, is an error whose message is the reason.
    pub fn execute(&self) -> std::result::Result<Value, String> {
        let previous_hook = panic::take_hook();
        panic::set_hook(Box::new(|_| {}));
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| match self {
            Job::Cell(cell) => measure(cell).map(serde_json::to_value),
            Job::Calibrate(c) => calibrate(c).map(serde_json::to_value),
        }));
        panic::set_hook(previous_hook);
        match outcome {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(e))) => Err(format!("cannot serialise the result: {e}")),
            Ok(Err(e)) => Err(first_line(&format!("{e:#}"))),
            Err(payload) => Err(first_line(
                payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or("panic"),
            )),
        }
    }
}

/// libtorch errors carry C++ backtraces and tensor dumps, sometimes inside a Debug string
/// with escaped newlines; the first line, kept short, says what went wrong.
pub fn first_line(message: &str) -> String {
    const MAX_CHARS: usize = 300;
    let line = message
        .lines()
        .flat_map(|l| l.split("\\n"))
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error");
    match line.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

fn apply_threads(threads: Option<usize>) {
    if let Some(n) = threads {
        tch::set_num_threads(n as i32);
    }
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
    let settings = &cell.settings;
    if settings.torchscript && cell.mode == Mode::Training {
        // As the original: `NotImplementedError("Training for torchscript ...")`.
        return Ok(CellResult::na(
            "Training for torchscript is currently not implemented",
        ));
    }
    settings.device.check_available()?;
    if cell.metric == Metric::Speed {
        memory::retain_freed_heap();
    }
    apply_threads(settings.threads);
    let device = settings.device.tch();
    tch::manual_seed(settings.seed);
    let mut vs = VarStore::new(device);
    let task = match cell.mode {
        Mode::Inference => inference_task(&cell.config, settings.only_pretrain_model),
        Mode::Training => Task::LanguageModel,
    };
    let model = config.build(vs.root(), task);
    if settings.dtype != Dtype::F32 {
        vs.set_kind(settings.dtype.kind());
    }
    let input_ids = Tensor::randint(
        config.vocab_size(),
        [cell.batch_size, cell.sequence_length],
        (Kind::Int64, device),
    );
    let mut optimizer = match (cell.mode, settings.optimizer) {
        (Mode::Inference, _) | (_, Optimizer::None) => None,
        (_, Optimizer::Sgd) => Some(nn::Sgd::default().build(&vs, 1e-4)?),
        (_, Optimizer::AdamW) => Some(nn::AdamW::default().build(&vs, 1e-4)?),
    };
    let traced = match settings.torchscript {
        true => {
            // Traced parameters become constants, which must not require gradients.
            vs.freeze();
            Some(trace(model.as_ref(), &input_ids)?)
        }
        false => None,
    };
    let mut trainable = vs.trainable_variables();
    let mut call = || -> Result<()> {
        match (cell.mode, &traced) {
            (Mode::Inference, Some(traced)) => {
                tch::no_grad(|| {
                    traced.forward_is(&[tch::IValue::Tensor(input_ids.shallow_clone())])
                })?;
            }
            (Mode::Inference, None) => {
                let _ = tch::no_grad(|| model.forward(&input_ids, false));
            }
            (Mode::Training, _) => {
                // Gradients are zeroed before each call, so every call is one training step
                // (the original let them accumulate).
                match optimizer.as_mut() {
                    Some(opt) => opt.zero_grad(),
                    None => trainable.iter_mut().for_each(|v| v.zero_grad()),
                }
                let loss = model.loss(&input_ids, &input_ids, true)?;
                profile::scope(Part::Backward, || loss.backward());
                if let Some(opt) = optimizer.as_mut() {
                    profile::scope(Part::Optimizer, || opt.step());
                }
            }
        }
        Ok(())
    };
    let sync = || settings.device.synchronize();
    match cell.metric {
        Metric::Speed => {
            let timing = settings.protocol.run(&mut call, sync)?;
            let stats = Stats::of(&timing.samples).ok_or_else(|| anyhow!("no timed calls"))?;
            let statistic = settings.protocol.statistic();
            let seconds = match statistic {
                Statistic::Median => stats.median,
                Statistic::Minimum => stats.min,
            };
            let profile = match settings.profile {
                true => {
                    let calls = timing.samples.len() * timing.calls_per_sample;
                    let mut breakdown = profile::profile(
                        calls.clamp(3, 30),
                        &mut call,
                        profile_hooks(settings.device),
                    )?;
                    if let Some(dir) = &settings.profile_trace {
                        let cuda = matches!(settings.device, DeviceChoice::Cuda(_));
                        let trace = dir.join(trace_file_name(cell));
                        breakdown.operators =
                            Some(operators::record(cuda, Some(&trace), &mut call)?);
                    }
                    Some(breakdown)
                }
                false => None,
            };
            let forward = Some(config.forward_flops(cell.batch_size, cell.sequence_length, task))
                .filter(|f| f.is_finite());
            Ok(CellResult::Speed(SpeedResult {
                statistic,
                seconds,
                samples: timing.samples,
                calls_per_sample: timing.calls_per_sample,
                warmup_calls: timing.warmup_calls,
                stats,
                flops_per_call: match cell.mode {
                    // Backward costs about twice the forward's matrix products.
                    Mode::Training => forward.map(|f| 3.0 * f),
                    Mode::Inference => forward,
                },
                profile,
            }))
        }
        Metric::Memory => measure_memory(settings.device, call).map(CellResult::Memory),
    }
}

/// `<model>-b<batch>-s<sequence>-<mode>.json`, the model's name reduced to characters that
/// are safe in a file name.
fn trace_file_name(cell: &Cell) -> String {
    let model: String = cell
        .model
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    let mode = match cell.mode {
        Mode::Inference => "inference",
        Mode::Training => "training",
    };
    format!(
        "{model}-b{}-s{}-{mode}.json",
        cell.batch_size, cell.sequence_length
    )
}

/// `--profile`'s device synchronisation and allocated-bytes reading.
fn profile_hooks(device: DeviceChoice) -> profile::Hooks {
    match device {
        DeviceChoice::Cpu => profile::Hooks {
            sync: Box::new(|| {}),
            memory: Box::new(|| memory::heap_in_use_bytes().unwrap_or(0) as i64),
            source: profile::MemorySource::Heap,
        },
        DeviceChoice::Cuda(i) => profile::Hooks {
            sync: Box::new(move || device.synchronize()),
            memory: Box::new(move || gpu::allocator_stats(i).map_or(0, |s| s.allocated as i64)),
            source: profile::MemorySource::Allocator,
        },
    }
}

/// The model's inference forward traced into a TorchScript module, as `torch.jit.trace`.
fn trace(model: &dyn models::Model, input_ids: &Tensor) -> Result<tch::CModule> {
    tch::no_grad(|| {
        tch::CModule::create_by_tracing(
            "model",
            "forward",
            &[input_ids.shallow_clone()],
            &mut |inputs| vec![model.forward(&inputs[0], false)],
        )
    })
    .map_err(|e| anyhow!("tracing failed: {e}"))
}

/// Peak memory of one call of `work`, with the high-water marks reset just before it, so the
/// increase over the baseline is the call's own.
pub fn measure_memory(
    device: DeviceChoice,
    mut work: impl FnMut() -> Result<()>,
) -> Result<MemoryResult> {
    device.synchronize();
    let build_peak_rss_bytes = memory::peak_rss_bytes()?;
    let gpu_baseline = match device {
        DeviceChoice::Cuda(i) => {
            gpu::reset_peak_stats(i)?;
            Some(gpu::allocator_stats(i)?.allocated)
        }
        DeviceChoice::Cpu => None,
    };
    memory::reset_peak_rss()?;
    let baseline_rss_bytes = memory::current_rss_bytes()?;
    work()?;
    device.synchronize();
    let peak_rss_bytes = memory::peak_rss_bytes()?;
    let gpu = match (device, gpu_baseline) {
        (DeviceChoice::Cuda(i), Some(baseline_allocated_bytes)) => {
            let allocator = gpu::allocator_stats(i)?;
            let (device_used, process_used) = match gpu::nvml_used_bytes(i) {
                Ok((d, p)) => (Some(d), p),
                Err(_) => (None, None),
            };
            Some(GpuMemory {
                device_used_bytes: device_used,
                process_used_bytes: process_used,
                allocator,
                baseline_allocated_bytes,
            })
        }
        _ => None,
    };
    Ok(MemoryResult {
        peak_rss_bytes,
        baseline_rss_bytes,
        build_peak_rss_bytes,
        gpu,
    })
}

/// Times square matrix products in the sweep's dtype on its device: the FLOP/s ceiling that
/// MFU is measured against (achieved, not the vendor's datasheet peak). The product is a
/// `linear` with bias, the kernel path the models' projections take (on CPUs, fp16 `mm` and
/// `linear` run different kernels, 30x apart). The side doubles from
/// 1024 until one product takes 20 ms or the largest size is reached, so slow dtypes (fp16 on
/// most CPUs) calibrate in seconds too.
fn calibrate(c: &Calibration) -> Result<CalibrationResult> {
    c.device.check_available()?;
    apply_threads(c.threads);
    let largest: i64 = match c.device {
        DeviceChoice::Cpu => 2048,
        DeviceChoice::Cuda(_) => 8192,
    };
    let options = (c.dtype.kind(), c.device.tch());
    // 1024 at least: smaller products are too short to time on a busy machine.
    let mut size = 1024;
    loop {
        let a = Tensor::randn([size, size], options);
        let weight = Tensor::randn([size, size], options);
        let bias = Tensor::randn([size], options);
        let protocol = Protocol::Adaptive {
            warmup: 1,
            min_runs: 3,
            max_runs: 20,
            min_time_s: 0.2,
        };
        let timing = protocol.run(
            || {
                let _ = a.linear(&weight, Some(&bias));
                Ok(())
            },
            || c.device.synchronize(),
        )?;
        let fastest = Stats::of(&timing.samples)
            .ok_or_else(|| anyhow!("no timed products"))?
            .min;
        if fastest >= 0.02 || size >= largest {
            return Ok(CalibrationResult {
                size,
                flops_per_second: 2.0 * (size as f64).powi(3) / fastest,
            });
        }
        size *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_cuts_backtraces_and_escaped_dumps() {
        assert_eq!(first_line("\n  boom\nframe #0: x"), "boom");
        assert_eq!(
            first_line("Torch(\"Cannot insert a Tensor\\nTensor:\\n 0.0 1.0\")"),
            "Torch(\"Cannot insert a Tensor"
        );
        let long = "x".repeat(1000);
        assert_eq!(first_line(&long).len(), 303);
    }
}

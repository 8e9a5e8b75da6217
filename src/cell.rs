//! The vocabulary every module shares: a cell (one model, batch size, sequence length, mode
//! and metric), the sweep's settings, results and the sweep itself. Plain data (no tch, no
//! clap), so the planner, runner, reports and resume use it without touching libtorch, and
//! the parent hands a cell to its child as JSON.

use crate::measure::gpu::AllocatorStats;
use crate::measure::stats::Stats;
use crate::measure::timing::{Interval, Protocol, Statistic};
use crate::shard::ShardRecord;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Inference,
    Training,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Speed,
    Memory,
}

/// Where a cell runs: the CPU or one CUDA device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceChoice {
    Cpu,
    Cuda(usize),
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    F32,
    F16,
    Bf16,
}

impl Dtype {
    /// As the flags spell it: `f32`, `f16`, `bf16`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
        }
    }
}

/// Which settings vary between a sweep's cells (`--threads 1 2`, `--dtypes f32 bf16`): the
/// reports then say each row's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Axes {
    pub threads: bool,
    pub dtype: bool,
}

impl Axes {
    pub fn of<'a>(cells: impl IntoIterator<Item = &'a Cell>) -> Axes {
        let mut first: Option<&Settings> = None;
        let mut axes = Axes::default();
        for cell in cells {
            let s = &cell.settings;
            match first {
                None => first = Some(s),
                Some(f) => {
                    axes.threads |= f.threads != s.threads;
                    axes.dtype |= f.dtype != s.dtype;
                }
            }
        }
        axes
    }

    pub fn any(self) -> bool {
        self.threads || self.dtype
    }

    /// What tells a cell's settings apart from the others': `bf16, 2 threads`; empty when
    /// nothing varies.
    pub fn label(self, settings: &Settings) -> String {
        let mut parts = Vec::new();
        if self.dtype {
            parts.push(settings.dtype.name().to_string());
        }
        if self.threads {
            parts.push(threads_label(settings.threads));
        }
        parts.join(", ")
    }
}

/// `1 thread`, `4 threads`, `default threads`.
pub fn threads_label(threads: Option<usize>) -> String {
    match threads {
        Some(1) => "1 thread".into(),
        Some(n) => format!("{n} threads"),
        None => "default threads".into(),
    }
}

/// What a training step does after backward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    /// Forward, loss and backward only (the original).
    None,
    Sgd,
    AdamW,
}

/// Settings shared by every cell of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Cell {
    pub model: String,
    /// The resolved config.json, overrides applied.
    pub config: Value,
    pub batch_size: i64,
    /// The size swept: the sequence length, or the image side for vision models (`input`).
    pub sequence_length: i64,
    pub mode: Mode,
    pub metric: Metric,
    pub settings: Settings,
    /// What the model is fed, which says what `sequence_length` measures.
    #[serde(default)]
    pub input: InputKind,
}

/// A model's input: token ids (the cell's size is the sequence length) or square images
/// (the size is the side in pixels).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputKind {
    #[default]
    Tokens,
    /// Random pixels of `channels`, cut into patch_size x patch_size patches.
    Pixels { channels: i64, patch_size: i64 },
}

impl InputKind {
    /// The tables' column for the size.
    pub fn size_column(self) -> &'static str {
        match self {
            InputKind::Tokens => "Seq Length",
            InputKind::Pixels { .. } => "Image Size",
        }
    }

    /// The size in N/A lines and progress: `sequence 128`, `image size 224`.
    pub fn size_name(self) -> &'static str {
        match self {
            InputKind::Tokens => "sequence",
            InputKind::Pixels { .. } => "image size",
        }
    }

    /// Tokens of one sample of `size`: the sequence length, or the image's patches.
    pub fn tokens(self, size: i64) -> i64 {
        match self {
            InputKind::Tokens => size,
            InputKind::Pixels { patch_size, .. } => (size / patch_size).pow(2),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// The median's 95% order-statistics interval (adaptive protocol, 6 samples or more).
    #[serde(default)]
    pub interval: Option<Interval>,
    /// A precision target was set and the time cap stopped timing before it was met.
    #[serde(default)]
    pub imprecise: bool,
    /// Seconds to build the model (create and fill its weights) in the measuring child.
    #[serde(default)]
    pub build_seconds: Option<f64>,
    /// `--profile`: the call broken down by part, measured after the timed calls (boxed:
    /// most results have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Box<crate::measure::profile::Profile>>,
    /// Other processes' CPU use while the cell's child ran (None where unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<Load>,
}

/// What other processes took of the CPU while something was measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Load {
    /// Cores' worth of CPU time other processes took, on average.
    pub other_cores: f64,
    /// The machine's cores (logical CPUs).
    pub cores: usize,
    /// Enough to slow the measurement: at least half a core and a tenth of the cores.
    pub busy: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemoryResult {
    /// Peak resident memory of the measuring process during the measured call, weights and
    /// libtorch included: comparable with the original's CPU figure.
    pub peak_rss_bytes: u64,
    /// Resident memory after the model and inputs were built, before the call.
    pub baseline_rss_bytes: u64,
    /// Peak resident memory while building the model, before the high-water mark was reset.
    pub build_peak_rss_bytes: u64,
    pub gpu: Option<GpuMemory>,
    /// Seconds to build the model (create and fill its weights).
    #[serde(default)]
    pub build_seconds: Option<f64>,
    /// The planner's estimate of this cell's peak (`estimate::cell`), beside the measured one.
    #[serde(default)]
    pub estimated_peak_bytes: Option<u64>,
}

impl MemoryResult {
    /// Growth of resident memory during the measured call: activations, gradients,
    /// optimizer state and workspace, without the weights.
    pub fn rss_increase_bytes(&self) -> u64 {
        self.peak_rss_bytes.saturating_sub(self.baseline_rss_bytes)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Calibration {
    pub device: DeviceChoice,
    pub dtype: Dtype,
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CalibrationResult {
    /// Side of the square matrices multiplied.
    pub size: i64,
    /// FLOP/s of the fastest of the timed products.
    pub flops_per_second: f64,
}

/// What a child process is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    Cell(Cell),
    /// Cells of one (model, batch size, sequence length, mode), memory before speed, measured
    /// on one built model: the reply is the list of their results.
    Cells {
        cells: Vec<Cell>,
    },
    Calibrate(Calibration),
}

/// A finished cell.
pub type Row = (Cell, CellResult);

/// Everything a report reads: what was asked, where it ran, and every finished cell.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Sweep {
    pub settings: Settings,
    /// Key-value environment information, in order.
    pub environment: Vec<(String, String)>,
    /// The device's achievable FLOP/s in the sweep's dtype, when speed was measured.
    pub calibration: Option<CalibrationResult>,
    /// The (mode, metric) sections asked for, in the order they are printed.
    #[serde(default)]
    pub sections: Vec<(Mode, Metric)>,
    pub rows: Vec<Row>,
    /// For a sweep run with `--shard K/N`: its part and the whole plan, for `merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
}

impl Sweep {
    /// The sections asked for; for an export without them, those its rows belong to.
    pub fn sections(&self) -> Vec<(Mode, Metric)> {
        if !self.sections.is_empty() {
            return self.sections.clone();
        }
        let mut sections = Vec::new();
        for mode in [Mode::Inference, Mode::Training] {
            for metric in [Metric::Speed, Metric::Memory] {
                if self
                    .rows
                    .iter()
                    .any(|(c, _)| (c.mode, c.metric) == (mode, metric))
                {
                    sections.push((mode, metric));
                }
            }
        }
        sections
    }
}

/// Facts about this machine that the planner needs, read once by the parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    pub cuda_devices: usize,
    /// libtorch's intra-op threads when none are asked for.
    pub default_threads: usize,
}

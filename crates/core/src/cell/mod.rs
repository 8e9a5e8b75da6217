//! The vocabulary every module shares: a cell (one model, batch size, sequence length, mode
//! and metric), the sweep's settings, results and the sweep itself. Plain data (no tch, no
//! clap), so the planner, runner, reports and resume use it without touching libtorch, and
//! the parent hands a cell to its child as JSON.

pub mod identity;
pub mod shard;

use crate::measure::allocator::AllocatorStats;
use crate::measure::stats::Stats;
use crate::measure::timing::{Interval, Protocol, Statistic};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shard::ShardRecord;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Inference,
    Training,
    /// Greedy decoding of exactly `Cell::new_tokens` tokens after a prompt of the cell's
    /// sequence length, over a KV cache.
    Generation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Speed,
    Memory,
}

impl Mode {
    /// `inference`, `training`, `generation`: the one spelling labels and reports use.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Inference => "inference",
            Mode::Training => "training",
            Mode::Generation => "generation",
        }
    }

    /// `Inference`, `Training`, `Generation`: the name at the start of a chart title.
    pub fn title(self) -> String {
        capitalised(self.name())
    }

    /// `INFERENCE`, `TRAIN`, `GENERATION`: the word of the original's section titles
    /// (`TRAIN - SPEED - RESULTS`), which is the name's but for training.
    pub fn heading(self) -> &'static str {
        match self {
            Mode::Inference => "INFERENCE",
            Mode::Training => "TRAIN",
            Mode::Generation => "GENERATION",
        }
    }
}

impl Metric {
    /// `speed`, `memory`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Speed => "speed",
            Metric::Memory => "memory",
        }
    }

    /// `SPEED`, `MEMORY`: the word of the original's section titles.
    pub fn heading(self) -> String {
        self.name().to_uppercase()
    }

    /// `time`, `memory`: what the original's section titles call the figure.
    pub fn figure(self) -> &'static str {
        match self {
            Metric::Speed => "time",
            Metric::Memory => "memory",
        }
    }
}

/// `inference time`, `training memory`: a mode's figure as compare, section titles and the
/// CSV name it.
pub fn measure(mode: Mode, metric: Metric) -> String {
    format!("{} {}", mode.name(), metric.figure())
}

/// The original's section title: `INFERENCE - SPEED - RESULT`, plural for training
/// (`TRAIN - MEMORY - RESULTS`), as its Python printed them.
pub fn section_title(mode: Mode, metric: Metric) -> String {
    let result = match mode {
        Mode::Training => "RESULTS",
        Mode::Inference | Mode::Generation => "RESULT",
    };
    format!("{} - {} - {result}", mode.heading(), metric.heading())
}

/// `text` with its first letter upper-case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
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

/// Which framework builds and runs a cell's model: the sweep's framework axis
/// (`--framework`). PyTorch and TorchScript run in the libtorch child; TensorFlow (graph
/// mode, with or without XLA) and ONNX Runtime in the libtorch-free `run-benchmark-graph`
/// child.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Framework {
    /// libtorch, eager (the original's PyTorchBenchmark).
    #[default]
    Pytorch,
    /// libtorch with the model traced by TorchScript (the original's `--torchscript`;
    /// inference only).
    Torchscript,
    /// TensorFlow's C API, the model built once as a graph and each call run as one graph
    /// function by its eager runtime, as tf.function (the original's TensorFlowBenchmark
    /// without `eager_mode`).
    Tensorflow,
    /// TensorFlow's graph with its call compiled by XLA (the original's `--use_xla`).
    TensorflowXla,
    /// TensorFlow's graph executed op by op by its eager runtime (the original's
    /// `--eager_mode`).
    TensorflowEager,
    /// ONNX Runtime's C API, the model built in memory as an ONNX graph (inference only).
    Onnxruntime,
}

/// ONNX Runtime's graph optimisation level of every onnxruntime cell the runner starts
/// (the level users run by default): run-benchmark-graph's sessions use it unless a cell's
/// settings name another, and the environment section reports it.
pub const ONNXRUNTIME_LEVEL: &str = "ORT_ENABLE_ALL";

/// `--onnxruntime-level`'s short names and ONNX Runtime's names of its graph optimisation
/// levels, from none to all.
pub const ONNXRUNTIME_LEVELS: [(&str, &str); 5] = [
    ("disable", "ORT_DISABLE_ALL"),
    ("basic", "ORT_ENABLE_BASIC"),
    ("extended", "ORT_ENABLE_EXTENDED"),
    ("layout", "ORT_ENABLE_LAYOUT"),
    ("all", "ORT_ENABLE_ALL"),
];

/// The `model_type`s the graph frameworks (TensorFlow, ONNX Runtime) build, one list for
/// both sides: the runner makes another family's cell N/A before a child starts, and
/// run-benchmark-graph's `Family::from_json` builds exactly these (its test checks each).
pub const GRAPH_MODEL_TYPES: [&str; 11] = [
    "bert",
    "roberta",
    "xlm-roberta",
    "distilbert",
    "electra",
    "albert",
    "gpt2",
    "llama",
    "mistral",
    "qwen2",
    "qwen3",
];

impl Framework {
    /// Every framework, in the order the flag lists them.
    pub const ALL: [Framework; 6] = [
        Framework::Pytorch,
        Framework::Torchscript,
        Framework::Tensorflow,
        Framework::TensorflowXla,
        Framework::TensorflowEager,
        Framework::Onnxruntime,
    ];

    /// `pytorch`, `tensorflow-xla`: the flag's spelling, as tables, CSV and JSON show it.
    pub fn name(self) -> &'static str {
        match self {
            Framework::Pytorch => "pytorch",
            Framework::Torchscript => "torchscript",
            Framework::Tensorflow => "tensorflow",
            Framework::TensorflowXla => "tensorflow-xla",
            Framework::TensorflowEager => "tensorflow-eager",
            Framework::Onnxruntime => "onnxruntime",
        }
    }

    /// Runs in the libtorch child (PyTorch eager or TorchScript).
    pub fn is_torch(self) -> bool {
        matches!(self, Framework::Pytorch | Framework::Torchscript)
    }

    /// TensorFlow: a graph function, with or without XLA, or op by op.
    pub fn is_tensorflow(self) -> bool {
        matches!(
            self,
            Framework::Tensorflow | Framework::TensorflowXla | Framework::TensorflowEager
        )
    }

    /// The original's `torchscript` environment key and export field.
    pub fn torchscript(self) -> bool {
        self == Framework::Torchscript
    }

    /// The original's `use_xla` environment key.
    pub fn use_xla(self) -> bool {
        self == Framework::TensorflowXla
    }

    /// The original's `eager_mode` environment key.
    pub fn eager_mode(self) -> bool {
        self == Framework::TensorflowEager
    }
}

impl std::fmt::Display for Framework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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
    /// The framework that builds and runs the model (`--framework`); `torchscript` traces
    /// the model and times the traced module (the original's `--torchscript`). Older cells,
    /// without the field, are PyTorch's.
    #[serde(default)]
    pub framework: Framework,
    pub seed: i64,
    /// `--profile`: speed cells also break their call down by part.
    #[serde(default)]
    pub profile: bool,
    /// `--profile-trace DIR`: and write libtorch's operator trace of one call there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_trace: Option<std::path::PathBuf>,
    /// `--onnxruntime-level`: ONNX Runtime's graph optimisation level (its name,
    /// `ORT_ENABLE_BASIC`, ...) of an onnxruntime cell; None: [`ONNXRUNTIME_LEVEL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onnxruntime_level: Option<String>,
    /// `--routing`: how mixture-of-experts layers route their tokens; None: the model's own
    /// router (older cells, and sweeps without the flag). Models without experts ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<Routing>,
}

/// How a mixture-of-experts layer picks each token's top-k experts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// The router's softmax and top-k, as transformers (with random weights: a random
    /// router, whose pattern is not a trained model's).
    #[default]
    Model,
    /// Forced even spread, the router bypassed: token t's j-th choice is expert
    /// (t·k + j) mod E with weight 1/k, so every expert gets tokens·k/E (± 1).
    Balanced,
}

impl Routing {
    /// `model`, `balanced`: the flag's spelling, as tables and notes show it.
    pub fn name(self) -> &'static str {
        match self {
            Routing::Model => "model",
            Routing::Balanced => "balanced",
        }
    }
}

impl Settings {
    /// The ONNX Runtime graph optimisation level these settings run with.
    pub fn onnxruntime_level_name(&self) -> &str {
        self.onnxruntime_level
            .as_deref()
            .unwrap_or(ONNXRUNTIME_LEVEL)
    }

    /// The routing these settings ask of mixture-of-experts layers.
    pub fn routing(&self) -> Routing {
        self.routing.unwrap_or_default()
    }
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
    /// Random token ids (the original) or the user's text; exports without it are random.
    #[serde(default)]
    pub inputs: Inputs,
    /// Generation cells: the new tokens of every request (the prompt is `sequence_length`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_tokens: Option<i64>,
}

impl Cell {
    /// The cell in one line, for progress, N/A lines and merge messages:
    /// `bert-base batch 8 sequence 128 inference speed`; with `axes` that vary, the cell's
    /// dtype and threads after the model (`bert-base bf16 2 threads batch 8 ...`).
    pub fn label(&self, axes: &Axes) -> String {
        let (mode, metric) = (self.mode.name(), self.metric.name());
        let new_tokens = self
            .new_tokens
            .map(|n| format!(" {n} new tokens"))
            .unwrap_or_default();
        format!(
            "{}{} batch {} {} {}{new_tokens} {mode} {metric}",
            self.model,
            axes.describe(&self.settings),
            self.batch_size,
            self.input.size_name(),
            self.sequence_length
        )
    }
}

/// The longest duration a flag or variable takes (`--timeout`, `--min-time`, the Hub's
/// timeouts): a year, far below what `Duration` holds.
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// Mel frames a second of audio makes: Whisper's feature extractor hops 160 samples at
/// 16 kHz.
pub const MEL_FRAMES_PER_SECOND: i64 = 100;

/// A model's input: token ids (the cell's size is the sequence length), square images (the
/// size is the side in pixels) or audio (the size is its length in seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputKind {
    #[default]
    Tokens,
    /// Random pixels of `channels`, cut into patch_size x patch_size patches.
    Pixels { channels: i64, patch_size: i64 },
    /// Random log-mel features of `mel_bins`, [`MEL_FRAMES_PER_SECOND`] frames a second,
    /// halved into encoder positions by a stride-2 convolution; the decoder reads a fixed
    /// prefix of `decoder_tokens` tokens.
    Audio { mel_bins: i64, decoder_tokens: i64 },
}

impl InputKind {
    /// Every kind's size column, in the order a section holding several joins them.
    pub const SIZE_COLUMNS: [&'static str; 3] = ["Seq Length", "Image Size", "Audio Length (s)"];

    /// The tables' column for the size.
    pub fn size_column(self) -> &'static str {
        match self {
            InputKind::Tokens => Self::SIZE_COLUMNS[0],
            InputKind::Pixels { .. } => Self::SIZE_COLUMNS[1],
            InputKind::Audio { .. } => Self::SIZE_COLUMNS[2],
        }
    }

    /// The size in N/A lines and progress: `sequence 128`, `image size 224`, `audio
    /// seconds 30`.
    pub fn size_name(self) -> &'static str {
        match self {
            InputKind::Tokens => "sequence",
            InputKind::Pixels { .. } => "image size",
            InputKind::Audio { .. } => "audio seconds",
        }
    }

    /// Tokens of one sample of `size`: the sequence length, the image's patches, or the
    /// audio's encoder positions (frames / 2, rounded up, as the stride-2 stem gives).
    pub fn tokens(self, size: i64) -> i64 {
        match self {
            InputKind::Tokens => size,
            InputKind::Pixels { patch_size, .. } => (size / patch_size).pow(2),
            InputKind::Audio { .. } => (size * MEL_FRAMES_PER_SECOND + 1) / 2,
        }
    }
}

/// What a cell feeds the model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Inputs {
    /// Uniform random token ids, no padding.
    #[default]
    Random,
    /// The first batch-size passages of a text file through the model's tokenizer, padded or
    /// truncated to the sequence length, with an attention mask. The counts were taken by the
    /// planner; the child encodes the same batch again and checks them.
    Text(TextInputs),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TextInputs {
    pub tokenizer: PathBuf,
    pub text: PathBuf,
    /// The files' contents (the root crate's `tokenize::digest`): cells of a text sweep are the same
    /// cells (for --resume, shards and merge) only on the same text and tokenizer.
    #[serde(default)]
    pub tokenizer_digest: String,
    #[serde(default)]
    pub text_digest: String,
    /// Passages in the text file.
    pub passages: usize,
    /// Padding tokens of the batch (masked out), of batch size x sequence length.
    pub padding_tokens: u64,
    /// Rows whose passage was cut at the sequence length.
    pub truncated_rows: usize,
    /// More rows than passages: passages repeat.
    pub cycled: bool,
    pub pad_token: String,
}

/// One tokenization speed measurement: the first passages of a text file encoded by one
/// model's tokenizer, each alone or in batches, with the crate's parallelism on or off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TokenizationCell {
    /// The first model (in order) that uses this tokenizer.
    pub model: String,
    pub tokenizer: PathBuf,
    pub text: PathBuf,
    /// Passages encoded per timed call (the first ones of the file).
    pub passages: usize,
    /// None: one `encode` per passage; Some(n): `encode_batch` on n passages at a time.
    pub batch_size: Option<usize>,
    /// The crate's rayon parallelism inside `encode_batch`.
    pub parallel: bool,
    pub settings: Settings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TokenizationResult {
    Speed {
        /// Tokens made per call (special tokens included, no padding).
        tokens: u64,
        /// Threads of the crate's pool (1 without parallelism).
        threads: usize,
        /// Seconds per call: encoding all the cell's passages once.
        speed: Box<SpeedResult>,
    },
    NotAvailable {
        reason: String,
    },
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
    /// TorchScript file) or not counted (generation).
    pub flops_per_call: Option<f64>,
    /// Bytes of memory traffic of one call (weights read, activations written and read, the
    /// KV cache read by each decode step; `estimate::traffic`); None where unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_call: Option<f64>,
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
    /// Generation cells: the per-token clock readings of every timed request and their
    /// figures; a call is then one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<Box<GenerationSpeed>>,
    /// Other processes' CPU use while the cell's child ran (None where unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<Load>,
    /// The threads and weight dtype the measuring child found itself running with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran: Option<Ran>,
    /// Mixture-of-experts cells: the tokens each expert received per sparse layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expert_load: Option<Box<ExpertLoad>>,
}

/// The tokens each expert of every sparse layer received in one call (a generation cell:
/// one request), counted in one untimed call after the timed ones with the same inputs: the
/// routing of every timed call (Mixtral's training jitter aside), at no cost to their time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExpertLoad {
    /// The routing the cell used.
    pub routing: Routing,
    pub experts: i64,
    /// Experts each token goes to.
    pub top_k: i64,
    /// Tokens each sparse layer routed (padding included, as transformers routes it).
    pub tokens: u64,
    /// Per sparse layer, in order: tokens each expert received (they sum to tokens·top_k).
    pub counts: Vec<Vec<u64>>,
    /// Per sparse layer: experts that received at least one token.
    pub active_experts: Vec<u64>,
    /// Per sparse layer: the busiest expert's tokens over the mean, tokens·top_k / experts
    /// (1 is a perfect balance; the slowest expert sets a layer's time).
    pub max_over_mean: Vec<f64>,
    /// The fewest active experts of any layer.
    pub min_active_experts: u64,
    /// The largest max/mean load of any layer.
    pub worst_max_over_mean: f64,
}

impl ExpertLoad {
    /// The summary of `counts` (per layer, per expert).
    pub fn of(routing: Routing, top_k: i64, counts: Vec<Vec<u64>>) -> ExpertLoad {
        let experts = counts.first().map_or(0, |c| c.len()) as i64;
        let tokens = counts.first().map_or(0, |c| c.iter().sum::<u64>()) / top_k.max(1) as u64;
        let active_experts: Vec<u64> = (counts.iter())
            .map(|c| c.iter().filter(|&&n| n > 0).count() as u64)
            .collect();
        let max_over_mean: Vec<f64> = (counts.iter())
            .map(|c| {
                let mean = c.iter().sum::<u64>() as f64 / c.len().max(1) as f64;
                let max = c.iter().copied().max().unwrap_or(0) as f64;
                if mean > 0.0 {
                    max / mean
                } else {
                    0.0
                }
            })
            .collect();
        ExpertLoad {
            routing,
            experts,
            top_k,
            tokens,
            min_active_experts: active_experts.iter().copied().min().unwrap_or(0),
            worst_max_over_mean: max_over_mean.iter().copied().fold(0.0, f64::max),
            counts,
            active_experts,
            max_over_mean,
        }
    }
}

/// What the measuring child read back from libtorch after applying its cell's settings: a
/// fact, so an export shows the cell really ran with them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Ran {
    /// libtorch's intra-op threads (`get_num_threads`).
    pub threads: usize,
    /// The dtype of the model's first weight.
    pub dtype: Dtype,
    /// `--weights pretrained`: what loading the checkpoint found (absent for random weights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<PretrainedWeights>,
}

/// A checkpoint's weights as the child loaded them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PretrainedWeights {
    /// Values loaded.
    pub values: u64,
    /// Of them, those subnormal in the model's dtype (nonzero, below its smallest normal
    /// number): CPU kernels can take a many-fold slower path on them.
    pub subnormal: u64,
    /// `--flush-subnormals`: they were set to zero.
    pub flushed: bool,
    /// Bytes of the checkpoint's safetensors files (absent in older exports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_bytes: Option<u64>,
    /// Seconds loading took in the child: mapping the files, copying every tensor into the
    /// built model in its dtype, counting (and flushing) subnormal values; the build of the
    /// module itself is not in it (absent in older exports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_seconds: Option<f64>,
}

impl PretrainedWeights {
    /// The share of subnormal values, 0 to 1.
    pub fn subnormal_share(&self) -> f64 {
        self.subnormal as f64 / self.values.max(1) as f64
    }
}

/// The clock readings inside the timed requests of a generation cell, and the figures made
/// of them (each by the formula its field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GenerationSpeed {
    pub new_tokens: i64,
    /// Per timed request, in order: seconds from the call to each new token (N readings,
    /// taken once the token's ids exist; on a GPU after a synchronise).
    pub token_seconds: Vec<Vec<f64>>,
    /// Time to first token, per request: the first reading (prefill and the first token).
    pub ttft: Stats,
    /// Time per output token, per request: (end-to-end − TTFT) / (N − 1); None when N = 1.
    pub tpot: Option<Stats>,
    /// Inter-token latency: every gap between successive readings of every request.
    pub itl: Option<Stats>,
    /// Decode throughput, per request: batch · (N − 1) / (end-to-end − TTFT), in tokens/s.
    pub decode_tokens_per_second: Option<Stats>,
    /// End-to-end latency, per request: the last reading.
    pub end_to_end: Stats,
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
    /// Generation cells: the KV cache's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_cache: Option<KvCacheSize>,
    /// The threads and weight dtype the measuring child found itself running with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran: Option<Ran>,
}

/// A generation's KV cache: its size from the config, and what the cache held at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KvCacheSize {
    /// 2 · layers · kv-heads · head-dim · (prompt + N) · batch · dtype bytes (a
    /// sliding-window layer at most its window; encoder-decoders: decoder self-attention over
    /// 1 + N tokens plus cross-attention over the prompt).
    pub config_bytes: u64,
    /// Bytes of the keys and values the cache held after the last step (the last token is
    /// never fed, and sliding layers keep their window's last tokens).
    pub held_bytes: u64,
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

impl Calibration {
    /// The calibration a cell of these settings needs for its MFU.
    pub fn of(settings: &Settings) -> Calibration {
        Calibration {
            device: settings.device,
            dtype: settings.dtype,
            threads: settings.threads,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CalibrationResult {
    /// Side of the square matrices multiplied.
    pub size: i64,
    /// FLOP/s of the fastest of the timed products.
    pub flops_per_second: f64,
    /// The memory bandwidth ceiling, measured beside the matmul one (older files and caches
    /// have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<Bandwidth>,
}

/// The fastest sustained memory traffic of the device, over a buffer well past its last-level
/// cache, in the calibration's threads: the ceiling MBU is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Bandwidth {
    /// Bytes of the buffer read (the copy moves its two halves into each other).
    pub buffer_bytes: u64,
    /// Bytes read per second by the fastest sum over the whole buffer.
    pub read_bytes_per_second: f64,
    /// Bytes moved per second (read plus written) by the fastest copy of one half of the
    /// buffer into the other.
    pub copy_bytes_per_second: f64,
}

/// What a child process is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    // Boxed: a cell is much larger than the other variants.
    Cell(Box<Cell>),
    /// Cells of one (model, batch size, sequence length, mode), memory before speed, measured
    /// on one built model: the reply is the list of their results.
    Cells {
        cells: Vec<Cell>,
    },
    Calibrate(Calibration),
    Tokenize(Box<TokenizationCell>),
}

impl Job {
    /// Whether the job reads the process's memory (a memory cell), which needs a child whose
    /// resident memory started as an exec'd process's does (see `zygote`).
    pub fn measures_memory(&self) -> bool {
        match self {
            Job::Cell(cell) => cell.metric == Metric::Memory,
            Job::Cells { cells } => cells.iter().any(|c| c.metric == Metric::Memory),
            Job::Calibrate(_) | Job::Tokenize(_) => false,
        }
    }
}

/// A finished cell.
pub type Row = (Cell, CellResult);

/// Everything a report reads: what was asked, where it ran, and every finished cell.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Sweep {
    pub settings: Settings,
    /// Key-value environment information, in order.
    pub environment: Vec<(String, String)>,
    /// The device's achievable FLOP/s for each (device, dtype, threads) of the speed cells,
    /// when measured; a row's MFU uses the one of its own settings.
    #[serde(default)]
    pub calibrations: Vec<(Calibration, CalibrationResult)>,
    /// The (mode, metric) sections asked for, in the order they are printed.
    #[serde(default)]
    pub sections: Vec<(Mode, Metric)>,
    pub rows: Vec<Row>,
    /// Tokenization speed, when the cells take text inputs.
    #[serde(default)]
    pub tokenization: Vec<(TokenizationCell, TokenizationResult)>,
    /// For a sweep run with `--shard K/N`: its part and the whole plan, for `merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
    /// Per model (by name), the keys of its config file that its family does not read.
    #[serde(default)]
    pub unread_config_keys: Vec<(String, Vec<String>)>,
    /// The intra-op threads a cell without `--threads` runs with (the plan's, from this
    /// machine; a file read back: the count it recorded), for the exports' thread columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_threads: Option<usize>,
}

impl Sweep {
    /// Sets `key` in the environment, in place when it is there, else at the end.
    pub fn set_environment(&mut self, key: &str, value: String) {
        match self.environment.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.environment.push((key.to_string(), value)),
        }
    }

    /// The calibration of cells with these settings, if one was measured.
    pub fn calibration_for(&self, settings: &Settings) -> Option<&CalibrationResult> {
        calibration_in(&self.calibrations, settings)
    }

    /// The (dtype, threads) of every row, once each, in order: more than one means the sweep
    /// crossed them as axes and each row must say its own.
    pub fn axes(&self) -> Axes {
        Axes::of(self.rows.iter().map(|(cell, _)| cell))
    }
    /// The sections asked for; for an export without them, those its rows belong to.
    pub fn sections(&self) -> Vec<(Mode, Metric)> {
        if !self.sections.is_empty() {
            return self.sections.clone();
        }
        let mut sections = Vec::new();
        for mode in [Mode::Inference, Mode::Training, Mode::Generation] {
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

/// The calibration of cells with these settings among `calibrations`.
pub fn calibration_in<'a>(
    calibrations: &'a [(Calibration, CalibrationResult)],
    settings: &Settings,
) -> Option<&'a CalibrationResult> {
    let key = Calibration::of(settings);
    (calibrations.iter())
        .find(|(k, _)| *k == key)
        .map(|(_, c)| c)
}

/// `values` without repeats, first occurrences kept in order: `--threads 1 2 1` sweeps 1 and 2.
pub fn once_each<T: PartialEq>(values: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// A cell's value on one axis, from its settings (`bf16`, `2`).
pub type AxisValue = fn(&Settings) -> String;

/// The dtypes and thread counts a sweep's rows hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Axes {
    pub frameworks: Vec<Framework>,
    pub dtypes: Vec<Dtype>,
    pub threads: Vec<Option<usize>>,
    /// The graph optimisation levels of the onnxruntime cells.
    pub onnxruntime_levels: Vec<String>,
}

impl Axes {
    pub fn of<'a>(cells: impl IntoIterator<Item = &'a Cell>) -> Axes {
        let settings: Vec<&Settings> = cells.into_iter().map(|c| &c.settings).collect();
        Axes {
            frameworks: once_each(settings.iter().map(|s| s.framework)),
            dtypes: once_each(settings.iter().map(|s| s.dtype)),
            threads: once_each(settings.iter().map(|s| s.threads)),
            onnxruntime_levels: once_each(
                (settings.iter()).filter_map(|s| identity::onnxruntime_level(s).map(String::from)),
            ),
        }
    }

    /// `["tensorflow", "bf16", "2 threads"]`: what tells a cell from the others of its
    /// point, the axes that vary only.
    pub fn parts(&self, settings: &Settings) -> Vec<String> {
        let mut parts = Vec::new();
        if self.framework_varies() {
            parts.push(settings.framework.name().to_string());
        }
        if self.dtype_varies() {
            parts.push(settings.dtype.name().to_string());
        }
        if self.threads_vary() {
            parts.push(match settings.threads {
                Some(1) => "1 thread".into(),
                Some(n) => format!("{n} threads"),
                None => "default threads".into(),
            });
        }
        if let Some(level) = identity::onnxruntime_level(settings) {
            if self.onnxruntime_level_varies() {
                parts.push(level.to_string());
            }
        }
        parts
    }

    /// ` bf16 2 threads` (empty where neither varies), to follow a model's name.
    pub fn describe(&self, settings: &Settings) -> String {
        self.parts(settings)
            .iter()
            .map(|p| format!(" {p}"))
            .collect()
    }

    /// The columns tables add after the model, for the axes that vary: `Framework`, `Dtype`
    /// then `Threads`, with each cell's value.
    pub fn columns(&self) -> Vec<(&'static str, AxisValue)> {
        let framework: AxisValue = |s| s.framework.name().to_string();
        let dtype: AxisValue = |s| s.dtype.name().to_string();
        let threads: AxisValue = Settings::threads_name;
        [
            (self.framework_varies(), "Framework", framework),
            (self.dtype_varies(), "Dtype", dtype),
            (self.threads_vary(), "Threads", threads),
        ]
        .into_iter()
        .filter(|(varies, _, _)| *varies)
        .map(|(_, column, value)| (column, value))
        .collect()
    }

    pub fn framework_varies(&self) -> bool {
        self.frameworks.len() > 1
    }

    pub fn dtype_varies(&self) -> bool {
        self.dtypes.len() > 1
    }

    pub fn threads_vary(&self) -> bool {
        self.threads.len() > 1
    }

    pub fn onnxruntime_level_varies(&self) -> bool {
        self.onnxruntime_levels.len() > 1
    }
}

impl Settings {
    /// `2`, or `default` for libtorch's choice: the thread count as tables and CSV show it.
    pub fn threads_name(&self) -> String {
        match self.threads {
            Some(n) => n.to_string(),
            None => "default".into(),
        }
    }
}

impl Dtype {
    /// Bytes of one element.
    pub fn bytes(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::Bf16 => 2,
        }
    }

    /// `f32`, `f16`, `bf16`: the flag's spelling, as tables and CSV files show it.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
        }
    }
}

/// Facts about this machine that the planner needs, read once by the parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    pub cuda_devices: usize,
    /// libtorch's intra-op threads when none are asked for.
    pub default_threads: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODES: [Mode; 3] = [Mode::Inference, Mode::Training, Mode::Generation];
    const METRICS: [Metric; 2] = [Metric::Speed, Metric::Memory];

    #[test]
    fn every_spelling_of_a_mode_or_metric_comes_from_its_name() {
        for mode in MODES {
            // The serialised word (JSON exports, the database) is the name.
            assert_eq!(serde_json::to_value(mode).unwrap(), mode.name());
            assert_eq!(mode.title().to_lowercase(), mode.name());
            assert!(mode.title().starts_with(|c: char| c.is_uppercase()));
            assert!(
                mode.name().starts_with(&mode.heading().to_lowercase()),
                "{}",
                mode.heading()
            );
        }
        for metric in METRICS {
            assert_eq!(serde_json::to_value(metric).unwrap(), metric.name());
            assert_eq!(metric.heading().to_lowercase(), metric.name());
        }
        assert_eq!(Mode::Training.title(), "Training");
        assert_eq!(
            section_title(Mode::Inference, Metric::Speed),
            "INFERENCE - SPEED - RESULT"
        );
        assert_eq!(
            section_title(Mode::Training, Metric::Memory),
            "TRAIN - MEMORY - RESULTS"
        );
        assert_eq!(
            section_title(Mode::Generation, Metric::Speed),
            "GENERATION - SPEED - RESULT"
        );
    }
}

//! The command line. Flag names and help text live here only.
//!
//! The original's underscore spellings (`--batch_sizes`, `--no_cuda`, `--save_to_csv`, ...)
//! are accepted as hidden aliases, so existing scripts keep working.
//!
//! The framework axis is `--framework pytorch torchscript tensorflow tensorflow-xla
//! tensorflow-eager onnxruntime`: one list flag crossed like `--dtypes`/`--threads`, because the original's
//! four variants (PyTorch with and without TorchScript, TensorFlow with and without XLA) are
//! four values one sweep compares side by side, not independent switches (TorchScript is
//! PyTorch's only, XLA TensorFlow's only, and `torchscript` + `use_xla` together means
//! nothing). The value names are the original's words (`torchscript`, `use_xla` as `-xla`)
//! in the hyphenated spelling of every other value; `--torchscript`, `--use-xla` /
//! `--use_xla` and `--eager-mode` / `--eager_mode` stay as shorthands for one value, as
//! `--fp16` is for `--dtypes f16`.

use crate::cell::{DeviceChoice, Framework, Mode, Optimizer};
use crate::hub::ModelSpec;
use crate::report::{compare, plot};
use crate::shard::ShardSpec;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const MODEL_HELP: &str = "\
MODELS:
  A model is [NAME=]SOURCE[:KEY=VALUE[,KEY=VALUE...]]
    SOURCE   a config.json, a folder holding one, an embedded Hub id or short name
             (bert-base-uncased, google-bert/bert-large-uncased, bert-base = BertConfig()),
             or a Hub id in the local Hugging Face cache ($HF_HOME/hub)
    NAME     the label in tables and CSV files (default: the whole argument)
    KEY=VALUE  config.json overrides; VALUE is JSON (384, 1e-5, true, \"gelu\") or a string
  Example, the original's three-config sweep:
    run-benchmark --models bert-base bert-384-hid=bert-base:hidden_size=384 \\
                  bert-6-lay=bert-base:num_hidden_layers=6 --batch-sizes 8

SUBCOMMANDS:
  run-benchmark models                           the embedded configs, what fits where
  run-benchmark plot RESULTS... -o chart.png     time or memory against sequence length
  run-benchmark compare BASELINE.json NEW.json   changes and verdicts per cell
  run-benchmark compare --baseline NAME          the newest run in --db against a saved baseline
  run-benchmark history [MODEL...]               each cell's figure over the runs in --db
  run-benchmark db schema | runs | import FILE   the results database
  run-benchmark merge PART.json...               join a sharded sweep's parts
  run-benchmark completions SHELL | man | schema shell completions, man page, JSON Schema

ORIGINAL SPELLINGS:
  The original's underscore flags (--batch_sizes, --no_cuda, --save_to_csv, --env_print, ...)
  are accepted as aliases of the hyphenated ones.

EXIT STATUS:
  0    all requested cells ran (a cell that failed shows N/A with its reason);
       compare: no cell regressed
  1    bad input (unknown model, invalid config or sweep file, unwritable file) or another
       error; compare: at least one cell regressed
  2    invalid command line, or a missing or unreadable input file, whichever subcommand
       reads it (--sweep, an export, a result CSV, the --db database); compare: any error.
       --resume FILE where FILE does not exist yet starts fresh (one line says so)
  130  interrupted (Ctrl-C): the finished cells were written and printed
  143  terminated (SIGTERM, e.g. a cancelled CI job or a Slurm time limit): as Ctrl-C
  129  hung up (SIGHUP, the terminal closed): as Ctrl-C
  A second signal exits at once. A cell's child never outlives the sweep, even a SIGKILLed one.";

#[derive(Debug, Parser)]
#[command(
    name = "run-benchmark",
    version,
    about = "Measure the inference and training speed and memory of Transformer models",
    after_help = "Models, subcommands and exit status: --help. Guide: docs/guide.md.",
    after_long_help = MODEL_HELP,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the embedded model configs and the supported model types
    Models,
    /// Draw time or memory against sequence length (or batch size), one line per model and batch size
    #[command(after_help = PLOT_HELP)]
    Plot(PlotArgs),
    /// Compare two JSON exports cell by cell: ratio NEW/BASELINE and a verdict per cell
    #[command(after_help = COMPARE_HELP)]
    Compare(CompareArgs),
    /// Join the JSON exports of a sharded sweep (--shard K/N) into the whole sweep's report
    #[command(after_help = MERGE_HELP)]
    Merge(MergeArgs),
    /// Each cell's figure over the runs of the results database (--db), changes beyond the run-to-run spread marked
    #[command(after_help = crate::db::cli::HISTORY_HELP)]
    History(crate::db::cli::HistoryArgs),
    /// The results database (--db): its schema, its runs, importing exports and the original's CSV files
    #[command(subcommand)]
    Db(crate::db::cli::DbCommand),
    /// Print a shell completion script to stdout
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout: run-benchmark's, or plot's, compare's, merge's or history's
    Man {
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(MAN_SUBCOMMANDS))]
        subcommand: Option<String>,
    },
    /// Print the JSON Schema of --export-json files (schema 2) to stdout
    Schema,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Models to benchmark: Hub ids, short names or config paths, each optionally varied (see MODELS)
    #[arg(help_heading = "What to measure", long, num_args = 1.., required_unless_present = "sweep", value_name = "MODEL", value_parser = ModelArgParser, hide_possible_values = true)]
    pub models: Vec<ModelSpec>,

    /// Batch sizes to measure [default: 8]
    #[arg(help_heading = "Sizes", long, allow_negative_numbers = true, alias = "batch_sizes", num_args = 1.., default_values_t = [8], value_parser = size, hide_default_value = true, value_name = "N")]
    pub batch_sizes: Vec<i64>,

    /// Sequence lengths to measure (for vision models such as ViT: image sides in pixels) [default: 8 32 128 512]
    #[arg(help_heading = "Sizes", long, allow_negative_numbers = true, alias = "sequence_lengths", num_args = 1.., default_values_t = [8, 32, 128, 512], value_parser = size, hide_default_value = true, value_name = "N")]
    pub sequence_lengths: Vec<i64>,

    /// Also benchmark generation of N new tokens after prompts of each sequence length
    ///
    /// Greedy decoding of exactly N new tokens (no stop at EOS) over a KV cache, the sequence lengths being the prompts'; TTFT, TPOT, inter-token latency, tokens/s and KV-cache memory
    #[arg(help_heading = "What to measure", long, alias = "new-tokens", num_args = 1.., value_name = "N", allow_negative_numbers = true, value_parser = size)]
    pub generate: Vec<i64>,

    /// Also benchmark training: forward with masked-LM labels plus backward
    #[arg(help_heading = "What to measure", long)]
    pub training: bool,

    /// Skip the inference benchmark
    #[arg(help_heading = "What to measure", long, alias = "no_inference")]
    pub no_inference: bool,

    /// Skip speed measurements
    #[arg(help_heading = "What to measure", long, alias = "no_speed")]
    pub no_speed: bool,

    /// Skip memory measurements
    #[arg(help_heading = "What to measure", long, alias = "no_memory")]
    pub no_memory: bool,

    /// Measure in this process instead of one child process per cell (for debugging)
    #[arg(
        hide_short_help = true,
        help_heading = "Precision and device",
        long,
        alias = "no_multi_process"
    )]
    pub no_multi_process: bool,

    /// Run on the CPU even where CUDA is available
    #[arg(
        hide_short_help = true,
        help_heading = "Precision and device",
        long,
        alias = "no_cuda"
    )]
    pub no_cuda: bool,

    /// Benchmark the base model rather than the head named by the config's architectures[0]
    #[arg(
        hide_short_help = true,
        help_heading = "What to measure",
        long,
        alias = "only_pretrain_model"
    )]
    pub only_pretrain_model: bool,

    /// Trace each model with TorchScript and time the traced module (inference only): --framework torchscript
    #[arg(hide_short_help = true, help_heading = "Frameworks", long, conflicts_with_all = ["framework", "use_xla"])]
    pub torchscript: bool,

    /// The frameworks: each is an axis value crossed with the models and sizes, as --dtypes. pytorch: libtorch eager (f32, f16, bf16); torchscript: the model traced (inference only); tensorflow: TensorFlow's C API, the model built once as a graph and each call that graph run as one function by its eager runtime (as tf.function), inference and training (f32; f16 and bf16 where its CPU kernels have them); tensorflow-xla: that graph's call compiled by XLA, the compile timed apart in the build; tensorflow-eager: the original's eager mode, that graph's ops executed one at a time by the eager runtime (the same forward, loss and gradient ops, each dispatched from the host); onnxruntime: ONNX Runtime, the model built in memory as an ONNX graph, inference only (f32). TensorFlow and ONNX Runtime cells run in run-benchmark-graph, without libtorch, on bert, roberta, xlm-roberta, distilbert, electra, albert, gpt2, llama, mistral, qwen2 and qwen3 configs; other families, and --generate's cells (generation over a KV cache is measured with libtorch only), are N/A [default: pytorch]
    #[arg(help_heading = "Frameworks", long, num_args = 1.., value_enum, value_name = "FRAMEWORK", conflicts_with = "use_xla")]
    pub framework: Vec<FrameworkChoice>,

    /// TensorFlow with its call compiled by XLA (the original's use_xla): --framework tensorflow-xla
    #[arg(
        hide_short_help = true,
        help_heading = "Frameworks",
        long,
        alias = "use_xla"
    )]
    pub use_xla: bool,

    /// ONNX Runtime's graph optimisation level for --framework onnxruntime cells (ORT_DISABLE_ALL ... ORT_ENABLE_ALL), reported in the environment [default: all, as users run it]
    #[arg(
        hide_short_help = true,
        help_heading = "Frameworks",
        long,
        value_name = "LEVEL",
        value_parser = clap::builder::PossibleValuesParser::new(crate::cell::ONNXRUNTIME_LEVELS.map(|(short, _)| short))
    )]
    pub onnxruntime_level: Option<String>,

    /// TensorFlow executing the model op by op (the original's eager_mode): --framework tensorflow-eager
    #[arg(
        hide_short_help = true,
        help_heading = "Frameworks",
        long,
        alias = "eager_mode",
        conflicts_with_all = ["framework", "torchscript"]
    )]
    pub eager_mode: bool,

    /// Save the results and the environment information to CSV files
    #[arg(help_heading = "The original's CSV files", long, alias = "save_to_csv")]
    pub save_to_csv: bool,

    /// CSV file for inference times [default: inference_time_<unix time>.csv]
    #[arg(
        hide_short_help = true,
        help_heading = "The original's CSV files",
        long,
        alias = "inference_time_csv_file",
        value_name = "FILE"
    )]
    pub inference_time_csv_file: Option<PathBuf>,

    /// CSV file for inference memory [default: inference_memory_<unix time>.csv]
    #[arg(
        hide_short_help = true,
        help_heading = "The original's CSV files",
        long,
        alias = "inference_memory_csv_file",
        value_name = "FILE"
    )]
    pub inference_memory_csv_file: Option<PathBuf>,

    /// CSV file for training times [default: train_time_<unix time>.csv]
    #[arg(
        hide_short_help = true,
        help_heading = "The original's CSV files",
        long,
        alias = "train_time_csv_file",
        value_name = "FILE"
    )]
    pub train_time_csv_file: Option<PathBuf>,

    /// CSV file for training memory [default: train_memory_<unix time>.csv]
    #[arg(
        hide_short_help = true,
        help_heading = "The original's CSV files",
        long,
        alias = "train_memory_csv_file",
        value_name = "FILE"
    )]
    pub train_memory_csv_file: Option<PathBuf>,

    /// CSV file for the environment information [default: env_info_<unix time>.csv]
    #[arg(
        hide_short_help = true,
        help_heading = "The original's CSV files",
        long,
        alias = "env_info_csv_file",
        value_name = "FILE"
    )]
    pub env_info_csv_file: Option<PathBuf>,

    /// Print the environment information (versions, CPU, memory, GPUs)
    #[arg(help_heading = "Outputs", long, alias = "env_print")]
    pub env_print: bool,

    /// Timing protocol: adaptive (warm-up, then runs until --min-runs and --min-time; median) or original (--repeat x 10 calls; minimum)
    #[arg(help_heading = "Timing protocol", long, value_enum, default_value_t = ProtocolChoice::Adaptive)]
    pub protocol: ProtocolChoice,

    /// Original protocol: repetitions of 10 calls; the table shows the fastest, per call
    #[arg(hide_short_help = true, help_heading = "Timing protocol", long, allow_negative_numbers = true, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,

    /// Adaptive protocol: untimed warm-up calls before measuring
    #[arg(
        hide_short_help = true,
        help_heading = "Timing protocol",
        long,
        allow_negative_numbers = true,
        default_value_t = 2,
        value_name = "N"
    )]
    pub warmup: u32,

    /// Adaptive protocol: warm-up ends sooner, after at least one call, once its calls have taken this long (a memory cell's call in the same child counts)
    #[arg(hide_short_help = true, help_heading = "Timing protocol", long, allow_negative_numbers = true, default_value_t = 1.0, value_name = "SECONDS", value_parser = non_negative_seconds)]
    pub warmup_time: f64,

    /// Adaptive protocol: fewest timed calls (with --precision, at least 6: the fewest with a 95% interval of the median)
    #[arg(hide_short_help = true, help_heading = "Timing protocol", long, allow_negative_numbers = true, default_value_t = 6, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub min_runs: u32,

    /// Adaptive protocol: most timed calls
    #[arg(hide_short_help = true, help_heading = "Timing protocol", long, allow_negative_numbers = true, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_runs: u32,

    /// Adaptive protocol: exactly N timed calls (sets --min-runs and --max-runs, ignores --min-time)
    #[arg(help_heading = "Timing protocol", long, allow_negative_numbers = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), conflicts_with_all = ["min_runs", "max_runs", "min_time", "precision", "max_time"])]
    pub runs: Option<u32>,

    /// Adaptive protocol: least total seconds of timed calls
    #[arg(hide_short_help = true, help_heading = "Timing protocol", long, allow_negative_numbers = true, default_value_t = 0.0, value_name = "SECONDS", value_parser = non_negative_seconds)]
    pub min_time: f64,

    /// Adaptive protocol: time until the 95% interval of the median is within this much of it ('off': stop at --min-runs and --min-time)
    #[arg(help_heading = "Timing protocol", long, allow_negative_numbers = true, default_value = "1%", value_name = "PERCENT", value_parser = precision)]
    pub precision: Precision,

    /// Adaptive protocol with --precision: seconds of timed calls after which a cell stops and is flagged imprecise (sooner, from a fifth of it on, when the target is out of reach)
    #[arg(hide_short_help = true, help_heading = "Timing protocol", long, allow_negative_numbers = true, default_value_t = 20.0, value_name = "SECONDS", value_parser = positive_seconds)]
    pub max_time: f64,

    /// Measure the matmul ceiling again instead of reusing the cached one
    #[arg(hide_short_help = true, help_heading = "Timing protocol", long)]
    pub recalibrate: bool,

    /// Print every planned cell with its estimated FLOPs, peak memory and time, and the total; run nothing
    #[arg(help_heading = "What to measure", long)]
    pub dry_run: bool,

    /// Run cells whose estimated peak memory exceeds the available memory instead of marking them N/A
    #[arg(hide_short_help = true, help_heading = "What to measure", long)]
    pub no_fit_check: bool,

    /// Run the model in half precision (float16), as the original's --fp16
    #[arg(help_heading = "Precision and device", long, conflicts_with = "bf16")]
    pub fp16: bool,

    /// Run the model in bfloat16
    #[arg(help_heading = "Precision and device", long)]
    pub bf16: bool,

    /// The models' dtypes: each is an axis value crossed with the models and sizes (one value: as --fp16/--bf16) [default: f32]
    #[arg(help_heading = "Precision and device", long, num_args = 1.., value_enum, value_name = "DTYPE", conflicts_with_all = ["fp16", "bf16"])]
    pub dtypes: Vec<DtypeChoice>,

    /// Intra-op threads of libtorch: each count is an axis value crossed with the models and sizes [default: libtorch's choice, one per physical core]
    #[arg(help_heading = "Precision and device", long, num_args = 1.., allow_negative_numbers = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_THREADS as i64))]
    pub threads: Vec<u32>,

    /// Device: cpu, cuda or cuda:N [default: cuda:0 where available, else cpu]
    #[arg(help_heading = "Precision and device", long, value_name = "DEVICE", value_parser = DeviceParser, hide_possible_values = true, conflicts_with = "no_cuda")]
    pub device: Option<DeviceChoice>,

    /// Several devices at once: one cell per listed device, each cell's child pinned to its own (GPUs by CUDA_VISIBLE_DEVICES: cuda:0,cuda:1; CPU core sets by affinity: cpu:0-3,cpu:4-7)
    #[arg(help_heading = "Precision and device", long, value_name = "DEVICE", value_delimiter = ',', value_parser = crate::devices::parse_slot, conflicts_with_all = ["device", "no_cuda", "no_multi_process"])]
    pub devices: Vec<crate::devices::Slot>,

    /// The models' weights: random (the original's), or the checkpoint's safetensors
    ///
    /// pretrained: model.safetensors or a sharded model.safetensors.index.json beside a
    /// config path, in the Hugging Face cache, or downloaded from the Hub; memory-mapped and
    /// copied into the model in its dtype, every tensor checked against it
    #[arg(help_heading = "Precision and device", long, value_enum, default_value_t = WeightsChoice::Random)]
    pub weights: WeightsChoice,

    /// With --weights pretrained: set subnormal weights (nonzero values below the dtype's
    /// smallest normal number, which CPU kernels can process many times slower) to zero;
    /// their share is reported either way. It changes the model's outputs by at most those
    /// values' contributions
    #[arg(help_heading = "Precision and device", long)]
    pub flush_subnormals: bool,

    /// Mixture-of-experts models (mixtral, qwen3_moe): how tokens are routed to experts
    ///
    /// model: the model's router (with random weights, a random router: its pattern is not a
    /// trained model's). balanced: the router still runs, but token t's j-th of the top-k
    /// experts is (t·k + j) mod E with weight 1/k, so every expert gets the same load, as
    /// serving benchmarks force it. Either way the tokens each expert received are reported.
    /// Refused when no model of the sweep has experts; models without experts ignore it
    #[arg(help_heading = "Precision and device", long, value_enum, default_value_t = RoutingChoice::Model)]
    pub routing: RoutingChoice,

    /// Training: also run an optimizer step after backward (none = forward, loss and backward only)
    #[arg(help_heading = "Precision and device", long, value_enum, default_value_t = OptimizerChoice::None)]
    pub optimizer: OptimizerChoice,

    /// Speed cells also break their call down by part (embeddings, each layer's attention projections and kernel, MLP, norms, head, loss, backward, optimizer step): seconds and memory kept per part, and what profiling costs
    #[arg(help_heading = "What to measure", long)]
    pub profile: bool,

    /// With --profile: also record libtorch's operators for one call per speed cell and write its Chrome trace (chrome://tracing, ui.perfetto.dev) into DIR
    #[arg(
        hide_short_help = true,
        help_heading = "What to measure",
        long,
        value_name = "DIR",
        requires = "profile"
    )]
    pub profile_trace: Option<PathBuf>,

    /// Feed the models this text through their tokenizers instead of random token ids
    ///
    /// UTF-8, one passage per line, or JSONL (a .jsonl file) with a "text" field per line. Batch row i is passage i (cycling), tokenized with the model's special tokens, truncated or padded to the sequence length, with an attention mask; also measures tokenization speed
    #[arg(help_heading = "What to measure", long, value_name = "FILE")]
    pub input_text: Option<PathBuf>,

    /// The tokenizer.json for --input-text, a file or a folder holding one [default: the model's: beside its config, in the Hugging Face cache, or from the Hub]
    #[arg(
        hide_short_help = true,
        help_heading = "What to measure",
        long,
        value_name = "PATH",
        requires = "input_text"
    )]
    pub tokenizer: Option<PathBuf>,

    /// Write every cell's settings, raw samples, statistics and N/A reason as JSON ('-' = stdout)
    #[arg(help_heading = "Outputs", long, value_name = "FILE")]
    pub export_json: Option<PathBuf>,

    /// Write the tables and their notes as Markdown ('-' = stdout)
    #[arg(help_heading = "Outputs", long, value_name = "FILE")]
    pub export_markdown: Option<PathBuf>,

    /// Write every cell as one tidy CSV file ('-' = stdout): one header, one row per cell and statistic (model, batch_size, sequence_length, mode, metric, dtype, threads, framework, new_tokens, statistic, value, unit, reason), beside the original's per-section files
    #[arg(help_heading = "Outputs", long, value_name = "FILE")]
    pub export_csv: Option<PathBuf>,

    /// Skip the cells a previous JSON export measured with the same model, sizes and settings, carrying their results over (N/A cells run again). When FILE is also an export of this sweep, it refuses to start if any of FILE's cells is not part of this sweep (they would be lost)
    #[arg(help_heading = "Outputs", long, value_name = "FILE.json")]
    pub resume: Option<PathBuf>,

    /// Read models, sizes and options from a TOML sweep file; flags on the command line override it
    #[arg(help_heading = "Outputs", long, value_name = "FILE.toml")]
    pub sweep: Option<PathBuf>,

    /// No progress bar or progress lines on stderr (errors are still printed)
    #[arg(help_heading = "Outputs", long, short = 'q')]
    pub quiet: bool,

    /// Also write everything printed on stdout and stderr to a plain-text log file
    #[arg(help_heading = "Outputs", long, alias = "log_print")]
    pub log_print: bool,

    /// The log file (implies --log-print) [default: log_<unix time>.csv, the original's name]
    #[arg(
        hide_short_help = true,
        help_heading = "Outputs",
        long,
        alias = "log_filename",
        value_name = "FILE"
    )]
    pub log_filename: Option<PathBuf>,

    /// Seconds a cell may take before its child process is killed and the cell is N/A
    #[arg(hide_short_help = true, help_heading = "Timing protocol", long, allow_negative_numbers = true, default_value_t = 3600.0, value_name = "SECONDS", value_parser = positive_seconds)]
    pub timeout: f64,

    /// Seed for the random weights and inputs
    #[arg(
        hide_short_help = true,
        help_heading = "Timing protocol",
        long,
        allow_negative_numbers = true,
        default_value_t = 0
    )]
    pub seed: i64,

    /// Print each child's diagnostics
    #[arg(hide_short_help = true, help_heading = "Outputs", long)]
    pub verbose: bool,

    /// Run only part K of N of the planned cells (1 <= K <= N: 1/4 .. 4/4), or auto: K and N from a Slurm job array or a Kubernetes Indexed Job; join the parts' --export-json files with `run-benchmark merge`
    #[arg(help_heading = "Outputs", long, value_name = "K/N|auto")]
    pub shard: Option<ShardSpec>,

    /// --shard auto in a Kubernetes Indexed Job: the number of parts (the Job's completions)
    #[arg(hide_short_help = true, help_heading = "Outputs", long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub shard_count: Option<u32>,

    #[command(flatten)]
    pub record: crate::db::cli::RecordArgs,
}

/// `--models`' parser: the hub's, naming the embedded configs (short names, then Hub ids) as
/// possible values so that shell completions offer them, without restricting input to them
/// (a config path or any Hub id is a model too; the hub's parser alone judges a value).
#[derive(Debug, Clone, Copy)]
pub struct ModelArgParser;

impl clap::builder::TypedValueParser for ModelArgParser {
    type Value = ModelSpec;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<ModelSpec, clap::Error> {
        clap::builder::TypedValueParser::parse_ref(&crate::hub::ModelSpecParser, cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let registry = crate::hub::registry();
        let mut names: Vec<&'static str> = registry.iter().map(|e| e.short_name).collect();
        names.sort_by_key(|n| n.to_lowercase());
        let mut ids: Vec<&'static str> = (registry.iter())
            .map(|e| e.id)
            .filter(|id| !names.contains(id))
            .collect();
        ids.sort_by_key(|n| n.to_lowercase());
        names.extend(ids);
        names.dedup();
        Some(Box::new(
            names.into_iter().map(clap::builder::PossibleValue::new),
        ))
    }
}

const MERGE_HELP: &str = "\
Each part of a sweep run with --shard K/N --export-json FILE holds the whole plan; merge puts
the parts' cells back in the plan's order and prints the tables (and writes the exports) one
machine running every cell would have. Cells of a part not given are N/A (missing).

It refuses parts of different plans or settings, and a cell measured twice with different
results unless --prefer says which wins (a measured result always wins over an N/A one). It
warns when the parts ran on different hardware or libtorch builds; the environment section then
lists each part's value.

EXIT STATUS:
  0  merged
  1  a file that is not an export, parts of different plans, or a conflict without --prefer
  2  a missing or unreadable file, or an invalid command line";

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// JSON exports of the parts (--shard K/N --export-json FILE), in any order
    #[arg(required = true, value_name = "PART.json")]
    pub files: Vec<PathBuf>,

    /// Which result wins when two files measured a cell differently
    #[arg(long, value_enum)]
    pub prefer: Option<PreferChoice>,

    /// Write the merged sweep as JSON ('-' = stdout)
    #[arg(long, value_name = "FILE")]
    pub export_json: Option<PathBuf>,

    /// Write the merged tables as Markdown ('-' = stdout)
    #[arg(long, value_name = "FILE")]
    pub export_markdown: Option<PathBuf>,

    /// Write the merged results to the original's CSV files (<section>_<unix time>.csv)
    #[arg(long)]
    pub save_to_csv: bool,

    /// Print the environment information
    #[arg(long)]
    pub env_print: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PreferChoice {
    /// The file given first
    First,
    /// The file given last
    Last,
}

/// A framework that builds and runs the models (core's `Framework`, spelled the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FrameworkChoice {
    /// libtorch, eager (the original's PyTorchBenchmark)
    Pytorch,
    /// libtorch, the model traced by TorchScript (inference only)
    Torchscript,
    /// TensorFlow's C API, graph mode (the original's TensorFlowBenchmark)
    Tensorflow,
    /// TensorFlow's graph compiled by XLA (the original's use_xla)
    TensorflowXla,
    /// TensorFlow's graph executed op by op (the original's eager_mode)
    TensorflowEager,
    /// ONNX Runtime (inference only)
    Onnxruntime,
}

impl From<FrameworkChoice> for Framework {
    fn from(choice: FrameworkChoice) -> Framework {
        match choice {
            FrameworkChoice::Pytorch => Framework::Pytorch,
            FrameworkChoice::Torchscript => Framework::Torchscript,
            FrameworkChoice::Tensorflow => Framework::Tensorflow,
            FrameworkChoice::TensorflowXla => Framework::TensorflowXla,
            FrameworkChoice::TensorflowEager => Framework::TensorflowEager,
            FrameworkChoice::Onnxruntime => Framework::Onnxruntime,
        }
    }
}

/// A dtype the models run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DtypeChoice {
    /// float32, the original's default
    F32,
    /// float16 (the original's --fp16)
    F16,
    /// bfloat16
    Bf16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolChoice {
    Adaptive,
    Original,
}

/// Where the models' weights come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WeightsChoice {
    /// Random weights at transformers' initialisation scale (the original's behaviour)
    Random,
    /// The checkpoint's weights (model.safetensors or a sharded index)
    Pretrained,
}

/// How mixture-of-experts layers route their tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoutingChoice {
    /// The model's router (the default)
    Model,
    /// A forced even spread with the same top-k
    Balanced,
}

/// What a training step does after backward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerChoice {
    /// Forward, loss and backward only (the original)
    None,
    /// Plus a plain SGD step (learning rate 1e-4, no momentum): the cheapest weight update
    Sgd,
    /// Plus an AdamW step (learning rate 1e-4): two moment buffers per weight, the usual
    /// fine-tuning optimizer
    #[value(name = "adamw")]
    AdamW,
}

impl From<OptimizerChoice> for Optimizer {
    fn from(choice: OptimizerChoice) -> Self {
        match choice {
            OptimizerChoice::None => Optimizer::None,
            OptimizerChoice::Sgd => Optimizer::Sgd,
            OptimizerChoice::AdamW => Optimizer::AdamW,
        }
    }
}

const PLOT_HELP: &str = "\
INPUT:
  A JSON export (--export-json) holds every section: --mode and --metric pick one.
  The original's result CSV files (model,batch_size,sequence_length,result) hold one section
  each; a name containing \"memory\" is read as memory, otherwise as time, unless --metric says.

OUTPUT:
  -o chart.svg or -o chart.png; without -o, the first input's name with .png, beside it:
  results.json -> results.png (results-profile.png with --profile, results-roofline.png with
  --roofline, history.png with --history). Text is drawn with DejaVu Sans, embedded in the binary (no
  system fonts needed); $RUN_BENCHMARK_FONT=/path/to/font.ttf picks another TrueType font.

EXAMPLES:
  run-benchmark plot results.json                 (writes results.png)
  run-benchmark plot results.json -o chart.svg
  run-benchmark plot inference_time_1700000000.csv --x batch-size --linear -o by-batch.svg

EXIT STATUS:
  0  the chart was written
  1  nothing to plot, an input that is neither an export nor a result CSV, or an unwritable
     output
  2  a missing or unreadable input file, or an invalid command line";

const COMPARE_HELP: &str = "\
VERDICTS:
  Cells are matched by model, batch size, sequence length, mode and metric. A speed cell is
  'regressed' (or 'improved'; 'worse' and 'better' in the table) when the whole 95% bootstrap interval of the change of its
  figure (the statistic the tables show, resampled from the stored samples) lies beyond the
  run-to-run noise floor, and the change is beyond the threshold; otherwise 'within noise' ('noise' in the table).
  The interval only knows the noise within each run; two runs of the same code drift further
  apart, which the noise floor covers: 10% unless --noise-floor declares one or --noise-from
  measures it from two runs of the same code. Memory cells compare their single figures
  against the threshold ('within threshold', 'small' in the table). Cells whose configs differ under the same
  name are flagged.

EXAMPLES:
  run-benchmark compare main.json branch.json
  run-benchmark --models bert-base --db ci.sqlite --save-baseline main      (on main)
  run-benchmark --models bert-base --db ci.sqlite && \
    run-benchmark compare --baseline main --db ci.sqlite                 (on a branch)
  run-benchmark compare main.json branch.json --noise-from main.json main-again.json
  run-benchmark compare main.json branch.json --format markdown > comment.md

EXIT STATUS:
  0  no cell regressed
  1  at least one cell regressed
  2  an error (missing or unreadable file, not a JSON export) or an invalid command line";

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// JSON exports or result CSV files of the original's format (with --history: models)
    #[arg(required_unless_present = "history", value_name = "RESULTS", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,

    /// Output file: .svg or .png [default: the first input's name with .png: results.json -> results.png]
    #[arg(short, long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub output: Option<PathBuf>,

    /// Horizontal axis
    #[arg(long, value_enum, default_value_t = PlotAxis::SequenceLength)]
    pub x: PlotAxis,

    /// Linear axes instead of log-log (a y range under a factor of 3 is linear anyway)
    #[arg(long)]
    pub linear: bool,

    /// JSON input: which benchmark to draw
    #[arg(long, value_enum, default_value_t = PlotMode::Inference)]
    pub mode: PlotMode,

    /// What to draw [default: time; for a CSV file, memory when its name says so]
    #[arg(long, value_enum)]
    pub metric: Option<PlotMetric>,

    /// Draw the --profile breakdowns of a JSON export: one stacked bar per profiled cell, a segment per kind of part
    #[arg(long)]
    pub profile: bool,

    /// Draw the roofline of JSON exports: every speed cell (generation: its decode steps) at its FLOPs per byte and achieved GFLOP/s, under the calibrated bandwidth and matmul ceilings
    #[arg(long, conflicts_with = "profile")]
    pub roofline: bool,

    /// Chart title [default: says what is shown]
    #[arg(long)]
    pub title: Option<String>,

    /// Width and height in pixels
    #[arg(long, num_args = 2, value_names = ["WIDTH", "HEIGHT"], default_values_t = [1024, 640], value_parser = clap::value_parser!(u32).range(200..=8000))]
    pub size: Vec<u32>,

    #[command(flatten)]
    pub history: crate::db::cli::PlotHistoryArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlotAxis {
    SequenceLength,
    BatchSize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlotMode {
    Inference,
    Training,
    /// Generation cells: time per output token (TPOT), or the generation call's memory
    Generation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlotMetric {
    /// Time per call (the tables' statistic)
    Time,
    /// The tables' memory figure (peak resident memory on the CPU, libtorch included)
    Memory,
    /// What the call added to memory: activations, gradients, optimizer state
    Increase,
}

impl PlotArgs {
    /// The chart's file when `-o` is not given: the first input's name with `.png` (and what
    /// is drawn, for a profile or a roofline), beside it; `history.png` for `--history`, whose
    /// inputs are models.
    pub fn default_output(&self) -> PathBuf {
        let first = self.files.first().filter(|_| !self.history.history);
        let Some(first) = first else {
            return PathBuf::from("history.png");
        };
        let stem = first
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "chart".into());
        let suffix = match (self.profile, self.roofline) {
            (true, _) => "-profile",
            (_, true) => "-roofline",
            _ => "",
        };
        first.with_file_name(format!("{stem}{suffix}.png"))
    }

    /// The report's own options, so reports do not depend on the command line.
    pub fn options(&self) -> plot::Options {
        plot::Options {
            files: self.files.clone(),
            output: self.output.clone().unwrap_or_else(|| self.default_output()),
            x: match self.x {
                PlotAxis::SequenceLength => plot::XAxis::SequenceLength,
                PlotAxis::BatchSize => plot::XAxis::BatchSize,
            },
            linear: self.linear,
            mode: match self.mode {
                PlotMode::Inference => Mode::Inference,
                PlotMode::Training => Mode::Training,
                PlotMode::Generation => Mode::Generation,
            },
            metric: self.metric.map(|m| match m {
                PlotMetric::Time => plot::Figure::Time,
                PlotMetric::Memory => plot::Figure::Memory,
                PlotMetric::Increase => plot::Figure::Increase,
            }),
            profile: self.profile,
            roofline: self.roofline,
            title: self.title.clone(),
            size: (self.size[0], self.size[1]),
        }
    }
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The reference JSON export, then the one to judge against it (with --baseline or --last: only NEW, or none for the database's newest run)
    #[arg(value_names = ["BASELINE.json", "NEW.json"], num_args = 0..=2, value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub db: crate::db::cli::CompareDbArgs,

    /// Smallest change, in percent, that counts as a regression or improvement
    #[arg(long, default_value_t = 5.0, value_name = "PERCENT", value_parser = percent)]
    pub threshold: f64,

    /// Run-to-run noise, in percent, that a speed change's whole 95% interval must exceed [default: 10]
    #[arg(long, value_name = "PERCENT", value_parser = percent, conflicts_with = "noise_from")]
    pub noise_floor: Option<f64>,

    /// Measure the noise floor from two JSON exports of the same code: their largest change
    #[arg(long, num_args = 2, value_names = ["A.json", "B.json"])]
    pub noise_from: Vec<PathBuf>,

    /// Output: a terminal table, or Markdown for a pull-request comment
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    Table,
    Markdown,
}

impl CompareArgs {
    /// The report's own options, so reports do not depend on the command line.
    pub fn options(&self) -> compare::Options {
        let file = |i: usize| self.files.get(i).cloned().unwrap_or_default();
        compare::Options {
            baseline: file(0),
            new: file(1),
            threshold: self.threshold / 100.0,
            noise_floor: match (&self.noise_from[..], self.noise_floor) {
                ([a, b], _) => compare::NoiseFloor::MeasuredFrom(a.clone(), b.clone()),
                (_, Some(p)) => compare::NoiseFloor::Fixed {
                    fraction: p / 100.0,
                    declared: true,
                },
                _ => compare::NoiseFloor::Fixed {
                    fraction: compare::DEFAULT_NOISE_FLOOR,
                    declared: false,
                },
            },
            format: match self.format {
                CompareFormat::Table => compare::Format::Table,
                CompareFormat::Markdown => compare::Format::Markdown,
            },
        }
    }
}

/// A precision target: a fraction (0.01 for "1%"), or none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Precision(pub Option<f64>);

fn precision(s: &str) -> Result<Precision, String> {
    if s == "off" {
        return Ok(Precision(None));
    }
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(x) if x > 0.0 && x < 100.0 => Ok(Precision(Some(x / 100.0))),
        _ => Err(format!(
            "\"{s}\" is not a percentage between 0 and 100 (e.g. 1%) or 'off'"
        )),
    }
}

fn percent(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("\"{s}\" is not a percentage")),
    }
}

/// `cpu`, `cuda` or `cuda:N` (any N); the usual ones are offered to shell completions, which
/// would otherwise offer file names.
#[derive(Clone)]
struct DeviceParser;

impl clap::builder::TypedValueParser for DeviceParser {
    type Value = DeviceChoice;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<DeviceChoice, clap::Error> {
        let parse: fn(&str) -> Result<DeviceChoice, String> = parse_device;
        parse.parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let values = ["cpu", "cuda", "cuda:0", "cuda:1", "cuda:2", "cuda:3"];
        Some(Box::new(
            values.into_iter().map(clap::builder::PossibleValue::new),
        ))
    }
}

fn parse_device(s: &str) -> Result<DeviceChoice, String> {
    match s {
        "cpu" => Ok(DeviceChoice::Cpu),
        "cuda" => Ok(DeviceChoice::Cuda(0)),
        _ => s
            .strip_prefix("cuda:")
            .and_then(|i| i.parse().ok())
            .map(DeviceChoice::Cuda)
            .ok_or_else(|| format!("\"{s}\" is not cpu, cuda or cuda:N")),
    }
}

pub use crate::cell::MAX_SECONDS;

/// The subcommands with a man page of their own (`run-benchmark-plot.1`, ...).
pub const MAN_SUBCOMMANDS: [&str; 4] = ["plot", "compare", "merge", "history"];
/// The largest batch size or sequence length: libtorch's 32-bit index limit.
pub const MAX_SIZE: i64 = i32::MAX as i64;
/// The most `--threads` (libtorch takes an i32; no machine has more cores).
pub const MAX_THREADS: u32 = 4096;

fn non_negative_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if (0.0..=MAX_SECONDS).contains(&x) => Ok(x),
        _ => Err(format!(
            "\"{s}\" is not a number of seconds from 0 to {MAX_SECONDS} (a year)"
        )),
    }
}

fn size(s: &str) -> Result<i64, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if (1..=MAX_SIZE).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is not a positive number up to {MAX_SIZE}")),
        Err(e) => Err(format!("\"{s}\": {e}")),
    }
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x <= MAX_SECONDS => Ok(x),
        _ => Err(format!(
            "\"{s}\" is not a positive number of seconds up to {MAX_SECONDS} (a year)"
        )),
    }
}

impl RunArgs {
    /// The dtypes asked for, in order, each once: --dtypes, --fp16 or --bf16, else float32.
    pub fn dtypes(&self) -> Vec<crate::cell::Dtype> {
        use crate::cell::Dtype;
        let asked: Vec<Dtype> = match (self.fp16, self.bf16) {
            _ if !self.dtypes.is_empty() => (self.dtypes.iter())
                .map(|d| match d {
                    DtypeChoice::F32 => Dtype::F32,
                    DtypeChoice::F16 => Dtype::F16,
                    DtypeChoice::Bf16 => Dtype::Bf16,
                })
                .collect(),
            (true, _) => vec![Dtype::F16],
            (_, true) => vec![Dtype::Bf16],
            _ => vec![Dtype::F32],
        };
        crate::cell::once_each(asked)
    }

    /// The frameworks asked for, in order, each once: --framework, --torchscript,
    /// --use-xla or --eager-mode, else PyTorch.
    pub fn frameworks(&self) -> Vec<Framework> {
        let asked: Vec<Framework> = match (self.torchscript, self.use_xla) {
            _ if !self.framework.is_empty() => self.framework.iter().map(|&f| f.into()).collect(),
            (true, _) => vec![Framework::Torchscript],
            // --eager-mode with --use-xla is refused in `check`, in the original's words.
            (_, true) => vec![Framework::TensorflowXla],
            _ if self.eager_mode => vec![Framework::TensorflowEager],
            _ => vec![Framework::Pytorch],
        };
        crate::cell::once_each(asked)
    }

    /// The thread counts asked for, in order, each once; `[None]` (libtorch's default) without
    /// --threads.
    pub fn thread_counts(&self) -> Vec<Option<usize>> {
        match self.threads.is_empty() {
            true => vec![crate::devices::threads_per_set(&self.devices)],
            false => crate::cell::once_each(self.threads.iter().map(|&t| Some(t as usize))),
        }
    }

    /// What no single flag's parser can see: flags that contradict each other.
    pub fn check(&self) -> anyhow::Result<()> {
        let frameworks = self.frameworks();
        if self.eager_mode && self.use_xla {
            // The original's refusal, in its words.
            anyhow::bail!(
                "--eager-mode with XLA: cannot run the model in XLA in eager mode (as the original refused); drop one of them"
            );
        }
        if self.onnxruntime_level.is_some() && !frameworks.contains(&Framework::Onnxruntime) {
            anyhow::bail!(
                "--onnxruntime-level applies to ONNX Runtime's cells: add --framework onnxruntime"
            );
        }
        if self.no_inference
            && self.training
            && self.generate.is_empty()
            && frameworks == [Framework::Onnxruntime]
        {
            anyhow::bail!(
                "--framework onnxruntime with only --training: ONNX Runtime is inference only here (its training is a separate product); add another framework or drop --no-inference"
            );
        }
        if self.protocol == ProtocolChoice::Adaptive
            && self.runs.is_none()
            && self.min_time >= self.timeout
        {
            anyhow::bail!(
                "--min-time {} s is not below --timeout {} s: every speed cell would time out",
                self.min_time,
                self.timeout
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        let argv = std::iter::once("run-benchmark").chain(args.iter().copied());
        Cli::try_parse_from(argv).map(|cli| cli.run)
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_original_tensorflow_switches_name_one_framework_each() {
        let frameworks = |args: &[&str]| {
            let mut all = vec!["--models", "bert-base"];
            all.extend(args);
            parse(&all).unwrap().frameworks()
        };
        assert_eq!(frameworks(&["--eager_mode"]), [Framework::TensorflowEager]);
        assert_eq!(frameworks(&["--eager-mode"]), [Framework::TensorflowEager]);
        assert_eq!(frameworks(&["--use_xla"]), [Framework::TensorflowXla]);
        assert_eq!(
            frameworks(&["--framework", "tensorflow", "tensorflow-eager"]),
            [Framework::Tensorflow, Framework::TensorflowEager]
        );
        assert!(parse(&["--models", "bert-base", "--eager-mode", "--torchscript"]).is_err());
    }

    #[test]
    fn plot_names_its_chart_after_its_first_input() {
        let output = |args: &[&str]| {
            let argv = ["run-benchmark", "plot"].iter().chain(args);
            match Cli::try_parse_from(argv).unwrap().command {
                Some(Command::Plot(plot)) => plot.options().output,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            output(&["runs/results.json"]),
            PathBuf::from("runs/results.png")
        );
        assert_eq!(
            output(&["inference_time_1700.csv", "b.json"]),
            PathBuf::from("inference_time_1700.png")
        );
        assert_eq!(
            output(&["a.json", "--profile"]),
            PathBuf::from("a-profile.png")
        );
        assert_eq!(
            output(&["a.json", "--roofline"]),
            PathBuf::from("a-roofline.png")
        );
        assert_eq!(
            output(&["--history", "bert-base"]),
            PathBuf::from("history.png")
        );
        assert_eq!(output(&["a.json", "-o", "c.svg"]), PathBuf::from("c.svg"));
    }

    #[test]
    fn defaults_are_the_originals() {
        let a = parse(&["--models", "bert-base-uncased"]).unwrap();
        assert_eq!(a.batch_sizes, vec![8]);
        assert_eq!(a.sequence_lengths, vec![8, 32, 128, 512]);
        assert_eq!(a.repeat, 3);
        assert!(!a.training && !a.no_inference && !a.save_to_csv && !a.env_print);
    }

    #[test]
    fn original_underscore_spellings_are_accepted() {
        let a = parse(&[
            "--models",
            "bert-base-cased",
            "gpt2",
            "--batch_sizes",
            "8",
            "64",
            "--sequence_lengths",
            "16",
            "--no_speed",
            "--save_to_csv",
            "--no_cuda",
            "--no_multi_process",
            "--env_print",
            "--no_inference",
            "--training",
        ])
        .unwrap();
        assert_eq!(a.models.len(), 2);
        assert_eq!(a.batch_sizes, vec![8, 64]);
        assert_eq!(a.sequence_lengths, vec![16]);
        assert!(a.no_speed && a.save_to_csv && a.no_cuda && a.no_multi_process);
        assert!(a.env_print && a.no_inference && a.training);
    }

    #[test]
    fn hyphen_spellings_and_csv_files() {
        let a = parse(&[
            "--models",
            "m",
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "--inference-time-csv-file",
            "t.csv",
            "--train_memory_csv_file",
            "m.csv",
        ])
        .unwrap();
        assert_eq!(a.inference_time_csv_file, Some(PathBuf::from("t.csv")));
        assert_eq!(a.train_memory_csv_file, Some(PathBuf::from("m.csv")));
    }

    #[test]
    fn zero_batch_size_is_rejected_with_its_value() {
        let err = parse(&["--models", "m", "--batch-sizes", "0"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("0 is not a positive number up to 2147483647"),
            "{err}"
        );
        assert!(parse(&["--models", "m", "--sequence-lengths", "-3"]).is_err());
        assert!(parse(&["--models", "m", "--repeat", "0"]).is_err());
    }

    #[test]
    fn every_numeric_flag_refuses_out_of_range_values_naming_the_flag() {
        let flags = [
            "--batch-sizes",
            "--sequence-lengths",
            "--repeat",
            "--warmup",
            "--min-runs",
            "--max-runs",
            "--runs",
            "--min-time",
            "--threads",
            "--timeout",
            "--seed",
        ];
        let values = [
            "-1",
            "1e400",
            "NaN",
            "inf",
            "-inf",
            "1e300",
            "99999999999999999999",
            "",
            "x",
        ];
        for flag in flags {
            for value in values {
                if flag == "--seed" && value == "-1" {
                    assert!(parse(&["--models", "m", flag, value]).is_ok());
                    continue;
                }
                let attached = format!("{flag}={value}");
                for words in [vec![flag, value], vec![attached.as_str()]] {
                    if words[..] == [flag, "-inf"] {
                        continue; // an unknown short flag `-i` to clap: still exit status 2
                    }
                    let mut args = vec!["--models", "m"];
                    args.extend(&words);
                    let err = parse(&args).unwrap_err().to_string();
                    assert!(err.contains(flag), "{words:?}: {err}");
                }
            }
        }
        // The bounds themselves are accepted.
        let a = parse(&[
            "--models",
            "m",
            "--timeout",
            "31536000",
            "--threads",
            "4096",
        ])
        .unwrap();
        assert_eq!((a.timeout, a.threads), (MAX_SECONDS, vec![MAX_THREADS]));
        assert!(parse(&["--models", "m", "--batch-sizes", "2147483647"]).is_ok());
    }

    #[test]
    fn threads_and_dtypes_take_several_values_as_axes() {
        use crate::cell::Dtype;
        let a = parse(&["--models", "m", "--dtypes", "f16", "--threads", "1"]).unwrap();
        assert_eq!(a.dtypes(), [Dtype::F16]);
        assert_eq!(a.thread_counts(), [Some(1)]);
        assert!(a.check().is_ok());
        let a = parse(&["--models", "m"]).unwrap();
        assert_eq!(
            (a.dtypes(), a.thread_counts()),
            (vec![Dtype::F32], vec![None])
        );
        let a = parse(&[
            "--models",
            "m",
            "--threads",
            "1",
            "2",
            "1",
            "--dtypes",
            "f32",
            "bf16",
        ])
        .unwrap();
        assert!(a.check().is_ok());
        assert_eq!(a.thread_counts(), [Some(1), Some(2)], "each value once");
        assert_eq!(a.dtypes(), [Dtype::F32, Dtype::Bf16]);
        assert_eq!(
            parse(&["--models", "m", "--bf16"]).unwrap().dtypes(),
            [Dtype::Bf16]
        );
        assert_eq!(
            parse(&["--models", "m", "--fp16"]).unwrap().dtypes(),
            [Dtype::F16]
        );
        // The shorthands name one dtype: with --dtypes they contradict it.
        assert!(parse(&["--models", "m", "--dtypes", "f32", "--bf16"]).is_err());
        assert!(parse(&["--models", "m", "--dtypes", "f8"]).is_err());
    }

    #[test]
    fn measurement_flags() {
        let a = parse(&[
            "--models",
            "m",
            "--bf16",
            "--threads",
            "2",
            "--device",
            "cuda:1",
            "--optimizer",
            "adamw",
        ])
        .unwrap();
        assert!(a.bf16 && !a.fp16);
        assert_eq!(a.threads, vec![2]);
        assert_eq!(a.dtypes(), [crate::cell::Dtype::Bf16]);
        assert!(a.check().is_ok());
        assert_eq!(a.device, Some(DeviceChoice::Cuda(1)));
        assert_eq!(Optimizer::from(a.optimizer), Optimizer::AdamW);
        assert_eq!(a.protocol, ProtocolChoice::Adaptive);
        assert!(parse(&["--models", "m", "--fp16", "--bf16"]).is_err());
        assert!(parse(&["--models", "m", "--device", "tpu"]).is_err());
        assert!(parse(&["--models", "m", "--device", "cpu", "--no-cuda"]).is_err());
        assert!(parse(&["--models", "m", "--runs", "5", "--min-runs", "3"]).is_err());
        let a = parse(&["--models", "m"]).unwrap();
        assert_eq!(a.precision, Precision(Some(0.01)));
        let a = parse(&["--models", "m", "--precision", "0.5", "--max-time", "3"]).unwrap();
        assert_eq!((a.precision, a.max_time), (Precision(Some(0.005)), 3.0));
        let a = parse(&["--models", "m", "--precision", "off"]).unwrap();
        assert_eq!(a.precision, Precision(None));
        for bad in ["0", "150%", "100", "x"] {
            let err = parse(&["--models", "m", "--precision", bad]).unwrap_err();
            assert!(err.to_string().contains("--precision"), "{err}");
        }
        let a = parse(&["--models", "m", "--protocol", "original", "--repeat", "5"]).unwrap();
        assert_eq!((a.protocol, a.repeat), (ProtocolChoice::Original, 5));
    }

    #[test]
    fn models_are_required() {
        assert!(parse(&["--batch-sizes", "1"]).is_err());
    }

    #[test]
    fn model_specs_are_parsed() {
        let a = parse(&["--models", "small=bert-base:hidden_size=384"]).unwrap();
        assert_eq!(a.models[0].name, "small");
        assert_eq!(a.models[0].overrides.len(), 1);
        assert!(parse(&["--models", "x=bert-base:oops"]).is_err());
    }

    #[test]
    fn subcommands_need_no_models_and_the_child_protocol_is_not_one() {
        let cli = Cli::try_parse_from(["run-benchmark", "man"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Man { .. })));
        let cli = Cli::try_parse_from(["run-benchmark", "compare", "a.json", "b.json"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Compare(_))));
        // `__cell` is read by main before clap, so completions and the man page never offer it.
        let command = Cli::command();
        assert!(command
            .get_subcommands()
            .all(|c| c.get_name() != crate::runner::CHILD_COMMAND));
    }

    #[test]
    fn a_sweep_file_stands_in_for_models() {
        let a = parse(&["--sweep", "plan.toml"]).unwrap();
        assert!(a.models.is_empty());
        assert_eq!(a.sweep, Some(PathBuf::from("plan.toml")));
    }
}

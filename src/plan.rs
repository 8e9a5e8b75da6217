//! Flags -> the plan: resolved models, settings, the cells in the original's order, and the
//! exports asked for. Everything that can be wrong with the input fails here, before any cell.

use crate::cell::{
    CalibrationResult, Cell, DeviceChoice, Dtype, Framework, Inputs, Machine, Metric, Mode,
    Settings, TextInputs, TokenizationCell,
};
use crate::cli::{ProtocolChoice, RunArgs};
use crate::estimate::{self, Estimate};
use crate::hub::{self, ResolvedModel};
use crate::measure::timing::Protocol;
use crate::report::export::{self, CsvFiles, Outputs};
use crate::shard::{self, Shard, ShardRecord, ShardSpec};
use crate::tokenize;
use anyhow::{bail, Context, Result};
use run_benchmark_core::spec;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Calls per repetition in the original's protocol (`timeit.repeat(number=10)`).
const CALLS_PER_REPETITION: usize = 10;

/// Passages each tokenization speed call encodes, at most: enough for stable rates, few
/// enough that a large corpus does not make every call take minutes.
pub const TOKENIZATION_PASSAGES: usize = 1000;

/// What a sweep will do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub models: Vec<ResolvedModel>,
    /// The first of `variants`: the sweep's settings where one value of each is asked for.
    pub settings: Settings,
    /// The settings of each (dtype, threads) asked for, dtypes outer: the axes the cells
    /// cross with the models and sizes.
    pub variants: Vec<Settings>,
    /// libtorch's intra-op threads on this machine, for variants without `--threads`.
    pub default_threads: usize,
    pub scope: Scope,
    /// Every cell, in the order they run and are reported.
    pub cells: Vec<Cell>,
    /// Tokenization speed cells (with --input-text and speed), run after the model cells.
    pub tokenization: Vec<TokenizationCell>,
    /// Each cell's expected cost, in the same order.
    pub estimates: Vec<Estimate>,
    pub outputs: Outputs,
    /// With `--shard`: this part and the whole plan; `cells` are then this part's only.
    pub shard: Option<ShardRecord>,
}

/// The plan of the parsed command line (a sweep file already merged into it).
pub fn from_args(args: &RunArgs, machine: &Machine) -> Result<Plan> {
    args.check()?;
    let args = &fold_repeats(args)?;
    if args.models.is_empty() {
        bail!("no models: give --models, or `models` in the sweep file");
    }
    let mut models = args
        .models
        .iter()
        .map(hub::resolve)
        .collect::<Result<Vec<_>>>()?;
    if args.flush_subnormals && args.weights != crate::cli::WeightsChoice::Pretrained {
        bail!("--flush-subnormals is for --weights pretrained (random weights have none)");
    }
    if args.weights == crate::cli::WeightsChoice::Pretrained {
        // The child finds the checkpoint's folder in the config it is given.
        for (spec, model) in args.models.iter().zip(&mut models) {
            let dir = hub::weights_folder(spec)
                .with_context(|| format!("model \"{}\": --weights pretrained", spec.name))?;
            model.config["pretrained_weights"] = serde_json::Value::from(dir.display().to_string());
            if args.flush_subnormals {
                model.config["flush_subnormals"] = serde_json::Value::Bool(true);
            }
        }
    }
    if args.routing != crate::cli::RoutingChoice::Model {
        let with_experts =
            |m: &ResolvedModel| spec::from_json(&m.config).is_ok_and(|s| s.experts().is_some());
        if !models.iter().any(with_experts) {
            bail!(
                "--routing balanced: none of the models has experts (mixture-of-experts \
                 families: mixtral, qwen3_moe)"
            );
        }
    }
    if args.verbose {
        for m in models.iter().filter(|m| !m.unread_keys.is_empty()) {
            eprintln!(
                "model \"{}\": keys its family does not read (left out): {}",
                m.name,
                m.unread_keys.join(", ")
            );
        }
    }
    let scope = Scope {
        inference: !args.no_inference,
        training: args.training,
        speed: !args.no_speed,
        memory: !args.no_memory,
        generation: !args.generate.is_empty(),
    };
    if scope.sections().is_empty() {
        bail!("nothing to measure: --no-inference without --training or --generate, or both --no-speed and --no-memory");
    }
    let settings = settings(args, machine)?;
    let variants = variants(
        &settings,
        &args.frameworks(),
        &args.dtypes(),
        &args.thread_counts(),
    );
    let mut cells = cells(
        &models,
        &args.batch_sizes,
        &args.sequence_lengths,
        &args.generate,
        scope,
        &variants,
    );
    let mut tokenization = Vec::new();
    if let Some(text) = &args.input_text {
        let sizes = (
            args.batch_sizes.as_slice(),
            args.sequence_lengths.as_slice(),
        );
        let inputs = text_inputs(args, &models, text, sizes)?;
        for cell in &mut cells {
            let key = (cell.model.clone(), cell.batch_size, cell.sequence_length);
            cell.inputs = Inputs::Text(inputs[&key].clone());
        }
        if scope.speed {
            let passages = tokenize::read_passages(text)?.len();
            tokenization = tokenization_cells(&cells, &args.batch_sizes, passages, &settings);
        }
    }
    let shard = match args.shard {
        Some(spec) => {
            let part = match spec {
                ShardSpec::Fixed(part) => {
                    if let Some(count) = args.shard_count {
                        bail!(
                            "--shard-count {count} is for --shard auto; --shard {part} already \
                             gives the number of parts"
                        );
                    }
                    part
                }
                ShardSpec::Auto => shard::from_environment(
                    |name| std::env::var(name).ok(),
                    args.shard_count.map(|n| n as usize),
                )?,
            };
            let (mine, record) = split(cells, part)?;
            cells = mine;
            // The tokenizers are timed once, by the first shard.
            if part.index != 1 {
                tokenization.clear();
            }
            Some(record)
        }
        None => None,
    };
    Ok(Plan {
        estimates: cells.iter().map(estimate::cell).collect(),
        models,
        settings,
        variants,
        default_threads: machine.default_threads,
        scope,
        cells,
        tokenization,
        outputs: checked_outputs(args, scope)?,
        shard,
    })
}

/// Every model's tokenizer found and loaded, and each (model, batch, sequence) batch of the
/// text encoded once, so that a missing or corrupt tokenizer, bad text or a token id outside
/// a model's vocabulary fails here, before any cell; the padding counts go into the cells.
fn text_inputs(
    args: &RunArgs,
    models: &[ResolvedModel],
    text: &Path,
    (batch_sizes, sequence_lengths): (&[i64], &[i64]),
) -> Result<HashMap<(String, i64, i64), TextInputs>> {
    if args.frameworks().contains(&Framework::Torchscript) {
        bail!(
            "--input-text with --torchscript: the traced module takes token ids only, without \
             the attention mask that padded text needs; drop one of them"
        );
    }
    let passages = tokenize::read_passages(text)?;
    let text_digest = tokenize::digest(text)?;
    let mut inputs = HashMap::new();
    for (spec, model) in args.models.iter().zip(models) {
        let what = || format!("--input-text: model \"{}\"", model.name);
        if model.config["model_type"] == "torchscript" {
            bail!(
                "{}: a TorchScript file has no tokenizer and takes only token ids; drop \
                 --input-text or the model",
                what()
            );
        }
        let arch = spec::from_json(&model.config)?;
        let model_type = model.config["model_type"].as_str().unwrap_or("this model");
        if let spec::InputKind::Pixels { .. } = arch.input_kind() {
            bail!(
                "{}: {model_type} takes images (pixel values), not text; drop --input-text or \
                 the model",
                what()
            );
        }
        if !arch.takes_attention_mask() {
            bail!("{}: {model_type}: {}", what(), spec::NO_MASK);
        }
        let file = tokenize::locate(args.tokenizer.as_deref(), &spec.source).with_context(what)?;
        let tokenizer = tokenize::load(&file).with_context(what)?;
        let tokenizer_digest = tokenize::digest(&file)?;
        let vocab_size = arch.vocab_size();
        for &batch in batch_sizes {
            for &seq in sequence_lengths {
                let encoded =
                    tokenize::encode_batch(&tokenizer, &passages, batch as usize, seq as usize)
                        .with_context(|| format!("{}: {}", what(), file.display()))?;
                if let Some(&id) = encoded.ids.iter().find(|&&id| id >= vocab_size) {
                    bail!(
                        "{}: {} makes token id {id}, outside the model's vocabulary of \
                         {vocab_size}; is it the model's tokenizer?",
                        what(),
                        file.display()
                    );
                }
                let cell_inputs = TextInputs {
                    tokenizer: file.clone(),
                    text: text.to_path_buf(),
                    tokenizer_digest: tokenizer_digest.clone(),
                    text_digest: text_digest.clone(),
                    passages: passages.len(),
                    padding_tokens: encoded.padding_tokens,
                    truncated_rows: encoded.truncated_rows,
                    cycled: encoded.cycled,
                    pad_token: encoded.pad_token,
                };
                inputs.insert((model.name.clone(), batch, seq), cell_inputs);
            }
        }
    }
    Ok(inputs)
}

/// For each tokenizer (once, under the first model that uses it): every passage encoded
/// alone, then in batches of each batch size with the crate's parallelism off and on.
fn tokenization_cells(
    cells: &[Cell],
    batch_sizes: &[i64],
    passages: usize,
    settings: &Settings,
) -> Vec<TokenizationCell> {
    let mut seen: Vec<&Path> = Vec::new();
    let mut out = Vec::new();
    for cell in cells {
        let Inputs::Text(text) = &cell.inputs else {
            continue;
        };
        if seen.contains(&text.tokenizer.as_path()) {
            continue;
        }
        seen.push(&text.tokenizer);
        let mut variants = vec![(None, false)];
        for &batch in batch_sizes {
            variants.extend([(Some(batch as usize), false), (Some(batch as usize), true)]);
        }
        for (batch_size, parallel) in variants {
            out.push(TokenizationCell {
                model: cell.model.clone(),
                tokenizer: text.tokenizer.clone(),
                text: text.text.clone(),
                passages: passages.min(TOKENIZATION_PASSAGES),
                batch_size,
                parallel,
                settings: settings.clone(),
            });
        }
    }
    out
}

/// The flags with each repeated value of an axis once (a cell measured twice would repeat
/// its key in every export), said in one line; two different models under one name are an
/// error naming both.
fn fold_repeats(args: &RunArgs) -> Result<RunArgs> {
    fn fold<T: PartialEq + Clone>(
        flag: &str,
        values: &mut Vec<T>,
        show: impl Fn(&T) -> String,
        said: &mut Vec<String>,
    ) {
        let once = crate::cell::once_each(values.iter().cloned());
        if once.len() < values.len() {
            let list = |v: &[T]| v.iter().map(&show).collect::<Vec<_>>().join(" ");
            said.push(format!("{flag} {} -> {}", list(values), list(&once)));
            *values = once;
        }
    }
    let mut folded = args.clone();
    let show_model = |m: &hub::ModelSpec| {
        let overrides: String = (m.overrides.iter())
            .map(|(k, v)| format!(":{k}={v}"))
            .collect();
        let source = m.source.to_string_lossy();
        match m.name == source {
            true => format!("{source}{overrides}"),
            false => format!("{}={source}{overrides}", m.name),
        }
    };
    for (i, model) in args.models.iter().enumerate() {
        if let Some(other) = (args.models[..i].iter()).find(|o| o.name == model.name && *o != model)
        {
            bail!(
                "--models: two different models are named \"{}\": {} and {}; give each its own \
                 name (NAME=SOURCE)",
                model.name,
                show_model(other),
                show_model(model)
            );
        }
    }
    let mut said = Vec::new();
    let number = |n: &i64| n.to_string();
    fold("--models", &mut folded.models, show_model, &mut said);
    fold("--batch-sizes", &mut folded.batch_sizes, number, &mut said);
    fold(
        "--sequence-lengths",
        &mut folded.sequence_lengths,
        number,
        &mut said,
    );
    fold("--generate", &mut folded.generate, number, &mut said);
    fold(
        "--threads",
        &mut folded.threads,
        |n| n.to_string(),
        &mut said,
    );
    let dtype = |d: &crate::cli::DtypeChoice| {
        clap::ValueEnum::to_possible_value(d).map_or(format!("{d:?}"), |v| v.get_name().into())
    };
    fold("--dtypes", &mut folded.dtypes, dtype, &mut said);
    if !said.is_empty() && !args.quiet {
        crate::console::eprintln(&format!(
            "Repeated values are measured once: {}",
            said.join("; ")
        ));
    }
    Ok(folded)
}

/// This shard's cells of the whole plan, in plan order, and the record `merge` needs. More
/// parts than cells is an error: some would have nothing to measure.
fn split(cells: Vec<Cell>, part: Shard) -> Result<(Vec<Cell>, ShardRecord)> {
    if part.count > cells.len() {
        bail!(
            "--shard {part}: {} parts of a plan of {} cell(s); give at most {} parts",
            part.count,
            cells.len(),
            cells.len().max(1)
        );
    }
    let costs: Vec<f64> = cells.iter().map(estimated_seconds).collect();
    let shard_of = shard::assign(&costs, part.count);
    let record = ShardRecord::new(&cells, &shard_of, part);
    let mine = (cells.into_iter().zip(shard_of))
        .filter(|(_, s)| *s + 1 == part.index)
        .map(|(cell, _)| cell)
        .collect();
    Ok((mine, record))
}

/// Every shard must compute the same split, whatever machine it runs on, so cells are costed
/// at a nominal FLOP rate rather than this machine's calibration: only the ratios between
/// cells matter for balancing.
const NOMINAL: CalibrationResult = CalibrationResult {
    size: 0,
    flops_per_second: 1e11,
    bandwidth: None,
};

/// Estimated seconds to measure `cell`, from the same cost model as `--dry-run` and the fit
/// check ([`estimate::cell`]), at the nominal rate.
pub fn estimated_seconds(cell: &Cell) -> f64 {
    estimate::cell(cell).seconds(Some(&NOMINAL))
}

pub fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The exports, every path checked first ([`export::check_paths`]), so that a refused path
/// leaves no claimed CSV name behind; a dry run claims none.
fn checked_outputs(args: &RunArgs, scope: Scope) -> Result<Outputs> {
    let looked = outputs(args, scope, false)?;
    export::check_paths(&export::exporters(&looked, &scope.sections())?)?;
    match args.dry_run {
        true => Ok(looked),
        false => outputs(args, scope, true),
    }
}

/// The exports the flags ask for; CSV files without a name get the original's
/// `<section>_<unix time>.csv`, with a suffix where another run took that name
/// ([`CsvFiles::fresh`]; a dry run only looks).
fn outputs(args: &RunArgs, scope: Scope, claim: bool) -> Result<Outputs> {
    // env_info first: it is written by every CSV export, so it is the one claimed. Only
    // the files of the sections asked for: a claimed name is an empty file until written.
    let sections = scope.sections();
    let asked = |mode, metric| Some((mode, metric)).filter(|s| sections.contains(s));
    let defaults = |f: &CsvFiles| -> Vec<PathBuf> {
        [
            (None, &args.env_info_csv_file, &f.env_info),
            (
                asked(Mode::Inference, Metric::Speed),
                &args.inference_time_csv_file,
                &f.inference_time,
            ),
            (
                asked(Mode::Inference, Metric::Memory),
                &args.inference_memory_csv_file,
                &f.inference_memory,
            ),
            (
                asked(Mode::Training, Metric::Speed),
                &args.train_time_csv_file,
                &f.train_time,
            ),
            (
                asked(Mode::Training, Metric::Memory),
                &args.train_memory_csv_file,
                &f.train_memory,
            ),
            (
                asked(Mode::Generation, Metric::Speed),
                &None,
                &f.generation_time,
            ),
            (
                asked(Mode::Generation, Metric::Memory),
                &None,
                &f.generation_memory,
            ),
        ]
        .into_iter()
        .enumerate()
        .filter(|(at, (section, given, _))| given.is_none() && (*at == 0 || section.is_some()))
        .map(|(_, (_, _, path))| path.clone())
        .collect()
    };
    let csv = match args.save_to_csv {
        true => {
            let stamped = CsvFiles::fresh(unix_time(), defaults, claim)?;
            let pick = |given: &Option<PathBuf>, default: PathBuf| given.clone().unwrap_or(default);
            Some(CsvFiles {
                inference_time: pick(&args.inference_time_csv_file, stamped.inference_time),
                inference_memory: pick(&args.inference_memory_csv_file, stamped.inference_memory),
                train_time: pick(&args.train_time_csv_file, stamped.train_time),
                train_memory: pick(&args.train_memory_csv_file, stamped.train_memory),
                generation_time: stamped.generation_time,
                generation_memory: stamped.generation_memory,
                env_info: pick(&args.env_info_csv_file, stamped.env_info),
            })
        }
        false => None,
    };
    Ok(Outputs {
        csv,
        json: args.export_json.clone(),
        markdown: args.export_markdown.clone(),
    })
}

/// The sweep's settings from the flags; an unavailable device is an error here, before any cell.
fn settings(args: &RunArgs, machine: &Machine) -> Result<Settings> {
    let slots = (!args.devices.is_empty()).then(|| {
        let cores = crate::devices::allowed_cores();
        crate::devices::check(&args.devices, machine.cuda_devices, &cores)
    });
    let device = match args.device {
        _ if slots.is_some() => slots.unwrap().map_err(anyhow::Error::msg)?,
        Some(DeviceChoice::Cuda(i)) => {
            if i >= machine.cuda_devices {
                bail!(
                    "--device cuda:{i}: this machine has {} CUDA device(s)",
                    machine.cuda_devices
                );
            }
            DeviceChoice::Cuda(i)
        }
        Some(DeviceChoice::Cpu) => DeviceChoice::Cpu,
        None if !args.no_cuda && machine.cuda_devices > 0 => DeviceChoice::Cuda(0),
        None => DeviceChoice::Cpu,
    };
    let protocol = match (args.protocol, args.runs) {
        (ProtocolChoice::Original, _) => Protocol::Original {
            repeat: args.repeat as usize,
            number: CALLS_PER_REPETITION,
        },
        (ProtocolChoice::Adaptive, Some(runs)) => Protocol::Adaptive {
            warmup: args.warmup as usize,
            warmup_time_s: Some(args.warmup_time),
            min_runs: runs as usize,
            max_runs: runs as usize,
            min_time_s: 0.0,
            precision: None,
            max_time_s: None,
        },
        (ProtocolChoice::Adaptive, None) => {
            if args.max_runs < args.min_runs {
                bail!(
                    "--max-runs {} is below --min-runs {}",
                    args.max_runs,
                    args.min_runs
                );
            }
            Protocol::Adaptive {
                warmup: args.warmup as usize,
                warmup_time_s: Some(args.warmup_time),
                min_runs: args.min_runs as usize,
                max_runs: args.max_runs as usize,
                min_time_s: args.min_time,
                precision: args.precision.0,
                max_time_s: args.precision.0.map(|_| args.max_time),
            }
        }
    };
    if let Some(dir) = &args.profile_trace {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "--profile-trace {}: cannot create the folder",
                dir.display()
            )
        })?;
    }
    Ok(Settings {
        protocol,
        device,
        // The first variant's; `variants` makes the others.
        dtype: args.dtypes()[0],
        threads: args.thread_counts()[0],
        optimizer: args.optimizer.into(),
        only_pretrain_model: args.only_pretrain_model,
        framework: args.frameworks()[0],
        seed: args.seed,
        profile: args.profile,
        profile_trace: args.profile_trace.clone(),
        onnxruntime_level: args.onnxruntime_level.as_deref().map(|short| {
            (crate::cell::ONNXRUNTIME_LEVELS.iter())
                .find(|(s, _)| *s == short)
                .map_or(short, |(_, name)| name)
                .to_string()
        }),
        // The default stays absent, so that cells of earlier sweeps are the same cells.
        routing: (args.routing == crate::cli::RoutingChoice::Balanced)
            .then_some(crate::cell::Routing::Balanced),
    })
}

/// `base` once per (framework, dtype, threads), frameworks outer, in the order asked.
fn variants(
    base: &Settings,
    frameworks: &[Framework],
    dtypes: &[Dtype],
    threads: &[Option<usize>],
) -> Vec<Settings> {
    let mut variants = Vec::new();
    for &framework in frameworks {
        for &dtype in dtypes {
            for &threads in threads {
                variants.push(Settings {
                    framework,
                    dtype,
                    threads,
                    // Only ONNX Runtime's cells have a graph optimisation level.
                    onnxruntime_level: (base.onnxruntime_level.clone())
                        .filter(|_| framework == Framework::Onnxruntime),
                    ..base.clone()
                });
            }
        }
    }
    variants
}

/// Which parts of the benchmark run.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub inference: bool,
    pub training: bool,
    pub speed: bool,
    pub memory: bool,
    /// Generation cells (`--generate`).
    pub generation: bool,
}

impl Scope {
    /// The (mode, metric) sections that run, in the order they are printed.
    pub fn sections(&self) -> Vec<(Mode, Metric)> {
        let mut sections = Vec::new();
        for (mode, on) in [
            (Mode::Inference, self.inference),
            (Mode::Training, self.training),
            (Mode::Generation, self.generation),
        ] {
            for (metric, wanted) in [(Metric::Speed, self.speed), (Metric::Memory, self.memory)] {
                if on && wanted {
                    sections.push((mode, metric));
                }
            }
        }
        sections
    }
}

/// For each model, variant (dtype, threads), batch size and sequence length, the inner axes
/// fastest as llama-bench: inference memory, inference speed, training memory, training
/// speed (the original's `Benchmark.run` order), then for each count of new tokens
/// generation memory and speed (the sequence length is the prompt's).
fn cells(
    models: &[ResolvedModel],
    batch_sizes: &[i64],
    sequence_lengths: &[i64],
    new_tokens: &[i64],
    scope: Scope,
    variants: &[Settings],
) -> Vec<Cell> {
    let mut cells = Vec::new();
    for model in models {
        // What the sizes mean: sequence lengths, or image sides for vision models.
        let input = spec::input_kind(&model.config);
        for (settings, &batch_size) in
            (variants.iter()).flat_map(|v| batch_sizes.iter().map(move |b| (v, b)))
        {
            for &sequence_length in sequence_lengths {
                for (mode, on) in [
                    (Mode::Inference, scope.inference),
                    (Mode::Training, scope.training),
                ] {
                    for (metric, wanted) in
                        [(Metric::Memory, scope.memory), (Metric::Speed, scope.speed)]
                    {
                        if on && wanted {
                            cells.push(Cell {
                                model: model.name.clone(),
                                config: model.config.clone(),
                                batch_size,
                                sequence_length,
                                mode,
                                metric,
                                settings: settings.clone(),
                                input,
                                inputs: Inputs::Random,
                                new_tokens: None,
                            });
                        }
                    }
                }
                for &n in new_tokens.iter().filter(|_| scope.generation) {
                    for (metric, wanted) in
                        [(Metric::Memory, scope.memory), (Metric::Speed, scope.speed)]
                    {
                        if wanted {
                            cells.push(Cell {
                                model: model.name.clone(),
                                config: model.config.clone(),
                                batch_size,
                                sequence_length,
                                mode: Mode::Generation,
                                metric,
                                settings: settings.clone(),
                                input,
                                inputs: Inputs::Random,
                                new_tokens: Some(n),
                            });
                        }
                    }
                }
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{DeviceChoice, Optimizer};
    use serde_json::json;

    fn model(name: &str) -> ResolvedModel {
        ResolvedModel {
            name: name.into(),
            origin: "test".into(),
            config: json!({"model_type": "bert"}),
            unread_keys: Vec::new(),
        }
    }

    fn settings() -> Settings {
        Settings {
            protocol: crate::measure::timing::Protocol::Original {
                repeat: 3,
                number: 10,
            },
            device: DeviceChoice::Cpu,
            dtype: crate::cell::Dtype::F32,
            threads: None,
            optimizer: crate::cell::Optimizer::None,
            only_pretrain_model: false,
            framework: crate::cell::Framework::Pytorch,
            profile: false,
            profile_trace: None,
            onnxruntime_level: None,
            routing: None,
            seed: 0,
        }
    }

    fn protocol_settings() -> Settings {
        Settings {
            protocol: Protocol::Adaptive {
                warmup: 2,
                warmup_time_s: None,
                min_runs: 10,
                max_runs: 1000,
                min_time_s: 1.0,
                precision: None,
                max_time_s: None,
            },
            device: DeviceChoice::Cpu,
            dtype: Dtype::F32,
            threads: None,
            optimizer: Optimizer::None,
            only_pretrain_model: false,
            framework: crate::cell::Framework::Pytorch,
            seed: 0,
            profile: false,
            profile_trace: None,
            onnxruntime_level: None,
            routing: None,
        }
    }

    fn embedded(id: &str) -> serde_json::Value {
        serde_json::from_str(crate::hub::embedded(id).unwrap().1).unwrap()
    }

    fn sweep(
        models: &[(&str, serde_json::Value)],
        batches: &[i64],
        seqs: &[i64],
        modes: &[Mode],
    ) -> Vec<Cell> {
        let mut cells = Vec::new();
        for (name, config) in models {
            for &batch_size in batches {
                for &sequence_length in seqs {
                    for &mode in modes {
                        for metric in [Metric::Memory, Metric::Speed] {
                            cells.push(Cell {
                                model: name.to_string(),
                                config: config.clone(),
                                batch_size,
                                sequence_length,
                                mode,
                                metric,
                                settings: protocol_settings(),
                                input: Default::default(),
                                inputs: Inputs::Random,
                                new_tokens: None,
                            });
                        }
                    }
                }
            }
        }
        cells
    }

    /// Assigns `cells` to `count` equal machines by the cost estimate and checks the longest
    /// shard: within 25% of the mean where the sweep can be split that finely, and never
    /// longer than that or than its single costliest cell (a cell cannot be split).
    fn check_balance(sweep: &str, cells: &[Cell], count: usize, within_25_percent: bool) {
        let costs: Vec<f64> = cells.iter().map(estimated_seconds).collect();
        let shard_of = shard::assign(&costs, count);
        let mut load = vec![0.0; count];
        for (cell, shard) in shard_of.iter().enumerate() {
            load[*shard] += costs[cell];
        }
        let mean = load.iter().sum::<f64>() / count as f64;
        let longest = load.iter().cloned().fold(0.0, f64::max);
        let largest_cell = costs.iter().cloned().fold(0.0, f64::max);
        let what =
            format!("{sweep}: {count} shards: loads {load:.1?}, costliest cell {largest_cell:.1}");
        println!("{what}");
        assert!(longest <= (1.25 * mean).max(largest_cell) + 1e-9, "{what}");
        if within_25_percent {
            assert!(
                longest <= 1.25 * mean,
                "{what}: longest {:.2}x the mean",
                longest / mean
            );
        }
    }

    #[test]
    fn the_seed_sweep_splits_within_25_percent() {
        let base = embedded("google-bert/bert-base-uncased");
        let mut hid384 = base.clone();
        hid384["hidden_size"] = 384.into();
        let mut lay6 = base.clone();
        lay6["num_hidden_layers"] = 6.into();
        let models = [
            ("bert-base", base),
            ("bert-384-hid", hid384),
            ("bert-6-lay", lay6),
        ];
        let cells = sweep(&models, &[8], &[8, 32, 128, 512], &[Mode::Inference]);
        assert_eq!(cells.len(), 24);
        // bert-base's sequence-512 speed cell is a third of the sweep: 2 and 3 machines
        // balance; with 4 that one cell is the longest shard.
        check_balance("seed (24 cells)", &cells, 2, true);
        check_balance("seed (24 cells)", &cells, 3, true);
        check_balance("seed (24 cells)", &cells, 4, false);
    }

    #[test]
    fn a_500_cell_sweep_splits_within_25_percent() {
        let ids = [
            "google-bert/bert-base-uncased",
            "openai-community/gpt2",
            "HuggingFaceTB/SmolLM2-135M",
            "google-t5/t5-small",
            "distilbert/distilbert-base-uncased",
        ];
        let models: Vec<(&str, serde_json::Value)> =
            ids.iter().map(|id| (*id, embedded(id))).collect();
        let cells = sweep(
            &models,
            &[1, 2, 4, 8, 16],
            &[8, 16, 32, 64, 128],
            &[Mode::Inference, Mode::Training],
        );
        assert_eq!(cells.len(), 500);
        for count in [2, 4, 8, 16] {
            check_balance("500 cells", &cells, count, true);
        }
        check_balance("500 cells", &cells, 32, false);
    }

    #[test]
    fn full_sweep_in_original_order() {
        let scope = Scope {
            inference: true,
            training: true,
            speed: true,
            memory: true,
            generation: false,
        };
        let cells = cells(
            &[model("a"), model("b")],
            &[1, 8],
            &[8, 32, 128],
            &[],
            scope,
            &[settings()],
        );
        assert_eq!(cells.len(), 2 * 2 * 3 * 4);
        let first: Vec<_> = cells[..4].iter().map(|c| (c.mode, c.metric)).collect();
        assert_eq!(
            first,
            vec![
                (Mode::Inference, Metric::Memory),
                (Mode::Inference, Metric::Speed),
                (Mode::Training, Metric::Memory),
                (Mode::Training, Metric::Speed)
            ]
        );
        assert_eq!((cells[4].batch_size, cells[4].sequence_length), (1, 32));
        assert_eq!(cells[24].model, "b");
    }

    #[test]
    fn dtypes_and_threads_cross_the_models_and_sizes_inner_axes_fastest() {
        let scope = Scope {
            inference: true,
            training: false,
            speed: true,
            memory: false,
            generation: false,
        };
        let variants = variants(
            &settings(),
            &[Framework::Pytorch],
            &[Dtype::F32, Dtype::Bf16],
            &[Some(1), Some(2)],
        );
        let cells = cells(
            &[model("a"), model("b")],
            &[1, 8],
            &[8, 32],
            &[],
            scope,
            &variants,
        );
        assert_eq!(cells.len(), 2 * 4 * 2 * 2, "4x the single-settings cells");
        let key = |c: &Cell| {
            (
                c.model.clone(),
                c.settings.dtype,
                c.settings.threads,
                c.batch_size,
                c.sequence_length,
            )
        };
        let got: Vec<_> = cells.iter().map(key).collect();
        let a = |d, t, b, s| ("a".to_string(), d, Some(t), b, s);
        assert_eq!(
            got[..6],
            [
                a(Dtype::F32, 1, 1, 8),
                a(Dtype::F32, 1, 1, 32),
                a(Dtype::F32, 1, 8, 8),
                a(Dtype::F32, 1, 8, 32),
                a(Dtype::F32, 2, 1, 8),
                a(Dtype::F32, 2, 1, 32),
            ]
        );
        assert_eq!(got[8], a(Dtype::Bf16, 1, 1, 8));
        assert_eq!(cells[16].model, "b");
        // Every cell is another measurement.
        for (i, c) in cells.iter().enumerate() {
            assert!(cells[..i].iter().all(|d| key(d) != key(c)));
        }
    }

    #[test]
    fn generation_cells_follow_each_prompt_length() {
        let scope = Scope {
            inference: true,
            training: false,
            speed: true,
            memory: true,
            generation: true,
        };
        let cells = cells(
            &[model("a")],
            &[1],
            &[8, 32],
            &[16, 64],
            scope,
            &[settings()],
        );
        let got: Vec<_> = cells
            .iter()
            .map(|c| (c.sequence_length, c.mode, c.metric, c.new_tokens))
            .collect();
        use {Metric::*, Mode::*};
        assert_eq!(
            got[..6],
            [
                (8, Inference, Memory, None),
                (8, Inference, Speed, None),
                (8, Generation, Memory, Some(16)),
                (8, Generation, Speed, Some(16)),
                (8, Generation, Memory, Some(64)),
                (8, Generation, Speed, Some(64)),
            ]
        );
        assert_eq!(cells.len(), 12);
        assert_eq!(
            scope.sections(),
            [
                (Inference, Speed),
                (Inference, Memory),
                (Generation, Speed),
                (Generation, Memory)
            ]
        );
    }

    #[test]
    fn scope_limits_cells_and_sections() {
        let scope = Scope {
            inference: true,
            training: false,
            speed: true,
            memory: false,
            generation: false,
        };
        let cells = cells(&[model("a")], &[8], &[8, 32], &[], scope, &[settings()]);
        assert_eq!(cells.len(), 2);
        assert!(cells
            .iter()
            .all(|c| c.metric == Metric::Speed && c.mode == Mode::Inference));
        assert_eq!(scope.sections(), vec![(Mode::Inference, Metric::Speed)]);
    }
}

//! `run-benchmark db import`: JSON exports (schema 1 and 2), each a run of its own, and the
//! original's result CSV files, those given together being one run (as the original's one
//! run wrote up to four of them), so history can start from what people already have.
//!
//! A CSV file holds only figures: the model name, sizes and result. Its section comes from its
//! name, as the original named them (`inference_time`, `inference_memory`, `train_time`,
//! `train_memory`); its settings are the original's defaults (its protocol, float32, the CPU)
//! and the run's environment says where it came from. Memory is the original's MB (MiB).

use super::store::{RunInfo, Store};
use crate::cell::{
    Cell, CellResult, DeviceChoice, Dtype, Inputs, MemoryResult, Metric, Mode, Optimizer, Settings,
    SpeedResult,
};
use crate::measure::stats::Stats;
use crate::measure::timing::{Protocol, Statistic};
use crate::report::{csv, json, Row, Sweep};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// What was imported: one line per run.
pub fn import(
    store: &mut Store,
    files: &[PathBuf],
    label: Option<&str>,
    baseline: Option<&str>,
) -> Result<Vec<String>> {
    let (csvs, jsons): (Vec<&PathBuf>, Vec<&PathBuf>) = files.iter().partition(|f| is_csv(f));
    let mut runs: Vec<(Sweep, RunInfo)> = Vec::new();
    for file in jsons {
        let export = json::read(file)?;
        let info = RunInfo {
            label: Some(label.map(String::from).unwrap_or_else(|| stem(file))),
            source: file.display().to_string(),
            started: started_of(&export.sweep),
            tool: Some(export.tool.clone()),
            ..RunInfo::default()
        };
        runs.push((export.sweep, info));
    }
    if !csvs.is_empty() {
        let sweep = from_csv(&csvs)?;
        let names: Vec<String> = csvs.iter().map(|f| f.display().to_string()).collect();
        let info = RunInfo {
            label: Some(label.map(String::from).unwrap_or_else(|| stem(csvs[0]))),
            source: names.join(", "),
            ..RunInfo::default()
        };
        runs.push((sweep, info));
    }
    let mut said = Vec::new();
    let last = runs.len();
    for (i, (sweep, info)) in runs.into_iter().enumerate() {
        let run = store.begin_run(&sweep, &info)?;
        for row in &sweep.rows {
            store.append(run, &sweep, row)?;
        }
        store.finish_run(run, &sweep, false)?;
        let mut line = format!(
            "Imported {} as run {run} ({} cells)",
            info.source,
            sweep.rows.len()
        );
        // With several files, the baseline is the last one given.
        if let Some(name) = baseline.filter(|_| i + 1 == last) {
            store.save_baseline(name, run)?;
            line.push_str(&format!(", saved as baseline {name}"));
        }
        said.push(line);
    }
    Ok(said)
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The export's own date and time (local to the machine that ran it), where it says them.
fn started_of(sweep: &Sweep) -> Option<String> {
    let get = |key: &str| {
        (sweep.environment.iter())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let date = get("date")?;
    let time = get("time").unwrap_or_default();
    Some(format!("{date}T{}", time.get(..8).unwrap_or("00:00:00")))
}

/// The section a result CSV file holds, from its name.
fn section_of(path: &Path) -> Result<(Mode, Metric)> {
    let name = stem(path).to_ascii_lowercase();
    let mode = match (name.contains("inference"), name.contains("train")) {
        (true, false) => Mode::Inference,
        (false, true) => Mode::Training,
        _ => bail!(
            "{}: the name does not say inference or train{}",
            path.display(),
            NAMES
        ),
    };
    let metric = match (name.contains("time"), name.contains("memory")) {
        (true, false) => Metric::Speed,
        (false, true) => Metric::Memory,
        _ => bail!(
            "{}: the name does not say time or memory{}",
            path.display(),
            NAMES
        ),
    };
    Ok((mode, metric))
}

const NAMES: &str = " (the original's names are inference_time, inference_memory, train_time \
                     and train_memory .csv)";

/// The original's defaults: what its CSV files were measured with unless told otherwise.
fn original_settings() -> Settings {
    Settings {
        protocol: Protocol::Original {
            repeat: 3,
            number: 10,
        },
        device: DeviceChoice::Cpu,
        dtype: Dtype::F32,
        threads: None,
        optimizer: Optimizer::None,
        only_pretrain_model: false,
        framework: Default::default(),
        seed: 0,
        profile: false,
        profile_trace: None,
        onnxruntime_level: None,
        routing: None,
    }
}

fn from_csv(files: &[&PathBuf]) -> Result<Sweep> {
    let settings = original_settings();
    let mut rows: Vec<Row> = Vec::new();
    let mut sections = Vec::new();
    for file in files {
        let (mode, metric) = section_of(file)?;
        sections.push((mode, metric));
        for r in csv::read_results(file)? {
            let mut settings = settings.clone();
            if let Some(dtype) = &r.dtype {
                settings.dtype = match dtype.as_str() {
                    "f32" | "float32" => Dtype::F32,
                    "f16" | "float16" => Dtype::F16,
                    "bf16" | "bfloat16" => Dtype::Bf16,
                    other => bail!(
                        "{}: dtype \"{other}\" is not f32, f16 or bf16",
                        file.display()
                    ),
                };
            }
            if let Some(threads) = &r.threads {
                settings.threads = threads.parse().ok();
            }
            let result = match (r.value, metric) {
                (None, _) => CellResult::na("N/A in the imported CSV file"),
                (Some(seconds), Metric::Speed) => CellResult::Speed(speed(seconds)),
                (Some(mb), Metric::Memory) => CellResult::Memory(memory(mb)),
            };
            let cell = Cell {
                model: r.model,
                config: serde_json::Value::Null,
                batch_size: r.batch_size,
                sequence_length: r.sequence_length,
                mode,
                metric,
                settings,
                input: Default::default(),
                inputs: Inputs::Random,
                new_tokens: None,
            };
            rows.push((cell, result));
        }
    }
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    Ok(Sweep {
        settings,
        environment: vec![(
            "source".into(),
            format!(
                "the original's CSV files {}: figures only (no samples, configs or \
                 environment); settings assumed the original's defaults",
                names.join(", ")
            ),
        )],
        calibrations: Vec::new(),
        sections,
        rows,
        tokenization: Vec::new(),
        shard: None,
        unread_config_keys: Vec::new(),
        default_threads: None,
    })
}

/// The original's time: the fastest of its repetitions, per call; no samples kept.
fn speed(seconds: f64) -> SpeedResult {
    SpeedResult {
        statistic: Statistic::Minimum,
        seconds,
        samples: Vec::new(),
        calls_per_sample: 10,
        warmup_calls: 0,
        stats: Stats::of(&[seconds]).expect("one sample"),
        flops_per_call: None,
        bytes_per_call: None,
        interval: None,
        imprecise: false,
        build_seconds: None,
        profile: None,
        generation: None,
        load: None,
        ran: None,
        expert_load: None,
    }
}

/// The original's memory figure, in MiB; only the peak is known.
fn memory(mb: f64) -> MemoryResult {
    let bytes = (mb * 1024.0 * 1024.0).round() as u64;
    MemoryResult {
        peak_rss_bytes: bytes,
        baseline_rss_bytes: 0,
        build_peak_rss_bytes: bytes,
        gpu: None,
        build_seconds: None,
        estimated_peak_bytes: None,
        kv_cache: None,
        ran: None,
    }
}

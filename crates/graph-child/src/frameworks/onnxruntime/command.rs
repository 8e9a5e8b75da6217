//! `run-benchmark-graph onnxruntime ...`: ONNX Runtime's own subcommands.
//!
//! - `version`: the loaded library's version and path.
//! - `maps`: this process's mappings once ONNX Runtime has built and run a graph (the test
//!   that libtorch is never mapped here reads them).
//! - `save CONFIG OUT.onnx [batch=8] [seq=128] [base=0|1]`: the cell's graph as ONNX, for
//!   Python's InferenceSession (scripts/onnxruntime_vs_python.py).

use super::engine::{self, Engine, Spec, Weights};
use super::library;
use super::session::Settings;
use crate::graph::builder::DType;
use crate::graph::Family;
use crate::memory;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;

pub fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("version") => {
            let (library, _) = library::environment()?;
            println!("{} {}", library.version, library.path.display());
            Ok(())
        }
        Some("maps") => {
            let family = Family::from_json(&serde_json::json!({
                "model_type": "bert", "vocab_size": 99, "hidden_size": 32,
                "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 37,
            }))?;
            let mut engine = Engine::build(&spec(family, &HashMap::new())?, Weights::Random)?;
            engine.call()?;
            print!("{}", std::fs::read_to_string("/proc/self/maps")?);
            Ok(())
        }
        Some("save") => {
            let [config, out, rest @ ..] = &args[1..] else {
                bail!("usage: run-benchmark-graph onnxruntime save CONFIG OUT.onnx [batch=N] [seq=N] [base=0|1]");
            };
            let spec = spec(read_family(config)?, &key_values(rest)?)?;
            engine::save(&spec, Weights::Random, Path::new(out))
        }
        Some("bench") => {
            let [config, rest @ ..] = &args[1..] else {
                bail!("usage: run-benchmark-graph onnxruntime bench CONFIG [key=value...]");
            };
            bench(config, &key_values(rest)?)
        }
        _ => {
            bail!("usage: run-benchmark-graph onnxruntime (version | maps | save ... | bench ...)")
        }
    }
}

/// `bench CONFIG [batch=8] [seq=128] [base=0|1] [threads=N] [level=all] [repeat=3]
/// [number=3] [profile=1|0] [dtype=f32] [mode=inference]`: builds the cell, makes a first
/// call (profiled unless profile=0) and reads its memory, then the minimum over `repeat` runs
/// of the mean of `number` calls, in wall-clock seconds and in this process's CPU seconds.
/// One JSON line.
fn bench(config: &str, kv: &HashMap<String, String>) -> Result<()> {
    let mut spec = spec(read_family(config)?, kv)?;
    if kv.get("profile").is_none_or(|p| p != "0") {
        spec.session.profile_dir = Some(std::env::temp_dir());
    }
    let count = |k: &str| -> Result<u32> {
        kv.get(k).map_or(Ok(3), |v| {
            v.parse().map_err(|_| anyhow!("{k}={v} is not a count"))
        })
    };
    let (repeat, number) = (count("repeat")?, count("number")?);
    let mut engine = Engine::build(&spec, Weights::Random)?;
    // Memory as the PyTorch side reads it: the peak resident size during the first call
    // over the resident size after the build.
    let baseline = memory::current_rss_bytes()?;
    memory::reset_peak_rss()?;
    let start = std::time::Instant::now();
    engine.call()?;
    let first_call = start.elapsed().as_secs_f64();
    let peak = memory::peak_rss_bytes()?;
    let placement = engine.placement()?.unwrap_or_default();
    let (mut best, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..repeat {
        let (start, cpu) = (std::time::Instant::now(), cpu_seconds());
        for _ in 0..number {
            engine.call()?;
        }
        let calls = f64::from(number.max(1));
        best = best.min(start.elapsed().as_secs_f64() / calls);
        best_cpu = best_cpu.min((cpu_seconds() - cpu) / calls);
    }
    let ran = engine.ran();
    println!(
        "{}",
        serde_json::json!({
            "onnxruntime": engine.library.version,
            "seconds": best,
            "cpu_seconds": best_cpu,
            "first_call_seconds": first_call,
            "build_seconds": engine.build_seconds,
            "baseline_rss_bytes": baseline,
            "peak_rss_bytes": peak,
            "call_rss_bytes": peak.saturating_sub(baseline),
            "parameters": engine.parameters,
            "graph_optimization_level": ran.level.name(),
            "intra_op_threads": ran.intra_op_threads,
            "inter_op_threads": ran.inter_op_threads,
            "ops": placement.ops_summary(),
            "providers": placement.providers,
            "placement_warning": placement.warning(),
        })
    );
    Ok(())
}

/// CPU time of this process so far (user and system, all threads): on a shared machine it
/// counts the work of a call, where the wall clock also counts the waits for a core.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The family of a config.json file.
pub fn read_family(config: &str) -> Result<Family> {
    let text = std::fs::read_to_string(config).with_context(|| format!("cannot read {config}"))?;
    let json = serde_json::from_str(&text).with_context(|| format!("{config} is not JSON"))?;
    Family::from_json(&json)
}

/// `key=value` arguments.
pub fn key_values(args: &[String]) -> Result<HashMap<String, String>> {
    args.iter()
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| anyhow!("{a} is not key=value"))
        })
        .collect()
}

/// A cell of `family` from `batch`, `seq`, `base`, `threads`, `level`, `dtype`, `mode`,
/// `seed` (the last two refused unless f32 inference, with the reason).
pub fn spec(family: Family, kv: &HashMap<String, String>) -> Result<Spec> {
    let num = |k: &str, d: i64| -> Result<i64> {
        kv.get(k).map_or(Ok(d), |v| {
            v.parse().map_err(|_| anyhow!("{k}={v} is not a number"))
        })
    };
    let threads = num("threads", 0)?;
    let dtype = match kv.get("dtype").map_or("f32", String::as_str) {
        "f32" => DType::F32,
        "f16" => DType::F16,
        "bf16" => DType::BF16,
        other => bail!("dtype={other} (f32, f16, bf16)"),
    };
    let training = match kv.get("mode").map_or("inference", String::as_str) {
        "inference" => false,
        "training" => true,
        other => bail!("mode={other} (inference, training)"),
    };
    Ok(Spec {
        family,
        batch: num("batch", 8)?,
        seq: num("seq", 128)?,
        lm_head: num("base", 0)? != 1,
        loss: false,
        training,
        dtype,
        session: Settings {
            level: kv.get("level").map_or(Ok(Settings::default().level), |l| {
                super::session::Level::parse(l)
            })?,
            threads: (threads > 0).then_some(threads as usize),
            ..Settings::default()
        },
        seed: num("seed", 42)? as u64,
    })
}

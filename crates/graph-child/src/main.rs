//! `run-benchmark-graph`: the child of run-benchmark for graph frameworks (TensorFlow), a
//! separate binary so that libtorch is never mapped into its process.
//!
//! Subcommands: `__cell PARENT_PID` (the runner's child: a Job on stdin, replies on stdout,
//! measured by the core's protocol, as the root binary's own child), `version` (TensorFlow's
//! version), `parity CONFIG WEIGHTS INPUTS OUT [--base] [--xla | --onnxruntime]` (forward,
//! loss and gradients for the cross-framework parity test; ONNX Runtime's has no gradients),
//! `bench CONFIG key=value...` (one cell measured, JSON out; see [`bench`]), `maps`,
//! `onnxruntime ...` (ONNX Runtime's own subcommands: version, maps, save, bench),
//! `export DIR CONFIG key=value... [reference=1]` (the graph `bench` times with the same
//! keys, written to DIR for Python's tf.function; see [`tensorflow::export`]) and
//! `exported DIR` (that graph imported and run once by our session, compared with the
//! first call's check).

use anyhow::{bail, Result};
use run_benchmark_graph::frameworks::{onnxruntime, tensorflow};
use std::path::Path;

fn main() {
    if let Err(e) = run() {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some(run_benchmark_graph::child::CHILD_COMMAND) => {
            let parent = args.get(1).map(String::as_str).unwrap_or_default();
            std::process::exit(run_benchmark_graph::child::main(parent));
        }
        Some("version") => {
            println!("{}", tensorflow::ffi::version()?);
            Ok(())
        }
        Some("parity") => {
            let flags: Vec<&str> = args[1..]
                .iter()
                .map(String::as_str)
                .filter(|a| a.starts_with("--"))
                .collect();
            let paths: Vec<&str> = args[1..]
                .iter()
                .map(String::as_str)
                .filter(|a| !a.starts_with("--"))
                .collect();
            if let Some(bad) = flags
                .iter()
                .find(|f| !["--base", "--xla", "--onnxruntime"].contains(f))
            {
                bail!("parity: unknown flag {bad} (--base, --xla, --onnxruntime)");
            }
            let [config, weights, inputs, out] = paths[..] else {
                bail!(
                    "usage: run-benchmark-graph parity CONFIG WEIGHTS INPUTS OUT [--base] [--xla | --onnxruntime]"
                );
            };
            if flags.contains(&"--onnxruntime") {
                let paths = [config, weights, inputs, out].map(Path::new);
                return onnxruntime::parity::run(paths[0], paths[1], paths[2], !flags.contains(&"--base"), paths[3]);
            }
            tensorflow::parity::run(
                Path::new(config),
                Path::new(weights),
                Path::new(inputs),
                !flags.contains(&"--base"),
                flags.contains(&"--xla"),
                Path::new(out),
            )
        }
        Some("onnxruntime") => onnxruntime::command::run(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("export") => {
            let Some(dir) = args.get(1) else {
                bail!("usage: run-benchmark-graph export DIR CONFIG [key=value...] [reference=1]");
            };
            let (spec, kv) = spec(&args[2..], &["reference"])?;
            let mut engine = tensorflow::engine::Engine::build(spec)?;
            let reference = kv.get("reference").is_some_and(|v| v == "1");
            let manifest = tensorflow::export::write(&mut engine, Path::new(dir), reference)?;
            println!("{manifest}");
            Ok(())
        }
        Some("exported") => {
            let Some(dir) = args.get(1) else {
                bail!("usage: run-benchmark-graph exported DIR");
            };
            println!("{}", tensorflow::export::run(Path::new(dir))?);
            Ok(())
        }
        Some("maps") => {
            // The process's mappings once TensorFlow is loaded and has run a graph: the test
            // that libtorch is never mapped here reads them.
            tensorflow::ffi::version()?;
            print!("{}", std::fs::read_to_string("/proc/self/maps")?);
            Ok(())
        }
        _ => bail!("usage: run-benchmark-graph (version | maps | parity ... | bench ... | export ... | exported DIR | onnxruntime ...)"),
    }
}

/// `bench CONFIG [batch=8] [seq=128] [mode=inference|training] [dtype=f32|bf16|f16]
/// [xla=0|1] [eager=0|1] [threads=N] [optimizer=none|sgd|adamw] [repeat=3] [number=3] [base=0|1]
/// [seed=42] [export=DIR] [serve=0|1]`:
/// builds the cell, times the first call apart (XLA compiles then), makes one more warm-up
/// call, then `repeat` runs of `number` calls (`seconds`: the minimum per call, also the
/// median and the samples), and reads the peak resident memory of one call over the
/// baseline after the build. One JSON line. `export=DIR` writes the graph first (as the
/// `export` subcommand); `serve=1` times on request instead (see [`serve`]).
fn bench(args: &[String]) -> Result<()> {
    use run_benchmark_graph::frameworks::tensorflow::engine::Engine;
    use std::time::Instant;
    let (spec, kv) = spec(args, &["repeat", "number", "serve", "export"])?;
    let num = |k: &str, d: &str| -> Result<i64> {
        let v = kv.get(k).map(String::as_str).unwrap_or(d);
        v.parse()
            .map_err(|_| anyhow::anyhow!("bench: {k}={v} is not a number"))
    };
    let mut engine = Engine::build(spec)?;
    let baseline = run_benchmark_graph::memory::current_rss_bytes()?;
    run_benchmark_graph::memory::reset_peak_rss()?;
    let start = Instant::now();
    // With export=DIR the first call is the export's (its check is of that call).
    let loss = match kv.get("export") {
        Some(dir) => {
            tensorflow::export::write(&mut engine, Path::new(dir), false)?;
            None
        }
        None => engine.call()?,
    };
    let first_call = start.elapsed().as_secs_f64();
    let peak = run_benchmark_graph::memory::peak_rss_bytes()?;
    let (repeat, number) = (num("repeat", "3")?, num("number", "3")?);
    // One more warm-up call after the first (XLA compiles in the first).
    let start = Instant::now();
    engine.call()?;
    let warmup = start.elapsed().as_secs_f64();
    if kv.get("serve").is_some_and(|v| v == "1") {
        return serve(&mut engine, first_call, warmup);
    }
    let mut samples = Vec::new();
    for _ in 0..repeat {
        let start = Instant::now();
        for _ in 0..number {
            engine.call()?;
        }
        samples.push(start.elapsed().as_secs_f64() / number as f64);
    }
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let best = sorted.first().copied().unwrap_or(f64::NAN);
    let median = match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    };
    println!(
        "{}",
        serde_json::json!({
            "tensorflow": tensorflow::ffi::version()?,
            "seconds": best,
            "median_seconds": median,
            "samples": samples,
            "threads": {"intra": engine.spec.threads.intra, "inter": engine.spec.threads.inter},
            "first_call_seconds": first_call,
            "build_seconds": engine.build_seconds,
            "baseline_rss_bytes": baseline,
            "peak_rss_bytes": peak,
            "call_rss_bytes": peak.saturating_sub(baseline),
            "parameters": engine.parameters,
            "loss": loss,
            "output_shape": engine.output_shape()?,
        })
    );
    Ok(())
}

/// `bench ... serve=1`, for scripts/tensorflow_vs_python.py, which alternates rounds of our
/// calls with Python's without building either again: after the warm-up, one JSON line
/// (ready), then for each line N on stdin, N calls each timed apart, one JSON line of their
/// seconds and the CPU seconds a call; ends at the end of stdin.
fn serve(
    engine: &mut run_benchmark_graph::frameworks::tensorflow::engine::Engine,
    first_call: f64,
    warmup: f64,
) -> Result<()> {
    use std::io::{BufRead, Write};
    use std::time::Instant;
    let mut stdout = std::io::stdout().lock();
    let ready = serde_json::json!({
        "tensorflow": tensorflow::ffi::version()?,
        "threads": {"intra": engine.spec.threads.intra, "inter": engine.spec.threads.inter},
        "build_seconds": engine.build_seconds,
        "first_call_seconds": first_call,
        "warmup_seconds": warmup,
    });
    writeln!(stdout, "{ready}")?;
    stdout.flush()?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let calls: usize = line
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("serve: {line:?} is not a number of calls"))?;
        let mut samples = Vec::with_capacity(calls);
        let cpu = cpu_seconds();
        let before = rusage();
        for _ in 0..calls {
            let start = Instant::now();
            engine.call()?;
            samples.push(start.elapsed().as_secs_f64());
        }
        // The process's CPU time a call (all threads, user + system): a busy machine's
        // waits for a core do not count in it, as they do in the wall clock.
        let n = calls.max(1) as f64;
        let cpu = (cpu_seconds() - cpu) / n;
        // Kernel time and minor page faults a call: fresh mappings cost both.
        let after = rusage();
        let system = (seconds(after.ru_stime) - seconds(before.ru_stime)) / n;
        let faults = (after.ru_minflt - before.ru_minflt) as f64 / n;
        writeln!(
            stdout,
            "{}",
            serde_json::json!({ "samples": samples, "cpu_seconds": cpu,
                "system_seconds": system, "minor_faults": faults })
        )?;
        stdout.flush()?;
    }
    Ok(())
}

/// User plus system CPU seconds of this process so far (getrusage).
fn cpu_seconds() -> f64 {
    let usage = rusage();
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// This process's resource usage so far.
fn rusage() -> libc::rusage {
    // SAFETY: getrusage fills the struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    }
}

fn seconds(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 * 1e-6
}

/// The cell `CONFIG [key=value...]` names (the keys of [`bench`]), and the values of the
/// `extra` keys the caller reads itself. An unknown key is an error naming it.
fn spec(
    args: &[String],
    extra: &[&str],
) -> Result<(
    run_benchmark_graph::frameworks::tensorflow::engine::Spec,
    std::collections::HashMap<String, String>,
)> {
    use run_benchmark_graph::frameworks::tensorflow::engine::{Optimizer, Spec};
    use run_benchmark_graph::frameworks::tensorflow::session::Threads;
    use run_benchmark_graph::graph::{builder::DType, Family};
    let Some(config) = args.first() else {
        bail!("usage: run-benchmark-graph bench CONFIG [key=value...]");
    };
    let text = std::fs::read_to_string(config)
        .map_err(|e| anyhow::anyhow!("cannot read {config}: {e}"))?;
    let family = Family::from_json(&serde_json::from_str(&text)?)?;
    const KEYS: [&str; 10] = [
        "batch",
        "seq",
        "mode",
        "dtype",
        "xla",
        "eager",
        "threads",
        "optimizer",
        "base",
        "seed",
    ];
    let mut kv = std::collections::HashMap::new();
    for a in &args[1..] {
        let Some((k, v)) = a.split_once('=') else {
            bail!("{a} is not key=value");
        };
        if !KEYS.contains(&k) && !extra.contains(&k) {
            bail!(
                "unknown key {k} (keys: {}, {})",
                KEYS.join(", "),
                extra.join(", ")
            );
        }
        kv.insert(k.to_string(), v.to_string());
    }
    let get = |k: &str, d: &str| kv.get(k).cloned().unwrap_or_else(|| d.to_string());
    let num = |k: &str, d: &str| -> Result<i64> {
        get(k, d)
            .parse()
            .map_err(|_| anyhow::anyhow!("{k}={} is not a number", get(k, d)))
    };
    let threads = num("threads", "0")? as u64;
    let spec = Spec {
        family,
        batch: num("batch", "8")?,
        seq: num("seq", "128")?,
        lm_head: get("base", "0") != "1",
        training: match get("mode", "inference").as_str() {
            "inference" => false,
            "training" => true,
            other => bail!("mode={other} (inference, training)"),
        },
        dtype: match get("dtype", "f32").as_str() {
            "f32" => DType::F32,
            "bf16" => DType::BF16,
            "f16" => DType::F16,
            other => bail!("dtype={other} (f32, bf16, f16)"),
        },
        xla: get("xla", "0") == "1",
        eager: get("eager", "0") == "1",
        threads: Threads {
            intra: threads,
            inter: if threads > 0 { 1 } else { 0 },
        },
        optimizer: match get("optimizer", "none").as_str() {
            "none" => Optimizer::None,
            "sgd" => Optimizer::Sgd,
            "adamw" => Optimizer::AdamW,
            other => bail!("optimizer={other} (none, sgd, adamw)"),
        },
        seed: num("seed", "42")? as u64,
    };
    Ok((spec, kv))
}

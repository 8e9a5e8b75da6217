//! `run-benchmark-graph`: the child of run-benchmark for graph frameworks (TensorFlow), a
//! separate binary so that libtorch is never mapped into its process.
//!
//! Subcommands: `version` (TensorFlow's version), `parity CONFIG WEIGHTS INPUTS OUT
//! [--base] [--xla | --onnxruntime]` (forward, loss and gradients for the cross-framework
//! parity test; ONNX Runtime's has no gradients), `onnxruntime ...` (its own subcommands).

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
        Some("version") => {
            println!("{}", tensorflow::ffi::version()?);
            Ok(())
        }
        Some("parity") => {
            let flags: Vec<&str> = args[1..].iter().map(String::as_str).filter(|a| a.starts_with("--")).collect();
            let paths: Vec<&str> = args[1..].iter().map(String::as_str).filter(|a| !a.starts_with("--")).collect();
            if let Some(bad) = flags.iter().find(|f| !["--base", "--xla", "--onnxruntime"].contains(f)) {
                bail!("parity: unknown flag {bad} (--base, --xla, --onnxruntime)");
            }
            let [config, weights, inputs, out] = paths[..] else {
                bail!("usage: run-benchmark-graph parity CONFIG WEIGHTS INPUTS OUT [--base] [--xla | --onnxruntime]");
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
        _ => bail!("usage: run-benchmark-graph (version | parity ... | onnxruntime ...)"),
    }
}

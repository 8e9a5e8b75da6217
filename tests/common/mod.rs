//! Helpers for the parity tests: tiny models whose weights and expected outputs were written
//! by transformers itself (`scripts/parity_oracle.py`, `make fixtures`; see
//! tests/fixtures/parity/README.md). No Python is needed; a missing fixture fails.
#![allow(dead_code)]

use run_benchmark::models::{self, Architecture};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// Largest |ours - transformers| allowed, in fp32.
pub const TOLERANCE: f64 = 1e-4;

pub fn fixture_dir(arch: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/parity")
        .join(arch)
}

pub fn fixture(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "parity fixture {} is missing; regenerate it with `make fixtures`",
        path.display()
    );
    path
}

/// The fixture's config.json, as JSON.
pub fn read_config_json(dir: &Path) -> serde_json::Value {
    let path = fixture(dir, "config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixture's config.json, parsed as the benchmark parses it.
pub fn read_config(dir: &Path) -> Box<dyn Architecture> {
    models::from_json(&read_config_json(dir)).unwrap_or_else(|e| panic!("{}: {e:#}", dir.display()))
}

pub fn read_expected(dir: &Path) -> HashMap<String, Tensor> {
    let path = fixture(dir, "expected.safetensors");
    Tensor::read_safetensors(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .into_iter()
        .collect()
}

pub fn expected<'a>(tensors: &'a HashMap<String, Tensor>, name: &str) -> &'a Tensor {
    tensors
        .get(name)
        .unwrap_or_else(|| panic!("expected.safetensors has no tensor {name:?}"))
}

/// Asserts same shape and max |ours - theirs| <= TOLERANCE; prints and returns the max.
pub fn check(arch: &str, name: &str, ours: &Tensor, theirs: &Tensor) -> f64 {
    assert_eq!(
        ours.size(),
        theirs.size(),
        "{arch} {name}: shape differs from transformers'"
    );
    assert_eq!(ours.kind(), Kind::Float, "{arch} {name}: not fp32");
    let diff = (ours - theirs.to_kind(Kind::Float))
        .abs()
        .max()
        .double_value(&[]);
    println!("{arch} {name}: max |ours - transformers| = {diff:.3e}");
    assert!(
        diff <= TOLERANCE,
        "{arch} {name}: max |ours - transformers| = {diff:e} > {TOLERANCE:e}"
    );
    diff
}

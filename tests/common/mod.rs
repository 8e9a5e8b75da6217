//! Helpers for the parity tests: tiny models whose weights and expected outputs were written
//! by transformers itself (`scripts/parity_oracle.py`, `make fixtures`; see
//! tests/fixtures/parity/README.md). No Python is needed; a missing fixture fails.
#![allow(dead_code)]

use run_benchmark::models::weights::load_pretrained;
use run_benchmark::models::{self, Architecture, Task};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::nn::{self, VarStore};
use tch::{Device, Kind, Tensor};

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

/// One fixture opened: its weights (`model.safetensors`) and transformers' outputs
/// (`expected.safetensors`), both required. Labels printed by `check` start with `arch`.
pub struct Fixture {
    pub arch: String,
    pub dir: PathBuf,
    pub weights: PathBuf,
    pub tensors: HashMap<String, Tensor>,
}

impl Fixture {
    pub fn open(arch: &str) -> Fixture {
        let dir = fixture_dir(arch);
        let weights = fixture(&dir, "model.safetensors");
        let tensors = read_expected(&dir);
        Fixture {
            arch: arch.to_string(),
            dir,
            weights,
            tensors,
        }
    }

    /// The fixture's config.json as the family's own config type.
    pub fn config<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_value(read_config_json(&self.dir))
            .unwrap_or_else(|e| panic!("{}: not a {} config: {e}", self.dir.display(), self.arch))
    }

    /// The fixture's config.json, parsed as the benchmark parses it.
    pub fn architecture(&self) -> Box<dyn Architecture> {
        read_config(&self.dir)
    }

    pub fn expected(&self, name: &str) -> &Tensor {
        expected(&self.tensors, name)
    }

    /// The fixture's `input_ids`, checked to be int64.
    pub fn input_ids(&self) -> &Tensor {
        let input_ids = self.expected("input_ids");
        assert_eq!(input_ids.kind(), Kind::Int64, "input_ids is not int64");
        input_ids
    }

    /// Builds a module with `build` and loads the fixture's weights into it, found in the
    /// file under `prefix.*` when the module's own paths lack that prefix.
    pub fn load<M>(&self, prefix: &str, build: impl FnOnce(nn::Path) -> M) -> (VarStore, M) {
        let vs = VarStore::new(Device::Cpu);
        let model = build(vs.root());
        // The path `--weights pretrained` takes (memory-mapped, every tensor checked).
        let dir = self.weights.parent().expect("the fixture's folder");
        load_pretrained(&vs, dir, prefix, false)
            .unwrap_or_else(|e| panic!("{}: loading {}: {e:#}", self.arch, self.weights.display()));
        (vs, model)
    }

    /// `check` against the expected tensor of the same name.
    pub fn check(&self, name: &str, ours: &Tensor) -> f64 {
        check(&self.arch, name, ours, self.expected(name))
    }

    /// `check` of every (label, ours, expected tensor's name).
    pub fn check_all(&self, pairs: &[(&str, &Tensor, &str)]) {
        for (label, ours, name) in pairs {
            check(&self.arch, label, ours, self.expected(name));
        }
    }
}

/// The modules the benchmark itself builds (`Architecture::build`) from the fixture's
/// config.json compute transformers' outputs: for each (task, expected tensor), the forward
/// pass; with `lm_loss`, also the language model's loss with labels = input_ids.
pub fn built_by_task_matches(
    arch: &str,
    prefix: &str,
    tasks: &[(Task, &str)],
    lm_loss: Option<&str>,
) {
    let fx = Fixture::open(arch);
    built_by_task_matches_config(&fx, fx.architecture().as_ref(), prefix, tasks);
    if let Some(name) = lm_loss {
        tch::no_grad(|| {
            let (_vs, model) = fx.load(prefix, |p| {
                fx.architecture().build(p, Task::LanguageModel).unwrap()
            });
            let input_ids = fx.input_ids();
            let loss = model.loss(input_ids, None, input_ids, false).unwrap();
            check(arch, "LanguageModel loss", &loss, fx.expected(name));
        });
    }
}

/// `built_by_task_matches` for a given config (parsed as the benchmark parses it).
pub fn built_by_task_matches_config(
    fx: &Fixture,
    config: &dyn Architecture,
    prefix: &str,
    tasks: &[(Task, &str)],
) {
    tch::no_grad(|| {
        for &(task, name) in tasks {
            let (_vs, model) = fx.load(prefix, |p| config.build(p, task).unwrap());
            check(
                &fx.arch,
                &format!("{task:?} forward ({name})"),
                &model.forward(fx.input_ids(), None, false).unwrap(),
                fx.expected(name),
            );
        }
    });
}

/// Training runs through the language model's loss (labels = input_ids, `train` = true)
/// to transformers' loss `loss_name` (the fixtures have no dropout), with a non-zero
/// gradient into every parameter.
pub fn trains(arch: &str, prefix: &str, loss_name: &str) {
    trains_on(arch, prefix, ("input_ids", "input_ids"), loss_name);
}

/// `trains` on the fixture's tensors named (input, labels): pixels and classes for ViT.
pub fn trains_on(arch: &str, prefix: &str, (input, labels): (&str, &str), loss_name: &str) {
    let fx = Fixture::open(arch);
    let (vs, model) = fx.load(prefix, |p| {
        fx.architecture().build(p, Task::LanguageModel).unwrap()
    });
    let (input, labels) = (fx.expected(input), fx.expected(labels));
    let loss = model.loss(input, None, labels, true).unwrap();
    fx.check_all(&[("training loss", &loss, loss_name)]);
    loss.backward();
    for (name, var) in vs.variables() {
        let grad = var.grad();
        assert!(grad.defined(), "{arch}: no gradient for {name}");
        assert!(
            grad.abs().sum(Kind::Float).double_value(&[]) > 0.0,
            "{arch}: zero gradient for {name}"
        );
    }
}

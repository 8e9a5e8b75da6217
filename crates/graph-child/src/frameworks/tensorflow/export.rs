//! The graph a cell times, written out so that another runtime can time the same graph
//! (Python's `tf.function`, scripts/tensorflow_vs_python.py), and read back by our own
//! session (the test that the file is the graph we time).
//!
//! `DIR/graph.pb` is the session's GraphDef exactly as [`Engine::build`] made it: resource
//! variables, their seeded initialisers (so the weights are the same wherever it runs and the
//! file holds no weight bytes), the model, for training the loss and gradients, for XLA the
//! function library and the `_XlaMustCompile` call. `DIR/manifest.json` names the initialiser
//! ops, the feeds (with their shapes and files of values), the fetches and the targets of one
//! call, the threads, and a check of our first call's first fetch (its sum and first values);
//! `DIR/input_ids.bin` holds the token ids (little-endian int64), fed as `labels` too.
//! With `reference`, `DIR/reference.bin` holds the whole first fetch (f32), for the test.

use super::engine::{Engine, Optimizer};
use super::ffi::{self, Status, TfOperation, TfOutput};
use super::graph::{Graph, Parameters};
use super::session::{Session, Threads};
use super::tensor::Tensor;
use crate::graph::builder::DType;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::ffi::{CStr, CString};
use std::path::Path;

const GRAPH: &str = "graph.pb";
const MANIFEST: &str = "manifest.json";
const REFERENCE: &str = "reference.bin";
/// How many leading values of the first fetch the manifest's check holds.
const CHECK_VALUES: usize = 16;

fn op_name(api: &ffi::Api, op: *mut TfOperation) -> String {
    // SAFETY: the operation belongs to a live graph; its name is a NUL-terminated string.
    unsafe { CStr::from_ptr((api.TF_OperationName)(op)) }
        .to_string_lossy()
        .into_owned()
}

fn output_name(api: &ffi::Api, output: TfOutput) -> String {
    format!("{}:{}", op_name(api, output.oper), output.index)
}

/// The first fetch's sum (in f64) and first values: enough to tell two runs' outputs apart.
fn check(values: &[f32]) -> Value {
    json!({
        "elements": values.len(),
        "sum": values.iter().map(|&v| v as f64).sum::<f64>(),
        "first": &values[..values.len().min(CHECK_VALUES)],
    })
}

/// Writes the engine's graph, its call and our first call's check to `dir` (made if missing).
/// The engine must be fresh (no call yet): the check is of the first call after initialising.
pub fn write(engine: &mut Engine, dir: &Path, reference: bool) -> Result<Value> {
    if engine.spec.optimizer == Optimizer::AdamW {
        bail!("export: optimizer=adamw feeds its step count on every call; export optimizer=none or sgd");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let api = engine.built.graph.api;
    let graph_def = graph_def(&engine.built.graph)?;
    std::fs::write(dir.join(GRAPH), &graph_def)
        .with_context(|| format!("cannot write {}", dir.join(GRAPH).display()))?;
    let ids = &engine.feeds[0].1;
    std::fs::write(dir.join("input_ids.bin"), ids.bytes())?;
    let feeds: Vec<Value> = engine
        .feeds
        .iter()
        .map(|(output, tensor)| {
            // Every feed is the ids (labels are the ids, as the original's).
            debug_assert_eq!(tensor.bytes(), ids.bytes());
            json!({"name": output_name(api, *output), "dtype": "int64", "shape": tensor.shape(), "file": "input_ids.bin"})
        })
        .collect();
    let first = engine.call_fetches()?;
    let values = first
        .first()
        .ok_or_else(|| anyhow!("export: the call fetches nothing"))?
        .to_f32()?;
    if reference {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(dir.join(REFERENCE), bytes)?;
    }
    let threads = engine.spec.threads;
    let manifest = json!({
        "tensorflow": ffi::version()?,
        "mode": if engine.spec.training { "training" } else { "inference" },
        "xla": engine.spec.xla,
        "batch": engine.spec.batch,
        "seq": engine.spec.seq,
        "threads": {"intra": threads.intra, "inter": threads.inter},
        "init": engine.init.iter().map(|&op| op_name(api, op)).collect::<Vec<_>>(),
        "feeds": feeds,
        "fetches": engine.fetches.iter().map(|&o| output_name(api, o)).collect::<Vec<_>>(),
        "targets": engine.targets.iter().map(|&op| op_name(api, op)).collect::<Vec<_>>(),
        "check": check(&values),
        "graph_def_bytes": graph_def.len(),
    });
    std::fs::write(dir.join(MANIFEST), serde_json::to_string_pretty(&manifest)?)?;
    Ok(manifest)
}

/// The GraphDef of `graph`, serialized.
fn graph_def(graph: &Graph) -> Result<Vec<u8>> {
    let api = graph.api;
    let status = Status::new(api);
    // SAFETY: the buffer is made, filled by TensorFlow, copied out and deleted here.
    unsafe {
        let buffer = (api.TF_NewBuffer)();
        (api.TF_GraphToGraphDef)(graph.raw, buffer, status.raw);
        let bytes = match (*buffer).data.is_null() {
            true => Vec::new(),
            false => {
                std::slice::from_raw_parts((*buffer).data as *const u8, (*buffer).length).to_vec()
            }
        };
        (api.TF_DeleteBuffer)(buffer);
        status.check(|| "TensorFlow GraphDef".into())?;
        Ok(bytes)
    }
}

/// Imports `dir`'s graph into a fresh graph and session (the manifest's threads), runs the
/// initialisers and one call with the manifest's feeds, and compares its first fetch with
/// the manifest's check (and the reference, when written). Returns the comparison.
pub fn run(dir: &Path) -> Result<Value> {
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .with_context(|| format!("cannot read {}", dir.join(name).display()))
    };
    let manifest: Value = serde_json::from_slice(&read(MANIFEST)?)
        .with_context(|| format!("{} is not JSON", dir.join(MANIFEST).display()))?;
    let graph_def = read(GRAPH)?;
    let graph = Graph::new(DType::F32, Parameters::Fed)?;
    let api = graph.api;
    let status = Status::new(api);
    // SAFETY: the buffer copies the bytes; options and buffer are deleted here.
    unsafe {
        let buffer = (api.TF_NewBufferFromString)(graph_def.as_ptr().cast(), graph_def.len());
        let options = (api.TF_NewImportGraphDefOptions)();
        (api.TF_GraphImportGraphDef)(graph.raw, buffer, options, status.raw);
        (api.TF_DeleteImportGraphDefOptions)(options);
        (api.TF_DeleteBuffer)(buffer);
    }
    status.check(|| format!("importing {}", dir.join(GRAPH).display()))?;
    let operation = |name: &str| -> Result<*mut TfOperation> {
        let c = CString::new(name)?;
        // SAFETY: the graph is live; a missing name gives null.
        let op = unsafe { (api.TF_GraphOperationByName)(graph.raw, c.as_ptr()) };
        match op.is_null() {
            true => bail!(
                "{} names {name}, which the graph lacks",
                dir.join(MANIFEST).display()
            ),
            false => Ok(op),
        }
    };
    let output = |name: &str| -> Result<TfOutput> {
        let (op, index) = name
            .rsplit_once(':')
            .ok_or_else(|| anyhow!("{name} is not OP:INDEX"))?;
        Ok(TfOutput {
            oper: operation(op)?,
            index: index.parse()?,
        })
    };
    let strings = |key: &str| -> Vec<String> {
        manifest[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let threads = Threads {
        intra: manifest["threads"]["intra"].as_u64().unwrap_or(0),
        inter: manifest["threads"]["inter"].as_u64().unwrap_or(0),
    };
    let init = strings("init")
        .iter()
        .map(|n| operation(n))
        .collect::<Result<Vec<_>>>()?;
    let targets = strings("targets")
        .iter()
        .map(|n| operation(n))
        .collect::<Result<Vec<_>>>()?;
    let fetches = strings("fetches")
        .iter()
        .map(|n| output(n))
        .collect::<Result<Vec<_>>>()?;
    let mut feeds = Vec::new();
    for feed in manifest["feeds"].as_array().into_iter().flatten() {
        let shape: Vec<i64> = serde_json::from_value(feed["shape"].clone())?;
        let file = feed["file"].as_str().unwrap_or_default();
        feeds.push((
            output(feed["name"].as_str().unwrap_or_default())?,
            Tensor::from_bytes(api, ffi::TF_INT64, &shape, &read(file)?)?,
        ));
    }
    let session = Session::new(&graph, threads)?;
    session.run(&[], &[], &init)?;
    let feeds: Vec<(TfOutput, &Tensor)> = feeds.iter().map(|(o, t)| (*o, t)).collect();
    let results = session.run(&feeds, &fetches, &targets)?;
    let values = results
        .first()
        .ok_or_else(|| anyhow!("the imported call fetched nothing"))?
        .to_f32()?;
    let ours = check(&values);
    let expected = &manifest["check"];
    let first_diff = ours["first"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(expected["first"].as_array().into_iter().flatten())
        .map(|(a, b)| (a.as_f64().unwrap_or(f64::NAN) - b.as_f64().unwrap_or(f64::NAN)).abs())
        .fold(0.0, f64::max);
    let mut report = json!({
        "elements": values.len(),
        "expected_elements": expected["elements"],
        "sum": ours["sum"],
        "expected_sum": expected["sum"],
        "first_max_abs_diff": first_diff,
    });
    if let Ok(bytes) = std::fs::read(dir.join(REFERENCE)) {
        let reference: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if reference.len() != values.len() {
            bail!(
                "{} holds {} values, the call gave {}",
                REFERENCE,
                reference.len(),
                values.len()
            );
        }
        let max = values
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        report["max_abs_diff"] = json!(max);
    }
    Ok(report)
}

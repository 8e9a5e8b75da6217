//! One cell under ONNX Runtime: the family's graph for (batch, seq), its weights drawn at
//! random or read from a safetensors file, random token ids, the session, and the call the
//! measuring protocol times.

use super::graph::OnnxGraph;
use super::library::{self, Library};
use super::placement::Placement;
use super::session::{feed, Level, OnnxSession, Settings};
use super::{dtype_refusal, TRAINING_REFUSAL};
use crate::graph::builder::{DType, Data};
use crate::graph::layers::Shape;
use crate::graph::Family;
use anyhow::{bail, ensure, Context, Result};
use ort::value::DynTensor;
use safetensors::tensor::Dtype;
use safetensors::SafeTensors;
use std::path::Path;
use std::time::Instant;

/// What a cell builds.
#[derive(Debug, Clone)]
pub struct Spec {
    pub family: Family,
    pub batch: i64,
    pub seq: i64,
    /// The language-modelling head; false: the bare model.
    pub lm_head: bool,
    /// Also compute the language-modelling loss against labels = input_ids (forward only,
    /// for the parity run); a benchmark's inference cell has none, as the original's.
    pub loss: bool,
    /// Training cells are refused (inference sessions only); kept so the refusal is one place.
    pub training: bool,
    pub dtype: DType,
    pub session: Settings,
    /// Seeds the random weights and token ids.
    pub seed: u64,
}

/// Where the parameters' values come from.
pub enum Weights<'a> {
    /// N(0, 0.02) as transformers initialises linear layers: values do not change the speed.
    Random,
    /// A safetensors file of f32 tensors under the checkpoint's names (the parity run).
    File(&'a SafeTensors<'a>),
}

/// One output of a call.
pub struct Output {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// A built cell, ready to call.
pub struct Engine {
    session: OnnxSession,
    feeds: Vec<DynTensor>,
    pub library: Library,
    pub build_seconds: f64,
    pub parameters: u64,
}

impl Engine {
    pub fn build(spec: &Spec, weights: Weights) -> Result<Engine> {
        if spec.training {
            bail!("{TRAINING_REFUSAL}");
        }
        if let Some(why) = dtype_refusal(spec.dtype) {
            bail!("{why}");
        }
        let (library, environment) = library::environment()?;
        let start = Instant::now();
        let mut rng = SplitMix(spec.seed);
        let mut fill = |name: &str, shape: &[i64], out: &mut [f32]| -> Result<()> {
            match &weights {
                Weights::Random => {
                    rng.normals(out, 0.02);
                    Ok(())
                }
                Weights::File(file) => read_f32(file, name, shape, out),
            }
        };
        let mut graph = OnnxGraph::new(&mut fill)?;
        let shape = Shape {
            batch: spec.batch,
            seq: spec.seq,
            lm_head: spec.lm_head,
            loss: spec.loss,
        };
        let out = spec.family.build(&mut graph, shape)?;
        let parameters = graph.parameter_count;
        let inputs = graph.inputs().to_vec();
        let mut named = vec![("output", &out.output)];
        if let Some(loss) = &out.loss {
            named.push(("loss", loss));
        }
        let (model, outputs) = graph.finish(&named)?;
        let session = OnnxSession::new(environment, model, inputs, outputs, &spec.session)?;
        let build_seconds = start.elapsed().as_secs_f64();
        let vocab = spec.family.vocab_size() as u64;
        let ids: Vec<i64> = (0..spec.batch * spec.seq)
            .map(|_| (rng.next() % vocab) as i64)
            .collect();
        let mut engine = Engine {
            session,
            feeds: Vec::new(),
            library: library.clone(),
            build_seconds,
            parameters,
        };
        engine.set_ids(&ids)?;
        Ok(engine)
    }

    /// Feeds these token ids (batch × seq, row-major) from now on.
    pub fn set_ids(&mut self, ids: &[i64]) -> Result<()> {
        self.feeds = self
            .session
            .inputs()
            .iter()
            .map(|input| match input.name() {
                // The original benchmark's labels are the input ids.
                "input_ids" | "labels" => feed(input, &Data::I64(ids.to_vec())),
                other => bail!("the graph has an input {other} this cell cannot feed"),
            })
            .collect::<Result<_>>()?;
        Ok(())
    }

    /// One call, outputs discarded: what the protocol times.
    pub fn call(&mut self) -> Result<()> {
        self.session.run(&self.feeds)
    }

    /// One call; every output (`output`, and `loss` when asked).
    pub fn outputs(&mut self) -> Result<Vec<Output>> {
        let values = self.session.call(&self.feeds)?;
        Ok(self
            .session
            .outputs()
            .iter()
            .zip(values)
            .map(|(o, v)| {
                let shape = o.dims().iter().map(|&d| d as usize).collect();
                Output {
                    name: o.name().to_string(),
                    shape,
                    values: v,
                }
            })
            .collect())
    }

    /// Where the nodes of the first (profiled) call ran; None when the session was not
    /// profiled or this was already asked.
    pub fn placement(&mut self) -> Result<Option<Placement>> {
        self.session.placement()
    }

    /// The session's settings as they ran.
    pub fn ran(&self) -> &super::session::Ran {
        &self.session.ran
    }
}

/// Writes the cell's graph as ONNX to `path` (weights in `path.data` beside it), as it is
/// before ONNX Runtime optimises it, for another runtime (Python's InferenceSession) to load
/// and optimise with the same options.
pub fn save(spec: &Spec, weights: Weights, path: &Path) -> Result<()> {
    let mut unoptimised = spec.clone();
    unoptimised.session = Settings {
        level: Level::DisableAll,
        threads: Some(1),
        profile_dir: None,
        save_optimized: Some(path.to_path_buf()),
    };
    let built = Engine::build(&unoptimised, weights)
        .with_context(|| format!("writing the ONNX model {}", path.display()))?;
    ensure!(path.is_file(), "ONNX Runtime wrote no {}", path.display());
    // Read back, as Python will: the file must load and take the same inputs.
    let (_, environment) = library::environment()?;
    let loaded = ort::session::Session::builder(environment)?
        .commit_from_file(path)
        .with_context(|| format!("loading the ONNX model {} back", path.display()))?;
    let names = |n: &mut dyn Iterator<Item = String>| n.collect::<Vec<_>>();
    let wrote = names(&mut loaded.inputs().iter().map(|i| i.name().to_string()));
    let built = names(&mut built.session.inputs().iter().map(|i| i.name().to_string()));
    ensure!(
        wrote == built,
        "{} takes {wrote:?}, the graph {built:?}",
        path.display()
    );
    Ok(())
}

/// Copies the f32 tensor `name` of `file` into `out`, checking its type and shape.
fn read_f32(file: &SafeTensors, name: &str, shape: &[i64], out: &mut [f32]) -> Result<()> {
    let view = file
        .tensor(name)
        .with_context(|| format!("the weights have no {name}"))?;
    ensure!(
        view.dtype() == Dtype::F32,
        "{name} is {:?}, not f32",
        view.dtype()
    );
    let dims: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
    ensure!(
        dims == shape,
        "{name} has shape {dims:?}, the graph {shape:?}"
    );
    for (v, bytes) in out.iter_mut().zip(view.data().chunks_exact(4)) {
        *v = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    Ok(())
}

/// SplitMix64: a small, fast, seedable generator for weights and token ids.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Fills `out` with normal values of standard deviation `std` (Box–Muller, both halves).
    fn normals(&mut self, out: &mut [f32], std: f64) {
        for pair in out.chunks_mut(2) {
            let (r, theta) = (
                (-2.0 * self.unit().ln()).sqrt() * std,
                std::f64::consts::TAU * self.unit(),
            );
            pair[0] = (r * theta.cos()) as f32;
            if let Some(second) = pair.get_mut(1) {
                *second = (r * theta.sin()) as f32;
            }
        }
    }
}

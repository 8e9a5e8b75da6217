//! An inference session as users create one: graph optimisation level `ORT_ENABLE_ALL` unless
//! the cell asks otherwise, the cell's `--threads` as intra-op threads, one inter-op thread,
//! spinning left on (ONNX Runtime's default), and what ran read back from the process.

use super::graph::{element_count, element_size, element_type, OnnxValue};
use super::placement::Placement;
use crate::graph::builder::{DType, Data};
use anyhow::{anyhow, bail, ensure, Context, Result};
use ort::editor::Model;
use ort::environment::Environment;
use ort::memory::Allocator;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::Session;
use ort::value::DynTensor;
use run_benchmark_core::cell::ONNXRUNTIME_LEVELS;
use std::path::{Path, PathBuf};

/// ONNX Runtime's graph optimisation levels, in the order of the core's
/// [`ONNXRUNTIME_LEVELS`], which holds their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    DisableAll,
    EnableBasic,
    EnableExtended,
    EnableLayout,
    EnableAll,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::DisableAll,
        Level::EnableBasic,
        Level::EnableExtended,
        Level::EnableLayout,
        Level::EnableAll,
    ];

    /// ONNX Runtime's name of the level (`ORT_ENABLE_ALL`).
    pub fn name(self) -> &'static str {
        ONNXRUNTIME_LEVELS[self as usize].1
    }

    /// The short form: `disable`, `basic`, `extended`, `layout`, `all`.
    pub fn short(self) -> &'static str {
        ONNXRUNTIME_LEVELS[self as usize].0
    }

    /// `ORT_ENABLE_ALL` or its short form `all` (`disable`, `basic`, `extended`, `layout`).
    pub fn parse(text: &str) -> Result<Level> {
        let t = text.trim().to_ascii_uppercase();
        Level::ALL
            .into_iter()
            .find(|l| l.name() == t || l.short().eq_ignore_ascii_case(&t))
            .ok_or_else(|| {
                let names: Vec<_> = Level::ALL.iter().map(|l| l.name()).collect();
                anyhow!(
                    "ONNX Runtime optimisation level {text:?}: expected one of {}",
                    names.join(", ")
                )
            })
    }

    fn ort(self) -> GraphOptimizationLevel {
        match self {
            Level::DisableAll => GraphOptimizationLevel::Disable,
            Level::EnableBasic => GraphOptimizationLevel::Level1,
            Level::EnableExtended => GraphOptimizationLevel::Level2,
            Level::EnableLayout => GraphOptimizationLevel::Level3,
            Level::EnableAll => GraphOptimizationLevel::All,
        }
    }
}

/// What a cell asks of its session.
#[derive(Debug, Clone)]
pub struct Settings {
    pub level: Level,
    /// Intra-op threads; None leaves ONNX Runtime's default (one per physical core).
    pub threads: Option<usize>,
    /// Profile the first call to learn where each node ran (the profile file goes here).
    pub profile_dir: Option<PathBuf>,
    /// Also write the optimised model as ONNX (what Python's InferenceSession can load).
    pub save_optimized: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            level: Level::EnableAll,
            threads: None,
            profile_dir: None,
            save_optimized: None,
        }
    }
}

/// The session's settings as they ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    pub level: Level,
    /// Threads that compute one call: the intra-op pool ONNX Runtime started plus the calling
    /// thread, counted in /proc/self/task around the session's creation.
    pub intra_op_threads: usize,
    pub inter_op_threads: usize,
    pub spinning: bool,
}

/// A session with its inputs' and outputs' names and shapes.
pub struct OnnxSession {
    session: Session,
    inputs: Vec<OnnxValue>,
    outputs: Vec<OnnxValue>,
    profiling: bool,
    pub ran: Ran,
}

impl OnnxSession {
    pub fn new(
        environment: &Environment,
        model: Model,
        inputs: Vec<OnnxValue>,
        outputs: Vec<OnnxValue>,
        settings: &Settings,
    ) -> Result<Self> {
        let profile = settings.profile_dir.as_deref().map(profile_prefix);
        let builder = builder(environment, settings, profile.as_deref())
            .context("ONNX Runtime session options")?;
        let before = threads_now()?;
        let session = model.into_session(&builder).map_err(|e| {
            // A session that fails to build (a missing kernel) has already written its profile.
            if let Some(prefix) = &profile {
                remove_profiles(prefix);
            }
            anyhow::Error::from(e).context("creating the ONNX Runtime session")
        })?;
        let started = threads_now()?.saturating_sub(before);
        Ok(OnnxSession {
            session,
            inputs,
            outputs,
            profiling: settings.profile_dir.is_some(),
            ran: Ran {
                level: settings.level,
                intra_op_threads: started + 1,
                inter_op_threads: 1,
                spinning: true,
            },
        })
    }

    pub fn inputs(&self) -> &[OnnxValue] {
        &self.inputs
    }

    pub fn outputs(&self) -> &[OnnxValue] {
        &self.outputs
    }

    /// One call; the outputs' values (f32 outputs only) in the order of [`Self::outputs`].
    pub fn call(&mut self, feeds: &[DynTensor]) -> Result<Vec<Vec<f32>>> {
        let named: Vec<(&str, &DynTensor)> =
            self.inputs.iter().map(|v| v.name()).zip(feeds).collect();
        if named.len() != self.inputs.len() || feeds.len() != self.inputs.len() {
            bail!(
                "{} inputs fed to a graph of {}",
                feeds.len(),
                self.inputs.len()
            );
        }
        let out = self.session.run(named).context("ONNX Runtime call")?;
        self.outputs
            .iter()
            .map(|o| {
                let (_, values) = out[o.name()]
                    .try_extract_tensor::<f32>()
                    .with_context(|| format!("output {}", o.name()))?;
                Ok(values.to_vec())
            })
            .collect()
    }

    /// One call without reading the outputs back: the timed call.
    pub fn run(&mut self, feeds: &[DynTensor]) -> Result<()> {
        let named: Vec<(&str, &DynTensor)> =
            self.inputs.iter().map(|v| v.name()).zip(feeds).collect();
        self.session.run(named).context("ONNX Runtime call")?;
        Ok(())
    }

    /// Ends the profiling the session was created with (later calls are not profiled) and
    /// reads which provider ran each node; None when the session was not profiled.
    pub fn placement(&mut self) -> Result<Option<Placement>> {
        if !std::mem::take(&mut self.profiling) {
            return Ok(None);
        }
        let file = self
            .session
            .end_profiling()
            .context("ending ONNX Runtime's profiling")?;
        let json = std::fs::read_to_string(&file)
            .with_context(|| format!("reading ONNX Runtime's profile {file}"))?;
        std::fs::remove_file(&file).ok();
        Placement::from_profile(&json).map(Some)
    }
}

impl Drop for OnnxSession {
    /// A profiled session never asked where its nodes ran still writes its profile when it
    /// ends: end it here and delete the file, so no run leaves files in the temporary folder.
    fn drop(&mut self) {
        if std::mem::take(&mut self.profiling) {
            if let Ok(file) = self.session.end_profiling() {
                std::fs::remove_file(file).ok();
            }
        }
    }
}

/// The tensor fed to the graph input `input`, holding `data` (row-major).
pub fn feed(input: &OnnxValue, data: &Data) -> Result<DynTensor> {
    let (dtype, bytes): (DType, Vec<u8>) = match data {
        Data::F32(v) => (DType::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        Data::I32(v) => (DType::I32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        Data::I64(v) => (DType::I64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
    };
    ensure!(
        dtype == input.dtype(),
        "input {}: {dtype:?} values for a {:?} input",
        input.name(),
        input.dtype()
    );
    let want = element_count(input.dims())? * element_size(dtype);
    ensure!(
        bytes.len() == want,
        "input {}: {} values for shape {:?}",
        input.name(),
        bytes.len() / element_size(dtype),
        input.dims()
    );
    let mut tensor = DynTensor::new(&Allocator::default(), element_type(dtype)?, input.dims())
        .with_context(|| format!("input {}", input.name()))?;
    // SAFETY: the tensor was just allocated on the CPU for exactly `want` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), tensor.data_ptr_mut().cast::<u8>(), want)
    };
    Ok(tensor)
}

/// Where a profiled session's file goes: ONNX Runtime names it PREFIX_<date>_<time>_<ms>.json.
/// The process id and a count of this process's sessions keep two sessions started in the same
/// millisecond (two children, or two threads of one) from sharing (and one deleting) a file.
fn profile_prefix(dir: &Path) -> PathBuf {
    static SESSIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let session = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!(
        "onnxruntime-profile-{}-{session}",
        std::process::id()
    ))
}

/// Deletes the profile files written under `prefix`.
fn remove_profiles(prefix: &Path) {
    let (Some(dir), Some(name)) = (prefix.parent(), prefix.file_name()) else {
        return;
    };
    let name = format!("{}_", name.to_string_lossy());
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&name) {
            std::fs::remove_file(entry.path()).ok();
        }
    }
}

fn builder(
    environment: &Environment,
    settings: &Settings,
    profile: Option<&Path>,
) -> ort::Result<SessionBuilder> {
    let mut builder = Session::builder(environment)?
        .with_optimization_level(settings.level.ort())?
        .with_inter_threads(1)?;
    if let Some(threads) = settings.threads {
        builder = builder.with_intra_threads(threads)?;
    }
    if let Some(prefix) = profile {
        builder = builder.with_profiling(prefix)?;
    }
    if let Some(path) = &settings.save_optimized {
        // Weights go to a file beside the model (`NAME.data`), so models past protobuf's 2 GB
        // are written too; Python's onnxruntime reads it from the same folder.
        let data = path
            .file_name()
            .map(|n| format!("{}.data", n.to_string_lossy()));
        builder = builder.with_optimized_model_path(path)?.with_config_entry(
            "session.optimized_model_external_initializers_file_name",
            data.unwrap_or_else(|| "model.onnx.data".into()),
        )?;
    }
    Ok(builder)
}

/// Threads of this process now.
fn threads_now() -> Result<usize> {
    Ok(std::fs::read_dir(Path::new("/proc/self/task"))
        .context("counting threads in /proc/self/task")?
        .count())
}

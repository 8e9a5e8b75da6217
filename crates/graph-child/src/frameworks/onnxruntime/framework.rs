//! ONNX Runtime behind the core's [`Framework`] seam: the measuring protocol (warm-up, timed
//! calls, memory of one call) drives an inference session built from the cell's config.
//!
//! Where nodes ran: the session profiles its first call (the memory cell's call, or the speed
//! cell's first warm-up call; never a timed one) and ends profiling there. If any node ran
//! outside the CPU provider, that call and every later one fail with the reason, so every
//! cell of the group is N/A saying which node ran where, rather than a figure that silently
//! measured a fallback.

use super::engine::{Engine, Spec, SplitMix, Weights};
use super::session::{Level, Settings as SessionSettings};
use super::{dtype_refusal, library, TRAINING_REFUSAL};
use crate::frameworks::tensorflow::cells::lm_head;
use crate::graph::builder::DType;
use crate::graph::Family;
use anyhow::{bail, Result};
use run_benchmark_core::cell::Framework as CoreFramework;
use run_benchmark_core::cell::{
    Cell, DeviceChoice, Dtype, Inputs, Mode, Ran, Settings, ONNXRUNTIME_LEVEL,
};
use run_benchmark_core::protocol::{Device, Framework, Loaded};

/// The framework: the optimisation level its sessions use.
pub struct OnnxRuntime {
    pub level: Level,
    threads: Option<usize>,
}

impl OnnxRuntime {
    pub fn new(level: Level) -> Self {
        OnnxRuntime {
            level,
            threads: None,
        }
    }
}

/// The optimisation level a cell's settings name (`"onnxruntime_level"`, a key the core's
/// types do not hold: `ORT_ENABLE_ALL` or `all`, ...), the core's [`ONNXRUNTIME_LEVEL`] by
/// default (what the runner reports in the environment).
pub fn level_of(cell: &serde_json::Value) -> Result<Level> {
    let name = cell["settings"]["onnxruntime_level"].as_str();
    Level::parse(name.unwrap_or(ONNXRUNTIME_LEVEL))
}

/// One built cell: its session, and whether its first call has been checked.
pub struct Session {
    engine: Engine,
    seed: u64,
    /// Set once the profiled first call found a node outside the CPU provider.
    misplaced: Option<String>,
}

impl Device for OnnxRuntime {
    /// Session calls return when their outputs exist.
    fn sync(&self) {}
}

impl Framework for OnnxRuntime {
    type Loaded = Session;

    fn unsupported(&self, cell: &Cell) -> Option<String> {
        let settings = &cell.settings;
        match cell.mode {
            Mode::Training => return Some(TRAINING_REFUSAL.into()),
            Mode::Generation => {
                return Some(
                    "onnxruntime has no generation here (its graphs have no KV cache)".into(),
                )
            }
            Mode::Inference => {}
        }
        if let DeviceChoice::Cuda(_) = settings.device {
            return Some(
                "onnxruntime runs the CPU provider only (the PyPI wheel onnxruntime is CPU-only)"
                    .into(),
            );
        }
        if settings.framework != CoreFramework::Onnxruntime {
            let name = settings.framework.name();
            return Some(format!("a {name} cell does not run in ONNX Runtime"));
        }
        if settings.profile {
            return Some("--profile is not implemented for onnxruntime".into());
        }
        if !matches!(cell.inputs, Inputs::Random) {
            return Some("onnxruntime cells take random token ids only".into());
        }
        dtype_refusal(dtype(settings.dtype))
    }

    fn prepare(&mut self, settings: &Settings) -> Result<()> {
        library::environment()?;
        self.threads = settings.threads;
        Ok(())
    }

    fn build(&mut self, cell: &Cell) -> Result<Session> {
        let spec = Spec {
            family: Family::from_json(&cell.config)?,
            batch: cell.batch_size,
            seq: cell.sequence_length,
            lm_head: lm_head(cell),
            loss: false,
            training: cell.mode == Mode::Training,
            dtype: dtype(cell.settings.dtype),
            session: SessionSettings {
                level: self.level,
                threads: self.threads,
                profile_dir: Some(std::env::temp_dir()),
                save_optimized: None,
            },
            seed: cell.settings.seed as u64,
        };
        Ok(Session {
            engine: Engine::build(&spec, Weights::Random)?,
            seed: cell.settings.seed as u64,
            misplaced: None,
        })
    }
}

impl Loaded for Session {
    fn ran(&self) -> Option<Ran> {
        Some(Ran {
            threads: self.engine.ran().intra_op_threads,
            dtype: Dtype::F32,
            pretrained: None,
        })
    }

    fn make_inputs(&mut self, cell: &Cell) -> Result<()> {
        let vocab = Family::from_json(&cell.config)?.vocab_size().max(1) as u64;
        let mut rng = SplitMix(self.seed);
        let ids: Vec<i64> = (0..cell.batch_size * cell.sequence_length)
            .map(|_| (rng.next() % vocab) as i64)
            .collect();
        self.engine.set_ids(&ids)
    }

    fn call(&mut self) -> Result<()> {
        if let Some(why) = &self.misplaced {
            bail!("{why}");
        }
        self.engine.call()?;
        if let Some(placement) = self.engine.placement()? {
            self.misplaced = placement.warning();
            if let Some(why) = &self.misplaced {
                bail!("{why}");
            }
        }
        Ok(())
    }
}

fn dtype(dtype: Dtype) -> DType {
    match dtype {
        Dtype::F32 => DType::F32,
        Dtype::F16 => DType::F16,
        Dtype::Bf16 => DType::BF16,
    }
}

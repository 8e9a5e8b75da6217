//! TensorFlow as a [`Framework`] of the core's measuring protocol: the protocol owns the
//! clocks, memory readings and results (the same definitions as the PyTorch side's); this
//! builds the cell's graph ([`Engine`]) and makes its calls.
//!
//! XLA: a cell runs with XLA when its settings' framework is `tensorflow-xla`. Its build includes XLA's compilation (one call made at build time),
//! so the build time holds the compile and every measured call is a compiled one.
//! Eager mode (`tensorflow-eager`): the same graph's ops executed one at a time
//! ([`super::eager`]).

use super::engine::{Engine, Optimizer, Spec};
use super::session::Threads;
use crate::graph::builder::DType;
use crate::graph::Family;
use anyhow::{bail, Result};
use run_benchmark_core::cell::{
    Cell, DeviceChoice, Dtype, Framework as CoreFramework, Inputs, Mode, Ran, Settings,
};
use run_benchmark_core::protocol::{Device, Framework, Loaded};

/// How TensorFlow runs a cell's graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    /// One graph function a call (`tensorflow`, as tf.function).
    Function,
    /// That function's call compiled by XLA (`tensorflow-xla`).
    Xla,
    /// The graph's ops one at a time (`tensorflow-eager`, the original's eager_mode).
    Eager,
}

/// How a cell runs: its settings' framework; another framework is an error naming it (the
/// runner sends only TensorFlow's here).
pub fn execution_of(cell: &Cell) -> Result<Execution> {
    match cell.settings.framework {
        CoreFramework::Tensorflow => Ok(Execution::Function),
        CoreFramework::TensorflowXla => Ok(Execution::Xla),
        CoreFramework::TensorflowEager => Ok(Execution::Eager),
        other => bail!(
            "framework {other:?} does not run in the graph child (tensorflow, tensorflow-xla, tensorflow-eager)"
        ),
    }
}

pub struct TensorFlow {
    execution: Execution,
    threads: Threads,
}

impl TensorFlow {
    pub fn new(execution: Execution) -> Self {
        TensorFlow {
            execution,
            threads: Threads::default(),
        }
    }
}

impl Device for TensorFlow {
    /// Function calls in a synchronous eager context return when their work is done.
    fn sync(&self) {}
}

/// transformers' `MODEL_WITH_LM_HEAD_MAPPING` choice, as the PyTorch side makes it: the head
/// named by `architectures[0]` unless `--only-pretrain-model`.
pub fn lm_head(cell: &Cell) -> bool {
    let head = cell.config["architectures"][0].as_str().unwrap_or("");
    let is_lm = [
        "ForMaskedLM",
        "LMHeadModel",
        "ForCausalLM",
        "ForPreTraining",
    ]
    .iter()
    .any(|suffix| head.ends_with(suffix));
    is_lm && !cell.settings.only_pretrain_model
}

impl Framework for TensorFlow {
    type Loaded = Model;

    fn unsupported(&self, cell: &Cell) -> Option<String> {
        let s = &cell.settings;
        if let DeviceChoice::Cuda(_) = s.device {
            return Some("TensorFlow runs on the CPU here (the wheel is tensorflow-cpu)".into());
        }
        if cell.mode == Mode::Generation {
            return Some("generation is not implemented for TensorFlow".into());
        }
        if let Inputs::Text(_) = cell.inputs {
            return Some(
                "TensorFlow cells take random token ids (--input-text is PyTorch's)".into(),
            );
        }
        if s.profile {
            return Some("--profile is not implemented for TensorFlow".into());
        }
        match Family::from_json(&cell.config) {
            Err(e) => Some(format!("TensorFlow: {e:#}")),
            Ok(_) => None,
        }
    }

    fn prepare(&mut self, settings: &Settings) -> Result<()> {
        super::ffi::api()?;
        // With a thread count, it is the intra-op pool and one inter-op thread (as libtorch's
        // one intra-op pool); without, TensorFlow's defaults (one thread per CPU in each).
        self.threads = match settings.threads {
            Some(n) => Threads {
                intra: n as u64,
                inter: 1,
            },
            None => Threads::default(),
        };
        Ok(())
    }

    fn build(&mut self, cell: &Cell) -> Result<Model> {
        let spec = Spec {
            family: Family::from_json(&cell.config)?,
            batch: cell.batch_size,
            seq: cell.sequence_length,
            lm_head: lm_head(cell),
            training: cell.mode == Mode::Training,
            dtype: match cell.settings.dtype {
                Dtype::F32 => DType::F32,
                Dtype::Bf16 => DType::BF16,
                Dtype::F16 => DType::F16,
            },
            xla: self.execution == Execution::Xla,
            eager: self.execution == Execution::Eager,
            threads: self.threads,
            optimizer: match cell.settings.optimizer {
                run_benchmark_core::cell::Optimizer::None => Optimizer::None,
                run_benchmark_core::cell::Optimizer::Sgd => Optimizer::Sgd,
                run_benchmark_core::cell::Optimizer::AdamW => Optimizer::AdamW,
            },
            seed: cell.settings.seed as u64,
        };
        let mut engine = Engine::build(spec)?;
        if self.execution == Execution::Xla {
            // XLA compiles in the first call: part of the build, never of a measured call.
            engine.call()?;
        }
        Ok(Model {
            engine,
            dtype: cell.settings.dtype,
        })
    }
}

pub struct Model {
    engine: Engine,
    dtype: Dtype,
}

impl Loaded for Model {
    fn ran(&self) -> Option<Ran> {
        let threads = self.engine.spec.threads.intra as usize;
        Some(Ran {
            threads: match threads {
                // TensorFlow's default intra-op pool: one thread per schedulable CPU.
                0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                n => n,
            },
            dtype: self.dtype,
            pretrained: None,
        })
    }

    /// The random token ids (and labels) were made with the graph, fed on each call.
    fn make_inputs(&mut self, _cell: &Cell) -> Result<()> {
        Ok(())
    }

    fn call(&mut self) -> Result<()> {
        self.engine.call().map(|_| ())
    }
}

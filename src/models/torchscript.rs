//! A user's TorchScript module (`torch.jit.trace` or `torch.jit.script` in Python, saved with
//! `torch.jit.save`) that takes `input_ids`: the escape hatch for architectures we do not
//! implement. Its vocabulary size comes from the command line
//! (`NAME=model.pt:vocab_size=N`), since a TorchScript file carries no config.

use super::{parse_config, Architecture, Model, Task};
use anyhow::{bail, Result};
use serde::Deserialize;
use tch::{nn, CModule, IValue, Tensor};

/// File name endings taken as TorchScript modules rather than config.json files.
pub const EXTENSIONS: &[&str] = &["pt", "pth", "ts", "torchscript", "jit"];

#[derive(Debug, Clone, Deserialize)]
pub struct TorchScriptConfig {
    pub torchscript_file: String,
    pub vocab_size: Option<i64>,
    /// Bounds the sequence lengths, as learned position embeddings would.
    #[serde(default)]
    pub max_position_embeddings: Option<i64>,
    /// Call as `module(input_ids, input_ids)`, the decoder inputs being the encoder's.
    #[serde(default)]
    pub is_encoder_decoder: bool,
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Architecture>> {
    let c: TorchScriptConfig = parse_config(config)?;
    match c.vocab_size {
        Some(v) if v > 0 => Ok(Box::new(c)),
        Some(v) => bail!("vocab_size must be positive, got {v}"),
        None => bail!(
            "a TorchScript module needs its vocabulary size: NAME={}:vocab_size=N",
            c.torchscript_file
        ),
    }
}

/// The loaded module; its output is whatever it returns (a tensor or a tuple).
pub struct TorchScriptModel {
    module: CModule,
    is_encoder_decoder: bool,
}

impl TorchScriptModel {
    pub fn load(path: &str, device: tch::Device, is_encoder_decoder: bool) -> Result<Self> {
        let mut module = CModule::load_on_device(path, device)
            .map_err(|e| anyhow::anyhow!("cannot load TorchScript file {path}: {e}"))?;
        module.set_eval();
        Ok(TorchScriptModel {
            module,
            is_encoder_decoder,
        })
    }

    /// Runs the module; returns its first output tensor.
    pub fn run(&self, input_ids: &Tensor) -> Result<Tensor> {
        let mut inputs = vec![IValue::Tensor(input_ids.shallow_clone())];
        if self.is_encoder_decoder {
            inputs.push(IValue::Tensor(input_ids.shallow_clone()));
        }
        first_tensor(self.module.forward_is(&inputs)?)
    }
}

fn first_tensor(value: IValue) -> Result<Tensor> {
    match value {
        IValue::Tensor(t) => Ok(t),
        IValue::Tuple(items) | IValue::GenericList(items) => match items.into_iter().next() {
            Some(first) => first_tensor(first),
            None => bail!("the TorchScript module returned an empty tuple"),
        },
        IValue::GenericDict(entries) => match entries.into_iter().next() {
            Some((_, first)) => first_tensor(first),
            None => bail!("the TorchScript module returned an empty dict"),
        },
        other => bail!("the TorchScript module returned {other:?}, not tensors"),
    }
}

impl Model for TorchScriptModel {
    fn forward(&self, input_ids: &Tensor, _train: bool) -> Result<Tensor> {
        self.run(input_ids)
    }

    fn loss(&self, _input_ids: &Tensor, _labels: &Tensor, _train: bool) -> Result<Tensor> {
        bail!("training a TorchScript file is not supported: it has no known loss")
    }
}

impl Architecture for TorchScriptConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size.unwrap_or(1)
    }

    fn max_positions(&self) -> Option<i64> {
        self.max_position_embeddings
    }

    fn build(&self, p: nn::Path, _task: Task) -> Result<Box<dyn Model>> {
        let model =
            TorchScriptModel::load(&self.torchscript_file, p.device(), self.is_encoder_decoder)?;
        Ok(Box::new(model))
    }

    /// Unknown: the module's computation is opaque.
    fn forward_flops(&self, _batch: i64, _seq: i64, _task: Task) -> f64 {
        f64::NAN
    }
}

//! A user's TorchScript module (`torch.jit.trace` or `torch.jit.script` in Python, saved with
//! `torch.jit.save`) that takes `input_ids`: the escape hatch for architectures we do not
//! implement. Its vocabulary size comes from the command line
//! (`NAME=model.pt:vocab_size=N`), since a TorchScript file carries no config.

use super::{no_mask, Architecture, Model, Task};
use anyhow::{bail, Result};
use std::path::Path;
use tch::{nn, CModule, IValue, Tensor};

pub use run_benchmark_core::spec::torchscript::*;

/// The loaded module; its output is whatever it returns (a tensor or a tuple).
pub struct TorchScriptModel {
    module: CModule,
    is_encoder_decoder: bool,
}

impl TorchScriptModel {
    pub fn load(path: &Path, device: tch::Device, is_encoder_decoder: bool) -> Result<Self> {
        let cannot = |e: &dyn std::fmt::Display| {
            anyhow::anyhow!("cannot load TorchScript file {}: {e}", path.display())
        };
        let mut module = if path.to_str().is_some() {
            CModule::load_on_device(path, device).map_err(|e| cannot(&e))?
        } else {
            // tch takes only UTF-8 paths; the bytes of the file load from any path.
            let mut file = std::fs::File::open(path).map_err(|e| cannot(&e))?;
            CModule::load_data_on_device(&mut file, device).map_err(|e| cannot(&e))?
        };
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
    fn forward(&self, input_ids: &Tensor, mask: Option<&Tensor>, _train: bool) -> Result<Tensor> {
        no_mask(mask)?;
        self.run(input_ids)
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("training a TorchScript file is not supported: it has no known loss")
    }
}

impl Architecture for TorchScriptConfig {
    fn build(&self, p: nn::Path, _task: Task) -> Result<Box<dyn Model>> {
        let model = TorchScriptModel::load(
            &self.torchscript_file.path(),
            p.device(),
            self.is_encoder_decoder,
        )?;
        Ok(Box::new(model))
    }
}

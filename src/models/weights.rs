//! Loads a Hugging Face `model.safetensors` into a var store whose paths follow the
//! checkpoint names, whether or not the file carries the base-model prefix (`bert.`).

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;
use tch::{nn::VarStore, Tensor};

/// Copies every variable of `vs` from the file. `prefix` is the base model's name in a
/// head checkpoint (`bert`): a key missing under one spelling is looked up under the other.
/// Tied weights that transformers does not save are shared in the model and need no key.
pub fn load_safetensors(vs: &mut VarStore, path: &Path, prefix: &str) -> Result<()> {
    let tensors: HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .with_context(|| format!("cannot read weights from {}", path.display()))?
        .into_iter()
        .collect();
    let with_prefix = format!("{prefix}.");
    let mut missing = Vec::new();
    tch::no_grad(|| -> Result<()> {
        for (name, mut var) in vs.variables() {
            let alternative = match name.strip_prefix(&with_prefix) {
                Some(stripped) => stripped.to_string(),
                None => format!("{with_prefix}{name}"),
            };
            match tensors.get(&name).or_else(|| tensors.get(&alternative)) {
                Some(src) => {
                    if src.size() != var.size() {
                        bail!(
                            "{}: {name} has shape {:?} in the file but {:?} in the model",
                            path.display(),
                            src.size(),
                            var.size()
                        );
                    }
                    var.copy_(&src.to_kind(var.kind()).to_device(var.device()));
                }
                None => missing.push(name),
            }
        }
        Ok(())
    })?;
    if !missing.is_empty() {
        missing.sort();
        bail!(
            "{}: no weights for {} parameter(s): {}",
            path.display(),
            missing.len(),
            missing.join(", ")
        );
    }
    Ok(())
}

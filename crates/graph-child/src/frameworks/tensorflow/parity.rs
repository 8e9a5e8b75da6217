//! The parity run: one family's forward, loss and gradients on given weights and token ids,
//! written out for comparison with the PyTorch side (tests/framework_parity.rs).

use super::graph::Parameters;
use super::model;
use super::session::{Session, Threads};
use super::tensor::Tensor;
use crate::graph::builder::DType;
use crate::graph::layers::Shape;
use crate::graph::Family;
use anyhow::{bail, Context, Result};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::path::Path;

/// Reads `config` (config.json), `weights` (safetensors, f32, checkpoint names) and `inputs`
/// (safetensors with an i64 `input_ids` (batch, seq)); runs the graph (with XLA if `xla`);
/// writes `output`, `loss` (labels = input_ids, as the original benchmark) and `grad.NAME`
/// for every parameter to `out` (safetensors, f32).
pub fn run(
    config: &Path,
    weights: &Path,
    inputs: &Path,
    lm_head: bool,
    xla: bool,
    out: &Path,
) -> Result<()> {
    let config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(config).with_context(|| format!("cannot read {}", config.display()))?,
    )
    .with_context(|| format!("{} is not JSON", config.display()))?;
    let family = Family::from_json(&config)?;
    let weight_bytes =
        std::fs::read(weights).with_context(|| format!("cannot read {}", weights.display()))?;
    let weights = SafeTensors::deserialize(&weight_bytes)?;
    let input_bytes =
        std::fs::read(inputs).with_context(|| format!("cannot read {}", inputs.display()))?;
    let inputs = SafeTensors::deserialize(&input_bytes)?;
    let ids = inputs.tensor("input_ids")?;
    if ids.dtype() != Dtype::I64 || ids.shape().len() != 2 {
        bail!("input_ids must be i64 (batch, seq)");
    }
    let shape = Shape {
        batch: ids.shape()[0] as i64,
        seq: ids.shape()[1] as i64,
        lm_head,
        loss: lm_head,
    };
    let built = model::build(&family, shape, DType::F32, Parameters::Fed, xla)?;
    let api = built.graph.api;
    let mut feeds = Vec::new();
    for name in &built.names {
        let view = weights
            .tensor(name)
            .with_context(|| format!("the weights have no {name}"))?;
        if view.dtype() != Dtype::F32 {
            bail!("{name} is not f32");
        }
        let dims: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        if dims != built.parameter(name)?.shape {
            bail!(
                "{name} has shape {dims:?}, the graph {:?}",
                built.parameter(name)?.shape
            );
        }
        feeds.push((
            built.parameter(name)?.value,
            Tensor::from_bytes(api, super::ffi::TF_FLOAT, &dims, view.data())?,
        ));
    }
    let ids_dims = [shape.batch, shape.seq];
    let ids_tensor = Tensor::from_bytes(api, super::ffi::TF_INT64, &ids_dims, ids.data())?;
    let mut feed_refs: Vec<_> = feeds.iter().map(|(o, t)| (*o, t)).collect();
    feed_refs.push((built.input_ids, &ids_tensor));
    if let Some(labels) = built.labels {
        feed_refs.push((labels, &ids_tensor));
    }
    let mut fetches = vec![built.output];
    fetches.extend(built.loss);
    fetches.extend(built.gradients.iter().copied());
    let session = Session::new(&built.graph, Threads::default())?;
    let results = session.run(&feed_refs, &fetches, &[])?;
    let mut named: Vec<(String, Vec<u8>, Vec<usize>)> = Vec::new();
    let mut push = |name: String, t: &Tensor| -> Result<()> {
        let values = t.to_f32()?;
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        named.push((name, bytes, t.shape().iter().map(|&d| d as usize).collect()));
        Ok(())
    };
    push("output".into(), &results[0])?;
    if built.loss.is_some() {
        push("loss".into(), &results[1])?;
        for (name, grad) in built.names.iter().zip(&results[2..]) {
            push(format!("grad.{name}"), grad)?;
        }
    }
    let views: Vec<(String, TensorView)> = named
        .iter()
        .map(|(n, b, s)| Ok((n.clone(), TensorView::new(Dtype::F32, s.clone(), b)?)))
        .collect::<Result<_>>()?;
    safetensors::tensor::serialize_to_file(views, &None, out)?;
    drop(session);
    Ok(())
}

//! The parity run: one family's output (and language-modelling loss) on given weights and
//! token ids under ONNX Runtime, written out for comparison with the PyTorch side
//! (tests/framework_parity.rs), in the format of the TensorFlow run (no gradients: ONNX
//! Runtime sessions only infer).

use super::engine::{Engine, Spec, Weights};
use super::session::Settings;
use crate::graph::builder::DType;
use crate::graph::Family;
use anyhow::{ensure, Context, Result};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::path::Path;

/// Reads `config` (config.json), `weights` (safetensors, f32, checkpoint names) and `inputs`
/// (safetensors with an i64 `input_ids` (batch, seq)); writes `output` and, with the
/// language-modelling head, `loss` (labels = input_ids) to `out` (safetensors, f32).
pub fn run(config: &Path, weights: &Path, inputs: &Path, lm_head: bool, out: &Path) -> Result<()> {
    let text =
        std::fs::read(config).with_context(|| format!("cannot read {}", config.display()))?;
    let json: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not JSON", config.display()))?;
    let family = Family::from_json(&json)?;
    let weight_bytes =
        std::fs::read(weights).with_context(|| format!("cannot read {}", weights.display()))?;
    let weights = SafeTensors::deserialize(&weight_bytes)?;
    let input_bytes =
        std::fs::read(inputs).with_context(|| format!("cannot read {}", inputs.display()))?;
    let inputs = SafeTensors::deserialize(&input_bytes)?;
    let ids = inputs.tensor("input_ids")?;
    ensure!(
        ids.dtype() == Dtype::I64 && ids.shape().len() == 2,
        "input_ids must be i64 (batch, seq)"
    );
    let ids_values: Vec<i64> = ids
        .data()
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect();
    let spec = Spec {
        family,
        batch: ids.shape()[0] as i64,
        seq: ids.shape()[1] as i64,
        lm_head,
        loss: lm_head,
        training: false,
        dtype: DType::F32,
        session: Settings::default(),
        seed: 0,
    };
    let mut engine = Engine::build(&spec, Weights::File(&weights))?;
    engine.set_ids(&ids_values)?;
    let outputs = engine.outputs()?;
    let bytes: Vec<Vec<u8>> = outputs
        .iter()
        .map(|o| o.values.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, TensorView)> = outputs
        .iter()
        .zip(&bytes)
        .map(|(o, b)| {
            Ok((
                o.name.clone(),
                TensorView::new(Dtype::F32, o.shape.clone(), b)?,
            ))
        })
        .collect::<Result<_>>()?;
    safetensors::tensor::serialize_to_file(views, &None, out)?;
    Ok(())
}

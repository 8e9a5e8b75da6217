//! A family built as one TensorFlow graph for a cell: the forward (and, for training, the
//! loss and its gradients), directly in the session's graph or, with XLA, inside a graph
//! function called by a `StatefulPartitionedCall` node marked `_XlaMustCompile`, which is
//! what `tf.function(jit_compile=True)` does: XLA compiles it on CPU with no environment flags.

use super::ffi::{self, TfOperation, TfOutput};
use super::graph::{Graph, Parameter, Parameters};
use crate::graph::builder::{DType, GraphBuilder};
use crate::graph::layers::Shape;
use crate::graph::Family;
use anyhow::{bail, Result};
use std::ffi::CString;

/// What the session's graph offers for one cell.
pub struct Built {
    pub graph: Graph,
    /// Checkpoint names, in the graph's order.
    pub names: Vec<String>,
    /// The model's output: logits, or the bare model's output.
    pub output: TfOutput,
    pub loss: Option<TfOutput>,
    /// d loss / d parameter, in `names`' order (training only).
    pub gradients: Vec<TfOutput>,
    pub input_ids: TfOutput,
    pub labels: Option<TfOutput>,
}

impl Built {
    pub fn parameter(&self, name: &str) -> Result<&Parameter> {
        super::graph::parameter(&self.graph, name)
    }

    /// The operations that compute the gradients (run as targets, not fetched, when only the
    /// loss is wanted).
    pub fn gradient_ops(&self) -> Vec<*mut TfOperation> {
        let mut ops: Vec<_> = self.gradients.iter().map(|g| g.oper).collect();
        ops.dedup();
        ops
    }
}

/// Builds `family` for `shape` in `float`; `shape.loss` adds the loss and the gradients of
/// every parameter; `xla` puts it all in a function compiled by XLA.
pub fn build(
    family: &Family,
    shape: Shape,
    float: DType,
    parameters_as: Parameters,
    xla: bool,
) -> Result<Built> {
    if !xla {
        let mut graph = Graph::new(float, parameters_as)?;
        let out = family.build(&mut graph, shape)?;
        let names = graph.parameter_order.clone();
        let gradients = match out.loss {
            Some(loss) => {
                let xs: Vec<_> = names.iter().map(|n| graph.parameters[n].value).collect();
                graph.gradients(loss, &xs)?
            }
            None => Vec::new(),
        };
        let input_ids = graph.inputs["input_ids"];
        let labels = graph.inputs.get("labels").copied();
        return Ok(Built {
            graph,
            names,
            output: out.output,
            loss: out.loss,
            gradients,
            input_ids,
            labels,
        });
    }
    // The function's body: parameters and inputs are its arguments.
    let mut body = Graph::new(float, Parameters::Fed)?;
    let out = body.family_outputs(family, shape)?;
    let names = body.parameter_order.clone();
    let mut arguments: Vec<TfOutput> = names.iter().map(|n| body.parameters[n].value).collect();
    let mut input_names = vec!["input_ids".to_string()];
    if shape.loss {
        input_names.push("labels".into());
    }
    arguments.extend(input_names.iter().map(|n| body.inputs[n]));
    let mut results = vec![out.output];
    if let Some(loss) = out.loss {
        results.push(loss);
        let xs: Vec<_> = names.iter().map(|n| body.parameters[n].value).collect();
        results.extend(body.gradients(loss, &xs)?);
    }
    let api = body.api;
    let status = ffi::Status::new(api);
    let fname = CString::new("model")?;
    // SAFETY: the body graph is live; arguments and results are its outputs.
    let function = unsafe {
        (api.TF_GraphToFunction)(
            body.raw,
            fname.as_ptr(),
            0,
            -1,
            std::ptr::null(),
            arguments.len() as i32,
            arguments.as_ptr(),
            results.len() as i32,
            results.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            std::ptr::null(),
            status.raw,
        )
    };
    status.check(|| "TensorFlow graph function".into())?;
    let mut graph = Graph::new(float, parameters_as)?;
    // SAFETY: the function is copied into the graph, then deleted.
    unsafe {
        (api.TF_GraphCopyFunction)(graph.raw, function, std::ptr::null(), status.raw);
        (api.TF_DeleteFunction)(function);
    }
    status.check(|| "TensorFlow graph function".into())?;
    // The same parameters and inputs in the session's graph, in the function's order.
    let mut call_inputs = Vec::new();
    for name in &names {
        let shape = body.parameters[name].shape.clone();
        call_inputs.push(graph.parameter(name, &shape)?);
    }
    for name in &input_names {
        let shape = body.shape(&body.inputs[name])?;
        call_inputs.push(graph.input(name, DType::I64, &shape)?);
    }
    let tin: Vec<i32> = arguments.iter().map(|a| body.dtype_of(*a)).collect();
    let tout: Vec<i32> = results.iter().map(|r| body.dtype_of(*r)).collect();
    let call = graph
        .op("StatefulPartitionedCall")
        .inputs(&call_inputs)
        .types("Tin", &tin)
        .types("Tout", &tout)
        .func("f", "model")
        .bool("_XlaMustCompile", true)
        .finish()?;
    let result = |index: usize| TfOutput {
        oper: call,
        index: index as i32,
    };
    let input_ids = graph.inputs["input_ids"];
    let labels = graph.inputs.get("labels").copied();
    Ok(Built {
        output: result(0),
        loss: shape.loss.then(|| result(1)),
        gradients: match shape.loss {
            true => (0..names.len()).map(|i| result(2 + i)).collect(),
            false => Vec::new(),
        },
        graph,
        names,
        input_ids,
        labels,
    })
}

impl Graph {
    fn family_outputs(
        &mut self,
        family: &Family,
        shape: Shape,
    ) -> Result<crate::graph::layers::Outputs<TfOutput>> {
        let out = family.build(self, shape)?;
        if shape.loss && out.loss.is_none() {
            bail!("the graph has no loss");
        }
        Ok(out)
    }
}

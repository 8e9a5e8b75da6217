//! One cell's model, ready to call: the graph built for its sizes, run as a graph function
//! in an eager context with its threads (what `tf.function` does), the weights as resource
//! variables initialised inside that context, the inputs as tensors fed on each call, and
//! for training the gradients and the optimizer's update ops.
//!
//! Weights are resource variables rather than tensors fed on each call: the context holds the
//! only copy (initialised in place by random ops, never built on the host first), the
//! optimizer updates it in place (`ResourceApplyGradientDescent`, `ResourceApplyAdam`), as
//! TensorFlowBenchmark's Keras models did. Their value is read once per call
//! (`ReadVariableOp`, which shares the buffer) and gathered with `GatherV2`, which TensorFlow's
//! C++ gradients cover (`ResourceGather` has none).

use super::ffi::{self, TfOperation, TfOutput};
use super::function::FunctionCall;
use super::graph::{Graph, Parameters};
use super::model::{self, Built};
use super::session::Threads;
use super::tensor::{tf_type, Tensor};
use crate::graph::builder::DType;
use crate::graph::layers::Shape;
use crate::graph::Family;
use anyhow::{bail, Result};
use std::time::Instant;

/// The optimizer step of a training call, as `--optimizer` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimizer {
    /// Forward, loss and gradients only (the original's training measurement).
    None,
    /// Plain SGD, learning rate 1e-4.
    Sgd,
    /// AdamW as torch's defaults (betas 0.9, 0.999, eps 1e-8, weight decay 0.01), lr 1e-4.
    AdamW,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct Spec {
    pub family: Family,
    pub batch: i64,
    pub seq: i64,
    /// The language-model head (always for training).
    pub lm_head: bool,
    pub training: bool,
    pub dtype: DType,
    pub xla: bool,
    /// `--eager-mode`: the step's ops one at a time, not one function.
    pub eager: bool,
    pub threads: Threads,
    pub optimizer: Optimizer,
    pub seed: u64,
}

const LEARNING_RATE: f32 = 1e-4;
const BETAS: (f32, f32) = (0.9, 0.999);
const EPSILON: f32 = 1e-8;
const WEIGHT_DECAY: f32 = 0.01;

pub struct Engine {
    function: FunctionCall,
    pub(super) built: Built,
    pub(super) feeds: Vec<(TfOutput, Tensor)>,
    pub(super) fetches: Vec<TfOutput>,
    pub(super) targets: Vec<*mut TfOperation>,
    /// The variables' initialisers, run once after the build (kept for `export`).
    pub(super) init: Vec<*mut TfOperation>,
    /// AdamW's step count and its bias-correction inputs (beta1^t, beta2^t), fed per call.
    adam: Option<(u64, TfOutput, TfOutput)>,
    pub spec: Spec,
    /// Seconds of the graph build and variable initialisation.
    pub build_seconds: f64,
    /// Parameters (elements) of the built graph.
    pub parameters: i64,
}

impl Engine {
    pub fn build(spec: Spec) -> Result<Engine> {
        let start = Instant::now();
        let shape = Shape {
            batch: spec.batch,
            seq: spec.seq,
            lm_head: spec.lm_head || spec.training,
            loss: spec.training,
        };
        let mut built = model::build(
            &spec.family,
            shape,
            spec.dtype,
            Parameters::Variables,
            spec.xla,
        )?;
        let api = built.graph.api;
        let mut init = initialisers(&mut built.graph, &built.names, spec.seed)?;
        let mut targets = Vec::new();
        let mut fetches = Vec::new();
        let mut adam = None;
        match (spec.training, spec.optimizer) {
            (false, _) => fetches.push(built.output),
            (true, optimizer) => {
                fetches.extend(built.loss);
                match optimizer {
                    Optimizer::None => targets = built.gradient_ops(),
                    Optimizer::Sgd => targets = sgd(&mut built)?,
                    Optimizer::AdamW => {
                        let (ops, powers, zeros) = adamw(&mut built)?;
                        targets = ops;
                        init.extend(zeros);
                        adam = Some((0, powers.0, powers.1));
                    }
                }
            }
        }
        // Random token ids in 0..vocab, the labels being the ids (the original's labels).
        let mut rng = fastrand_like(spec.seed);
        let vocab = spec.family.vocab_size() as u64;
        let ids: Vec<i64> = (0..spec.batch * spec.seq)
            .map(|_| (rng() % vocab) as i64)
            .collect();
        let mut feeds = vec![(
            built.input_ids,
            Tensor::from_slice(api, &[spec.batch, spec.seq], &ids)?,
        )];
        if let Some(labels) = built.labels {
            feeds.push((
                labels,
                Tensor::from_slice(api, &[spec.batch, spec.seq], &ids)?,
            ));
        }
        let mut fed: Vec<TfOutput> = feeds.iter().map(|(o, _)| *o).collect();
        if let Some((_, b1, b2)) = adam {
            fed.extend([b1, b2]);
        }
        let function = FunctionCall::new(
            &built.graph,
            spec.threads,
            &init,
            &fed,
            &fetches,
            &targets,
            spec.eager,
        )?;
        let parameters = built
            .names
            .iter()
            .map(|n| built.graph.parameters[n].shape.iter().product::<i64>())
            .sum();
        Ok(Engine {
            function,
            built,
            feeds,
            fetches,
            targets,
            init,
            adam,
            spec,
            build_seconds: start.elapsed().as_secs_f64(),
            parameters,
        })
    }

    /// One call: inference forward, or a training step (forward, loss, gradients, and the
    /// optimizer's update where one is asked for). Returns the loss of a training call.
    pub fn call(&mut self) -> Result<Option<f32>> {
        let results = self.call_fetches()?;
        Ok(match self.spec.training {
            true => results
                .first()
                .map(|t| t.to_f32())
                .transpose()?
                .and_then(|v| v.first().copied()),
            false => None,
        })
    }

    /// One call, returning what it fetches: the output (inference) or the loss (training).
    pub fn call_fetches(&mut self) -> Result<Vec<Tensor>> {
        let api = self.built.graph.api;
        let mut extra = Vec::new();
        if let Some((step, b1, b2)) = &mut self.adam {
            *step += 1;
            let t = *step as i32;
            let dtype = tf_type(self.spec.dtype);
            extra.push((*b1, scalar(api, dtype, BETAS.0.powi(t))?));
            extra.push((*b2, scalar(api, dtype, BETAS.1.powi(t))?));
        }
        // In the order the step function's arguments were cut: the feeds, then AdamW's powers.
        let mut inputs: Vec<&Tensor> = self.feeds.iter().map(|(_, t)| t).collect();
        inputs.extend(extra.iter().map(|(_, t)| t));
        self.function.run(&inputs)
    }

    /// The output's shape (logits (batch, seq, vocab), ...), from the graph.
    pub fn output_shape(&self) -> Result<Vec<i64>> {
        use crate::graph::builder::GraphBuilder;
        self.built.graph.shape(&self.built.output)
    }
}

/// A scalar tensor of `dtype` (f32, bf16 or f16) holding `value`.
fn scalar(api: &'static ffi::Api, dtype: i32, value: f32) -> Result<Tensor> {
    match dtype {
        ffi::TF_FLOAT => Tensor::from_slice(api, &[], &[value]),
        ffi::TF_BFLOAT16 => Tensor::from_bytes(
            api,
            dtype,
            &[],
            &((value.to_bits() >> 16) as u16).to_ne_bytes(),
        ),
        _ => bail!("AdamW runs in f32 and bf16 here"),
    }
}

/// A small deterministic generator (splitmix64) for the token ids.
fn fastrand_like(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One `AssignVariableOp` per variable, its value made in the context as transformers
/// initialises: biases 0, norm weights (the 1-D `weight`s) 1, the rest N(0, 0.02).
fn initialisers(graph: &mut Graph, names: &[String], seed: u64) -> Result<Vec<*mut TfOperation>> {
    let dtype = tf_type(graph.float_type());
    let mut ops = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let p = graph.parameters[name].clone();
        let handle = p.handle.expect("variables have handles");
        let dims = graph.const_i64(&p.shape)?;
        let value = if name.ends_with(".bias") || p.shape.len() == 1 {
            let fill = if name.ends_with(".bias") { 0.0 } else { 1.0 };
            let fill = graph.const_scalar(dtype, fill)?;
            graph.op("Fill").input(dims).input(fill).out()?
        } else {
            let normal = graph
                .op("RandomStandardNormal")
                .input(dims)
                .ty("dtype", dtype)
                .int("seed", seed as i64)
                .int("seed2", i as i64 + 1)
                .out()?;
            let std = graph.const_scalar(dtype, 0.02)?;
            graph.op("Mul").input(normal).input(std).out()?
        };
        ops.push(
            graph
                .op("AssignVariableOp")
                .input(handle)
                .input(value)
                .finish()?,
        );
    }
    Ok(ops)
}

/// `ResourceApplyGradientDescent` on every variable.
fn sgd(built: &mut Built) -> Result<Vec<*mut TfOperation>> {
    let dtype = tf_type(built.graph.float_type());
    let lr = built.graph.const_scalar(dtype, LEARNING_RATE)?;
    let mut ops = Vec::new();
    for (name, grad) in built.names.clone().iter().zip(built.gradients.clone()) {
        let handle = built.graph.parameters[name].handle.expect("variables");
        ops.push(
            built
                .graph
                .op("ResourceApplyGradientDescent")
                .input(handle)
                .input(lr)
                .input(grad)
                .finish()?,
        );
    }
    Ok(ops)
}

/// torch's AdamW: p ← p · (1 - lr · wd) once the gradient is computed, then
/// `ResourceApplyAdam` with the moments in two more variables per parameter (zeros) and the
/// bias corrections fed per call. Returns the update ops, the two fed powers and the ops
/// zeroing the moments.
/// The moments' zeroing ops run with the initialisers.
type AdamOps = (
    Vec<*mut TfOperation>,
    (TfOutput, TfOutput),
    Vec<*mut TfOperation>,
);

fn adamw(built: &mut Built) -> Result<AdamOps> {
    let dtype = tf_type(built.graph.float_type());
    let g = &mut built.graph;
    let power1 = g.op_placeholder("beta1_power", dtype)?;
    let power2 = g.op_placeholder("beta2_power", dtype)?;
    let lr = g.const_scalar(dtype, LEARNING_RATE)?;
    let beta1 = g.const_scalar(dtype, BETAS.0)?;
    let beta2 = g.const_scalar(dtype, BETAS.1)?;
    let eps = g.const_scalar(dtype, EPSILON)?;
    let decay = g.const_scalar(dtype, 1.0 - LEARNING_RATE * WEIGHT_DECAY)?;
    let mut ops = Vec::new();
    let mut zero_inits = Vec::new();
    for (name, grad) in built.names.clone().iter().zip(built.gradients.clone()) {
        let p = g.parameters[name].clone();
        let handle = p.handle.expect("variables");
        let mut moments = Vec::new();
        for which in ["exp_avg", "exp_avg_sq"] {
            let m = g
                .op_named_unique("VarHandleOp", &format!("{name}.{which}"))
                .ty("dtype", dtype)
                .shape("shape", &p.shape)
                .string("shared_name", &format!("{name}.{which}"))
                .out()?;
            let dims = g.const_i64(&p.shape)?;
            let zero = g.const_scalar(dtype, 0.0)?;
            let zeros = g.op("Fill").input(dims).input(zero).out()?;
            zero_inits.push(g.op("AssignVariableOp").input(m).input(zeros).finish()?);
            moments.push(m);
        }
        // The decay reads the value after the gradient is computed.
        let current = g
            .op("ReadVariableOp")
            .input(handle)
            .ty("dtype", dtype)
            .control(grad)
            .out()?;
        let decayed = g.op("Mul").input(current).input(decay).out()?;
        let assign = g
            .op("AssignVariableOp")
            .input(handle)
            .input(decayed)
            .finish()?;
        ops.push(
            g.op("ResourceApplyAdam")
                .input(handle)
                .input(moments[0])
                .input(moments[1])
                .input(power1)
                .input(power2)
                .input(lr)
                .input(beta1)
                .input(beta2)
                .input(eps)
                .input(grad)
                .control(TfOutput {
                    oper: assign,
                    index: 0,
                })
                .finish()?,
        );
    }
    Ok((ops, (power1, power2), zero_inits))
}

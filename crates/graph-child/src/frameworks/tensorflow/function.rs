//! The built graph run through TensorFlow's function runtime, as Python's `tf.function`
//! runs it: the part of the graph a call needs becomes a graph function, registered in an
//! eager context configured with the cell's threads and executed with `TFE_Execute`.
//!
//! Why not a `TF_Session`: on the same graph, threads and shapes, a session's training call
//! measured 2-7% slower than `tf.function` (docs/tensorflow-vs-python-session.md: Python's
//! own Session matches ours, so the gap is the runtime, not our call). Inference was even.
//!
//! The variables stay resource variables: both functions (the initialisers, then the step)
//! hold the same `VarHandleOp`s, whose shared names find one resource in the context's CPU
//! device, as the functions of a pruned `wrap_function` do.

use super::eager::OpByOp;
use super::ffi::{Api, Status, TfInput, TfOperation, TfOutput, TfeContext, TfeTensorHandle};
use super::graph::Graph;
use super::session::{config_proto, Threads};
use super::tensor::Tensor;
use anyhow::{bail, Result};
use std::collections::HashSet;
use std::ffi::CString;

const INIT: &str = "run_benchmark_init";
const STEP: &str = "run_benchmark_step";

/// An eager context holding two functions cut from one graph: the initialisers (run once
/// here) and the step (inputs fed, outputs fetched, targets run as control outputs).
pub struct FunctionCall {
    api: &'static Api,
    context: *mut TfeContext,
    outputs: usize,
    /// `--eager-mode`: the step's ops one by one instead of the step function.
    op_by_op: Option<OpByOp>,
    /// The context's ConfigProto, passed with every call as Python's `tf.function` passes
    /// it (`config_proto`): without it the function is instantiated under a default
    /// ConfigProto, and SmolLM2-135M's training step measured 2% slower.
    config: Vec<u8>,
}

impl FunctionCall {
    /// Cuts the functions out of `graph`, registers them and runs the initialisers.
    /// With `eager`, the step is planned to run op by op ([`OpByOp`]) rather than as a
    /// function.
    pub fn new(
        graph: &Graph,
        threads: Threads,
        init: &[*mut TfOperation],
        feeds: &[TfOutput],
        fetches: &[TfOutput],
        targets: &[*mut TfOperation],
        eager: bool,
    ) -> Result<Self> {
        let api = graph.api;
        let status = Status::new(api);
        let proto = config_proto(threads);
        // SAFETY: the options are made, configured and deleted here; the context copies them.
        let context = unsafe {
            let options = (api.TFE_NewContextOptions)();
            (api.TFE_ContextOptionsSetConfig)(
                options,
                proto.as_ptr().cast(),
                proto.len(),
                status.raw,
            );
            let context = match status.check(|| "TensorFlow eager context options".into()) {
                Ok(()) => (api.TFE_NewContext)(options, status.raw),
                Err(_) => std::ptr::null_mut(),
            };
            (api.TFE_DeleteContextOptions)(options);
            status.check(|| "TensorFlow eager context".into())?;
            context
        };
        let mut call = FunctionCall {
            api,
            context,
            outputs: fetches.len(),
            op_by_op: None,
            config: proto,
        };
        call.add_library(graph)?;
        call.add(graph, INIT, &[], &[], init)?;
        call.execute(INIT, &[], 0)?;
        match eager {
            true => call.op_by_op = Some(OpByOp::plan(graph, feeds, fetches, targets)?),
            false => call.add(graph, STEP, feeds, fetches, targets)?,
        }
        Ok(call)
    }

    /// Registers the function `name`: the ancestors of `outputs` and `targets`, the feeds'
    /// placeholders left out (they become its arguments).
    fn add(
        &self,
        graph: &Graph,
        name: &str,
        inputs: &[TfOutput],
        outputs: &[TfOutput],
        targets: &[*mut TfOperation],
    ) -> Result<()> {
        let api = self.api;
        let body = ancestors(api, inputs, outputs, targets);
        let body: Vec<*const TfOperation> = body.into_iter().map(|op| op as *const _).collect();
        let control: Vec<*const TfOperation> = targets.iter().map(|&op| op as *const _).collect();
        let fname = CString::new(name)?;
        let status = Status::new(api);
        // SAFETY: every array has the length passed with it and holds the graph's own
        // operations; the function is copied into the context, then deleted.
        unsafe {
            let function = (api.TF_GraphToFunctionWithControlOutputs)(
                graph.raw,
                fname.as_ptr(),
                0,
                body.len() as i32,
                body.as_ptr(),
                inputs.len() as i32,
                inputs.as_ptr(),
                outputs.len() as i32,
                outputs.as_ptr(),
                std::ptr::null(),
                control.len() as i32,
                control.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                status.raw,
            );
            status.check(|| format!("TensorFlow graph function {name}"))?;
            (api.TFE_ContextAddFunction)(self.context, function, status.raw);
            (api.TF_DeleteFunction)(function);
            status.check(|| format!("TensorFlow graph function {name}"))
        }
    }

    /// Registers the functions the graph's own nodes call (XLA's `model`).
    fn add_library(&self, graph: &Graph) -> Result<()> {
        let api = self.api;
        let status = Status::new(api);
        // SAFETY: the array has the length passed; the returned functions become ours and
        // are deleted once copied into the context.
        unsafe {
            let n = (api.TF_GraphNumFunctions)(graph.raw);
            let mut functions = vec![std::ptr::null_mut(); n.max(0) as usize];
            let got = (api.TF_GraphGetFunctions)(graph.raw, functions.as_mut_ptr(), n, status.raw);
            status.check(|| "TensorFlow graph's function library".into())?;
            let mut result = Ok(());
            for &function in functions.iter().take(got.max(0) as usize) {
                if result.is_ok() {
                    (api.TFE_ContextAddFunction)(self.context, function, status.raw);
                    result = status.check(|| "TensorFlow graph's function library".into());
                }
                (api.TF_DeleteFunction)(function);
            }
            result
        }
    }

    /// One call of the step: `inputs` in the feeds' order, the fetches' values back.
    pub fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
        match &self.op_by_op {
            // SAFETY: the context lives as long as `self`.
            Some(plan) => unsafe { plan.run(self.api, self.context, inputs) },
            None => self.execute(STEP, inputs, self.outputs),
        }
    }

    fn execute(&self, name: &str, inputs: &[&Tensor], outputs: usize) -> Result<Vec<Tensor>> {
        let api = self.api;
        let status = Status::new(api);
        let fname = CString::new(name)?;
        let what = || format!("TensorFlow function call {name}");
        // SAFETY: the op, the input handles (which share the tensors' buffers) and the
        // returned handles are deleted here; resolved tensors become ours.
        unsafe {
            let op = (api.TFE_NewOp)(self.context, fname.as_ptr(), status.raw);
            status.check(what)?;
            (api.TFE_OpSetAttrString)(
                op,
                c"config_proto".as_ptr(),
                self.config.as_ptr().cast(),
                self.config.len(),
            );
            (api.TFE_OpSetAttrString)(op, c"executor_type".as_ptr(), c"".as_ptr().cast(), 0);
            let mut handles: Vec<*mut TfeTensorHandle> = Vec::with_capacity(inputs.len());
            let mut result = Ok(());
            for tensor in inputs {
                let handle = (api.TFE_NewTensorHandle)(tensor.raw, status.raw);
                result = status.check(what);
                if result.is_err() {
                    break;
                }
                handles.push(handle);
                (api.TFE_OpAddInput)(op, handle, status.raw);
                result = status.check(what);
                if result.is_err() {
                    break;
                }
            }
            let mut retvals: Vec<*mut TfeTensorHandle> = vec![std::ptr::null_mut(); outputs];
            let mut count = outputs as i32;
            if result.is_ok() {
                (api.TFE_Execute)(op, retvals.as_mut_ptr(), &mut count, status.raw);
                result = status.check(what);
            }
            (api.TFE_DeleteOp)(op);
            for handle in handles {
                (api.TFE_DeleteTensorHandle)(handle);
            }
            let mut tensors = Vec::with_capacity(outputs);
            for &handle in retvals.iter().take(count.max(0) as usize) {
                if handle.is_null() {
                    continue;
                }
                if result.is_ok() {
                    let raw = (api.TFE_TensorHandleResolve)(handle, status.raw);
                    result = status.check(what);
                    if result.is_ok() {
                        tensors.push(Tensor::from_raw(api, raw));
                    }
                }
                (api.TFE_DeleteTensorHandle)(handle);
            }
            result?;
            if tensors.len() != outputs {
                bail!("{}: {} outputs, {outputs} expected", what(), tensors.len());
            }
            Ok(tensors)
        }
    }
}

impl Drop for FunctionCall {
    fn drop(&mut self) {
        // SAFETY: deleted once; no handle of this context outlives a call.
        unsafe { (self.api.TFE_DeleteContext)(self.context) }
    }
}

/// The operations `outputs` and `targets` depend on, through data and control edges,
/// stopping at the operations that produce `inputs`.
pub(super) fn ancestors(
    api: &Api,
    inputs: &[TfOutput],
    outputs: &[TfOutput],
    targets: &[*mut TfOperation],
) -> Vec<*mut TfOperation> {
    let fed: HashSet<*mut TfOperation> = inputs.iter().map(|i| i.oper).collect();
    let mut seen: HashSet<*mut TfOperation> = HashSet::new();
    let mut order = Vec::new();
    let mut stack: Vec<*mut TfOperation> = outputs.iter().map(|o| o.oper).collect();
    stack.extend_from_slice(targets);
    while let Some(op) = stack.pop() {
        if fed.contains(&op) || !seen.insert(op) {
            continue;
        }
        order.push(op);
        // SAFETY: `op` is an operation of the live graph; the arrays have the lengths asked.
        unsafe {
            for index in 0..(api.TF_OperationNumInputs)(op) {
                stack.push((api.TF_OperationInput)(TfInput { oper: op, index }).oper);
            }
            let n = (api.TF_OperationNumControlInputs)(op);
            let mut control = vec![std::ptr::null_mut(); n.max(0) as usize];
            let got = (api.TF_OperationGetControlInputs)(op, control.as_mut_ptr(), n);
            stack.extend(control.into_iter().take(got.max(0) as usize));
        }
    }
    order
}

//! `--eager-mode` (the original's `eager_mode=True`): the step's operations executed one at a
//! time by TensorFlow's eager runtime (`TFE_Execute` of each op), as a Keras model runs without
//! `tf.function`: every op dispatched from the host, its result materialised before the next
//! starts, no graph optimisation across ops. Training executes the same gradient ops the
//! graph holds (what a gradient tape would record), op by op.
//!
//! The plan is made once from the built graph: the ancestors of the fetches and targets in
//! the graph's order (an op is always created after its inputs), each op's type, attributes
//! (serialized once) and where its inputs come from. A value is released after its last use,
//! as eager tensors are when nothing refers to them any more.

use super::ffi::TfeTensorHandle;
use super::ffi::{Api, Status, TfBuffer, TfInput, TfOperation, TfOutput, TfeContext};
use super::graph::Graph;
use super::tensor::Tensor;
use anyhow::{bail, Result};
use std::collections::{HashMap, HashSet};
use std::ffi::{c_char, CStr, CString};

/// Where an op's input comes from.
#[derive(Clone, Copy)]
enum Source {
    /// The call's `n`-th fed tensor.
    Fed(usize),
    /// Output `index` of the plan's op `op`.
    Op { op: usize, index: usize },
}

struct PlannedOp {
    op_type: CString,
    /// Attribute name and its serialized `AttrValue`.
    attrs: Vec<(CString, Vec<u8>)>,
    inputs: Vec<Source>,
    outputs: usize,
    /// Values (op, output) whose last use is this op: released after it runs.
    release: Vec<(usize, usize)>,
}

pub struct OpByOp {
    ops: Vec<PlannedOp>,
    fetches: Vec<Source>,
}

impl OpByOp {
    pub fn plan(
        graph: &Graph,
        feeds: &[TfOutput],
        fetches: &[TfOutput],
        targets: &[*mut TfOperation],
    ) -> Result<Self> {
        let api = graph.api;
        let wanted: HashSet<*mut TfOperation> =
            super::function::ancestors(api, feeds, fetches, targets)
                .into_iter()
                .collect();
        let mut index_of: HashMap<*mut TfOperation, usize> = HashMap::new();
        let mut ops = Vec::new();
        let source =
            |index_of: &HashMap<*mut TfOperation, usize>, out: TfOutput| -> Result<Source> {
                if let Some(n) = feeds.iter().position(|f| *f == out) {
                    return Ok(Source::Fed(n));
                }
                match index_of.get(&out.oper) {
                    Some(&op) => Ok(Source::Op {
                        op,
                        index: out.index as usize,
                    }),
                    None => bail!("eager mode: an input of the step comes from outside it"),
                }
            };
        let mut position = 0usize;
        // SAFETY: the graph is live; names and buffers are read and copied here.
        unsafe {
            loop {
                let op = (api.TF_GraphNextOperation)(graph.raw, &mut position);
                if op.is_null() {
                    break;
                }
                if !wanted.contains(&op) {
                    continue;
                }
                let mut inputs = Vec::new();
                for index in 0..(api.TF_OperationNumInputs)(op) {
                    let from = (api.TF_OperationInput)(TfInput { oper: op, index });
                    inputs.push(source(&index_of, from)?);
                }
                index_of.insert(op, ops.len());
                ops.push(PlannedOp {
                    op_type: CStr::from_ptr((api.TF_OperationOpType)(op)).to_owned(),
                    attrs: attributes(api, op)?,
                    inputs,
                    outputs: (api.TF_OperationNumOutputs)(op).max(0) as usize,
                    release: Vec::new(),
                });
            }
        }
        let fetches = (fetches.iter())
            .map(|&f| source(&index_of, f))
            .collect::<Result<Vec<_>>>()?;
        // Each value's last use; fetched values are kept to the end.
        let mut last_use: HashMap<(usize, usize), usize> = HashMap::new();
        for (i, planned) in ops.iter().enumerate() {
            for input in &planned.inputs {
                if let Source::Op { op, index } = *input {
                    last_use.insert((op, index), i);
                }
            }
        }
        for fetch in &fetches {
            if let Source::Op { op, index } = *fetch {
                last_use.remove(&(op, index));
            }
        }
        for (value, i) in last_use {
            ops[i].release.push(value);
        }
        Ok(OpByOp { ops, fetches })
    }

    /// One step, op by op, in `context`: `inputs` in the feeds' order, the fetches back.
    ///
    /// # Safety
    /// `context` is a live eager context holding the step's variables.
    pub unsafe fn run(
        &self,
        api: &'static Api,
        context: *mut TfeContext,
        inputs: &[&Tensor],
    ) -> Result<Vec<Tensor>> {
        let status = Status::new(api);
        let mut values = Values::new(api, &self.ops);
        // SAFETY: every handle made here is deleted by `values` (or resolved then deleted);
        // each op is deleted after its execution.
        unsafe {
            for tensor in inputs {
                let handle = (api.TFE_NewTensorHandle)(tensor.raw, status.raw);
                status.check(|| "eager mode: an input".into())?;
                values.fed.push(handle);
            }
            for (i, planned) in self.ops.iter().enumerate() {
                let what = || format!("eager mode: {}", planned.op_type.to_string_lossy());
                let op = (api.TFE_NewOp)(context, planned.op_type.as_ptr(), status.raw);
                status.check(what)?;
                let mut result = Ok(());
                for (name, proto) in &planned.attrs {
                    (api.TFE_OpSetAttrValueProto)(
                        op,
                        name.as_ptr(),
                        proto.as_ptr().cast(),
                        proto.len(),
                        status.raw,
                    );
                    result = status.check(what);
                    if result.is_err() {
                        break;
                    }
                }
                for input in &planned.inputs {
                    if result.is_err() {
                        break;
                    }
                    (api.TFE_OpAddInput)(op, values.get(*input), status.raw);
                    result = status.check(what);
                }
                if result.is_ok() {
                    let mut count = planned.outputs as i32;
                    let outputs = &mut values.ops[i];
                    outputs.resize(planned.outputs, std::ptr::null_mut());
                    (api.TFE_Execute)(op, outputs.as_mut_ptr(), &mut count, status.raw);
                    result = status.check(what);
                }
                (api.TFE_DeleteOp)(op);
                result?;
                for &(op, index) in &planned.release {
                    values.release(op, index);
                }
            }
            let mut fetched = Vec::with_capacity(self.fetches.len());
            for &fetch in &self.fetches {
                let raw = (api.TFE_TensorHandleResolve)(values.get(fetch), status.raw);
                status.check(|| "eager mode: a fetched value".into())?;
                fetched.push(Tensor::from_raw(api, raw));
            }
            Ok(fetched)
        }
    }
}

/// A call's live handles: the fed inputs and each op's outputs, deleted when released or
/// when the call ends (an error included).
struct Values<'a> {
    api: &'a Api,
    fed: Vec<*mut TfeTensorHandle>,
    ops: Vec<Vec<*mut TfeTensorHandle>>,
}

impl<'a> Values<'a> {
    fn new(api: &'a Api, ops: &[PlannedOp]) -> Self {
        Values {
            api,
            fed: Vec::new(),
            ops: ops.iter().map(|_| Vec::new()).collect(),
        }
    }

    fn get(&self, source: Source) -> *mut TfeTensorHandle {
        match source {
            Source::Fed(n) => self.fed[n],
            Source::Op { op, index } => self.ops[op][index],
        }
    }

    fn release(&mut self, op: usize, index: usize) {
        let handle = std::mem::replace(&mut self.ops[op][index], std::ptr::null_mut());
        if !handle.is_null() {
            // SAFETY: made by TFE_Execute, deleted once (the slot is nulled).
            unsafe { (self.api.TFE_DeleteTensorHandle)(handle) }
        }
    }
}

impl Drop for Values<'_> {
    fn drop(&mut self) {
        let handles = self.fed.iter().chain(self.ops.iter().flatten());
        for &handle in handles {
            if !handle.is_null() {
                // SAFETY: each live handle is deleted once, here.
                unsafe { (self.api.TFE_DeleteTensorHandle)(handle) }
            }
        }
    }
}

/// An operation's attributes, each serialized as an `AttrValue`; the graph's internal ones
/// (`_class`, `_XlaMustCompile`, ...) are the graph's bookkeeping, not the op's.
unsafe fn attributes(api: &'static Api, op: *mut TfOperation) -> Result<Vec<(CString, Vec<u8>)>> {
    let status = Status::new(api);
    let mut attrs = Vec::new();
    for i in 0..(api.TF_OperationGetNumAttrs)(op) {
        let length = (api.TF_OperationGetAttrNameLength)(op, i);
        let mut name = vec![0u8; length.max(0) as usize + 1];
        (api.TF_OperationGetAttrName)(op, i, name.as_mut_ptr().cast::<c_char>(), status.raw);
        status.check(|| "eager mode: an attribute's name".into())?;
        let name = CStr::from_ptr(name.as_ptr().cast()).to_owned();
        if name.as_bytes().starts_with(b"_") {
            continue;
        }
        let buffer: *mut TfBuffer = (api.TF_NewBuffer)();
        (api.TF_OperationGetAttrValueProto)(op, name.as_ptr(), buffer, status.raw);
        let bytes =
            std::slice::from_raw_parts((*buffer).data.cast::<u8>(), (*buffer).length).to_vec();
        (api.TF_DeleteBuffer)(buffer);
        status.check(|| format!("eager mode: attribute {}", name.to_string_lossy()))?;
        attrs.push((name, bytes));
    }
    Ok(attrs)
}

//! [`GraphBuilder`] lowered to a TensorFlow graph (`TF_Graph`) through the C API: one
//! TensorFlow operation per builder operation, type attributes inferred from the inputs.

use super::ffi::{self, Api, Status, TfGraph, TfOperation, TfOperationDescription, TfOutput};
use super::tensor::{tf_type, Tensor};
use crate::graph::builder::{Binary, Constant, DType, Data, GraphBuilder, Reduce, Unary};
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeMap;
use std::ffi::CString;

/// How parameters enter the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parameters {
    /// A `Placeholder` each, fed on every call (a graph function's arguments, the parity run).
    Fed,
    /// A resource variable each (`VarHandleOp`), read once per call by `ReadVariableOp`: the
    /// weights live in the session, one copy, updated in place by the optimizer.
    Variables,
}

/// A parameter of the graph: its value as the model reads it and, for a variable, its handle.
#[derive(Debug, Clone)]
pub struct Parameter {
    pub value: TfOutput,
    pub handle: Option<TfOutput>,
    pub shape: Vec<i64>,
}

/// An owned `TF_Graph` being built.
pub struct Graph {
    pub api: &'static Api,
    pub raw: *mut TfGraph,
    float: DType,
    parameters_as: Parameters,
    /// By checkpoint name, in the order first asked for.
    pub parameters: BTreeMap<String, Parameter>,
    pub parameter_order: Vec<String>,
    pub inputs: BTreeMap<String, TfOutput>,
    names: usize,
}

impl Drop for Graph {
    fn drop(&mut self) {
        // SAFETY: owned, deleted once (sessions using it are dropped first by their owners).
        unsafe { (self.api.TF_DeleteGraph)(self.raw) }
    }
}

/// One operation being described.
pub struct Op<'g> {
    graph: &'g Graph,
    desc: *mut TfOperationDescription,
    what: String,
}

fn c(s: &str) -> CString {
    CString::new(s).expect("attribute names have no NUL")
}

impl Op<'_> {
    pub fn input(self, x: TfOutput) -> Self {
        // SAFETY: desc is live until finish.
        unsafe { (self.graph.api.TF_AddInput)(self.desc, x) };
        self
    }

    pub fn inputs(self, xs: &[TfOutput]) -> Self {
        // SAFETY: as above; the list is copied.
        unsafe { (self.graph.api.TF_AddInputList)(self.desc, xs.as_ptr(), xs.len() as i32) };
        self
    }

    /// Runs this operation after the one producing `after`.
    pub fn control(self, after: TfOutput) -> Self {
        // SAFETY: as above; `after` is an output of this graph.
        unsafe { (self.graph.api.TF_AddControlInput)(self.desc, after.oper) };
        self
    }

    pub fn ty(self, name: &str, dtype: i32) -> Self {
        // SAFETY: as above; the name is copied.
        unsafe { (self.graph.api.TF_SetAttrType)(self.desc, c(name).as_ptr(), dtype) };
        self
    }

    pub fn types(self, name: &str, dtypes: &[i32]) -> Self {
        // SAFETY: as above.
        unsafe {
            (self.graph.api.TF_SetAttrTypeList)(
                self.desc,
                c(name).as_ptr(),
                dtypes.as_ptr(),
                dtypes.len() as i32,
            )
        };
        self
    }

    pub fn shape(self, name: &str, dims: &[i64]) -> Self {
        // SAFETY: as above.
        unsafe {
            (self.graph.api.TF_SetAttrShape)(
                self.desc,
                c(name).as_ptr(),
                dims.as_ptr(),
                dims.len() as i32,
            )
        };
        self
    }

    pub fn int(self, name: &str, value: i64) -> Self {
        // SAFETY: as above.
        unsafe { (self.graph.api.TF_SetAttrInt)(self.desc, c(name).as_ptr(), value) };
        self
    }

    pub fn bool(self, name: &str, value: bool) -> Self {
        // SAFETY: as above.
        unsafe { (self.graph.api.TF_SetAttrBool)(self.desc, c(name).as_ptr(), value as u8) };
        self
    }

    pub fn string(self, name: &str, value: &str) -> Self {
        // SAFETY: as above; the value is copied.
        unsafe {
            (self.graph.api.TF_SetAttrString)(
                self.desc,
                c(name).as_ptr(),
                value.as_ptr().cast(),
                value.len(),
            )
        };
        self
    }

    pub fn func(self, name: &str, function: &str) -> Self {
        // SAFETY: as above.
        unsafe {
            (self.graph.api.TF_SetAttrFuncName)(
                self.desc,
                c(name).as_ptr(),
                function.as_ptr().cast(),
                function.len(),
            )
        };
        self
    }

    pub fn tensor(self, name: &str, value: &Tensor) -> Result<Self> {
        let status = Status::new(self.graph.api);
        // SAFETY: as above; TensorFlow copies the tensor into the attribute.
        unsafe {
            (self.graph.api.TF_SetAttrTensor)(self.desc, c(name).as_ptr(), value.raw, status.raw)
        };
        status.check(|| format!("{}: attribute {name}", self.what))?;
        Ok(self)
    }

    pub fn finish(self) -> Result<*mut TfOperation> {
        let status = Status::new(self.graph.api);
        // SAFETY: finishing consumes desc.
        let op = unsafe { (self.graph.api.TF_FinishOperation)(self.desc, status.raw) };
        status.check(|| self.what.clone())?;
        Ok(op)
    }

    /// Finishes and returns output 0.
    pub fn out(self) -> Result<TfOutput> {
        Ok(TfOutput {
            oper: self.finish()?,
            index: 0,
        })
    }
}

impl Graph {
    pub fn new(float: DType, parameters_as: Parameters) -> Result<Self> {
        let api = ffi::api()?;
        Ok(Graph {
            api,
            // SAFETY: no preconditions.
            raw: unsafe { (api.TF_NewGraph)() },
            float,
            parameters_as,
            parameters: BTreeMap::new(),
            parameter_order: Vec::new(),
            inputs: BTreeMap::new(),
            names: 0,
        })
    }

    /// A new operation of type `ty`, with a unique name.
    pub fn op(&mut self, ty: &str) -> Op<'_> {
        self.names += 1;
        let name = format!("{}_{}", ty, self.names);
        self.op_named(ty, &name)
    }

    pub fn op_named(&self, ty: &str, name: &str) -> Op<'_> {
        // SAFETY: the graph is live; the strings are copied.
        let desc =
            unsafe { (self.api.TF_NewOperation)(self.raw, c(ty).as_ptr(), c(name).as_ptr()) };
        Op {
            graph: self,
            desc,
            what: format!("TensorFlow {ty} ({name})"),
        }
    }

    pub fn float_type(&self) -> DType {
        self.float
    }

    /// An operation named `name` made unique.
    pub fn op_named_unique(&mut self, ty: &str, name: &str) -> Op<'_> {
        self.names += 1;
        let name = format!("{name}_{}", self.names);
        self.op_named(ty, &name)
    }

    /// A scalar placeholder of `dtype`.
    pub fn op_placeholder(&mut self, name: &str, dtype: i32) -> Result<TfOutput> {
        self.op_named("Placeholder", name)
            .ty("dtype", dtype)
            .shape("shape", &[])
            .out()
    }

    /// A scalar constant of the float `dtype`.
    pub fn const_scalar(&mut self, dtype: i32, value: f32) -> Result<TfOutput> {
        let t = Tensor::from_slice(self.api, &[], &[value])?;
        let out = self.constant_tensor(&t)?;
        match dtype {
            ffi::TF_FLOAT => Ok(out),
            _ => self.op("Cast").input(out).ty("DstT", dtype).out(),
        }
    }

    pub fn const_i64(&mut self, values: &[i64]) -> Result<TfOutput> {
        self.int64s(values)
    }

    fn constant_tensor(&mut self, tensor: &Tensor) -> Result<TfOutput> {
        let dtype = tensor.dtype();
        self.op("Const")
            .ty("dtype", dtype)
            .tensor("value", tensor)?
            .out()
    }

    fn int64s(&mut self, values: &[i64]) -> Result<TfOutput> {
        let t = Tensor::from_slice(self.api, &[values.len() as i64], values)?;
        self.constant_tensor(&t)
    }

    /// Shapes, axes and permutations as int32, the type TensorFlow's C++ gradient functions
    /// build their own shape arithmetic in (int64 axes fail in `Mean`'s gradient).
    fn int32s(&mut self, values: &[i64]) -> Result<TfOutput> {
        let values: Vec<i32> = values.iter().map(|&v| v as i32).collect();
        let t = Tensor::from_slice(self.api, &[values.len() as i64], &values)?;
        self.constant_tensor(&t)
    }

    fn int32(&mut self, value: i32) -> Result<TfOutput> {
        let t = Tensor::from_slice(self.api, &[], &[value])?;
        self.constant_tensor(&t)
    }

    pub fn dtype_of(&self, x: TfOutput) -> i32 {
        // SAFETY: x is an output of this graph.
        unsafe { (self.api.TF_OperationOutputType)(x) }
    }

    /// dy/dx for each x, added to the graph by TensorFlow's C++ gradient registry.
    pub fn gradients(&mut self, y: TfOutput, xs: &[TfOutput]) -> Result<Vec<TfOutput>> {
        let mut ys = [y];
        let mut xs = xs.to_vec();
        let mut dys = vec![
            TfOutput {
                oper: std::ptr::null_mut(),
                index: 0
            };
            xs.len()
        ];
        let status = Status::new(self.api);
        // SAFETY: every output is of this graph; dx null means ones.
        unsafe {
            (self.api.TF_AddGradients)(
                self.raw,
                ys.as_mut_ptr(),
                1,
                xs.as_mut_ptr(),
                xs.len() as i32,
                std::ptr::null_mut(),
                status.raw,
                dys.as_mut_ptr(),
            )
        };
        status.check(|| "TensorFlow gradients (TF_AddGradients)".into())?;
        if dys.iter().any(|d| d.oper.is_null()) {
            bail!("TF_AddGradients left a parameter without a gradient");
        }
        Ok(dys)
    }
}

impl GraphBuilder for Graph {
    type Value = TfOutput;

    fn float(&self) -> DType {
        self.float
    }

    fn shape(&self, x: &TfOutput) -> Result<Vec<i64>> {
        let status = Status::new(self.api);
        // SAFETY: x is an output of this graph.
        let rank = unsafe { (self.api.TF_GraphGetTensorNumDims)(self.raw, *x, status.raw) };
        status.check(|| "TensorFlow shape inference".into())?;
        if rank < 0 {
            bail!("TensorFlow does not know the rank of a value");
        }
        let mut dims = vec![0i64; rank as usize];
        // SAFETY: dims holds rank entries.
        unsafe {
            (self.api.TF_GraphGetTensorShape)(self.raw, *x, dims.as_mut_ptr(), rank, status.raw)
        };
        status.check(|| "TensorFlow shape inference".into())?;
        if dims.iter().any(|&d| d < 0) {
            bail!("TensorFlow does not know a dimension of a value: {dims:?}");
        }
        Ok(dims)
    }

    fn input(&mut self, name: &str, dtype: DType, shape: &[i64]) -> Result<TfOutput> {
        let out = self
            .op_named("Placeholder", name)
            .ty("dtype", tf_type(dtype))
            .shape("shape", shape)
            .out()?;
        self.inputs.insert(name.to_string(), out);
        Ok(out)
    }

    fn parameter(&mut self, name: &str, shape: &[i64]) -> Result<TfOutput> {
        if let Some(p) = self.parameters.get(name) {
            if p.shape != shape {
                bail!(
                    "parameter {name} asked for as {shape:?} and as {:?}",
                    p.shape
                );
            }
            return Ok(p.value);
        }
        let dtype = tf_type(self.float);
        let parameter = match self.parameters_as {
            Parameters::Fed => Parameter {
                value: self
                    .op_named("Placeholder", name)
                    .ty("dtype", dtype)
                    .shape("shape", shape)
                    .out()?,
                handle: None,
                shape: shape.to_vec(),
            },
            Parameters::Variables => {
                let handle = self
                    .op_named("VarHandleOp", name)
                    .ty("dtype", dtype)
                    .shape("shape", shape)
                    .string("shared_name", name)
                    .out()?;
                let value = self
                    .op("ReadVariableOp")
                    .input(handle)
                    .ty("dtype", dtype)
                    .out()?;
                Parameter {
                    value,
                    handle: Some(handle),
                    shape: shape.to_vec(),
                }
            }
        };
        let value = parameter.value;
        self.parameters.insert(name.to_string(), parameter);
        self.parameter_order.push(name.to_string());
        Ok(value)
    }

    fn constant(&mut self, constant: Constant) -> Result<TfOutput> {
        let tensor = match &constant.data {
            Data::F32(v) => Tensor::from_slice(self.api, &constant.shape, v)?,
            Data::I32(v) => Tensor::from_slice(self.api, &constant.shape, v)?,
            Data::I64(v) => Tensor::from_slice(self.api, &constant.shape, v)?,
        };
        let out = self.constant_tensor(&tensor)?;
        match (&constant.data, self.float) {
            (Data::F32(_), DType::BF16 | DType::F16) => self.cast(&out, self.float),
            _ => Ok(out),
        }
    }

    fn unary(&mut self, op: Unary, x: &TfOutput) -> Result<TfOutput> {
        let ty = match op {
            Unary::Neg => "Neg",
            Unary::Exp => "Exp",
            Unary::Sqrt => "Sqrt",
            Unary::Rsqrt => "Rsqrt",
            Unary::Square => "Square",
            Unary::Tanh => "Tanh",
            Unary::Erf => "Erf",
            Unary::Sigmoid => "Sigmoid",
        };
        self.op(ty).input(*x).out()
    }

    fn binary(&mut self, op: Binary, a: &TfOutput, b: &TfOutput) -> Result<TfOutput> {
        let ty = match op {
            Binary::Add => "AddV2",
            Binary::Sub => "Sub",
            Binary::Mul => "Mul",
            Binary::Div => "RealDiv",
        };
        self.op(ty).input(*a).input(*b).out()
    }

    fn matmul(&mut self, a: &TfOutput, b: &TfOutput, ta: bool, tb: bool) -> Result<TfOutput> {
        let (ra, rb) = (self.shape(a)?.len(), self.shape(b)?.len());
        if ra == 2 && rb == 2 {
            self.op("MatMul")
                .input(*a)
                .input(*b)
                .bool("transpose_a", ta)
                .bool("transpose_b", tb)
                .out()
        } else {
            self.op("BatchMatMulV2")
                .input(*a)
                .input(*b)
                .bool("adj_x", ta)
                .bool("adj_y", tb)
                .out()
        }
    }

    fn gather(&mut self, table: &TfOutput, ids: &TfOutput) -> Result<TfOutput> {
        let axis = self.int32(0)?;
        self.op("GatherV2")
            .input(*table)
            .input(*ids)
            .input(axis)
            .out()
    }

    fn reshape(&mut self, x: &TfOutput, shape: &[i64]) -> Result<TfOutput> {
        let shape = self.int32s(shape)?;
        self.op("Reshape").input(*x).input(shape).out()
    }

    fn transpose(&mut self, x: &TfOutput, perm: &[i64]) -> Result<TfOutput> {
        let perm = self.int32s(perm)?;
        self.op("Transpose").input(*x).input(perm).out()
    }

    fn softmax(&mut self, x: &TfOutput) -> Result<TfOutput> {
        self.op("Softmax").input(*x).out()
    }

    fn log_softmax(&mut self, x: &TfOutput) -> Result<TfOutput> {
        self.op("LogSoftmax").input(*x).out()
    }

    fn reduce(&mut self, op: Reduce, x: &TfOutput, axes: &[i64], keep: bool) -> Result<TfOutput> {
        let axes = self.int32s(axes)?;
        let ty = match op {
            Reduce::Sum => "Sum",
            Reduce::Mean => "Mean",
        };
        self.op(ty)
            .input(*x)
            .input(axes)
            .bool("keep_dims", keep)
            .out()
    }

    fn concat(&mut self, xs: &[TfOutput], axis: i64) -> Result<TfOutput> {
        let axis = self.int32(axis as i32)?;
        self.op("ConcatV2").inputs(xs).input(axis).out()
    }

    fn split(&mut self, x: &TfOutput, axis: i64, parts: i64) -> Result<Vec<TfOutput>> {
        let axis = self.int32(axis as i32)?;
        let op = self
            .op("Split")
            .input(axis)
            .input(*x)
            .int("num_split", parts)
            .finish()?;
        Ok((0..parts as i32)
            .map(|index| TfOutput { oper: op, index })
            .collect())
    }

    fn slice(&mut self, x: &TfOutput, begin: &[i64], size: &[i64]) -> Result<TfOutput> {
        let begin = self.int32s(begin)?;
        let size = self.int32s(size)?;
        self.op("Slice").input(*x).input(begin).input(size).out()
    }

    fn cast(&mut self, x: &TfOutput, dtype: DType) -> Result<TfOutput> {
        self.op("Cast").input(*x).ty("DstT", tf_type(dtype)).out()
    }

    fn not_equal(&mut self, a: &TfOutput, b: &TfOutput) -> Result<TfOutput> {
        self.op("NotEqual").input(*a).input(*b).out()
    }
}

/// The parameter named `name`, or an error naming it.
pub fn parameter<'a>(graph: &'a Graph, name: &str) -> Result<&'a Parameter> {
    graph
        .parameters
        .get(name)
        .ok_or_else(|| anyhow!("the graph has no parameter {name}"))
}

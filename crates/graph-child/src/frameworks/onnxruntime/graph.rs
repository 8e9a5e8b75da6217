//! [`GraphBuilder`] lowered to an ONNX graph held by ONNX Runtime's model editor (opset 18).
//!
//! The editor keeps no shapes we can ask for, so every value carries its static shape, worked
//! out here op by op the way ONNX's shape inference would (numpy broadcasting, MatMul's batch
//! axes); a mismatch is an error naming the op, before ONNX Runtime sees the graph.
//! Parameters and constants are initializers: ONNX Runtime takes the tensors we fill, without a
//! copy and without a protobuf in between (measured: a 400 MiB weight adds 8 MiB to the
//! process once the session exists).

use crate::graph::builder::{Binary, Constant, DType, Data, GraphBuilder, Reduce, Unary};
use anyhow::{anyhow, bail, ensure, Context, Result};
use ort::editor::{Graph, Model, Node, Opset, ONNX_DOMAIN};
use ort::memory::Allocator;
use ort::operator::Attribute;
use ort::value::{DynTensor, Outlet, Shape, SymbolicDimensions, TensorElementType, ValueType};
use std::collections::HashMap;
use std::rc::Rc;

/// The ONNX opset the nodes are written for: 23, for RMSNormalization (Gelu is 20,
/// LayerNormalization 17, ReduceMean's axes as an input 18).
pub const OPSET: u32 = 23;

/// Fills a parameter's values (row-major, f32) by its Hugging Face checkpoint name.
pub type Parameters<'p> = dyn FnMut(&str, &[i64], &mut [f32]) -> Result<()> + 'p;

/// One value of the graph: its name in the ONNX graph, element type and static shape.
#[derive(Debug, Clone)]
pub struct OnnxValue {
    name: Rc<str>,
    dtype: DType,
    shape: Rc<[i64]>,
}

impl OnnxValue {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn dims(&self) -> &[i64] {
        &self.shape
    }
}

/// An ONNX graph being built; [`OnnxGraph::finish`] names its outputs and gives the model.
pub struct OnnxGraph<'p> {
    graph: Graph,
    inputs: Vec<OnnxValue>,
    parameters: &'p mut Parameters<'p>,
    /// By checkpoint name: a parameter asked for twice (tied) is one initializer.
    made: HashMap<String, OnnxValue>,
    /// Elements of all parameters (the model's parameter count).
    pub parameter_count: u64,
    /// Parameter and constant bytes handed to ONNX Runtime.
    pub initializer_bytes: u64,
    nodes: usize,
}

impl<'p> OnnxGraph<'p> {
    /// A graph in f32, the only float type ONNX Runtime's CPU provider computes in (see the
    /// module above for f16 and bf16).
    pub fn new(parameters: &'p mut Parameters<'p>) -> Result<Self> {
        Ok(OnnxGraph {
            graph: Graph::new()?,
            inputs: Vec::new(),
            parameters,
            made: HashMap::new(),
            parameter_count: 0,
            initializer_bytes: 0,
            nodes: 0,
        })
    }

    /// The graph's inputs in the order they were declared.
    pub fn inputs(&self) -> &[OnnxValue] {
        &self.inputs
    }

    /// Declares `outputs` (renamed to the given names) and returns the model for a session.
    pub fn finish(mut self, outputs: &[(&str, &OnnxValue)]) -> Result<(Model, Vec<OnnxValue>)> {
        let mut named = Vec::new();
        for (name, value) in outputs {
            self.graph.add_node(Node::new(
                "Identity",
                ONNX_DOMAIN,
                format!("output.{name}"),
                [value.name()],
                [*name],
                [],
            )?)?;
            named.push(OnnxValue {
                name: (*name).into(),
                dtype: value.dtype,
                shape: value.shape.clone(),
            });
        }
        self.graph
            .set_inputs(self.inputs.iter().map(outlet).collect::<Result<Vec<_>>>()?)?;
        self.graph
            .set_outputs(named.iter().map(outlet).collect::<Result<Vec<_>>>()?)?;
        let mut model = Model::new([Opset::new(ONNX_DOMAIN, OPSET)?])?;
        model.set_graph(self.graph)?;
        Ok((model, named))
    }

    /// Adds one node of `op` with one output of the given type and shape.
    fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        attributes: Vec<Attribute>,
        dtype: DType,
        shape: Vec<i64>,
    ) -> Result<OnnxValue> {
        Ok(self
            .nodes_n(op, inputs, attributes, &[(dtype, shape)])?
            .remove(0))
    }

    /// Adds one node of `op` with an output per entry of `outputs`.
    fn nodes_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        attributes: Vec<Attribute>,
        outputs: &[(DType, Vec<i64>)],
    ) -> Result<Vec<OnnxValue>> {
        self.nodes += 1;
        let node = format!("{op}_{}", self.nodes);
        let values: Vec<OnnxValue> = outputs
            .iter()
            .enumerate()
            .map(|(i, (dtype, shape))| OnnxValue {
                name: format!("{node}:{i}").into(),
                dtype: *dtype,
                shape: shape.as_slice().into(),
            })
            .collect();
        let names: Vec<&str> = values.iter().map(|v| v.name()).collect();
        let created = Node::new(op, ONNX_DOMAIN, &node, inputs, &names, attributes)
            .with_context(|| format!("ONNX node {node}"))?;
        self.graph.add_node(created)?;
        Ok(values)
    }

    /// Hands `tensor` to ONNX Runtime as the initializer `name`.
    fn add_initializer(
        &mut self,
        name: &str,
        dtype: DType,
        shape: &[i64],
        tensor: DynTensor,
    ) -> Result<OnnxValue> {
        self.initializer_bytes += (element_count(shape)? * element_size(dtype)) as u64;
        self.graph.add_initializer(name, tensor, false)?;
        Ok(OnnxValue {
            name: name.into(),
            dtype,
            shape: shape.into(),
        })
    }

    /// A constant 1-D int64 tensor (axes, shapes, split sizes), ONNX's form of static arguments.
    fn i64s(&mut self, values: &[i64]) -> Result<OnnxValue> {
        self.nodes += 1;
        let name = format!("const_{}", self.nodes);
        self.constant_named(
            &name,
            Constant::i64(&[values.len() as i64], values.to_vec()),
        )
    }

    fn constant_named(&mut self, name: &str, constant: Constant) -> Result<OnnxValue> {
        let count = element_count(&constant.shape)?;
        let (dtype, bytes): (DType, Vec<u8>) = match &constant.data {
            Data::F32(v) => (DType::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            Data::I32(v) => (DType::I32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            Data::I64(v) => (DType::I64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        };
        ensure!(
            bytes.len() == count * element_size(dtype),
            "constant {name}: {} bytes of data for shape {:?}",
            bytes.len(),
            constant.shape
        );
        let mut tensor = new_tensor(dtype, &constant.shape)?;
        tensor_bytes(&mut tensor, bytes.len()).copy_from_slice(&bytes);
        self.add_initializer(name, dtype, &constant.shape, tensor)
    }
}

impl GraphBuilder for OnnxGraph<'_> {
    type Value = OnnxValue;

    fn float(&self) -> DType {
        DType::F32
    }

    fn shape(&self, x: &OnnxValue) -> Result<Vec<i64>> {
        Ok(x.shape.to_vec())
    }

    fn input(&mut self, name: &str, dtype: DType, shape: &[i64]) -> Result<OnnxValue> {
        element_type(dtype)?;
        let value = OnnxValue {
            name: name.into(),
            dtype,
            shape: shape.into(),
        };
        self.inputs.push(value.clone());
        Ok(value)
    }

    fn parameter(&mut self, name: &str, shape: &[i64]) -> Result<OnnxValue> {
        if let Some(made) = self.made.get(name) {
            ensure!(
                *made.shape == *shape,
                "parameter {name} asked for as {shape:?} and as {:?}",
                made.shape
            );
            return Ok(made.clone());
        }
        let mut tensor = new_tensor(DType::F32, shape)?;
        let count = element_count(shape)?;
        // SAFETY: a fresh f32 tensor of `count` elements from ONNX Runtime's allocator (aligned
        // for f32) that nothing else refers to yet.
        let values =
            unsafe { std::slice::from_raw_parts_mut(tensor.data_ptr_mut().cast::<f32>(), count) };
        (self.parameters)(name, shape, values).with_context(|| format!("parameter {name}"))?;
        let value = self.add_initializer(name, DType::F32, shape, tensor)?;
        self.parameter_count += count as u64;
        self.made.insert(name.to_string(), value.clone());
        Ok(value)
    }

    fn constant(&mut self, constant: Constant) -> Result<OnnxValue> {
        self.nodes += 1;
        let name = format!("const_{}", self.nodes);
        self.constant_named(&name, constant)
    }

    fn unary(&mut self, op: Unary, x: &OnnxValue) -> Result<OnnxValue> {
        let shape = x.shape.to_vec();
        let name = match op {
            Unary::Neg => "Neg",
            Unary::Exp => "Exp",
            Unary::Sqrt => "Sqrt",
            Unary::Tanh => "Tanh",
            Unary::Erf => "Erf",
            Unary::Sigmoid => "Sigmoid",
            Unary::Rsqrt => {
                let root = self.node("Sqrt", &[x.name()], vec![], x.dtype, shape.clone())?;
                return self.node("Reciprocal", &[root.name()], vec![], x.dtype, shape);
            }
            Unary::Square => {
                return self.node("Mul", &[x.name(), x.name()], vec![], x.dtype, shape);
            }
        };
        self.node(name, &[x.name()], vec![], x.dtype, shape)
    }

    fn binary(&mut self, op: Binary, a: &OnnxValue, b: &OnnxValue) -> Result<OnnxValue> {
        let name = match op {
            Binary::Add => "Add",
            Binary::Sub => "Sub",
            Binary::Mul => "Mul",
            Binary::Div => "Div",
        };
        ensure!(
            a.dtype == b.dtype,
            "{name}: {:?} and {:?} operands",
            a.dtype,
            b.dtype
        );
        let shape = broadcast(&a.shape, &b.shape).with_context(|| name.to_string())?;
        self.node(name, &[a.name(), b.name()], vec![], a.dtype, shape)
    }

    fn matmul(
        &mut self,
        a: &OnnxValue,
        b: &OnnxValue,
        transpose_a: bool,
        transpose_b: bool,
    ) -> Result<OnnxValue> {
        // ONNX's MatMul has no transpose flags: a Transpose of the last two axes feeds it (on a
        // weight, ONNX Runtime's constant folding or MatMul fusion removes it).
        let a = if transpose_a {
            self.swap_last(a)?
        } else {
            a.clone()
        };
        let b = if transpose_b {
            self.swap_last(b)?
        } else {
            b.clone()
        };
        let shape = matmul_shape(&a.shape, &b.shape)?;
        self.node("MatMul", &[a.name(), b.name()], vec![], a.dtype, shape)
    }

    fn gather(&mut self, table: &OnnxValue, ids: &OnnxValue) -> Result<OnnxValue> {
        ensure!(!table.shape.is_empty(), "gather from a scalar");
        let mut shape = ids.shape.to_vec();
        shape.extend_from_slice(&table.shape[1..]);
        let axis = Attribute::new("axis", 0i64)?;
        self.node(
            "Gather",
            &[table.name(), ids.name()],
            vec![axis],
            table.dtype,
            shape,
        )
    }

    fn reshape(&mut self, x: &OnnxValue, shape: &[i64]) -> Result<OnnxValue> {
        let resolved = reshape_shape(&x.shape, shape)?;
        let target = self.i64s(&resolved)?;
        self.node(
            "Reshape",
            &[x.name(), target.name()],
            vec![],
            x.dtype,
            resolved,
        )
    }

    fn transpose(&mut self, x: &OnnxValue, perm: &[i64]) -> Result<OnnxValue> {
        let shape = perm
            .iter()
            .map(|&p| {
                x.shape
                    .get(axis(p, x.shape.len())?)
                    .copied()
                    .ok_or_else(|| anyhow!("transpose: axis {p}"))
            })
            .collect::<Result<Vec<_>>>()?;
        ensure!(
            perm.len() == x.shape.len(),
            "transpose: perm {perm:?} of rank {}",
            x.shape.len()
        );
        let perm = Attribute::new("perm", perm.to_vec())?;
        self.node("Transpose", &[x.name()], vec![perm], x.dtype, shape)
    }

    fn softmax(&mut self, x: &OnnxValue) -> Result<OnnxValue> {
        let last = Attribute::new("axis", -1i64)?;
        self.node(
            "Softmax",
            &[x.name()],
            vec![last],
            x.dtype,
            x.shape.to_vec(),
        )
    }

    fn log_softmax(&mut self, x: &OnnxValue) -> Result<OnnxValue> {
        let last = Attribute::new("axis", -1i64)?;
        self.node(
            "LogSoftmax",
            &[x.name()],
            vec![last],
            x.dtype,
            x.shape.to_vec(),
        )
    }

    fn reduce(
        &mut self,
        op: Reduce,
        x: &OnnxValue,
        axes: &[i64],
        keep_dims: bool,
    ) -> Result<OnnxValue> {
        let rank = x.shape.len();
        let axes = axes
            .iter()
            .map(|&a| axis(a, rank))
            .collect::<Result<Vec<_>>>()?;
        let shape: Vec<i64> = x
            .shape
            .iter()
            .enumerate()
            .filter_map(|(i, &d)| match (axes.contains(&i), keep_dims) {
                (false, _) => Some(d),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect();
        let name = match op {
            Reduce::Sum => "ReduceSum",
            Reduce::Mean => "ReduceMean",
        };
        let axes: Vec<i64> = axes.iter().map(|&a| a as i64).collect();
        let axes = self.i64s(&axes)?;
        let keep = Attribute::new("keepdims", i64::from(keep_dims))?;
        self.node(name, &[x.name(), axes.name()], vec![keep], x.dtype, shape)
    }

    fn concat(&mut self, xs: &[OnnxValue], axis_: i64) -> Result<OnnxValue> {
        let first = xs.first().ok_or_else(|| anyhow!("concat of nothing"))?;
        let a = axis(axis_, first.shape.len())?;
        let mut shape = first.shape.to_vec();
        for x in &xs[1..] {
            ensure!(
                x.shape.len() == shape.len()
                    && x.shape
                        .iter()
                        .zip(&shape)
                        .enumerate()
                        .all(|(i, (p, q))| i == a || p == q),
                "concat: shapes {:?} and {:?} on axis {axis_}",
                first.shape,
                x.shape
            );
            shape[a] += x.shape[a];
        }
        let names: Vec<&str> = xs.iter().map(|x| x.name()).collect();
        let attr = Attribute::new("axis", a as i64)?;
        self.node("Concat", &names, vec![attr], first.dtype, shape)
    }

    fn split(&mut self, x: &OnnxValue, axis_: i64, parts: i64) -> Result<Vec<OnnxValue>> {
        let a = axis(axis_, x.shape.len())?;
        ensure!(
            parts > 0 && x.shape[a] % parts == 0,
            "split: axis {axis_} of {:?} into {parts} equal parts",
            x.shape
        );
        let mut piece = x.shape.to_vec();
        piece[a] /= parts;
        let sizes = self.i64s(&vec![piece[a]; parts as usize])?;
        let attr = Attribute::new("axis", a as i64)?;
        let outputs = vec![(x.dtype, piece); parts as usize];
        self.nodes_n("Split", &[x.name(), sizes.name()], vec![attr], &outputs)
    }

    fn slice(&mut self, x: &OnnxValue, begin: &[i64], size: &[i64]) -> Result<OnnxValue> {
        ensure!(
            begin.len() == x.shape.len() && size.len() == x.shape.len(),
            "slice: begin {begin:?} and size {size:?} for shape {:?}",
            x.shape
        );
        // TensorFlow's convention, which the trait follows: a size of -1 runs to the end.
        let shape: Vec<i64> = size
            .iter()
            .zip(begin)
            .zip(x.shape.iter())
            .map(|((&s, &b), &d)| if s < 0 { d - b } else { s })
            .collect();
        let ends: Vec<i64> = begin.iter().zip(&shape).map(|(b, s)| b + s).collect();
        for ((&b, &e), &d) in begin.iter().zip(&ends).zip(x.shape.iter()) {
            ensure!(
                0 <= b && b <= e && e <= d,
                "slice: begin {begin:?} size {size:?} outside {:?}",
                x.shape
            );
        }
        let starts = self.i64s(begin)?;
        let ends = self.i64s(&ends)?;
        self.node(
            "Slice",
            &[x.name(), starts.name(), ends.name()],
            vec![],
            x.dtype,
            shape,
        )
    }

    fn cast(&mut self, x: &OnnxValue, dtype: DType) -> Result<OnnxValue> {
        let to = Attribute::new("to", onnx_type(dtype))?;
        self.node("Cast", &[x.name()], vec![to], dtype, x.shape.to_vec())
    }

    fn not_equal(&mut self, a: &OnnxValue, b: &OnnxValue) -> Result<OnnxValue> {
        let shape = broadcast(&a.shape, &b.shape).context("not_equal")?;
        let equal = self.node(
            "Equal",
            &[a.name(), b.name()],
            vec![],
            DType::Bool,
            shape.clone(),
        )?;
        self.node("Not", &[equal.name()], vec![], DType::Bool, shape)
    }

    // One op each, as exported models hold them (ONNX Runtime's optimiser does not fuse the
    // composed form of these three).

    fn layer_norm(
        &mut self,
        x: &OnnxValue,
        weight: &OnnxValue,
        bias: &OnnxValue,
        eps: f64,
    ) -> Result<OnnxValue> {
        let attributes = vec![
            Attribute::new("axis", -1i64)?,
            Attribute::new("epsilon", eps as f32)?,
        ];
        let inputs = [x.name(), weight.name(), bias.name()];
        let shape = x.shape.to_vec();
        self.node("LayerNormalization", &inputs, attributes, x.dtype, shape)
    }

    fn rms_norm(&mut self, x: &OnnxValue, weight: &OnnxValue, eps: f64) -> Result<OnnxValue> {
        let attributes = vec![
            Attribute::new("axis", -1i64)?,
            Attribute::new("epsilon", eps as f32)?,
        ];
        let inputs = [x.name(), weight.name()];
        let shape = x.shape.to_vec();
        self.node("RMSNormalization", &inputs, attributes, x.dtype, shape)
    }

    fn gelu(&mut self, x: &OnnxValue, tanh: bool) -> Result<OnnxValue> {
        let approximate = Attribute::new(
            "approximate",
            if tanh { "tanh" } else { "none" }.to_string(),
        )?;
        self.node(
            "Gelu",
            &[x.name()],
            vec![approximate],
            x.dtype,
            x.shape.to_vec(),
        )
    }
}

impl OnnxGraph<'_> {
    /// `x` with its last two axes swapped.
    fn swap_last(&mut self, x: &OnnxValue) -> Result<OnnxValue> {
        let rank = x.shape.len() as i64;
        ensure!(rank >= 2, "matmul transpose of a rank-{rank} value");
        let mut perm: Vec<i64> = (0..rank).collect();
        perm.swap(rank as usize - 2, rank as usize - 1);
        self.transpose(x, &perm)
    }
}

fn new_tensor(dtype: DType, shape: &[i64]) -> Result<DynTensor> {
    DynTensor::new(&Allocator::default(), element_type(dtype)?, shape)
        .with_context(|| format!("allocating a {dtype:?} tensor of shape {shape:?}"))
}

/// The first `len` bytes of a fresh tensor's buffer.
fn tensor_bytes(tensor: &mut DynTensor, len: usize) -> &mut [u8] {
    // SAFETY: callers pass the byte size of the tensor they just allocated, whose buffer
    // nothing else refers to yet.
    unsafe { std::slice::from_raw_parts_mut(tensor.data_ptr_mut().cast::<u8>(), len) }
}

fn outlet(value: &OnnxValue) -> Result<Outlet> {
    Ok(Outlet::new(
        value.name(),
        ValueType::Tensor {
            ty: element_type(value.dtype)?,
            shape: Shape::new(value.shape.iter().copied()),
            dimension_symbols: SymbolicDimensions::empty(value.shape.len()),
        },
    ))
}

/// The ONNX Runtime element type of `dtype` (which dtypes a cell may use is
/// [`super::dtype_refusal`]'s business).
pub fn element_type(dtype: DType) -> Result<TensorElementType> {
    Ok(match dtype {
        DType::F32 => TensorElementType::Float32,
        DType::F16 => TensorElementType::Float16,
        DType::BF16 => TensorElementType::Bfloat16,
        DType::I32 => TensorElementType::Int32,
        DType::I64 => TensorElementType::Int64,
        DType::Bool => TensorElementType::Bool,
    })
}

pub(super) fn element_size(dtype: DType) -> usize {
    match dtype {
        DType::F32 | DType::I32 => 4,
        DType::I64 => 8,
        DType::F16 | DType::BF16 => 2,
        DType::Bool => 1,
    }
}

/// ONNX's `TensorProto.DataType` numbers, for Cast's `to`.
fn onnx_type(dtype: DType) -> i64 {
    match dtype {
        DType::F32 => 1,
        DType::I32 => 6,
        DType::I64 => 7,
        DType::Bool => 9,
        DType::F16 => 10,
        DType::BF16 => 16,
    }
}

pub(super) fn element_count(shape: &[i64]) -> Result<usize> {
    shape.iter().try_fold(1usize, |n, &d| {
        usize::try_from(d)
            .ok()
            .and_then(|d| n.checked_mul(d))
            .ok_or_else(|| anyhow!("shape {shape:?}"))
    })
}

/// A possibly negative axis of a rank-`rank` value, as an index.
fn axis(a: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    ensure!((-r..r).contains(&a), "axis {a} of a rank-{rank} value");
    Ok(a.rem_euclid(r.max(1)) as usize)
}

/// Numpy broadcasting of two shapes.
fn broadcast(a: &[i64], b: &[i64]) -> Result<Vec<i64>> {
    let rank = a.len().max(b.len());
    (0..rank)
        .map(|i| {
            let da = if i + a.len() >= rank {
                a[i + a.len() - rank]
            } else {
                1
            };
            let db = if i + b.len() >= rank {
                b[i + b.len() - rank]
            } else {
                1
            };
            match (da, db) {
                (x, y) if x == y => Ok(x),
                (1, y) => Ok(y),
                (x, 1) => Ok(x),
                _ => bail!("shapes {a:?} and {b:?} do not broadcast"),
            }
        })
        .collect()
}

/// MatMul's output shape: (.., m, k) @ (.., k, n), batch axes broadcast.
fn matmul_shape(a: &[i64], b: &[i64]) -> Result<Vec<i64>> {
    ensure!(
        a.len() >= 2 && b.len() >= 2,
        "matmul of shapes {a:?} and {b:?}"
    );
    let (m, k) = (a[a.len() - 2], a[a.len() - 1]);
    let (k2, n) = (b[b.len() - 2], b[b.len() - 1]);
    ensure!(k == k2, "matmul of shapes {a:?} and {b:?}");
    let mut shape = broadcast(&a[..a.len() - 2], &b[..b.len() - 2])?;
    shape.extend([m, n]);
    Ok(shape)
}

/// A reshape target with its one `-1` worked out.
fn reshape_shape(from: &[i64], to: &[i64]) -> Result<Vec<i64>> {
    let total = element_count(from)? as i64;
    let known: i64 = to.iter().filter(|&&d| d != -1).product();
    let unknown = to.iter().filter(|&&d| d == -1).count();
    let resolved: Vec<i64> = match unknown {
        0 => to.to_vec(),
        1 if known > 0 && total % known == 0 => to
            .iter()
            .map(|&d| if d == -1 { total / known } else { d })
            .collect(),
        _ => bail!("reshape of {from:?} to {to:?}"),
    };
    ensure!(
        resolved.iter().all(|&d| d >= 0) && resolved.iter().product::<i64>() == total,
        "reshape of {from:?} to {to:?}"
    );
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_onnx_rules() {
        assert_eq!(broadcast(&[2, 1, 4], &[3, 1]).unwrap(), vec![2, 3, 4]);
        assert!(broadcast(&[2, 3], &[4]).is_err());
        assert_eq!(
            matmul_shape(&[2, 12, 8, 64], &[2, 12, 64, 8]).unwrap(),
            vec![2, 12, 8, 8]
        );
        assert!(matmul_shape(&[8, 64], &[32, 64]).is_err());
        assert_eq!(
            reshape_shape(&[2, 8, 768], &[-1, 768]).unwrap(),
            vec![16, 768]
        );
        assert!(reshape_shape(&[2, 8], &[3, -1]).is_err());
        assert_eq!(axis(-1, 3).unwrap(), 2);
        assert!(axis(3, 3).is_err());
    }
}

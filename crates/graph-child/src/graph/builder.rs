//! The framework-neutral graph builder: the few operations the model families need, so each
//! family is written once ([`super::bert`], [`super::gpt2`], [`super::llama`]) and lowered by
//! every graph framework (TensorFlow here, ONNX Runtime beside it).
//!
//! Shapes are static: a graph is built for one (batch, sequence) cell, as a benchmark cell
//! is one size, so reshapes take plain dimensions. Every operation is differentiable by
//! TensorFlow's C++ gradient registry where a gradient flows through it (MatMul,
//! BatchMatMulV2, Softmax, LogSoftmax, Erf, Tanh, GatherV2, Mean, Sum, Split, ConcatV2, the
//! shape ops); `not_equal`, `cast` and `slice` are only used on integer labels.

use anyhow::Result;

/// Element types of inputs, parameters and constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    BF16,
    F16,
    I32,
    I64,
    Bool,
}

impl DType {
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::BF16 | DType::F16)
    }
}

/// Element-wise functions of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unary {
    Neg,
    Exp,
    Sqrt,
    Rsqrt,
    Square,
    Tanh,
    Erf,
    Sigmoid,
}

/// Element-wise functions of two values, broadcast as numpy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

/// Reductions over some axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    Sum,
    Mean,
}

/// A constant's values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

/// A constant tensor built on the host (position ids, rotary tables, masks, scalars).
#[derive(Debug, Clone, PartialEq)]
pub struct Constant {
    pub shape: Vec<i64>,
    pub data: Data,
}

impl Constant {
    pub fn scalar(value: f32) -> Self {
        Constant {
            shape: Vec::new(),
            data: Data::F32(vec![value]),
        }
    }

    pub fn f32(shape: &[i64], values: Vec<f32>) -> Self {
        Constant {
            shape: shape.to_vec(),
            data: Data::F32(values),
        }
    }

    pub fn i64(shape: &[i64], values: Vec<i64>) -> Self {
        Constant {
            shape: shape.to_vec(),
            data: Data::I64(values),
        }
    }
}

/// Builds one graph. `Value` names one output of an operation (a TensorFlow `TF_Output`, an
/// ONNX value name). Float constants and parameters take the builder's float type
/// ([`GraphBuilder::float`]); float constants given as f32 are converted to it.
pub trait GraphBuilder {
    type Value: Clone;

    /// The model's float type (f32, bf16, f16).
    fn float(&self) -> DType;
    /// The static shape of `x`.
    fn shape(&self, x: &Self::Value) -> Result<Vec<i64>>;

    /// A graph input fed on each call (token ids, labels, attention mask).
    fn input(&mut self, name: &str, dtype: DType, shape: &[i64]) -> Result<Self::Value>;
    /// A trained parameter by its Hugging Face checkpoint name (`bert.embeddings.word_embeddings.weight`),
    /// in the float type. A tied parameter is asked for once and its value used twice.
    fn parameter(&mut self, name: &str, shape: &[i64]) -> Result<Self::Value>;
    fn constant(&mut self, constant: Constant) -> Result<Self::Value>;

    fn unary(&mut self, op: Unary, x: &Self::Value) -> Result<Self::Value>;
    fn binary(&mut self, op: Binary, a: &Self::Value, b: &Self::Value) -> Result<Self::Value>;
    /// a @ b over the last two axes (the transposed operand where asked), the leading axes
    /// being batch axes of equal size; both of rank 2 is a plain matrix product.
    fn matmul(
        &mut self,
        a: &Self::Value,
        b: &Self::Value,
        transpose_a: bool,
        transpose_b: bool,
    ) -> Result<Self::Value>;
    /// Rows of `table` (axis 0) at integer `ids`: shape ids.shape + table.shape[1..].
    fn gather(&mut self, table: &Self::Value, ids: &Self::Value) -> Result<Self::Value>;
    fn reshape(&mut self, x: &Self::Value, shape: &[i64]) -> Result<Self::Value>;
    fn transpose(&mut self, x: &Self::Value, perm: &[i64]) -> Result<Self::Value>;
    /// Softmax over the last axis.
    fn softmax(&mut self, x: &Self::Value) -> Result<Self::Value>;
    /// Log-softmax over the last axis.
    fn log_softmax(&mut self, x: &Self::Value) -> Result<Self::Value>;
    fn reduce(
        &mut self,
        op: Reduce,
        x: &Self::Value,
        axes: &[i64],
        keep_dims: bool,
    ) -> Result<Self::Value>;
    fn concat(&mut self, xs: &[Self::Value], axis: i64) -> Result<Self::Value>;
    /// `parts` equal pieces along `axis`.
    fn split(&mut self, x: &Self::Value, axis: i64, parts: i64) -> Result<Vec<Self::Value>>;
    /// The block starting at `begin` of `size` (static, per axis).
    fn slice(&mut self, x: &Self::Value, begin: &[i64], size: &[i64]) -> Result<Self::Value>;
    fn cast(&mut self, x: &Self::Value, dtype: DType) -> Result<Self::Value>;
    /// Element-wise a != b, a boolean value.
    fn not_equal(&mut self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value>;

    // Three layers a framework may run as one op (ONNX's LayerNormalization, RMSNormalization
    // and Gelu, which exported models contain and ONNX Runtime's optimiser does not make
    // from the composed form); by default they are composed of the operations above.

    /// `nn.LayerNorm` over the last axis: (x - mean) / sqrt(var + eps) · weight + bias.
    fn layer_norm(
        &mut self,
        x: &Self::Value,
        weight: &Self::Value,
        bias: &Self::Value,
        eps: f64,
    ) -> Result<Self::Value>
    where
        Self: Sized,
    {
        super::layers::composed_layer_norm(self, x, weight, bias, eps)
    }

    /// `RMSNorm` over the last axis: x / sqrt(mean(x²) + eps) · weight.
    fn rms_norm(&mut self, x: &Self::Value, weight: &Self::Value, eps: f64) -> Result<Self::Value>
    where
        Self: Sized,
    {
        super::layers::composed_rms_norm(self, x, weight, eps)
    }

    /// GELU, exact (erf) or with the tanh approximation.
    fn gelu(&mut self, x: &Self::Value, tanh: bool) -> Result<Self::Value>
    where
        Self: Sized,
    {
        super::layers::composed_gelu(self, x, tanh)
    }
}

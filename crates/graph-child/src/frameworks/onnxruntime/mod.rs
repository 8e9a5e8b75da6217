//! ONNX Runtime 1.31 (the PyPI wheel's `libonnxruntime.so.1.31.1`) as a graph framework: the
//! families of [`crate::graph`] lowered to ONNX and run by an inference session.
//!
//! - **Graphs without Python or protobuf.** The graph is built in memory through ONNX Runtime's
//!   model editor API (the `ort` crate's `editor` module, C API 22 or later), not by encoding a
//!   `ModelProto`: initializers are tensors ONNX Runtime takes as they are (no copy, no 2 GB
//!   protobuf limit for the 7B models), and there is no protobuf code of our own to keep right.
//!   The session can still write the model it ran as an `.onnx` file for Python to load
//!   ([`session::Settings::save_optimized`]).
//! - **Inference only.** ONNX Runtime's training is a separate product (onnxruntime-training,
//!   its own wheel and artifacts); a training cell is refused with that reason.
//! - **f32 only.** Measured with one-node graphs on this wheel's CPU provider (x86-64): it has
//!   no f16 kernel for MatMul, Add, Sub, Mul, Div, Softmax, Erf, Tanh, Exp, Sqrt, Sigmoid,
//!   ReduceMean or ReduceSum (the session silently wraps each in Casts to f32 and back), and no
//!   bf16 kernel for any of them (the session fails to build). An f16 cell would time casts
//!   around f32 arithmetic, so both half types are refused ([`dtype_refusal`]).
//! - **Its own process, without libtorch**, like every framework: this crate never links it.
//! - **The library** is loaded at run time ([`library`]); building never needs it.

pub mod command;
pub mod engine;
pub mod graph;
pub mod library;
pub mod parity;
pub mod placement;
pub mod session;

use crate::graph::builder::DType;

/// The framework's name on the command line and in results.
pub const NAME: &str = "onnxruntime";

/// Why a cell of `dtype` cannot run under ONNX Runtime, or None when it can (f32).
pub fn dtype_refusal(dtype: DType) -> Option<String> {
    match dtype {
        DType::F32 => None,
        DType::F16 => Some(
            "ONNX Runtime's CPU provider has no f16 kernels for MatMul and the element-wise ops \
             (it would time casts to f32): onnxruntime runs f32 only"
                .into(),
        ),
        DType::BF16 => Some(
            "ONNX Runtime's CPU provider has no bf16 kernels: onnxruntime runs f32 only".into(),
        ),
        other => Some(format!("{other:?} is not a float type for a model")),
    }
}

/// Why a training cell cannot run under ONNX Runtime.
pub const TRAINING_REFUSAL: &str =
    "ONNX Runtime inference sessions do not train (onnxruntime-training is a separate product): \
     onnxruntime measures inference only";

#[cfg(test)]
mod tests;

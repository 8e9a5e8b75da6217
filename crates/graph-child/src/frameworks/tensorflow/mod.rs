//! TensorFlow through its C API (`libtensorflow_cc.so.2` of the PyPI wheel): the graph
//! builder lowered to a `TF_Graph`, run as a graph function in an eager context (as
//! `tf.function`), XLA through a function-call node, gradients from TensorFlow's C++ registry.

pub mod cells;
pub mod eager;
pub mod engine;
pub mod export;
pub mod ffi;
pub mod function;
pub mod graph;
pub mod model;
pub mod parity;
pub mod session;
pub mod tensor;

//! Graph frameworks: each lowers [`crate::graph::builder::GraphBuilder`] and runs the graph.

pub mod onnxruntime;
pub mod tensorflow;

//! run-benchmark's child for graph frameworks: builds a model family once against
//! [`graph::builder::GraphBuilder`] and runs it with a framework that libtorch never shares a
//! process with (TensorFlow through its C API).

pub mod child;
pub mod frameworks;
pub mod graph;
pub mod memory;

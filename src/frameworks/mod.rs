//! The frameworks this binary measures with: each implements the core's
//! [`run_benchmark_core::protocol::Framework`] in a folder of its own. Frameworks without
//! libtorch live in their own binary (crates/graph-child).

pub mod torch;

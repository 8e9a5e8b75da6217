//! Clocks and memory readings; nothing here knows about models. The neutral ones are the
//! core's; the GPU allocator's and libtorch's operator profiler are libtorch's.

pub mod gpu;
pub mod operators;
pub use run_benchmark_core::measure::{
    allocator, bandwidth, generation, memory, profile, stats, timing,
};

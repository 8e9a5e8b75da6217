//! run-benchmark's framework-neutral core, which no libtorch reaches (`cargo tree -p
//! run-benchmark-core` has no tch): what a measuring child of any framework needs.
//!
//! - [`cell`]: the plain data: a cell, the sweep's settings, results, the jobs a parent
//!   sends its child, and (`cell::shard`) the record of a whole plan.
//! - [`measure`]: clocks, statistics, memory readings from /proc and the heap's thresholds.
//! - [`protocol`]: the measuring protocol (memory, speed, generation) written once, driving
//!   a [`protocol::Framework`] that each framework implements.
//! - [`spec`]: the neutral facts of every model family (config, checks, parameters, FLOPs,
//!   KV-cache layout, input kind), which every framework builds from.

pub mod cell;
pub mod measure;
pub mod protocol;
pub mod spec;
/// A shard's record of its whole plan (plain data, inside `cell`).
pub use cell::shard;

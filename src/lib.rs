//! run-benchmark: speed and memory of Transformer models through libtorch, one child process
//! per measurement. Data flows one way: cli (+ sweep_file) -> plan -> runner -> child ->
//! report, all speaking the plain data of `cell` (the core crate's); `app` wires them;
//! progress, console and interrupt only watch and print. The child measures by the core's
//! protocol, with libtorch as its framework (`frameworks::torch`). Only `frameworks`,
//! `child`, `models` and `measure::gpu` touch libtorch.

pub mod app;
pub mod calibration;
pub mod catalog;
pub use run_benchmark_core::cell;
pub mod child;
pub mod cli;
pub mod cli_docs;
pub mod console;
pub mod db;
pub mod devices;
pub mod env;
pub mod estimate;
pub mod frameworks;
pub mod hub;
pub mod interrupt;
pub mod load;
pub mod measure;
pub mod models;
pub mod plan;
pub mod progress;
pub mod report;
pub mod resume;
pub mod runner;
pub mod shard;
pub mod sweep_file;
pub mod tokenize;
pub mod zygote;

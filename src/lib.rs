//! run-benchmark: speed and memory of Transformer models through libtorch, one child process
//! per measurement. Data flows one way: cli -> plan -> runner -> cell (child) -> report.

pub mod app;
pub mod cell;
pub mod cli;
pub mod env;
pub mod hub;
pub mod measure;
pub mod models;
pub mod plan;
pub mod report;
pub mod runner;

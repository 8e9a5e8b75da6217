//! run-benchmark: speed and memory of Transformer models through libtorch, one child process
//! per measurement. Data flows one way: cli (+ sweep_file) -> plan -> runner -> cell (child)
//! -> report; progress, console and interrupt only watch and print.

pub mod app;
pub mod calibration;
pub mod cell;
pub mod cli;
pub mod console;
pub mod env;
pub mod estimate;
pub mod generate;
pub mod hub;
pub mod interrupt;
pub mod measure;
pub mod models;
pub mod plan;
pub mod progress;
pub mod report;
pub mod resume;
pub mod runner;
pub mod sweep_file;

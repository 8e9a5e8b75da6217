//! Clocks and memory readings; nothing here knows about models.

pub mod generation;
pub mod gpu;
pub mod memory;
pub mod operators;
pub mod profile;
pub mod stats;
pub mod timing;

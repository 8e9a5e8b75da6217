//! Clocks and memory readings; nothing here knows about models or frameworks.

pub mod allocator;
pub mod bandwidth;
pub mod generation;
pub mod memory;
pub mod profile;
pub mod stats;
pub mod timing;

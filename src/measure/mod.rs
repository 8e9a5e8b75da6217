//! Clocks and memory readings; nothing here knows about models.

pub mod memory;
pub mod timing;

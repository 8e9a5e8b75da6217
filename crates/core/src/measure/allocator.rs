//! A framework's device allocator, as its statistics read (libtorch: the CUDA caching
//! allocator through csrc/accelerator_memory.cpp).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The caching allocator's bytes on one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AllocatorStats {
    pub allocated: u64,
    pub peak_allocated: u64,
    pub reserved: u64,
    pub peak_reserved: u64,
}

//! Shape-only builds: a family's module built with every parameter's shape and dtype but no
//! data (libtorch's Meta kernels, `csrc/shapes_only.cpp`), so that the parameters of the
//! module actually built can be counted for any config, a 7B or mixture-of-experts one
//! included, without filling or touching their memory.

use super::{Architecture, Task};
use anyhow::{bail, Result};
use std::cell::Cell;
use std::collections::HashSet;
use std::ffi::c_void;
use tch::{nn, Device, Tensor};

/// A tensor's storage and offset there: the same for two handles of one tensor.
fn storage(t: &Tensor) -> (usize, i64) {
    let mut offset = 0;
    let at = unsafe { rb_tensor_storage(t.as_ptr() as *const c_void, &mut offset) };
    (at as usize, offset)
}

extern "C" {
    fn rb_shapes_only_begin() -> *mut c_void;
    fn rb_shapes_only_end(guard: *mut c_void);
    fn rb_tensor_storage(tensor: *const c_void, offset: *mut i64) -> *const c_void;
}

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

/// Whether a shape-only build is in progress on this thread: random initialisers then skip
/// their draws ([`super::weights::normal`]).
pub fn active() -> bool {
    ACTIVE.get()
}

/// While alive, operators on this thread run their Meta kernels (no data is written).
struct ShapesOnly(*mut c_void);

impl ShapesOnly {
    fn begin() -> Result<Self> {
        let guard = unsafe { rb_shapes_only_begin() };
        if guard.is_null() {
            bail!("libtorch refused the Meta dispatch guard");
        }
        ACTIVE.set(true);
        Ok(ShapesOnly(guard))
    }
}

impl Drop for ShapesOnly {
    fn drop(&mut self) {
        ACTIVE.set(false);
        unsafe { rb_shapes_only_end(self.0) }
    }
}

/// The parameters of `arch`'s module for `task` as built (every variable of its store, a
/// tensor shared by two names, a tied head, counted once), without touching their memory.
pub fn built_parameters(arch: &dyn Architecture, task: Task) -> Result<i64> {
    let _shapes = ShapesOnly::begin()?;
    let vs = nn::VarStore::new(Device::Cpu);
    // A build step without a Meta kernel panics in tch: an error naming it, not a crash.
    let built =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| arch.build(vs.root(), task)));
    match built {
        Ok(model) => drop(model?),
        Err(panic) => bail!(
            "the shape-only build failed: {}",
            panic
                .downcast_ref::<String>()
                .map(|s| s.lines().next().unwrap_or("").to_string())
                .unwrap_or_default()
        ),
    }
    Ok(held_parameters(&vs))
}

/// The parameters a var store holds, a tensor under two names (a tied head) counted once.
pub fn held_parameters(vs: &nn::VarStore) -> i64 {
    let mut seen = HashSet::new();
    let mut count = 0;
    for v in vs.variables().into_values() {
        if seen.insert(storage(&v)) {
            count += v.numel() as i64;
        }
    }
    count
}

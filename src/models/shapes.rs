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
    fn rb_shapes_only_suspend(outer: *const c_void) -> *mut c_void;
    fn rb_shapes_only_resume(guard: *mut c_void);
    fn rb_tensor_storage(tensor: *const c_void, offset: *mut i64) -> *const c_void;
}

thread_local! {
    /// The shape-only guard in force on this thread, null when none.
    static ACTIVE: Cell<*mut c_void> = const { Cell::new(std::ptr::null_mut()) };
}

/// Whether a shape-only build is in progress on this thread: random initialisers then skip
/// their draws ([`super::weights::normal`]).
pub fn active() -> bool {
    !ACTIVE.get().is_null()
}

/// Runs `compute` with real kernels even inside a shape-only build. For the small tables a
/// build derives from its config (rotary inverse frequencies, LongRoPE and llama3 factors,
/// Whisper's sinusoids): computed on the CPU, they hold the same values in every build, and
/// ops that meet them see data, not a Meta result beside a CPU tensor (llama3's
/// `torch.where` has no Meta kernel at all). Outside a shape-only build it is `compute()`.
pub fn computed<T>(compute: impl FnOnce() -> T) -> T {
    let outer = ACTIVE.get();
    if outer.is_null() {
        return compute();
    }
    struct Suspended(*mut c_void);
    impl Drop for Suspended {
        fn drop(&mut self) {
            unsafe { rb_shapes_only_resume(self.0) }
        }
    }
    let guard = unsafe { rb_shapes_only_suspend(outer) };
    assert!(
        !guard.is_null(),
        "libtorch refused to suspend the Meta dispatch guard"
    );
    let _suspended = Suspended(guard);
    compute()
}

/// While alive, operators on this thread run their Meta kernels (no data is written).
struct ShapesOnly(*mut c_void);

impl ShapesOnly {
    fn begin() -> Result<Self> {
        let guard = unsafe { rb_shapes_only_begin() };
        if guard.is_null() {
            bail!("libtorch refused the Meta dispatch guard");
        }
        ACTIVE.set(guard);
        Ok(ShapesOnly(guard))
    }
}

impl Drop for ShapesOnly {
    fn drop(&mut self) {
        ACTIVE.set(std::ptr::null_mut());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::rotary::{RopeType, Rotary};
    use tch::Kind;

    /// Whether `t` holds data (a Meta result holds only its shape).
    fn sum(t: &Tensor) -> Option<f64> {
        f64::try_from(t.sum(Kind::Double)).ok()
    }

    #[test]
    fn tables_are_computed_for_real_inside_a_shape_only_build() {
        let rope = RopeType::Llama3 {
            factor: 32.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 8192.0,
        };
        let real = Rotary::new(rope.clone(), 500000.0, 64, Device::Cpu);
        let ones = Tensor::ones([3], (Kind::Float, Device::Cpu));
        let shapes = ShapesOnly::begin().unwrap();
        assert_eq!(sum(&(&ones * 2.0)), None, "ops run on Meta");
        let built = Rotary::new(rope, 500000.0, 64, Device::Cpu);
        assert_eq!(computed(|| sum(&(&ones * 2.0))), Some(6.0));
        // The Meta guard is back once the tables are made.
        assert!(active());
        assert_eq!(sum(&(&ones * 2.0)), None);
        drop(shapes);
        assert!(!active());
        // Bit for bit the tables of a real build, and positions rotate by them as usual.
        let (a, b) = (
            real.tables(5, 7, Kind::Float),
            built.tables(5, 7, Kind::Float),
        );
        let xs = Tensor::randn([1, 2, 7, 64], (Kind::Float, Device::Cpu));
        assert!(a.apply(&xs).equal(&b.apply(&xs)));
    }
}

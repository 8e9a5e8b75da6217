//! Finding and loading ONNX Runtime's shared library at run time: where `make onnxruntime` put
//! it beside the checkout, or the file `RUN_BENCHMARK_ONNXRUNTIME` names for an installed
//! binary; never LD_LIBRARY_PATH, and never at build time (the `ort` crate's `load-dynamic`).

use anyhow::{bail, ensure, Context, Result};
use ort::environment::Environment;
use std::ffi::{c_char, CStr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The version `make onnxruntime` installs, from the PyPI wheel `onnxruntime==VERSION`.
pub const VERSION: &str = "1.31.1";
/// Names the library file (or the folder holding it) for a binary outside the checkout.
pub const ENV_VAR: &str = "RUN_BENCHMARK_ONNXRUNTIME";
/// The oldest minor version whose C API has what we call: the model editor (API 22).
pub const MIN_MINOR: u32 = 22;

/// The loaded library: its path and the version it reports.
#[derive(Debug, Clone)]
pub struct Library {
    pub path: PathBuf,
    pub version: String,
}

/// Where the library is: `RUN_BENCHMARK_ONNXRUNTIME`, else `.frameworks/onnxruntime-VERSION/`
/// in a folder above this binary (the checkout, for `target/release/run-benchmark-graph`).
pub fn locate() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this binary's path")?;
    locate_from(std::env::var_os(ENV_VAR), &exe)
}

fn locate_from(given: Option<std::ffi::OsString>, exe: &Path) -> Result<PathBuf> {
    let file = format!("libonnxruntime.so.{VERSION}");
    if let Some(given) = given.filter(|v| !v.is_empty()) {
        let given = PathBuf::from(given);
        let path = if given.is_dir() {
            given.join(&file)
        } else {
            given.clone()
        };
        ensure!(
            path.is_file(),
            "{ENV_VAR}={}: no such file (it names libonnxruntime.so.* or the folder holding {file})",
            given.display()
        );
        return Ok(path);
    }
    let relative = Path::new(".frameworks")
        .join(format!("onnxruntime-{VERSION}"))
        .join(&file);
    match exe
        .ancestors()
        .skip(1)
        .map(|dir| dir.join(&relative))
        .find(|p| p.is_file())
    {
        Some(path) => Ok(path),
        None => bail!(
            "ONNX Runtime {VERSION} is not installed: run `make onnxruntime` in the run-benchmark \
             checkout, or set {ENV_VAR} to a libonnxruntime.so (1.{MIN_MINOR} or later)"
        ),
    }
}

/// Loads the library once per process and gives the environment every session belongs to.
pub fn environment() -> Result<&'static (Library, Environment)> {
    static LOADED: OnceLock<std::result::Result<(Library, Environment), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| load().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn load() -> Result<(Library, Environment)> {
    let path = locate()?;
    let version = version_of(&path)?;
    let minor: u32 = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    ensure!(
        minor >= MIN_MINOR,
        "{}: ONNX Runtime {version}, older than the 1.{MIN_MINOR} this build needs (run `make onnxruntime`)",
        path.display()
    );
    let environment = ort::init_from(&path)
        .with_context(|| format!("loading {}", path.display()))?
        .with_name("run-benchmark")
        .build()
        .with_context(|| {
            format!(
                "creating ONNX Runtime's environment from {}",
                path.display()
            )
        })?;
    Ok((Library { path, version }, environment))
}

/// The version the library reports (`OrtGetApiBase()->GetVersionString()`), read before `ort`
/// loads it so that a wrong file is named in one line.
fn version_of(path: &Path) -> Result<String> {
    #[repr(C)]
    struct ApiBase {
        get_api: unsafe extern "C" fn(u32) -> *const std::ffi::c_void,
        get_version_string: unsafe extern "C" fn() -> *const c_char,
    }
    // SAFETY: loading a shared library runs its initialisers; this is the file the user (or
    // `make onnxruntime`) chose as ONNX Runtime, which `ort` loads right after.
    let library = unsafe { libloading::Library::new(path) }
        .with_context(|| format!("{}: not a loadable shared library", path.display()))?;
    // SAFETY: `OrtGetApiBase` has this signature in every ONNX Runtime release, and the struct
    // it returns starts with these two function pointers (onnxruntime_c_api.h).
    let version = unsafe {
        let get_base = library
            .get::<unsafe extern "C" fn() -> *const ApiBase>(b"OrtGetApiBase\0")
            .with_context(|| format!("{}: not ONNX Runtime (no OrtGetApiBase)", path.display()))?;
        let base = get_base();
        ensure!(
            !base.is_null(),
            "{}: OrtGetApiBase returned null",
            path.display()
        );
        CStr::from_ptr(((*base).get_version_string)())
            .to_string_lossy()
            .into_owned()
    };
    // Kept loaded: `ort` opens the same file next, and unloading ONNX Runtime is not supported.
    std::mem::forget(library);
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_names_the_command_and_the_variable() {
        let nowhere = Path::new("/nonexistent/target/release/run-benchmark-graph");
        let err = locate_from(None, nowhere).unwrap_err().to_string();
        assert!(err.contains("make onnxruntime"), "{err}");
        assert!(err.contains(ENV_VAR), "{err}");
        let err = locate_from(Some("/nonexistent/libonnxruntime.so".into()), nowhere)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "RUN_BENCHMARK_ONNXRUNTIME=/nonexistent/libonnxruntime.so: no such file"
            ),
            "{err}"
        );
    }

    #[test]
    fn the_checkout_copy_is_found_from_the_binary() {
        let dir = tempdir();
        let lib = dir.join(".frameworks/onnxruntime-1.31.1");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(lib.join("libonnxruntime.so.1.31.1"), b"").unwrap();
        let exe = dir.join("target/release/run-benchmark-graph");
        assert_eq!(
            locate_from(None, &exe).unwrap(),
            lib.join("libonnxruntime.so.1.31.1")
        );
        // A folder given in the variable means the file inside it.
        assert_eq!(
            locate_from(Some(lib.clone().into()), Path::new("/")).unwrap(),
            lib.join("libonnxruntime.so.1.31.1")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ort-locate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

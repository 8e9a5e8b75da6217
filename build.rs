//! Links libtorch so the binary runs without LD_LIBRARY_PATH and finds CUDA when present,
//! and records the versions that the environment report prints.
use std::{env, fs, path::Path, process::Command};

fn main() {
    // Set by torch-sys (links = "tch") for crates that depend on it directly.
    if let Ok(lib) = env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        // Without --no-as-needed the linker drops libtorch (and with it libtorch_cuda),
        // because no symbol is referenced directly, and CUDA is never detected.
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{lib}");
        println!("cargo:rustc-link-arg=-ltorch");
        let version = Path::new(&lib)
            .parent()
            .map(|torch| torch.join("version.py"))
            .and_then(|p| fs::read_to_string(p).ok())
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("__version__ = "))
                    .map(|v| v.trim_matches(['\'', '"']).to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        println!("cargo:rustc-env=RB_LIBTORCH_VERSION={version}");
        compile_accelerator_shim(Path::new(&lib).parent().expect("libtorch/lib has a parent"));
    } else {
        println!("cargo:rustc-env=RB_LIBTORCH_VERSION=unknown");
    }

    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=RB_RUSTC_VERSION={rustc_version}");

    let tch_version = fs::read_to_string("Cargo.lock")
        .ok()
        .and_then(|lock| {
            let mut lines = lock.lines();
            while let Some(line) = lines.next() {
                if line == "name = \"tch\"" {
                    return lines.next().and_then(|v| {
                        v.strip_prefix("version = ")
                            .map(|v| v.trim_matches('"').to_string())
                    });
                }
            }
            None
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=RB_TCH_VERSION={tch_version}");
    write_registry();
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.lock");
}

/// Embeds every `configs/<org>--<name>.json` as `("<org>/<name>", text)`, sorted by id.
fn write_registry() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("configs");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<(String, String)> = fs::read_dir(&dir)
        .expect("configs/ holds the embedded model configs")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            (stem.replacen("--", "/", 1), p.display().to_string())
        })
        .collect();
    entries.sort();
    let mut code = String::from("pub static EMBEDDED: &[(&str, &str)] = &[\n");
    for (id, path) in entries {
        code.push_str(&format!("    ({id:?}, include_str!({path:?})),\n"));
    }
    code.push_str("];\n");
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("registry.rs");
    fs::write(out, code).expect("write registry.rs");
}

/// Compiles csrc/accelerator_memory.cpp (the caching allocator's statistics) and
/// csrc/operator_profiler.cpp (the Kineto profiler) and csrc/shapes_only.cpp (shape-only
/// builds on Meta kernels) against libtorch's headers: tch exposes none of them.
fn compile_accelerator_shim(libtorch: &Path) {
    println!("cargo:rerun-if-changed=csrc/accelerator_memory.cpp");
    println!("cargo:rerun-if-changed=csrc/operator_profiler.cpp");
    println!("cargo:rerun-if-changed=csrc/shapes_only.cpp");
    let include = libtorch.join("include");
    cc::Build::new()
        .cpp(true)
        .file("csrc/accelerator_memory.cpp")
        .file("csrc/operator_profiler.cpp")
        .file("csrc/shapes_only.cpp")
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag("-w")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .compile("accelerator_memory");
}

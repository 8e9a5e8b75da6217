//! Environment information: what produced the figures.

use crate::cell::{DeviceChoice, Dtype, Framework, Settings};
use crate::measure::memory::to_mib;
use sysinfo::{CpuRefreshKind, RefreshKind, System};

/// What the sweep's settings contribute to the environment report.
pub struct RunFacts<'a> {
    /// The settings of each (dtype, threads) swept; the first is the sweep's.
    pub variants: &'a [Settings],
    pub use_multiprocessing: bool,
    /// libtorch's intra-op threads when none are asked for.
    pub default_threads: usize,
}

/// Key-value pairs in a stable order; the original's keys where they exist.
pub fn collect(facts: &RunFacts) -> Vec<(String, String)> {
    let mut info: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| info.push((k.to_string(), v));
    put("run_benchmark_version", env!("CARGO_PKG_VERSION").into());
    let frameworks = crate::cell::once_each(facts.variants.iter().map(|s| s.framework));
    let library = |f: &Framework| match f {
        Framework::Pytorch | Framework::Torchscript => "libtorch (tch)",
        Framework::Tensorflow | Framework::TensorflowXla | Framework::TensorflowEager => {
            "TensorFlow (C API)"
        }
        Framework::Onnxruntime => "ONNX Runtime",
    };
    let libraries = crate::cell::once_each(frameworks.iter().map(library));
    put("framework", libraries.join(", "));
    // The original's keys of each framework, where the sweep has it: use_torchscript for
    // PyTorch, eager_mode and use_xla for TensorFlow (as it printed them: False, True).
    let python_bool = |b: bool| if b { "True" } else { "False" }.to_string();
    if frameworks.contains(&Framework::Torchscript) {
        put("use_torchscript", python_bool(true));
    }
    if frameworks.iter().any(|f| f.is_tensorflow()) {
        put(
            "eager_mode",
            python_bool(frameworks.contains(&Framework::TensorflowEager)),
        );
        put(
            "use_xla",
            python_bool(frameworks.contains(&Framework::TensorflowXla)),
        );
    }
    if frameworks.iter().any(|f| !f.is_torch()) {
        put("framework_version", framework_versions(&frameworks));
    }
    if frameworks.contains(&Framework::Onnxruntime) {
        // Beside TensorFlow's use_xla: the graph optimisation ONNX Runtime's sessions ran with.
        let level = (facts.variants.iter())
            .find(|s| s.framework == Framework::Onnxruntime)
            .map_or(run_benchmark_core::cell::ONNXRUNTIME_LEVEL, |s| {
                s.onnxruntime_level_name()
            });
        put("onnxruntime_graph_optimization_level", level.into());
    }
    put("libtorch_version", env!("RB_LIBTORCH_VERSION").into());
    put("tch_version", env!("RB_TCH_VERSION").into());
    put("rustc_version", env!("RB_RUSTC_VERSION").into());
    let sys = System::new_with_specifics(
        RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing())
            .with_memory(sysinfo::MemoryRefreshKind::nothing().with_ram()),
    );
    put(
        "system",
        System::long_os_version().unwrap_or_else(|| std::env::consts::OS.into()),
    );
    put(
        "cpu",
        sys.cpus()
            .first()
            .map(|c| c.brand().trim().to_string())
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "unknown".into()),
    );
    put("architecture", std::env::consts::ARCH.into());
    let now = chrono::Local::now();
    put("date", now.format("%Y-%m-%d").to_string());
    put("time", now.format("%H:%M:%S%.6f").to_string());
    let settings = &facts.variants[0];
    // Each value swept, once, in order: `f32, bf16` and `1, 2`.
    let listed = |values: Vec<String>| crate::cell::once_each(values).join(", ");
    let dtypes = || facts.variants.iter().map(|s| s.dtype);
    put("fp16", dtypes().any(|d| d == Dtype::F16).to_string());
    put(
        "dtype",
        listed(dtypes().map(|d| d.name().to_string()).collect()),
    );
    put("use_multiprocessing", facts.use_multiprocessing.to_string());
    put(
        "only_pretrain_model",
        settings.only_pretrain_model.to_string(),
    );
    put("cpu_ram_mb", to_mib(sys.total_memory()).to_string());
    let threads = (facts.variants.iter())
        .map(|s| s.threads.unwrap_or(facts.default_threads).to_string())
        .collect();
    put("threads", listed(threads));
    put("device", settings.device.to_string());
    put(
        "use_gpu",
        (settings.device != DeviceChoice::Cpu).to_string(),
    );
    put(
        "optimizer",
        format!("{:?}", settings.optimizer).to_lowercase(),
    );
    for (key, value) in gpu_facts() {
        info.push((key, value));
    }
    info
}

/// `libtorch 2.13.0, tensorflow 2.21.0`: each framework's own version, TensorFlow's and
/// ONNX Runtime's asked of the graph binary (which loads the library, as a cell's child
/// does), or why it has none.
fn framework_versions(frameworks: &[Framework]) -> String {
    let graph = |framework: Framework, args: &[&str]| -> String {
        let binary = match crate::runner::graph_binary(framework) {
            Ok(binary) => binary,
            Err(_) => return "N/A (run-benchmark-graph is missing)".into(),
        };
        match std::process::Command::new(binary).args(args).output() {
            // The version alone: ONNX Runtime's subcommand adds the library's path after it.
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string(),
            Ok(out) => format!(
                "N/A ({})",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("no library")
                    .trim()
            ),
            Err(e) => format!("N/A ({e})"),
        }
    };
    let mut versions = Vec::new();
    if frameworks.iter().any(|f| f.is_torch()) {
        versions.push(format!("libtorch {}", env!("RB_LIBTORCH_VERSION")));
    }
    if frameworks.iter().any(|f| f.is_tensorflow()) {
        let version = graph(Framework::Tensorflow, &["version"]);
        versions.push(format!("tensorflow {version}"));
    }
    if frameworks.contains(&Framework::Onnxruntime) {
        let version = graph(Framework::Onnxruntime, &["onnxruntime", "version"]);
        versions.push(format!("onnxruntime {version}"));
    }
    versions.join(", ")
}

/// `num_gpus` and, for each GPU NVML sees, its name, memory, power limit and P-state. A
/// machine without the NVIDIA driver has no GPU.
fn gpu_facts() -> Vec<(String, String)> {
    let Ok(nvml) = nvml_wrapper::Nvml::init() else {
        return vec![("num_gpus".into(), "0".into())];
    };
    let count = nvml.device_count().unwrap_or(0);
    let mut facts = vec![("num_gpus".to_string(), count.to_string())];
    for index in 0..count {
        // The first GPU keeps the original's key names; others are numbered.
        let key = |name: &str| match index {
            0 => format!("gpu{name}"),
            i => format!("gpu_{i}{name}"),
        };
        let na = || "N/A".to_string();
        let Ok(device) = nvml.device_by_index(index) else {
            facts.push((key(""), na()));
            continue;
        };
        facts.push((key(""), device.name().unwrap_or_else(|_| na())));
        facts.push((
            key("_ram_mb"),
            device
                .memory_info()
                .map(|m| to_mib(m.total).to_string())
                .unwrap_or_else(|_| na()),
        ));
        facts.push((
            key("_power_watts"),
            device
                .power_management_limit()
                .map(|mw| format!("{:.1}", mw as f64 / 1000.0))
                .unwrap_or_else(|_| na()),
        ));
        facts.push((
            key("_performance_state"),
            device
                .performance_state()
                .map(|p| format!("{p:?}"))
                .unwrap_or_else(|_| na()),
        ));
    }
    facts
}

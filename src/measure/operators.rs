//! `--profile-trace`: libtorch's own operator-level view of one call, from its Kineto profiler
//! (what `torch.profiler` drives in Python), through csrc/operator_profiler.cpp: every aten
//! operator (and CUDA kernel) with its time, summed by name, and the Chrome trace file that
//! chrome://tracing and ui.perfetto.dev open.

use super::profile::{Operator, Operators, TOP_OPERATORS as TOP};
use anyhow::{bail, Context, Result};
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::time::Instant;

extern "C" {
    fn rb_profiler_start(with_cuda: i32) -> i32;
    fn rb_profiler_stop() -> *mut c_void;
    fn rb_profiler_event_count(result: *mut c_void) -> i64;
    fn rb_profiler_event(
        result: *mut c_void,
        index: i64,
        name: *mut c_char,
        name_len: i64,
        out: *mut i64,
    ) -> i32;
    fn rb_profiler_save(result: *mut c_void, path: *const c_char) -> i32;
    fn rb_profiler_free(result: *mut c_void);
}

struct Event {
    name: String,
    gpu: bool,
    start: i64,
    duration: i64,
    thread: i64,
}

/// Records `call` under the profiler (CUDA kernels too where `with_cuda`), writes the Chrome
/// trace to `trace` when given, and sums the operators by name.
pub fn record(
    with_cuda: bool,
    trace: Option<&Path>,
    call: impl FnOnce() -> Result<()>,
) -> Result<Operators> {
    // SAFETY: no pointers; the shim catches libtorch's exceptions.
    if unsafe { rb_profiler_start(with_cuda as i32) } != 0 {
        bail!("libtorch's profiler did not start");
    }
    let start = Instant::now();
    let outcome = call();
    let call_seconds = start.elapsed().as_secs_f64();
    // SAFETY: stops the profiler started above; the result is owned here and freed below.
    let result = unsafe { rb_profiler_stop() };
    if result.is_null() {
        bail!("libtorch's profiler did not stop cleanly");
    }
    let read = (|| -> Result<(Vec<Event>, Option<PathBuf>)> {
        outcome?;
        let events = events(result)?;
        if let Some(path) = trace {
            let c_path = CString::new(path.as_os_str().as_encoded_bytes())
                .context("the trace path holds a NUL byte")?;
            // SAFETY: `result` is live; the path is a NUL-terminated string.
            if unsafe { rb_profiler_save(result, c_path.as_ptr()) } != 0 {
                bail!("cannot write the operator trace {}", path.display());
            }
        }
        Ok((events, trace.map(Path::to_path_buf)))
    })();
    // SAFETY: `result` came from rb_profiler_stop and is freed once.
    unsafe { rb_profiler_free(result) };
    let (events, trace) = read?;
    let (cpu_events, gpu_events): (Vec<&Event>, Vec<&Event>) = events.iter().partition(|e| !e.gpu);
    let cpu = self_times(&cpu_events);
    let cpu_self_seconds = cpu.iter().map(|o| o.self_seconds).sum();
    let gpu = sum_by_name(
        gpu_events
            .iter()
            .map(|e| (e.name.as_str(), e.duration, e.duration)),
    );
    Ok(Operators {
        trace,
        call_seconds,
        events: events.len(),
        cpu_self_seconds,
        cpu: top(cpu),
        gpu: top(gpu),
    })
}

fn events(result: *mut c_void) -> Result<Vec<Event>> {
    // SAFETY: `result` is a live ProfilerResult.
    let count = unsafe { rb_profiler_event_count(result) };
    let mut name = vec![0 as c_char; 512];
    (0..count)
        .map(|i| {
            let mut out = [0i64; 4];
            // SAFETY: the shim writes at most name.len() bytes into `name`, NUL included,
            // and four values into `out`.
            let code = unsafe {
                rb_profiler_event(
                    result,
                    i,
                    name.as_mut_ptr(),
                    name.len() as i64,
                    out.as_mut_ptr(),
                )
            };
            if code != 0 {
                bail!("cannot read the profiler's event {i}");
            }
            // SAFETY: NUL-terminated by the shim.
            let text = unsafe { CStr::from_ptr(name.as_ptr()) };
            Ok(Event {
                name: text.to_string_lossy().into_owned(),
                gpu: out[0] != 0,
                start: out[1],
                duration: out[2],
                thread: out[3],
            })
        })
        .collect()
}

/// CPU operators nest on their thread (aten::linear calls aten::addmm): an operator's self
/// time is its duration less that of the operators directly inside it.
fn self_times(events: &[&Event]) -> Vec<Operator> {
    let mut sorted: Vec<&Event> = events.to_vec();
    sorted.sort_by_key(|e| (e.thread, e.start, -e.duration));
    let mut own: Vec<i64> = sorted.iter().map(|e| e.duration).collect();
    let mut open: Vec<usize> = Vec::new();
    for (i, e) in sorted.iter().enumerate() {
        while let Some(&top) = open.last() {
            let parent = sorted[top];
            if parent.thread == e.thread && e.start < parent.start + parent.duration {
                break;
            }
            open.pop();
        }
        if let Some(&parent) = open.last() {
            own[parent] -= e.duration;
        }
        open.push(i);
    }
    sum_by_name(
        sorted
            .iter()
            .zip(own)
            .map(|(e, own)| (e.name.as_str(), own.max(0), e.duration)),
    )
}

/// (name, self ns, total ns) summed by name.
fn sum_by_name<'a>(items: impl Iterator<Item = (&'a str, i64, i64)>) -> Vec<Operator> {
    let mut sums: Vec<Operator> = Vec::new();
    for (name, own, total) in items {
        let index = match sums.iter().position(|o| o.name == name) {
            Some(i) => i,
            None => {
                sums.push(Operator {
                    name: name.to_string(),
                    calls: 0,
                    self_seconds: 0.0,
                    total_seconds: 0.0,
                });
                sums.len() - 1
            }
        };
        let o = &mut sums[index];
        o.calls += 1;
        o.self_seconds += own as f64 * 1e-9;
        o.total_seconds += total as f64 * 1e-9;
    }
    sums
}

fn top(mut operators: Vec<Operator>) -> Vec<Operator> {
    operators.sort_by(|a, b| b.self_seconds.total_cmp(&a.self_seconds));
    operators.truncate(TOP);
    operators
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, start: i64, duration: i64) -> Event {
        Event {
            name: name.into(),
            gpu: false,
            start,
            duration,
            thread: 1,
        }
    }

    #[test]
    fn nested_operators_give_their_time_to_the_caller_only_once() {
        let events = [
            event("aten::linear", 0, 100),
            event("aten::t", 0, 10),
            event("aten::addmm", 10, 80),
            event("aten::linear", 200, 50),
            event("aten::addmm", 200, 50),
        ];
        let refs: Vec<&Event> = events.iter().collect();
        let ops = top(self_times(&refs));
        let addmm = ops.iter().find(|o| o.name == "aten::addmm").unwrap();
        assert_eq!(addmm.calls, 2);
        assert!((addmm.self_seconds - 130e-9).abs() < 1e-15);
        let linear = ops.iter().find(|o| o.name == "aten::linear").unwrap();
        assert!((linear.self_seconds - 10e-9).abs() < 1e-15, "{linear:?}");
        assert!((linear.total_seconds - 150e-9).abs() < 1e-15);
        assert_eq!(ops[0].name, "aten::addmm");
    }

    #[test]
    fn records_a_matrix_product_and_writes_a_chrome_trace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.json");
        let a = tch::Tensor::randn([64, 64], (tch::Kind::Float, tch::Device::Cpu));
        let ops = record(false, Some(&path), || {
            let _ = a.matmul(&a).relu();
            Ok(())
        })
        .unwrap();
        assert!(ops.events >= 2, "{ops:?}");
        assert!(ops.cpu.iter().any(|o| o.name == "aten::matmul"), "{ops:?}");
        assert!(ops.cpu_self_seconds > 0.0);
        let trace: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let names: Vec<&str> = trace["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert!(names.contains(&"aten::relu"), "{names:?}");
        // A failing call stops the profiler and is the error.
        let err = record(false, None, || bail!("boom")).unwrap_err();
        assert_eq!(err.to_string(), "boom");
    }
}

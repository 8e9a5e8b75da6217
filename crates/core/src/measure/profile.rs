//! `--profile`: where one call's time and memory go, part by part (embeddings, each layer's
//! attention projections and kernel, MLP, norms, head, loss, backward, optimizer step).
//!
//! Models mark their parts with [`scope`]; while no profile is being recorded a scope is one
//! thread-local flag read and a direct call. While recording, each boundary synchronises the
//! device, reads the clock and reads the allocated bytes, so the parts' own ("self") times
//! add up to the call. The recorder's own work between those readings is timed too and
//! reported apart, never charged to a part.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What a scope measures. A scope inside one of the same part is not recorded apart (an
/// embedding lookup inside the embeddings); [`Part::Projection`] is recorded only directly
/// inside [`Part::Attention`] (elsewhere a linear layer is its parent's work: MLP, head).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Embeddings,
    /// A layer's own work: residual additions, dropout. Layers are numbered in call order.
    Layer,
    /// Attention's own work: splitting and merging heads, rotary embeddings, masks.
    Attention,
    /// The query, key, value and output projections of an attention.
    Projection,
    /// Scores, softmax and weighted values (one fused scaled-dot-product attention).
    AttentionKernel,
    Mlp,
    Norm,
    /// The task head: the language-modelling projection and its transform, or the pooler.
    Head,
    Loss,
    Backward,
    Optimizer,
    /// An encoder-decoder's stacks; their own work is what lies between their layers.
    Encoder,
    Decoder,
    /// The call's work outside every part (glue in the model, zeroing gradients).
    Other,
}

impl Part {
    /// The label in tables and charts.
    pub fn label(self) -> &'static str {
        match self {
            Part::Embeddings => "embeddings",
            Part::Layer => "layer (residuals, dropout)",
            Part::Attention => "attention (heads, rotary, masks)",
            Part::Projection => "attention projections",
            Part::AttentionKernel => "attention kernel",
            Part::Mlp => "MLP",
            Part::Norm => "norms",
            Part::Head => "head",
            Part::Loss => "loss",
            Part::Backward => "backward",
            Part::Optimizer => "optimizer step",
            Part::Encoder => "encoder",
            Part::Decoder => "decoder",
            Part::Other => "other",
        }
    }

    fn segment(self) -> &'static str {
        match self {
            Part::Embeddings => "embeddings",
            Part::Layer => "layer",
            Part::Attention => "attention",
            Part::Projection => "projections",
            Part::AttentionKernel => "kernel",
            Part::Mlp => "mlp",
            Part::Norm => "norm",
            Part::Head => "head",
            Part::Loss => "loss",
            Part::Backward => "backward",
            Part::Optimizer => "optimizer",
            Part::Encoder => "encoder",
            Part::Decoder => "decoder",
            Part::Other => "other",
        }
    }
}

/// One part of the call, by its place in the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Entry {
    /// Where the part sits: `layer 3/attention/kernel`; `other` is the call's own work.
    pub path: String,
    pub part: Part,
    /// Median over the profiled calls of the part's own seconds (its sub-parts excluded).
    pub seconds: f64,
    /// The part's own seconds in every profiled call, in order.
    pub samples: Vec<f64>,
    /// Median of the bytes the part (its sub-parts included) allocated and still held when
    /// it returned: its outputs and what autograd saved for backward. Negative where it
    /// freed more than it allocated (backward frees the saved activations).
    pub kept_bytes: i64,
}

/// Whose allocations the kept bytes count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemorySource {
    /// The C heap's bytes in use (glibc `mallinfo2`: `uordblks + hblkhd`), where libtorch's
    /// CPU tensors live.
    Heap,
    /// The CUDA caching allocator's allocated bytes.
    Allocator,
}

/// The breakdown of one cell's call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Profile {
    /// Seconds of each unprofiled call, alternated with the profiled ones, so both see the
    /// same machine.
    pub call_samples: Vec<f64>,
    /// Seconds of each profiled call, boundaries, synchronisation and readings included.
    pub profiled_samples: Vec<f64>,
    /// Medians of the two.
    pub call_seconds: f64,
    pub profiled_seconds: f64,
    /// Median seconds per call the recorder spent reading clocks and memory (not in any
    /// part); the rest of the overhead is synchronisation and lost overlap.
    pub recorder_seconds: f64,
    /// The recorder's seconds in each profiled call.
    #[serde(default)]
    pub recorder_samples: Vec<f64>,
    /// Scopes recorded per call.
    pub scopes_per_call: usize,
    pub memory: MemorySource,
    /// In the order the parts first ran.
    pub entries: Vec<Entry>,
    /// `--profile-trace`: libtorch's operators in one more call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operators: Option<Operators>,
}

/// `--profile-trace`: operators listed per view; the JSON keeps this many too.
pub const TOP_OPERATORS: usize = 15;

/// One operator (or kernel) name, summed over its calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Operator {
    pub name: String,
    pub calls: usize,
    /// Seconds inside the operator but not inside the operators it called (CPU); for a GPU
    /// kernel, its duration.
    pub self_seconds: f64,
    /// Seconds inside the operator, what it called included.
    pub total_seconds: f64,
}

/// The operator-level view of one recorded call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Operators {
    /// The Chrome trace written for this call.
    pub trace: Option<PathBuf>,
    /// Wall-clock seconds of the recorded call, profiler included.
    pub call_seconds: f64,
    /// Operators recorded in the call.
    pub events: usize,
    /// Sum of every CPU operator's self seconds.
    pub cpu_self_seconds: f64,
    /// The CPU operators with the most self time, largest first.
    pub cpu: Vec<Operator>,
    /// The GPU kernels with the most time, largest first (empty on the CPU).
    pub gpu: Vec<Operator>,
}

impl Profile {
    /// (profiled - unprofiled) / unprofiled, from the medians.
    pub fn overhead(&self) -> f64 {
        self.profiled_seconds / self.call_seconds - 1.0
    }

    /// Sum of the parts' median seconds.
    pub fn parts_seconds(&self) -> f64 {
        self.entries.iter().map(|e| e.seconds).sum()
    }

    /// The parts summed by kind, largest first: (part, seconds, kept bytes).
    pub fn by_part(&self) -> Vec<(Part, f64, i64)> {
        let mut sums: Vec<(Part, f64, i64)> = Vec::new();
        for e in &self.entries {
            match sums.iter_mut().find(|(p, _, _)| *p == e.part) {
                Some(sum) => {
                    sum.1 += e.seconds;
                    sum.2 += e.kept_bytes;
                }
                None => sums.push((e.part, e.seconds, e.kept_bytes)),
            }
        }
        sums.sort_by(|a, b| b.1.total_cmp(&a.1));
        sums
    }
}

/// Runs `f` as `part` of the call being profiled; just `f()` when none is.
#[inline]
pub fn scope<T>(part: Part, f: impl FnOnce() -> T) -> T {
    if !RECORDING.get() {
        return f();
    }
    let entered = enter(part);
    let out = f();
    if entered {
        exit();
    }
    out
}

/// Marks the rest of the enclosing block as `part` (until the guard drops): one line at the
/// top of a module's forward. Does nothing when no profile is being recorded.
#[inline]
#[must_use = "the part ends when the guard drops"]
pub fn part(part: Part) -> Guard {
    Guard(RECORDING.get() && enter(part))
}

/// Closes its part when dropped.
pub struct Guard(bool);

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        if self.0 {
            exit();
        }
    }
}

/// How the recorder waits for the device and reads its memory.
pub struct Hooks {
    pub sync: Box<dyn Fn()>,
    /// Bytes allocated now.
    pub memory: Box<dyn Fn() -> i64>,
    pub source: MemorySource,
}

/// Alternates `calls` unprofiled and profiled calls of `call` (after one profiled warm-up
/// call, which creates the entries) and returns the breakdown.
pub fn profile(
    calls: usize,
    mut call: impl FnMut() -> Result<()>,
    hooks: Hooks,
) -> Result<Profile> {
    let source = hooks.source;
    RECORDER.with(|r| *r.borrow_mut() = Some(Recorder::new(hooks)));
    let result = (|| -> Result<Profile> {
        let mut call_samples = Vec::with_capacity(calls);
        let mut recorder_samples = Vec::with_capacity(calls);
        profiled_call(&mut call)?;
        with_recorder(Recorder::forget_samples);
        for _ in 0..calls.max(1) {
            with_recorder(|r| (r.hooks.sync)());
            let start = Instant::now();
            call()?;
            with_recorder(|r| (r.hooks.sync)());
            call_samples.push(start.elapsed().as_secs_f64());
            recorder_samples.push(profiled_call(&mut call)?);
        }
        let recorder = RECORDER
            .with(|r| r.borrow_mut().take())
            .expect("the recorder is installed");
        let mut entries = recorder.entries;
        let profiled_samples = entries[0].total.clone();
        let scopes_per_call = recorder.scopes_last_call;
        // The call's own entry, renamed for the table, goes last: it is what no part claims.
        let root = entries.remove(0);
        entries.push(root);
        Ok(Profile {
            call_seconds: median(&call_samples),
            profiled_seconds: median(&profiled_samples),
            recorder_seconds: median(&recorder_samples),
            recorder_samples,
            call_samples,
            profiled_samples,
            scopes_per_call,
            memory: source,
            entries: entries
                .into_iter()
                .map(|e| Entry {
                    path: e.path,
                    part: e.part,
                    seconds: median(&e.samples),
                    samples: e.samples,
                    kept_bytes: median_i64(&e.kept),
                })
                .collect(),
            operators: None,
        })
    })();
    RECORDER.with(|r| r.borrow_mut().take());
    RECORDING.set(false);
    result
}

/// One profiled call; returns the recorder's own seconds in it.
fn profiled_call(call: &mut impl FnMut() -> Result<()>) -> Result<f64> {
    with_recorder(|r| r.begin_call());
    RECORDING.set(true);
    let outcome = call();
    RECORDING.set(false);
    outcome?;
    Ok(with_recorder(|r| r.end_call()))
}

fn median(samples: &[f64]) -> f64 {
    crate::measure::stats::Stats::of(samples).map_or(0.0, |s| s.median)
}

fn median_i64(values: &[i64]) -> i64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

thread_local! {
    /// Whether this thread is recording: the one check a scope makes when it is not.
    static RECORDING: Cell<bool> = const { Cell::new(false) };
    static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
}

fn with_recorder<T>(f: impl FnOnce(&mut Recorder) -> T) -> T {
    RECORDER.with(|r| f(r.borrow_mut().as_mut().expect("the recorder is installed")))
}

struct RecordedEntry {
    path: String,
    part: Part,
    parent: Option<usize>,
    layer: Option<usize>,
    /// Self seconds and kept bytes of the current call (a path may run more than once).
    seconds: f64,
    bytes: i64,
    samples: Vec<f64>,
    kept: Vec<i64>,
    /// Inclusive seconds per call (kept for the root: the profiled call's total).
    total: Vec<f64>,
}

struct Frame {
    entry: usize,
    part: Part,
    /// When the recorder began opening the frame (after the synchronisation).
    span_start: Instant,
    /// When the part itself began (after the memory reading).
    start: Instant,
    memory_start: i64,
    children_span: Duration,
    layers_seen: usize,
}

struct Recorder {
    hooks: Hooks,
    entries: Vec<RecordedEntry>,
    stack: Vec<Frame>,
    recorder_time: Duration,
    scopes: usize,
    scopes_last_call: usize,
}

impl Recorder {
    fn new(hooks: Hooks) -> Self {
        Recorder {
            hooks,
            entries: Vec::new(),
            stack: Vec::with_capacity(64),
            recorder_time: Duration::ZERO,
            scopes: 0,
            scopes_last_call: 0,
        }
    }

    /// The entry for `part` (layer `layer`) under `parent`, created on first use, so that
    /// steady-state calls allocate nothing between memory readings.
    fn entry(&mut self, parent: Option<usize>, part: Part, layer: Option<usize>) -> usize {
        if let Some(i) = self
            .entries
            .iter()
            .position(|e| e.parent == parent && e.part == part && e.layer == layer)
        {
            return i;
        }
        let segment = match layer {
            Some(n) => format!("{} {n}", part.segment()),
            None => part.segment().to_string(),
        };
        let path = match parent.filter(|&p| p != 0) {
            Some(p) => format!("{}/{segment}", self.entries[p].path),
            None => segment,
        };
        self.entries.push(RecordedEntry {
            path,
            part,
            parent,
            layer,
            seconds: 0.0,
            bytes: 0,
            samples: Vec::new(),
            kept: Vec::new(),
            total: Vec::new(),
        });
        self.entries.len() - 1
    }

    fn begin_call(&mut self) {
        self.stack.clear();
        self.recorder_time = Duration::ZERO;
        self.scopes = 0;
        for e in &mut self.entries {
            e.seconds = 0.0;
            e.bytes = 0;
        }
        (self.hooks.sync)();
        let span_start = Instant::now();
        let root = self.entry(None, Part::Other, None);
        self.push(root, Part::Other, span_start);
    }

    /// Opens a frame; called after the synchronisation, at `span_start`.
    fn push(&mut self, entry: usize, part: Part, span_start: Instant) {
        let memory_start = (self.hooks.memory)();
        self.stack.push(Frame {
            entry,
            part,
            span_start,
            start: Instant::now(),
            memory_start,
            children_span: Duration::ZERO,
            layers_seen: 0,
        });
    }

    /// Closes the innermost frame: its self time and bytes go to its entry, its whole span
    /// (bookkeeping included) to its parent's children.
    fn pop(&mut self) {
        (self.hooks.sync)();
        let end = Instant::now();
        let memory_end = (self.hooks.memory)();
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let inclusive = end - frame.start;
        let bytes = memory_end - frame.memory_start;
        let entry = &mut self.entries[frame.entry];
        entry.seconds += inclusive.saturating_sub(frame.children_span).as_secs_f64();
        entry.bytes += bytes;
        if self.stack.is_empty() {
            entry.total.push(inclusive.as_secs_f64());
        }
        let done = Instant::now();
        self.recorder_time += (frame.start - frame.span_start) + (done - end);
        if let Some(parent) = self.stack.last_mut() {
            parent.children_span += done - frame.span_start;
        }
    }

    /// Drops the warm-up call's figures, keeping its entries.
    fn forget_samples(&mut self) {
        for e in &mut self.entries {
            e.samples.clear();
            e.kept.clear();
            e.total.clear();
        }
    }

    fn end_call(&mut self) -> f64 {
        self.pop();
        self.scopes_last_call = self.scopes;
        for e in &mut self.entries {
            e.samples.push(e.seconds);
            e.kept.push(e.bytes);
        }
        self.recorder_time.as_secs_f64()
    }
}

/// Opens a frame for `part` unless it is part of its parent's work; says whether it did.
fn enter(part: Part) -> bool {
    RECORDER.with(|r| {
        let mut guard = r.borrow_mut();
        let Some(recorder) = guard.as_mut() else {
            return false;
        };
        let Some(parent) = recorder.stack.last_mut() else {
            return false;
        };
        if parent.part == part || (part == Part::Projection && parent.part != Part::Attention) {
            return false;
        }
        let layer = (part == Part::Layer).then(|| {
            parent.layers_seen += 1;
            parent.layers_seen - 1
        });
        let parent_entry = parent.entry;
        (recorder.hooks.sync)();
        let span_start = Instant::now();
        let entry = recorder.entry(Some(parent_entry), part, layer);
        recorder.scopes += 1;
        recorder.push(entry, part, span_start);
        true
    })
}

fn exit() {
    RECORDER.with(|r| {
        if let Some(recorder) = r.borrow_mut().as_mut() {
            recorder.pop();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread::sleep;

    thread_local! {
        static FAKE_HEAP: Cell<i64> = const { Cell::new(0) };
    }

    fn allocate(bytes: i64) {
        FAKE_HEAP.with(|h| h.set(h.get() + bytes));
    }

    fn hooks() -> Hooks {
        Hooks {
            sync: Box::new(|| {}),
            memory: Box::new(|| FAKE_HEAP.with(Cell::get)),
            source: MemorySource::Heap,
        }
    }

    /// A two-layer "model" whose MLP takes four times its attention kernel.
    fn model() {
        scope(Part::Embeddings, || {
            allocate(100);
            // An embedding lookup inside the embeddings is the same part.
            scope(Part::Embeddings, || sleep(Duration::from_millis(1)));
        });
        for _ in 0..2 {
            scope(Part::Layer, || {
                scope(Part::Attention, || {
                    scope(Part::Projection, || allocate(30));
                    scope(Part::AttentionKernel, || {
                        allocate(10);
                        sleep(Duration::from_millis(2));
                    });
                });
                scope(Part::Mlp, || {
                    // A linear layer outside attention is the MLP's own work.
                    scope(Part::Projection, || sleep(Duration::from_millis(8)));
                });
                let _norm = part(Part::Norm);
            });
        }
        allocate(-5);
    }

    fn entry<'a>(p: &'a Profile, path: &str) -> &'a Entry {
        p.entries
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("no {path} in {:?}", paths(p)))
    }

    fn paths(p: &Profile) -> Vec<&str> {
        p.entries.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn parts_nest_number_layers_and_sum_to_the_call() {
        let p = profile(
            3,
            || {
                model();
                Ok(())
            },
            hooks(),
        )
        .unwrap();
        assert_eq!(
            paths(&p),
            [
                "embeddings",
                "layer 0",
                "layer 0/attention",
                "layer 0/attention/projections",
                "layer 0/attention/kernel",
                "layer 0/mlp",
                "layer 0/norm",
                "layer 1",
                "layer 1/attention",
                "layer 1/attention/projections",
                "layer 1/attention/kernel",
                "layer 1/mlp",
                "layer 1/norm",
                "other",
            ]
        );
        // 1 embeddings + 2 × (layer, attention, projections, kernel, mlp, norm).
        assert_eq!(p.scopes_per_call, 13);
        assert!(p.entries.iter().all(|e| e.samples.len() == 3));
        let mlp = entry(&p, "layer 0/mlp").seconds;
        let kernel = entry(&p, "layer 0/attention/kernel").seconds;
        assert!(mlp >= 0.008 && kernel >= 0.002, "{mlp} {kernel}");
        // Sleeps overshoot on a loaded machine; the order holds.
        assert!(mlp > kernel, "mlp {mlp}, kernel {kernel}");
        assert!(entry(&p, "embeddings").seconds >= 0.001);
        // In every call, the parts' own times plus the recorder's add up to the call.
        for (i, total) in p.profiled_samples.iter().enumerate() {
            let sum: f64 =
                p.entries.iter().map(|e| e.samples[i]).sum::<f64>() + p.recorder_samples[i];
            assert!(
                (sum - total).abs() <= 0.01 * total + 50e-6,
                "call {i}: parts {sum}, call {total}"
            );
        }
        assert_eq!(p.call_samples.len(), 3);
        assert!(p.call_seconds >= 0.021, "{}", p.call_seconds);
        // Kept bytes include the sub-parts'; the call's glue freed 5.
        assert_eq!(entry(&p, "embeddings").kept_bytes, 100);
        assert_eq!(entry(&p, "layer 1/attention/projections").kept_bytes, 30);
        assert_eq!(entry(&p, "layer 1/attention/kernel").kept_bytes, 10);
        assert_eq!(entry(&p, "layer 1/attention").kept_bytes, 40);
        assert_eq!(entry(&p, "layer 0").kept_bytes, 40);
        assert_eq!(entry(&p, "other").kept_bytes, 175);
        let by_part = p.by_part();
        assert_eq!(by_part[0].0, Part::Mlp);
        let kernels = by_part
            .iter()
            .find(|b| b.0 == Part::AttentionKernel)
            .unwrap();
        assert_eq!(kernels.2, 20);
    }

    #[test]
    fn scopes_outside_a_profile_only_run_their_closure() {
        assert_eq!(scope(Part::Mlp, || 7), 7);
        assert!(RECORDER.with(|r| r.borrow().is_none()));
        // An error ends the profile and leaves recording off.
        let err = profile(2, || anyhow::bail!("boom"), hooks()).unwrap_err();
        assert_eq!(err.to_string(), "boom");
        assert!(!RECORDING.get());
        assert!(RECORDER.with(|r| r.borrow().is_none()));
    }

    /// What a scope costs while nothing is recorded, in nanoseconds; `cargo test --release
    /// --lib scope_cost -- --ignored --nocapture` prints it (scripts/profile_overhead.sh).
    /// Rounds alternate the loop with and without the scope; the fastest round of each counts,
    /// as a loaded machine only ever adds time.
    #[test]
    #[ignore]
    fn scope_cost_when_not_profiling() {
        let n = 10_000_000u64;
        let round = |scoped: bool| {
            let start = Instant::now();
            let mut sum = 0u64;
            for i in 0..n {
                let x = match scoped {
                    true => scope(Part::Norm, || std::hint::black_box(i)),
                    false => std::hint::black_box(i),
                };
                sum = sum.wrapping_add(x);
            }
            std::hint::black_box(sum);
            start.elapsed().as_secs_f64() / n as f64 * 1e9
        };
        let (mut with_scope, mut bare) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..10 {
            with_scope = with_scope.min(round(true));
            bare = bare.min(round(false));
        }
        println!(
            "scope off: {with_scope:.2} ns per iteration with a scope, {bare:.2} ns without \
             (fastest of 10 alternated rounds of {n}): {:.2} ns per scope",
            with_scope - bare
        );
    }
}

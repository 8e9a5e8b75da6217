//! A framework that sleeps instead of computing (as hyperfine's mock executor): the
//! protocol's clocks, warm-up accounting, generation readings, memory readings and failure
//! handling, tested without a model.

use super::*;
use crate::cell::{DeviceChoice, Dtype, Inputs, Optimizer};
use crate::measure::timing::Protocol;
use std::cell::Cell as Counter;
use std::rc::Rc;
use std::time::Duration;

const CALL: Duration = Duration::from_millis(4);
const PREFILL: Duration = Duration::from_millis(6);
const STEP: Duration = Duration::from_millis(2);

/// What the fake framework was asked to do, for the tests to check.
#[derive(Default)]
struct Log {
    builds: Counter<usize>,
    calls: Counter<usize>,
    syncs: Counter<usize>,
}

struct Sleeper {
    log: Rc<Log>,
    /// `call` fails from this call on (1-based), or panics where `panics`.
    fail_from: Option<usize>,
    panics: bool,
    /// Bytes a call keeps resident until the next one.
    resident: usize,
}

struct SleepyModel {
    log: Rc<Log>,
    fail_from: Option<usize>,
    panics: bool,
    resident: usize,
    held: Vec<u8>,
    cache_tokens: u64,
}

impl Device for Sleeper {
    fn sync(&self) {
        self.log.syncs.set(self.log.syncs.get() + 1);
    }
}

impl Framework for Sleeper {
    type Loaded = SleepyModel;
    fn unsupported(&self, cell: &Cell) -> Option<String> {
        (cell.settings.framework.torchscript()).then(|| "no tracing in a fake".to_string())
    }
    fn prepare(&mut self, _settings: &Settings) -> Result<()> {
        Ok(())
    }
    fn build(&mut self, _cell: &Cell) -> Result<SleepyModel> {
        self.log.builds.set(self.log.builds.get() + 1);
        std::thread::sleep(Duration::from_millis(5));
        Ok(SleepyModel {
            log: self.log.clone(),
            fail_from: self.fail_from,
            panics: self.panics,
            resident: self.resident,
            held: Vec::new(),
            cache_tokens: 0,
        })
    }
}

impl Loaded for SleepyModel {
    fn ran(&self) -> Option<Ran> {
        Some(Ran {
            threads: 1,
            dtype: Dtype::F32,
            pretrained: None,
        })
    }
    fn make_inputs(&mut self, _cell: &Cell) -> Result<()> {
        Ok(())
    }
    fn call(&mut self) -> Result<()> {
        let n = self.log.calls.get() + 1;
        self.log.calls.set(n);
        if self.fail_from.is_some_and(|from| n >= from) {
            if self.panics {
                panic!("the fake panicked\nat frame 0");
            }
            bail!("the fake failed\nbacktrace: ...");
        }
        // Written, so that the pages are resident.
        self.held = vec![1u8; self.resident];
        std::hint::black_box(&self.held);
        std::thread::sleep(CALL);
        Ok(())
    }
    fn prefill(&mut self) -> Result<()> {
        std::thread::sleep(PREFILL);
        self.cache_tokens = 8;
        Ok(())
    }
    fn decode_step(&mut self) -> Result<()> {
        std::thread::sleep(STEP);
        self.cache_tokens += 1;
        Ok(())
    }
    fn end_request(&mut self) -> u64 {
        std::mem::take(&mut self.cache_tokens) * 100
    }
}

fn sleeper() -> (Sleeper, Rc<Log>) {
    let log = Rc::new(Log::default());
    let fake = Sleeper {
        log: log.clone(),
        fail_from: None,
        panics: false,
        resident: 0,
    };
    (fake, log)
}

fn cell(mode: Mode, metric: Metric, protocol: Protocol) -> Cell {
    Cell {
        model: "fake".into(),
        config: serde_json::json!({"model_type": "fake"}),
        batch_size: 2,
        sequence_length: 8,
        mode,
        metric,
        settings: Settings {
            protocol,
            device: DeviceChoice::Cpu,
            dtype: Dtype::F32,
            threads: None,
            optimizer: Optimizer::None,
            only_pretrain_model: false,
            framework: crate::cell::Framework::Pytorch,
            seed: 0,
            profile: false,
            profile_trace: None,
            onnxruntime_level: None,
            routing: None,
        },
        input: Default::default(),
        inputs: Inputs::Random,
        new_tokens: (mode == Mode::Generation).then_some(4),
    }
}

fn adaptive(warmup: usize, runs: usize) -> Protocol {
    Protocol::Adaptive {
        warmup,
        warmup_time_s: None,
        min_runs: runs,
        max_runs: runs,
        min_time_s: 0.0,
        precision: None,
        max_time_s: None,
    }
}

fn known() -> impl Fn(&Cell) -> Result<Known> {
    |_| {
        Ok(Known {
            kv_cache_bytes: Some(4096),
            ..Known::default()
        })
    }
}

fn speed(result: &CellResult) -> &SpeedResult {
    match result {
        CellResult::Speed(s) => s,
        other => panic!("not a speed result: {other:?}"),
    }
}

fn memory(result: &CellResult) -> &MemoryResult {
    match result {
        CellResult::Memory(m) => m,
        other => panic!("not a memory result: {other:?}"),
    }
}

#[test]
fn a_speed_cell_reports_the_sleep_and_leaves_the_plan_to_the_parent() {
    let (mut fake, log) = sleeper();
    let cells = [cell(Mode::Training, Metric::Speed, adaptive(2, 5))];
    let results = super::cells(&mut fake, &cells, &known(), &mut |_| {}).unwrap();
    let s = speed(&results[0]);
    assert_eq!(
        (s.samples.len(), s.warmup_calls, s.calls_per_sample),
        (5, 2, 1)
    );
    assert_eq!(log.calls.get(), 7);
    let call = CALL.as_secs_f64();
    assert!(
        s.seconds >= call && s.seconds < 20.0 * call,
        "{}",
        s.seconds
    );
    assert_eq!(s.seconds, s.stats.median);
    // FLOPs and bytes of a call are the plan's: the parent fills them, not the protocol.
    assert_eq!((s.flops_per_call, s.bytes_per_call), (None, None));
    assert!(s.build_seconds.unwrap() >= 0.005);
    assert_eq!(s.ran.unwrap().threads, 1);
    // Every clock read waits for the device.
    assert!(log.syncs.get() >= 2 * 5);
}

#[test]
fn memory_first_then_speed_on_one_build_the_memory_call_warms_up() {
    let (mut fake, log) = sleeper();
    fake.resident = 32 << 20;
    let cells = [
        cell(Mode::Inference, Metric::Memory, adaptive(3, 4)),
        cell(Mode::Inference, Metric::Speed, adaptive(3, 4)),
    ];
    let mut seen = Vec::new();
    let results = super::cells(&mut fake, &cells, &known(), &mut |so_far| {
        seen.push(so_far.len())
    })
    .unwrap();
    assert_eq!(log.builds.get(), 1);
    assert_eq!(seen, [1, 2]);
    let m = memory(&results[0]);
    assert!(
        m.rss_increase_bytes() >= 30 << 20,
        "{}",
        m.rss_increase_bytes()
    );
    assert_eq!(m.estimated_peak_bytes, None, "the parent's plan fills it");
    assert!(m.build_seconds.is_some() && m.ran.is_some() && m.gpu.is_none());
    // The memory call counts as the first of the three warm-up calls.
    let s = speed(&results[1]);
    assert_eq!(s.warmup_calls, 3);
    assert_eq!(log.calls.get(), 1 + 2 + 4);
}

#[test]
fn a_generation_request_reads_the_clock_at_each_new_token() {
    let (mut fake, _) = sleeper();
    let cells = [
        cell(Mode::Generation, Metric::Memory, adaptive(1, 3)),
        cell(Mode::Generation, Metric::Speed, adaptive(1, 3)),
    ];
    let results = super::cells(&mut fake, &cells, &known(), &mut |_| {}).unwrap();
    let kv = memory(&results[0]).kv_cache.clone().unwrap();
    // A prompt of 8 tokens and 3 decode steps: 11 tokens of 100 bytes held at the end.
    assert_eq!((kv.config_bytes, kv.held_bytes), (4096, 1100));
    let s = speed(&results[1]);
    let g = s.generation.as_ref().unwrap();
    assert_eq!(
        g.token_seconds.len(),
        3,
        "the warm-up request is not a figure"
    );
    for readings in &g.token_seconds {
        assert_eq!(readings.len(), 4);
        assert!(readings[0] >= PREFILL.as_secs_f64());
        assert!(readings
            .windows(2)
            .all(|w| w[1] - w[0] >= STEP.as_secs_f64()));
    }
    assert_eq!(s.flops_per_call, None);
}

#[test]
fn a_failing_or_panicking_call_is_that_cells_na_with_one_line() {
    for panics in [false, true] {
        let (mut fake, _) = sleeper();
        // The memory cell's call succeeds; the speed cell's first fails.
        (fake.fail_from, fake.panics) = (Some(2), panics);
        let cells = [
            cell(Mode::Inference, Metric::Memory, adaptive(1, 3)),
            cell(Mode::Inference, Metric::Speed, adaptive(1, 3)),
        ];
        let results = super::cells(&mut fake, &cells, &known(), &mut |_| {}).unwrap();
        memory(&results[0]);
        let expected = match panics {
            true => "the fake panicked",
            false => "the fake failed",
        };
        assert_eq!(results[1], CellResult::na(expected));
    }
}

#[test]
fn reasons_before_any_work_make_every_cell_na_without_a_build() {
    let (mut fake, log) = sleeper();
    let mut traced = cell(Mode::Inference, Metric::Speed, adaptive(1, 3));
    traced.settings.framework = crate::cell::Framework::Torchscript;
    let results = super::cells(&mut fake, &[traced.clone()], &known(), &mut |_| {});
    assert_eq!(results.unwrap(), [CellResult::na("no tracing in a fake")]);
    let too_long = |_: &Cell| {
        Ok(Known {
            not_measurable: Some("too long".into()),
            ..Known::default()
        })
    };
    let plain = cell(Mode::Inference, Metric::Speed, adaptive(1, 3));
    let results = super::cells(&mut fake, &[plain.clone(), plain], &too_long, &mut |_| {});
    assert_eq!(results.unwrap(), vec![CellResult::na("too long"); 2]);
    let mut none = cell(Mode::Generation, Metric::Speed, adaptive(1, 3));
    none.new_tokens = Some(0);
    let results = super::cells(&mut fake, &[none], &known(), &mut |_| {});
    assert_eq!(
        results.unwrap(),
        [CellResult::na("0 new tokens: at least 1 is needed")]
    );
    assert_eq!(log.builds.get(), 0);
    // A config the caller cannot read is the group's error.
    let unreadable = |_: &Cell| -> Result<Known> { bail!("unknown model_type") };
    let plain = cell(Mode::Inference, Metric::Speed, adaptive(1, 3));
    assert!(super::cells(&mut fake, &[plain], &unreadable, &mut |_| {}).is_err());
}

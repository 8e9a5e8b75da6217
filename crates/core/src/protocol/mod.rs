//! The measuring protocol, written once for every framework: for a group of cells that share
//! one model, its sizes, mode and settings (they differ in metric), build the model once,
//! measure memory first (the first call after the build, with glibc's default heap), then
//! speed (warm-up and timed calls, statistics, intervals) or, for generation, timed requests
//! with a clock reading at each new token. A framework implements [`Framework`] (the device
//! and the build) and [`Loaded`] (one built model: its calls); the protocol owns the clocks,
//! the memory readings and the result assembly.
//!
//! A cell whose measurement fails is N/A with its reason (one line, cleaned here, where it
//! arises); a failure before any measurement is the error of the whole group.

pub mod memory;
pub mod reason;

#[cfg(test)]
mod fake;

use crate::cell::{
    Cell, CellResult, ExpertLoad, GpuMemory, KvCacheSize, Metric, Mode, Ran, Settings,
};
use crate::cell::{MemoryResult, SpeedResult};
use crate::measure::generation::summarise;
use crate::measure::memory as heap;
use crate::measure::profile::Profile;
use crate::measure::stats::Stats;
use crate::measure::timing::{self, Statistic, Timing};
use anyhow::{anyhow, bail, Result};
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

/// The device a framework runs on, as the protocol reads it: its synchronisation and,
/// where the framework has a device allocator, its memory.
pub trait Device {
    /// Waits for the device's queued work (a no-op on the CPU).
    fn sync(&self);
    /// Resets the device allocator's high-water marks and returns the bytes allocated now;
    /// None where there is no device allocator (the CPU).
    fn reset_peak_memory(&self) -> Result<Option<u64>> {
        Ok(None)
    }
    /// The device's memory after a measured call, `baseline_allocated_bytes` before it.
    fn memory_after(&self, _baseline_allocated_bytes: u64) -> Result<Option<GpuMemory>> {
        Ok(None)
    }
}

/// One framework (libtorch, TensorFlow, ONNX Runtime, ...): what the protocol asks of it
/// before a model exists.
pub trait Framework: Device {
    type Loaded: Loaded;
    /// Why `cell` cannot run in this framework (training a TorchScript trace), before any
    /// work; None when it can.
    fn unsupported(&self, _cell: &Cell) -> Option<String> {
        None
    }
    /// Makes the device ready for cells of `settings`: checks that it is there, applies the
    /// threads and seeds the random weights.
    fn prepare(&mut self, settings: &Settings) -> Result<()>;
    /// Builds the model of `cell` (it stands for its group) in the cell's dtype, for the
    /// cell's mode. The protocol times this and synchronises after it.
    fn build(&mut self, cell: &Cell) -> Result<Self::Loaded>;
}

/// One built model of a framework.
pub trait Loaded {
    /// What the framework says the model runs with: its threads and weights' dtype.
    fn ran(&self) -> Option<Ran>;
    /// Makes the cell's inputs (random ids or pixels, or the user's text with its mask) and
    /// whatever the calls need of them (an optimizer, a traced module).
    fn make_inputs(&mut self, cell: &Cell) -> Result<()>;
    /// One call: an inference forward pass, or one training step (forward, loss, backward
    /// and the optimizer's step).
    fn call(&mut self) -> Result<()>;
    /// Generation: runs the prompt and picks the first new token.
    fn prefill(&mut self) -> Result<()> {
        bail!("generation is not implemented for this framework")
    }
    /// Generation: feeds the token just picked over the KV cache and picks the next.
    fn decode_step(&mut self) -> Result<()> {
        bail!("generation is not implemented for this framework")
    }
    /// Generation: ends the request, dropping its KV cache; returns the bytes the cache held.
    fn end_request(&mut self) -> u64 {
        0
    }
    /// `--profile`: the call broken down by part, after the timed calls (`timing`).
    fn profile(&mut self, _cell: &Cell, _timing: &Timing) -> Result<Profile> {
        bail!("--profile is not implemented for this framework")
    }
    /// Mixture-of-experts models: one more call (a generation cell: one request of
    /// `new_tokens`), untimed, counting the tokens each expert receives. None for a model
    /// without experts or a framework that cannot count.
    fn expert_load(&mut self, _new_tokens: Option<i64>) -> Result<Option<ExpertLoad>> {
        Ok(None)
    }
}

/// What the child knows of a cell from its model's config before any work: the protocol
/// copies it into the results and never computes it. What the parent's plan already holds
/// (FLOPs and bytes of a call, the estimated peak) the parent fills in; the child never
/// computes the estimate again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Known {
    /// Why the model cannot measure this cell (a size beyond its positions, no KV cache for
    /// generation); the group is N/A with it before any work.
    pub not_measurable: Option<String>,
    /// Generation: the KV cache's size from the config, in the cell's dtype, reported beside
    /// the bytes the cache really held.
    pub kv_cache_bytes: Option<u64>,
}

/// Measures `cells` (one group: see the module) with `framework`. `known` says what the
/// config says of each cell; `progress` receives the results so far after each cell, so
/// that a parent keeps them if the child dies later.
pub fn cells<F: Framework>(
    framework: &mut F,
    cells: &[Cell],
    known: &dyn Fn(&Cell) -> Result<Known>,
    progress: &mut dyn FnMut(&[CellResult]),
) -> Result<Vec<CellResult>> {
    let Some(cell) = cells.first() else {
        return Ok(Vec::new());
    };
    let all = |result: CellResult| Ok(vec![result; cells.len()]);
    let new_tokens = match (cell.mode, cell.new_tokens) {
        (Mode::Generation, Some(n)) if n >= 1 => Some(n),
        (Mode::Generation, Some(n)) => {
            return all(CellResult::na(format!(
                "{n} new tokens: at least 1 is needed"
            )))
        }
        (Mode::Generation, None) => {
            return all(CellResult::na("a generation cell without new tokens"))
        }
        _ => None,
    };
    let known: Vec<Known> = cells.iter().map(known).collect::<Result<_>>()?;
    if let Some(reason) = &known[0].not_measurable {
        return all(CellResult::na(reason.clone()));
    }
    if let Some(reason) = framework.unsupported(cell) {
        return all(CellResult::na(reason));
    }
    let settings = &cell.settings;
    // A group with a memory cell measures it with glibc's default heap, as a child of its own.
    if cells.iter().all(|c| c.metric == Metric::Speed) {
        heap::retain_freed_heap();
    } else {
        heap::static_heap_thresholds();
    }
    framework.prepare(settings)?;
    let build_start = Instant::now();
    let mut model = framework.build(cell)?;
    framework.sync();
    let build_seconds = Some(build_start.elapsed().as_secs_f64());
    let ran = model.ran();
    model.make_inputs(cell)?;
    let mut group = Group {
        framework: &*framework,
        model,
        settings,
        build_seconds,
        ran,
        calls_made: 0,
        seconds_made: 0.0,
    };
    let mut results = Vec::new();
    for (c, known) in cells.iter().zip(&known) {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| match (c.metric, new_tokens) {
            (Metric::Speed, None) => group.speed(c),
            (Metric::Memory, None) => group.memory(),
            (Metric::Speed, Some(n)) => group.generation_speed(c, n),
            (Metric::Memory, Some(n)) => group.generation_memory(n, known),
        }));
        results.push(match outcome {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => CellResult::na(reason::first_line(&format!("{e:#}"))),
            Err(payload) => CellResult::na(reason::panic_reason(&payload)),
        });
        progress(&results);
    }
    Ok(results)
}

/// One group's built model and what its cells share.
struct Group<'a, F: Framework> {
    framework: &'a F,
    model: F::Loaded,
    settings: &'a Settings,
    build_seconds: Option<f64>,
    ran: Option<Ran>,
    /// Calls already made on this model: the memory cell's call is the speed cell's first
    /// warm-up call, so that a multi-second call is not repeated for nothing.
    calls_made: usize,
    seconds_made: f64,
}

impl<F: Framework> Group<'_, F> {
    fn speed(&mut self, cell: &Cell) -> Result<CellResult> {
        // Memory was measured with glibc's defaults; timing keeps freed heap memory.
        heap::retain_freed_heap();
        let protocol = (self.settings.protocol).warmed_up_by(self.calls_made, self.seconds_made);
        let (model, framework) = (&mut self.model, self.framework);
        let mut timing = protocol.run(|| model.call(), || framework.sync())?;
        timing.warmup_calls += self.calls_made.min(self.settings.protocol.warmup());
        let mut result = self.speed_result(&timing, "no timed calls")?;
        if self.settings.profile {
            result.profile = Some(Box::new(self.model.profile(cell, &timing)?));
        }
        // After the timed calls, so that counting costs them nothing.
        result.expert_load = self.model.expert_load(None)?.map(Box::new);
        Ok(CellResult::Speed(result))
    }

    fn memory(&mut self) -> Result<CellResult> {
        self.calls_made += 1;
        let start = Instant::now();
        let model = &mut self.model;
        let result = memory::measure(self.framework, || model.call())?;
        self.seconds_made += start.elapsed().as_secs_f64();
        Ok(CellResult::Memory(self.memory_result(result)))
    }

    /// Every request is one call of the timing protocol, with a clock reading (after a
    /// synchronise) once each new token's ids exist.
    fn generation_speed(&mut self, cell: &Cell, new_tokens: i64) -> Result<CellResult> {
        heap::retain_freed_heap();
        let mut requests: Vec<Vec<f64>> = Vec::new();
        let (model, framework) = (&mut self.model, self.framework);
        let request = || -> Result<()> {
            let start = Instant::now();
            let mut readings = Vec::with_capacity(new_tokens as usize);
            let mut read = || {
                framework.sync();
                readings.push(start.elapsed().as_secs_f64());
            };
            model.prefill()?;
            read();
            for _ in 1..new_tokens {
                model.decode_step()?;
                read();
            }
            model.end_request();
            requests.push(readings);
            Ok(())
        };
        let timing = self.settings.protocol.run(request, || framework.sync())?;
        // The protocol's warm-up requests come first; they are not figures.
        let timed = requests.split_off(timing.warmup_calls.min(requests.len()));
        let mut result = self.speed_result(&timing, "no timed requests")?;
        result.generation = Some(Box::new(summarise(cell.batch_size, timed)?));
        result.expert_load = self.model.expert_load(Some(new_tokens))?.map(Box::new);
        Ok(CellResult::Speed(result))
    }

    fn generation_memory(&mut self, new_tokens: i64, known: &Known) -> Result<CellResult> {
        let mut held_bytes = 0;
        let model = &mut self.model;
        let result = memory::measure(self.framework, || {
            model.prefill()?;
            for _ in 1..new_tokens {
                model.decode_step()?;
            }
            held_bytes = model.end_request();
            Ok(())
        })?;
        let mut result = self.memory_result(result);
        result.kv_cache = Some(KvCacheSize {
            config_bytes: known.kv_cache_bytes.unwrap_or(0),
            held_bytes,
        });
        Ok(CellResult::Memory(result))
    }

    fn speed_result(&self, timing: &Timing, none: &str) -> Result<SpeedResult> {
        let stats = Stats::of(&timing.samples).ok_or_else(|| anyhow!("{none}"))?;
        let statistic = self.settings.protocol.statistic();
        let (seconds, interval) = match statistic {
            Statistic::Median => (stats.median, timing::median_interval(&timing.samples)),
            Statistic::Minimum => (stats.min, None),
        };
        Ok(SpeedResult {
            statistic,
            seconds,
            samples: timing.samples.clone(),
            calls_per_sample: timing.calls_per_sample,
            warmup_calls: timing.warmup_calls,
            stats,
            flops_per_call: None,
            bytes_per_call: None,
            interval,
            imprecise: timing.imprecise,
            build_seconds: self.build_seconds,
            profile: None,
            generation: None,
            // The parent, which sees the other processes, fills it in.
            load: None,
            ran: self.ran,
            expert_load: None,
        })
    }

    fn memory_result(&self, mut result: MemoryResult) -> MemoryResult {
        result.build_seconds = self.build_seconds;
        result.ran = self.ran;
        result
    }
}

//! One cell, measured: resolve the config, build the model in its dtype, make random inputs
//! (token ids, or pixels for vision models: `Architecture::random_inputs`),
//! then time the calls (speed) or read the high-water marks of one call (memory).

use super::device::{apply_threads, check_available, kind, synchronize, tch_device};
use super::memory::measure_memory;
use crate::cell::{Cell, CellResult, Dtype, Metric, Mode, Optimizer, SpeedResult};
use crate::measure::memory;
use crate::measure::profile::{scope, Part};
use crate::measure::stats::Stats;
use crate::measure::timing::{self, Statistic};
use crate::models::{self, inference_task, Task};
use anyhow::{anyhow, Result};
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;
use tch::{nn, nn::OptimizerConfig, nn::VarStore, Tensor};

/// Measures `cells`, which share one model, sizes, mode and settings and differ in metric, on
/// one built model: memory first (the first call after the build, as in a child of its own,
/// with glibc's default heap), then speed. `progress` receives the results so far after each
/// cell, so that a parent keeps them if the child dies later. A cell whose measurement fails
/// is N/A with its reason; a failure before any measurement is the error.
pub fn cells(cells: &[Cell], progress: &mut dyn FnMut(&[CellResult])) -> Result<Vec<CellResult>> {
    let Some(cell) = cells.first() else {
        return Ok(Vec::new());
    };
    let all = |result: CellResult| Ok(vec![result; cells.len()]);
    let config = models::from_json(&cell.config)?;
    if let Some(max) = config.max_positions() {
        if cell.sequence_length > max {
            return all(CellResult::na(format!(
                "sequence length {} exceeds max_position_embeddings {max}",
                cell.sequence_length
            )));
        }
    }
    let settings = &cell.settings;
    if settings.torchscript && cell.mode == Mode::Training {
        // As the original: `NotImplementedError("Training for torchscript ...")`.
        return all(CellResult::na(
            "Training for torchscript is currently not implemented",
        ));
    }
    check_available(settings.device)?;
    if cells.iter().all(|c| c.metric == Metric::Speed) {
        memory::retain_freed_heap();
    } else {
        memory::static_heap_thresholds();
    }
    apply_threads(settings.threads);
    let device = tch_device(settings.device);
    tch::manual_seed(settings.seed);
    let mut vs = VarStore::new(device);
    // Weights are created in the dtype, never as a float32 copy first: a 7B model is 27 GB
    // in float32 and 13.5 GB in bfloat16.
    vs.set_kind(kind(settings.dtype));
    let task = match cell.mode {
        Mode::Inference => inference_task(&cell.config, settings.only_pretrain_model),
        Mode::Training => Task::LanguageModel,
    };
    let build_start = Instant::now();
    let model = config.build(vs.root(), task)?;
    if settings.dtype != Dtype::F32 {
        // The few buffers a family creates in float32 (`zeros_no_train`) follow.
        vs.set_kind(kind(settings.dtype));
    }
    synchronize(settings.device);
    let build_seconds = Some(build_start.elapsed().as_secs_f64());
    let (input, labels) = config.random_inputs(
        cell.batch_size,
        cell.sequence_length,
        kind(settings.dtype),
        device,
    );
    let mut optimizer = match (cell.mode, settings.optimizer) {
        (Mode::Inference, _) | (_, Optimizer::None) => None,
        (_, Optimizer::Sgd) => Some(nn::Sgd::default().build(&vs, 1e-4)?),
        (_, Optimizer::AdamW) => Some(nn::AdamW::default().build(&vs, 1e-4)?),
    };
    let traced = match settings.torchscript {
        true => {
            // Traced parameters become constants, which must not require gradients.
            vs.freeze();
            Some(trace(model.as_ref(), &input)?)
        }
        false => None,
    };
    let mut trainable = vs.trainable_variables();
    let mut call = || -> Result<()> {
        match (cell.mode, &traced) {
            (Mode::Inference, Some(traced)) => {
                tch::no_grad(|| traced.forward_is(&[tch::IValue::Tensor(input.shallow_clone())]))?;
            }
            (Mode::Inference, None) => {
                let _logits = tch::no_grad(|| model.forward(&input, false))?;
            }
            (Mode::Training, _) => {
                // Gradients are zeroed before each call, so every call is one training step
                // (the original let them accumulate).
                match optimizer.as_mut() {
                    Some(opt) => opt.zero_grad(),
                    None => trainable.iter_mut().for_each(|v| v.zero_grad()),
                }
                let loss = model.loss(&input, &labels, true)?;
                scope(Part::Backward, || loss.f_backward())?;
                if let Some(opt) = optimizer.as_mut() {
                    scope(Part::Optimizer, || opt.step());
                }
            }
        }
        Ok(())
    };
    let sync = || synchronize(settings.device);
    let forward = Some(config.forward_flops(cell.batch_size, cell.sequence_length, task))
        .filter(|f| f.is_finite());
    let mut results = Vec::new();
    for c in cells {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| -> Result<CellResult> {
            match c.metric {
                Metric::Speed => {
                    // Memory was measured with glibc's defaults; timing keeps freed heap memory.
                    memory::retain_freed_heap();
                    let timing = settings.protocol.run(&mut call, sync)?;
                    let stats =
                        Stats::of(&timing.samples).ok_or_else(|| anyhow!("no timed calls"))?;
                    let statistic = settings.protocol.statistic();
                    let (seconds, interval) = match statistic {
                        Statistic::Median => {
                            (stats.median, timing::median_interval(&timing.samples))
                        }
                        Statistic::Minimum => (stats.min, None),
                    };
                    let profile = match settings.profile {
                        true => Some(Box::new(super::profile::breakdown(c, &timing, &mut call)?)),
                        false => None,
                    };
                    Ok(CellResult::Speed(SpeedResult {
                        statistic,
                        seconds,
                        samples: timing.samples,
                        calls_per_sample: timing.calls_per_sample,
                        warmup_calls: timing.warmup_calls,
                        stats,
                        flops_per_call: match cell.mode {
                            // Backward costs about twice the forward's matrix products.
                            Mode::Training => forward.map(|f| 3.0 * f),
                            Mode::Inference => forward,
                        },
                        interval,
                        imprecise: timing.imprecise,
                        build_seconds,
                        profile,
                        // The parent, which sees the other processes, fills it in.
                        load: None,
                    }))
                }
                Metric::Memory => {
                    let mut memory = measure_memory(settings.device, &mut call)?;
                    memory.build_seconds = build_seconds;
                    memory.estimated_peak_bytes =
                        crate::estimate::cell(c).memory_bytes.map(|b| b as u64);
                    Ok(CellResult::Memory(memory))
                }
            }
        }));
        results.push(match outcome {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => CellResult::na(super::first_line(&format!("{e:#}"))),
            Err(payload) => CellResult::na(super::panic_reason(&payload)),
        });
        progress(&results);
    }
    Ok(results)
}

/// The model's inference forward traced into a TorchScript module, as `torch.jit.trace`.
fn trace(model: &dyn models::Model, input_ids: &Tensor) -> Result<tch::CModule> {
    tch::no_grad(|| {
        tch::CModule::create_by_tracing(
            "model",
            "forward",
            &[input_ids.shallow_clone()],
            // Tracing takes an infallible closure; a failing forward is caught by the
            // child's catch_unwind and becomes the cell's reason.
            &mut |inputs| vec![model.forward(&inputs[0], false).expect("traced forward")],
        )
    })
    .map_err(|e| anyhow!("tracing failed: {e}"))
}

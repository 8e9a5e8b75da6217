//! One cell, measured: resolve the config, build the model in its dtype, make random inputs,
//! then time the calls (speed) or read the high-water marks of one call (memory).

use super::device::{apply_threads, check_available, kind, synchronize, tch_device};
use super::memory::measure_memory;
use crate::cell::{Cell, CellResult, Dtype, Metric, Mode, Optimizer, SpeedResult};
use crate::measure::memory;
use crate::measure::stats::Stats;
use crate::measure::timing::Statistic;
use crate::models::{self, inference_task, Task};
use anyhow::{anyhow, Result};
use tch::{nn, nn::OptimizerConfig, nn::VarStore, Kind, Tensor};

pub fn cell(cell: &Cell) -> Result<CellResult> {
    let config = models::from_json(&cell.config)?;
    if let Some(max) = config.max_positions() {
        if cell.sequence_length > max {
            return Ok(CellResult::na(format!(
                "sequence length {} exceeds max_position_embeddings {max}",
                cell.sequence_length
            )));
        }
    }
    let settings = &cell.settings;
    if settings.torchscript && cell.mode == Mode::Training {
        // As the original: `NotImplementedError("Training for torchscript ...")`.
        return Ok(CellResult::na(
            "Training for torchscript is currently not implemented",
        ));
    }
    check_available(settings.device)?;
    if cell.metric == Metric::Speed {
        memory::retain_freed_heap();
    }
    apply_threads(settings.threads);
    let device = tch_device(settings.device);
    tch::manual_seed(settings.seed);
    let mut vs = VarStore::new(device);
    let task = match cell.mode {
        Mode::Inference => inference_task(&cell.config, settings.only_pretrain_model),
        Mode::Training => Task::LanguageModel,
    };
    let model = config.build(vs.root(), task)?;
    if settings.dtype != Dtype::F32 {
        vs.set_kind(kind(settings.dtype));
    }
    let input_ids = Tensor::randint(
        config.vocab_size(),
        [cell.batch_size, cell.sequence_length],
        (Kind::Int64, device),
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
            Some(trace(model.as_ref(), &input_ids)?)
        }
        false => None,
    };
    let mut trainable = vs.trainable_variables();
    let mut call = || -> Result<()> {
        match (cell.mode, &traced) {
            (Mode::Inference, Some(traced)) => {
                tch::no_grad(|| {
                    traced.forward_is(&[tch::IValue::Tensor(input_ids.shallow_clone())])
                })?;
            }
            (Mode::Inference, None) => {
                let _logits = tch::no_grad(|| model.forward(&input_ids, false))?;
            }
            (Mode::Training, _) => {
                // Gradients are zeroed before each call, so every call is one training step
                // (the original let them accumulate).
                match optimizer.as_mut() {
                    Some(opt) => opt.zero_grad(),
                    None => trainable.iter_mut().for_each(|v| v.zero_grad()),
                }
                model.loss(&input_ids, &input_ids, true)?.f_backward()?;
                if let Some(opt) = optimizer.as_mut() {
                    opt.step();
                }
            }
        }
        Ok(())
    };
    let sync = || synchronize(settings.device);
    match cell.metric {
        Metric::Speed => {
            let timing = settings.protocol.run(&mut call, sync)?;
            let stats = Stats::of(&timing.samples).ok_or_else(|| anyhow!("no timed calls"))?;
            let statistic = settings.protocol.statistic();
            let seconds = match statistic {
                Statistic::Median => stats.median,
                Statistic::Minimum => stats.min,
            };
            let forward = Some(config.forward_flops(cell.batch_size, cell.sequence_length, task))
                .filter(|f| f.is_finite());
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
            }))
        }
        Metric::Memory => measure_memory(settings.device, call).map(CellResult::Memory),
    }
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

//! One cell, measured: resolve the config, build the model in its dtype, make its inputs
//! (random token ids or pixels from `Architecture::random_inputs`, or the user's text
//! through the tokenizer with an attention mask), then time the calls (speed) or read the
//! high-water marks of one call (memory).

use super::device::{apply_threads, check_available, kind, ran, synchronize, tch_device};
use super::memory::measure_memory;
use crate::cell::{Cell, CellResult, Dtype, Inputs, Metric, Mode, Optimizer, SpeedResult};
use crate::measure::memory;
use crate::measure::profile::{scope, Part};
use crate::measure::stats::Stats;
use crate::measure::timing::{self, Statistic};
use crate::models::{self, inference_task, layers::masked_labels, Task};
use crate::tokenize;
use anyhow::{anyhow, bail, Context, Result};
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;
use tch::{nn, nn::OptimizerConfig, nn::VarStore, Tensor};

/// Measures `cells`, which share one model, sizes, mode and settings and differ in metric, on
/// one built model: memory first (the first call after the build, as in a child of its own,
/// with glibc's default heap), then speed. `progress` receives the results so far after each
/// cell, so that a parent keeps them if the child dies later. A cell whose measurement fails
/// is N/A with its reason; a failure before any measurement is the error. Generation cells
/// are measured by [`super::generate::cells`].
pub fn cells(cells: &[Cell], progress: &mut dyn FnMut(&[CellResult])) -> Result<Vec<CellResult>> {
    let Some(cell) = cells.first() else {
        return Ok(Vec::new());
    };
    if cell.mode == Mode::Generation {
        return super::generate::cells(cells, progress);
    }
    let all = |result: CellResult| Ok(vec![result; cells.len()]);
    let config = models::from_json(&cell.config)?;
    if let Some(reason) = config.size_not_supported(cell.sequence_length) {
        return all(CellResult::na(reason));
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
        Mode::Generation => return all(CellResult::na("a generation cell without new tokens")),
    };
    let build_start = Instant::now();
    let model = crate::models::weights::sharing_blocks(|| config.build(vs.root(), task))?;
    if settings.dtype != Dtype::F32 {
        // The few buffers a family creates in float32 (`zeros_no_train`) follow.
        vs.set_kind(kind(settings.dtype));
    }
    synchronize(settings.device);
    let build_seconds = Some(build_start.elapsed().as_secs_f64());
    let ran = ran(&vs);
    let (input, labels, attention_mask) =
        inputs(cell, config.as_ref(), kind(settings.dtype), device)?;
    let model_type = cell.config["model_type"].as_str().unwrap_or("this model");
    let no_mask = || format!("{model_type} with text inputs");
    let mut optimizer = match (cell.mode, settings.optimizer) {
        (Mode::Inference | Mode::Generation, _) | (_, Optimizer::None) => None,
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
                let _logits = tch::no_grad(|| match &attention_mask {
                    Some(mask) => model
                        .forward_masked(&input, mask, false)
                        .with_context(no_mask),
                    None => model.forward(&input, false),
                })?;
            }
            (Mode::Generation, _) => {
                unreachable!("generation cells are measured by child::generate")
            }
            (Mode::Training, _) => {
                // Gradients are zeroed before each call, so every call is one training step
                // (the original let them accumulate).
                match optimizer.as_mut() {
                    Some(opt) => opt.zero_grad(),
                    None => trainable.iter_mut().for_each(|v| v.zero_grad()),
                }
                let loss = match &attention_mask {
                    Some(mask) => model
                        .loss_masked(&input, mask, &labels, true)
                        .with_context(no_mask)?,
                    None => model.loss(&input, &labels, true)?,
                };
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
    // Calls already made on this model: the memory cell's call is the speed cell's first
    // warm-up call, so that a multi-second call is not repeated for nothing.
    let (mut calls_made, mut seconds_made) = (0, 0.0);
    for c in cells {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| -> Result<CellResult> {
            match c.metric {
                Metric::Speed => {
                    // Memory was measured with glibc's defaults; timing keeps freed heap memory.
                    memory::retain_freed_heap();
                    let protocol = settings.protocol.warmed_up_by(calls_made, seconds_made);
                    let mut timing = protocol.run(&mut call, sync)?;
                    timing.warmup_calls += calls_made.min(settings.protocol.warmup());
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
                            Mode::Inference | Mode::Generation => forward,
                        },
                        bytes_per_call: crate::estimate::traffic(c).map(|t| t.bytes),
                        interval,
                        imprecise: timing.imprecise,
                        build_seconds,
                        profile,
                        generation: None,
                        // The parent, which sees the other processes, fills it in.
                        load: None,
                        ran,
                    }))
                }
                Metric::Memory => {
                    calls_made += 1;
                    let start = Instant::now();
                    let mut memory = measure_memory(settings.device, &mut call)?;
                    seconds_made += start.elapsed().as_secs_f64();
                    memory.build_seconds = build_seconds;
                    memory.ran = ran;
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

/// The cell's inputs, the labels training uses and, for text, the attention mask: random
/// ones from the family ([`models::Architecture::random_inputs`]), or the text's batch
/// through the tokenizer, whose padding is masked out of the labels too.
fn inputs(
    cell: &Cell,
    config: &dyn models::Architecture,
    kind: tch::Kind,
    device: tch::Device,
) -> Result<(Tensor, Tensor, Option<Tensor>)> {
    let text = match &cell.inputs {
        Inputs::Random => {
            let (input, labels) =
                config.random_inputs(cell.batch_size, cell.sequence_length, kind, device);
            return Ok((input, labels, None));
        }
        Inputs::Text(text) => text,
    };
    for (file, planned) in [
        (&text.text, &text.text_digest),
        (&text.tokenizer, &text.tokenizer_digest),
    ] {
        if tokenize::digest(file)? != *planned {
            bail!("{} changed since the sweep was planned", file.display());
        }
    }
    let tokenizer = tokenize::load(&text.tokenizer)?;
    let passages = tokenize::read_passages(&text.text)?;
    let batch = tokenize::encode_batch(
        &tokenizer,
        &passages,
        cell.batch_size as usize,
        cell.sequence_length as usize,
    )?;
    // The planner counted the padding from the same files; a difference means they changed.
    if batch.padding_tokens != text.padding_tokens || passages.len() != text.passages {
        bail!(
            "{} or {} changed since the sweep was planned",
            text.text.display(),
            text.tokenizer.display()
        );
    }
    let vocab_size = config.vocab_size();
    if let Some(&id) = batch.ids.iter().find(|&&id| id >= vocab_size) {
        bail!(
            "token id {id} of {} is outside the model's vocabulary of {vocab_size}",
            text.tokenizer.display()
        );
    }
    let shape = [cell.batch_size, cell.sequence_length];
    let tensor = |v: &[i64]| Tensor::from_slice(v).view(shape).to_device(device);
    let (ids, mask) = (tensor(&batch.ids), tensor(&batch.mask));
    Ok((ids.shallow_clone(), masked_labels(&ids, &mask), Some(mask)))
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

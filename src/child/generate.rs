//! A generation cell: greedy decoding of exactly N new tokens after a random prompt, over
//! the model's KV cache (`models::kv_cache::greedy`). Speed: every request is one call of
//! the timing protocol, with a clock reading at each new token inside it. Memory: the
//! high-water marks of one request, beside the KV cache's size from the config.

use super::device::{apply_threads, check_available, kind, ran, synchronize, tch_device};
use super::memory::measure_memory;
use crate::cell::{Cell, CellResult, Dtype, KvCacheSize, Metric, SpeedResult};
use crate::measure::generation::summarise;
use crate::measure::memory;
use crate::measure::stats::Stats;
use crate::measure::timing::{self, Statistic};
use crate::models::{self, kv_cache::greedy, no_generation_reason};
use anyhow::{anyhow, Result};
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;
use tch::{nn::VarStore, Kind, Tensor};

/// Measures generation `cells` that share one model, sizes, new tokens and settings (memory
/// first, then speed, as `measure::cells` does) on one built model; `progress` receives the
/// results so far after each cell. A prompt or model that cannot generate makes every cell
/// N/A with the reason, before any work.
pub fn cells(cells: &[Cell], progress: &mut dyn FnMut(&[CellResult])) -> Result<Vec<CellResult>> {
    let Some(cell) = cells.first() else {
        return Ok(Vec::new());
    };
    let all = |result: CellResult| Ok(vec![result; cells.len()]);
    let new_tokens = match cell.new_tokens {
        Some(n) if n >= 1 => n,
        Some(n) => {
            return all(CellResult::na(format!(
                "{n} new tokens: at least 1 is needed"
            )))
        }
        None => return all(CellResult::na("a generation cell without new tokens")),
    };
    let config = models::from_json(&cell.config)?;
    let model_type = cell.config["model_type"].as_str().unwrap_or("this model");
    let Some(layout) = config.kv_layout() else {
        return all(CellResult::na(no_generation_reason(model_type)));
    };
    let (batch, prompt) = (cell.batch_size, cell.sequence_length);
    if let Some(reason) = beyond_positions(config.max_positions(), prompt, new_tokens, &layout) {
        return all(CellResult::na(reason));
    }
    let settings = &cell.settings;
    if settings.torchscript {
        return all(CellResult::na(
            "generation with --torchscript is not implemented",
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
    // Weights are created in the dtype, never as a float32 copy first.
    vs.set_kind(kind(settings.dtype));
    let build_start = Instant::now();
    let generator = crate::models::weights::sharing_blocks(|| config.generator(vs.root()))
        .ok_or_else(|| anyhow!(no_generation_reason(model_type)))?;
    if settings.dtype != Dtype::F32 {
        // The few buffers a family creates in float32 (`zeros_no_train`) follow.
        vs.set_kind(kind(settings.dtype));
    }
    synchronize(settings.device);
    let build_seconds = Some(build_start.elapsed().as_secs_f64());
    let ran = ran(&vs);
    let input_ids = Tensor::randint(config.vocab_size(), [batch, prompt], (Kind::Int64, device));
    let sync = || synchronize(settings.device);
    let mut results = Vec::new();
    for c in cells {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| -> Result<CellResult> {
            match c.metric {
                Metric::Speed => {
                    // Memory was measured with glibc's defaults; timing keeps freed heap memory.
                    memory::retain_freed_heap();
                    let mut requests: Vec<Vec<f64>> = Vec::new();
                    let timing = {
                        let request = || -> Result<()> {
                            let start = Instant::now();
                            let mut readings = Vec::with_capacity(new_tokens as usize);
                            tch::no_grad(|| {
                                greedy(generator.as_ref(), &input_ids, new_tokens, |_, _| {
                                    sync();
                                    readings.push(start.elapsed().as_secs_f64());
                                })
                            })?;
                            requests.push(readings);
                            Ok(())
                        };
                        settings.protocol.run(request, sync)?
                    };
                    // The protocol's warm-up requests come first; they are not figures.
                    let timed = requests.split_off(timing.warmup_calls.min(requests.len()));
                    let generation = summarise(batch, timed)?;
                    let stats =
                        Stats::of(&timing.samples).ok_or_else(|| anyhow!("no timed requests"))?;
                    let statistic = settings.protocol.statistic();
                    let (seconds, interval) = match statistic {
                        Statistic::Median => {
                            (stats.median, timing::median_interval(&timing.samples))
                        }
                        Statistic::Minimum => (stats.min, None),
                    };
                    Ok(CellResult::Speed(SpeedResult {
                        statistic,
                        seconds,
                        samples: timing.samples,
                        calls_per_sample: timing.calls_per_sample,
                        warmup_calls: timing.warmup_calls,
                        stats,
                        flops_per_call: None,
                        bytes_per_call: crate::estimate::traffic(c).map(|t| t.bytes),
                        interval,
                        imprecise: timing.imprecise,
                        build_seconds,
                        profile: None,
                        generation: Some(Box::new(generation)),
                        // The parent, which sees the other processes, fills it in.
                        load: None,
                        ran,
                    }))
                }
                Metric::Memory => {
                    let mut held_bytes = 0;
                    let mut result = measure_memory(settings.device, || {
                        let cache = tch::no_grad(|| {
                            greedy(generator.as_ref(), &input_ids, new_tokens, |_, _| {})
                        })?;
                        held_bytes = cache.bytes();
                        Ok(())
                    })?;
                    let dtype_bytes = kind(settings.dtype).elt_size_in_bytes() as i64;
                    let context = if layout.cross_layers > 0 {
                        1 + new_tokens
                    } else {
                        prompt + new_tokens
                    };
                    result.kv_cache = Some(KvCacheSize {
                        config_bytes: layout.bytes(batch, prompt, context, dtype_bytes) as u64,
                        held_bytes: held_bytes as u64,
                    });
                    result.build_seconds = build_seconds;
                    result.ran = ran;
                    result.estimated_peak_bytes =
                        crate::estimate::cell(c).memory_bytes.map(|b| b as u64);
                    Ok(CellResult::Memory(result))
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

/// Why a prompt of `prompt` tokens and `new_tokens` more do not fit the model's learned
/// positions: a decoder sees both; an encoder-decoder's encoder the prompt and its decoder
/// the new tokens.
fn beyond_positions(
    max: Option<i64>,
    prompt: i64,
    new_tokens: i64,
    layout: &models::KvLayout,
) -> Option<String> {
    let max = max?;
    if layout.cross_layers > 0 {
        if prompt > max {
            return Some(format!(
                "prompt length {prompt} exceeds max_position_embeddings {max}"
            ));
        }
        (new_tokens > max).then(|| {
            format!("{new_tokens} new tokens exceed the decoder's max_position_embeddings {max}")
        })
    } else {
        (prompt + new_tokens > max).then(|| {
            format!(
                "prompt {prompt} + {new_tokens} new tokens exceed max_position_embeddings {max}"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_bound_prompt_and_new_tokens() {
        let decoder = models::KvLayout::uniform(2, None, 2, 4);
        assert_eq!(beyond_positions(Some(64), 32, 32, &decoder), None);
        let reason = beyond_positions(Some(64), 32, 33, &decoder).unwrap();
        assert_eq!(
            reason,
            "prompt 32 + 33 new tokens exceed max_position_embeddings 64"
        );
        assert_eq!(beyond_positions(None, 1 << 20, 1 << 20, &decoder), None);
        let encdec = models::KvLayout {
            cross_layers: 2,
            ..decoder
        };
        assert_eq!(beyond_positions(Some(64), 64, 64, &encdec), None);
        assert!(beyond_positions(Some(64), 65, 1, &encdec).is_some());
        assert!(beyond_positions(Some(64), 1, 65, &encdec).is_some());
    }
}

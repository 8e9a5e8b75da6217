//! A generation cell: greedy decoding of exactly N new tokens after a random prompt, over
//! the model's KV cache (`models::kv_cache::greedy`). Speed: every request is one call of
//! the timing protocol, with a clock reading at each new token inside it. Memory: the
//! high-water marks of one request, beside the KV cache's size from the config.

use super::device::{apply_threads, check_available, kind, synchronize, tch_device};
use super::memory::measure_memory;
use crate::cell::{Cell, CellResult, Dtype, KvCacheSize, Metric, SpeedResult};
use crate::measure::generation::summarise;
use crate::measure::memory;
use crate::measure::stats::Stats;
use crate::measure::timing::Statistic;
use crate::models::{self, kv_cache::greedy, no_generation_reason};
use anyhow::{anyhow, Result};
use std::time::Instant;
use tch::{nn::VarStore, Kind, Tensor};

pub fn cell(cell: &Cell, new_tokens: i64) -> Result<CellResult> {
    let config = models::from_json(&cell.config)?;
    let model_type = cell.config["model_type"].as_str().unwrap_or("this model");
    let Some(layout) = config.kv_layout() else {
        return Ok(CellResult::na(no_generation_reason(model_type)));
    };
    let (batch, prompt) = (cell.batch_size, cell.sequence_length);
    if let Some(reason) = beyond_positions(config.max_positions(), prompt, new_tokens, &layout) {
        return Ok(CellResult::na(reason));
    }
    let settings = &cell.settings;
    if settings.torchscript {
        return Ok(CellResult::na(
            "generation with --torchscript is not implemented",
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
    let generator = config
        .generator(vs.root())
        .ok_or_else(|| anyhow!(no_generation_reason(model_type)))?;
    if settings.dtype != Dtype::F32 {
        vs.set_kind(kind(settings.dtype));
    }
    let input_ids = Tensor::randint(config.vocab_size(), [batch, prompt], (Kind::Int64, device));
    let sync = || synchronize(settings.device);
    match cell.metric {
        Metric::Speed => {
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
            let stats = Stats::of(&timing.samples).ok_or_else(|| anyhow!("no timed requests"))?;
            let statistic = settings.protocol.statistic();
            Ok(CellResult::Speed(SpeedResult {
                statistic,
                seconds: match statistic {
                    Statistic::Median => stats.median,
                    Statistic::Minimum => stats.min,
                },
                samples: timing.samples,
                calls_per_sample: timing.calls_per_sample,
                warmup_calls: timing.warmup_calls,
                stats,
                flops_per_call: None,
                generation: Some(Box::new(generation)),
            }))
        }
        Metric::Memory => {
            let mut held_bytes = 0;
            let mut result = measure_memory(settings.device, || {
                let cache =
                    tch::no_grad(|| greedy(generator.as_ref(), &input_ids, new_tokens, |_, _| {}))?;
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
            Ok(CellResult::Memory(result))
        }
    }
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

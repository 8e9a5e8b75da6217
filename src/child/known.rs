//! What a cell's config already says, handed to the protocol: whether the model can measure
//! it at all and the KV cache's size. FLOPs, bytes and the memory estimate are the plan's,
//! which the parent fills in (src/app.rs `with_planned_costs`).

use crate::cell::{Cell, Mode};
use anyhow::Result;
use run_benchmark_core::protocol::Known;
use run_benchmark_core::spec::{self, no_generation_reason, KvLayout};

/// Why `cell` will be N/A before any child starts, from its config and settings alone: a
/// framework without a build of the family, a size the model cannot take (a sequence past
/// its positions, audio past its window), generation on a model without a decoder. The
/// sweep marks such cells N/A at once, and `--dry-run` says so.
pub fn not_measurable(cell: &Cell) -> Option<String> {
    crate::frameworks::not_supported(cell)
        .or_else(|| {
            let arch = spec::from_json(&cell.config).ok()?;
            arch.size_not_supported(cell.sequence_length)
        })
        .or_else(|| known(cell).ok().and_then(|k| k.not_measurable))
}

pub fn known(cell: &Cell) -> Result<Known> {
    let config = spec::from_json(&cell.config)?;
    let model_type = cell.config["model_type"].as_str().unwrap_or("this model");
    let (batch, size) = (cell.batch_size, cell.sequence_length);
    let mut known = Known::default();
    if cell.mode == Mode::Generation {
        let new_tokens = cell.new_tokens.unwrap_or(0);
        match config.kv_layout() {
            None => known.not_measurable = Some(no_generation_reason(model_type)),
            Some(layout) => {
                known.not_measurable =
                    beyond_positions(config.max_positions(), size, new_tokens, &layout);
                let context = match layout.cross_layers > 0 {
                    true => 1 + new_tokens,
                    false => size + new_tokens,
                };
                let dtype_bytes = cell.settings.dtype.bytes() as i64;
                known.kv_cache_bytes = Some(layout.bytes(batch, size, context, dtype_bytes) as u64);
            }
        }
        return Ok(known);
    }
    known.not_measurable = config.size_not_supported(size);
    Ok(known)
}

/// Why a prompt of `prompt` tokens and `new_tokens` more do not fit the model's learned
/// positions: a decoder sees both; an encoder-decoder's encoder the prompt and its decoder
/// the new tokens.
fn beyond_positions(
    max: Option<i64>,
    prompt: i64,
    new_tokens: i64,
    layout: &KvLayout,
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
        let decoder = KvLayout::uniform(2, None, 2, 4);
        assert_eq!(beyond_positions(Some(64), 32, 32, &decoder), None);
        let reason = beyond_positions(Some(64), 32, 33, &decoder).unwrap();
        assert_eq!(
            reason,
            "prompt 32 + 33 new tokens exceed max_position_embeddings 64"
        );
        assert_eq!(beyond_positions(None, 1 << 20, 1 << 20, &decoder), None);
        let encdec = KvLayout {
            cross_layers: 2,
            ..decoder
        };
        assert_eq!(beyond_positions(Some(64), 64, 64, &encdec), None);
        assert!(beyond_positions(Some(64), 65, 1, &encdec).is_some());
        assert!(beyond_positions(Some(64), 1, 65, &encdec).is_some());
    }
}

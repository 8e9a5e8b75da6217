//! One tokenization speed cell: encode the cell's passages once per call, each alone or in
//! batches, with the crate's parallelism on or off, under the sweep's timing protocol.

use crate::cell::{SpeedResult, TokenizationCell, TokenizationResult};
use crate::measure::stats::Stats;
use crate::measure::timing::{self, Statistic};
use crate::tokenize;
use anyhow::{anyhow, bail, Result};
use tokenizers::utils::parallelism;

pub fn measure(cell: &TokenizationCell) -> Result<TokenizationResult> {
    // The crate's pool is rayon's global one, sized from RAYON_NUM_THREADS when first used:
    // --threads sizes it as it sizes libtorch's.
    if let Some(threads) = cell.settings.threads {
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
    parallelism::set_parallelism(cell.parallel);
    let tokenizer = tokenize::load(&cell.tokenizer)?;
    let mut passages = tokenize::read_passages(&cell.text)?;
    if passages.len() < cell.passages {
        bail!(
            "{} has {} passages, {} were planned; did it change?",
            cell.text.display(),
            passages.len(),
            cell.passages
        );
    }
    passages.truncate(cell.passages);
    let encode = || match cell.batch_size {
        None => tokenize::encode_each(&tokenizer, &passages),
        Some(batch) => tokenize::encode_batches(&tokenizer, &passages, batch),
    };
    let tokens = encode()?;
    if tokens == 0 {
        bail!("the passages encode to no tokens");
    }
    let protocol = &cell.settings.protocol;
    let mut call = || encode().map(|_| ());
    let timing = protocol.run(&mut call, || {})?;
    let stats = Stats::of(&timing.samples).ok_or_else(|| anyhow!("no timed calls"))?;
    let statistic = protocol.statistic();
    let (seconds, interval) = match statistic {
        Statistic::Median => (stats.median, timing::median_interval(&timing.samples)),
        Statistic::Minimum => (stats.min, None),
    };
    Ok(TokenizationResult::Speed {
        tokens,
        threads: match cell.parallel && cell.batch_size.is_some() {
            true => parallelism::current_num_threads(),
            false => 1,
        },
        speed: Box::new(SpeedResult {
            statistic,
            seconds,
            samples: timing.samples,
            calls_per_sample: timing.calls_per_sample,
            warmup_calls: timing.warmup_calls,
            stats,
            flops_per_call: None,
            bytes_per_call: None,
            interval,
            imprecise: timing.imprecise,
            build_seconds: None,
            profile: None,
            generation: None,
            // The parent, which sees the other processes, fills it in.
            load: None,
            ran: None,
            expert_load: None,
        }),
    })
}

//! The generation sections (`GENERATION - SPEED - RESULT`, `GENERATION - MEMORY - RESULT`)
//! and their CSV files: per cell, the prompt (the sequence length) and the new tokens, then
//! TTFT, TPOT, inter-token latency percentiles, decode throughput and end-to-end latency, or
//! peak memory beside the KV cache. The notes give every formula.

use super::format::{busy_note, format_rate, Section, BUSY_MARK};
use super::roofline::{roofline_cells, roofline_notes, Roofline};
use super::{format_seconds, memory_figure, section_rows, write_file, Row, Sweep, TIME_DIGITS};
use crate::cell::{CellResult, GenerationSpeed, Metric, Mode};
use crate::measure::generation::enough_for;
use crate::measure::memory::to_mib;
use crate::measure::stats::Stats;
use anyhow::Result;
use std::path::Path;

/// The ITL percentiles shown.
const ITL_PERCENTILES: [f64; 3] = [50.0, 90.0, 99.0];

fn percentile(stats: &Stats, p: f64) -> f64 {
    match p as u32 {
        50 => stats.median,
        90 => stats.p90,
        _ => stats.p99,
    }
}

/// A time in the tables' unit and digits: `12.35 ms`.
fn time(seconds: f64) -> String {
    format_seconds(seconds, TIME_DIGITS)
}

/// The ITL percentile `p`, or N/A with fewer gaps than it needs.
fn itl(g: &GenerationSpeed, p: f64) -> String {
    match &g.itl {
        Some(s) if enough_for(p, s.count) => time(percentile(s, p)),
        _ => "N/A".into(),
    }
}

pub fn section(sweep: &Sweep, metric: Metric) -> Section {
    let rows = section_rows(&sweep.rows, Mode::Generation, metric);
    let gpu = rows
        .iter()
        .any(|(_, r)| matches!(r, CellResult::Memory(m) if m.gpu.is_some()));
    let mut columns: Vec<String> = ["Model Name", "Batch Size", "Prompt", "New Tokens"]
        .map(String::from)
        .to_vec();
    // The detail (throughput, the ITL percentiles, the cache actually held) comes last: a
    // narrow terminal leaves it out first.
    let optional = match metric {
        Metric::Speed => {
            columns.extend(
                [
                    "TTFT",
                    "TPOT",
                    "E2E",
                    "Decode tokens/s",
                    "ITL p50",
                    "ITL p90",
                    "ITL p99",
                    "Decode MBU",
                    "Bound",
                ]
                .map(String::from),
            );
            6
        }
        Metric::Memory => {
            columns.extend(
                [
                    if gpu {
                        "Peak allocated MB"
                    } else {
                        "Memory in MB"
                    },
                    if gpu {
                        "Call allocated MB"
                    } else {
                        "Increase MB"
                    },
                    "KV cache MB",
                    "KV held MB",
                ]
                .map(String::from),
            );
            1
        }
    };
    let mut lines = Vec::new();
    let mut itl_short = false;
    let mut busy = Vec::new();
    let mut roofline = false;
    for (cell, result) in &rows {
        let mut line = vec![
            cell.model.clone(),
            cell.batch_size.to_string(),
            cell.sequence_length.to_string(),
            cell.new_tokens.map(|n| n.to_string()).unwrap_or_default(),
        ];
        match result {
            CellResult::Speed(speed) if speed.generation.is_some() => {
                let g = speed.generation.as_ref().expect("checked");
                let or_na = |s: &Option<Stats>, f: &dyn Fn(&Stats) -> String| {
                    s.as_ref().map(f).unwrap_or_else(|| "N/A".into())
                };
                let count = g.itl.as_ref().map_or(0, |s| s.count);
                itl_short |= ITL_PERCENTILES.iter().any(|&p| !enough_for(p, count));
                // The mark sits on the request's own figure, E2E, as on a call's time.
                let mut end_to_end = time(g.end_to_end.median);
                if let Some(load) = speed.load.filter(|l| l.busy) {
                    end_to_end.push_str(BUSY_MARK);
                    busy.push(load);
                }
                line.extend([
                    time(g.ttft.median),
                    or_na(&g.tpot, &|s| time(s.median)),
                    end_to_end,
                    or_na(&g.decode_tokens_per_second, &|s| format_rate(s.median)),
                    itl(g, 50.0),
                    itl(g, 90.0),
                    itl(g, 99.0),
                ]);
                let r = Roofline::of(cell, speed, sweep.calibration_for(&cell.settings));
                roofline |= r.is_some();
                let [_, mbu, bound] = roofline_cells(r.as_ref());
                line.extend([mbu, bound]);
            }
            CellResult::Memory(memory) => {
                let (peak, increase) = match &memory.gpu {
                    Some(g) => (
                        g.allocator.peak_allocated,
                        g.allocator
                            .peak_allocated
                            .saturating_sub(g.baseline_allocated_bytes),
                    ),
                    None => (memory_figure(memory), memory.rss_increase_bytes()),
                };
                let kv = memory.kv_cache.as_ref();
                let mb = |b: u64| format!("{:.2}", b as f64 / (1u64 << 20) as f64);
                line.extend([
                    to_mib(peak).to_string(),
                    to_mib(increase).to_string(),
                    kv.map(|k| mb(k.config_bytes)).unwrap_or_default(),
                    kv.map(|k| mb(k.held_bytes)).unwrap_or_default(),
                ]);
            }
            _ => {
                line.push("N/A".into());
                line.extend(std::iter::repeat_n(String::new(), columns.len() - 5));
            }
        }
        lines.push(line);
    }
    let axes = sweep.axes();
    let not_available = rows
        .iter()
        .filter_map(|(cell, result)| match result {
            CellResult::NotAvailable { reason } => Some(format!(
                "N/A {}{} (batch {}, prompt {}, {} new tokens): {reason}",
                cell.model,
                axes.describe(&cell.settings),
                cell.batch_size,
                cell.sequence_length,
                cell.new_tokens.unwrap_or(0)
            )),
            _ => None,
        })
        .collect();
    let mut notes = notes(sweep, metric, gpu, itl_short);
    if roofline {
        notes.extend(roofline_notes(sweep, &rows, true));
    }
    notes.extend(busy_note(&busy));
    notes.extend(super::routing::notes(&rows, &axes));
    notes.extend(super::weights::notes(&rows, &axes));
    Section {
        mode: Mode::Generation,
        metric,
        notes,
        columns,
        optional,
        rows: lines,
        not_available,
    }
}

fn notes(sweep: &Sweep, metric: Metric, gpu: bool, itl_short: bool) -> Vec<String> {
    let mut notes = Vec::new();
    match metric {
        Metric::Speed => {
            notes.push(format!(
                "Greedy decoding of exactly N new tokens (no stop at EOS) over a KV cache, after \
                 a random prompt; one request per call of the protocol ({}). Inside each timed \
                 request the clock is read when each new token exists{}.",
                sweep.settings.protocol.describe(),
                if sweep.settings.device == crate::cell::DeviceChoice::Cpu {
                    ""
                } else {
                    ", after synchronising the device"
                }
            ));
            notes.push(
                "TTFT: from the call to the first new token (prefill; encoder-decoders run the \
                 encoder and the first decoder step). TPOT = (E2E - TTFT) / (N - 1). Decode \
                 tokens/s = batch x (N - 1) / (E2E - TTFT). E2E: from the call to the last \
                 token. Each is per request; the table shows the median over the timed requests."
                    .into(),
            );
            notes.push(
                "ITL: the gaps between successive tokens of every timed request, pooled; \
                 percentiles p50/p90/p99."
                    .into(),
            );
            if itl_short {
                notes.push(
                    "ITL N/A: too few gaps for that percentile (p90 needs 10, p99 100); \
                     generate more tokens or raise --min-runs."
                        .into(),
                );
            }
        }
        Metric::Memory => {
            notes.push(if gpu {
                "Peak allocated MB: the caching allocator's peak during one generation \
                 request; Call allocated MB: that peak over the allocation before the request \
                 (weights and prompt). MiB."
                    .into()
            } else {
                "Memory in MB: peak resident memory (VmHWM) of the measuring process during one \
                 generation request, weights and the framework's library included; Increase MB: its growth \
                 during the request (KV cache, activations, logits). MiB."
                    .to_string()
            });
            notes.push(
                "KV cache MB: from the config, 2 (keys, values) x layers x kv-heads x head-dim x \
                 (prompt + N) x batch x dtype bytes, a sliding-window layer at most its window; \
                 encoder-decoders: decoder self-attention over 1 + N tokens plus cross-attention \
                 over the prompt. KV held MB: what the cache held after the last step (the last \
                 token is never fed; sliding layers keep window - 1 tokens, as transformers' \
                 cache). MiB."
                    .into(),
            );
        }
    }
    notes
}

/// One generation section's CSV file, in the original's naming pattern
/// (`generation_time_<unix time>.csv`, `generation_memory_...`): the cell, then its figures
/// in seconds, tokens/s or MiB (`N/A` where there is none).
pub fn write_csv(path: &Path, rows: &[Row], metric: Metric) -> Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let head = ["model", "batch_size", "sequence_length", "new_tokens"];
    // A sweep over dtypes or threads appends them, as the other CSV files.
    let axes = super::csv::AxisColumns::of(rows);
    match metric {
        Metric::Speed => w.write_record(
            head.iter()
                .chain(&[
                    "ttft_s",
                    "tpot_s",
                    "itl_p50_s",
                    "itl_p90_s",
                    "itl_p99_s",
                    "decode_tokens_per_s",
                    "end_to_end_s",
                ])
                .chain(axes.header().iter()),
        )?,
        Metric::Memory => w.write_record(
            head.iter()
                .chain(&["result", "increase_mb", "kv_cache_mb", "kv_held_mb"])
                .chain(axes.header().iter()),
        )?,
    }
    let na = || "N/A".to_string();
    for (cell, result) in section_rows(rows, Mode::Generation, metric) {
        let mut record = vec![
            cell.model.clone(),
            cell.batch_size.to_string(),
            cell.sequence_length.to_string(),
            cell.new_tokens.map(|n| n.to_string()).unwrap_or_default(),
        ];
        // Every digit measured, as the other CSV files.
        let full = |x: Option<f64>| x.map(|x| format!("{x:?}")).unwrap_or_else(na);
        match (metric, result) {
            (Metric::Speed, CellResult::Speed(speed)) if speed.generation.is_some() => {
                let g = speed.generation.as_ref().expect("checked");
                let itl = |p: f64| {
                    g.itl
                        .as_ref()
                        .filter(|s| enough_for(p, s.count))
                        .map(|s| percentile(s, p))
                };
                record.extend([
                    full(Some(g.ttft.median)),
                    full(g.tpot.as_ref().map(|s| s.median)),
                    full(itl(50.0)),
                    full(itl(90.0)),
                    full(itl(99.0)),
                    full(g.decode_tokens_per_second.as_ref().map(|s| s.median)),
                    full(Some(g.end_to_end.median)),
                ]);
            }
            (Metric::Memory, CellResult::Memory(m)) => {
                let mb = |b: u64| Some(b as f64 / (1u64 << 20) as f64);
                let kv = m.kv_cache.as_ref();
                record.extend([
                    to_mib(memory_figure(m)).to_string(),
                    to_mib(m.rss_increase_bytes()).to_string(),
                    full(kv.and_then(|k| mb(k.config_bytes))),
                    full(kv.and_then(|k| mb(k.held_bytes))),
                ]);
            }
            (Metric::Speed, _) => record.extend(std::iter::repeat_n(na(), 7)),
            (Metric::Memory, _) => record.extend(std::iter::repeat_n(na(), 4)),
        }
        record.extend(axes.values(cell));
        w.write_record(&record)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    write_file(path, &bytes, "CSV")
}

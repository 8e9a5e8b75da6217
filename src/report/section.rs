//! The content of one section (mode x metric): its columns, one line per finished cell, notes
//! saying which statistic the figures are, noisy figures flagged, and every N/A with its
//! reason. The terminal tables and the Markdown export render the same content.

pub use super::format::Section;
use super::format::{busy_note, format_rate, BUSY_MARK};
use super::roofline::{roofline_cells, roofline_notes, Roofline};
use super::{section_rows, table_value, value_label, Row, Sweep, Throughput};
use crate::cell::{
    Axes, CellResult, Framework, InputKind, Inputs, Metric, Mode, Settings, MEL_FRAMES_PER_SECOND,
};
use crate::measure::memory::to_mib;
use crate::measure::stats::NOISY_IQR_RATIO;
use crate::measure::timing::Statistic;

/// Marks a figure whose samples spread too much to trust its last digits.
const NOISY_MARK: &str = " *";
/// Marks a figure whose interval did not reach the precision target in time.
const IMPRECISE_MARK: &str = " !";
/// The section of `sweep` for one mode and metric; where the sweep crossed several dtypes or
/// thread counts, each row says its own after the model.
pub fn build(sweep: &Sweep, mode: Mode, metric: Metric) -> Section {
    let mut section = match mode {
        Mode::Generation => super::generation::section(sweep, metric),
        _ => build_plain(sweep, mode, metric),
    };
    let rows = section_rows(&sweep.rows, mode, metric);
    let settings: Vec<_> = rows.iter().map(|(cell, _)| &cell.settings).collect();
    insert_axis_columns(
        &sweep.axes(),
        &mut section.columns,
        &mut section.rows,
        &settings,
    );
    section
}

/// Inserts the columns of the axes that vary (`Dtype`, `Threads`) after the first (the
/// model's), each row's value from its cell's `settings`; returns how many.
pub(super) fn insert_axis_columns(
    axes: &Axes,
    columns: &mut Vec<String>,
    rows: &mut [Vec<String>],
    settings: &[&Settings],
) -> usize {
    let added = axes.columns();
    for (at, (column, value)) in (1..).zip(&added) {
        columns.insert(at, column.to_string());
        for (row, settings) in rows.iter_mut().zip(settings) {
            row.insert(at, value(settings));
        }
    }
    added.len()
}

fn build_plain(sweep: &Sweep, mode: Mode, metric: Metric) -> Section {
    let axes = sweep.axes();
    let rows = section_rows(&sweep.rows, mode, metric);
    let gpu = rows
        .iter()
        .any(|(_, r)| matches!(r, CellResult::Memory(m) if m.gpu.is_some()));
    // Speech models: how long their decoder prefix is.
    let audio_prefix = rows.iter().find_map(|(cell, _)| match cell.input {
        InputKind::Audio { decoder_tokens, .. } => Some(decoder_tokens),
        _ => None,
    });
    let statistic = match sweep.settings.protocol.statistic() {
        Statistic::Median => "median",
        Statistic::Minimum => "minimum",
    };
    let mut columns = vec![
        "Model Name".to_string(),
        "Batch Size".into(),
        size_column(rows.iter().map(|(cell, _)| cell.input)),
    ];
    match metric {
        Metric::Speed => columns.extend([
            format!("{} ({statistic})", value_label(metric)),
            "95% CI".into(),
            "Samples/s".into(),
            "Tokens/s".into(),
            "GFLOP/s".into(),
            "MFU".into(),
            "GB/s".into(),
            "MBU".into(),
            "Bound".into(),
        ]),
        Metric::Memory if gpu => columns.extend([
            value_label(metric).to_string(),
            "Process MB".into(),
            "Peak allocated MB".into(),
            "Peak reserved MB".into(),
        ]),
        Metric::Memory => columns.extend([value_label(metric).to_string(), "Increase MB".into()]),
    }
    let optional = match metric {
        Metric::Speed => 7,
        Metric::Memory if gpu => 3,
        Metric::Memory => 0,
    };
    let mut lines = Vec::new();
    let mut noisy = 0;
    let mut imprecise = 0;
    let mut above_ceiling = 0;
    let mut busy: Vec<crate::cell::Load> = Vec::new();
    let mut roofline = false;
    for (cell, result) in &rows {
        let mut line = vec![
            cell.model.clone(),
            cell.batch_size.to_string(),
            cell.sequence_length.to_string(),
        ];
        let na = || "N/A".to_string();
        match result {
            CellResult::Speed(speed) => {
                let mut figure = table_value(result);
                if speed.stats.is_noisy() {
                    figure.push_str(NOISY_MARK);
                    noisy += 1;
                }
                if let Some(load) = speed.load.filter(|l| l.busy) {
                    figure.push_str(BUSY_MARK);
                    busy.push(load);
                }
                let mut interval = speed
                    .interval
                    .map(|i| format!("±{:.1}%", 100.0 * i.relative_half_width()))
                    .unwrap_or_default();
                if speed.imprecise {
                    interval.push_str(IMPRECISE_MARK);
                    imprecise += 1;
                }
                let calibration = sweep.calibration_for(&cell.settings);
                let t = Throughput::of(cell, speed, calibration);
                above_ceiling += usize::from(t.mfu.is_some_and(|m| m > ABOVE_CEILING));
                let r = Roofline::of(cell, speed, calibration);
                roofline |= r.is_some();
                line.extend([
                    figure,
                    interval,
                    format_rate(t.samples_per_second),
                    format_rate(t.tokens_per_second),
                    t.flops_per_second
                        .map(|f| format!("{:.1}", f / 1e9))
                        .unwrap_or_else(na),
                    t.mfu
                        .map(|m| format!("{:.1}%", 100.0 * m))
                        .unwrap_or_else(na),
                ]);
                line.extend(roofline_cells(r.as_ref()));
            }
            CellResult::Memory(memory) => {
                line.push(table_value(result));
                match &memory.gpu {
                    Some(g) => line.extend([
                        g.process_used_bytes
                            .map(|b| to_mib(b).to_string())
                            .unwrap_or_else(na),
                        to_mib(g.allocator.peak_allocated).to_string(),
                        to_mib(g.allocator.peak_reserved).to_string(),
                    ]),
                    None => line.push(to_mib(memory.rss_increase_bytes()).to_string()),
                }
            }
            CellResult::NotAvailable { .. } => {
                line.push(table_value(result));
                line.extend(std::iter::repeat_n(String::new(), columns.len() - 4));
            }
        }
        lines.push(line);
    }
    let not_available = rows
        .iter()
        .filter_map(|(cell, result)| match result {
            CellResult::NotAvailable { reason } => Some(format!(
                "N/A {}{} (batch {}, {} {}): {reason}",
                cell.model,
                axes.describe(&cell.settings),
                cell.batch_size,
                cell.input.size_name(),
                cell.sequence_length
            )),
            _ => None,
        })
        .collect();
    Section {
        mode,
        metric,
        notes: [
            notes(
                sweep,
                &rows,
                metric,
                gpu,
                noisy,
                imprecise,
                above_ceiling,
                audio_prefix,
                &busy,
            ),
            match roofline {
                true => roofline_notes(sweep, &rows, false),
                false => Vec::new(),
            },
            Vec::from_iter(framework_note(&rows, &axes)),
            input_notes(&rows),
            super::routing::notes(&rows, &axes),
            super::weights::notes(&rows, &axes),
        ]
        .concat(),
        columns,
        optional,
        rows: lines,
        not_available,
    }
}

/// The size column's header: "Seq Length", "Image Size" for vision models, "Audio Length
/// (s)" for speech models, joined when a section holds several kinds.
fn size_column(kinds: impl Iterator<Item = InputKind>) -> String {
    let present: Vec<&str> = kinds.map(InputKind::size_column).collect();
    let names: Vec<&str> = InputKind::SIZE_COLUMNS
        .into_iter()
        .filter(|name| present.contains(name))
        .collect();
    match names.is_empty() {
        true => InputKind::Tokens.size_column().into(),
        false => names.join(" / "),
    }
}

/// What the table's figures are.
#[allow(clippy::too_many_arguments)]
fn notes(
    sweep: &Sweep,
    rows: &[&super::Row],
    metric: Metric,
    gpu: bool,
    noisy: usize,
    imprecise: usize,
    above_ceiling: usize,
    audio_prefix: Option<i64>,
    busy: &[crate::cell::Load],
) -> Vec<String> {
    let settings = &sweep.settings;
    let mut notes = Vec::new();
    if let Some(prefix) = audio_prefix {
        let tokens = match metric {
            Metric::Speed => " Tokens/s counts encoder positions (frames / 2).",
            Metric::Memory => "",
        };
        notes.push(format!(
            "Audio Length (s): seconds of random log-mel features, {MEL_FRAMES_PER_SECOND} \
             frames a second, encoded at their true length with the encoder's position table \
             sliced to it (transformers takes only the full 2 x max_source_positions frames: \
             30 s for the published checkpoints); the decoder reads a fixed \
             {prefix}-token prefix.{tokens}"
        ));
    }
    match metric {
        Metric::Speed => {
            notes.push(format!("Time: {}.", settings.protocol.describe()));
            notes.push(
                "95% CI: the larger distance from the median to an end of its 95% confidence \
                 interval (order statistics), relative to the median."
                    .into(),
            );
            notes.push(
                "GFLOP/s: matrix-product FLOPs of one call (training: 3 x forward) per second."
                    .into(),
            );
            notes.push(mfu_note(sweep, rows, above_ceiling));
            if imprecise > 0 {
                notes.push(format!(
                    "!{imprecise} imprecise figure(s): the interval did not reach the --precision \
                     target before --max-time; rerun with a larger --max-time, or on a quieter \
                     machine."
                ));
            }
            if noisy > 0 {
                notes.push(format!(
                    "*{noisy} noisy figure(s): interquartile range above {:.0}% of the median; \
                     rerun with a larger --min-time, or on a quieter machine.",
                    100.0 * NOISY_IQR_RATIO
                ));
            }
            notes.extend(busy_note(busy));
        }
        Metric::Memory if gpu => notes.push(
            "Memory in MB: NVML used memory of the whole GPU after one call (the original's \
             figure); Process MB: NVML memory of the measuring process; Peak allocated/reserved: \
             the caching allocator's peaks during the call. MiB."
                .into(),
        ),
        Metric::Memory => {
            notes.push(
                "Memory in MB: peak resident memory (VmHWM) of the measuring process during one \
                 call, weights and the framework's library included; Increase MB: its growth during the call \
                 (activations, gradients, optimizer state). MiB."
                    .into(),
            );
            let xla = |(cell, _): &&Row| cell.settings.framework == Framework::TensorflowXla;
            if rows.iter().any(xla) {
                notes.push(
                    "tensorflow-xla: XLA compiles in a first call, made in the build, whose \
                     buffers stay resident; the measured call reuses them, so its Increase MB \
                     is near zero and Memory in MB is the figure to compare."
                        .into(),
                );
            }
        }
    }
    notes
}

/// Where the table has no Framework column (the sweep ran one framework) and that framework
/// is not the default, a note naming it: the table would not say whose figures it holds.
fn framework_note(rows: &[&Row], axes: &Axes) -> Option<String> {
    let framework = rows.first()?.0.settings.framework;
    (!axes.framework_varies() && framework != Framework::Pytorch)
        .then(|| format!("Framework: every row ran with {framework} (--framework)."))
}

/// MFU above this share of the ceiling says the ceiling, not the cell, is wrong: timing noise
/// moves a figure by percents, not by a tenth.
const ABOVE_CEILING: f64 = 1.1;

/// What MFU is over: the calibration of the rows' dtype and threads, each named where the
/// section holds several; and, where `above` rows pass 100% by more than noise, that the
/// ceiling was measured low and how to measure it again.
fn mfu_note(sweep: &Sweep, rows: &[&super::Row], above: usize) -> String {
    let note = ceiling_note(sweep, rows);
    match above {
        0 => note,
        n => format!(
            "{note} {n} row(s) above {:.0}%: the ceiling was measured low (another process \
             took the CPU while it ran, or a cached figure from such a run), so every MFU here \
             reads high; rerun with --recalibrate on a quiet machine.",
            100.0 * ABOVE_CEILING
        ),
    }
}

/// "MFU: GFLOP/s over ...": the ceilings the section's rows are divided by.
fn ceiling_note(sweep: &Sweep, rows: &[&super::Row]) -> String {
    let mut variants: Vec<&crate::cell::Settings> = Vec::new();
    for (cell, _) in rows {
        let key = crate::cell::Calibration::of(&cell.settings);
        if !(variants.iter()).any(|v| crate::cell::Calibration::of(v) == key) {
            variants.push(&cell.settings);
        }
    }
    let device = sweep.settings.device;
    match variants[..] {
        [] | [_] => {
            let settings = variants.first().copied().unwrap_or(&sweep.settings);
            match sweep.calibration_for(settings) {
                Some(c) => format!(
                    "MFU: GFLOP/s over {:.1} GFLOP/s, the fastest {n}x{n} {dtype:?} matmul on {device}.",
                    c.flops_per_second / 1e9,
                    n = c.size,
                    dtype = settings.dtype,
                ),
                None => "MFU: N/A, the matmul calibration failed.".into(),
            }
        }
        _ => {
            let axes = sweep.axes();
            let each: Vec<String> = (variants.iter())
                .map(|v| {
                    let figure = match sweep.calibration_for(v) {
                        Some(c) => format!(
                            "{:.1} GFLOP/s ({n}x{n})",
                            c.flops_per_second / 1e9,
                            n = c.size
                        ),
                        None => "N/A (the calibration failed)".into(),
                    };
                    format!("{}: {figure}", axes.describe(v).trim())
                })
                .collect();
            format!(
                "MFU: GFLOP/s over the fastest matmul on {device} in the row's own dtype and \
                 threads: {}.",
                each.join("; ")
            )
        }
    }
}

/// Notes for a model section whose cells took text: where the text came from, and for each
/// model, batch size and sequence length, the share of padding.
pub fn input_notes(rows: &[&Row]) -> Vec<String> {
    let mut notes = Vec::new();
    let mut seen = Vec::new();
    for (cell, _) in rows {
        let Inputs::Text(text) = &cell.inputs else {
            continue;
        };
        if notes.is_empty() {
            notes.push(format!(
                "Text inputs: batch row i is passage i of {} ({} passages), through the model's \
                 tokenizer, truncated or padded on the right to the sequence length; padding \
                 ({}) is masked out by the attention mask. Tokens/s counts padding tokens too.",
                text.text.display(),
                text.passages,
                text.pad_token
            ));
        }
        let key = (&cell.model, cell.batch_size, cell.sequence_length);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let total = (cell.batch_size * cell.sequence_length) as u64;
        let mut note = format!(
            "Padding {} (batch {}, sequence {}): {} of {total} tokens ({:.1}%); {} of {} rows truncated",
            cell.model,
            cell.batch_size,
            cell.sequence_length,
            text.padding_tokens,
            100.0 * text.padding_tokens as f64 / total as f64,
            text.truncated_rows,
            cell.batch_size,
        );
        if text.cycled {
            note.push_str(&format!(
                "; the text has only {} passages, so they repeat",
                text.passages
            ));
        }
        note.push('.');
        notes.push(note);
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_column_names_every_kind_of_size_in_a_fixed_order() {
        let audio = InputKind::Audio {
            mel_bins: 80,
            decoder_tokens: 4,
        };
        let pixels = InputKind::Pixels {
            channels: 3,
            patch_size: 16,
        };
        assert_eq!(size_column([audio, audio].into_iter()), "Audio Length (s)");
        assert_eq!(
            size_column([audio, InputKind::Tokens, pixels].into_iter()),
            "Seq Length / Image Size / Audio Length (s)"
        );
        assert_eq!(size_column(std::iter::empty()), "Seq Length");
    }
}

//! `--profile`'s breakdowns: per profiled cell, the top parts with their share of the call,
//! the parts summed by kind, and what profiling cost against the unprofiled call. The
//! terminal and the Markdown export render the same content.

use super::{header, Row, Sweep};
use crate::cell::{Cell, CellResult};
use crate::measure::profile::{MemorySource, Profile};

/// Parts listed one by one; the rest are summed into one line.
pub const TOP: usize = 10;

/// What one cell's breakdown shows, whatever renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    pub title: String,
    /// The top parts (largest first, the rest summed), the parts summed by kind, and with
    /// `--profile-trace` libtorch's top operators.
    pub tables: Vec<Table>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The profiled cells of a sweep, in the order they ran.
pub fn profiled(rows: &[Row]) -> Vec<(&Cell, &Profile)> {
    rows.iter()
        .filter_map(|(cell, result)| match result {
            CellResult::Speed(speed) => speed.profile.as_deref().map(|p| (cell, p)),
            _ => None,
        })
        .collect()
}

pub fn build(cell: &Cell, profile: &Profile) -> Breakdown {
    let mode = cell.mode.heading();
    let total = profile.parts_seconds();
    let share = |s: f64| format!("{:.1}%", 100.0 * s / total);
    let mut entries: Vec<_> = profile.entries.iter().collect();
    entries.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    let mut top: Vec<Vec<String>> = entries
        .iter()
        .take(TOP)
        .map(|e| {
            vec![
                e.path.clone(),
                e.part.label().to_string(),
                format_time(e.seconds),
                share(e.seconds),
                format_bytes(e.kept_bytes),
            ]
        })
        .collect();
    if entries.len() > TOP {
        let rest = &entries[TOP..];
        let seconds: f64 = rest.iter().map(|e| e.seconds).sum();
        top.push(vec![
            format!("({} more parts)", rest.len()),
            String::new(),
            format_time(seconds),
            share(seconds),
            String::new(),
        ]);
    }
    let by_kind = profile
        .by_part()
        .into_iter()
        .map(|(part, seconds, bytes)| {
            vec![
                part.label().to_string(),
                format_time(seconds),
                share(seconds),
                format_bytes(bytes),
            ]
        })
        .collect();
    let source = match profile.memory {
        MemorySource::Heap => "the C heap's bytes in use (mallinfo2)",
        MemorySource::Allocator => "the CUDA caching allocator's allocated bytes",
    };
    let notes = vec![
        format!(
            "Time: median over {} profiled calls of each part's own seconds (its sub-parts \
             excluded), the device synchronised at every boundary; share: of the parts' sum, {}.",
            profile.profiled_samples.len(),
            format_time(total)
        ),
        format!(
            "Profiling cost: profiled call {} (of which {} the recorder's readings), unprofiled \
             call {} (medians of {} calls alternated with them): {:+.1}%; {} parts recorded per \
             call; the parts' medians sum to {:+.1}% against the unprofiled call (on a loaded \
             machine, medians of parts and of whole calls drift apart).",
            format_time(profile.profiled_seconds),
            format_time(profile.recorder_seconds),
            format_time(profile.call_seconds),
            profile.call_samples.len(),
            100.0 * profile.overhead(),
            profile.scopes_per_call,
            100.0 * (total / profile.call_seconds - 1.0),
        ),
        format!(
            "Kept: median bytes a part allocated and still held when it returned, its sub-parts \
             included (a layer's contains its attention's and MLP's), from {source}; negative \
             where it freed more."
        ),
    ];
    let columns = |first: &str| {
        [first, "Kind", "Time", "Share", "Kept"]
            .map(String::from)
            .to_vec()
    };
    let mut tables = vec![
        Table {
            columns: columns("Part"),
            rows: top,
        },
        Table {
            columns: ["By kind", "Time", "Share", "Kept"]
                .map(String::from)
                .to_vec(),
            rows: by_kind,
        },
    ];
    let mut notes = notes;
    if let Some(ops) = &profile.operators {
        for (label, list, total) in [
            ("CPU operator", &ops.cpu, ops.cpu_self_seconds),
            (
                "GPU kernel",
                &ops.gpu,
                ops.gpu.iter().map(|o| o.self_seconds).sum(),
            ),
        ] {
            if list.is_empty() {
                continue;
            }
            tables.push(Table {
                columns: [label, "Calls", "Self", "Total", "Share"]
                    .map(String::from)
                    .to_vec(),
                rows: list
                    .iter()
                    .take(TOP)
                    .map(|o| {
                        vec![
                            o.name.clone(),
                            o.calls.to_string(),
                            format_time(o.self_seconds),
                            format_time(o.total_seconds),
                            format!("{:.1}%", 100.0 * o.self_seconds / total),
                        ]
                    })
                    .collect(),
            });
        }
        notes.push(format!(
            "Operators: libtorch's profiler over one more call ({}, profiler included, {} \
             events); self: time in the operator less the operators it called; share: of all \
             CPU operators' self time, {}.{}",
            format_time(ops.call_seconds),
            ops.events,
            format_time(ops.cpu_self_seconds),
            match &ops.trace {
                Some(path) => format!(
                    " Trace: {} (chrome://tracing, ui.perfetto.dev).",
                    path.display()
                ),
                None => String::new(),
            }
        ));
    }
    Breakdown {
        title: format!(
            "{mode} - PROFILE - {} (batch {}, sequence {})",
            cell.model, cell.batch_size, cell.sequence_length
        ),
        tables,
        notes,
    }
}

/// Prints every profiled cell's breakdown, as the sections are printed: tables fitted to the
/// terminal (cells wrap), notes wrapped at word boundaries; files and pipes get whole lines.
pub fn print(out: &mut dyn std::io::Write, sweep: &Sweep) -> std::io::Result<()> {
    let width = crate::console::stdout_width();
    for (cell, profile) in profiled(&sweep.rows) {
        let b = build(cell, profile);
        writeln!(out, "\n{}", header("PROFILE"))?;
        writeln!(out, "{}", crate::console::wrap(&b.title, width))?;
        for t in &b.tables {
            let text_columns: Vec<usize> = if t.columns[1] == "Kind" {
                vec![0, 1]
            } else {
                vec![0]
            };
            let (table, _) = super::table::fitted(&t.columns, &t.rows, 0, &text_columns, width);
            writeln!(out, "{table}")?;
        }
        for note in &b.notes {
            writeln!(out, "{}", crate::console::wrap(note, width))?;
        }
    }
    Ok(())
}

/// Seconds with a unit that keeps three significant digits: `812 µs`, `12.3 ms`, `1.23 s`
/// (the tables' units, one digit fewer: a part's share matters more than its last digit).
pub fn format_time(seconds: f64) -> String {
    super::format_seconds(seconds, 3)
}

/// Signed bytes in binary units: `-233 KiB`, `1.50 MiB`, `64 B`.
pub fn format_bytes(bytes: i64) -> String {
    let b = bytes as f64;
    let (value, unit) = match b.abs() {
        a if a >= (1u64 << 30) as f64 => (b / (1u64 << 30) as f64, "GiB"),
        a if a >= (1u64 << 20) as f64 => (b / (1u64 << 20) as f64, "MiB"),
        a if a >= 1024.0 => (b / 1024.0, "KiB"),
        _ => return format!("{bytes} B"),
    };
    match value.abs() {
        v if v >= 100.0 => format!("{value:.0} {unit}"),
        v if v >= 10.0 => format!("{value:.1} {unit}"),
        _ => format!("{value:.2} {unit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_keep_three_digits() {
        assert_eq!(format_time(0.000_812), "812 µs");
        assert_eq!(format_time(0.012_34), "12.3 ms");
        assert_eq!(format_time(1.234), "1.23 s");
        assert_eq!(format_bytes(64), "64 B");
        assert_eq!(format_bytes(-238_848), "-233 KiB");
        assert_eq!(format_bytes(3 << 19), "1.50 MiB");
    }
}

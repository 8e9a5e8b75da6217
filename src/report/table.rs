//! Bordered tables on stdout, one per section, the original's headers above them.

use super::section::Section;
use super::{header, Sweep};
use crate::cell::{Metric, Mode};
use crate::console;
use comfy_table::{
    presets::ASCII_FULL_CONDENSED, CellAlignment, ColumnConstraint, ContentArrangement, Table,
    Width,
};
use std::io::{self, Write};

/// Prints one section: its header, the table, what the figure is, and the N/A reasons.
pub fn print_section(
    out: &mut dyn Write,
    sweep: &Sweep,
    mode: Mode,
    metric: Metric,
) -> io::Result<()> {
    let section = super::section::build(sweep, mode, metric);
    write_section(out, &section, console::stdout_width())
}

fn write_section(out: &mut dyn Write, section: &Section, width: Option<usize>) -> io::Result<()> {
    write_titled_table(
        out,
        &section.title(),
        &section.columns,
        section.optional,
        &section.rows,
        section.notes.iter().chain(&section.not_available),
        width,
    )
}

/// A section in the original's layout: the title between rules, a bordered table with the
/// first column left-aligned and the figures right-aligned, fitted to `width` (the last
/// `optional` columns may be left out, with a note), then its notes, wrapped, one per line.
pub fn write_titled_table<'a>(
    out: &mut dyn Write,
    title: &str,
    columns: &[String],
    optional: usize,
    rows: &[Vec<String>],
    notes: impl Iterator<Item = &'a String>,
    width: Option<usize>,
) -> io::Result<()> {
    writeln!(out, "\n{}", header(title))?;
    let (table, dropped, shown) = fit(columns, rows, optional, &[0], width);
    writeln!(out, "{table}")?;
    for line in notes_for(notes, columns, &shown) {
        writeln!(out, "{}", console::wrap(line, width))?;
    }
    if !dropped.is_empty() {
        let note = format!(
            "Left out to fit {} columns: {} (a wider terminal, COLUMNS=200 or --export-markdown \
             shows them).",
            width.unwrap_or_default(),
            dropped.join(", ")
        );
        writeln!(out, "{}", console::wrap(&note, width))?;
    }
    Ok(())
}

/// The notes under a table that concern what it shows, each once: a note about a column (its
/// subject, the text before its first `:`, names it: `95% CI: ...`, `Time: ...` for `Time
/// (median)`, `ITL: ...` for `ITL p50`) is left out with its column (left out to fit, or
/// empty); notes on no column (N/A reasons, inputs, the machine) are always kept.
pub fn notes_for<'a>(
    notes: impl Iterator<Item = &'a String>,
    columns: &[String],
    shown: &[String],
) -> Vec<&'a String> {
    let mut kept: Vec<&String> = Vec::new();
    for note in notes {
        if kept.contains(&note) {
            continue;
        }
        let about = note_columns(note, columns);
        if about.is_empty() || about.iter().any(|c| shown.contains(c)) {
            kept.push(note);
        }
    }
    kept
}

/// The columns (of `columns`) a note is about, from its subject; none for a note on no column.
fn note_columns<'c>(note: &str, columns: &'c [String]) -> Vec<&'c String> {
    let Some((subject, _)) = note.split_once(": ") else {
        return Vec::new();
    };
    // "Bandwidth ceiling (f32, 4 threads)": the subject without what it is for.
    let subject = subject.split(" (").next().unwrap_or(subject).trim();
    // Subjects that explain figures of other columns: the traffic behind the roofline
    // figures, and the ITL percentiles' short-sample remark.
    const ROOFLINE: [&str; 4] = ["GB/s", "MBU", "Decode MBU", "Bound"];
    const ITL: [&str; 3] = ["ITL p50", "ITL p90", "ITL p99"];
    let related: &[&str] = match subject {
        "GB/s" | "Bandwidth ceiling" => &ROOFLINE,
        "MBU" => &ROOFLINE[1..],
        "Decode MBU" => &ROOFLINE[2..],
        "ITL" | "ITL N/A" => &ITL,
        _ => &[],
    };
    (columns.iter())
        .filter(|c| {
            related.contains(&c.as_str())
                || c.as_str() == subject
                || c.strip_prefix(subject)
                    .is_some_and(|rest| rest.starts_with(' '))
        })
        .collect()
}

/// A table of `rows` fitted to `width`: the last `optional` columns are left out, rightmost
/// first, until it can fit (or none is left), then headers and names wrap. Returns the table and the names of
/// the columns left out. Without a width, everything is kept on one line per row.
pub fn fitted(
    columns: &[String],
    rows: &[Vec<String>],
    optional: usize,
    left: &[usize],
    width: Option<usize>,
) -> (Table, Vec<String>) {
    let (table, dropped, _) = fit(columns, rows, optional, left, width);
    (table, dropped)
}

/// [`fitted`], also returning the columns the table shows (not those left out, nor those no
/// row fills).
fn fit(
    columns: &[String],
    rows: &[Vec<String>],
    optional: usize,
    left: &[usize],
    width: Option<usize>,
) -> (Table, Vec<String>, Vec<String>) {
    let Some(limit) = width else {
        let mut table = new(columns, None);
        for row in rows {
            table.add_row(row);
        }
        align(&mut table, left);
        return (table, Vec::new(), columns.to_vec());
    };
    // A column no row fills (an interval no cell has) is the first to go, unsaid.
    let filled = |i: usize| {
        i == 0
            || rows
                .iter()
                .any(|r| r.get(i).is_some_and(|c| !c.trim().is_empty()))
    };
    let shown: Vec<usize> = (0..columns.len()).filter(|&i| filled(i)).collect();
    let first_optional = columns.len() - optional.min(columns.len());
    let optional = shown.iter().filter(|&&i| i >= first_optional).count();
    let left: Vec<usize> = (shown.iter().enumerate())
        .filter(|(_, i)| left.contains(i))
        .map(|(at, _)| at)
        .collect();
    let left = &left[..];
    let columns: Vec<String> = shown.iter().map(|&i| columns[i].clone()).collect();
    let mut rows: Vec<Vec<String>> = (rows.iter())
        .map(|r| {
            shown
                .iter()
                .map(|&i| r.get(i).cloned().unwrap_or_default())
                .collect()
        })
        .collect();
    // Names are elided rather than broken mid-token: the part after the last `/`, then `…`.
    elide_names(&mut rows, limit * 2 / 5);
    let build = |keep: usize, width: Option<usize>, rows: &[Vec<String>]| {
        let mut table = new(&columns[..keep], width);
        for row in rows {
            table.add_row(row.iter().take(keep));
        }
        align(&mut table, left);
        table
    };
    let natural = |table: &Table| {
        table
            .lines()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or_default()
    };
    // The least width a column can take: figures are never broken (a number over two lines
    // is no number) but their headers wrap at spaces; text (names, verdicts) wraps at spaces
    // and the first column, names, down to two fifths of the width.
    let floors: Vec<usize> = (0..columns.len())
        .map(|index| {
            let cells = || rows.iter().filter_map(|r| r.get(index));
            let longest_word = cells()
                .chain(std::iter::once(&columns[index]))
                .flat_map(|c| c.split_whitespace())
                .map(|w| w.chars().count())
                .max()
                .unwrap_or_default();
            let longest = cells().map(|c| c.chars().count()).max().unwrap_or_default();
            match index {
                0 => longest.max(longest_word).min(limit * 2 / 5),
                i if left.contains(&i) => longest_word.min(limit / 4),
                _ => longest.max(longest_word),
            }
        })
        .collect();
    // Each column adds its padding (2) and a border (1), plus the table's left border.
    let least = |keep: usize| floors[..keep].iter().map(|f| f + 3).sum::<usize>() + 1;
    let mut keep = columns.len();
    while keep > columns.len() - optional.min(columns.len()) && least(keep) > limit {
        keep -= 1;
    }
    // What the other columns leave the names, when even their floors do not fit.
    let others = least(keep) - (floors[0] + 3);
    let room = limit.saturating_sub(others + 3).max(6);
    if room < floors[0] {
        elide_names(&mut rows, room);
    }
    let mut table = build(keep, Some(limit), &rows);
    if room < floors[0] {
        let name_width = Width::Fixed((room + 2).min(u16::MAX as usize) as u16);
        if let Some(column) = table.column_mut(0) {
            column.set_constraint(ColumnConstraint::Absolute(name_width));
        }
    }
    if natural(&build(keep, None, &rows)) > limit {
        // Where even the floors do not fit, text gives way (it may break mid-word); figures
        // still do not.
        let text_gives_way = least(keep) > limit;
        for (index, floor) in floors.iter().enumerate().take(keep) {
            if text_gives_way && (index == 0 || left.contains(&index)) {
                continue;
            }
            // The boundary counts the cell's padding, one space each side.
            let floor = (floor + 2).min(u16::MAX as usize) as u16;
            if let Some(column) = table.column_mut(index) {
                column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(floor)));
            }
        }
    }
    (table, columns[keep..].to_vec(), columns[..keep].to_vec())
}

/// Shortens each first-column name longer than `room`: the part after its last `/`, then cut
/// with `…`.
fn elide_names(rows: &mut [Vec<String>], room: usize) {
    for name in rows.iter_mut().filter_map(|r| r.first_mut()) {
        if name.chars().count() <= room {
            continue;
        }
        let tail = name.rsplit('/').next().unwrap_or(name).to_string();
        *name = match tail.chars().count() <= room {
            true => tail,
            false => tail
                .chars()
                .take(room.saturating_sub(1))
                .chain(['…'])
                .collect(),
        };
    }
}

/// A bordered table fitted to `width` (cells wrap, at word boundaries where they can), or as
/// wide as its content when there is no width (a file or pipe).
pub fn new<T: ToString>(header: &[T], width: Option<usize>) -> Table {
    let mut table = Table::new();
    table
        .load_preset(ASCII_FULL_CONDENSED)
        .set_header(header.iter().map(ToString::to_string));
    if let Some(width) = width {
        table
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width.min(u16::MAX as usize) as u16);
    }
    table
}

/// Numbers right-aligned: every column but the `left` ones.
pub fn align(table: &mut Table, left: &[usize]) {
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_cell_alignment(if left.contains(&index) {
            CellAlignment::Left
        } else {
            CellAlignment::Right
        });
    }
}

/// The environment information as a two-column table.
pub fn print_environment(out: &mut dyn Write, info: &[(String, String)]) -> io::Result<()> {
    writeln!(out, "\n{}", header("ENVIRONMENT INFORMATION"))?;
    let mut table = new(&["Key", "Value"], console::stdout_width());
    for (key, value) in info {
        table.add_row([key, value]);
    }
    writeln!(out, "{table}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section() -> Section {
        Section {
            mode: Mode::Inference,
            metric: Metric::Speed,
            columns: ["Model Name", "Batch Size", "Seq Length", "Time (median)", "Samples/s", "Tokens/s", "GFLOP/s", "MFU"]
                .map(String::from)
                .to_vec(),
            optional: 4,
            rows: vec![["google-bert/bert-base-uncased", "8", "128", "573.2 ms", "13.96", "1787", "234.5", "41.2%"]
                .map(String::from)
                .to_vec()],
            notes: vec!["Memory in MB: peak resident memory (VmHWM) of the measuring process during one call, weights and libtorch included; Increase MB: its growth during the call.".into()],
            not_available: Vec::new(),
        }
    }

    fn render_with(width: Option<usize>) -> String {
        let mut out = Vec::new();
        write_section(&mut out, &section(), width).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_narrow_terminal_gets_a_fitted_table_and_wrapped_notes() {
        let text = render_with(Some(80));
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
        assert!(
            text.contains("573.2 ms"),
            "the figure itself is kept: {text}"
        );
        assert!(!text.contains("MFU |"), "{text}");
        // Headers wrap before a figure is dropped; the rightmost derived ones go first.
        assert!(
            text.contains("Left out to fit 80 columns: Tokens/s, GFLOP/s, MFU"),
            "{text}"
        );
        assert!(text.contains("13.96"), "Samples/s is kept: {text}");
        // No figure is broken over two lines.
        for figure in ["573.2 ms", "13.96", "128"] {
            assert!(text.contains(figure), "{figure} broken: {text}");
        }
        // Wrapped at word boundaries: every word of the note is whole on some line.
        let words: Vec<&str> = text.split_whitespace().collect();
        for word in ["resident", "libtorch", "included;"] {
            assert!(words.contains(&word), "{word} broken: {text}");
        }
        let wide = render_with(Some(160));
        assert!(wide.contains("| MFU |") || wide.contains("MFU |"), "{wide}");
        assert!(!wide.contains("Left out"), "{wide}");
    }

    #[test]
    fn without_a_width_lines_are_kept_whole() {
        let text = render_with(None);
        assert!(text.contains(&section().notes[0]), "{text}");
        assert!(text.contains("| 41.2% |"), "{text}");
    }

    #[test]
    fn notes_follow_the_columns_shown_and_come_once() {
        let mut section = section();
        // No row has an interval: the column goes unsaid, and so does its note.
        section.columns.insert(4, "95% CI".into());
        section.rows[0].insert(4, String::new());
        section.notes = [
            "Time: the median of the timed calls.",
            "95% CI: the larger distance from the median to an end of its interval.",
            "GFLOP/s: matrix-product FLOPs of one call per second.",
            "MFU: GFLOP/s over 100.0 GFLOP/s, the fastest matmul.",
            "Text inputs: passage i of a.txt; padding is masked out.",
            "Time: the median of the timed calls.",
        ]
        .map(String::from)
        .to_vec();
        section.optional = 5;
        let render_with = |width: Option<usize>| {
            let mut out = Vec::new();
            write_section(&mut out, &section, width).unwrap();
            String::from_utf8(out).unwrap()
        };
        let narrow = render_with(Some(80));
        assert!(narrow.contains("Left out to fit 80 columns:"), "{narrow}");
        assert!(!narrow.contains("MFU |"), "{narrow}");
        assert!(!narrow.contains("95% CI"), "{narrow}");
        assert!(
            !narrow.contains("MFU:"),
            "the note of a column left out: {narrow}"
        );
        assert_eq!(narrow.matches("Time: the median").count(), 1, "{narrow}");
        // Notes on no column stay.
        assert!(narrow.contains("Text inputs:"), "{narrow}");
        // Samples/s is shown; GFLOP/s too where it fits.
        let wide = render_with(Some(160));
        assert!(wide.contains("MFU:") && wide.contains("GFLOP/s:"), "{wide}");
        assert!(!wide.contains("95% CI"), "{wide}");
        assert_eq!(wide.matches("Time: the median").count(), 1, "{wide}");
    }

    #[test]
    fn a_note_is_about_the_columns_its_subject_names() {
        let columns: Vec<String> = [
            "Model Name",
            "Time (median)",
            "GB/s",
            "MBU",
            "Bound",
            "ITL p50",
            "ITL p90",
        ]
        .map(String::from)
        .to_vec();
        let about = |note: &str| -> Vec<String> {
            note_columns(note, &columns).into_iter().cloned().collect()
        };
        assert_eq!(about("Time: adaptive"), ["Time (median)"]);
        assert_eq!(about("MBU: GB/s over the ceiling"), ["MBU", "Bound"]);
        assert_eq!(
            about("Bandwidth ceiling (f32): read 5 GB/s"),
            ["GB/s", "MBU", "Bound"]
        );
        assert_eq!(about("ITL N/A: too few gaps"), ["ITL p50", "ITL p90"]);
        assert!(about("N/A bert (batch 8, sequence 8): out of memory").is_empty());
        assert!(about("Padding bert (batch 8, sequence 8): 3 of 64").is_empty());
        assert!(about("No subject here.").is_empty());
    }
}

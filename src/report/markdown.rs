//! The Markdown export: one table per section with the terminal tables' columns, their notes
//! and N/A reasons, then the environment, ready to paste into an issue or a pull request.

use super::profile::{self, Breakdown};
use super::section::{self, Section};
use super::Sweep;
use std::fmt::Write;

/// Escapes what Markdown would read as table borders, emphasis, code or HTML.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '|' | '*' | '`' => {
                out.push('\\');
                out.push(c);
            }
            '<' if chars.peek().is_some_and(|n| !n.is_whitespace()) => out.push_str("&lt;"),
            c => out.push(c),
        }
    }
    out
}

/// A table; numbers right-aligned when `numeric`, every column but the first.
pub(super) fn table(out: &mut String, columns: &[String], rows: &[Vec<String>], numeric: bool) {
    let line = |cells: &mut dyn Iterator<Item = String>| {
        let cells: Vec<String> = cells.collect();
        format!("| {} |\n", cells.join(" | "))
    };
    out.push_str(&line(&mut columns.iter().map(|c| escape(c))));
    out.push_str(&line(&mut (0..columns.len()).map(|i| {
        if i == 0 || !numeric { ":---" } else { "---:" }.to_string()
    })));
    for row in rows {
        out.push_str(&line(&mut row.iter().map(|c| escape(c))));
    }
}

fn section(out: &mut String, section: &Section) {
    let _ = writeln!(out, "\n## {}\n", section.title());
    table(out, &section.columns, &section.rows, true);
    if section.rows.is_empty() {
        out.push_str("\nNo cell of this section has finished.\n");
    }
    if !section.notes.is_empty() || !section.not_available.is_empty() {
        out.push('\n');
        let notes = section.notes.iter().chain(&section.not_available);
        // Every column is shown: only repeated notes go.
        for line in super::table::notes_for(notes, &section.columns, &section.columns) {
            let _ = writeln!(out, "- {}", escape(line));
        }
    }
}

/// One `--profile` breakdown: the top parts, the kinds, the operators.
fn breakdown(out: &mut String, b: &Breakdown) {
    let _ = writeln!(out, "\n## {}\n", escape(&b.title));
    for t in &b.tables {
        table(out, &t.columns, &t.rows, true);
        out.push('\n');
    }
    for line in &b.notes {
        let _ = writeln!(out, "- {}", escape(line));
    }
}

/// The whole export.
pub fn render(sweep: &Sweep) -> String {
    let mut out = String::from("# run-benchmark results\n");
    let settings = &sweep.settings;
    // Every dtype of the rows, where a sweep crossed several.
    let dtypes = match sweep.axes().dtypes[..] {
        [] | [_] => format!("{:?}", settings.dtype),
        ref several => (several.iter().map(|d| format!("{d:?}")))
            .collect::<Vec<_>>()
            .join(" and "),
    };
    let _ = writeln!(
        out,
        "\n{} cell(s) on {}, {dtypes}, run-benchmark {}.",
        sweep.rows.len(),
        settings.device,
        env!("CARGO_PKG_VERSION")
    );
    for (mode, metric) in sweep.sections() {
        section(&mut out, &section::build(sweep, mode, metric));
    }
    for (cell, p) in profile::profiled(&sweep.rows) {
        breakdown(&mut out, &profile::build(cell, p));
    }
    if let Some(t) = super::tokenization::build(sweep) {
        let _ = writeln!(out, "\n## {}\n", super::tokenization::TITLE);
        table(&mut out, &t.columns, &t.rows, true);
        out.push('\n');
        for line in t.notes.iter().chain(&t.not_available) {
            let _ = writeln!(out, "- {}", escape(line));
        }
    }
    if !sweep.environment.is_empty() {
        out.push_str("\n## ENVIRONMENT INFORMATION\n\n");
        let rows: Vec<Vec<String>> = sweep
            .environment
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        table(&mut out, &["Key".into(), "Value".into()], &rows, false);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_escaped() {
        assert_eq!(escape("a|b *c* d_e"), "a\\|b \\*c\\* d_e");
        assert_eq!(escape("< 0.001 <b>"), "< 0.001 &lt;b>");
    }

    #[test]
    fn a_table_has_a_separator_line_and_right_aligned_numbers() {
        let mut out = String::new();
        table(
            &mut out,
            &["Model Name".into(), "Batch Size".into()],
            &[vec!["bert".into(), "8".into()]],
            true,
        );
        assert_eq!(
            out,
            "| Model Name | Batch Size |\n| :--- | ---: |\n| bert | 8 |\n"
        );
    }
}

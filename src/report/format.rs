//! What the report sections share, whichever renders them: a section's content, the
//! busy-machine mark and note, and how rates are written.

use super::title;
use crate::cell::{Metric, Mode};

/// Marks a figure measured while other processes took CPU.
pub const BUSY_MARK: &str = " ~";

/// What one section shows, whatever renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub mode: Mode,
    pub metric: Metric,
    pub columns: Vec<String>,
    /// How many of the last columns a narrow terminal may leave out (derived figures).
    pub optional: usize,
    /// One line per finished cell, in the order they ran; N/A cells leave the rest empty.
    pub rows: Vec<Vec<String>>,
    /// What the figures are.
    pub notes: Vec<String>,
    /// `N/A model (batch b, sequence s): reason`, one per N/A cell.
    pub not_available: Vec<String>,
}

impl Section {
    pub fn title(&self) -> String {
        title(self.mode, self.metric)
    }
}

/// The note for the figures marked `~`, if any: how busy the machine was meanwhile.
pub fn busy_note(busy: &[crate::cell::Load]) -> Option<String> {
    let first = busy.first()?;
    let most = busy.iter().map(|l| l.other_cores).fold(0.0, f64::max);
    Some(format!(
        "~{} figure(s) measured on a busy machine: other processes took up to {most:.2} of {} \
         cores meanwhile, so these are slower than on a quiet one; rerun them when it is quiet.",
        busy.len(),
        first.cores
    ))
}

/// Rates with three significant digits' worth of precision.
pub fn format_rate(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

//! Each cell's figure over the stored runs, and which changes stand out.
//!
//! A cell's run-to-run spread is its typical change between consecutive runs: the median of
//! those changes (a median, so one regression does not widen it). A change is marked when it
//! is more than twice that spread, at least [`MIN_CHANGE`], and the two runs' 95% intervals
//! do not overlap (where both have one): a step the run-to-run noise does not explain, so a
//! user sees at which run, and commit, a regression came in. It takes three runs of a cell
//! (two changes) before any change can be marked.

use super::store::{CellKey, Figure, RunSummary};
use crate::cell::Metric;

/// Changes smaller than this are never marked (memory figures often do not move at all).
pub const MIN_CHANGE: f64 = 0.01;
/// A marked change exceeds this many times the cell's run-to-run spread.
pub const SPREAD_FACTOR: f64 = 2.0;

/// One run's figure of a cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub run: RunSummary,
    pub value: f64,
    pub interval: Option<(f64, f64)>,
    /// NEW / PREVIOUS - 1 against the cell's previous run.
    pub change: Option<f64>,
    pub marked: bool,
}

/// One cell's history.
#[derive(Debug, Clone, PartialEq)]
pub struct CellHistory {
    pub key: CellKey,
    pub metric: Metric,
    /// The statistic of its speed figures (`median`, `minimum`), as stored.
    pub statistic: Option<String>,
    pub points: Vec<Point>,
    /// The median change between consecutive runs (None with fewer than two changes).
    pub spread: Option<f64>,
}

/// The figures grouped by cell (in cell order), each cell's runs oldest first, with changes
/// and marks. Figures of a different statistic than the cell's first are left out (a
/// median and a minimum are not one line).
pub fn build(figures: Vec<Figure>, runs: &[RunSummary], metric: Metric) -> Vec<CellHistory> {
    let mut cells: Vec<CellHistory> = Vec::new();
    for figure in figures {
        let Some(run) = runs.iter().find(|r| r.id == figure.run) else {
            continue;
        };
        let point = Point {
            run: run.clone(),
            value: figure.value,
            interval: figure.interval,
            change: None,
            marked: false,
        };
        match cells.iter_mut().find(|c| c.key == figure.key) {
            Some(cell) if cell.statistic == figure.statistic => cell.points.push(point),
            Some(_) => {}
            None => cells.push(CellHistory {
                key: figure.key,
                metric,
                statistic: figure.statistic,
                points: vec![point],
                spread: None,
            }),
        }
    }
    cells.sort_by(|a, b| a.key.cmp(&b.key));
    for cell in &mut cells {
        mark(cell);
    }
    cells
}

/// A slowdown by r and a speed-up by 1/r are the same distance.
fn distance(change: f64) -> f64 {
    let ratio = 1.0 + change;
    ratio.max(1.0 / ratio) - 1.0
}

fn mark(cell: &mut CellHistory) {
    for i in 1..cell.points.len() {
        let (before, now) = (cell.points[i - 1].value, cell.points[i].value);
        if before > 0.0 {
            cell.points[i].change = Some(now / before - 1.0);
        }
    }
    let mut distances: Vec<f64> = (cell.points.iter())
        .filter_map(|p| p.change.map(distance))
        .collect();
    if distances.len() < 2 {
        return;
    }
    distances.sort_by(f64::total_cmp);
    let n = distances.len();
    let spread = match n % 2 {
        1 => distances[n / 2],
        _ => (distances[n / 2 - 1] + distances[n / 2]) / 2.0,
    };
    cell.spread = Some(spread);
    for i in 1..cell.points.len() {
        let Some(change) = cell.points[i].change else {
            continue;
        };
        let apart = match (cell.points[i - 1].interval, cell.points[i].interval) {
            (Some((lo_a, hi_a)), Some((lo_b, hi_b))) => hi_a < lo_b || hi_b < lo_a,
            _ => true,
        };
        let d = distance(change);
        cell.points[i].marked = apart && d > MIN_CHANGE && d > SPREAD_FACTOR * spread;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: i64) -> RunSummary {
        RunSummary {
            id,
            started: format!("2026-12-0{id}T00:00:00Z"),
            finished: None,
            interrupted: false,
            label: None,
            git_commit: Some(format!("{id:040}")),
            git_branch: None,
            source: "run".into(),
            cells: 1,
            baselines: Vec::new(),
        }
    }

    fn key() -> CellKey {
        CellKey {
            model: "m".into(),
            device: "cpu".into(),
            dtype: "f32".into(),
            threads: Some(1),
            batch_size: 1,
            sequence_length: 8,
            mode: "inference".into(),
            new_tokens: None,
            framework: "pytorch".into(),
            onnxruntime_level: None,
            routing: None,
        }
    }

    fn figures(values: &[f64]) -> Vec<Figure> {
        (values.iter().enumerate())
            .map(|(i, &value)| Figure {
                run: i as i64 + 1,
                key: key(),
                statistic: Some("median".into()),
                value,
                interval: Some((value * 0.99, value * 1.01)),
            })
            .collect()
    }

    #[test]
    fn a_step_beyond_the_run_to_run_spread_is_marked_and_noise_is_not() {
        let values = [1.0, 1.02, 0.99, 1.01, 1.25, 1.24, 1.26, 1.25];
        let runs: Vec<RunSummary> = (1..=8).map(run).collect();
        let cells = build(figures(&values), &runs, Metric::Speed);
        assert_eq!(cells.len(), 1);
        let marked: Vec<i64> = (cells[0].points.iter())
            .filter(|p| p.marked)
            .map(|p| p.run.id)
            .collect();
        assert_eq!(marked, vec![5], "{:?}", cells[0]);
        let spread = cells[0].spread.unwrap();
        assert!(spread > 0.005 && spread < 0.03, "{spread}");
    }

    #[test]
    fn two_runs_cannot_tell_a_change_from_noise() {
        let runs: Vec<RunSummary> = (1..=2).map(run).collect();
        let cells = build(figures(&[1.0, 2.0]), &runs, Metric::Speed);
        assert_eq!(cells[0].points[1].change, Some(1.0));
        assert!(!cells[0].points[1].marked);
        assert_eq!(cells[0].spread, None);
    }

    #[test]
    fn overlapping_intervals_are_not_marked() {
        let runs: Vec<RunSummary> = (1..=4).map(run).collect();
        let mut f = figures(&[1.0, 1.0, 1.0, 1.1]);
        f[3].interval = Some((0.9, 1.2));
        let cells = build(f, &runs, Metric::Speed);
        assert!(cells[0].points.iter().all(|p| !p.marked));
    }
}

//! Progress of a sweep on stderr: a bar with the current cell, cells done and an ETA on a
//! terminal; one `[i/n] cell: result` line per cell otherwise; nothing with `--quiet`. The
//! log file (`--log-print`) always gets the lines.

use crate::console;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::RefCell;
use std::time::{Duration, Instant};

pub enum Progress {
    Bar(ProgressBar, RefCell<Eta>),
    Lines,
    Quiet,
}

/// The time left, from the cells' estimates (`estimate::cell`) rather than from the cells'
/// count: cells differ in cost by orders of magnitude. Once cells have finished, the
/// estimate of the rest is scaled by how long the finished ones took against theirs.
#[derive(Debug, Clone)]
pub struct Eta {
    planned_s: f64,
    done_estimate_s: f64,
    started: Instant,
}

impl Eta {
    pub fn new(planned_s: f64) -> Eta {
        Eta {
            planned_s,
            done_estimate_s: 0.0,
            started: Instant::now(),
        }
    }

    /// A cell estimated at `estimate_s` finished.
    pub fn done(&mut self, estimate_s: f64) {
        self.done_estimate_s += estimate_s;
    }

    /// Seconds left.
    pub fn remaining_s(&self) -> f64 {
        let left = (self.planned_s - self.done_estimate_s).max(0.0);
        match self.done_estimate_s > 0.0 {
            true => left * (self.started.elapsed().as_secs_f64() / self.done_estimate_s),
            false => left,
        }
    }
}

fn format_eta(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

impl Progress {
    /// The kind of progress this run shows, for `total` cells to measure.
    pub fn new(total: usize, quiet: bool) -> Progress {
        if quiet {
            Progress::Quiet
        } else if console::stderr_is_interactive() {
            let template = if console::colours_allowed() {
                "{spinner:.green} [{bar:30.cyan/blue}] {pos}/{len} cells, {elapsed} elapsed, ETA {prefix}  {wide_msg}"
            } else {
                "{spinner} [{bar:30}] {pos}/{len} cells, {elapsed} elapsed, ETA {prefix}  {wide_msg}"
            };
            let style = ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("=> ");
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
                    .with_style(style);
            bar.enable_steady_tick(Duration::from_millis(250));
            console::set_bar(Some(bar.clone()));
            Progress::Bar(bar, RefCell::new(Eta::new(0.0)))
        } else {
            Progress::Lines
        }
    }

    /// The estimated seconds of all the cells to run; restarts the ETA.
    pub fn set_estimate(&self, planned_s: f64) {
        if let Progress::Bar(bar, eta) = self {
            *eta.borrow_mut() = Eta::new(planned_s);
            bar.set_prefix(format_eta(planned_s));
        }
    }

    /// A cell estimated at `estimate_s` is over (measured, N/A or skipped by the fit check).
    pub fn cell_done(&self, estimate_s: f64) {
        if let Progress::Bar(bar, eta) = self {
            let mut eta = eta.borrow_mut();
            eta.done(estimate_s);
            bar.set_prefix(format_eta(eta.remaining_s()));
        }
    }

    /// A line of its own (calibration, resuming); silent with `--quiet`.
    pub fn note(&self, text: &str) {
        match self {
            Progress::Quiet => {}
            _ => console::eprintln(text),
        }
    }

    /// A step before the cells (calibration) starts.
    pub fn task(&self, text: &str) {
        match self {
            Progress::Bar(bar, _) => bar.set_message(text.to_string()),
            Progress::Lines => console::eprint(text),
            Progress::Quiet => {}
        }
    }

    /// The step that started last ended with `result`.
    pub fn task_done(&self, text: &str, result: &str) {
        match self {
            Progress::Bar(..) => console::eprintln(&format!("{text}: {result}")),
            Progress::Lines => console::eprintln(&format!(": {result}")),
            Progress::Quiet => {}
        }
    }

    /// Cell `index` (from 1) of `total` starts.
    pub fn start(&self, index: usize, total: usize, cell: &str) {
        match self {
            Progress::Bar(bar, _) => bar.set_message(cell.to_string()),
            Progress::Lines => console::eprint(&format!("[{index}/{total}] {cell}")),
            Progress::Quiet => {}
        }
    }

    /// The cell that started last finished with `summary`.
    pub fn finish(&self, index: usize, total: usize, cell: &str, summary: &str) {
        match self {
            Progress::Bar(bar, _) => {
                console::log_only(&format!("[{index}/{total}] {cell}: {summary}\n"));
                bar.inc(1);
            }
            Progress::Lines => console::eprintln(&format!(": {summary}")),
            Progress::Quiet => {}
        }
    }

    /// The cell that started last was stopped.
    pub fn interrupted(&self) {
        if let Progress::Lines = self {
            console::eprintln(": interrupted");
        }
    }

    /// Removes the bar, so the tables follow on a clean screen.
    pub fn done(&self) {
        if let Progress::Bar(bar, _) = self {
            bar.finish_and_clear();
            console::set_bar(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_scales_the_estimates_by_the_observed_pace() {
        let mut eta = Eta::new(100.0);
        assert_eq!(eta.remaining_s(), 100.0);
        eta.started = Instant::now() - Duration::from_secs(20);
        // The first cell, estimated at 10 s, took 20 s: the other 90 s will take about 180.
        eta.done(10.0);
        assert!(
            (eta.remaining_s() - 180.0).abs() < 1.0,
            "{}",
            eta.remaining_s()
        );
        assert_eq!(format_eta(59.4), "59s");
        assert_eq!(format_eta(125.0), "2m 05s");
        assert_eq!(format_eta(7300.0), "2h 01m");
    }
}

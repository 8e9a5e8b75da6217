//! Progress of a sweep on stderr: a bar with the current cell, cells done and an ETA on a
//! terminal; one `[i/n] cell: result` line per cell otherwise; nothing with `--quiet`. The
//! log file (`--log-print`) always gets the lines.

use crate::console;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub enum Progress {
    Bar(ProgressBar, Arc<Mutex<Eta>>),
    Lines,
    Quiet,
}

/// The time left, from the cells' estimates (`estimate::cell`) rather than from the cells'
/// count: cells differ in cost by orders of magnitude. Once cells have finished, the
/// estimate of the rest is scaled by how long the finished ones took against theirs. It is
/// read at every redraw of the bar, so it counts down inside a cell, and a cell that runs
/// past its estimate makes it grow (rather than freeze at the cell's end).
#[derive(Debug, Clone)]
pub struct Eta {
    planned_s: f64,
    done_estimate_s: f64,
    /// Seconds from `started` to the end of the cell that finished last.
    done_elapsed_s: f64,
    started: Instant,
    /// The running cell: its estimate and when it started.
    current: Option<(f64, Instant)>,
    /// Cells whose end was counted while their group's child was still running
    /// ([`Progress::next_in_group`]); their `finish` does not count them again.
    counted_ahead: usize,
}

impl Eta {
    pub fn new(planned_s: f64) -> Eta {
        Eta {
            planned_s,
            done_estimate_s: 0.0,
            done_elapsed_s: 0.0,
            started: Instant::now(),
            current: None,
            counted_ahead: 0,
        }
    }

    /// A cell estimated at `estimate_s` starts.
    pub fn begin(&mut self, estimate_s: f64) {
        self.current = Some((estimate_s, Instant::now()));
    }

    /// A cell estimated at `estimate_s` finished.
    pub fn done(&mut self, estimate_s: f64) {
        self.done_estimate_s += estimate_s;
        self.done_elapsed_s = self.started.elapsed().as_secs_f64();
        self.current = None;
    }

    /// Seconds left.
    pub fn remaining_s(&self) -> f64 {
        let in_cell = self.current.map(|(e, t)| (e, t.elapsed().as_secs_f64()));
        self.remaining_with(in_cell)
    }

    /// Seconds left while the running cell, estimated at `.0`, has run `.1` seconds. The
    /// pace (seconds taken per estimated second) is the finished cells'; a cell that runs
    /// past its scaled estimate slows the pace of the rest with it, and is expected to run
    /// as long again as it has overrun (so the figure grows rather than sits at zero).
    fn remaining_with(&self, in_cell: Option<(f64, f64)>) -> f64 {
        let mut pace = match self.done_estimate_s > 0.0 {
            true => self.done_elapsed_s / self.done_estimate_s,
            false => 1.0,
        };
        let (estimate, ran) = in_cell.unwrap_or((0.0, 0.0));
        let expected = estimate * pace;
        let current_left = match ran > expected {
            true => {
                let spent = self.done_elapsed_s + ran;
                pace = pace.max(spent / (self.done_estimate_s + estimate).max(f64::EPSILON));
                ran - expected
            }
            false => expected - ran,
        };
        let rest = (self.planned_s - self.done_estimate_s - estimate).max(0.0);
        rest * pace + current_left
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
                "{spinner:.green} [{bar:30.cyan/blue}] {pos}/{len} cells, {elapsed} elapsed, ETA {eta_left}  {wide_msg}"
            } else {
                "{spinner} [{bar:30}] {pos}/{len} cells, {elapsed} elapsed, ETA {eta_left}  {wide_msg}"
            };
            let eta = Arc::new(Mutex::new(Eta::new(0.0)));
            let read = eta.clone();
            let style = ProgressStyle::with_template(template)
                .expect("a valid template")
                .with_key(
                    "eta_left",
                    move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let left = lock(&read).remaining_s();
                        let _ = w.write_str(&format_eta(left));
                    },
                )
                .progress_chars("=> ");
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
                    .with_style(style);
            bar.enable_steady_tick(Duration::from_millis(250));
            console::set_bar(Some(bar.clone()));
            Progress::Bar(bar, eta)
        } else {
            Progress::Lines
        }
    }

    /// The estimated seconds of all the cells to run; restarts the ETA.
    pub fn set_estimate(&self, planned_s: f64) {
        if let Progress::Bar(_, eta) = self {
            *lock(eta) = Eta::new(planned_s);
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

    /// Cell `index` (from 1) of `total`, estimated at `estimate_s`, starts; `cell` is its
    /// label, which names its mode and metric.
    pub fn start(&self, index: usize, total: usize, cell: &str, estimate_s: f64) {
        match self {
            Progress::Bar(bar, eta) => {
                // Begun already when its group's child moved on to it. (The lock is let go
                // before the bar is touched: the bar's redraw takes it too.)
                let begin = {
                    let mut eta = lock(eta);
                    let begin = eta.counted_ahead == 0;
                    if begin {
                        eta.begin(estimate_s);
                    }
                    begin
                };
                if begin {
                    bar.set_message(cell.to_string());
                }
            }
            Progress::Lines => console::eprint(&format!("[{index}/{total}] {cell}")),
            Progress::Quiet => {}
        }
    }

    /// The child running a group of cells (memory, then speed, on one built model) finished
    /// the cell estimated at `done_s` and began `next`, estimated at `next_s`: the bar says
    /// so at once (the lines wait for the group's end, each cell's line whole).
    pub fn next_in_group(&self, done_s: f64, next: &str, next_s: f64) {
        if let Progress::Bar(bar, eta) = self {
            {
                let mut eta = lock(eta);
                eta.done(done_s);
                eta.begin(next_s);
                eta.counted_ahead += 1;
            }
            bar.set_message(next.to_string());
        }
    }

    /// The cell that started last, estimated at `estimate_s`, finished with `summary`
    /// (measured, N/A or skipped by the fit check).
    pub fn finish(&self, index: usize, total: usize, cell: &str, summary: &str, estimate_s: f64) {
        match self {
            Progress::Bar(bar, eta) => {
                {
                    let mut eta = lock(eta);
                    match eta.counted_ahead {
                        0 => eta.done(estimate_s),
                        _ => eta.counted_ahead -= 1,
                    }
                }
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

fn lock(eta: &Mutex<Eta>) -> std::sync::MutexGuard<'_, Eta> {
    eta.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
        eta.begin(10.0);
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

    #[test]
    fn eta_counts_down_inside_a_cell_and_grows_when_it_runs_long() {
        let mut eta = Eta::new(100.0);
        eta.done_estimate_s = 10.0;
        eta.done_elapsed_s = 20.0;
        // The second cell, estimated at 10 s, should take 20 s at the pace so far; the other
        // 80 s, 160.
        let at = |ran: f64| eta.remaining_with(Some((10.0, ran)));
        assert!((at(0.0) - 180.0).abs() < 1e-9, "{}", at(0.0));
        assert!(at(5.0) < at(0.0) && (at(5.0) - 175.0).abs() < 1e-9);
        assert!((at(20.0) - 160.0).abs() < 1e-9, "{}", at(20.0));
        // Past its 20 s the cell slows the pace of the rest, and the figure grows.
        assert!(at(30.0) > at(20.0), "{} {}", at(30.0), at(20.0));
        assert!(at(60.0) > at(30.0), "{} {}", at(60.0), at(30.0));
        // At 60 s (40 past): pace (20 + 60) / 20 = 4, so 80 s of estimate take 320, plus 40.
        assert!((at(60.0) - 360.0).abs() < 1e-9, "{}", at(60.0));
        // The last cell running long: the ETA grows from zero instead of freezing.
        let mut last = Eta::new(10.0);
        last.begin(10.0);
        let run = |ran: f64| last.remaining_with(Some((10.0, ran)));
        assert!(run(12.0) > run(10.0) && run(10.0) < 1e-9);
    }

    /// A memory cell and a speed cell run in one child: once the memory result is in, the
    /// bar names the speed cell, and neither cell's end is counted twice.
    #[test]
    fn the_bar_names_the_cell_the_group_runs_now() {
        let bar = ProgressBar::hidden();
        let progress = Progress::Bar(bar.clone(), Arc::new(Mutex::new(Eta::new(30.0))));
        progress.start(1, 2, "m batch 1 sequence 8 generation memory", 10.0);
        assert_eq!(bar.message(), "m batch 1 sequence 8 generation memory");
        progress.next_in_group(10.0, "m batch 1 sequence 8 generation speed", 20.0);
        assert_eq!(bar.message(), "m batch 1 sequence 8 generation speed");
        // The group's end: the memory cell (counted already), then the speed cell.
        progress.finish(1, 2, "memory", "1 MB", 10.0);
        progress.start(2, 2, "m batch 1 sequence 8 generation speed", 20.0);
        progress.finish(2, 2, "speed", "1 ms", 20.0);
        let Progress::Bar(_, eta) = &progress else {
            unreachable!()
        };
        assert_eq!(lock(eta).done_estimate_s, 30.0);
        assert_eq!(bar.position(), 2);
    }
}

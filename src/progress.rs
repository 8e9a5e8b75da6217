//! Progress of a sweep on stderr: a bar with the current cell, cells done and an ETA on a
//! terminal; one `[i/n] cell: result` line per cell otherwise; nothing with `--quiet`. The
//! log file (`--log-print`) always gets the lines.

use crate::console;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

pub enum Progress {
    Bar(ProgressBar),
    Lines,
    Quiet,
}

impl Progress {
    /// The kind of progress this run shows, for `total` cells to measure.
    pub fn new(total: usize, quiet: bool) -> Progress {
        if quiet {
            Progress::Quiet
        } else if console::stderr_is_interactive() {
            let template = if console::colours_allowed() {
                "{spinner:.green} [{bar:30.cyan/blue}] {pos}/{len} cells, {elapsed} elapsed, ETA {eta}  {wide_msg}"
            } else {
                "{spinner} [{bar:30}] {pos}/{len} cells, {elapsed} elapsed, ETA {eta}  {wide_msg}"
            };
            let style = ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("=> ");
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
                    .with_style(style);
            bar.enable_steady_tick(Duration::from_millis(250));
            console::set_bar(Some(bar.clone()));
            Progress::Bar(bar)
        } else {
            Progress::Lines
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
            Progress::Bar(bar) => bar.set_message(text.to_string()),
            Progress::Lines => console::eprint(text),
            Progress::Quiet => {}
        }
    }

    /// The step that started last ended with `result`.
    pub fn task_done(&self, text: &str, result: &str) {
        match self {
            Progress::Bar(_) => console::eprintln(&format!("{text}: {result}")),
            Progress::Lines => console::eprintln(&format!(": {result}")),
            Progress::Quiet => {}
        }
    }

    /// Cell `index` (from 1) of `total` starts.
    pub fn start(&self, index: usize, total: usize, cell: &str) {
        match self {
            Progress::Bar(bar) => bar.set_message(cell.to_string()),
            Progress::Lines => console::eprint(&format!("[{index}/{total}] {cell}")),
            Progress::Quiet => {}
        }
    }

    /// The cell that started last finished with `summary`.
    pub fn finish(&self, index: usize, total: usize, cell: &str, summary: &str) {
        match self {
            Progress::Bar(bar) => {
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
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
            console::set_bar(None);
        }
    }
}

//! Where text goes: stdout and stderr, each copied to the plain-text log file when there is
//! one (`--log-print`), and stderr lines drawn above the progress bar while one is shown.

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;

struct State {
    log: Option<File>,
    bar: Option<ProgressBar>,
    /// The unfinished last line on stderr ("[1/2] cell", waiting for ": result").
    open: String,
}

static STATE: Mutex<State> = Mutex::new(State {
    log: None,
    bar: None,
    open: String::new(),
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// From now on, everything printed is also written to `path` (created or truncated).
pub fn open_log(path: &Path) -> Result<()> {
    let file =
        File::create(path).with_context(|| format!("cannot write log file {}", path.display()))?;
    state().log = Some(file);
    Ok(())
}

/// Lines printed to stderr are drawn above this bar while it is set.
pub fn set_bar(bar: Option<ProgressBar>) {
    state().bar = bar;
}

fn log(state: &mut State, bytes: &[u8]) {
    if let Some(file) = state.log.as_mut() {
        // A log that cannot be written must not stop the measurements.
        let _ = file.write_all(bytes);
    }
}

/// Writes text to stderr (above the bar, if one is shown) and to the log.
pub fn eprint(text: &str) {
    let mut state = state();
    match text.rsplit_once('\n') {
        Some((_, rest)) => state.open = rest.to_string(),
        None => state.open.push_str(text),
    }
    log(&mut state, text.as_bytes());
    let write = || {
        let mut err = io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    };
    match &state.bar {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// A line on stderr; a line of its own (none unfinished before it) is word-wrapped to the
/// terminal's width, so a long warning never breaks mid-word.
pub fn eprintln(text: &str) {
    let own_line = state().open.is_empty();
    match own_line {
        true => eprint(&format!("{}\n", wrap(text, stderr_width()))),
        false => eprint(&format!("{text}\n")),
    }
}

/// A line of its own printed while a line is unfinished (something happened during a cell):
/// the unfinished line is ended, and begun again after it, so the two never interleave.
pub fn notice(text: &str) {
    let open = std::mem::take(&mut state().open);
    eprint(&around(&open, text, stderr_width()));
}

/// What [`notice`] prints: `text`, wrapped, on lines of its own, and the unfinished line
/// `open` begun again after it.
fn around(open: &str, text: &str, width: Option<usize>) -> String {
    let text = wrap(text, width);
    match open.is_empty() {
        true => format!("{text}\n"),
        false => format!("\n{text}\n{open}"),
    }
}

/// The width stderr's lines are wrapped to: the terminal's, None for a file or pipe (a log
/// or CI keeps each line whole).
fn stderr_width() -> Option<usize> {
    terminal_size::terminal_size_of(io::stderr()).map(|(w, _)| usize::from(w.0).max(MIN_WIDTH))
}

/// Writes text to the log only: what the progress bar shows on the terminal instead.
pub fn log_only(text: &str) {
    log(&mut state(), text.as_bytes());
}

/// Stdout, copied to the log.
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stdout().lock().write_all(buf)?;
        log(&mut state(), buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().lock().flush()?;
        if let Some(file) = state().log.as_mut() {
            let _ = file.flush();
        }
        Ok(())
    }
}

/// Whether stderr is an interactive terminal that can draw a progress bar.
pub fn stderr_is_interactive() -> bool {
    io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// Whether colours are wanted: <https://no-color.org> (`NO_COLOR` set and not empty) says no.
pub fn colours_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Narrowest width tables are fitted to; below it they wrap as the terminal pleases.
const MIN_WIDTH: usize = 40;

/// The width stdout's text should fit: `$COLUMNS` where set (so a script or test can ask for
/// one), else the terminal's; None for a file or pipe, whose lines are kept whole.
pub fn stdout_width() -> Option<usize> {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0);
    columns
        .or_else(|| terminal_size::terminal_size_of(io::stdout()).map(|(w, _)| usize::from(w.0)))
        .map(|w| w.max(MIN_WIDTH))
}

/// `text` wrapped at word boundaries to `width`; unchanged where there is none.
pub fn wrap(text: &str, width: Option<usize>) -> String {
    match width {
        Some(w) => textwrap::fill(text, w),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A busy warning during a cell: the cell's unfinished line is ended before it and
    /// begun again after it; on a terminal it is wrapped at words.
    #[test]
    fn a_notice_during_a_cell_does_not_land_inside_its_line() {
        let printed = format!(
            "[1/2] cell{}: 1 ms\n",
            around("[1/2] cell", "Warning: busy", None)
        );
        assert_eq!(printed, "[1/2] cell\nWarning: busy\n[1/2] cell: 1 ms\n");
        assert_eq!(
            around("", "a long line of words", Some(10)),
            "a long\nline of\nwords\n"
        );
    }
}

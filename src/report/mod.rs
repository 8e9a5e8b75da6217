//! Reports only read results: printing tables and writing files never re-runs anything.

pub mod compare;
pub mod csv;
pub mod dry_run;
pub mod export;
pub mod format;
pub mod generation;
pub mod history;
pub mod json;
pub mod markdown;
pub mod merge;
pub mod plot;
pub mod profile;
pub mod profile_chart;
pub mod raster_text;
pub mod roofline;
pub mod roofline_plot;
pub mod routing;
pub mod section;
pub mod table;
pub mod tidy_csv;
pub mod tokenization;
pub mod weights;

use crate::cell::{CalibrationResult, Cell, CellResult, Metric, Mode, SpeedResult};
pub use crate::cell::{Row, Sweep};
use crate::measure::memory::to_mib;
use anyhow::{Context, Result};
use std::path::Path;

/// The exit status of a missing or unreadable input file, whichever subcommand reads it
/// (`compare`, `merge`, `plot`, `history` and `db`'s database, `--sweep`, `--resume`'s
/// export when it exists but cannot be read): 2, as diff(1) and grep(1) exit on trouble, and
/// `compare` cannot use 1 (its "regressed").
pub const MISSING_INPUT_STATUS: u8 = 2;

/// A named input file that is missing or cannot be read: main exits with
/// [`MISSING_INPUT_STATUS`] when an error's chain holds one.
#[derive(Debug)]
pub struct MissingInput {
    /// What is wrong, naming the file: `cannot read sweep file s.toml`.
    pub message: String,
    pub source: Option<std::io::Error>,
}

impl std::fmt::Display for MissingInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MissingInput {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

impl MissingInput {
    /// The error of a missing or unreadable input, `message` naming the file.
    pub fn error(message: String, source: Option<std::io::Error>) -> anyhow::Error {
        anyhow::Error::new(MissingInput { message, source })
    }

    /// Whether `error` (or what caused it) is a missing or unreadable input file.
    pub fn in_chain(error: &anyhow::Error) -> bool {
        error.chain().any(|cause| cause.is::<MissingInput>())
    }
}

/// The text of the input file `path` (`what` it is for names it in the error); a file that is
/// missing or cannot be read is a [`MissingInput`].
pub fn read_input(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        let file = match what {
            "" => path.display().to_string(),
            what => format!("{what} {}", path.display()),
        };
        // Text that is not UTF-8 is a file of the wrong kind, not a missing one.
        match e.kind() {
            std::io::ErrorKind::InvalidData => {
                anyhow::Error::new(e).context(format!("{file} is not UTF-8 text"))
            }
            _ => MissingInput::error(format!("cannot read {file}"), Some(e)),
        }
    })
}

/// Writes `bytes` to `path`. A regular file (or a new one) is replaced atomically: a
/// temporary file in the same folder, synced to disk, renamed over it, so a reader, an
/// interrupted sweep or a power cut never sees a half-written or empty file. A symlink's
/// target is what gets replaced. Anything else (`/dev/stdout`, a FIFO, a device) is written
/// in place: renaming over it would replace the special file itself.
pub fn write_file(path: &Path, bytes: &[u8], what: &str) -> Result<()> {
    let context = || format!("cannot write {what} file {}", path.display());
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            Err(anyhow::anyhow!("{} is a folder", path.display())).with_context(context)
        }
        Ok(meta) if !meta.is_file() => write_in_place(path, bytes).with_context(context),
        Ok(_) => {
            let target = std::fs::canonicalize(path).with_context(context)?;
            write_atomically(&target, bytes).with_context(context)
        }
        // A dangling symlink: create its target rather than replace the link.
        Err(_) if path.is_symlink() => write_in_place(path, bytes).with_context(context),
        Err(_) => write_atomically(path, bytes).with_context(context),
    }
}

fn write_in_place(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.write_all(bytes)?;
    file.flush()
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself reaches the disk with the folder's entry.
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
        std::fs::File::open(folder.unwrap_or(Path::new(".")))?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Derived speed figures of one cell.
pub struct Throughput {
    pub samples_per_second: f64,
    pub tokens_per_second: f64,
    pub flops_per_second: Option<f64>,
    /// Achieved FLOP/s over the calibrated matmul FLOP/s.
    pub mfu: Option<f64>,
}

impl Throughput {
    pub fn of(cell: &Cell, speed: &SpeedResult, calibration: Option<&CalibrationResult>) -> Self {
        let flops_per_second = speed.flops_per_call.map(|f| f / speed.seconds);
        Throughput {
            samples_per_second: cell.batch_size as f64 / speed.seconds,
            // Vision models: an image's patches are its tokens.
            tokens_per_second: (cell.batch_size * cell.input.tokens(cell.sequence_length)) as f64
                / speed.seconds,
            flops_per_second,
            mfu: flops_per_second
                .zip(calibration)
                .map(|(f, c)| f / c.flops_per_second),
        }
    }
}

/// The original's section title, singular for inference and plural for training (one
/// source: the core's `Mode`/`Metric` headings).
pub fn title(mode: Mode, metric: Metric) -> String {
    crate::cell::section_title(mode, metric)
}

/// `====================` + title centred in 40 columns + `====================`.
pub fn header(title: &str) -> String {
    let bar = "=".repeat(20);
    format!("{bar}{title:^40}{bar}")
}

pub fn value_label(metric: Metric) -> &'static str {
    match metric {
        Metric::Speed => "Time",
        Metric::Memory => "Memory in MB",
    }
}

/// The rows of one section, in the order they ran.
pub fn section_rows(rows: &[Row], mode: Mode, metric: Metric) -> Vec<&Row> {
    rows.iter()
        .filter(|(cell, _)| cell.mode == mode && cell.metric == metric)
        .collect()
}

/// Significant digits of the times in tables, progress lines and comparisons: enough to see
/// a 1% change on any time scale.
pub const TIME_DIGITS: usize = 4;

/// A time in the unit that suits it (s, ms, µs, ns, as hyperfine), with `digits` significant
/// digits: `1.235 s`, `12.35 ms`, `123.5 µs`.
pub fn format_seconds(seconds: f64, digits: usize) -> String {
    if !seconds.is_finite() || seconds == 0.0 {
        return format!("{seconds} s");
    }
    // A difference (a profile's parts against its call) may be negative.
    if seconds < 0.0 {
        return format!("-{}", format_seconds(-seconds, digits));
    }
    // Round first, so 999.96 ms becomes 1.000 s rather than 1000.0 ms.
    let magnitude = seconds.log10().floor() as i32;
    let scale = 10f64.powi(digits as i32 - 1 - magnitude);
    let rounded = (seconds * scale).round() / scale;
    let (value, unit) = [(1.0, "s"), (1e-3, "ms"), (1e-6, "µs")]
        .into_iter()
        .find(|(size, _)| rounded >= *size)
        .map(|(size, unit)| (rounded / size, unit))
        .unwrap_or((rounded / 1e-9, "ns"));
    // The nudge keeps 99.999999999 (a float quotient of 100) at three integer digits.
    let integer_digits = (value * (1.0 + 1e-12)).log10().floor() as i32 + 1;
    let decimals = (digits as i32 - integer_digits).max(0) as usize;
    format!("{value:.decimals$} {unit}")
}

/// The figure a table shows for a result, with its unit.
pub fn table_value(result: &CellResult) -> String {
    match result {
        CellResult::Speed(speed) => format_seconds(speed.seconds, TIME_DIGITS),
        CellResult::Memory(memory) => to_mib(memory_figure(memory)).to_string(),
        CellResult::NotAvailable { .. } => "N/A".into(),
    }
}

/// The memory figure of the tables and CSV files: NVML's device-used memory on a GPU (the
/// original's), the peak resident memory on the CPU.
pub fn memory_figure(memory: &crate::cell::MemoryResult) -> u64 {
    memory
        .gpu
        .as_ref()
        .and_then(|g| g.device_used_bytes)
        .unwrap_or(memory.peak_rss_bytes)
}

/// The figure a CSV file holds: seconds at full precision (the shortest text that reads back
/// as the same float, as the original's Python wrote them), whole MiB for memory, else `N/A`.
pub fn csv_value(result: &CellResult) -> String {
    match result {
        CellResult::Speed(speed) => format!("{:?}", speed.seconds),
        CellResult::Memory(memory) => to_mib(memory_figure(memory)).to_string(),
        CellResult::NotAvailable { .. } => "N/A".into(),
    }
}

/// The tables on stdout (or the one export that goes there), then where the files went.
pub fn print_results(
    env_print: bool,
    exporters: &[Box<dyn export::Exporter>],
    sweep: &Sweep,
    progress: &crate::progress::Progress,
) -> Result<()> {
    if exporters.iter().any(|e| e.to_stdout()) {
        for export in exporters.iter().filter(|e| e.to_stdout()) {
            export.write(sweep)?;
        }
    } else {
        use std::io::Write;
        let mut out = crate::console::Stdout;
        // Nothing finished (a Ctrl-C before the first cell): no empty tables; the line on
        // the interruption says what happened.
        if sweep.rows.is_empty() && sweep.tokenization.is_empty() {
            return Ok(());
        }
        if let Some(line) = nothing_measured(sweep) {
            let width = crate::console::stdout_width();
            writeln!(out, "{}", crate::console::wrap(&line, width))?;
            if env_print {
                table::print_environment(&mut out, &sweep.environment)?;
            }
            out.flush()?;
            return saved(exporters, progress);
        }
        for &(mode, metric) in &sweep.sections {
            table::print_section(&mut out, sweep, mode, metric)?;
        }
        profile::print(&mut out, sweep)?;
        tokenization::print(&mut out, sweep)?;
        if env_print {
            table::print_environment(&mut out, &sweep.environment)?;
        }
        out.flush()?;
    }
    saved(exporters, progress)
}

/// "Saved FILE" for each file written.
fn saved(
    exporters: &[Box<dyn export::Exporter>],
    progress: &crate::progress::Progress,
) -> Result<()> {
    for export in exporters {
        for file in export.files() {
            progress.note(&format!("Saved {}", file.display()));
        }
    }
    Ok(())
}

/// The one line a sweep whose every cell (and tokenizer) is N/A prints instead of its
/// tables: how many, and each reason once with its count, in the order they came.
pub fn nothing_measured(sweep: &Sweep) -> Option<String> {
    let reasons = (sweep.rows.iter().map(|(_, r)| match r {
        CellResult::NotAvailable { reason } => Some(reason.as_str()),
        _ => None,
    }))
    .chain(sweep.tokenization.iter().map(|(_, r)| match r {
        crate::cell::TokenizationResult::NotAvailable { reason } => Some(reason.as_str()),
        _ => None,
    }));
    let mut grouped: Vec<(&str, usize)> = Vec::new();
    for reason in reasons {
        let reason = reason?;
        match grouped.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => grouped.push((reason, 1)),
        }
    }
    let total: usize = grouped.iter().map(|(_, n)| n).sum();
    let said: Vec<String> = (grouped.iter())
        .map(|(reason, n)| format!("{reason} ({n} cell{})", if *n == 1 { "" } else { "s" }))
        .collect();
    (total > 0).then(|| {
        format!(
            "Nothing measured: all {total} cells are N/A: {}.",
            said.join("; ")
        )
    })
}

/// `plot`: the chart of a sweep's figures, with `--profile` of a profiled call, with
/// `--roofline` the sweep's cells against both ceilings.
pub fn plot(args: &plot::Options) -> Result<()> {
    if args.profile {
        return profile_chart::run(args);
    }
    if args.roofline {
        return roofline_plot::run(args);
    }
    plot::run(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlinked_export_replaces_its_target_and_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.json");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_file(&link, b"new", "JSON").unwrap();
        assert!(link.is_symlink(), "the link was replaced by a file");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary file is left behind");
        // A dangling link: its target is created.
        let dangling = dir.path().join("dangling.json");
        std::os::unix::fs::symlink(dir.path().join("later.json"), &dangling).unwrap();
        write_file(&dangling, b"x", "JSON").unwrap();
        assert!(dangling.is_symlink());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("later.json")).unwrap(),
            "x"
        );
    }

    #[test]
    fn a_fifo_export_is_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write_file(&fifo, b"{\"rows\": []}", "JSON").unwrap();
        assert_eq!(reader.join().unwrap(), "{\"rows\": []}");
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "the FIFO was replaced by a file");
    }

    #[test]
    fn a_folder_is_no_export() {
        let dir = tempfile::tempdir().unwrap();
        let err = format!("{:#}", write_file(dir.path(), b"x", "JSON").unwrap_err());
        assert!(err.contains("is a folder"), "{err}");
    }

    #[test]
    fn headers_match_the_original_exactly() {
        assert_eq!(
            header(&title(Mode::Inference, Metric::Speed)),
            "====================       INFERENCE - SPEED - RESULT       ===================="
        );
        assert_eq!(
            header(&title(Mode::Training, Metric::Memory)),
            "====================        TRAIN - MEMORY - RESULTS        ===================="
        );
        assert_eq!(
            header("ENVIRONMENT INFORMATION"),
            "====================        ENVIRONMENT INFORMATION         ===================="
        );
    }

    #[test]
    fn seconds_are_scaled_to_their_unit_with_four_significant_digits() {
        assert_eq!(format_seconds(0.0004, 4), "400.0 µs");
        assert_eq!(format_seconds(0.000_012_345, 4), "12.35 µs");
        assert_eq!(format_seconds(0.01234, 4), "12.34 ms");
        assert_eq!(format_seconds(1.2346, 4), "1.235 s");
        assert_eq!(format_seconds(0.1, 4), "100.0 ms");
        assert_eq!(format_seconds(0.999_96, 4), "1.000 s");
        assert_eq!(format_seconds(0.000_999_96, 4), "1.000 ms");
        assert_eq!(format_seconds(3.2e-8, 3), "32.0 ns");
        assert_eq!(format_seconds(1234.5, 4), "1235 s");
        assert_eq!(format_seconds(0.0123, 3), "12.3 ms");
        assert_eq!(format_seconds(-0.000_812, 3), "-812 µs");
        assert_eq!(format_seconds(0.0, 4), "0 s");
    }

    #[test]
    fn csv_values() {
        let samples = vec![0.01426, 0.015];
        let speed = CellResult::Speed(SpeedResult {
            statistic: crate::measure::timing::Statistic::Minimum,
            seconds: 0.01426,
            stats: crate::measure::stats::Stats::of(&samples).unwrap(),
            samples,
            calls_per_sample: 10,
            warmup_calls: 0,
            flops_per_call: Some(1e9),
            bytes_per_call: None,
            interval: None,
            imprecise: false,
            build_seconds: None,
            profile: None,
            generation: None,
            load: None,
            ran: None,
            expert_load: None,
        });
        // Every digit measured, not 0.0143.
        assert_eq!(csv_value(&speed), "0.01426");
        let precise = 0.014_263_781_239_123_4;
        if let CellResult::Speed(mut s) = speed.clone() {
            s.seconds = precise;
            let text = csv_value(&CellResult::Speed(s));
            assert_eq!(text.parse::<f64>().unwrap(), precise, "{text}");
        }
        assert_eq!(table_value(&speed), "14.26 ms");
        let memory = CellResult::Memory(crate::cell::MemoryResult {
            peak_rss_bytes: 2521 << 20,
            baseline_rss_bytes: 2000 << 20,
            build_peak_rss_bytes: 2600 << 20,
            gpu: None,
            build_seconds: None,
            estimated_peak_bytes: None,
            kv_cache: None,
            ran: None,
        });
        assert_eq!(csv_value(&memory), "2521");
        assert_eq!(table_value(&memory), "2521");
        assert_eq!(csv_value(&CellResult::na("x")), "N/A");
    }
}

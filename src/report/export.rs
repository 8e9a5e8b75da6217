//! The files a sweep writes (CSV, JSON, Markdown) behind one trait: each is rewritten whole
//! after every cell, atomically, so an interrupted sweep keeps every finished cell. An export to
//! stdout (`-`) is written once, at the end, instead of the tables.

use super::{csv, generation, json, markdown, write_file};
use crate::cell::{Metric, Mode, Sweep};
use crate::console;
use anyhow::{bail, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

pub trait Exporter {
    /// Writes the sweep's finished cells.
    fn write(&self, sweep: &Sweep) -> Result<()>;
    /// The files written, for the `Saved` lines; empty when it goes to stdout.
    fn files(&self) -> Vec<&Path>;
    /// The format, for messages: "CSV", "JSON", "Markdown".
    fn what(&self) -> &'static str;
    fn to_stdout(&self) -> bool {
        self.files().is_empty()
    }
}

/// Where a single-file export goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(PathBuf),
}

impl Destination {
    /// `-` is stdout.
    pub fn new(path: &Path) -> Destination {
        if path == Path::new("-") {
            Destination::Stdout
        } else {
            Destination::File(path.to_path_buf())
        }
    }

    fn write(&self, text: &str, what: &str) -> Result<()> {
        match self {
            Destination::Stdout => {
                let mut out = console::Stdout;
                out.write_all(text.as_bytes())?;
                Ok(out.flush()?)
            }
            Destination::File(path) => write_file(path, text.as_bytes(), what),
        }
    }

    fn files(&self) -> Vec<&Path> {
        match self {
            Destination::Stdout => Vec::new(),
            Destination::File(path) => vec![path],
        }
    }
}

pub struct JsonExport(pub Destination);

impl Exporter for JsonExport {
    fn write(&self, sweep: &Sweep) -> Result<()> {
        self.0.write(&json::render(sweep)?, self.what())
    }
    fn files(&self) -> Vec<&Path> {
        self.0.files()
    }
    fn what(&self) -> &'static str {
        "JSON"
    }
}

pub struct TidyCsvExport(pub Destination);

impl Exporter for TidyCsvExport {
    fn write(&self, sweep: &Sweep) -> Result<()> {
        self.0.write(&super::tidy_csv::render(sweep)?, self.what())
    }
    fn files(&self) -> Vec<&Path> {
        self.0.files()
    }
    fn what(&self) -> &'static str {
        "CSV"
    }
}

pub struct MarkdownExport(pub Destination);

impl Exporter for MarkdownExport {
    fn write(&self, sweep: &Sweep) -> Result<()> {
        self.0.write(&markdown::render(sweep), self.what())
    }
    fn files(&self) -> Vec<&Path> {
        self.0.files()
    }
    fn what(&self) -> &'static str {
        "Markdown"
    }
}

/// The exports a sweep asks for, as plain paths (`-` = stdout); the planner fills it in from
/// the flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs {
    pub csv: Option<CsvFiles>,
    pub json: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
    /// `--export-csv`: the one tidy CSV file.
    pub tidy_csv: Option<PathBuf>,
}

/// The original's five CSV files (one per section and the environment), and the two of the
/// generation sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvFiles {
    pub inference_time: PathBuf,
    pub inference_memory: PathBuf,
    pub train_time: PathBuf,
    pub train_memory: PathBuf,
    pub generation_time: PathBuf,
    pub generation_memory: PathBuf,
    pub env_info: PathBuf,
}

impl CsvFiles {
    /// Every file, the environment's first.
    pub fn all(&self) -> Vec<PathBuf> {
        vec![
            self.env_info.clone(),
            self.inference_time.clone(),
            self.inference_memory.clone(),
            self.train_time.clone(),
            self.train_memory.clone(),
            self.generation_time.clone(),
            self.generation_memory.clone(),
        ]
    }

    /// The original's names with a stamp no other run's default files hold: `<unix time>`,
    /// else `<unix time>-2`, `-3`, ... Of `defaults` (the sections whose names the user did
    /// not give), none may exist, and with `claim` the first is created at once (O_EXCL), so
    /// that two runs started in the same second in one folder cannot both take the name.
    pub fn fresh(
        stamp: u64,
        defaults: impl Fn(&CsvFiles) -> Vec<PathBuf>,
        claim: bool,
    ) -> Result<CsvFiles> {
        for n in 1u32.. {
            let files = match n {
                1 => CsvFiles::stamped(stamp),
                n => CsvFiles::stamped(format!("{stamp}-{n}")),
            };
            let paths = defaults(&files);
            if paths.iter().any(|p| p.exists() || p.is_symlink()) {
                continue;
            }
            let Some(first) = paths.first().filter(|_| claim) else {
                return Ok(files);
            };
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(first)
            {
                Ok(_) => return Ok(files),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => bail!("cannot write CSV file {}: {e}", first.display()),
            }
        }
        unreachable!("some stamp is free")
    }

    /// The original's names: `<section>_<unix time>.csv`.
    pub fn stamped(stamp: impl std::fmt::Display) -> CsvFiles {
        let name = |stem: &str| PathBuf::from(format!("{stem}_{stamp}.csv"));
        CsvFiles {
            inference_time: name("inference_time"),
            inference_memory: name("inference_memory"),
            train_time: name("train_time"),
            train_memory: name("train_memory"),
            generation_time: name("generation_time"),
            generation_memory: name("generation_memory"),
            env_info: name("env_info"),
        }
    }
}

/// The exporters for `outputs`; at most one of them may go to stdout.
pub fn exporters(outputs: &Outputs, sections: &[(Mode, Metric)]) -> Result<Vec<Box<dyn Exporter>>> {
    let mut exporters: Vec<Box<dyn Exporter>> = Vec::new();
    if let Some(files) = &outputs.csv {
        exporters.push(Box::new(CsvExport {
            files: files.clone(),
            sections: sections.to_vec(),
        }));
    }
    if let Some(path) = &outputs.json {
        exporters.push(Box::new(JsonExport(Destination::new(path))));
    }
    if let Some(path) = &outputs.markdown {
        exporters.push(Box::new(MarkdownExport(Destination::new(path))));
    }
    if let Some(path) = &outputs.tidy_csv {
        exporters.push(Box::new(TidyCsvExport(Destination::new(path))));
    }
    if exporters.iter().filter(|e| e.to_stdout()).count() > 1 {
        bail!(
            "only one of --export-json, --export-markdown and --export-csv can go to stdout ('-')"
        );
    }
    Ok(exporters)
}

/// Rewrites every export that goes to a file.
pub fn write_files(exporters: &[Box<dyn Exporter>], sweep: &Sweep) -> Result<()> {
    for export in exporters.iter().filter(|e| !e.to_stdout()) {
        export.write(sweep)?;
    }
    Ok(())
}

pub struct CsvExport {
    pub files: CsvFiles,
    /// The sections whose files are written.
    pub sections: Vec<(Mode, Metric)>,
}

impl CsvExport {
    fn path(&self, mode: Mode, metric: Metric) -> &Path {
        let files = &self.files;
        match (mode, metric) {
            (Mode::Inference, Metric::Speed) => &files.inference_time,
            (Mode::Inference, Metric::Memory) => &files.inference_memory,
            (Mode::Training, Metric::Speed) => &files.train_time,
            (Mode::Training, Metric::Memory) => &files.train_memory,
            (Mode::Generation, Metric::Speed) => &files.generation_time,
            (Mode::Generation, Metric::Memory) => &files.generation_memory,
        }
    }
}

impl Exporter for CsvExport {
    fn write(&self, sweep: &Sweep) -> Result<()> {
        for &(mode, metric) in &self.sections {
            let path = self.path(mode, metric);
            match mode {
                Mode::Generation => generation::write_csv(path, &sweep.rows, metric)?,
                _ => csv::write_results(path, &sweep.rows, mode, metric)?,
            }
        }
        csv::write_environment(&self.files.env_info, &sweep.environment)
    }
    fn files(&self) -> Vec<&Path> {
        let mut files: Vec<&Path> = self
            .sections
            .iter()
            .map(|&(mode, metric)| self.path(mode, metric))
            .collect();
        files.push(&self.files.env_info);
        files
    }
    fn to_stdout(&self) -> bool {
        false
    }
    fn what(&self) -> &'static str {
        "CSV"
    }
}

/// Every file the exporters will write, checked before anything is announced or measured
/// (and by a dry run): not a folder, in a folder that exists and may be written.
pub fn check_paths(exporters: &[Box<dyn Exporter>]) -> Result<()> {
    for export in exporters {
        for path in export.files() {
            check_path(path).map_err(|why| {
                anyhow::anyhow!(
                    "cannot write {} file {}: {why}",
                    export.what(),
                    path.display()
                )
            })?;
        }
    }
    Ok(())
}

fn check_path(path: &Path) -> std::result::Result<(), String> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if path.is_dir() {
        return Err("it is a folder".into());
    }
    match std::fs::metadata(folder) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(format!("{} is not a folder", folder.display())),
        Err(e) => return Err(format!("folder {}: {e}", folder.display())),
    }
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(folder.as_os_str());
    let c_folder = std::ffi::CString::new(bytes).map_err(|e| e.to_string())?;
    // SAFETY: access reads a NUL-terminated path that outlives the call.
    if unsafe { libc::access(c_folder.as_ptr(), libc::W_OK) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!("folder {}: {e}", folder.display()));
    }
    Ok(())
}

/// The files the exporters will replace: they exist before the sweep writes them.
pub fn existing_files(exporters: &[Box<dyn Exporter>]) -> Vec<PathBuf> {
    exporters
        .iter()
        .flat_map(|e| e.files())
        // An empty file is no earlier run's report: a name this run claimed (CsvFiles::fresh).
        .filter(|f| f.exists() && !std::fs::metadata(f).is_ok_and(|m| m.is_file() && m.len() == 0))
        .map(Path::to_path_buf)
        .collect()
}

/// The one line that says which existing files a sweep replaces, if any.
pub fn replacing_notice(files: &[PathBuf]) -> Option<String> {
    (!files.is_empty()).then(|| {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        format!(
            "Replacing existing file(s), which will hold this run's cells: {}",
            names.join(", ")
        )
    })
}

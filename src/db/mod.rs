//! The results database (`--db`): every finished cell of a run appended to SQLite, so CI
//! keeps history, named baselines and trends across commits. `schema` versions the file,
//! `store` appends and reads, `import` brings in exports and the original's CSV files,
//! `history` follows each cell over the runs, `cli` runs the subcommands.

pub mod cli;
pub mod history;
pub mod import;
pub mod schema;
pub mod store;

use crate::report::{Row, Sweep};
use anyhow::Result;
use std::path::{Path, PathBuf};
pub use store::{RunInfo, Store};

/// The variable CI sets once instead of passing `--db` to every command.
pub const ENV_VAR: &str = "RUN_BENCHMARK_DB";

/// `--db` without a file, and the database the read commands use when given none: the
/// user's data folder (`$XDG_DATA_HOME` or ~/.local/share on Linux, ~/Library/Application
/// Support on macOS), `run-benchmark/results.sqlite`.
pub fn default_path() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("run-benchmark")
        .join("results.sqlite")
}

/// The database a command names (`--db FILE` or $RUN_BENCHMARK_DB, which clap reads into
/// the same field), else the default; an empty value (`--db` alone) is the default too.
pub fn path_or_default(given: Option<&Path>) -> PathBuf {
    match given {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => default_path(),
    }
}

/// The commit and branch of the current folder's git repository (or the CI's variables,
/// for a detached checkout), when there is one.
pub fn git_info() -> (Option<String>, Option<String>) {
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !text.is_empty()).then_some(text)
    };
    let var = |names: &[&str]| {
        (names.iter())
            .filter_map(|n| std::env::var(n).ok())
            .find(|v| !v.is_empty())
    };
    let commit = git(&["rev-parse", "HEAD"]).or_else(|| var(&["GITHUB_SHA", "CI_COMMIT_SHA"]));
    let branch = git(&["rev-parse", "--abbrev-ref", "HEAD"])
        .filter(|b| b != "HEAD")
        .or_else(|| var(&["GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"]));
    (commit, branch)
}

/// A sweep's run in the database: each finished cell is appended as it comes. A failed
/// write is said once and the sweep goes on (its exports and tables still hold everything).
pub struct Recorder {
    store: Store,
    run: i64,
    baseline: Option<String>,
    failed: bool,
}

impl Recorder {
    /// Opens (or creates) the database and starts the run; the carried-over cells of
    /// `sweep` (--resume) are recorded at once, as this run's.
    pub fn start(
        path: &Path,
        sweep: &Sweep,
        label: Option<String>,
        baseline: Option<String>,
    ) -> Result<Recorder> {
        let mut store = Store::open(path)?;
        let (git_commit, git_branch) = git_info();
        let info = RunInfo {
            label,
            git_commit,
            git_branch,
            source: "run".into(),
            ..RunInfo::default()
        };
        let run = store.begin_run(sweep, &info)?;
        for row in &sweep.rows {
            store.append(run, sweep, row)?;
        }
        Ok(Recorder {
            store,
            run,
            baseline,
            failed: false,
        })
    }

    pub fn cell(&mut self, sweep: &Sweep, row: &Row) {
        if self.failed {
            return;
        }
        if let Err(e) = self.store.append(self.run, sweep, row) {
            self.failed = true;
            crate::console::eprintln(&format!(
                "Warning: --db {}: cannot record the cell ({e:#}); the sweep goes on, and its \
                 later cells are not recorded",
                self.store.path().display()
            ));
        }
    }

    /// Ends the run; saves the baseline when it finished. Returns the line to print.
    pub fn finish(self, sweep: &Sweep, interrupted: bool) -> Result<String> {
        let path = self.store.path().display().to_string();
        self.store.finish_run(self.run, sweep, interrupted)?;
        let baseline = match (&self.baseline, interrupted) {
            (Some(name), false) => {
                self.store.save_baseline(name, self.run)?;
                format!(", saved as baseline {name}")
            }
            (Some(name), true) => format!(", not saved as baseline {name}: it was interrupted"),
            (None, _) => String::new(),
        };
        Ok(format!("Recorded run {} in {path}{baseline}", self.run))
    }
}

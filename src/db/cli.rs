//! The results database's flags and subcommands: `--db`, `--label` and `--save-baseline` of
//! a run, `compare --baseline NAME | --last`, `history`, `plot --history` and `db schema |
//! runs | import`.

use super::{history, import, path_or_default, schema, Store, ENV_VAR};
use crate::cell::{Metric, Mode};
use crate::console;
use crate::report::{compare, Sweep};
use anyhow::{bail, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A run's flags.
#[derive(Debug, Clone, Args)]
pub struct RecordArgs {
    /// Append every finished cell of this run to a SQLite results database, for history and baselines; FILE left out: $XDG_DATA_HOME/run-benchmark/results.sqlite (~/.local/share on Linux, ~/Library/Application Support on macOS). Off unless given, here or in the environment
    #[arg(help_heading = "Results database", long, value_name = "FILE", num_args = 0..=1, default_missing_value = "", env = ENV_VAR)]
    pub db: Option<PathBuf>,

    /// The run's name in the database [default: its git commit and branch, when run inside a repository]
    #[arg(help_heading = "Results database", long, value_name = "TEXT")]
    pub label: Option<String>,

    /// Mark this run, once finished, as the baseline NAME in the database (implies --db); a name already held moves to it
    #[arg(help_heading = "Results database", long, value_name = "NAME")]
    pub save_baseline: Option<String>,
}

impl RecordArgs {
    /// The database this run writes to, if any.
    pub fn target(&self) -> Option<PathBuf> {
        match (&self.db, &self.save_baseline) {
            (None, None) => None,
            (db, _) => Some(path_or_default(db.as_deref())),
        }
    }
}

/// The database a reading command uses.
#[derive(Debug, Args)]
pub struct DbArg {
    /// The results database [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]
    #[arg(long, value_name = "FILE", env = ENV_VAR)]
    pub db: Option<PathBuf>,
}

impl DbArg {
    pub fn path(&self) -> PathBuf {
        path_or_default(self.db.as_deref())
    }
}

/// `compare`'s database flags.
#[derive(Debug, Args)]
pub struct CompareDbArgs {
    /// Compare against the run saved as baseline NAME in the database (--save-baseline NAME); NEW is then an export, or left out for the database's newest run
    #[arg(long = "baseline", value_name = "NAME")]
    pub baseline_name: Option<String>,

    /// Compare against the database's newest earlier run that measured any of the same cells
    #[arg(long, conflicts_with = "baseline_name")]
    pub last: bool,

    /// The results database for --baseline and --last [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]
    #[arg(long, value_name = "FILE", env = ENV_VAR)]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryMetric {
    /// Time per call (the tables' statistic)
    Time,
    /// The tables' memory figure
    Memory,
}

pub const HISTORY_HELP: &str = "\
Each cell (model, dtype, device, threads, batch size, sequence length, mode) of the database's
runs, oldest first: its figure, the change from the run before, and its 95% interval. A change
is marked when it exceeds twice the cell's run-to-run spread (the median change between its
runs), is at least 1%, and the two runs' intervals do not overlap: where a regression came in.

EXAMPLES:
  run-benchmark history
  run-benchmark history bert-base-uncased --metric memory --since 2026-01-01
  run-benchmark plot --history bert-base-uncased -o history.png

EXIT STATUS:
  0  shown
  1  no figures for the models asked, or a database of another program or schema
  2  no database at --db (a run with --db writes one), or an invalid command line";

/// `run-benchmark history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Models to show, by their table name [default: all]
    #[arg(value_name = "MODEL")]
    pub models: Vec<String>,

    /// Which figure to follow
    #[arg(long, value_enum, default_value_t = HistoryMetric::Time)]
    pub metric: HistoryMetric,

    /// Only runs started on or after this date (YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS in UTC)
    #[arg(long, value_name = "DATE", value_parser = since)]
    pub since: Option<String>,

    #[command(flatten)]
    pub db: DbArg,
}

/// `plot --history`'s own flags.
#[derive(Debug, Args)]
pub struct PlotHistoryArgs {
    /// Draw the results database's history instead of files: one line per cell over the runs; RESULTS are then the models to draw [default: all]
    #[arg(long)]
    pub history: bool,

    /// With --history: only runs started on or after this date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = since, requires = "history")]
    pub since: Option<String>,

    /// With --history: the results database [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]
    #[arg(long, value_name = "FILE", env = ENV_VAR, requires = "history")]
    pub db: Option<PathBuf>,
}

/// `run-benchmark db ...`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Print the database's schema (SQL), as a new database gets it
    Schema,
    /// List the stored runs: id, date, label, commit, cells, baselines
    Runs(DbArg),
    /// Import JSON exports (schema 1 and 2; a run each) and the original's result CSV files (those given together: one run)
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// JSON exports, or the original's inference_time / inference_memory / train_time / train_memory CSV files
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// The runs' label [default: the file's name]
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,

    /// Mark the (last) imported run as the baseline NAME
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,

    #[command(flatten)]
    pub db: DbArg,
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS`: compared as text with the runs' start times.
fn since(s: &str) -> Result<String, String> {
    let date_ok = chrono::NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d").is_ok();
    let rest_ok = match s.get(10..) {
        None | Some("") => true,
        Some(rest) => chrono::NaiveTime::parse_from_str(
            rest.trim_start_matches(['T', ' ']).trim_end_matches('Z'),
            "%H:%M:%S",
        )
        .is_ok(),
    };
    match date_ok && rest_ok {
        true => Ok(s.replace(' ', "T").trim_end_matches('Z').to_string()),
        false => Err(format!(
            "\"{s}\" is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)"
        )),
    }
}

/// `db schema | runs | import`.
pub fn db(command: &DbCommand) -> Result<()> {
    let mut out = console::Stdout;
    match command {
        DbCommand::Schema => out.write_all(schema::text()?.as_bytes())?,
        DbCommand::Runs(db) => {
            let store = Store::open_existing(&db.path())?;
            let columns = [
                "Run",
                "Started",
                "Label",
                "Commit",
                "Branch",
                "Cells",
                "Baselines",
                "State",
            ]
            .map(String::from);
            let rows: Vec<Vec<String>> = (store.runs()?.into_iter())
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        r.started.replace('T', " "),
                        r.label.clone().unwrap_or_default(),
                        (r.git_commit.as_deref().map(|c| &c[..c.len().min(8)]))
                            .unwrap_or_default()
                            .to_string(),
                        r.git_branch.clone().unwrap_or_default(),
                        r.cells.to_string(),
                        r.baselines.join(", "),
                        match (&r.finished, r.interrupted) {
                            (None, _) => "unfinished (running or killed)".into(),
                            (Some(_), true) => "interrupted".into(),
                            (Some(_), false) => "finished".to_string(),
                        },
                    ]
                })
                .collect();
            let (table, _) =
                crate::report::table::fitted(&columns, &rows, 0, &[2, 4], console::stdout_width());
            writeln!(out, "{table}")?;
        }
        DbCommand::Import(args) => {
            let mut store = Store::open(&args.db.path())?;
            let said = import::import(
                &mut store,
                &args.files,
                args.label.as_deref(),
                args.save_baseline.as_deref(),
            )?;
            for line in said {
                console::eprintln(&format!("{line} in {}", store.path().display()));
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// `compare` with --baseline or --last: the sweeps from the database (or NEW from a file);
/// true when a cell regressed, as `compare A B`.
pub fn compare(
    options: &compare::Options,
    files: &[PathBuf],
    args: &CompareDbArgs,
) -> Result<bool> {
    if args.baseline_name.is_none() && !args.last {
        if let [baseline, new] = files {
            let options = compare::Options {
                baseline: baseline.clone(),
                new: new.clone(),
                ..options.clone()
            };
            return compare::run(&options);
        }
        bail!("compare takes BASELINE.json NEW.json, or --baseline NAME or --last with NEW.json or none");
    }
    if files.len() > 1 {
        bail!(
            "compare --{}: only NEW is given (the baseline comes from the database), not {} files",
            if args.last { "last" } else { "baseline" },
            files.len()
        );
    }
    let path = path_or_default(args.db.as_deref());
    let store = Store::open_existing(&path)?;
    let (new, new_run, new_name): (Sweep, Option<i64>, String) = match files.first() {
        Some(file) => (
            crate::report::json::read(file)?.sweep,
            None,
            file.display().to_string(),
        ),
        None => {
            let Some(run) = store.latest_run(None)? else {
                bail!("{}: no runs with cells yet", path.display());
            };
            (store.sweep(run)?, Some(run), describe_run(&store, run)?)
        }
    };
    let baseline_run = match &args.baseline_name {
        Some(name) => store.baseline(name)?,
        None => match store.previous_run(&new, new_run)? {
            Some(run) => run,
            None => bail!(
                "--last: {} holds no earlier run of any of {}'s cells",
                path.display(),
                new_name
            ),
        },
    };
    let baseline = store.sweep(baseline_run)?;
    console::eprintln(&format!(
        "Comparing {new_name} against {} of {}",
        describe_run(&store, baseline_run)?,
        path.display()
    ));
    compare::report(options, &baseline, &new)
}

fn describe_run(store: &Store, run: i64) -> Result<String> {
    let runs = store.runs()?;
    let summary = runs.iter().find(|r| r.id == run);
    Ok(match summary {
        Some(r) if r.baselines.is_empty() => format!("run {run} ({})", r.name()),
        Some(r) => format!(
            "run {run} ({}, baseline {})",
            r.name(),
            r.baselines.join(", ")
        ),
        None => format!("run {run}"),
    })
}

/// Reads the history of `metric` for `models` since `since`; an error when there is none.
fn load(
    path: &Path,
    metric: Metric,
    mode: Option<Mode>,
    models: &[String],
    since: Option<&str>,
) -> Result<Vec<history::CellHistory>> {
    let store = Store::open_existing(path)?;
    let figures = store.figures(metric, models, since)?;
    let figures = match mode {
        Some(mode) => (figures.into_iter())
            .filter(|f| f.key.mode == mode.name())
            .collect(),
        None => figures,
    };
    let cells = history::build(figures, &store.runs()?, metric);
    if cells.is_empty() {
        bail!(
            "{}: no {} figures{}{}",
            path.display(),
            metric.figure(),
            match models.is_empty() {
                true => String::new(),
                false => format!(" of {}", models.join(", ")),
            },
            since.map(|s| format!(" since {s}")).unwrap_or_default()
        );
    }
    Ok(cells)
}

/// `run-benchmark history`.
pub fn history(args: &HistoryArgs) -> Result<()> {
    let metric = match args.metric {
        HistoryMetric::Time => Metric::Speed,
        HistoryMetric::Memory => Metric::Memory,
    };
    let cells = load(
        &args.db.path(),
        metric,
        None,
        &args.models,
        args.since.as_deref(),
    )?;
    let mut out = console::Stdout;
    out.write_all(crate::report::history::render(&cells, console::stdout_width()).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// `plot --history`: `options.files` are the models.
pub fn plot_history(options: &crate::report::plot::Options, args: &PlotHistoryArgs) -> Result<()> {
    use crate::report::plot::Figure;
    let metric = match options.metric {
        None | Some(Figure::Time) => Metric::Speed,
        Some(Figure::Memory) => Metric::Memory,
        Some(Figure::Increase) => {
            bail!("plot --history --metric increase: the database keeps time and memory figures")
        }
    };
    if options.profile {
        bail!("plot --history draws figures over runs, not --profile breakdowns");
    }
    let models: Vec<String> = (options.files.iter())
        .map(|f| f.display().to_string())
        .collect();
    let cells = load(
        &path_or_default(args.db.as_deref()),
        metric,
        Some(options.mode),
        &models,
        args.since.as_deref(),
    )?;
    crate::report::history::draw(
        &cells,
        &options.output,
        options.title.as_deref(),
        options.size,
        options.linear,
    )
}

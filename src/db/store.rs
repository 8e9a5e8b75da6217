//! Appending runs and cells to the results database, and reading them back as the sweeps
//! every report reads. A cell is stored as its JSON export row (schema 2), so a run read back
//! is what its export would have been; its identity, figure, interval and samples are also
//! columns, for history and for sqlite3 users.

use super::schema;
use crate::cell::{identity, CellResult, Metric, Routing};
use crate::report::{json, memory_figure, Row, Sweep};
use anyhow::{bail, Context, Result};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a writer waits for another's transaction (two CI jobs on one database).
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Where a run came from and what to call it.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    pub label: Option<String>,
    pub git_commit: Option<String>,
    pub git_branch: Option<String>,
    /// `run`, or the file it was imported from.
    pub source: String,
    /// When it ran, where not now (an imported export's date).
    pub started: Option<String>,
    /// The tool that measured it, where not this build.
    pub tool: Option<String>,
}

/// One stored run, as `db runs` and history show it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub id: i64,
    pub started: String,
    /// None: still running, or killed.
    pub finished: Option<String>,
    pub interrupted: bool,
    pub label: Option<String>,
    pub git_commit: Option<String>,
    pub git_branch: Option<String>,
    pub source: String,
    pub cells: i64,
    pub baselines: Vec<String>,
}

impl RunSummary {
    /// What a chart's axis and a history line call the run: its label, else its short commit
    /// (and branch), else `run N`.
    pub fn name(&self) -> String {
        if let Some(label) = &self.label {
            return label.clone();
        }
        match (&self.git_commit, &self.git_branch) {
            (Some(c), Some(b)) => format!("{} {b}", &c[..c.len().min(8)]),
            (Some(c), None) => c[..c.len().min(8)].to_string(),
            _ => format!("run {}", self.id),
        }
    }
}

impl Store {
    /// Opens the database, creating it (and its folder) when missing; refuses a file that is
    /// not ours or is newer than this build, and migrates an older one forward.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot create the folder of {}", path.display()))?;
        }
        let mut conn = Connection::open(path)
            .with_context(|| format!("cannot open results database {}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        schema::prepare(&mut conn, path)?;
        // WAL: readers never wait for a writer, and writers queue on the busy timeout.
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL")?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing database to read it: a missing file is an error, not a new database.
    pub fn open_existing(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(crate::report::MissingInput::error(
                format!(
                    "{}: no results database there yet (a run with --db writes one)",
                    path.display()
                ),
                None,
            ));
        }
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("cannot open results database {}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        schema::check(&conn, path)?;
        schema::prepare(&mut conn, path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a run: its row, with the sweep's settings and environment so far.
    pub fn begin_run(&self, sweep: &Sweep, info: &RunInfo) -> Result<i64> {
        let header = export_value(sweep, Vec::new())?;
        self.conn
            .execute(
                "INSERT INTO runs (started, label, git_commit, git_branch, tool, source, \
                 settings, environment, header) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    info.started.clone().unwrap_or_else(now),
                    info.label,
                    info.git_commit,
                    info.git_branch,
                    (info.tool.as_deref()).unwrap_or(header["tool"].as_str().unwrap_or_default()),
                    info.source,
                    header["settings"].to_string(),
                    header["environment"].to_string(),
                    header.to_string(),
                ],
            )
            .with_context(|| format!("cannot write to {}", self.path.display()))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Appends one finished cell, and the run's environment as it is now, in one
    /// transaction: a run killed later keeps it.
    pub fn append(&mut self, run: i64, sweep: &Sweep, row: &Row) -> Result<()> {
        let value = export_value(sweep, vec![row.clone()])?;
        let stored = &value["rows"][0];
        let cell = &stored["cell"];
        let (_, result) = row;
        // The axes history tells cells apart by beside the columns above (the cell's identity).
        let settings = &row.0.settings;
        let routing = (settings.routing() != Routing::Model).then(|| settings.routing().name());
        let (statistic, figure, interval, samples) = match result {
            CellResult::Speed(s) => (
                Some(word(&s.statistic)),
                Some(s.seconds),
                s.interval.map(|i| (i.low, i.high)),
                Some(serde_json::to_string(&s.samples)?),
            ),
            CellResult::Memory(m) => (None, Some(memory_figure(m) as f64), None, None),
            CellResult::NotAvailable { .. } => (None, None, None, None),
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO cells (run_id, model, device, dtype, threads, batch_size, \
             sequence_length, mode, metric, new_tokens, config, inputs, status, reason, \
             statistic, figure, ci_low, ci_high, samples, row, framework, onnxruntime_level, \
             routing) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
             ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
            params![
                run,
                cell["model"].as_str(),
                row.0.settings.device.to_string(),
                cell["dtype"].as_str(),
                cell["threads"].as_i64(),
                cell["batch_size"].as_i64(),
                cell["sequence_length"].as_i64(),
                cell["mode"].as_str(),
                cell["metric"].as_str(),
                cell["new_tokens"].as_i64(),
                cell["config"].to_string(),
                cell["inputs"].to_string(),
                stored["status"].as_str(),
                stored["reason"].as_str(),
                statistic,
                figure,
                interval.map(|i| i.0),
                interval.map(|i| i.1),
                samples,
                stored.to_string(),
                settings.framework.name(),
                identity::onnxruntime_level(settings),
                routing,
            ],
        )?;
        tx.execute(
            "UPDATE runs SET environment = ?2, header = ?3 WHERE id = ?1",
            params![run, value["environment"].to_string(), header_of(value)],
        )?;
        tx.commit()
            .with_context(|| format!("cannot write to {}", self.path.display()))
    }

    /// Marks a run finished (or interrupted), with its final environment.
    pub fn finish_run(&self, run: i64, sweep: &Sweep, interrupted: bool) -> Result<()> {
        let value = export_value(sweep, Vec::new())?;
        self.conn.execute(
            "UPDATE runs SET finished = ?2, interrupted = ?3, environment = ?4, header = ?5 \
             WHERE id = ?1",
            params![
                run,
                now(),
                interrupted,
                value["environment"].to_string(),
                value.to_string()
            ],
        )?;
        Ok(())
    }

    /// Names `run` the baseline `name`; a name held by another run moves to this one.
    pub fn save_baseline(&self, name: &str, run: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO baselines (name, run_id, saved) VALUES (?1, ?2, ?3) \
             ON CONFLICT(name) DO UPDATE SET run_id = excluded.run_id, saved = excluded.saved",
            params![name, run, now()],
        )?;
        Ok(())
    }

    /// The run the baseline `name` marks.
    pub fn baseline(&self, name: &str) -> Result<i64> {
        let found: Option<i64> = self
            .conn
            .query_row(
                "SELECT run_id FROM baselines WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(run) = found {
            return Ok(run);
        }
        let mut statement = self
            .conn
            .prepare("SELECT name FROM baselines ORDER BY name")?;
        let names: Vec<String> = statement
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        bail!(
            "--baseline {name}: no such baseline in {} ({})",
            self.path.display(),
            match names.is_empty() {
                true => "it has none; --save-baseline NAME saves one".to_string(),
                false => format!("it has {}", names.join(", ")),
            }
        )
    }

    /// The newest run with at least one cell, other than `except`.
    pub fn latest_run(&self, except: Option<i64>) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM runs WHERE id IS NOT ?1 \
                 AND EXISTS (SELECT 1 FROM cells WHERE run_id = runs.id) \
                 ORDER BY id DESC LIMIT 1",
                [except],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The newest run before `new` that measured at least one of its cells (model, sizes,
    /// mode and metric): `compare --last`.
    pub fn previous_run(&self, new: &Sweep, before: Option<i64>) -> Result<Option<i64>> {
        let mut statement = self.conn.prepare(
            "SELECT DISTINCT run_id FROM cells WHERE model = ?1 AND batch_size = ?2 \
             AND sequence_length = ?3 AND mode = ?4 AND metric = ?5 \
             AND (?6 IS NULL OR run_id < ?6) ORDER BY run_id DESC LIMIT 1",
        )?;
        let mut best: Option<i64> = None;
        for (cell, _) in &new.rows {
            let found: Option<i64> = statement
                .query_row(
                    params![
                        cell.model,
                        cell.batch_size,
                        cell.sequence_length,
                        word(&cell.mode),
                        word(&cell.metric),
                        before
                    ],
                    |r| r.get(0),
                )
                .optional()?;
            best = best.max(found);
        }
        Ok(best)
    }

    /// A stored run, as the sweep its export would hold.
    pub fn sweep(&self, run: i64) -> Result<Sweep> {
        let header: Option<String> = self
            .conn
            .query_row("SELECT header FROM runs WHERE id = ?1", [run], |r| r.get(0))
            .optional()?;
        let Some(header) = header else {
            bail!("{}: there is no run {run}", self.path.display());
        };
        let mut value: Value = serde_json::from_str(&header)?;
        let mut statement = self
            .conn
            .prepare("SELECT row FROM cells WHERE run_id = ?1 ORDER BY id")?;
        let rows = statement
            .query_map([run], |r| r.get::<_, String>(0))?
            .map(|text| Ok(serde_json::from_str::<Value>(&text?)?))
            .collect::<Result<Vec<Value>>>()?;
        value["rows"] = Value::Array(rows);
        let origin = PathBuf::from(format!("{} run {run}", self.path.display()));
        Ok(json::from_text(&value.to_string(), &origin)?.sweep)
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunSummary>> {
        let mut statement = self.conn.prepare(
            "SELECT id, started, finished, interrupted, label, git_commit, git_branch, source, \
             (SELECT count(*) FROM cells WHERE run_id = runs.id), \
             (SELECT group_concat(name, ', ') FROM baselines WHERE run_id = runs.id) \
             FROM runs ORDER BY id",
        )?;
        let runs = statement
            .query_map([], |r| {
                Ok(RunSummary {
                    id: r.get(0)?,
                    started: r.get(1)?,
                    finished: r.get(2)?,
                    interrupted: r.get(3)?,
                    label: r.get(4)?,
                    git_commit: r.get(5)?,
                    git_branch: r.get(6)?,
                    source: r.get(7)?,
                    cells: r.get(8)?,
                    baselines: (r.get::<_, Option<String>>(9)?)
                        .map(|n| n.split(", ").map(String::from).collect())
                        .unwrap_or_default(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(runs)
    }

    /// The measured cells for history: (run id, identity, statistic, figure, interval),
    /// oldest run first; `models` empty means all, `since` an RFC 3339 prefix.
    pub fn figures(
        &self,
        metric: Metric,
        models: &[String],
        since: Option<&str>,
    ) -> Result<Vec<Figure>> {
        let mut statement = self.conn.prepare(
            "SELECT cells.run_id, model, device, dtype, threads, batch_size, sequence_length, \
             mode, new_tokens, statistic, figure, ci_low, ci_high, framework, \
             onnxruntime_level, cells.routing FROM cells \
             JOIN runs ON runs.id = cells.run_id \
             WHERE metric = ?1 AND status = 'ok' AND figure IS NOT NULL \
             AND (?2 IS NULL OR runs.started >= ?2) ORDER BY cells.run_id, cells.id",
        )?;
        let figures = statement
            .query_map(params![word(&metric), since], |r| {
                Ok(Figure {
                    run: r.get(0)?,
                    key: CellKey {
                        model: r.get(1)?,
                        device: r.get(2)?,
                        dtype: r.get(3)?,
                        threads: r.get(4)?,
                        batch_size: r.get(5)?,
                        sequence_length: r.get(6)?,
                        mode: r.get(7)?,
                        new_tokens: r.get(8)?,
                        framework: r.get(13)?,
                        onnxruntime_level: r.get(14)?,
                        routing: r.get(15)?,
                    },
                    statistic: r.get(9)?,
                    value: r.get(10)?,
                    interval: match (r.get(11)?, r.get(12)?) {
                        (Some(lo), Some(hi)) => Some((lo, hi)),
                        _ => None,
                    },
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(figures
            .into_iter()
            .filter(|f| models.is_empty() || models.contains(&f.key.model))
            .collect())
    }
}

/// What history follows across runs: the cell compare matches, on one device.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CellKey {
    pub model: String,
    pub device: String,
    pub dtype: String,
    pub threads: Option<i64>,
    pub batch_size: i64,
    pub sequence_length: i64,
    pub mode: String,
    pub new_tokens: Option<i64>,
    pub framework: String,
    /// ONNX Runtime cells' graph optimisation level.
    pub onnxruntime_level: Option<String>,
    /// MoE routing where not the model's router.
    pub routing: Option<String>,
}

/// One stored figure of a cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub run: i64,
    pub key: CellKey,
    pub statistic: Option<String>,
    /// Seconds per call (speed) or bytes (memory).
    pub value: f64,
    /// The 95% interval of a speed figure, where the protocol gives one.
    pub interval: Option<(f64, f64)>,
}

/// The sweep's export (schema 2) holding only `rows`: what the database stores.
fn export_value(sweep: &Sweep, rows: Vec<Row>) -> Result<Value> {
    let part = Sweep {
        settings: sweep.settings.clone(),
        environment: sweep.environment.clone(),
        calibrations: sweep.calibrations.clone(),
        sections: sweep.sections.clone(),
        rows,
        tokenization: Vec::new(),
        shard: None,
        unread_config_keys: Vec::new(),
        default_threads: sweep.default_threads,
    };
    Ok(serde_json::from_str(&json::render(&part)?)?)
}

/// The export without its rows, as text.
fn header_of(mut value: Value) -> String {
    value["rows"] = Value::Array(Vec::new());
    value.to_string()
}

/// An enum as its export spelling (`inference`, `median`, `cpu`).
fn word<T: serde::Serialize>(x: &T) -> String {
    match serde_json::to_value(x) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// UTC, to the second, RFC 3339: sorts as text, so `--since 2026-01-31` is a comparison.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

//! The results database's schema: a list of migrations, the database's `PRAGMA user_version`
//! being how many of them it has had. A database is ours when its `PRAGMA application_id` is
//! [`APPLICATION_ID`]; one with another id, or with a version newer than this build knows,
//! is refused before anything is written to it.

use anyhow::{bail, Context, Result};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

/// "RBDB": marks a SQLite file as a run-benchmark results database.
pub const APPLICATION_ID: i32 = 0x5242_4442;

/// Migration `i` takes a database from version `i` to `i + 1`. Append only: a released
/// migration is never edited, since databases out there have had it.
pub const MIGRATIONS: [&str; 3] = [
    // 1: runs and their cells; a baseline was a name on its run.
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started TEXT NOT NULL,
        finished TEXT,
        interrupted INTEGER NOT NULL DEFAULT 0,
        label TEXT,
        git_commit TEXT,
        git_branch TEXT,
        tool TEXT NOT NULL,
        source TEXT NOT NULL,
        settings TEXT NOT NULL,
        environment TEXT NOT NULL,
        header TEXT NOT NULL,
        baseline TEXT
    );
    CREATE TABLE cells (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        device TEXT NOT NULL,
        dtype TEXT NOT NULL,
        threads INTEGER,
        batch_size INTEGER NOT NULL,
        sequence_length INTEGER NOT NULL,
        mode TEXT NOT NULL,
        metric TEXT NOT NULL,
        new_tokens INTEGER,
        config TEXT NOT NULL,
        inputs TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        statistic TEXT,
        figure REAL,
        ci_low REAL,
        ci_high REAL,
        samples TEXT,
        row TEXT NOT NULL
    );
    CREATE INDEX cells_run ON cells(run_id);",
    // 2: a run may hold several baseline names, and a name moves to the run saved last;
    // history looks cells up by identity.
    "CREATE TABLE baselines (
        name TEXT PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        saved TEXT NOT NULL
    );
    INSERT INTO baselines (name, run_id, saved)
        SELECT baseline, id, COALESCE(finished, started) FROM runs WHERE baseline IS NOT NULL;
    ALTER TABLE runs DROP COLUMN baseline;
    CREATE INDEX cells_identity ON cells(model, mode, metric, batch_size, sequence_length);",
    // 3: the framework axis and the settings that make another cell of one model and size
    // (ONNX Runtime's level, MoE routing), so history never follows two frameworks as one
    // cell. Earlier rows get them from their stored row and their run's settings.
    "ALTER TABLE cells ADD COLUMN framework TEXT NOT NULL DEFAULT 'pytorch';
    ALTER TABLE cells ADD COLUMN onnxruntime_level TEXT;
    ALTER TABLE cells ADD COLUMN routing TEXT;
    UPDATE cells SET framework = COALESCE(
        json_extract(row, '$.cell.framework'),
        (SELECT COALESCE(json_extract(runs.settings, '$.framework'),
            CASE WHEN json_extract(runs.settings, '$.torchscript') THEN 'torchscript' END)
         FROM runs WHERE runs.id = cells.run_id),
        'pytorch');
    UPDATE cells SET
        onnxruntime_level = CASE WHEN framework = 'onnxruntime' THEN COALESCE(
            (SELECT json_extract(runs.settings, '$.onnxruntime_level')
             FROM runs WHERE runs.id = cells.run_id), 'ORT_ENABLE_ALL') END,
        routing = (SELECT json_extract(runs.settings, '$.routing')
                   FROM runs WHERE runs.id = cells.run_id);
    DROP INDEX cells_identity;
    CREATE INDEX cells_identity ON cells(model, framework, mode, metric, batch_size, sequence_length);",
];

/// The version this build writes and reads.
pub const VERSION: i32 = MIGRATIONS.len() as i32;

/// Refuses a file that is not ours or is newer than this build, then migrates it forward
/// (a new, empty file gets every migration). Migrating takes the write lock, so two runs
/// opening one old database at once migrate it once.
pub fn prepare(conn: &mut Connection, path: &Path) -> Result<()> {
    check(conn, path)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let from: i32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if from < VERSION {
        if from == 0 {
            tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))?;
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            tx.execute_batch(sql).with_context(|| {
                format!("{}: migrating to schema version {}", path.display(), i + 1)
            })?;
        }
        tx.execute_batch(&format!("PRAGMA user_version = {VERSION}"))?;
    }
    tx.commit()?;
    Ok(())
}

/// One line for a file that is not a SQLite database, not ours, or newer than this build.
pub fn check(conn: &Connection, path: &Path) -> Result<()> {
    let read = |pragma: &str| conn.query_row(pragma, [], |r| r.get::<_, i32>(0));
    let (id, version) = match (read("PRAGMA application_id"), read("PRAGMA user_version")) {
        (Ok(id), Ok(version)) => (id, version),
        (Err(e), _) | (_, Err(e)) => {
            bail!(
                "{} is not a run-benchmark results database ({})",
                path.display(),
                short(&e)
            )
        }
    };
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), short(&e)))?;
    if id != APPLICATION_ID && (tables > 0 || version != 0) {
        bail!(
            "{} is not a run-benchmark results database (another program's SQLite file)",
            path.display()
        );
    }
    if version > VERSION {
        bail!(
            "{} has results schema version {version}, newer than this run-benchmark's \
             {VERSION}: use a newer run-benchmark",
            path.display()
        );
    }
    Ok(())
}

fn short(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message.clone(),
        other => other.to_string(),
    }
}

/// The schema as SQL, as a new database gets it: `run-benchmark db schema`.
pub fn text() -> Result<String> {
    let mut conn = Connection::open_in_memory()?;
    prepare(&mut conn, Path::new(":memory:"))?;
    let mut out = format!(
        "-- run-benchmark results database, schema version {VERSION}\n\
         PRAGMA application_id = {APPLICATION_ID}; -- 0x{APPLICATION_ID:08x}, \"RBDB\"\n\
         PRAGMA user_version = {VERSION};\n\
         PRAGMA journal_mode = WAL;\n"
    );
    let mut statement =
        conn.prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")?;
    for sql in statement.query_map([], |r| r.get::<_, String>(0))? {
        out.push_str(&sql?);
        out.push_str(";\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_gets_every_migration_and_the_schema_prints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        prepare(&mut conn, &path).unwrap();
        let version: i32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, VERSION);
        let text = text().unwrap();
        assert!(text.contains("CREATE TABLE baselines"), "{text}");
        assert!(!text.contains("baseline TEXT"), "{text}");
    }

    #[test]
    fn foreign_and_newer_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x)").unwrap();
        let e = prepare(&mut conn, &path).unwrap_err().to_string();
        assert!(e.contains("is not a run-benchmark results database"), "{e}");

        let path = dir.path().join("newer.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        prepare(&mut conn, &path).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {}", VERSION + 1))
            .unwrap();
        let e = prepare(&mut conn, &path).unwrap_err().to_string();
        assert!(e.contains("newer than this run-benchmark's"), "{e}");

        let path = dir.path().join("text.sqlite");
        std::fs::write(&path, "not a database at all, just some text here").unwrap();
        let mut conn = Connection::open(&path).unwrap();
        let e = prepare(&mut conn, &path).unwrap_err().to_string();
        assert!(e.contains("is not a run-benchmark results database"), "{e}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "not a database at all, just some text here"
        );
    }
}

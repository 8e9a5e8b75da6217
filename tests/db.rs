//! The results database end to end: real SQLite files in a temporary folder, the real binary.
//! Appending runs, two writers at once, a run killed mid-sweep, the migration of a first-schema
//! file, importing exports (schema 1 and 2) and the original's CSV files, compare against a
//! baseline with its exit statuses, and history as a table and a chart.

use run_benchmark::cell::{CellResult, Framework};
use run_benchmark::db::Store;
use run_benchmark::measure::stats::Stats;
use run_benchmark::measure::timing::median_interval;
use run_benchmark::report::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod e2e;

use e2e::{bin, TINY};

const SCHEMA_1: &str = "tests/fixtures/export-schema1.json";
/// A first-schema database (`MIGRATIONS[0]`, user_version 1) holding one real run of the tiny
/// model (4 cells) marked as baseline `main` in v1's way (a column of its run). Made with
/// python's sqlite3 from the first migration's SQL and a real run's rows.
const V1_DATABASE: &str = "tests/fixtures/results-v1.sqlite";

/// The schema-1 fixture's sweep with every speed figure and sample times `factor`, written
/// as a schema-2 export at `path`.
fn scaled_export(path: &Path, factor: f64) {
    scaled_export_in(path, factor, Framework::Pytorch);
}

/// [`scaled_export`] as if measured in `framework`.
fn scaled_export_in(path: &Path, factor: f64, framework: Framework) {
    let mut sweep = json::read(Path::new(SCHEMA_1)).unwrap().sweep;
    for (cell, result) in &mut sweep.rows {
        cell.settings.framework = framework;
        if let CellResult::Speed(s) = result {
            s.samples.iter_mut().for_each(|x| *x *= factor);
            s.seconds *= factor;
            s.stats = Stats::of(&s.samples).unwrap();
            // The median's 95% interval, as the adaptive protocol stores it.
            s.interval = median_interval(&s.samples);
        }
    }
    json::write(path, &sweep).unwrap();
}

fn run(args: &[&str], db: &Path) -> std::process::Output {
    bin()
        .args(args)
        .env("RUN_BENCHMARK_DB", db)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_run_appends_its_cells_and_saves_a_baseline_and_compare_judges_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("results.sqlite");
    let sweep = [
        "--models",
        TINY,
        "--batch-sizes",
        "1",
        "--sequence-lengths",
        "8",
        "--runs",
        "6",
    ];
    let out = run(
        &[&sweep[..], &["--save-baseline", "main", "--label", "first"]].concat(),
        &db,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Recorded run 1 in")
            && text(&out.stderr).contains("baseline main"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(count(&db, "SELECT count(*) FROM cells WHERE run_id = 1"), 2);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM runs WHERE finished IS NOT NULL AND label = 'first'"
        ),
        1
    );
    // WAL, as two writers need.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // Inside this repository, the run knows its commit.
    let commit: Option<String> = conn
        .query_row("SELECT git_commit FROM runs WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert!(commit.is_some_and(|c| c.len() == 40));

    // The database's run reads back as its export would have: both cells, samples kept.
    let export = dir.path().join("second.json");
    let out = run(
        &[&sweep[..], &["--export-json", export.to_str().unwrap()]].concat(),
        &db,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stored = Store::open_existing(&db).unwrap().sweep(2).unwrap();
    let exported = json::read(&export).unwrap().sweep;
    assert_eq!(
        serde_json::to_value(&stored.rows).unwrap(),
        serde_json::to_value(&exported.rows).unwrap()
    );

    // The run just made against the baseline, and an export against it: same verdicts as
    // compare A B, exit 0 (no change reaches a 1000% floor and threshold, however busy the
    // machine running the tests; the statuses on a real regression are tested below).
    for args in [
        vec![
            "compare",
            "--baseline",
            "main",
            "--noise-floor",
            "1000",
            "--threshold",
            "1000",
        ],
        vec![
            "compare",
            "--baseline",
            "main",
            export.to_str().unwrap(),
            "--noise-floor",
            "1000",
            "--threshold",
            "1000",
        ],
        vec![
            "compare",
            "--last",
            "--noise-floor",
            "1000",
            "--threshold",
            "1000",
        ],
    ] {
        let out = run(&args, &db);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let stdout = text(&out.stdout);
        assert!(stdout.contains("inference time"), "{stdout}");
        assert!(stdout.contains("0 regressed"), "{stdout}");
        assert!(
            text(&out.stderr).contains("against run 1 (first"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn baseline_compare_exit_statuses_match_compare_a_b() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("results.sqlite");
    let (fast, slow) = (dir.path().join("fast.json"), dir.path().join("slow.json"));
    scaled_export(&fast, 1.0);
    scaled_export(&slow, 2.0);
    let import = |file: &Path, name: &str| {
        let out = run(
            &[
                "db",
                "import",
                file.to_str().unwrap(),
                "--save-baseline",
                name,
            ],
            &db,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    import(&fast, "fast");
    import(&slow, "slow");
    let status = |args: &[&str]| run(args, &db).status.code();
    let slow_s = slow.to_str().unwrap();
    let fast_s = fast.to_str().unwrap();
    // The same pairs through files and through the database: the same statuses.
    assert_eq!(status(&["compare", fast_s, slow_s]), Some(1));
    assert_eq!(status(&["compare", "--baseline", "fast", slow_s]), Some(1));
    assert_eq!(
        status(&["compare", "--baseline", "fast"]),
        Some(1),
        "newest run: slow"
    );
    assert_eq!(status(&["compare", slow_s, fast_s]), Some(0));
    assert_eq!(status(&["compare", "--baseline", "slow", fast_s]), Some(0));
    assert_eq!(
        status(&["compare", "--last", fast_s]),
        Some(0),
        "last: slow"
    );
    assert_eq!(status(&["compare", "--last"]), Some(1), "slow against fast");
    // Errors are status 2, in one line naming what is wrong.
    let out = run(&["compare", "--baseline", "nope"], &db);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--baseline nope: no such baseline") && stderr.contains("fast, slow"),
        "{stderr}"
    );
    let out = run(&["compare", "--baseline", "fast", fast_s, slow_s], &db);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["compare", fast_s], &db);
    assert_eq!(out.status.code(), Some(2));
    let missing = dir.path().join("none.sqlite");
    let out = bin()
        .args([
            "compare",
            "--baseline",
            "main",
            "--db",
            missing.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no results database there yet"));
    assert!(!missing.exists(), "reading does not create a database");
}

#[test]
fn two_runs_write_one_database_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.sqlite");
    let spawn = |label: &str| {
        Command::new(env!("CARGO_BIN_EXE_run-benchmark"))
            .args([
                "--models",
                TINY,
                "--batch-sizes",
                "1",
                "2",
                "--sequence-lengths",
            ])
            .args(["8", "16", "--runs", "3", "-q", "--label", label, "--db"])
            .arg(&db)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("a"), spawn("b"));
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    assert_eq!(
        count(&db, "SELECT count(*) FROM runs WHERE finished IS NOT NULL"),
        2
    );
    // 2 batch sizes x 2 lengths x (speed, memory), each run's own.
    for label in ["a", "b"] {
        let cells = count(
            &db,
            &format!(
                "SELECT count(*) FROM cells JOIN runs ON runs.id = run_id WHERE label = '{label}'"
            ),
        );
        assert_eq!(cells, 8, "{label}");
    }
}

#[test]
fn two_writers_in_one_process_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("threads.sqlite");
    let sweep = json::read(Path::new(SCHEMA_1)).unwrap().sweep;
    Store::open(&db).unwrap();
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (db, sweep) = (db.clone(), sweep.clone());
            std::thread::spawn(move || {
                let mut store = Store::open(&db).unwrap();
                let run = store.begin_run(&sweep, &Default::default()).unwrap();
                for _ in 0..50 {
                    for row in &sweep.rows {
                        store.append(run, &sweep, row).unwrap();
                    }
                }
                store.finish_run(run, &sweep, false).unwrap();
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    assert_eq!(count(&db, "SELECT count(*) FROM cells"), 200);
}

#[test]
fn a_killed_run_keeps_its_finished_cells() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("killed.sqlite");
    // Each speed cell times for at least 3 s: the sweep is killed during the second.
    let mut sweep = Command::new(env!("CARGO_BIN_EXE_run-benchmark"))
        .args(["--models", TINY, "--batch-sizes", "1", "--sequence-lengths"])
        .args([
            "8",
            "16",
            "32",
            "--no-memory",
            "--min-time",
            "3",
            "--max-runs",
        ])
        .args(["100000000", "--precision", "off", "--db"])
        .arg(&db)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let cells = || {
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| c.query_row("SELECT count(*) FROM cells", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0)
    };
    while cells() < 1 {
        assert!(sweep.try_wait().unwrap().is_none(), "the sweep ended early");
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no cell finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on a pid this test started.
    assert_eq!(unsafe { libc::kill(sweep.id() as i32, libc::SIGKILL) }, 0);
    sweep.wait().unwrap();
    let store = Store::open_existing(&db).unwrap();
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].finished, None, "killed: never finished");
    assert!((1..3).contains(&runs[0].cells), "{:?}", runs[0]);
    let kept = store.sweep(runs[0].id).unwrap();
    assert!(matches!(&kept.rows[0].1, CellResult::Speed(s) if s.samples.len() >= 6));
    let out = run(&["db", "runs"], &db);
    assert!(
        text(&out.stdout).contains("unfinished"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_first_schema_database_migrates_forward_keeping_runs_and_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v1.sqlite");
    std::fs::copy(V1_DATABASE, &db).unwrap();
    assert_eq!(count(&db, "PRAGMA user_version"), 1);
    let out = run(&["db", "runs"], &db);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("v1 run") && stdout.contains("main"),
        "{stdout}"
    );
    assert_eq!(
        count(&db, "PRAGMA user_version"),
        run_benchmark::db::schema::VERSION as i64
    );
    assert_eq!(
        count(&db, "SELECT run_id FROM baselines WHERE name = 'main'"),
        1
    );
    // Its run reads back and compares: against itself, nothing regressed.
    let out = run(&["compare", "--baseline", "main"], &db);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("tiny"), "{}", text(&out.stdout));
    // A new run's cells go in beside the migrated ones.
    let export = dir.path().join("new.json");
    scaled_export(&export, 1.0);
    let out = run(&["db", "import", export.to_str().unwrap()], &db);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(count(&db, "SELECT count(*) FROM cells"), 6);
    // The migrated run's cells were PyTorch's, and say so.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM cells WHERE framework = 'pytorch'"
        ),
        6
    );
}

/// The same model and sizes measured in two frameworks are two cells to history: three
/// PyTorch runs and three TensorFlow runs twice as slow, interleaved, mark no change.
#[test]
fn history_follows_each_framework_as_a_cell_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("frameworks.sqlite");
    for (i, (factor, framework)) in [
        (1.0, Framework::Pytorch),
        (2.0, Framework::Tensorflow),
        (1.01, Framework::Pytorch),
        (2.02, Framework::Tensorflow),
        (0.99, Framework::Pytorch),
        (1.98, Framework::Tensorflow),
    ]
    .into_iter()
    .enumerate()
    {
        let export = dir.path().join(format!("run{i}.json"));
        scaled_export_in(&export, factor, framework);
        let out = run(&["db", "import", export.to_str().unwrap()], &db);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    assert_eq!(count(&db, "SELECT count(DISTINCT framework) FROM cells"), 2);
    let out = run(&["history", "tiny"], &db);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("tiny tensorflow f32"), "{stdout}");
    assert!(!stdout.contains("▲") && !stdout.contains("▼"), "{stdout}");
}

#[test]
fn foreign_and_newer_databases_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE notes (x TEXT)")
        .unwrap();
    let newer = dir.path().join("newer.sqlite");
    std::fs::copy(V1_DATABASE, &newer).unwrap();
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let text_file = dir.path().join("notes.txt");
    std::fs::write(&text_file, "hello, this is not SQLite at all").unwrap();
    for (file, expected) in [
        (&foreign, "is not a run-benchmark results database"),
        (&newer, "newer than this run-benchmark's"),
        (&text_file, "is not a run-benchmark results database"),
    ] {
        for args in [
            vec![
                "--models",
                TINY,
                "--batch-sizes",
                "1",
                "--sequence-lengths",
                "8",
            ],
            vec!["history"],
        ] {
            let out = run(&args, file);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            let stderr = text(&out.stderr);
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(stderr.contains(expected), "{stderr}");
        }
    }
    assert_eq!(
        std::fs::read_to_string(&text_file).unwrap(),
        "hello, this is not SQLite at all"
    );
    assert_eq!(count(&newer, "PRAGMA user_version"), 99);
}

#[test]
fn exports_of_both_schemas_and_the_originals_csv_files_import() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("imported.sqlite");
    let v2 = dir.path().join("v2.json");
    scaled_export(&v2, 1.5);
    let time = dir.path().join("inference_time.csv");
    std::fs::write(
        &time,
        "model,batch_size,sequence_length,result\nbert-base-uncased,8,8,0.0123\n\
         bert-base-uncased,8,32,N/A\n",
    )
    .unwrap();
    let memory = dir.path().join("inference_memory.csv");
    std::fs::write(
        &memory,
        "model,batch_size,sequence_length,result\nbert-base-uncased,8,8,1558\n",
    )
    .unwrap();
    let out = run(
        &[
            "db",
            "import",
            SCHEMA_1,
            v2.to_str().unwrap(),
            time.to_str().unwrap(),
        ]
        .into_iter()
        .chain([memory.to_str().unwrap()])
        .collect::<Vec<_>>(),
        &db,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("Imported").count(), 3, "{stderr}");
    let store = Store::open_existing(&db).unwrap();
    let runs = store.runs().unwrap();
    assert_eq!(
        runs.iter().map(|r| r.cells).collect::<Vec<_>>(),
        [2, 2, 3],
        "{runs:?}"
    );
    assert_eq!(runs[0].label.as_deref(), Some("export-schema1"));
    // The schema-1 export reads back with its samples.
    let back = store.sweep(runs[0].id).unwrap();
    let original = json::read(Path::new(SCHEMA_1)).unwrap().sweep;
    assert_eq!(
        serde_json::to_value(&back.rows).unwrap(),
        serde_json::to_value(&original.rows).unwrap()
    );
    // The CSV files: one run, figures as the original wrote them, N/A kept with a reason.
    let csv = store.sweep(runs[2].id).unwrap();
    let figures: Vec<String> = (csv.rows.iter())
        .map(|(c, r)| match r {
            CellResult::Speed(s) => format!("{} {} time {}", c.model, c.sequence_length, s.seconds),
            CellResult::Memory(m) => {
                format!(
                    "{} {} memory {}",
                    c.model,
                    c.sequence_length,
                    m.peak_rss_bytes >> 20
                )
            }
            CellResult::NotAvailable { reason } => format!("{} N/A {reason}", c.sequence_length),
        })
        .collect();
    assert_eq!(
        figures,
        [
            "bert-base-uncased 8 time 0.0123",
            "32 N/A N/A in the imported CSV file",
            "bert-base-uncased 8 memory 1558"
        ]
    );
    // A CSV file whose name does not say its section is refused in one line.
    let odd = dir.path().join("results.csv");
    std::fs::copy(&time, &odd).unwrap();
    let out = run(&["db", "import", odd.to_str().unwrap()], &db);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the name does not say inference or train"),
        "{}",
        text(&out.stderr)
    );
}

/// Six runs of one sweep: steady, then 30% slower from the fourth on.
fn history_database(dir: &Path) -> PathBuf {
    let db = dir.join("history.sqlite");
    for (i, factor) in [1.0, 1.01, 0.99, 1.3, 1.31, 1.29].iter().enumerate() {
        let export = dir.join(format!("commit{}.json", i + 1));
        scaled_export(&export, *factor);
        let out = run(&["db", "import", export.to_str().unwrap()], &db);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    db
}

#[test]
fn history_marks_the_run_a_regression_came_in() {
    let dir = tempfile::tempdir().unwrap();
    let db = history_database(dir.path());
    let out = bin()
        .args(["history", "tiny", "--db", db.to_str().unwrap()])
        .env("COLUMNS", "250")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // Two cells (sequence 8 and 32), six runs each, 31% slower from the fourth. Sequence 8's
    // intervals are narrow: its step is marked. Sequence 32's samples are noisy, its intervals
    // overlap across the step: not marked.
    assert_eq!(
        stdout.matches("commit4").count(),
        3,
        "two rows and a note: {stdout}"
    );
    assert_eq!(stdout.matches("▲ slower").count(), 1, "{stdout}");
    assert!(stdout.contains("+31.3%"), "{stdout}");
    for i in 1..=6 {
        assert!(stdout.contains(&format!("commit{i}")), "{stdout}");
    }
    let marked: Vec<&str> = stdout.lines().filter(|l| l.contains("▲")).collect();
    assert!(marked.iter().all(|l| l.contains("commit4")), "{marked:?}");
    assert!(
        stdout.contains("sequence 8 inference: +31.3% at run 4 (commit4)"),
        "{stdout}"
    );
    // --since after every run, another model, another metric: said in one line.
    for args in [
        vec!["history", "--since", "2999-01-01"],
        vec!["history", "gpt2"],
        vec!["history", "--metric", "memory"],
    ] {
        let out = run(&args, &db);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(text(&out.stderr).contains("no "), "{}", text(&out.stderr));
    }
    let out = run(&["history", "--since", "yesterday"], &db);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--since"));
}

#[test]
fn plot_history_draws_a_line_per_cell_over_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = history_database(dir.path());
    let svg = dir.path().join("history.svg");
    let out = run(&["plot", "--history", "-o", svg.to_str().unwrap()], &db);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let chart = std::fs::read_to_string(&svg).unwrap();
    // The runs' labels on x, both cells in the legend, the marked changes drawn.
    for i in 1..=6 {
        assert!(chart.contains(&format!("commit{i}")), "commit{i}");
    }
    assert!(chart.contains("sequence 8 inference") && chart.contains("sequence 32 inference"));
    assert!(chart.contains("95% interval"), "the band's note");
    let png = dir.path().join("history.png");
    let out = run(
        &[
            "plot",
            "--history",
            "tiny",
            "--since",
            "2000-01-01",
            "-o",
            png.to_str().unwrap(),
        ],
        &db,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    let out = run(
        &["plot", "--history", "gpt2", "-o", png.to_str().unwrap()],
        &db,
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn db_schema_prints_the_current_schema() {
    let out = bin().args(["db", "schema"]).output().unwrap();
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.contains("CREATE TABLE runs") && stdout.contains("CREATE TABLE cells"));
    assert!(stdout.contains("CREATE TABLE baselines"), "{stdout}");
    assert!(stdout.contains(&format!(
        "PRAGMA user_version = {}",
        run_benchmark::db::schema::VERSION
    )));
}

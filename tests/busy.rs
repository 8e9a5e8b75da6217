//! Issue 13, point 4: a sweep on a busy machine says so in one warning line, records the load
//! in the environment (tables and JSON) and marks the cells measured under it. With them, one
//! at a time, the other tests that need to know the machine's load: the calibration cache
//! (only a quiet calibration is cached).

use serde_json::Value;
use std::process::{Child, Command, Stdio};

mod e2e;

use e2e::{bin, environment, read, QUICK, TINY};

/// The tests here read the machine's load: one at a time, or one's busy loops are the
/// other's background.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Busy loops in processes of their own, one per core, killed (by their handles) when dropped.
struct Hogs(Vec<Child>);

impl Hogs {
    fn start(count: usize) -> Hogs {
        Hogs(
            (0..count)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .stdout(Stdio::null())
                        .spawn()
                        .expect("sh runs")
                })
                .collect(),
        )
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The tiny model's speed cells at batch 1, one thread, with `cache` as the calibration
/// cache (so a test's calibration is measured where it runs); the caller adds the sizes.
fn tiny_speed(cache: &std::path::Path) -> assert_cmd::Command {
    let mut command = bin();
    command
        .env("XDG_CACHE_HOME", cache)
        .args(["--models", TINY, "--batch-sizes", "1"])
        .args(QUICK)
        .args(["--threads", "1", "--no-memory"]);
    command
}

fn cores() -> usize {
    std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count()
}

#[test]
fn a_busy_machine_is_warned_about_recorded_and_marked() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("busy.json");
    // A cache of its own, so the calibration is measured here, beside the busy loops.
    let cache = dir.path().join("cache");
    let hogs = Hogs::start(cores());
    let output = tiny_speed(&cache)
        .args([
            "--sequence-lengths",
            "8",
            "16",
            "--env-print",
            "--export-json",
        ])
        .arg(&json)
        .assert()
        .success();
    drop(hogs);
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    let stdout = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("Warning: the machine is busy"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning line: {stderr}");
    assert!(warnings[0].contains("other processes take"), "{stderr}");
    // A ceiling measured beside the busy loops reads low: it is cached marked busy, and
    // stands in only while the machine stays busy.
    assert!(
        stderr.contains("Calibration measured while other processes took"),
        "{stderr}"
    );
    let cached = || -> Value {
        serde_json::from_str(&read(&cache.join("run-benchmark/calibration.json"))).unwrap()
    };
    assert_eq!(cached()[0]["busy"], true, "{}", cached());
    // The tables mark the figures and say why; the environment holds both looks.
    assert!(stdout.contains(" ~ |"), "{stdout}");
    assert!(stdout.contains("measured on a busy machine"), "{stdout}");
    assert!(stdout.contains("load_before_sweep"), "{stdout}");
    assert!(stdout.contains("load_during_sweep"), "{stdout}");
    let export: Value = serde_json::from_str(&read(&json)).unwrap();
    let before = export["environment"]["load_before_sweep"].as_str().unwrap();
    assert!(before.contains("(busy)"), "{before}");
    let calibration = export["environment"]["calibration"].as_str().unwrap();
    assert_eq!(calibration, "measured on a busy machine");
    let during = export["environment"]["load_during_sweep"].as_str().unwrap();
    assert!(during.starts_with("2 of 2 measured cells busy"), "{during}");
    for row in export["rows"].as_array().unwrap() {
        let load = &row["speed"]["load"];
        assert_eq!(load["busy"], true, "{row}");
        assert!(load["other_cores"].as_f64().unwrap() >= 0.5, "{load}");
    }
    // The busy loops gone, the next run measures the ceilings again and caches them quiet.
    let quiet = dir.path().join("quiet.json");
    tiny_speed(&cache)
        .args(["--sequence-lengths", "8", "--quiet", "--export-json"])
        .arg(&quiet)
        .assert()
        .success();
    let export: Value = serde_json::from_str(&read(&quiet)).unwrap();
    assert_eq!(export["environment"]["calibration"], "measured", "{export}");
    assert_eq!(cached()[0]["busy"], false, "{}", cached());
}

/// A cell's own child is not "another process": its CPU time (a core, for 2 s) counts as the
/// sweep's whether the child was forked from the zygote (the zygote reaps it) or exec'd (the
/// sweep does). Both ways run back to back under the same background, so the figures for
/// other processes stay within half a core of each other instead of differing by the core
/// the child took.
#[test]
fn the_cells_own_child_is_not_counted_as_other_processes() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let others = |exec: bool| {
        let json = dir.path().join(format!("exec-{exec}.json"));
        let mut command = bin();
        if exec {
            command.env("RUN_BENCHMARK_EXEC_CHILDREN", "1");
        }
        command
            .args([
                "--models",
                TINY,
                "--batch-sizes",
                "1",
                "--sequence-lengths",
                "8",
            ])
            .args([
                "--threads",
                "1",
                "--no-memory",
                "--min-time",
                "2",
                "--quiet",
            ])
            .arg("--export-json")
            .arg(&json)
            .assert()
            .success();
        let export: Value = serde_json::from_str(&read(&json)).unwrap();
        export["rows"][0]["speed"]["load"]["other_cores"]
            .as_f64()
            .unwrap()
    };
    let (forked, exec) = (others(false), others(true));
    assert!(
        (forked - exec).abs() < 0.5,
        "other processes: {forked:.2} cores beside a forked child, {exec:.2} beside an exec'd one"
    );
}

#[test]
fn the_calibration_is_measured_once_then_reused_until_recalibrate() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let run = |extra: &[&str], name: &str| {
        let out = dir.path().join(name);
        let assert = tiny_speed(&cache)
            .args(["--sequence-lengths", "8", "--quiet"])
            .args(extra)
            .arg("--export-json")
            .arg(&out)
            .assert()
            .success();
        let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
        (serde_json::from_str::<Value>(&read(&out)).unwrap(), stderr)
    };
    let (first, _) = run(&[], "first.json");
    assert_eq!(environment(&first, "calibration"), "measured");
    let file = cache.join("run-benchmark").join("calibration.json");
    let cached: Value = serde_json::from_str(&read(&file)).unwrap();
    assert_eq!(cached[0]["key"]["dtype"], "f32");
    assert_eq!(cached[0]["result"], first["calibration"]);
    // The bandwidth ceiling is measured with it, cached with it and shown in the environment.
    let read = first["calibration"]["bandwidth"]["read_bytes_per_second"].as_f64();
    assert!(read.is_some_and(|r| r > 1e8), "{first}");
    assert!(
        environment(&first, "memory_bandwidth").starts_with("read "),
        "{first}"
    );

    let (second, _) = run(&[], "second.json");
    assert!(
        environment(&second, "calibration").starts_with("reused, measured "),
        "{second}"
    );
    assert_eq!(second["calibration"], first["calibration"]);

    // Another dtype is another key; --recalibrate measures again.
    let (bf16, _) = run(&["--bf16"], "bf16.json");
    assert_eq!(environment(&bf16, "calibration"), "measured");
    let (again, _) = run(&["--recalibrate"], "again.json");
    assert_eq!(environment(&again, "calibration"), "measured");
}

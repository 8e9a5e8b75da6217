//! A real single-node Slurm cluster: munged, slurmctld and slurmd started by this test in a
//! temporary folder (their own ports, socket and state), fed examples/slurm/sweep.sbatch and
//! merge.sbatch exactly as docs/scale-out.md submits them. `make test` installs Debian's
//! slurm-wlm and munge first (scripts/scale_out_deps.sh); without them the test says so and
//! passes.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod e2e;

const DAEMONS: [&str; 4] = ["munged", "slurmctld", "slurmd", "sbatch"];

/// One cluster at a time: each believes it has the machine's cores to itself.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The daemons of one cluster, stopped (by pid) when it is dropped.
struct Cluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
    daemons: Vec<(&'static str, Child)>,
}

fn found(program: &str) -> bool {
    let dirs = std::env::var("PATH").unwrap_or_default();
    let found = (dirs.split(':').chain(["/usr/sbin", "/sbin"]))
        .any(|dir| Path::new(dir).join(program).exists());
    found
}

/// A TCP port nothing listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn output(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Cluster {
    /// Starts munged, slurmctld and slurmd; `None` when Slurm is not installed.
    fn start() -> Option<Cluster> {
        if let Some(missing) = DAEMONS.iter().find(|p| !found(p)) {
            eprintln!(
                "skipped: {missing} is not installed (make test installs slurm-wlm and munge \
                 through scripts/scale_out_deps.sh, as root on Debian)"
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let path = |name: &str| root.join(name);
        for sub in ["munge", "key", "state", "spool", "log"] {
            std::fs::create_dir(path(sub)).unwrap();
        }
        // munged wants its key private, and its socket's folder open to everyone.
        use std::os::unix::fs::PermissionsExt;
        let mut key = [0u8; 1024];
        std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut key)
            .unwrap();
        std::fs::write(path("key/munge.key"), key).unwrap();
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(path("key/munge.key"), private).unwrap();
        std::fs::set_permissions(path("key"), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(path("munge"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();

        // This machine as slurmd sees it: its name, cores and memory.
        let node = output(Command::new("slurmd").arg("-C"));
        let node = node.lines().next().unwrap().to_string();
        let host = node
            .strip_prefix("NodeName=")
            .and_then(|rest| rest.split_whitespace().next())
            .expect("slurmd -C names the node")
            .to_string();
        let socket = path("munge/socket");
        let conf = path("slurm.conf");
        std::fs::write(
            &conf,
            format!(
                "ClusterName=run-benchmark-test\n\
                 SlurmctldHost={host}(127.0.0.1)\n\
                 SlurmctldPort={}\n\
                 SlurmdPort={}\n\
                 SlurmUser=root\n\
                 SlurmdUser=root\n\
                 AuthType=auth/munge\n\
                 CredType=cred/munge\n\
                 AuthInfo=socket={socket}\n\
                 ProctrackType=proctrack/linuxproc\n\
                 TaskPlugin=task/none\n\
                 JobAcctGatherType=jobacct_gather/none\n\
                 AccountingStorageType=accounting_storage/none\n\
                 MpiDefault=none\n\
                 SelectType=select/cons_tres\n\
                 SelectTypeParameters=CR_CPU\n\
                 ReturnToService=2\n\
                 StateSaveLocation={state}\n\
                 SlurmdSpoolDir={spool}\n\
                 SlurmctldPidFile={dir}/slurmctld.pid\n\
                 SlurmdPidFile={dir}/slurmd.pid\n\
                 SlurmctldLogFile={dir}/log/slurmctld.log\n\
                 SlurmdLogFile={dir}/log/slurmd.log\n\
                 {node_line}\n\
                 PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
                free_port(),
                free_port(),
                socket = socket.display(),
                state = path("state").display(),
                spool = path("spool").display(),
                dir = root.display(),
                // slurmd -C's line less its uptime: the real sockets, cores and RealMemory.
                // (reached on the loopback, whatever the host name resolves to).
                node_line = node
                    .split_whitespace()
                    .filter(|f| !f.starts_with("UpTime="))
                    .chain(["NodeAddr=127.0.0.1"])
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        )
        .unwrap();
        let mut cluster = Cluster {
            conf,
            daemons: Vec::new(),
            dir,
        };
        let log = |name: &str| std::fs::File::create(path(&format!("log/{name}.out"))).unwrap();
        let munged = Command::new("munged")
            .arg("--foreground")
            .arg("--force") // as root
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--key-file={}", path("key/munge.key").display()))
            .arg(format!("--pid-file={}", path("munge/munged.pid").display()))
            .arg(format!("--seed-file={}", path("munge/seed").display()))
            .arg(format!("--log-file={}", path("log/munged.log").display()))
            .stdout(log("munged"))
            .stderr(log("munged"))
            .spawn()
            .unwrap();
        cluster.daemons.push(("munged", munged));
        wait_for("munged's socket", Duration::from_secs(20), || {
            socket.exists()
        });
        for daemon in ["slurmctld", "slurmd"] {
            let mut command = Command::new(daemon);
            command.arg("-D").arg("-f").arg(&cluster.conf);
            if daemon == "slurmctld" {
                command.arg("-i"); // no state from an earlier run
            }
            let child = command
                .env("SLURM_CONF", &cluster.conf)
                .stdout(log(daemon))
                .stderr(log(daemon))
                .spawn()
                .unwrap();
            cluster.daemons.push((daemon, child));
        }
        let start = Instant::now();
        loop {
            let state = cluster.client("sinfo").args(["-h", "-o", "%T"]).output();
            let state = state.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
            if state.as_deref().is_ok_and(|s| s == "idle") {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                panic!(
                    "the node never became idle ({state:?}):\n{}",
                    cluster.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(cluster)
    }

    /// A Slurm client command on this cluster.
    fn client(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("SLURM_CONF", &self.conf)
            .current_dir(self.dir.path());
        command
    }

    /// Submits `script` with `options` and the script's `args`; the job id.
    fn sbatch(&self, options: &[&str], script: &str, args: &[&Path]) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
        let id = output(
            self.client("sbatch")
                .arg("--parsable")
                .args(options)
                .arg(script)
                .args(args)
                // The binary under test, and the tests' calibration cache (as in e2e::bin).
                .env("RUN_BENCHMARK", env!("CARGO_BIN_EXE_run-benchmark"))
                .env(
                    "XDG_CACHE_HOME",
                    Path::new(env!("CARGO_TARGET_TMPDIR")).join("cache"),
                ),
        );
        id.trim().to_string()
    }

    /// The job's (or array task's, `JOB_INDEX`) state as `scontrol show job` says it.
    fn state(&self, job: &str) -> String {
        let text = output(self.client("scontrol").args(["show", "job", job]));
        let field = |name: &str| {
            text.split_whitespace()
                .find_map(|f| f.strip_prefix(name))
                .unwrap_or("")
                .to_string()
        };
        format!("{} {}", field("JobState="), field("Reason="))
    }

    /// Waits until nothing of these jobs is pending or running.
    fn wait_done(&self, jobs: &[&str], timeout: Duration) {
        let start = Instant::now();
        loop {
            let queued =
                output(
                    self.client("squeue")
                        .args(["-h", "-o", "%i %T", "-j", &jobs.join(",")]),
                );
            if queued.trim().is_empty() {
                return;
            }
            if start.elapsed() > timeout {
                panic!(
                    "jobs still queued after {timeout:?}:\n{queued}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Every log the daemons and jobs wrote, for a failure's message.
    fn logs(&self) -> String {
        let mut text = String::new();
        for folder in [self.dir.path().join("log"), self.dir.path().to_path_buf()] {
            for entry in std::fs::read_dir(folder).unwrap().flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if entry.path().is_file() && (name.ends_with(".log") || name.ends_with(".out")) {
                    let body = std::fs::read_to_string(entry.path()).unwrap_or_default();
                    let tail: Vec<&str> = body.lines().rev().take(30).collect();
                    text += &format!("--- {name}\n");
                    for line in tail.into_iter().rev() {
                        text += line;
                        text += "\n";
                    }
                }
            }
        }
        text
    }

    /// Cancels what is still queued or running (after a failed check), then stops the
    /// daemons by pid (SIGTERM, then SIGKILL after 20 s) and reaps them.
    fn stop_daemons(&mut self) {
        if self.daemons.len() == 3 {
            let _ = self.client("scancel").args(["--user", "root"]).status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(60) {
                let queued = self.client("squeue").args(["-h", "-o", "%i"]).output();
                if queued.map_or(true, |o| o.stdout.is_empty()) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        }
        // slurmd first, so it stops no job of a controller already gone; munged last.
        while let Some((name, mut child)) = self.daemons.pop() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            while child.try_wait().ok().flatten().is_none() {
                if start.elapsed() > Duration::from_secs(20) {
                    eprintln!("{name} ignored SIGTERM; killing it");
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Processes whose command line or environment names this cluster's folder: its daemons,
    /// slurmstepd and the jobs' processes.
    fn leftovers(&self) -> Vec<String> {
        let ours = self.dir.path().to_string_lossy().to_string();
        let me = std::process::id().to_string();
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let pid = entry.file_name().to_string_lossy().to_string();
            if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
                continue;
            }
            let read = |file: &str| std::fs::read(entry.path().join(file)).unwrap_or_default();
            let (cmdline, environ) = (read("cmdline"), read("environ"));
            let names = |bytes: &[u8]| String::from_utf8_lossy(bytes).contains(&ours);
            if names(&cmdline) || names(&environ) {
                found.push(format!(
                    "{pid}: {}",
                    String::from_utf8_lossy(&cmdline).replace('\0', " ")
                ));
            }
        }
        found
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_daemons();
    }
}

/// A sweep file of two tiny models.
fn sweep_file(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join(e2e::TINY);
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "models = [\n  {{ name = \"tiny\", source = {tiny:?} }},\n  \
             {{ name = \"wide\", source = {tiny:?}, overrides = {{ hidden_size = 64 }} }},\n]\n\
             batch_sizes = [1]\n{extra}\n"
        ),
    )
    .unwrap();
    path
}

fn parse(path: &Path) -> Value {
    serde_json::from_str(&e2e::read(path)).unwrap()
}

/// Every row's cell (model, config, sizes, mode, metric, settings), results aside.
fn cells(export: &Value) -> Vec<Value> {
    export["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["cell"].clone())
        .collect()
}

/// The rows that hold a result (not N/A).
fn measured(export: &Value) -> Vec<Value> {
    (export["rows"].as_array().unwrap().iter())
        .filter(|row| row["status"] == "ok")
        .cloned()
        .collect()
}

/// How many cells of the whole plan belong to shard `index` (1-based).
fn planned(export: &Value, index: usize) -> usize {
    (export["shard"]["plan"].as_array().unwrap().iter())
        .filter(|cell| cell["shard"] == index - 1)
        .count()
}

#[test]
fn a_slurm_array_job_and_its_merge_give_the_whole_sweep() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut cluster) = Cluster::start() else {
        return;
    };
    let dir = cluster.dir.path().to_path_buf();
    let sweep = sweep_file(&dir, "sweep.toml", "sequence_lengths = [8, 16]\nruns = 3");
    let out = dir.join("results");

    // What one process planning the whole sweep measures.
    let whole = dir.join("whole.json");
    e2e::bin()
        .arg("--sweep")
        .arg(&sweep)
        .arg("--export-json")
        .arg(&whole)
        .assert()
        .success();

    // As docs/scale-out.md submits it: the array, then the merge once every task succeeded.
    let array = cluster.sbatch(
        &["--array=1-3"],
        "examples/slurm/sweep.sbatch",
        &[&sweep, &out],
    );
    let merge = cluster.sbatch(
        &[&format!("--dependency=afterok:{array}")],
        "examples/slurm/merge.sbatch",
        &[&out],
    );
    cluster.wait_done(&[&array, &merge], Duration::from_secs(300));
    assert!(
        cluster.state(&merge).starts_with("COMPLETED"),
        "{}",
        cluster.logs()
    );
    for task in 1..=3 {
        let part = parse(&out.join(format!("part-{task}.json")));
        assert_eq!(
            part["shard"]["shard"],
            serde_json::json!({"index": task, "count": 3})
        );
        assert_eq!(
            measured(&part).len(),
            planned(&part, task),
            "task {task} measured its part"
        );
    }
    let merged = parse(&out.join("sweep.json"));
    let whole = parse(&whole);
    assert_eq!(cells(&merged).len(), 8);
    assert_eq!(
        cells(&merged),
        cells(&whole),
        "the same cells, in the same order"
    );
    assert_eq!(measured(&merged).len(), 8, "no cell is missing or N/A");
    assert!(e2e::read(&out.join("sweep.md")).contains("| wide |"));

    let leftovers = stop(&mut cluster);
    assert!(leftovers.is_empty(), "still running: {leftovers:#?}");
}

#[test]
fn a_cancelled_array_task_resubmitted_alone_measures_only_its_missing_cells() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut cluster) = Cluster::start() else {
        return;
    };
    let dir = cluster.dir.path().to_path_buf();
    // Speed cells of at least a second and a half each, so a task is caught half-way.
    let sweep = sweep_file(
        &dir,
        "slow.toml",
        "sequence_lengths = [8, 16, 32]\nno_memory = true\nmin_time = 1.5",
    );
    let out = dir.join("results");
    let array = cluster.sbatch(
        &["--array=1-3"],
        "examples/slurm/sweep.sbatch",
        &[&sweep, &out],
    );
    let merge = cluster.sbatch(
        &[&format!("--dependency=afterok:{array}")],
        "examples/slurm/merge.sbatch",
        &[&out],
    );

    // Cancel task 2 once its part holds a finished cell and it measures the next one.
    let part = out.join("part-2.json");
    let mut finished = Vec::new();
    wait_for("task 2's first cell", Duration::from_secs(120), || {
        let Ok(text) = std::fs::read_to_string(&part) else {
            return false;
        };
        let Ok(export) = serde_json::from_str::<Value>(&text) else {
            return false;
        };
        finished = measured(&export);
        !finished.is_empty()
    });
    let total = planned(&parse(&part), 2);
    assert!(
        finished.len() < total,
        "task 2 was caught before it finished"
    );
    output(cluster.client("scancel").arg(format!("{array}_2")));
    cluster.wait_done(&[&array], Duration::from_secs(300));
    assert!(cluster
        .state(&format!("{array}_2"))
        .starts_with("CANCELLED"));
    // The merge waits for an array that can no longer succeed (once the scheduler looks).
    wait_for(
        "the merge's dependency to fail",
        Duration::from_secs(60),
        || cluster.state(&merge).contains("DependencyNeverSatisfied"),
    );
    output(cluster.client("scancel").arg(&merge));
    let kept = measured(&parse(&part));
    assert!(
        !kept.is_empty() && kept.len() < total,
        "{} of {total}",
        kept.len()
    );

    // The task again, alone: it carries its finished cells over and measures the rest.
    let again = cluster.sbatch(
        &["--array=2"],
        "examples/slurm/sweep.sbatch",
        &[&sweep, &out],
    );
    let merge = cluster.sbatch(
        &[&format!("--dependency=afterok:{again}")],
        "examples/slurm/merge.sbatch",
        &[&out],
    );
    cluster.wait_done(&[&again, &merge], Duration::from_secs(300));
    assert!(
        cluster.state(&merge).starts_with("COMPLETED"),
        "{}",
        cluster.logs()
    );
    let log = e2e::read(&dir.join(format!("slurm-{again}_2.out")));
    assert!(log.contains("shard 2/3"), "{log}");
    assert!(
        log.contains(&format!(
            "{kept} of {total} cells carried over, {rest} to measure",
            kept = kept.len(),
            rest = total - kept.len()
        )),
        "{log}"
    );
    let resumed = measured(&parse(&part));
    assert_eq!(resumed.len(), total);
    for row in &kept {
        assert!(
            resumed.contains(row),
            "a finished cell was measured again: {row}"
        );
    }
    let merged = parse(&out.join("sweep.json"));
    assert_eq!(
        measured(&merged).len(),
        6,
        "the whole sweep, nothing missing"
    );

    let leftovers = stop(&mut cluster);
    assert!(leftovers.is_empty(), "still running: {leftovers:#?}");
}

/// Stops the cluster's daemons; what is left running of it afterwards.
fn stop(cluster: &mut Cluster) -> Vec<String> {
    // The check sees the daemons while they run, so an empty answer afterwards means gone.
    let running = cluster.leftovers().join("\n");
    for daemon in ["munged", "slurmctld", "slurmd"] {
        assert!(running.contains(daemon), "{daemon} not seen in:\n{running}");
    }
    cluster.stop_daemons();
    // A killed slurmstepd's processes can take a moment to go.
    let start = Instant::now();
    loop {
        let left = cluster.leftovers();
        if left.is_empty() || start.elapsed() > Duration::from_secs(10) {
            return left;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

//! examples/kubernetes/indexed-job.yaml, without a cluster: valid against the Kubernetes API
//! schemas (the PyPI package kubernetes-validate, which `make test` installs into
//! .venv-tools), and its pods' own shell commands, run here with the environment each pod
//! would see, measure shard K+1/N for JOB_COMPLETION_INDEX K and N the Job's completions; the
//! merge Job's commands then join the parts.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

mod e2e;

const MANIFEST: &str = "examples/kubernetes/indexed-job.yaml";

fn tools() -> Option<PathBuf> {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-tools/bin");
    if bin.join("kubernetes-validate").exists() {
        return Some(bin);
    }
    eprintln!(
        "skipped: .venv-tools/bin/kubernetes-validate is missing (make test installs it: \
         make scale-out-deps)"
    );
    None
}

fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(MANIFEST)
}

fn validate(tools: &Path, file: &Path) -> std::process::Output {
    Command::new(tools.join("kubernetes-validate"))
        .arg("--strict")
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn the_manifest_is_valid_kubernetes() {
    let Some(tools) = tools() else {
        return;
    };
    let out = validate(&tools, &manifest());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for resource in [
        "persistentvolumeclaim/run-benchmark-results",
        "configmap/run-benchmark-sweep",
        "job/run-benchmark-sweep",
        "job/run-benchmark-merge",
    ] {
        assert!(
            stdout.contains(&format!("passed for resource {resource}")),
            "{stdout}"
        );
    }
    // The validator does reject a field the API does not have.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    let text = e2e::read(&manifest()).replace("backoffLimitPerIndex:", "backoffLimitPerIndx:");
    std::fs::write(&broken, text).unwrap();
    assert!(!validate(&tools, &broken).status.success());
}

/// The manifest's documents as JSON (PyYAML comes with kubernetes-validate).
fn documents(tools: &Path) -> Vec<Value> {
    let out = Command::new(tools.join("python"))
        .args([
            "-c",
            "import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)",
        ])
        .arg(manifest())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn job<'a>(documents: &'a [Value], name: &str) -> &'a Value {
    (documents.iter())
        .find(|d| d["kind"] == "Job" && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no Job {name} in {MANIFEST}"))
}

/// A container's shell script and its environment, from the manifest.
fn script(container: &Value) -> (String, Vec<(String, String)>) {
    assert_eq!(container["command"], serde_json::json!(["/bin/sh", "-c"]));
    let env = (container["env"].as_array().into_iter().flatten())
        .map(|e| {
            (
                e["name"].as_str().unwrap().into(),
                e["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    (container["args"][0].as_str().unwrap().to_string(), env)
}

/// Runs a pod's script as the pod would, with `run-benchmark` the binary under test, the
/// volumes' mount paths replaced by `mounts`, and `extra` variables set by Kubernetes.
fn run_pod(
    container: &Value,
    mounts: &[(&str, &Path)],
    extra: &[(&str, String)],
) -> std::process::Output {
    let (script, env) = script(container);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_run-benchmark"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("/bin/sh");
    command.arg("-c").arg(&script).env("PATH", path).env(
        "XDG_CACHE_HOME",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("cache"),
    );
    for (name, value) in env {
        // A path under a mount is the same path under the local folder.
        let local = (mounts.iter()).find_map(|(mount, dir)| {
            value
                .strip_prefix(mount)
                .map(|rest| format!("{}{rest}", dir.display()))
        });
        command.env(name, local.unwrap_or(value));
    }
    for (name, value) in extra {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn parse(path: &Path) -> Value {
    serde_json::from_str(&e2e::read(path)).unwrap()
}

#[test]
fn each_pod_measures_the_shard_of_its_completion_index_and_the_merge_joins_them() {
    let Some(tools) = tools() else {
        return;
    };
    let documents = documents(&tools);
    let sweep_job = job(&documents, "run-benchmark-sweep");
    assert_eq!(sweep_job["spec"]["completionMode"], "Indexed");
    let completions = sweep_job["spec"]["completions"].as_u64().unwrap() as usize;
    let pod = &sweep_job["spec"]["template"]["spec"];
    let shard = &pod["containers"][0];
    let (_, env) = script(shard);
    let count = env
        .iter()
        .find(|(n, _)| n == "SHARD_COUNT")
        .map(|(_, v)| v.clone());
    assert_eq!(
        count,
        Some(completions.to_string()),
        "the pods' SHARD_COUNT is the Job's completions"
    );
    // The volumes the manifest mounts: the shared results and the ConfigMap's sweep.
    let mount = |name: &str| -> String {
        (shard["volumeMounts"].as_array().unwrap().iter())
            .find(|m| m["name"] == name)
            .map(|m| m["mountPath"].as_str().unwrap().to_string())
            .unwrap()
    };
    let claim = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "results");
    assert!(claim.unwrap()["persistentVolumeClaim"]["claimName"].is_string());

    // The sweep: a tiny one in place of the ConfigMap's.
    let dir = tempfile::tempdir().unwrap();
    let (out, sweep) = (dir.path().join("out"), dir.path().join("sweep"));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&sweep).unwrap();
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join(e2e::TINY);
    std::fs::write(
        sweep.join("study.toml"),
        format!(
            "models = [\n  {{ name = \"tiny\", source = {tiny:?} }},\n  \
             {{ name = \"wide\", source = {tiny:?}, overrides = {{ hidden_size = 64 }} }},\n]\n\
             batch_sizes = [1]\nsequence_lengths = [8, 16]\nruns = 3\nno_memory = true\n"
        ),
    )
    .unwrap();
    let (out_mount, sweep_mount) = (mount("results"), mount("sweep"));
    let mounts = [
        (out_mount.as_str(), out.as_path()),
        (sweep_mount.as_str(), sweep.as_path()),
    ];
    for index in 0..completions {
        let run = run_pod(
            shard,
            &mounts,
            &[("JOB_COMPLETION_INDEX", index.to_string())],
        );
        assert!(
            run.status.success(),
            "pod {index}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let part = parse(&out.join(format!("part-{index}.json")));
        assert_eq!(
            part["shard"]["shard"],
            serde_json::json!({"index": index + 1, "count": completions}),
            "pod {index} measured shard {}/{completions}",
            index + 1
        );
        assert!(out.join(format!("done-{index}")).exists());
    }
    // A retried pod resumes its part: nothing is measured again.
    let again = run_pod(shard, &mounts, &[("JOB_COMPLETION_INDEX", "0".into())]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        again.status.success() && stderr.contains("cells carried over, 0 to measure"),
        "{stderr}"
    );

    // The merge Job: its wait ends, as every part is done, and it joins them.
    let merge = &job(&documents, "run-benchmark-merge")["spec"]["template"]["spec"];
    let wait = run_pod(&merge["initContainers"][0], &mounts, &[]);
    assert!(wait.status.success());
    let merged = run_pod(&merge["containers"][0], &mounts, &[]);
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let merged = parse(&out.join("sweep.json"));
    let rows = merged["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter().all(|row| row["status"] == "ok"),
        "every cell measured: {merged}"
    );
    assert!(e2e::read(&out.join("sweep.md")).contains("| wide |"));
}

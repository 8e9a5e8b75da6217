//! `--weights pretrained` end to end: the real binary loads a checkpoint written by
//! transformers (a parity fixture) in its child and says what it loaded; bad requests are
//! one clear line.

use predicates::prelude::*;

mod e2e;

use e2e::{bin, QUICK};

/// The rows of a JSON export.
fn rows(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["rows"].as_array().unwrap().clone()
}

#[test]
fn a_checkpoint_folder_loads_in_the_child_and_its_subnormals_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    bin()
        .args(QUICK)
        .args([
            "--models",
            "tests/fixtures/parity/llama",
            "--weights",
            "pretrained",
        ])
        .args([
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "--no-speed",
            "--training",
        ])
        .args(["--bf16", "--flush-subnormals", "--export-json"])
        .arg(&out)
        .assert()
        .success();
    let rows = rows(&out);
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["status"], "ok", "{row}");
        let ran = &row["memory"]["ran"];
        assert_eq!(ran["dtype"], "bf16");
        let loaded = &ran["pretrained"];
        // Every value of the fixture's checkpoint (its tied head has no copy of its own).
        assert!(loaded["values"].as_u64().unwrap() > 10_000, "{loaded}");
        assert!(loaded["subnormal"].as_u64().is_some());
        assert_eq!(loaded["flushed"], true);
    }
}

#[test]
fn a_folder_without_a_checkpoint_and_flushing_random_weights_are_clear_errors() {
    bin()
        .args(QUICK)
        .args([
            "--models",
            "tests/fixtures/tiny-bert.json",
            "--weights",
            "pretrained",
        ])
        .args(["--batch-sizes", "1", "--sequence-lengths", "8", "--dry-run"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "--weights pretrained: tests/fixtures holds neither model.safetensors nor \
             model.safetensors.index.json",
        ));
    bin()
        .args(QUICK)
        .args([
            "--models",
            "tests/fixtures/tiny-bert.json",
            "--flush-subnormals",
            "--dry-run",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "--flush-subnormals is for --weights pretrained",
        ));
}

/// The parity BERT checkpoint rewritten in `dir` with its first float32 tensor's first
/// `count` values made subnormal (1e-40, below f32's smallest normal 1.18e-38).
fn with_subnormals(dir: &std::path::Path, count: usize) {
    let fixture = std::path::Path::new("tests/fixtures/parity/bert");
    std::fs::copy(fixture.join("config.json"), dir.join("config.json")).unwrap();
    let bytes = std::fs::read(fixture.join("model.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = file.names().into_iter().cloned().collect();
    names.sort();
    let mut data: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = (names.iter())
        .map(|n| {
            let t = file.tensor(n).unwrap();
            (n.clone(), t.dtype(), t.shape().to_vec(), t.data().to_vec())
        })
        .collect();
    let target = (data.iter_mut())
        .find(|(_, dtype, _, d)| *dtype == safetensors::Dtype::F32 && d.len() >= 4 * count)
        .unwrap();
    for value in target.3.chunks_mut(4).take(count) {
        value.copy_from_slice(&1e-40f32.to_le_bytes());
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = (data.iter())
        .map(|(n, dtype, shape, d)| {
            let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), d).unwrap();
            (n.clone(), view)
        })
        .collect();
    safetensors::serialize_to_file(views, &None, &dir.join("model.safetensors")).unwrap();
}

#[test]
fn subnormal_weights_and_the_load_time_are_reported_and_noted_under_the_table() {
    let dir = tempfile::tempdir().unwrap();
    with_subnormals(dir.path(), 7);
    let size = std::fs::metadata(dir.path().join("model.safetensors"))
        .unwrap()
        .len();
    for flush in [false, true] {
        let out = dir.path().join(format!("r{flush}.json"));
        let mut cmd = bin();
        cmd.args(QUICK)
            .arg("--models")
            .arg(dir.path())
            .args(["--weights", "pretrained", "--batch-sizes", "1"])
            .args(["--sequence-lengths", "8", "--no-memory", "--export-json"])
            .arg(&out);
        if flush {
            cmd.arg("--flush-subnormals");
        }
        let assert = cmd.assert().success();
        let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
        let rows = rows(&out);
        let loaded = &rows[0]["speed"]["ran"]["pretrained"];
        assert_eq!(loaded["subnormal"], 7, "{loaded}");
        assert_eq!(loaded["flushed"], flush, "{loaded}");
        assert_eq!(loaded["checkpoint_bytes"], size, "{loaded}");
        let seconds = loaded["load_seconds"].as_f64().unwrap();
        assert!(seconds > 0.0 && seconds < 60.0, "{loaded}");
        let values = loaded["values"].as_u64().unwrap();
        assert!(
            stdout.contains(&format!("7 of {values} values subnormal")),
            "{stdout}"
        );
        assert!(stdout.contains("MiB loaded in "), "{stdout}");
        let said = match flush {
            true => "set to zero by --flush-subnormals",
            false => "kept: CPU kernels can take a many-fold slower path on them; --flush-subnormals sets them to zero.",
        };
        assert!(stdout.contains(said), "{stdout}");
    }
}

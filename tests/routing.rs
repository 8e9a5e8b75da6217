//! `--routing` and the experts' load end to end: the real binary runs the tiny Mixtral
//! checkpoint written by transformers (a parity fixture), counts the tokens each expert
//! received, exports them in the JSON and says in the notes which routing each row used.

use predicates::prelude::*;

mod e2e;

use e2e::{bin, QUICK};

const MIXTRAL: &str = "tests/fixtures/parity/mixtral";

/// Runs the fixture at batch 2, sequence 8 with `extra`; the JSON export and stdout.
fn run(extra: &[&str]) -> (serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let assert = bin()
        .args(QUICK)
        .args(["--models", MIXTRAL, "--batch-sizes", "2"])
        .args(["--sequence-lengths", "8", "--no-memory"])
        .args(extra)
        .arg("--export-json")
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    let json = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    (json, stdout)
}

/// Every row's expert load, checked to be whole: per layer, counts summing to
/// tokens x top-k and a summary that is theirs.
fn loads(json: &serde_json::Value) -> Vec<serde_json::Value> {
    let rows = json["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    (rows.iter())
        .map(|row| {
            assert_eq!(row["status"], "ok", "{row}");
            let load = row["speed"]["expert_load"].clone();
            let (tokens, top_k) = (
                load["tokens"].as_u64().unwrap(),
                load["top_k"].as_u64().unwrap(),
            );
            assert_eq!((load["experts"].as_u64(), top_k), (Some(4), 2), "{load}");
            let counts = load["counts"].as_array().unwrap();
            // Both of the fixture's layers are sparse.
            assert_eq!(counts.len(), 2, "{load}");
            for (layer, c) in counts.iter().enumerate() {
                let c: Vec<u64> = (c.as_array().unwrap().iter())
                    .map(|n| n.as_u64().unwrap())
                    .collect();
                assert_eq!(c.iter().sum::<u64>(), tokens * top_k, "{load}");
                let active = c.iter().filter(|&&n| n > 0).count() as u64;
                assert_eq!(load["active_experts"][layer].as_u64(), Some(active));
                let mean = (tokens * top_k) as f64 / 4.0;
                let max = *c.iter().max().unwrap() as f64;
                let ratio = load["max_over_mean"][layer].as_f64().unwrap();
                assert!((ratio - max / mean).abs() < 1e-9, "{load}");
            }
            load
        })
        .collect()
}

#[test]
fn the_models_router_is_counted_and_a_random_one_is_said_plainly() {
    let (json, stdout) = run(&[]);
    let load = &loads(&json)[0];
    assert_eq!(load["routing"], "model");
    // Batch 2 x sequence 8 tokens per layer.
    assert_eq!(load["tokens"], 16);
    // The default routing leaves the settings as they were.
    assert!(
        json["settings"].get("routing").is_none(),
        "{}",
        json["settings"]
    );
    assert!(stdout.contains("Experts tests/fixtures/parity/mixtral (batch 2, sequence 8): random router; 16 tokens x top-2 per layer over 4 experts"), "{stdout}");
    assert!(stdout.contains("Random router (tests/fixtures/parity/mixtral): random weights route tokens in a pattern no trained model has"), "{stdout}");

    // The checkpoint's router is not called random.
    let (json, stdout) = run(&["--weights", "pretrained"]);
    assert_eq!(loads(&json)[0]["routing"], "model");
    assert!(
        stdout.contains("(batch 2, sequence 8): the checkpoint's router;"),
        "{stdout}"
    );
    assert!(!stdout.contains("Random router"), "{stdout}");
}

#[test]
fn balanced_routing_gives_every_expert_the_mean_load() {
    let (json, stdout) = run(&["--routing", "balanced"]);
    let loads = loads(&json);
    assert_eq!(json["settings"]["routing"], "balanced");
    for load in &loads {
        assert_eq!(load["routing"], "balanced");
        // 16 tokens x top-2 over 4 experts: 8 each, in both layers.
        assert_eq!(
            load["counts"],
            serde_json::json!([[8, 8, 8, 8], [8, 8, 8, 8]])
        );
        assert_eq!(load["worst_max_over_mean"], 1.0);
        assert_eq!(load["min_active_experts"], 4);
    }
    assert!(
        stdout.contains("(batch 2, sequence 8): balanced routing;"),
        "{stdout}"
    );
    assert!(!stdout.contains("Random router"), "{stdout}");
}

#[test]
fn a_generation_request_counts_every_step() {
    let (json, stdout) = run(&["--no-inference", "--generate", "3", "--routing", "balanced"]);
    let loads = loads(&json);
    // Prompt 8 then two more steps of one token, batch 2: 2 x (8 + 2) tokens per layer.
    assert_eq!(loads[0]["tokens"], 20);
    assert_eq!(
        loads[0]["counts"],
        serde_json::json!([[10, 10, 10, 10], [10, 10, 10, 10]])
    );
    assert!(stdout.contains("balanced routing;"), "{stdout}");
}

#[test]
fn balanced_routing_without_a_model_with_experts_is_refused() {
    bin()
        .args([
            "--models",
            "tests/fixtures/tiny-bert.json",
            "--routing",
            "balanced",
            "--dry-run",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "--routing balanced: none of the models has experts (mixture-of-experts families: \
             mixtral, qwen3_moe)",
        ));
    // A model without experts beside one with them runs as it would without the flag.
    bin()
        .args([
            "--models",
            "tests/fixtures/tiny-bert.json",
            MIXTRAL,
            "--routing",
            "balanced",
        ])
        .arg("--dry-run")
        .assert()
        .success();
}

//! Parameter counts: each family's count from its config (`Spec::parameters`) equals the
//! module actually built, for every embedded config (7B and mixture-of-experts ones included),
//! counted on a shape-only build that never touches the weights' memory.

use run_benchmark::hub::EMBEDDED;
use run_benchmark::models::{self, shapes::built_parameters, Task};
use serde_json::Value;

/// Peak resident memory of this process (VmHWM), in bytes.
fn peak_rss() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024.0
}

#[test]
fn every_embedded_config_counts_the_parameters_its_shape_only_build_holds() {
    let mut built_total = 0.0;
    let mut checked = Vec::new();
    for (id, text) in EMBEDDED {
        let config: Value = serde_json::from_str(text).unwrap();
        let Ok(arch) = models::from_json(&config) else {
            continue;
        };
        for task in [Task::Base, Task::LanguageModel] {
            let built = built_parameters(arch.as_ref(), task)
                .unwrap_or_else(|e| panic!("{id} {task:?}: {e:#}")) as f64;
            // BART's `final_logits_bias` is held by the build, a buffer in transformers.
            let built = match (config["model_type"].as_str(), task) {
                (Some("bart"), Task::LanguageModel) => built - arch.vocab_size() as f64,
                _ => built,
            };
            built_total += built;
            if let Some(counted) = arch.parameters(task) {
                assert_eq!(
                    counted, built,
                    "{id} {task:?}: the config's count vs the build"
                );
                checked.push(format!("{id} {task:?}"));
            }
        }
    }
    // The families that count themselves, on their published configs.
    for id in [
        "microsoft/deberta-v3-base",
        "google-bert/bert-base-uncased",
        "FacebookAI/roberta-base",
        "distilbert/distilbert-base-uncased",
        "google/electra-base-discriminator",
        "albert/albert-base-v2",
        "meta-llama/Llama-2-7b-hf",
        "Qwen/Qwen2.5-7B",
        "Qwen/Qwen3-0.6B",
        "mistralai/Mixtral-8x7B-v0.1",
        "Qwen/Qwen3-30B-A3B",
        "openai-community/gpt2",
        "facebook/opt-125m",
        "google/vit-base-patch16-224",
        "EleutherAI/gpt-neo-125m",
        "EleutherAI/pythia-160m",
        "microsoft/phi-2",
        "microsoft/Phi-3-mini-4k-instruct",
        "google/gemma-2b",
        "google/gemma-2-2b-it",
        "google/gemma-3-1b-it",
        "answerdotai/ModernBERT-base",
        "google-t5/t5-small",
        "google/flan-t5-small",
        "facebook/bart-base",
        // Their rotary or sinusoidal tables are computed on the CPU in a shape-only build.
        "meta-llama/Llama-3.2-1B",
        "microsoft/Phi-3.5-mini-instruct",
        "openai/whisper-base",
        "openai/whisper-tiny",
    ] {
        assert!(
            checked.iter().any(|c| c.starts_with(id)),
            "{id} not checked"
        );
    }
    // Over 100 billion parameters built (Mixtral-8x7B alone is 46.7B, 187 GB in float32), yet
    // the process never held more than libtorch itself and a little more.
    assert!(built_total > 1e11, "{built_total}");
    let peak = peak_rss();
    assert!(
        peak < 1.5e9,
        "peak resident memory {peak} bytes: the build touched its weights"
    );
}

#[test]
fn deberta_v3_base_counts_184m_as_transformers() {
    let config: Value = serde_json::from_str(
        EMBEDDED
            .iter()
            .find(|(id, _)| *id == "microsoft/deberta-v3-base")
            .unwrap()
            .1,
    )
    .unwrap();
    let arch = models::from_json(&config).unwrap();
    // transformers 4.57.1: DebertaV2Model(config).num_parameters() = 183,831,552 (the 184M
    // of the model card); DebertaV2ForMaskedLM adds the head's transform, LayerNorm and bias
    // (its decoder is tied to the word embeddings): 184,551,780.
    assert_eq!(arch.parameters(Task::Base), Some(183_831_552.0));
    assert_eq!(arch.parameters(Task::LanguageModel), Some(184_551_780.0));
    // The catalog lists the config's own module (no architectures: the base model).
    let listed = run_benchmark::estimate::model_parameters(&config).unwrap();
    assert_eq!(listed, 183_831_552.0);
}

#[test]
fn parity_fixtures_count_what_transformers_num_parameters_counts() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity");
    let mut compared = 0;
    let mut wrong = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let Ok(facts) = std::fs::read_to_string(dir.join("facts.json")) else {
            continue;
        };
        let facts: Value = serde_json::from_str(&facts).unwrap();
        let expected = facts["num_parameters"].as_f64().unwrap();
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let arch = models::from_json(&config).unwrap();
        let task = models::inference_task(&config, false);
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        // Every fixture builds shape-only too (rotary and sinusoidal tables included).
        let built = built_parameters(arch.as_ref(), task)
            .unwrap_or_else(|e| panic!("{name}: {e:#}")) as f64;
        // BART's `final_logits_bias` (vocab_size zeros) is a buffer in transformers, not a
        // parameter; this build holds it in its var store. Exactly that much more, no more.
        let built = match name.as_str() {
            "bart" => built - config["vocab_size"].as_f64().unwrap(),
            _ => built,
        };
        if built != expected {
            wrong.push(format!("{name}: built {built}, transformers {expected}"));
        }
        if let Some(counted) = arch.parameters(task) {
            if counted != expected {
                wrong.push(format!(
                    "{name}: counted {counted}, transformers {expected}"
                ));
            }
        }
        compared += 1;
    }
    assert!(compared >= 30, "{compared} fixtures with facts.json");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

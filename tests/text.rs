//! `--input-text` end to end: tokenizers trained here with the crate's trainers, tiny models
//! fed the text with padding and an attention mask, the padding share in the notes and JSON,
//! the tokenization section; and every bad input as one line before any cell runs.

mod e2e;
mod trained;
use trained as text;

use e2e::{bin, read, QUICK};
use predicates::prelude::*;
use run_benchmark::tokenize;
use serde_json::Value;
use std::path::Path;

/// The sizes of every run here: batch 4 at 16 tokens (short passages padded, long ones cut).
const SIZES: [&str; 4] = ["--batch-sizes", "4", "--sequence-lengths", "16"];

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap()
}

#[test]
fn bert_on_text_with_its_wordpiece_tokenizer_inference_and_training() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = text::write_corpus(dir.path());
    let tokenizer = text::train_wordpiece(&corpus, 128);
    assert!(tokenizer.get_vocab_size(true) <= 128);
    let tok = text::save(&tokenizer, &dir.path().join("tok"));
    let model = text::model_folder(&dir.path().join("bert"), &text::tiny_bert(128));
    let export = dir.path().join("out.json");
    let out = bin()
        .arg("--models")
        .arg(&model)
        .arg("--tokenizer")
        .arg(&tok)
        .arg("--input-text")
        .arg(&corpus)
        .args(SIZES)
        .args(QUICK)
        .args(["--training", "--export-json"])
        .arg(&export)
        .assert()
        .success()
        .stdout(predicate::str::contains("N/A").not())
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();

    // What the planner and the child used: the library's own encoding of the same batch.
    let passages = tokenize::read_passages(&corpus).unwrap();
    let expected = tokenize::encode_batch(&tokenizer, &passages, 4, 16).unwrap();
    assert!(expected.padding_tokens > 0 && expected.truncated_rows > 0);
    let padding_note = format!(
        "Padding {} (batch 4, sequence 16): {} of 64 tokens",
        model.display(),
        expected.padding_tokens
    );
    assert_eq!(
        out.matches(&padding_note).count(),
        4,
        "one per section:\n{out}"
    );
    assert!(
        out.contains("Text inputs: batch row i is passage i of"),
        "{out}"
    );
    assert!(out.contains("TOKENIZATION - SPEED - RESULT"), "{out}");

    let sweep = &json(&export);
    let rows = sweep["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for row in rows {
        let inputs = &row["cell"]["inputs"];
        assert_eq!(inputs["kind"], "text");
        assert_eq!(inputs["padding_tokens"], expected.padding_tokens);
        assert_eq!(inputs["passages"], passages.len());
        assert_eq!(inputs["pad_token"], "[PAD]");
        assert_eq!(row["status"], "ok", "{row}");
    }
    // One tokenizer: each passage alone, then batch 4 with parallelism off and on.
    let tokenization = sweep["tokenization"].as_array().unwrap();
    let variants: Vec<(Value, Value)> = tokenization
        .iter()
        .map(|row| {
            (
                row["cell"]["batch_size"].clone(),
                row["cell"]["parallel"].clone(),
            )
        })
        .collect();
    assert_eq!(
        variants,
        [
            (Value::Null, false.into()),
            (4.into(), false.into()),
            (4.into(), true.into())
        ]
    );
    let tokens_made: u64 = passages
        .iter()
        .map(|p| tokenizer.encode(p.as_str(), true).unwrap().len() as u64)
        .sum();
    for row in tokenization {
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(row["tokens"], tokens_made);
        assert!(row["threads"].as_u64().unwrap() >= 1);
        let samples = row["speed"]["samples"].as_array().unwrap();
        assert_eq!(samples.len(), 3);
        assert!(samples.iter().all(|s| s.as_f64().unwrap() > 0.0));
    }
    assert_eq!(tokenization[0]["threads"], 1);
    assert_eq!(tokenization[1]["threads"], 1);
}

#[test]
fn gpt2_finds_its_bpe_tokenizer_beside_its_config_and_short_text_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("two.jsonl");
    std::fs::write(
        &corpus,
        "{\"text\": \"a short passage\"}\n{\"text\": \"and another, slightly longer, passage of text\"}\n",
    )
    .unwrap();
    let training = text::write_corpus(dir.path());
    let model = text::model_folder(&dir.path().join("gpt2"), &text::tiny_gpt2(300));
    text::save(&text::train_bpe(&training, 300), &model);
    let export = dir.path().join("out.json");
    bin()
        .arg("--models")
        .arg(&model)
        .arg("--input-text")
        .arg(&corpus)
        .args(SIZES)
        .args(QUICK)
        .args(["--training", "--no-memory", "--export-json"])
        .arg(&export)
        .assert()
        .success()
        .stdout(predicate::str::contains("N/A").not())
        .stdout(predicate::str::contains(
            "the text has only 2 passages, so they repeat",
        ));
    let sweep = json(&export);
    for row in sweep["rows"].as_array().unwrap() {
        assert_eq!(row["cell"]["inputs"]["cycled"], true);
        assert_eq!(row["cell"]["inputs"]["pad_token"], "<|endoftext|>");
        assert!(row["speed"].is_object(), "{row}");
    }
}

#[test]
fn shards_merge_and_resume_keep_which_text_a_cell_used() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let corpus = text::write_corpus(d);
    let tok = text::save(&text::train_wordpiece(&corpus, 128), &d.join("tok"));
    let model = text::model_folder(&d.join("bert"), &text::tiny_bert(128));
    let run = |text: &Path, extra: &[&str], export: &Path| {
        let out = bin()
            .arg("--models")
            .arg(&model)
            .arg("--tokenizer")
            .arg(&tok)
            .arg("--input-text")
            .arg(text)
            .args(["--batch-sizes", "4", "--sequence-lengths", "8", "16"])
            .args(QUICK)
            .args(["--no-memory", "--export-json"])
            .arg(export)
            .args(extra)
            .assert()
            .success()
            .get_output()
            .stderr
            .clone();
        String::from_utf8(out).unwrap()
    };
    let (first, second) = (d.join("1.json"), d.join("2.json"));
    run(&corpus, &["--shard", "1/2"], &first);
    run(&corpus, &["--shard", "2/2"], &second);
    let merged = d.join("merged.json");
    bin()
        .arg("merge")
        .arg(&first)
        .arg(&second)
        .arg("--export-json")
        .arg(&merged)
        .assert()
        .success();
    let digest = tokenize::digest(&corpus).unwrap();
    let rows = json(&merged)["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row["cell"]["inputs"]["kind"], "text", "{row}");
        assert_eq!(
            row["cell"]["inputs"]["text_digest"],
            digest.as_str(),
            "{row}"
        );
        assert!(row["speed"].is_object(), "{row}");
    }
    // A missing shard's cells are rebuilt from the record as planned: on the text.
    let alone = d.join("alone.json");
    bin()
        .arg("merge")
        .arg(&first)
        .arg("--export-json")
        .arg(&alone)
        .assert()
        .success();
    for row in json(&alone)["rows"].as_array().unwrap() {
        assert_eq!(
            row["cell"]["inputs"]["text_digest"],
            digest.as_str(),
            "{row}"
        );
    }

    // The second shard measured on other text (same path, other content): another plan.
    let original = std::fs::read_to_string(&corpus).unwrap();
    let changed = original.replacen("the", "a", 1);
    assert_ne!(changed, original);
    std::fs::write(&corpus, &changed).unwrap();
    let elsewhere = d.join("elsewhere.json");
    run(&corpus, &["--shard", "2/2"], &elsewhere);
    std::fs::write(&corpus, &original).unwrap();
    let err = bin()
        .arg("merge")
        .arg(&first)
        .arg(&elsewhere)
        .assert()
        .failure()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("come from different plans"), "{err}");
    assert!(err.contains("text inputs"), "{err}");

    // --resume carries the cells over on the same text, and none once the text changed.
    let resumed = d.join("resumed.json");
    let log = run(&corpus, &["--resume", merged.to_str().unwrap()], &resumed);
    assert!(
        log.contains("2 of 2 cells carried over, 0 to measure"),
        "{log}"
    );
    std::fs::write(&corpus, &changed).unwrap();
    let log = run(&corpus, &["--resume", merged.to_str().unwrap()], &resumed);
    assert!(
        log.contains("0 of 2 cells carried over, 2 to measure"),
        "{log}"
    );
}

/// Runs with `args` and expects exit 1 with one line on stderr containing `message`, and no
/// cell run (nothing on stdout).
fn fails_before_any_cell(args: &[&std::ffi::OsStr], message: &str) {
    let out = bin()
        .args(args)
        .args(SIZES)
        .args(QUICK)
        .env("HF_HUB_OFFLINE", "1")
        .assert()
        .failure()
        .code(1)
        .stdout("")
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(message), "{message:?} not in: {err}");
}

#[test]
fn every_bad_input_is_one_line_before_any_cell() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let corpus = text::write_corpus(d);
    let tok = text::save(&text::train_wordpiece(&corpus, 128), &d.join("tok"));
    let model = text::model_folder(&d.join("bert"), &text::tiny_bert(128));
    let os = |s: &Path| s.as_os_str().to_owned();
    let with = |model: &Path, tokenizer: Option<&Path>, text: &Path| {
        let mut args = vec![os(Path::new("--models")), os(model)];
        if let Some(t) = tokenizer {
            args.extend([os(Path::new("--tokenizer")), os(t)]);
        }
        args.extend([os(Path::new("--input-text")), os(text)]);
        args
    };
    let run = |args: Vec<std::ffi::OsString>, message: &str| {
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        fails_before_any_cell(&refs, message);
    };

    // A model folder without tokenizer.json, and no --tokenizer.
    run(
        with(&model, None, &corpus),
        &format!(
            "{} does not exist; give --tokenizer PATH",
            model.join("tokenizer.json").display()
        ),
    );
    // An embedded config whose tokenizer is not cached, offline: says where it looked.
    let home = tempfile::tempdir().unwrap();
    let out = bin()
        .env("HF_HOME", home.path())
        .env_remove("HF_HUB_CACHE")
        .env("HF_HUB_OFFLINE", "1")
        .args(["--models", "bert-base-uncased", "--input-text"])
        .arg(&corpus)
        .args(SIZES)
        .assert()
        .failure()
        .code(1)
        .stdout("")
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.contains("no tokenizer for \"bert-base-uncased\""),
        "{err}"
    );
    assert!(
        err.contains(&home.path().join("hub").display().to_string()),
        "{err}"
    );
    assert!(
        err.contains("HF_HUB_OFFLINE is set, so google-bert/bert-base-uncased"),
        "{err}"
    );
    // --tokenizer that does not exist; a corrupt one.
    run(
        with(&model, Some(&d.join("nope.json")), &corpus),
        "nope.json: no such file",
    );
    let corrupt = d.join("corrupt.json");
    std::fs::write(&corrupt, "{\"version\": \"1.0\", \"model\": {").unwrap();
    run(
        with(&model, Some(&corrupt), &corpus),
        &format!("{} is not a valid tokenizer.json", corrupt.display()),
    );
    // Text that is not UTF-8, or holds nothing.
    let latin1 = d.join("latin1.txt");
    std::fs::write(&latin1, b"d\xe9j\xe0 vu\n").unwrap();
    run(
        with(&model, Some(&tok), &latin1),
        &format!("{}: not UTF-8 text", latin1.display()),
    );
    let empty = d.join("empty.txt");
    std::fs::write(&empty, "\n\n").unwrap();
    run(
        with(&model, Some(&tok), &empty),
        &format!("{}: holds no text", empty.display()),
    );
    // A TorchScript file has no tokenizer.
    let script = d.join("model.pt");
    std::fs::write(&script, b"not loaded before the check").unwrap();
    let script_arg = format!("{}:vocab_size=128", script.display());
    run(
        with(Path::new(&script_arg), Some(&tok), &corpus),
        "a TorchScript file has no tokenizer",
    );
    // A family without an attention mask, a vision model, and tracing: refused before any
    // cell, before the tokenizer is looked for.
    let neo = text::model_folder(
        &d.join("neo"),
        &serde_json::json!({
            "model_type": "gpt_neo",
            "architectures": ["GPTNeoForCausalLM"],
            "vocab_size": 128,
            "hidden_size": 32,
            "num_layers": 2,
            "num_heads": 4,
            "attention_types": [[["global", "local"], 1]],
            "window_size": 8,
            "max_position_embeddings": 64,
        }),
    );
    run(
        with(&neo, None, &corpus),
        "gpt_neo: padding mask not supported by this model family",
    );
    let vit = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity/vit");
    run(
        with(&vit, Some(&tok), &corpus),
        "vit takes images (pixel values), not text; drop --input-text or the model",
    );
    let mut traced = with(&model, Some(&tok), &corpus);
    traced.push(os(Path::new("--torchscript")));
    run(
        traced,
        "--input-text with --torchscript: the traced module takes token ids only",
    );
    // A tokenizer whose ids do not fit the model's vocabulary.
    let small = text::model_folder(&d.join("small"), &text::tiny_bert(16));
    run(
        with(&small, Some(&tok), &corpus),
        "outside the model's vocabulary of 16",
    );
}

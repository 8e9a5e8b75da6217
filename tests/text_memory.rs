//! A memory cell counts the model's memory, not the tokenizer's: a 1 MB single line of
//! `--input-text` at sequence length 8 reads the same peak as a short line (the passage is
//! cut before it is tokenized, src/tokenize.rs), where it read 300 MiB more.

mod e2e;
mod trained;

use e2e::{bin, read};
use serde_json::Value;
use std::path::Path;

/// The peak resident bytes of the one memory cell of a sweep over `text`.
fn peak(dir: &Path, text: &Path, tokenizer: &Path, model: &Path) -> u64 {
    let json = dir.join(format!(
        "{}.json",
        text.file_stem().unwrap().to_string_lossy()
    ));
    bin()
        .arg("--models")
        .arg(model)
        .arg("--tokenizer")
        .arg(tokenizer)
        .arg("--input-text")
        .arg(text)
        .args([
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "--no-speed",
        ])
        .arg("--export-json")
        .arg(&json)
        .assert()
        .success();
    let export: Value = serde_json::from_str(&read(&json)).unwrap();
    let row = &export["rows"][0];
    row["memory"]["peak_rss_bytes"]
        .as_u64()
        .unwrap_or_else(|| panic!("{row}"))
}

#[test]
fn a_one_megabyte_line_costs_the_memory_cell_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = trained::write_corpus(dir.path());
    let tokenizer = trained::train_wordpiece(&corpus, 128);
    let tok = trained::save(&tokenizer, &dir.path().join("tok"));
    let model = trained::model_folder(&dir.path().join("bert"), &trained::tiny_bert(128));
    let lines = trained::corpus_lines();
    let short = dir.path().join("short.txt");
    std::fs::write(&short, format!("{}\n", lines[0])).unwrap();
    let mut line = String::new();
    while line.len() < 1 << 20 {
        line.push_str(&lines[line.len() % lines.len()]);
        line.push(' ');
    }
    let long = dir.path().join("long.txt");
    std::fs::write(&long, format!("{line}\n")).unwrap();
    let (short, long) = (
        peak(dir.path(), &short, &tok, &model),
        peak(dir.path(), &long, &tok, &model),
    );
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    assert!(
        mib(long) < mib(short) + 16.0,
        "1 MB line: {:.0} MiB, short line: {:.0} MiB",
        mib(long),
        mib(short)
    );
}

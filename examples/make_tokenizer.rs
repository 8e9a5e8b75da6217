//! A tokenizer.json made the way the tests make theirs (tests/trained), so that the guide's
//! `--input-text` examples run with no Hub: trained with the `tokenizers` crate's trainer on
//! a corpus, then saved.
//!
//! ```sh
//! cargo run --release --example make_tokenizer -- DIR [wordpiece|bpe] [CORPUS]
//! ```
//!
//! writes `DIR/corpus.txt` (the tests' 40 passages of 4 to 60 words) unless CORPUS is given,
//! and `DIR/tok.json`: a WordPiece tokenizer as BERT's ([CLS] ... [SEP], [PAD] 0; the
//! default) or a byte-level BPE as GPT-2's (`<|endoftext|>` 0), trained on that text.

#[path = "../tests/trained/mod.rs"]
mod trained;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: make_tokenizer DIR [wordpiece|bpe] [CORPUS]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let kind = args.get(1).map_or("wordpiece", String::as_str);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("make_tokenizer: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let corpus = match args.get(2) {
        Some(path) => PathBuf::from(path),
        None => trained::write_corpus(&dir),
    };
    let tokenizer = match kind {
        "wordpiece" => trained::train_wordpiece(&corpus, 1000),
        "bpe" => trained::train_bpe(&corpus, 1000),
        other => {
            eprintln!("make_tokenizer: \"{other}\" is neither wordpiece nor bpe; {USAGE}");
            return ExitCode::from(2);
        }
    };
    let out = dir.join("tok.json");
    if let Err(e) = tokenizer.save(&out, false) {
        eprintln!("make_tokenizer: cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    println!(
        "{}: {kind}, {} entries, trained on {}",
        out.display(),
        tokenizer.get_vocab_size(true),
        corpus.display()
    );
    ExitCode::SUCCESS
}

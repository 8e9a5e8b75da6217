//! Tokenizers the tests make themselves: a small WordPiece (BERT's normaliser, pre-tokenizer
//! and [CLS] ... [SEP]) and a small byte-level BPE (GPT-2's), trained with the `tokenizers`
//! crate's trainers on a corpus the test writes. No hub, no download.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::bpe::{BpeTrainer, BPE};
use tokenizers::models::wordpiece::{WordPiece, WordPieceTrainer};
use tokenizers::models::TrainerWrapper;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{AddedToken, Tokenizer};

/// Passages of varied length (4 to about 60 words), so that batches need padding at short
/// sequence lengths' ends and truncation at others.
pub fn corpus_lines() -> Vec<String> {
    let words = [
        "the",
        "model",
        "reads",
        "a",
        "passage",
        "of",
        "text",
        "and",
        "every",
        "token",
        "counts",
        "towards",
        "its",
        "cost",
        "benchmarks",
        "measure",
        "speed",
        "memory",
        "batch",
        "sequence",
        "length",
        "padding",
        "mask",
        "attention",
        "encoder",
        "decoder",
        "fast",
        "slow",
        "café",
        "naïve",
        "über",
        "東京",
        "données",
        "tokenizer",
    ];
    (0..40)
        .map(|i| {
            let n = 4 + (i * 7) % 57;
            (0..n)
                .map(|j| words[(i * 3 + j * 5 + j / 3) % words.len()])
                .collect::<Vec<_>>()
                .join(" ")
                + "."
        })
        .collect()
}

/// Writes the corpus as `corpus.txt` in `dir`, one passage per line.
pub fn write_corpus(dir: &Path) -> PathBuf {
    let path = dir.join("corpus.txt");
    std::fs::write(&path, corpus_lines().join("\n") + "\n").unwrap();
    path
}

fn special(tokens: &[&str]) -> Vec<AddedToken> {
    tokens.iter().map(|t| AddedToken::from(*t, true)).collect()
}

/// A WordPiece tokenizer of at most `vocab_size` entries: [PAD] 0, [UNK] 1, [CLS] 2,
/// [SEP] 3, [MASK] 4, as BERT's vocabulary orders them.
pub fn train_wordpiece(corpus: &Path, vocab_size: usize) -> Tokenizer {
    let mut trainer: TrainerWrapper = WordPieceTrainer::builder()
        .vocab_size(vocab_size)
        .min_frequency(1)
        .show_progress(false)
        .special_tokens(special(&["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
        .build()
        .into();
    let model = WordPiece::builder()
        .unk_token("[UNK]".into())
        .build()
        .unwrap();
    let mut tokenizer = Tokenizer::new(model);
    tokenizer
        .with_normalizer(Some(BertNormalizer::default()))
        .with_pre_tokenizer(Some(BertPreTokenizer))
        .with_decoder(Some(WordPieceDecoder::default()));
    train(&mut tokenizer, &mut trainer, corpus);
    let id = |t: &str| tokenizer.token_to_id(t).unwrap();
    let (cls, sep) = (id("[CLS]"), id("[SEP]"));
    tokenizer.with_post_processor(Some(BertProcessing::new(
        ("[SEP]".into(), sep),
        ("[CLS]".into(), cls),
    )));
    tokenizer
}

/// A byte-level BPE tokenizer as GPT-2's (no special tokens added to passages), with
/// `<|endoftext|>` at id 0; at most `vocab_size` entries (the 256 bytes, then merges).
pub fn train_bpe(corpus: &Path, vocab_size: usize) -> Tokenizer {
    let mut trainer: TrainerWrapper = BpeTrainer::builder()
        .vocab_size(vocab_size)
        .min_frequency(1)
        .show_progress(false)
        .special_tokens(special(&["<|endoftext|>"]))
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build()
        .into();
    let mut tokenizer = Tokenizer::new(BPE::default());
    tokenizer
        .with_pre_tokenizer(Some(ByteLevel::new(false, true, true)))
        .with_decoder(Some(ByteLevelDecoder::default()));
    train(&mut tokenizer, &mut trainer, corpus);
    tokenizer
}

fn train(tokenizer: &mut Tokenizer, trainer: &mut TrainerWrapper, corpus: &Path) {
    tokenizer
        .train_from_files(trainer, vec![corpus.to_str().unwrap().to_string()])
        .unwrap_or_else(|e| panic!("training on {}: {e}", corpus.display()));
}

/// Saves `tokenizer` as `dir/tokenizer.json` and returns that path.
pub fn save(tokenizer: &Tokenizer, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("tokenizer.json");
    tokenizer.save(&path, false).unwrap();
    path
}

/// A tiny GPT-2 config (hidden 32, 2 layers) over a `vocab_size` vocabulary.
pub fn tiny_gpt2(vocab_size: usize) -> serde_json::Value {
    serde_json::json!({
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": vocab_size,
        "n_embd": 32,
        "n_layer": 2,
        "n_head": 4,
        "n_positions": 64,
    })
}

/// A tiny T5 config (d_model 32, 2 + 2 layers) over a `vocab_size` vocabulary.
pub fn tiny_t5(vocab_size: usize) -> serde_json::Value {
    serde_json::json!({
        "architectures": ["T5ForConditionalGeneration"],
        "model_type": "t5",
        "vocab_size": vocab_size,
        "d_model": 32,
        "d_kv": 8,
        "d_ff": 64,
        "num_layers": 2,
        "num_heads": 4,
    })
}

/// A tiny BERT config (hidden 32, 2 layers), as tests/fixtures/tiny-bert.json.
pub fn tiny_bert(vocab_size: usize) -> serde_json::Value {
    serde_json::json!({
        "architectures": ["BertForMaskedLM"],
        "model_type": "bert",
        "vocab_size": vocab_size,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
    })
}

/// `config` written as `dir/config.json`, returning the folder (a model folder).
pub fn model_folder(dir: &Path, config: &serde_json::Value) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    dir.to_path_buf()
}

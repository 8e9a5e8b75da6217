//! Text inputs: the model's tokenizer.json (found where config.json is found, or given with
//! `--tokenizer`), loaded with the `tokenizers` crate; the passages of `--input-text`; and
//! one cell's batch of them, encoded with the special tokens, truncated or padded to the
//! sequence length, with its attention mask. Plain ids and masks, no tch: the planner counts
//! padding with it before any cell, and the child builds the same batch again.

use crate::hub;
use anyhow::{anyhow, bail, Context, Result};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use tokenizers::{
    PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationDirection,
    TruncationParams, TruncationStrategy,
};

pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// Tokens tried, in order, as the padding token of a tokenizer.json that sets none (GPT-2's
/// and Llama's pad with their end-of-text token, as transformers' examples do).
const PAD_CANDIDATES: &[&str] = &[
    "[PAD]",
    "<pad>",
    "<|pad|>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "</s>",
];

/// Where the tokenizer of the model `source` is: `explicit` (a tokenizer.json or a folder
/// holding one); else beside the model's config (a folder, or the folder of a config file);
/// else the Hugging Face cache; else a download from the Hub (`HF_ENDPOINT`, `HF_TOKEN`,
/// never with `HF_HUB_OFFLINE`). Embedded configs are looked up under their Hub id.
/// The error says every place it looked.
pub fn locate(explicit: Option<&Path>, source_os: impl AsRef<OsStr>) -> Result<PathBuf> {
    let source_os = source_os.as_ref();
    if let Some(path) = explicit {
        let file = match path.is_dir() {
            true => path.join(TOKENIZER_FILE),
            false => path.to_path_buf(),
        };
        check_tokenizer_file(&file)?;
        return Ok(file);
    }
    let mut looked = Vec::new();
    let path = Path::new(source_os);
    let source = source_os.to_string_lossy();
    if path.exists() {
        let folder = match path.is_dir() {
            true => path,
            false => path.parent().unwrap_or(Path::new(".")),
        };
        let file = folder.join(TOKENIZER_FILE);
        if file.is_file() {
            return Ok(file);
        }
        bail!(
            "no tokenizer for \"{source}\": {} does not exist; give --tokenizer PATH",
            file.display()
        );
    }
    let source: &str = &source;
    let id = hub::embedded(source).map_or(source, |(id, _)| id);
    let cache = hub::hf_cache();
    if let Some(file) = cache.model(id.to_string()).get(TOKENIZER_FILE) {
        return Ok(file);
    }
    looked.push(format!(
        "not in the Hugging Face cache at {}",
        cache.path().display()
    ));
    if !hub::looks_like_hub_id(id) {
        bail!(
            "no tokenizer for \"{source}\": {}; give --tokenizer PATH",
            looked.join(", ")
        );
    }
    if hub::hub_offline() {
        bail!(
            "no tokenizer for \"{source}\": {}, and HF_HUB_OFFLINE is set, so {id} was not \
             asked for on the Hub; give --tokenizer PATH",
            looked.join(", ")
        );
    }
    hub::download(id, TOKENIZER_FILE, cache).map_err(|e| {
        anyhow!(
            "no tokenizer for \"{source}\": {}, and {e:#}; give --tokenizer PATH",
            looked.join(", ")
        )
    })
}

/// `--tokenizer`'s file, or what is wrong with it: missing, not a regular file, empty, or
/// not a tokenizer.json.
fn check_tokenizer_file(file: &Path) -> Result<()> {
    let shown = file.display();
    let meta = match std::fs::metadata(file) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("--tokenizer {shown}: no such file")
        }
        Err(e) => bail!("--tokenizer {shown}: cannot read it: {e}"),
    };
    if !meta.is_file() {
        bail!("--tokenizer {shown}: not a regular file (a tokenizer.json is expected)");
    }
    if meta.len() == 0 {
        bail!("--tokenizer {shown}: the file is empty (a tokenizer.json is expected)");
    }
    load(file).map_err(|e| anyhow!("--tokenizer {e}"))?;
    Ok(())
}

/// What identifies a file's content wherever it lies: the FNV-1a of its bytes (as shard
/// plan ids), in hex. Cells measured on files with other digests are other cells.
pub fn digest(file: &Path) -> Result<String> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(format!("{:016x}", crate::shard::fnv1a(&bytes)))
}

/// A tokenizer.json, loaded; a corrupt one is an error naming the file.
pub fn load(file: &Path) -> Result<Tokenizer> {
    Tokenizer::from_file(file)
        .map_err(|e| anyhow!("{} is not a valid tokenizer.json: {e}", file.display()))
}

/// The passages of `file`: each non-blank line as it is (without its `\n` or `\r\n`), or, for a `.jsonl` file, the `text` field
/// of each line's JSON object. Non-UTF-8 or empty text is an error naming the file.
pub fn read_passages(file: &Path) -> Result<Vec<String>> {
    // A missing or unreadable file is a missing input (exit status 2, as everywhere).
    let bytes = std::fs::read(file).map_err(|e| {
        let message = format!("--input-text: cannot read {}", file.display());
        crate::report::MissingInput::error(message, Some(e))
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "--input-text {}: not UTF-8 text (invalid byte at offset {})",
            file.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let jsonl = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl"));
    let mut passages = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if !jsonl {
            // Only the line ending goes: trailing spaces are text to a byte-level tokenizer.
            passages.push(line.to_string());
            continue;
        }
        let at = || format!("--input-text {} line {}", file.display(), index + 1);
        let value: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}: not JSON", at()))?;
        match value.get("text").and_then(|t| t.as_str()) {
            Some(t) if !t.trim().is_empty() => passages.push(t.to_string()),
            Some(_) => {}
            None => bail!("{}: no string field \"text\"", at()),
        }
    }
    if passages.is_empty() {
        bail!("--input-text {}: holds no text", file.display());
    }
    Ok(passages)
}

/// One cell's inputs: `batch` rows of `seq` token ids, row i the encoding of passage i
/// (cycling when there are fewer passages), and the attention mask (1 token, 0 padding).
#[derive(Debug, Clone, PartialEq)]
pub struct TextBatch {
    /// Row-major (batch, seq).
    pub ids: Vec<i64>,
    /// Row-major (batch, seq): 1 for a real token, 0 for padding.
    pub mask: Vec<i64>,
    pub padding_tokens: u64,
    /// Rows whose passage was longer than the sequence and was cut.
    pub truncated_rows: usize,
    /// The batch took more rows than the file has passages, so passages repeat.
    pub cycled: bool,
    pub pad_token: String,
}

/// Encodes the first `batch` passages (cycling) as transformers'
/// `tokenizer(texts, padding="max_length", truncation=True, max_length=seq)`: special tokens
/// added and kept when truncating, padding on the right.
pub fn encode_batch(
    tokenizer: &Tokenizer,
    passages: &[String],
    batch: usize,
    seq: usize,
) -> Result<TextBatch> {
    if passages.is_empty() {
        bail!("no passages to encode");
    }
    let (pad_id, pad_token) = pad_token(tokenizer);
    let full = tokenizer.clone();
    let mut fixed = tokenizer.clone();
    fixed
        .with_truncation(Some(TruncationParams {
            direction: TruncationDirection::Right,
            max_length: seq,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
        }))
        .map_err(|e| anyhow!("cannot truncate to {seq} tokens: {e}"))?
        .with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::Fixed(seq),
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id,
            pad_type_id: 0,
            pad_token: pad_token.clone(),
        }));
    let rows: Vec<&str> = (0..batch)
        .map(|i| enough_of(&full, passages[i % passages.len()].as_str(), seq))
        .collect();
    let encodings = fixed
        .encode_batch(rows.clone(), true)
        .map_err(|e| anyhow!("cannot encode the text to {seq} tokens: {e}"))?;
    let mut out = TextBatch {
        ids: Vec::with_capacity(batch * seq),
        mask: Vec::with_capacity(batch * seq),
        padding_tokens: 0,
        truncated_rows: 0,
        cycled: batch > passages.len(),
        pad_token,
    };
    for (row, encoding) in rows.iter().zip(&encodings) {
        let (ids, mask) = (encoding.get_ids(), encoding.get_attention_mask());
        if ids.len() != seq {
            bail!(
                "the tokenizer made {} tokens where {seq} were asked for",
                ids.len()
            );
        }
        let real = mask.iter().filter(|&&m| m == 1).count();
        if real == 0 {
            bail!("passage {row:?} encodes to no tokens");
        }
        out.padding_tokens += (seq - real) as u64;
        if real == seq && full.encode(*row, true).map_or(0, |e| e.len()) > seq {
            out.truncated_rows += 1;
        }
        out.ids.extend(ids.iter().map(|&i| i64::from(i)));
        out.mask.extend(mask.iter().map(|&m| i64::from(m)));
    }
    Ok(out)
}

/// The start of `passage` that encodes to the same first `seq` tokens as all of it, so that a
/// long passage is never tokenized whole (a 1 MB line at sequence 8 took 300 MiB in the
/// measuring child, counted as the model's memory): cut after a whole word, at a whitespace,
/// where the prefix already makes more than `seq` tokens; the prefix doubles until it does.
/// Tokenizers split words alone (WordPiece, byte-level BPE, Metaspace), so the words before
/// the cut encode as they do in the whole passage.
fn enough_of<'a>(tokenizer: &Tokenizer, passage: &'a str, seq: usize) -> &'a str {
    let mut bytes = 16 * seq + 256;
    while bytes < passage.len() {
        let mut end = bytes;
        while !passage.is_char_boundary(end) {
            end -= 1;
        }
        if let Some(cut) = passage[..end].rfind(char::is_whitespace) {
            let prefix = &passage[..cut];
            if tokenizer.encode(prefix, true).is_ok_and(|e| e.len() > seq) {
                return prefix;
            }
        }
        bytes = bytes.saturating_mul(2);
    }
    passage
}

/// The tokenizer's own padding token, else the first of [`PAD_CANDIDATES`] it knows, else
/// id 0 (which the attention mask hides anyway).
fn pad_token(tokenizer: &Tokenizer) -> (u32, String) {
    if let Some(p) = tokenizer.get_padding() {
        return (p.pad_id, p.pad_token.clone());
    }
    PAD_CANDIDATES
        .iter()
        .find_map(|t| tokenizer.token_to_id(t).map(|id| (id, t.to_string())))
        .unwrap_or_else(|| (0, "id 0".into()))
}

/// Encodes each passage alone (`single`), with the special tokens, no truncation or
/// padding; returns the number of tokens made. What the tokenization speed cells time.
pub fn encode_each(tokenizer: &Tokenizer, passages: &[String]) -> Result<u64> {
    let mut tokens = 0;
    for passage in passages {
        tokens += tokenizer
            .encode(passage.as_str(), true)
            .map_err(|e| anyhow!("cannot encode: {e}"))?
            .len() as u64;
    }
    Ok(tokens)
}

/// Encodes the passages in batches of `batch` through `encode_batch` (parallel when the
/// crate's parallelism is on); returns the number of tokens made.
pub fn encode_batches(tokenizer: &Tokenizer, passages: &[String], batch: usize) -> Result<u64> {
    let mut tokens = 0;
    for chunk in passages.chunks(batch.max(1)) {
        let inputs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        tokens += tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| anyhow!("cannot encode: {e}"))?
            .iter()
            .map(|e| e.len() as u64)
            .sum::<u64>();
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::models::wordlevel::WordLevel;
    use tokenizers::pre_tokenizers::whitespace::Whitespace;
    use tokenizers::processors::bert::BertProcessing;

    /// A word-level tokenizer with BERT's special tokens: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3.
    fn tiny() -> Tokenizer {
        let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "c", "d"]
            .iter()
            .enumerate()
            .map(|(i, t)| (t.to_string(), i as u32))
            .collect();
        let model = WordLevel::builder()
            .vocab(vocab)
            .unk_token("[UNK]".into())
            .build()
            .unwrap();
        let mut tokenizer = Tokenizer::new(model);
        tokenizer.with_pre_tokenizer(Some(Whitespace {}));
        tokenizer.with_post_processor(Some(BertProcessing::new(
            ("[SEP]".into(), 3),
            ("[CLS]".into(), 2),
        )));
        tokenizer
    }

    fn texts(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rows_are_padded_truncated_masked_and_cycled() {
        let passages = texts(&["a b", "a b c d a b"]);
        let batch = encode_batch(&tiny(), &passages, 3, 6).unwrap();
        assert_eq!(
            batch.ids,
            vec![2, 4, 5, 3, 0, 0, 2, 4, 5, 6, 7, 3, 2, 4, 5, 3, 0, 0]
        );
        assert_eq!(
            batch.mask,
            vec![1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
        );
        assert_eq!(batch.padding_tokens, 4);
        assert_eq!(batch.truncated_rows, 1, "the second passage has 8 tokens");
        assert!(batch.cycled);
        assert_eq!(batch.pad_token, "[PAD]");
        let exact = encode_batch(&tiny(), &passages, 2, 8).unwrap();
        assert_eq!((exact.truncated_rows, exact.cycled), (0, false));
    }

    #[test]
    fn speed_helpers_count_tokens_with_special_tokens() {
        let passages = texts(&["a b", "c", "d d d"]);
        assert_eq!(encode_each(&tiny(), &passages).unwrap(), 4 + 3 + 5);
        assert_eq!(encode_batches(&tiny(), &passages, 2).unwrap(), 12);
    }

    #[test]
    fn passages_from_lines_and_jsonl() {
        let dir = tempfile::tempdir().unwrap();
        let txt = dir.path().join("c.txt");
        std::fs::write(&txt, "first line\r\n\n  \nsecond\n").unwrap();
        assert_eq!(
            read_passages(&txt).unwrap(),
            texts(&["first line", "second"])
        );
        let jsonl = dir.path().join("c.jsonl");
        std::fs::write(
            &jsonl,
            "{\"text\": \"one\", \"id\": 1}\n\n{\"text\": \"two\"}\n",
        )
        .unwrap();
        assert_eq!(read_passages(&jsonl).unwrap(), texts(&["one", "two"]));
    }

    #[test]
    fn bad_text_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let latin1 = dir.path().join("latin1.txt");
        std::fs::write(&latin1, b"caf\xe9\n").unwrap();
        let err = read_passages(&latin1).unwrap_err().to_string();
        assert!(
            err.contains("latin1.txt: not UTF-8 text (invalid byte at offset 3)"),
            "{err}"
        );
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "\n \n").unwrap();
        let err = read_passages(&empty).unwrap_err().to_string();
        assert!(err.contains("empty.txt: holds no text"), "{err}");
        let jsonl = dir.path().join("bad.jsonl");
        std::fs::write(&jsonl, "{\"text\": \"ok\"}\n{\"body\": \"x\"}\n").unwrap();
        let err = read_passages(&jsonl).unwrap_err().to_string();
        assert!(
            err.contains("bad.jsonl line 2: no string field \"text\""),
            "{err}"
        );
        let missing = read_passages(&dir.path().join("none.txt")).unwrap_err();
        assert!(
            format!("{missing:#}").contains("cannot read"),
            "{missing:#}"
        );
    }

    #[test]
    fn corrupt_tokenizer_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokenizer.json");
        std::fs::write(&file, "{\"model\": ").unwrap();
        let err = load(&file).unwrap_err().to_string();
        assert!(
            err.contains("tokenizer.json is not a valid tokenizer.json"),
            "{err}"
        );
        tiny().save(&file, false).unwrap();
        assert!(load(&file).is_ok());
    }

    #[test]
    fn a_model_folder_without_tokenizer_says_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let err = locate(None, dir.path().to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("tokenizer.json does not exist"), "{err}");
        assert!(err.contains("--tokenizer PATH"), "{err}");
        let err = locate(Some(&dir.path().join("x.json")), "m")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.json: no such file"), "{err}");
        // A real (one-word) tokenizer.json: locate checks that the file it finds loads.
        let word_level = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0},"unk_token":"[UNK]"}}"#;
        std::fs::write(dir.path().join(TOKENIZER_FILE), word_level).unwrap();
        assert_eq!(
            locate(None, dir.path().to_str().unwrap()).unwrap(),
            dir.path().join(TOKENIZER_FILE)
        );
        assert_eq!(
            locate(Some(dir.path()), "m").unwrap(),
            dir.path().join(TOKENIZER_FILE)
        );
    }
}

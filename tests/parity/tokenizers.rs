//! The text inputs' token ids against transformers: the oracle trained a WordPiece and a
//! byte-level BPE on `tokenizers/corpus.txt` and wrote what `PreTrainedTokenizerFast` makes of
//! every passage with `padding="max_length", truncation=True`; `tokenize` (reading the same
//! files) must make the same ids and attention masks, special tokens and padding included.

use crate::common::{fixture, fixture_dir};
use run_benchmark::tokenize;
use serde_json::Value;

#[test]
fn ids_and_masks_match_transformers() {
    let dir = fixture_dir("tokenizers");
    let passages = tokenize::read_passages(&fixture(&dir, "corpus.txt")).unwrap();
    let text = std::fs::read_to_string(fixture(&dir, "expected.json")).unwrap();
    let expected: Value = serde_json::from_str(&text).unwrap();
    let flat = |rows: &Value| -> Vec<i64> {
        let rows = rows.as_array().unwrap();
        rows.iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()))
            .collect()
    };
    let mut checked = 0;
    for name in ["wordpiece", "bpe"] {
        let file = fixture(&dir.join(name), "tokenizer.json");
        let tokenizer = tokenize::load(&file).unwrap();
        for (length, theirs) in expected[name].as_object().unwrap() {
            let seq: usize = length.parse().unwrap();
            let ours = tokenize::encode_batch(&tokenizer, &passages, passages.len(), seq).unwrap();
            let ids = flat(&theirs["input_ids"]);
            let mask = flat(&theirs["attention_mask"]);
            assert_eq!(
                ours.ids, ids,
                "{name} at {seq}: input_ids differ from transformers'"
            );
            assert_eq!(ours.mask, mask, "{name} at {seq}: attention_mask differs");
            let padding = mask.iter().filter(|&&m| m == 0).count() as u64;
            assert_eq!(ours.padding_tokens, padding, "{name} at {seq}");
            checked += 1;
        }
    }
    assert_eq!(checked, 6, "two tokenizers at three lengths");
}

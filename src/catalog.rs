//! `run-benchmark models`: the embedded configs with what a user needs to tell what fits where
//! (parameters, weight size in each dtype, the longest sequence), and the model types this
//! build supports.

use crate::estimate::{dtype_bytes, model_parameters};
use crate::hub;
use crate::report::profile::format_bytes;
use crate::report::table::fitted;
use serde_json::Value;
use std::io::{self, Write};

/// One embedded config, as the table shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: &'static str,
    pub model_type: String,
    pub architecture: String,
    pub supported: bool,
    /// Of the module inference builds (architectures[0]'s head); None where no family parses it.
    pub parameters: Option<f64>,
    /// The longest sequence the learned position embeddings allow, if they bound it.
    pub max_positions: Option<i64>,
    /// The context the config names where nothing enforces it (rotary, relative positions).
    pub trained_positions: Option<i64>,
    /// Speech models: the longest audio, in seconds, the encoder's positions cover.
    pub max_seconds: Option<i64>,
}

pub fn entries() -> Vec<Entry> {
    let supported = run_benchmark_core::spec::supported_model_types();
    hub::registry()
        .into_iter()
        .map(|entry| {
            let config: Value = hub::embedded(entry.id)
                .and_then(|(_, text)| serde_json::from_str(text).ok())
                .unwrap_or(Value::Null);
            let arch = run_benchmark_core::spec::from_json(&config).ok();
            Entry {
                id: entry.id,
                supported: supported.contains(&entry.model_type.as_str()),
                model_type: entry.model_type,
                architecture: entry.architecture,
                parameters: model_parameters(&config),
                max_positions: arch.as_ref().and_then(|a| a.max_positions()),
                trained_positions: ["max_position_embeddings", "n_positions"]
                    .iter()
                    .find_map(|k| config.get(*k).and_then(Value::as_i64)),
                max_seconds: match run_benchmark_core::spec::input_kind(&config) {
                    crate::cell::InputKind::Audio { .. } => {
                        run_benchmark_core::spec::parse_config::<
                            run_benchmark_core::spec::whisper::WhisperConfig,
                        >(&config)
                        .ok()
                        .map(|c| c.max_seconds())
                    }
                    _ => None,
                },
            }
        })
        .collect()
}

/// A count (parameters) with three significant digits and the largest unit that keeps the
/// figure at 1 or more: `110M`, `1.00B`, `30.5B`, `950K`. Rounded before the unit is picked,
/// so 999.6M is `1.00B`, never `1000M`: one rule wherever counts are shown.
pub fn format_count(n: f64) -> String {
    if !n.is_finite() || n <= 0.0 {
        return format!("{n}");
    }
    let magnitude = n.log10().floor() as i32;
    let scale = 10f64.powi(2 - magnitude);
    let rounded = (n * scale).round() / scale;
    let (value, unit) = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")]
        .into_iter()
        .find(|(size, _)| rounded >= *size)
        .map(|(size, unit)| (rounded / size, unit))
        .unwrap_or((rounded, ""));
    // The nudge keeps 99.999999999 (a float quotient of 100) at three integer digits.
    match value * (1.0 + 1e-12) {
        v if v >= 100.0 => format!("{value:.0}{unit}"),
        v if v >= 10.0 => format!("{value:.1}{unit}"),
        _ => format!("{value:.2}{unit}"),
    }
}

/// Below this width the registry is a list, one model to a paragraph, not a table.
const LIST_BELOW: usize = 72;

/// The table, fitted to `width` (the terminal's; None for a file or pipe), and its notes.
pub fn print(out: &mut dyn Write, width: Option<usize>) -> io::Result<()> {
    let columns: Vec<String> = [
        "Hub id",
        "Params",
        "f32 weights",
        "bf16 weights",
        "Max positions",
        "model_type",
        "architectures[0]",
    ]
    .map(String::from)
    .to_vec();
    let na = || "?".to_string();
    let mut entries = entries();
    // Case-insensitively, as people read a list: Qwen/ between openai/ and sentence-transformers/.
    entries.sort_by_cached_key(|e| (e.id.to_lowercase(), e.id));
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let weights = |bytes: f64| {
                e.parameters
                    .map(|p| format_bytes((p * bytes) as i64))
                    .unwrap_or_else(na)
            };
            vec![
                e.id.to_string(),
                e.parameters.map(format_count).unwrap_or_else(na),
                weights(dtype_bytes(crate::cell::Dtype::F32)),
                weights(dtype_bytes(crate::cell::Dtype::Bf16)),
                match (e.max_seconds, e.max_positions, e.trained_positions) {
                    (Some(seconds), ..) => format!("{seconds} s"),
                    (None, Some(n), _) => n.to_string(),
                    (None, None, Some(n)) => format!("({n})"),
                    (None, None, None) => "any".into(),
                },
                e.model_type.clone(),
                e.architecture.clone(),
            ]
        })
        .collect();
    let mut dropped = Vec::new();
    if width.is_some_and(|w| w < LIST_BELOW) {
        // Too narrow for the table: its Hub ids would break into a character per line.
        for row in &rows {
            let details: Vec<String> = (columns.iter().zip(row).skip(1))
                .map(|(column, value)| format!("{column} {value}"))
                .collect();
            let options = textwrap::Options::new(width.unwrap_or(LIST_BELOW))
                .initial_indent("  ")
                .subsequent_indent("  ");
            writeln!(out, "{}", row[0])?;
            writeln!(out, "{}", textwrap::fill(&details.join(", "), options))?;
        }
    } else {
        let table;
        (table, dropped) = fitted(&columns, &rows, 2, &[0, 5, 6], width);
        writeln!(out, "{table}")?;
    }
    let mut notes = vec![
        "Short names: the part of a Hub id after the /, accepted as well (bert-base-uncased)."
            .to_string(),
        "Params: of the module a sweep builds (architectures[0]'s head; the bare model with \
         --only-pretrain-model), counted from the config. Weights: those parameters in float32, \
         and in bfloat16 or float16 (--bf16, --fp16); a cell also needs activations and \
         libtorch (--dry-run estimates a whole cell)."
            .to_string(),
        "Max positions: the longest sequence the learned position embeddings allow; in \
         parentheses, the context the config names where rotary or relative positions enforce \
         none; for speech models, the longest audio in seconds."
            .to_string(),
        format!(
            "Supported model types: {}.",
            run_benchmark_core::spec::supported_model_types().join(", ")
        ),
        "Other models: a config.json path, or any Hub id (from the Hugging Face cache, else \
         config.json is downloaded unless HF_HUB_OFFLINE=1)."
            .to_string(),
    ];
    // Every embedded config is of a supported type today; one that is not is said, not a
    // column of "yes".
    let unsupported: Vec<&str> = (entries.iter())
        .filter(|e| !e.supported)
        .map(|e| e.id)
        .collect();
    if !unsupported.is_empty() {
        notes.push(format!(
            "Not supported by this build (listed for their sizes): {}.",
            unsupported.join(", ")
        ));
    }
    if !dropped.is_empty() {
        notes.push(format!(
            "Left out to fit {} columns: {} (a wider terminal or COLUMNS=200 shows them).",
            width.unwrap_or_default(),
            dropped.join(", ")
        ));
    }
    for note in notes {
        writeln!(out, "{}", crate::console::wrap(&note, width))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_say_what_fits() {
        let all = entries();
        let bert = all
            .iter()
            .find(|e| e.id == "google-bert/bert-base-uncased")
            .unwrap();
        // BertForMaskedLM: 109M (the tied decoder adds none), 512 positions.
        let p = bert.parameters.unwrap();
        assert!((p / 110e6 - 1.0).abs() < 0.03, "{p:e}");
        assert_eq!(bert.max_positions, Some(512));
        let llama = all
            .iter()
            .find(|e| e.id == "meta-llama/Llama-2-7b-hf")
            .unwrap();
        assert!((llama.parameters.unwrap() / 6.738e9 - 1.0).abs() < 0.01);
        assert_eq!(
            (llama.max_positions, llama.trained_positions),
            (None, Some(4096))
        );
        // An encoder-decoder counts its own parameters (Whisper-tiny 37.8M), its size is
        // audio seconds.
        let whisper = all.iter().find(|e| e.id == "openai/whisper-tiny").unwrap();
        let p = whisper.parameters.unwrap();
        assert!((p / 37.76e6 - 1.0).abs() < 0.01, "{p:e}");
        assert_eq!(whisper.max_seconds, Some(30));
    }

    #[test]
    fn counts_keep_three_digits() {
        assert_eq!(format_count(109.5e6), "110M");
        assert_eq!(format_count(1.1e9), "1.10B");
        assert_eq!(format_count(30.53e9), "30.5B");
        // Rounded before the unit is picked: never 1000M or 1000K.
        assert_eq!(format_count(999.6e6), "1.00B");
        assert_eq!(format_count(1e9), "1.00B");
        assert_eq!(format_count(999_700.0), "1.00M");
        assert_eq!(format_count(999.4e6), "999M");
        assert_eq!(format_count(99.96e6), "100M");
        assert_eq!(format_count(9.996e6), "10.0M");
        assert_eq!(format_count(123.0), "123");
        assert_eq!(format_count(4.2e12), "4.20T");
    }

    #[test]
    fn the_table_fits_80_columns_and_shows_sizes() {
        let mut out = Vec::new();
        print(&mut out, Some(80)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
        let line = text
            .lines()
            .find(|l| l.contains("bert-base-uncased") && !l.contains("distilbert"))
            .unwrap_or_else(|| panic!("{text}"));
        // BertForMaskedLM, 109,514,298 parameters (transformers' count): 418 MiB in float32,
        // 209 MiB in bfloat16.
        assert!(
            line.contains("110M") && line.contains("418 MiB") && line.contains("209 MiB"),
            "{line}"
        );
        assert!(line.contains("512"), "{line}");
        let mut wide = Vec::new();
        print(&mut wide, None).unwrap();
        let wide = String::from_utf8(wide).unwrap();
        assert!(wide.contains("BertForMaskedLM"), "{wide}");
        assert!(!wide.contains("Left out"), "{wide}");
    }

    #[test]
    fn the_list_is_sorted_case_insensitively_without_a_column_of_yes() {
        let mut out = Vec::new();
        print(&mut out, None).unwrap();
        let text = String::from_utf8(out).unwrap();
        let header = text.lines().nth(1).unwrap();
        assert!(!header.contains("Supported"), "{header}");
        let ids: Vec<&str> = (text.lines())
            .filter(|l| l.starts_with("| ") && !l.starts_with("| Hub id"))
            .map(|l| {
                l.trim_start_matches("| ")
                    .split(" |")
                    .next()
                    .unwrap()
                    .trim()
            })
            .collect();
        assert_eq!(ids.len(), entries().len(), "{text}");
        let mut sorted = ids.clone();
        sorted.sort_by_key(|id| id.to_lowercase());
        assert_eq!(ids, sorted);
        // Upper-case owners (Qwen/, HuggingFaceTB/) sit among the lower-case ones, not first.
        let qwen = ids.iter().position(|id| id.starts_with("Qwen/")).unwrap();
        let openai = ids.iter().position(|id| id.starts_with("openai/")).unwrap();
        assert!(openai < qwen, "{ids:?}");
        // No row says "yes" on its own: every embedded config is supported, so the column
        // went (a row of an unsupported type would be named in a note).
        assert!(entries().iter().all(|e| e.supported));
        assert!(!text.contains("| yes"), "{text}");
        assert!(!text.contains("Not supported by this build"), "{text}");
    }
}

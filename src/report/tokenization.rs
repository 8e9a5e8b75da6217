//! The `TOKENIZATION - SPEED - RESULT` section (encode throughput of the user's text, each
//! passage alone and in batches, the crate's parallelism off and on), and the notes that say
//! how much of a text cell's batch was padding.

use super::format::{busy_note, format_rate, BUSY_MARK};
use super::{format_seconds, Sweep, TIME_DIGITS};
use crate::cell::{TokenizationCell, TokenizationResult};
use crate::measure::timing::Statistic;
use std::io::{self, Write};

pub const TITLE: &str = "TOKENIZATION - SPEED - RESULT";

/// What the section shows, whatever renders it (terminal or Markdown).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenizationSection {
    pub columns: Vec<String>,
    /// How many of the last columns a narrow terminal may leave out.
    pub optional: usize,
    pub rows: Vec<Vec<String>>,
    pub notes: Vec<String>,
    pub not_available: Vec<String>,
}

/// `bert: single, parallelism off` and the like, for progress lines and N/A reasons.
pub fn describe(cell: &TokenizationCell) -> String {
    format!(
        "{}: {}, parallelism {}",
        cell.model,
        encode_label(cell),
        if cell.parallel { "on" } else { "off" }
    )
}

fn encode_label(cell: &TokenizationCell) -> String {
    match cell.batch_size {
        None => "single".into(),
        Some(n) => format!("batch {n}"),
    }
}

/// The progress line's result.
pub fn summary(result: &TokenizationResult) -> String {
    match result {
        TokenizationResult::Speed { tokens, speed, .. } => format!(
            "{}, {:.0} tokens/s",
            format_seconds(speed.seconds, TIME_DIGITS),
            *tokens as f64 / speed.seconds
        ),
        TokenizationResult::NotAvailable { reason } => format!("N/A ({reason})"),
    }
}

/// The section; None when the sweep timed no tokenizer.
pub fn build(sweep: &Sweep) -> Option<TokenizationSection> {
    let (first, _) = sweep.tokenization.first()?;
    let statistic = match sweep.settings.protocol.statistic() {
        Statistic::Median => "median",
        Statistic::Minimum => "minimum",
    };
    // The figures first, then the detail a narrow terminal leaves out (rightmost first).
    let columns = [
        "Model Name",
        "Encode",
        "Parallel",
        &format!("Time ({statistic})"),
        "Tokens/s",
        "Threads",
        "Passages",
        "Tokens",
        "Passages/s",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = Vec::new();
    let mut not_available = Vec::new();
    let mut busy = Vec::new();
    for (cell, result) in &sweep.tokenization {
        let mut line = vec![
            cell.model.clone(),
            encode_label(cell),
            if cell.parallel { "on" } else { "off" }.into(),
        ];
        match result {
            TokenizationResult::Speed {
                tokens,
                threads,
                speed,
            } => {
                let mut time = format_seconds(speed.seconds, TIME_DIGITS);
                if let Some(load) = speed.load.filter(|l| l.busy) {
                    time.push_str(BUSY_MARK);
                    busy.push(load);
                }
                line.extend([
                    time,
                    format_rate(*tokens as f64 / speed.seconds),
                    threads.to_string(),
                    cell.passages.to_string(),
                    tokens.to_string(),
                    format_rate(cell.passages as f64 / speed.seconds),
                ])
            }
            TokenizationResult::NotAvailable { reason } => {
                line.push("N/A".into());
                line.extend(std::iter::repeat_n(String::new(), columns.len() - 4));
                not_available.push(format!("N/A {}: {reason}", describe(cell)));
            }
        }
        rows.push(line);
    }
    let mut notes = vec![
        format!(
            "Each call encodes the first {} passage(s) of {} with the model's tokenizer \
             (special tokens added, no truncation or padding): single = one encode per \
             passage, batch n = encode_batch of n passages at a time.",
            first.passages,
            first.text.display()
        ),
        "Parallel: the tokenizers crate's parallelism (rayon) inside encode_batch; Threads: \
         its pool (--threads sizes it)."
            .into(),
        format!("Time: {}.", sweep.settings.protocol.describe()),
    ];
    notes.extend(busy_note(&busy));
    Some(TokenizationSection {
        columns,
        optional: 4,
        rows,
        notes,
        not_available,
    })
}

/// Prints the section, if the sweep has one.
pub fn print(out: &mut dyn Write, sweep: &Sweep) -> io::Result<()> {
    let Some(section) = build(sweep) else {
        return Ok(());
    };
    super::table::write_titled_table(
        out,
        TITLE,
        &section.columns,
        section.optional,
        &section.rows,
        section.notes.iter().chain(&section.not_available),
        crate::console::stdout_width(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{
        Cell, CellResult, DeviceChoice, Dtype, Metric, Mode, Optimizer, Settings, TextInputs,
    };
    use crate::cell::{Inputs, Row};
    use crate::measure::stats::Stats;
    use crate::measure::timing::Protocol;
    use crate::report::section::input_notes;

    fn settings() -> Settings {
        Settings {
            protocol: Protocol::Adaptive {
                warmup: 1,
                warmup_time_s: None,
                min_runs: 2,
                max_runs: 2,
                min_time_s: 0.0,
                precision: None,
                max_time_s: None,
            },
            device: DeviceChoice::Cpu,
            dtype: Dtype::F32,
            threads: None,
            optimizer: Optimizer::None,
            only_pretrain_model: false,
            framework: crate::cell::Framework::Pytorch,
            seed: 0,
            profile: false,
            profile_trace: None,
            onnxruntime_level: None,
            routing: None,
        }
    }

    #[test]
    fn padding_notes_once_per_model_and_size() {
        let text = TextInputs {
            tokenizer: "tok.json".into(),
            text: "corpus.txt".into(),
            tokenizer_digest: "1".into(),
            text_digest: "2".into(),
            passages: 3,
            padding_tokens: 12,
            truncated_rows: 1,
            cycled: true,
            pad_token: "[PAD]".into(),
        };
        let cell = |metric| Cell {
            model: "bert".into(),
            config: serde_json::json!({}),
            batch_size: 4,
            sequence_length: 8,
            mode: Mode::Inference,
            metric,
            settings: settings(),
            input: Default::default(),
            inputs: Inputs::Text(text.clone()),
            new_tokens: None,
        };
        let rows: Vec<Row> = vec![
            (cell(Metric::Speed), CellResult::na("x")),
            (cell(Metric::Memory), CellResult::na("y")),
        ];
        let notes = input_notes(&rows.iter().collect::<Vec<_>>());
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].contains("passage i of corpus.txt (3 passages)"),
            "{notes:?}"
        );
        assert_eq!(
            notes[1],
            "Padding bert (batch 4, sequence 8): 12 of 32 tokens (37.5%); 1 of 4 rows \
             truncated; the text has only 3 passages, so they repeat."
        );
    }

    #[test]
    fn the_section_has_rates_and_reasons() {
        let cell = |batch_size, parallel| TokenizationCell {
            model: "bert".into(),
            tokenizer: "tok.json".into(),
            text: "corpus.txt".into(),
            passages: 100,
            batch_size,
            parallel,
            settings: settings(),
        };
        let samples = vec![0.5, 0.5];
        let speed = crate::cell::SpeedResult {
            statistic: Statistic::Median,
            seconds: 0.5,
            stats: Stats::of(&samples).unwrap(),
            samples,
            calls_per_sample: 1,
            warmup_calls: 1,
            flops_per_call: None,
            bytes_per_call: None,
            interval: None,
            imprecise: false,
            build_seconds: None,
            profile: None,
            generation: None,
            load: None,
            ran: None,
            expert_load: None,
        };
        let sweep = Sweep {
            settings: settings(),
            environment: Vec::new(),
            calibrations: Vec::new(),
            sections: Vec::new(),
            rows: Vec::new(),
            shard: None,
            unread_config_keys: Vec::new(),
            default_threads: None,
            tokenization: vec![
                (
                    cell(None, false),
                    TokenizationResult::Speed {
                        tokens: 2000,
                        threads: 1,
                        speed: Box::new(speed),
                    },
                ),
                (
                    cell(Some(8), true),
                    TokenizationResult::NotAvailable {
                        reason: "boom".into(),
                    },
                ),
            ],
        };
        let section = build(&sweep).unwrap();
        assert_eq!(
            section.rows[0],
            ["bert", "single", "off", "500.0 ms", "4000", "1", "100", "2000", "200"]
        );
        assert_eq!(section.rows[1][..4], ["bert", "batch 8", "on", "N/A"]);
        assert_eq!(
            section.not_available,
            ["N/A bert: batch 8, parallelism on: boom"]
        );
        let mut out = Vec::new();
        print(&mut out, &sweep).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("TOKENIZATION - SPEED - RESULT"), "{out}");
        assert!(out.contains("first 100 passage(s) of corpus.txt"), "{out}");
        let empty = Sweep {
            tokenization: Vec::new(),
            ..sweep
        };
        assert!(build(&empty).is_none());
    }
}

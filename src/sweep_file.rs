//! `--sweep FILE.toml`: a sweep plan checked into git. Its keys are the long flags (with `_` or
//! `-`), optionally grouped in tables (`[protocol]`, `[exports]`, ...), and models may be
//! written as tables of name, source and overrides. The file becomes command-line arguments
//! placed before the real ones; a flag given on the command line (or one it conflicts with)
//! drops the file's value. See docs/sweep-file.md.

use crate::cli::{Cli, RunArgs};
use anyhow::{anyhow, bail, Context, Result};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};
use std::ffi::OsString;
use std::path::Path;
use toml::Value;

/// Flags that leave what a sweep measures as the file says: where output goes and how much
/// is printed.
const KEEPS_THE_SWEEP: [&str; 21] = [
    "sweep",
    // Where the results database is and what the run is called in it.
    "db",
    "label",
    "save_baseline",
    "recalibrate",
    "quiet",
    "verbose",
    "env_print",
    "log_print",
    "log_filename",
    "export_json",
    "export_markdown",
    "export_csv",
    "save_to_csv",
    "inference_time_csv_file",
    "inference_memory_csv_file",
    "train_time_csv_file",
    "train_memory_csv_file",
    "env_info_csv_file",
    "resume",
    "dry_run",
];

/// The file's keys that name files a run writes: not used for a run the command line changed.
const EXPORTS: [&str; 10] = [
    "export_json",
    "export_markdown",
    "export_csv",
    "save_to_csv",
    "inference_time_csv_file",
    "inference_memory_csv_file",
    "train_time_csv_file",
    "train_memory_csv_file",
    "env_info_csv_file",
    "log_filename",
];

/// One flag from the file: its key, its clap id and its command-line tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct FileArg {
    pub key: String,
    pub id: String,
    pub tokens: Vec<String>,
}

/// Reads the sweep file and merges it under the command line `argv` (whose parse is `matches`).
pub fn merge(path: &Path, matches: &ArgMatches, argv: &[OsString]) -> Result<RunArgs> {
    let text = crate::report::read_input(path, "sweep file")?;
    let file_args = to_args(&text).with_context(|| format!("sweep file {}", path.display()))?;
    let command = Cli::command();
    let given: Vec<&str> = command
        .get_arguments()
        .map(|a| a.get_id().as_str())
        .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
        .collect();
    let overridden = |id: &str| -> bool {
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == id)
            .expect("ids come from the command");
        given.contains(&id)
            || command
                .get_arg_conflicts_with(arg)
                .iter()
                .any(|c| given.contains(&c.get_id().as_str()))
            || given.iter().any(|g| {
                let g = command.get_arguments().find(|a| a.get_id() == *g);
                g.is_some_and(|g| {
                    command
                        .get_arg_conflicts_with(g)
                        .iter()
                        .any(|c| c.get_id() == id)
                })
            })
    };
    // A command line that changes what the sweep measures makes another run than the file's:
    // writing it under the file's export names would replace the file's report with it.
    let changing: Vec<String> = given
        .iter()
        .filter(|id| !KEEPS_THE_SWEEP.contains(id))
        .map(|id| format!("--{}", id.replace('_', "-")))
        .collect();
    let dropped: Vec<&FileArg> = file_args
        .iter()
        .filter(|a| !changing.is_empty() && EXPORTS.contains(&a.id.as_str()))
        .filter(|a| !overridden(&a.id))
        .collect();
    if !dropped.is_empty() {
        let keys: Vec<&str> = dropped.iter().map(|a| a.key.as_str()).collect();
        crate::console::eprintln(&format!(
            "Sweep file {}: {} change(s) the sweep, so its {} not written (give the flag to \
             write this run's)",
            path.display(),
            changing.join(", "),
            match keys[..] {
                [one] => format!("{one} is"),
                _ => format!("{} are", keys.join(", ")),
            }
        ));
    }
    let mut merged: Vec<OsString> = argv.iter().take(1).cloned().collect();
    for arg in file_args
        .iter()
        .filter(|a| !overridden(&a.id) && !dropped.iter().any(|d| d.id == a.id))
    {
        merged.extend(arg.tokens.iter().map(OsString::from));
    }
    merged.extend(argv.iter().skip(1).cloned());
    let matches = Cli::command().try_get_matches_from(merged).map_err(|e| {
        let message = e.to_string();
        let first = message
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ");
        // "invalid value '-3' for '--min-runs <N>'": name the file's key when it is one.
        let flag = match e.get(clap::error::ContextKind::InvalidArg) {
            Some(clap::error::ContextValue::String(arg)) => arg.split(' ').next(),
            _ => None,
        };
        let key = file_args.iter().find(|a| {
            flag.is_some_and(|f| a.tokens.iter().any(|t| t.split('=').next() == Some(f)))
        });
        match key {
            Some(arg) => anyhow!(
                "sweep file {}: key \"{}\": {first}",
                path.display(),
                arg.key
            ),
            None => anyhow!("sweep file {}: {first}", path.display()),
        }
    })?;
    Ok(Cli::from_arg_matches(&matches)?.run)
}

/// The file's flags as command-line tokens, in the file's order. Values are attached
/// (`--min-runs=-3`, one `--batch-sizes=N` per list item), so a value starting with `-`
/// is a value, not a flag.
pub fn to_args(text: &str) -> Result<Vec<FileArg>> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| anyhow!("not valid TOML: {}", e.to_string().trim_end()))?;
    let mut entries = Vec::new();
    for (key, value) in table {
        match value {
            Value::Table(group) if key != "models" => {
                for (key, value) in group {
                    if value.is_table() {
                        bail!("key \"{key}\": tables nest one level only");
                    }
                    entries.push((key, value));
                }
            }
            value => entries.push((key, value)),
        }
    }
    let command = Cli::command();
    let mut args: Vec<FileArg> = Vec::new();
    for (key, value) in entries {
        let long = key.replace('_', "-");
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && !a.is_hide_set())
            .filter(|_| !matches!(long.as_str(), "sweep" | "help" | "version"))
            .ok_or_else(|| {
                let hint = match nearest_key(&command, &long) {
                    Some(near) => format!("did you mean {near}? "),
                    None => String::new(),
                };
                anyhow!(
                    "unknown key \"{key}\" ({hint}keys are the long flags of run-benchmark \
                     --help)"
                )
            })?;
        let id = arg.get_id().to_string();
        if args.iter().any(|a| a.id == id) {
            bail!("key \"{key}\" is given twice");
        }
        let flag = format!("--{long}");
        let multiple = arg
            .get_num_args()
            .is_some_and(|range| range.max_values() > 1);
        let tokens = match (&value, arg.get_action()) {
            (Value::Boolean(true), ArgAction::SetTrue) => vec![flag],
            (Value::Boolean(false), ArgAction::SetTrue) => continue,
            (_, ArgAction::SetTrue) => bail!("key \"{key}\": expected true or false"),
            (Value::Array(items), _) if multiple => {
                if items.is_empty() {
                    bail!("key \"{key}\": the list is empty");
                }
                let mut tokens = Vec::new();
                for item in items {
                    let value = if long == "models" {
                        model_spec(item).with_context(|| format!("key \"{key}\""))?
                    } else {
                        scalar(item).with_context(|| format!("key \"{key}\""))?
                    };
                    tokens.push(format!("{flag}={value}"));
                }
                tokens
            }
            (Value::Array(_), _) => bail!("key \"{key}\": expected one value, not a list"),
            (value, _) if long == "models" => vec![format!("{flag}={}", model_spec(value)?)],
            (value, _) => vec![format!(
                "{flag}={}",
                scalar(value).with_context(|| format!("key \"{key}\""))?
            )],
        };
        args.push(FileArg { key, id, tokens });
    }
    Ok(args)
}

/// The key a misspelt one most likely meant: the closest long flag (at most two edits, or a
/// singular or plural of it), spelt with `_` as sweep files usually do.
fn nearest_key(command: &clap::Command, long: &str) -> Option<String> {
    command
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long())
        .filter(|l| !matches!(*l, "sweep" | "help" | "version"))
        .map(|l| (strsim::damerau_levenshtein(long, l), l))
        .filter(|&(distance, _)| distance <= 2)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, l)| l.replace('-', "_"))
}

fn scalar(value: &Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Integer(i) => Ok(i.to_string()),
        Value::Float(f) => Ok(f.to_string()),
        Value::Boolean(b) => Ok(b.to_string()),
        other => bail!("expected a string or a number, not {}", other.type_str()),
    }
}

/// A model: the command line's `[NAME=]SOURCE[:KEY=VALUE,...]` string, or a table
/// `{ name = "...", source = "...", overrides = { key = value, ... } }`.
fn model_spec(value: &Value) -> Result<String> {
    let table = match value {
        Value::String(spec) => return Ok(spec.clone()),
        Value::Table(table) => table,
        other => bail!("a model is a string or a table, not {}", other.type_str()),
    };
    for key in table.keys() {
        if !matches!(key.as_str(), "name" | "source" | "overrides") {
            bail!("model key \"{key}\" is not name, source or overrides");
        }
    }
    let source = table
        .get("source")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("a model table needs source = \"...\""))?;
    let mut spec = match table.get("name") {
        Some(Value::String(name)) => format!("{name}={source}"),
        Some(_) => bail!("model name must be a string"),
        None => source.to_string(),
    };
    match table.get("overrides") {
        None => {}
        Some(Value::Table(overrides)) => {
            let pairs = overrides
                .iter()
                .map(|(k, v)| {
                    let json = serde_json::to_string(v)?;
                    if json.contains(',') {
                        bail!("override {k} = {json}: values with commas are not supported");
                    }
                    Ok(format!("{k}={json}"))
                })
                .collect::<Result<Vec<_>>>()?;
            if !pairs.is_empty() {
                spec = format!("{spec}:{}", pairs.join(","));
            }
        }
        Some(_) => bail!("model overrides must be a table: overrides = {{ hidden_size = 384 }}"),
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        to_args(text)
            .unwrap()
            .into_iter()
            .flat_map(|a| a.tokens)
            .collect()
    }

    #[test]
    fn keys_are_long_flags_in_either_spelling_and_tables_group_them() {
        let t = tokens(
            r#"
            models = ["bert-base", { name = "small", source = "bert-base", overrides = { hidden_size = 384, hidden_act = "gelu" } }]
            batch_sizes = [1, 8]
            sequence-lengths = [8]
            training = true
            no_memory = false

            [protocol]
            runs = 3
            min_time = 0.5

            [exports]
            export_json = "out.json"
            "#,
        );
        assert_eq!(
            t,
            [
                "--models=bert-base",
                "--models=small=bert-base:hidden_size=384,hidden_act=\"gelu\"",
                "--batch-sizes=1",
                "--batch-sizes=8",
                "--sequence-lengths=8",
                "--training",
                "--runs=3",
                "--min-time=0.5",
                "--export-json=out.json"
            ]
        );
    }

    #[test]
    fn mistakes_name_the_key() {
        let err = |text: &str| format!("{:#}", to_args(text).unwrap_err());
        assert!(err("batch_size = [8]")
            .contains("unknown key \"batch_size\" (did you mean batch_sizes?"));
        assert!(err("[exports]\nexport_jsn = \"a.json\"").contains("did you mean export_json?"));
        // Nothing near: no guess.
        assert!(!err("colour = true").contains("did you mean"));
        assert!(err("training = 1").contains("\"training\": expected true or false"));
        assert!(err("seed = [1, 2]").contains("\"seed\": expected one value"));
        assert!(err("sweep = \"x.toml\"").contains("unknown key \"sweep\""));
        assert!(err("models = [{ name = \"x\" }]").contains("needs source"));
        assert!(err("models = [").contains("not valid TOML"));
        assert!(err("seed = 1\n[exports]\nseed = 2").contains("given twice"));
    }

    #[test]
    fn the_example_file_is_a_valid_sweep() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sweep.toml"),
        )
        .unwrap();
        let mut argv = vec!["run-benchmark".to_string()];
        argv.extend(tokens(&text));
        let run = <Cli as clap::Parser>::try_parse_from(&argv)
            .unwrap_or_else(|e| panic!("{e}\n{argv:?}"))
            .run;
        assert_eq!(run.models.len(), 3);
        assert_eq!(run.models[1].name, "bert-384-hid");
    }
}

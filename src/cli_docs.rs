//! Shell completions and the man page, generated from the clap definition
//! (`run-benchmark completions SHELL`, `run-benchmark man`); the committed copies in
//! completions/ and docs/ are checked against them by a test.

use crate::cli::Cli;
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::{self, Write};

pub const BIN: &str = "run-benchmark";

/// The completion script for `shell`.
pub fn completions(shell: Shell, out: &mut dyn Write) {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut script);
    if shell == Shell::Bash {
        // clap_complete 4.6 names the subcommands' case labels `run__subcmd__benchmark__...`
        // (the hyphen of the binary's name read as a subcommand separator) but sets
        // `cmd=run__benchmark__...`, so no subcommand's flags were ever completed.
        let text =
            String::from_utf8_lossy(&script).replace("run__subcmd__benchmark", "run__benchmark");
        script = text.into_bytes();
    }
    if matches!(shell, Shell::Fish | Shell::Zsh) {
        script = models_also_complete_files(shell, &String::from_utf8_lossy(&script)).into_bytes();
    }
    let _ = out.write_all(&script);
}

/// `--models` takes the embedded names (its possible values) or a config path: fish and zsh
/// scripts offer the names alone as clap_complete writes them, so files are added back
/// (bash falls back to file names by itself, `-o default`, when no name matches).
fn models_also_complete_files(shell: Shell, script: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in script.lines() {
        let line = match shell {
            Shell::Fish if line.contains(" -l models ") => {
                line.replacen(" -r -f -a ", " -r -a ", 1)
            }
            Shell::Zsh if line.starts_with("'*--models=[") => {
                match (line.find(":MODEL:("), line.rfind(")'")) {
                    (Some(start), Some(end)) if end > start => format!(
                        "{}:MODEL:{{compadd -- {}; _files}}{}",
                        &line[..start],
                        &line[start + ":MODEL:(".len()..end],
                        &line[end + 1..]
                    ),
                    _ => line.to_string(),
                }
            }
            _ => line.to_string(),
        };
        lines.push(line);
    }
    let mut text = lines.join("\n");
    if script.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The committed file name of `shell`'s script, under completions/.
pub fn completion_file(shell: Shell) -> String {
    match shell {
        Shell::Bash => format!("{BIN}.bash"),
        Shell::Zsh => format!("_{BIN}"),
        Shell::Fish => format!("{BIN}.fish"),
        Shell::PowerShell => format!("_{BIN}.ps1"),
        Shell::Elvish => format!("{BIN}.elv"),
        _ => format!("{BIN}.{shell}"),
    }
}

pub use crate::cli::MAN_SUBCOMMANDS;

/// The man page (roff) of `run-benchmark`, or of one of MAN_SUBCOMMANDS.
pub fn man_page(subcommand: Option<&str>, out: &mut dyn Write) -> io::Result<()> {
    let command = Cli::command();
    let command = match subcommand {
        None => command,
        Some(name) => command
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| io::Error::other(format!("no subcommand {name}")))?
            .name(format!("{BIN}-{name}"))
            .bin_name(format!("{BIN} {name}")),
    };
    let mut page = Vec::new();
    // Every page's header names the program and its version (a subcommand has no version of
    // its own, so clap_mangen would print its name alone).
    clap_mangen::Man::new(command)
        .source(format!("{BIN} {}", env!("CARGO_PKG_VERSION")))
        .manual("User Commands")
        .render(&mut page)?;
    // No hyphenation, left-aligned: class names and flags must not break mid-word.
    let page = String::from_utf8_lossy(&page);
    let text = match page.find("\n.TH ") {
        Some(at) => {
            let end = at + 1 + page[at + 1..].find('\n').unwrap_or(page.len() - at - 1);
            format!("{}\n.nh\n.ad l{}", &page[..end], &page[end..])
        }
        None => page.into_owned(),
    };
    out.write_all(text.as_bytes())
}

/// The man page of `run-benchmark` (`run-benchmark man`).
pub fn man(out: &mut dyn Write) -> io::Result<()> {
    man_page(None, out)
}

/// The committed file of a man page, under docs/.
pub fn man_file(subcommand: Option<&str>) -> String {
    match subcommand {
        None => format!("{BIN}.1"),
        Some(name) => format!("{BIN}-{name}.1"),
    }
}

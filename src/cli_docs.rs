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
    clap_complete::generate(shell, &mut Cli::command(), BIN, out);
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

/// The man page (roff), the subcommands' options included.
pub fn man(out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}

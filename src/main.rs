use clap::Parser;
use run_benchmark::cli::{Cli, Command};
use run_benchmark::{app, cell};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Cell { cell_json }) => child(&cell_json),
        None => match app::run(cli.run) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("Error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// The child side of one cell: measure, print the result as one JSON line.
fn child(cell_json: &str) -> ExitCode {
    let result = match serde_json::from_str::<cell::Cell>(cell_json) {
        Ok(c) => cell::run(&c),
        Err(e) => cell::CellResult::na(format!("invalid cell description: {e}")),
    };
    let line = serde_json::to_string(&result).expect("a result serialises");
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// Output piped into `head` is not an error (as ripgrep).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

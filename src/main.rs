use clap::Parser;
use run_benchmark::cli::{Cli, Command};
use run_benchmark::runner::Reply;
use run_benchmark::{app, cell};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Cell { job_json }) => child(&job_json),
        Some(Command::Models) => print_models(),
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

/// The embedded registry and what this build can benchmark.
fn print_models() -> ExitCode {
    let supported = run_benchmark::models::supported_model_types();
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::ASCII_FULL_CONDENSED)
        .set_header([
            "Hub id",
            "Short name",
            "model_type",
            "architectures[0]",
            "Supported",
        ]);
    for entry in run_benchmark::hub::registry() {
        let ok = supported.contains(&entry.model_type.as_str());
        table.add_row([
            entry.id,
            entry.short_name,
            &entry.model_type,
            &entry.architecture,
            if ok { "yes" } else { "no" },
        ]);
    }
    let text = format!(
        "{table}\nSupported model types: {}\nOther models: a config.json path, or any Hub id (from the \
         Hugging Face cache, else config.json is downloaded unless HF_HUB_OFFLINE=1).\n",
        supported.join(", ")
    );
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// The child side of one job: run it, print the reply as one JSON line.
fn child(job_json: &str) -> ExitCode {
    let result = match serde_json::from_str::<cell::Job>(job_json) {
        Ok(job) => job.execute(),
        Err(e) => Err(format!("invalid job description: {e}")),
    };
    let line = serde_json::to_string(&Reply::from(result)).expect("a reply serialises");
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

use clap::{CommandFactory, FromArgMatches};
use run_benchmark::app::{self, Outcome};
use run_benchmark::cli::{Cli, Command};
use run_benchmark::runner::{die_with_parent, Reply, CHILD_COMMAND};
use run_benchmark::{cell, child, cli_docs, console, db, interrupt, report, sweep_file, zygote};
use std::io::{Read, Write};
use std::process::ExitCode;

fn main() {
    zygote::exit_now(run())
}

fn run() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The child side of the runner's protocol (`run-benchmark __cell PARENT_PID`, the job on
    // stdin) is read before clap, so it is no part of the user interface, completions or man page.
    if argv.get(1).is_some_and(|a| a == CHILD_COMMAND) {
        return match argv.get(2).and_then(|p| p.to_str()?.parse().ok()) {
            Some(parent) if argv.len() == 3 => child(parent),
            _ => {
                eprintln!(
                    "usage: run-benchmark {CHILD_COMMAND} PARENT_PID < JOB_JSON (used by the parent)"
                );
                ExitCode::from(2)
            }
        };
    }
    let matches = Cli::command().get_matches_from(&argv);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Some(Command::Models) => print_models(),
        Some(Command::Plot(args)) if args.history.history => finish(
            db::cli::plot_history(&args.options(), &args.history).map(|()| ExitCode::SUCCESS),
        ),
        Some(Command::Plot(args)) => {
            finish(report::plot(&args.options()).map(|()| ExitCode::SUCCESS))
        }
        Some(Command::History(args)) => finish(db::cli::history(&args).map(|()| ExitCode::SUCCESS)),
        Some(Command::Db(command)) => finish(db::cli::db(&command).map(|()| ExitCode::SUCCESS)),
        // As diff(1): 1 means "regressed", so an error needs another status.
        Some(Command::Compare(args)) => {
            match db::cli::compare(&args.options(), &args.files, &args.db) {
                Ok(true) => ExitCode::FAILURE,
                Ok(false) => ExitCode::SUCCESS,
                Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
                Err(e) => {
                    console::eprintln(&format!("Error: {e:#}"));
                    ExitCode::from(2)
                }
            }
        }
        Some(Command::Merge(args)) => finish(app::merge(args).map(|()| ExitCode::SUCCESS)),
        Some(Command::Completions { shell }) => {
            let mut out = std::io::stdout().lock();
            cli_docs::completions(shell, &mut out);
            finish(out.flush().map_err(Into::into).map(|()| ExitCode::SUCCESS))
        }
        Some(Command::Man { subcommand }) => {
            let mut out = std::io::stdout().lock();
            let written =
                cli_docs::man_page(subcommand.as_deref(), &mut out).and_then(|()| out.flush());
            finish(written.map_err(Into::into).map(|()| ExitCode::SUCCESS))
        }
        Some(Command::Schema) => {
            let mut out = std::io::stdout().lock();
            let written = out
                .write_all(report::json::schema().as_bytes())
                .and_then(|()| out.flush());
            finish(written.map_err(Into::into).map(|()| ExitCode::SUCCESS))
        }
        None => {
            let args = match &cli.run.sweep {
                Some(path) => sweep_file::merge(path, &matches, &argv),
                None => Ok(cli.run),
            };
            // Before anything starts a thread or touches the GPU: the cells' children are
            // forked from a copy of this process as it is now. CPU runs only: a CUDA-free
            // zygote is the pattern CUDA allows, but it has not been tested on a GPU here.
            if args
                .as_ref()
                .is_ok_and(|a| !a.no_multi_process && on_cpu(a))
            {
                zygote::start(child);
            }
            finish(args.and_then(app::run).map(|outcome| match outcome {
                Outcome::Finished => ExitCode::SUCCESS,
                Outcome::Interrupted => ExitCode::from(interrupt::exit_code()),
            }))
        }
    }
}

/// Whether the run is on the CPU, known without asking CUDA (which a zygote must not have
/// touched): the flags say so, or the machine has no NVIDIA device node.
fn on_cpu(args: &run_benchmark::cli::RunArgs) -> bool {
    use run_benchmark::cell::DeviceChoice;
    args.no_cuda
        || args.device == Some(DeviceChoice::Cpu)
        || (args.device.is_none() && !std::path::Path::new("/dev/nvidiactl").exists())
}

/// Errors are one line on stderr (and in the log) and exit status 1, or 2 for a missing or
/// unreadable input file (as compare's every error).
fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            console::eprintln(&format!("Error: {e:#}"));
            match report::MissingInput::in_chain(&e) {
                true => ExitCode::from(report::MISSING_INPUT_STATUS),
                false => ExitCode::FAILURE,
            }
        }
    }
}

/// The embedded registry and what this build can benchmark.
fn print_models() -> ExitCode {
    let mut out = console::Stdout;
    let width = console::stdout_width();
    match run_benchmark::catalog::print(&mut out, width).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// The child side of one job: read it from stdin, run it, print the reply as one JSON line.
/// Results so far are printed as they come, each line replacing the one before, so a parent
/// keeps finished cells of a child that dies later.
fn child(parent: u32) -> ExitCode {
    let started = std::time::SystemTime::now();
    let code = serve_job(parent);
    record_child(started);
    code
}

/// A test hook: with RUN_BENCHMARK_CHILD_RECORD=FILE, each exec'd child appends a JSON line of
/// what it ran with (CUDA_VISIBLE_DEVICES, the cores it may use) and when, so that tests see
/// `--devices`' pinning and overlap without a GPU.
fn record_child(started: std::time::SystemTime) {
    let Some(path) = std::env::var_os("RUN_BENCHMARK_CHILD_RECORD") else {
        return;
    };
    let seconds = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    };
    let line = serde_json::json!({
        "pid": std::process::id(),
        "start": seconds(started),
        "end": seconds(std::time::SystemTime::now()),
        "cuda_visible_devices": std::env::var("CUDA_VISIBLE_DEVICES").ok(),
        "cores": run_benchmark::devices::allowed_cores(),
    });
    // One short O_APPEND write: lines of children running at once do not interleave.
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
    {
        let _ = file.write_all(format!("{line}\n").as_bytes());
    }
}

fn serve_job(parent: u32) -> ExitCode {
    child::clean_panic_messages();
    if let Err(reason) = die_with_parent(parent) {
        eprintln!("{reason}");
        return ExitCode::FAILURE;
    }
    let print = |reply: Reply| {
        let line = serde_json::to_string(&reply).expect("a reply serialises");
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").and_then(|_| out.flush())
    };
    let mut job_json = String::new();
    let result = match std::io::stdin().read_to_string(&mut job_json) {
        Err(e) => Err(format!("cannot read the job description: {e}")),
        Ok(_) => match serde_json::from_str::<cell::Job>(&job_json) {
            Ok(job) => child::execute_with(&job, &mut |so_far| {
                let _ = print(Reply::Ok(so_far.clone()));
            }),
            Err(e) => Err(format!("invalid job description: {e}")),
        },
    };
    match print(Reply::from(result)) {
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

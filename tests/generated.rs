//! The committed shell completions (completions/), man page (docs/run-benchmark.1) and JSON
//! Schema of the export (docs/export-schema.json) must be what the current definitions
//! generate; `make generated` rewrites them.

use clap_complete::Shell;
use run_benchmark::cli_docs;
use std::path::Path;

fn check(committed: &Path, generated: &[u8]) -> Option<String> {
    let current = std::fs::read(committed).unwrap_or_default();
    (current != generated).then(|| committed.display().to_string())
}

#[test]
fn committed_completions_and_man_page_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::PowerShell,
        Shell::Elvish,
    ] {
        let mut script = Vec::new();
        cli_docs::completions(shell, &mut script);
        let file = root
            .join("completions")
            .join(cli_docs::completion_file(shell));
        stale.extend(check(&file, &script));
    }
    for subcommand in std::iter::once(None).chain(cli_docs::MAN_SUBCOMMANDS.map(Some)) {
        let mut page = Vec::new();
        cli_docs::man_page(subcommand, &mut page).unwrap();
        let file = root.join("docs").join(cli_docs::man_file(subcommand));
        stale.extend(check(&file, &page));
    }
    stale.extend(check(
        &root.join("docs/export-schema.json"),
        run_benchmark::report::json::schema().as_bytes(),
    ));
    assert!(
        stale.is_empty(),
        "stale generated files (run `make generated`): {stale:?}"
    );
}

#[test]
fn man_pages_carry_the_version_and_list_every_subcommand() {
    let version = env!("CARGO_PKG_VERSION");
    for subcommand in std::iter::once(None).chain(cli_docs::MAN_SUBCOMMANDS.map(Some)) {
        let mut page = Vec::new();
        cli_docs::man_page(subcommand, &mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        let header = page.lines().find(|l| l.starts_with(".TH ")).unwrap();
        assert!(
            header.contains(&format!("\"run-benchmark {version}\"")),
            "{subcommand:?}: {header}"
        );
    }
    let mut page = Vec::new();
    cli_docs::man(&mut page).unwrap();
    let page = String::from_utf8(page).unwrap();
    let listed = &page[page.find(".SH SUBCOMMANDS").unwrap()..];
    for name in ["models", "plot", "compare", "merge", "history", "db"] {
        assert!(
            listed.contains(&format!("run\\-benchmark\\-{name}(1)")),
            "{name} is not among the subcommands:\n{listed}"
        );
    }
}

/// What bash's completion function offers for `words`, the last one being completed: the
/// committed script sourced and called as bash calls it (COMP_WORDS, COMP_CWORD).
fn bash_complete(words: &[&str]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/run-benchmark.bash");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        r#"source '{}'
COMP_WORDS=({})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_run__benchmark run-benchmark "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script.display(),
        quoted.join(" ")
    );
    let output = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_flags_subcommand_flags_and_values() {
    let offered = bash_complete(&["run-benchmark", "--seq"]);
    assert_eq!(offered, ["--sequence-lengths"]);
    // Subcommands' own flags (clap_complete's case labels used to miss them).
    assert_eq!(
        bash_complete(&["run-benchmark", "plot", "--li"]),
        ["--linear"]
    );
    let offered = bash_complete(&["run-benchmark", "compare", "a.json", "--noise"]);
    assert_eq!(offered, ["--noise-floor", "--noise-from"]);
    // Value enums, and devices rather than file names.
    let offered = bash_complete(&["run-benchmark", "--device", ""]);
    assert!(
        offered.contains(&"cpu".to_string()) && offered.contains(&"cuda".to_string()),
        "{offered:?}"
    );
    assert!(
        offered.iter().all(|v| v == "cpu" || v.starts_with("cuda")),
        "{offered:?}"
    );
    let offered = bash_complete(&["run-benchmark", "plot", "--x", ""]);
    assert_eq!(offered, ["sequence-length", "batch-size"]);
    assert_eq!(
        bash_complete(&["run-benchmark", "merge", "a.json", "--pre"]),
        ["--prefer"]
    );
    let offered = bash_complete(&["run-benchmark", "--optimizer", "a"]);
    assert_eq!(offered, ["adamw"]);
}

#[test]
fn bash_completes_the_embedded_model_names() {
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/run-benchmark.bash"),
    )
    .unwrap();
    assert!(script.contains("bert-base-uncased"), "no model names");
    let offered = bash_complete(&["run-benchmark", "--models", "bert-base-un"]);
    assert_eq!(offered, ["bert-base-uncased"]);
    // Hub ids too, owner and all.
    let offered = bash_complete(&["run-benchmark", "--models", "google-bert/bert-base-u"]);
    assert_eq!(offered, ["google-bert/bert-base-uncased"]);
    let offered = bash_complete(&["run-benchmark", "--models", ""]);
    assert!(
        offered.contains(&"gpt2".to_string()) && offered.contains(&"Llama-2-7b-hf".to_string()),
        "{offered:?}"
    );
}

/// fish and zsh offer the names and, for a config path, files.
#[test]
fn fish_and_zsh_complete_model_names_and_files() {
    let script = |shell| {
        let mut out = Vec::new();
        cli_docs::completions(shell, &mut out);
        String::from_utf8(out).unwrap()
    };
    let fish = script(Shell::Fish);
    let models = fish.lines().find(|l| l.contains(" -l models ")).unwrap();
    assert!(models.contains(" -r -a \"albert-base-v2"), "{models}");
    assert!(!models.contains(" -f "), "files are not offered: {models}");
    assert!(fish.contains("\nbert-base-uncased\\t"), "no model names");
    let zsh = script(Shell::Zsh);
    let models = zsh.lines().find(|l| l.starts_with("'*--models=[")).unwrap();
    assert!(
        models.contains(":MODEL:{compadd -- albert-base-v2 "),
        "{models}"
    );
    assert!(models.contains(" bert-base-uncased "), "{models}");
    assert!(models.ends_with("; _files}' \\"), "{models}");
}

/// The names are offered, not imposed: a config path or a name not embedded still parses,
/// and --help does not list them.
#[test]
fn model_names_do_not_restrict_models() {
    use clap::Parser;
    let cli = run_benchmark::cli::Cli::try_parse_from([
        "run-benchmark",
        "--models",
        "configs/does-not-matter.json",
        "some-org/not-embedded",
    ]);
    assert!(cli.is_ok(), "{:?}", cli.err());
    let help = {
        use clap::CommandFactory;
        run_benchmark::cli::Cli::command()
            .render_long_help()
            .to_string()
    };
    assert!(!help.contains("possible values: albert"), "{help}");
    assert!(!help.contains("distilbert-base-uncased,"), "{help}");
}

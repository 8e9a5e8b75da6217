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

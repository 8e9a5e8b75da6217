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
    let mut page = Vec::new();
    cli_docs::man(&mut page).unwrap();
    stale.extend(check(&root.join("docs/run-benchmark.1"), &page));
    stale.extend(check(
        &root.join("docs/export-schema.json"),
        run_benchmark::report::json::schema().as_bytes(),
    ));
    assert!(
        stale.is_empty(),
        "stale generated files (run `make generated`): {stale:?}"
    );
}

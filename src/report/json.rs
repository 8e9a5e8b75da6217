//! The JSON export: schema-versioned, every cell with its settings, raw samples, statistics
//! and N/A reason, so reports and comparisons can be rebuilt without re-running anything.

use super::{write_file, Sweep};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Bumped when a field changes meaning or disappears; adding fields keeps it.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct Export {
    pub schema_version: u32,
    pub tool: String,
    #[serde(flatten)]
    pub sweep: Sweep,
}

/// The export's text.
pub fn render(sweep: &Sweep) -> Result<String> {
    let export = Export {
        schema_version: SCHEMA_VERSION,
        tool: format!("run-benchmark {}", env!("CARGO_PKG_VERSION")),
        sweep: sweep.clone(),
    };
    Ok(serde_json::to_string_pretty(&export)? + "\n")
}

/// Writes the sweep to `path`, replacing the file atomically.
pub fn write(path: &Path, sweep: &Sweep) -> Result<()> {
    write_file(path, render(sweep)?.as_bytes(), "JSON")
}

/// Reads an export, checking its schema version.
pub fn read(path: &Path) -> Result<Export> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let export: Export = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a run-benchmark JSON export", path.display()))?;
    anyhow::ensure!(
        export.schema_version == SCHEMA_VERSION,
        "{}: schema version {} is not supported (this build reads {SCHEMA_VERSION})",
        path.display(),
        export.schema_version
    );
    Ok(export)
}

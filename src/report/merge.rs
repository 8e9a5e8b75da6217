//! `run-benchmark merge`: joins the JSON exports of a sharded sweep (`--shard K/N`) into the
//! sweep one machine running every cell would have produced: the same cells in the same
//! order, so the same tables, CSV, Markdown, JSON and plots. It only reads results.

use super::json;
use crate::cell::{Calibration, CalibrationResult, CellResult, Row, Settings, Sweep};
use crate::shard::{PlannedCell, ShardRecord};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Which result wins when two exports measured the same cell differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefer {
    /// The file given first on the command line.
    First,
    /// The file given last (a re-run given after the run it repeats).
    Last,
}

/// The merged sweep and what the user should know about it.
pub struct Merged {
    pub sweep: Sweep,
    /// One line each: missing shards, different hardware.
    pub warnings: Vec<String>,
}

/// Environment keys that say which hardware and software measured; figures from shards
/// that differ in them are not comparable.
const HARDWARE_KEYS: &[&str] = &["cpu", "libtorch_version", "device", "num_gpus", "gpu"];

pub fn merge(files: &[PathBuf], prefer: Option<Prefer>) -> Result<Merged> {
    let mut exports = Vec::new();
    for path in files {
        let export = json::read(path).context("merge")?;
        if export.sweep.shard.is_none() {
            bail!(
                "{} is not a shard export: it was not run with --shard K/N",
                path.display()
            );
        }
        exports.push((path.as_path(), export.sweep));
    }
    let (first_path, first) = exports.first().context("merge: no files")?;
    let record = first.shard.clone().expect("checked above");
    for (path, sweep) in &exports[1..] {
        let other = sweep.shard.as_ref().expect("checked above");
        if other.plan_id != record.plan_id {
            let what = if sweep.settings != first.settings {
                "settings"
            } else {
                "planned cells (models, configs, sizes or text inputs)"
            };
            bail!(
                "{} and {} come from different plans: their {what} differ",
                first_path.display(),
                path.display()
            );
        }
    }
    let mut warnings = Vec::new();
    let given: Vec<usize> = exports
        .iter()
        .map(|(_, s)| s.shard.as_ref().map_or(0, |r| r.shard.index))
        .collect();
    let missing: Vec<String> = (1..=record.shard.count)
        .filter(|k| !given.contains(k))
        .map(|k| format!("{k}/{}", record.shard.count))
        .collect();
    if !missing.is_empty() {
        warnings.push(format!(
            "shard(s) {} not given: their cells are N/A (missing)",
            missing.join(", ")
        ));
    }
    let mut rows = Vec::new();
    for planned in &record.plan {
        rows.push(merged_row(
            &record,
            planned,
            &exports,
            prefer,
            &first.settings,
        )?);
    }
    let environment = environment(&exports, &mut warnings);
    Ok(Merged {
        sweep: Sweep {
            settings: first.settings.clone(),
            environment,
            calibrations: calibrations(&exports),
            sections: first.sections.clone(),
            rows,
            shard: None,
            unread_config_keys: first.unread_config_keys.clone(),
            default_threads: first.default_threads,
            // Only the first shard times the tokenizers.
            tokenization: exports
                .iter()
                .flat_map(|(_, s)| s.tokenization.clone())
                .collect(),
        },
        warnings,
    })
}

/// Each (device, dtype, threads)'s calibration, from the first shard that measured it.
fn calibrations(exports: &[(&Path, Sweep)]) -> Vec<(Calibration, CalibrationResult)> {
    let mut out: Vec<(Calibration, CalibrationResult)> = Vec::new();
    for (key, result) in exports.iter().flat_map(|(_, s)| &s.calibrations) {
        if !out.iter().any(|(k, _)| k == key) {
            out.push((*key, result.clone()));
        }
    }
    out
}

/// The one result for a planned cell: the only one found, agreeing ones, a measured one over
/// an N/A (a failed or interrupted try), or the preferred file's; a missing cell is N/A.
fn merged_row(
    record: &ShardRecord,
    planned: &PlannedCell,
    exports: &[(&Path, Sweep)],
    prefer: Option<Prefer>,
    settings: &Settings,
) -> Result<Row> {
    let found: Vec<(&Path, &Row)> = exports
        .iter()
        .flat_map(|(path, sweep)| {
            (sweep.rows.iter())
                .filter(|(cell, _)| record.is(planned, cell))
                .map(move |row| (*path, row))
        })
        .collect();
    let measured: Vec<(&Path, &Row)> = (found.iter().copied())
        .filter(|(_, (_, r))| !matches!(r, CellResult::NotAvailable { .. }))
        .collect();
    let candidates = if measured.is_empty() { found } else { measured };
    // Agreeing results (or only one) need no choice; different ones need --prefer.
    let chosen = match (candidates.first(), candidates.last()) {
        (Some(first), Some(last)) if candidates.iter().any(|(_, row)| row.1 != first.1 .1) => {
            match prefer {
                Some(Prefer::First) => Some(first.1),
                Some(Prefer::Last) => Some(last.1),
                None => bail!(
                    "{} was measured twice with different results ({} and {}); pass --prefer first or --prefer last",
                    record.cell(planned, settings, run_benchmark_core::spec::input_kind).label(&crate::cell::Axes::of(
                        &(record.plan.iter())
                            .map(|p| record.cell(p, settings, run_benchmark_core::spec::input_kind))
                            .collect::<Vec<_>>()
                    )),
                    first.0.display(),
                    last.0.display()
                ),
            }
        }
        (first, _) => first.map(|(_, row)| *row),
    };
    Ok(match chosen {
        Some(row) => row.clone(),
        None => {
            let reason = format!(
                "missing: no result from shard {}/{}",
                planned.shard + 1,
                record.shard.count
            );
            (
                record.cell(planned, settings, run_benchmark_core::spec::input_kind),
                CellResult::na(reason),
            )
        }
    })
}

/// The first export's environment; keys whose values differ between the exports are listed
/// per file instead, and hardware differences are a warning.
fn environment(exports: &[(&Path, Sweep)], warnings: &mut Vec<String>) -> Vec<(String, String)> {
    let first = &exports[0].1.environment;
    let value = |env: &[(String, String)], key: &str| {
        env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    let mut merged = Vec::new();
    for (key, v) in first {
        let values: Vec<Option<String>> = exports
            .iter()
            .map(|(_, s)| value(&s.environment, key))
            .collect();
        if values.iter().all(|x| x.as_deref() == Some(v.as_str())) {
            merged.push((key.clone(), v.clone()));
            continue;
        }
        for ((path, _), x) in exports.iter().zip(&values) {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            merged.push((format!("{key} ({name})"), x.clone().unwrap_or_default()));
        }
        if HARDWARE_KEYS.contains(&key.as_str()) {
            let listed: Vec<String> = exports
                .iter()
                .zip(&values)
                .map(|((p, _), x)| format!("{} in {}", x.clone().unwrap_or_default(), p.display()))
                .collect();
            warnings.push(format!(
                "shards ran on different hardware or software ({key}: {}): their figures are not comparable",
                listed.join("; ")
            ));
        }
    }
    merged
}

//! The matmul and bandwidth ceilings, measured once per machine and settings: cached per (CPU or GPU model,
//! device, dtype, threads, libtorch version) in the user's cache folder
//! (`$XDG_CACHE_HOME/run-benchmark/calibration.json`, else `~/.cache/...`), and reused while
//! it is younger than [`FRESH_FOR`]. `--recalibrate` measures again. A calibration measured
//! while other processes took the CPU reads low: it is cached marked busy and stands in only
//! while the machine is still busy; the first quiet run measures again.

use crate::cell::{
    Axes, Calibration, CalibrationResult, CellResult, DeviceChoice, Dtype, Metric, Sweep,
};
use crate::plan::Plan;
use crate::progress::Progress;
use crate::runner::{Interrupted, Runner};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A calibration is reused for a day: machines drift (this one by up to 1.5x from one day to
/// the next), and a stale ceiling would skew every MFU figure.
pub const FRESH_FOR: Duration = Duration::from_secs(24 * 3600);

/// How the ceilings are measured: a cached entry of another method is measured again. 2: the
/// CPU bandwidth from plain loops over huge pages (1: libtorch's sum and copy_).
pub const METHOD: u32 = 2;

/// What a ceiling depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// [`METHOD`] when measured (0: entries older than the field).
    #[serde(default)]
    pub method: u32,
    /// The CPU's brand string, or the GPU's name.
    pub processor: String,
    pub device: DeviceChoice,
    pub dtype: Dtype,
    pub threads: String,
    pub libtorch: String,
}

impl Key {
    /// The key of a calibration from the sweep's environment information (`cpu`,
    /// `gpu`/`gpu_N`, `libtorch_version`) and its device, dtype and effective threads.
    pub fn of(
        environment: &[(String, String)],
        device: DeviceChoice,
        dtype: Dtype,
        threads: usize,
    ) -> Key {
        let get = |k: &str| {
            environment
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| "unknown".into())
        };
        let processor = match device {
            DeviceChoice::Cpu => get("cpu"),
            DeviceChoice::Cuda(0) => get("gpu"),
            DeviceChoice::Cuda(i) => get(&format!("gpu_{i}")),
        };
        Key {
            method: METHOD,
            processor,
            device,
            dtype,
            threads: threads.to_string(),
            libtorch: get("libtorch_version"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    key: Key,
    result: CalibrationResult,
    /// Seconds since the Unix epoch.
    measured_at: u64,
    /// Other processes took the CPU while it was measured (`src/load.rs`).
    #[serde(default)]
    busy: bool,
}

/// A cached ceiling and when it was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    pub result: CalibrationResult,
    pub measured_at: u64,
    pub busy: bool,
}

impl Cached {
    /// "2026-12-02 14:20 UTC".
    pub fn when(&self) -> String {
        chrono::DateTime::from_timestamp(self.measured_at as i64, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| self.measured_at.to_string())
    }
}

/// The cache file.
pub struct Cache {
    pub path: PathBuf,
}

impl Cache {
    /// The user's cache file; None where the system names no cache folder.
    pub fn user() -> Option<Cache> {
        dirs::cache_dir().map(|dir| Cache {
            path: dir.join("run-benchmark").join("calibration.json"),
        })
    }

    /// A fresh entry for `key`. An unreadable or corrupt file counts as empty: the cache only
    /// saves time, it never stops a run.
    pub fn lookup(&self, key: &Key) -> Option<Cached> {
        let now = unix_now();
        self.entries()
            .into_iter()
            // Entries from before the bandwidth ceiling are measured again, for it.
            .filter(|e| &e.key == key && e.result.flops_per_second > 0.0)
            .filter(|e| e.result.bandwidth.is_some())
            .filter(|e| now.saturating_sub(e.measured_at) < FRESH_FOR.as_secs())
            .max_by_key(|e| e.measured_at)
            .map(|e| Cached {
                result: e.result,
                measured_at: e.measured_at,
                busy: e.busy,
            })
    }

    /// Records a new measurement for `key`, replacing older ones; `busy`: measured while
    /// other processes took the CPU.
    pub fn store(&self, key: &Key, result: &CalibrationResult, busy: bool) -> Result<()> {
        let mut entries = self.entries();
        entries.retain(|e| &e.key != key);
        entries.push(Entry {
            key: key.clone(),
            result: result.clone(),
            measured_at: unix_now(),
            busy,
        });
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let json = serde_json::to_vec_pretty(&entries)?;
        crate::report::write_file(&self.path, &json, "calibration cache")
    }

    fn entries(&self) -> Vec<Entry> {
        std::fs::read(&self.path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Measures the matmul ceiling once per (device, dtype, threads) of the speed cells still to
/// run, unless carried over, or reuses the one cached for this machine and libtorch (unless
/// `recalibrate`); the environment information says which. A failed calibration only makes
/// those cells' MFU N/A.
pub fn ensure(
    runner: &Runner,
    progress: &Progress,
    plan: &Plan,
    results: &[Option<CellResult>],
    sweep: &mut Sweep,
    recalibrate: bool,
) -> Result<(), Interrupted> {
    let mut wanted: Vec<Calibration> = Vec::new();
    for (cell, _) in
        (plan.cells.iter().zip(results)).filter(|(c, r)| r.is_none() && c.metric == Metric::Speed)
    {
        let key = Calibration::of(&cell.settings);
        if !wanted.contains(&key) && sweep.calibration_for(&cell.settings).is_none() {
            wanted.push(key);
        }
    }
    let several = Axes::of(&plan.cells);
    let several = several.dtype_varies() || several.threads_vary();
    let mut said = Vec::new();
    let mut bandwidths: Vec<(String, String)> = Vec::new();
    let cache = Cache::user();
    for calibration in wanted {
        let threads = calibration.threads.unwrap_or(plan.default_threads);
        let (device, dtype) = (calibration.device, calibration.dtype);
        let variant = format!("{} {threads} thread(s)", dtype.name());
        let what = format!(
            "Calibrating: fastest matmul in {} on {device}{}",
            dtype.name(),
            match several {
                true => format!(", {threads} thread(s)"),
                false => String::new(),
            }
        );
        let key = Key::of(&sweep.environment, device, dtype, threads);
        let cached = match recalibrate {
            true => None,
            false => cache.as_ref().and_then(|c| c.lookup(&key)),
        };
        // A busy calibration stands in only while the machine is still busy.
        let cached = cached.filter(|c| {
            !c.busy || crate::load::look(crate::load::BEFORE_SWEEP).is_some_and(|l| l.busy)
        });
        if let Some(cached) = cached {
            let when = match cached.busy {
                true => format!("{} on a busy machine", cached.when()),
                false => cached.when(),
            };
            progress.note(&format!(
                "{what}: {}, reused (measured {when}; --recalibrate measures again)",
                ceilings(&cached.result)
            ));
            bandwidths.extend(bandwidth_of(&variant, &cached.result));
            sweep.calibrations.push((calibration, cached.result));
            said.push((variant, format!("reused, measured {when}")));
            continue;
        }
        progress.task(&what);
        // The calibration's child has been waited for when the look ends: its time is ours.
        let (outcome, load) = crate::load::during(|| runner.calibrate(calibration));
        match outcome {
            Ok(Ok(c)) => {
                progress.task_done(&what, &ceilings(&c));
                bandwidths.extend(bandwidth_of(&variant, &c));
                // Ceilings measured beside other work read low: kept marked busy, so that
                // they never stand in for a quiet machine's (every MFU and MBU would read high).
                let busy = load.filter(|l| l.busy);
                if let Some(l) = busy {
                    progress.note(&format!(
                        "Calibration measured while other processes took {:.2} of {} cores: \
                         its ceilings may read low; the next run on a quiet machine measures \
                         them again",
                        l.other_cores, l.cores
                    ));
                }
                let stored = cache
                    .as_ref()
                    .map(|cache| cache.store(&key, &c, busy.is_some()));
                if let Some(Err(e)) = stored {
                    progress.note(&format!("Calibration not cached: {e:#}"));
                }
                sweep.calibrations.push((calibration, c));
                let how = match busy {
                    Some(_) => "measured on a busy machine",
                    None => "measured",
                };
                said.push((variant, how.into()));
            }
            Ok(Err(reason)) => {
                progress.task_done(&what, &format!("failed ({reason}); MFU will be N/A"))
            }
            Err(Interrupted) => {
                progress.interrupted();
                return Err(Interrupted);
            }
        }
    }
    if !said.is_empty() {
        let value = match several {
            false => said.remove(0).1,
            true => (said.iter().map(|(v, how)| format!("{v}: {how}")))
                .collect::<Vec<_>>()
                .join("; "),
        };
        sweep.set_environment("calibration", value);
    }
    if !bandwidths.is_empty() {
        let value = match several {
            false => bandwidths.remove(0).1,
            true => (bandwidths.iter().map(|(v, b)| format!("{v}: {b}")))
                .collect::<Vec<_>>()
                .join("; "),
        };
        sweep.set_environment("memory_bandwidth", value);
    }
    Ok(())
}

/// "312.4 GFLOP/s, read 55.1 GB/s": both ceilings of a calibration.
fn ceilings(c: &CalibrationResult) -> String {
    match c.bandwidth {
        Some(b) => format!(
            "{:.1} GFLOP/s, read {:.1} GB/s",
            c.flops_per_second / 1e9,
            b.read_bytes_per_second / 1e9
        ),
        None => format!(
            "{:.1} GFLOP/s (bandwidth not measured)",
            c.flops_per_second / 1e9
        ),
    }
}

/// The environment's words for a calibration's bandwidth ceiling, if measured.
fn bandwidth_of(variant: &str, c: &CalibrationResult) -> Option<(String, String)> {
    let b = c.bandwidth.as_ref()?;
    Some((variant.to_string(), crate::report::roofline::describe(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dtype: Dtype) -> Key {
        let env = vec![
            ("cpu".to_string(), "AMD EPYC".to_string()),
            ("libtorch_version".into(), "2.13.0".into()),
        ];
        Key::of(&env, DeviceChoice::Cpu, dtype, 2)
    }

    fn bandwidth() -> crate::cell::Bandwidth {
        crate::cell::Bandwidth {
            buffer_bytes: 1 << 30,
            read_bytes_per_second: 5e10,
            copy_bytes_per_second: 3e10,
        }
    }

    #[test]
    fn an_entry_without_the_bandwidth_ceiling_is_measured_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache {
            path: dir.path().join("calibration.json"),
        };
        let mut result = CalibrationResult {
            size: 2048,
            flops_per_second: 3e11,
            bandwidth: None,
        };
        cache.store(&key(Dtype::F32), &result, false).unwrap();
        assert!(cache.lookup(&key(Dtype::F32)).is_none());
        result.bandwidth = Some(bandwidth());
        cache.store(&key(Dtype::F32), &result, false).unwrap();
        assert_eq!(cache.lookup(&key(Dtype::F32)).unwrap().result, result);
    }

    #[test]
    fn an_entry_of_an_older_method_is_measured_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache {
            path: dir.path().join("calibration.json"),
        };
        let result = CalibrationResult {
            size: 2048,
            flops_per_second: 3e11,
            bandwidth: Some(bandwidth()),
        };
        let older = Key {
            method: METHOD - 1,
            ..key(Dtype::F32)
        };
        cache.store(&older, &result, false).unwrap();
        assert!(cache.lookup(&key(Dtype::F32)).is_none());
        // A file written before the field existed reads as method 0.
        let mut file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&cache.path).unwrap()).unwrap();
        let removed = (file.pointer_mut("/0/key").and_then(|k| k.as_object_mut()))
            .and_then(|k| k.remove("method"));
        assert_eq!(removed, Some(serde_json::json!(METHOD - 1)), "{file}");
        std::fs::write(&cache.path, file.to_string()).unwrap();
        assert!(cache.lookup(&key(Dtype::F32)).is_none());
    }

    #[test]
    fn stored_ceilings_are_found_by_their_whole_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache {
            path: dir.path().join("sub").join("calibration.json"),
        };
        assert!(cache.lookup(&key(Dtype::F32)).is_none());
        let result = CalibrationResult {
            size: 2048,
            flops_per_second: 3e11,
            bandwidth: Some(bandwidth()),
        };
        cache.store(&key(Dtype::F32), &result, true).unwrap();
        assert!(cache.lookup(&key(Dtype::F32)).unwrap().busy);
        cache.store(&key(Dtype::F32), &result, false).unwrap();
        let found = cache.lookup(&key(Dtype::F32)).unwrap();
        assert_eq!(found.result, result);
        assert!(!found.busy, "a quiet measurement replaces a busy one");
        assert!(found.when().ends_with("UTC"));
        assert!(cache.lookup(&key(Dtype::Bf16)).is_none());
        let mut other_threads = key(Dtype::F32);
        other_threads.threads = "1".into();
        assert!(cache.lookup(&other_threads).is_none());
        assert_eq!(key(Dtype::F32).processor, "AMD EPYC");
    }

    #[test]
    fn stale_or_corrupt_entries_are_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache {
            path: dir.path().join("calibration.json"),
        };
        let stale = vec![Entry {
            key: key(Dtype::F32),
            result: CalibrationResult {
                size: 1024,
                flops_per_second: 1e11,
                bandwidth: Some(bandwidth()),
            },
            measured_at: unix_now() - FRESH_FOR.as_secs() - 1,
            busy: false,
        }];
        std::fs::write(&cache.path, serde_json::to_vec(&stale).unwrap()).unwrap();
        assert!(cache.lookup(&key(Dtype::F32)).is_none());
        std::fs::write(&cache.path, "{ not json").unwrap();
        assert!(cache.lookup(&key(Dtype::F32)).is_none());
        // A corrupt file is replaced by the next store.
        let result = CalibrationResult {
            size: 1024,
            flops_per_second: 2e11,
            bandwidth: Some(bandwidth()),
        };
        cache.store(&key(Dtype::F32), &result, false).unwrap();
        assert_eq!(cache.lookup(&key(Dtype::F32)).unwrap().result, result);
    }
}

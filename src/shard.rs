//! `--shard K/N`: the K-th of N disjoint parts of a plan, for sweeps spread over a Slurm job
//! array or a Kubernetes Indexed Job. Every shard computes the same assignment from the same
//! plan, with no coordination: cells are placed by estimated cost, longest first, each on the
//! least-loaded shard (LPT scheduling), ties broken by plan order and shard number.
//!
//! Cells are placed one by one, not a model's cells together: every cell builds its own model
//! in its own child process, so keeping a model on one shard would save no build.

use anyhow::{bail, Context, Result};
pub use run_benchmark_core::shard::{fnv1a, PlannedCell, Shard, ShardRecord};
use std::str::FromStr;

/// What `--shard` says: a fixed part, or one read from the scheduler's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSpec {
    Fixed(Shard),
    Auto,
}

impl FromStr for ShardSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            return Ok(ShardSpec::Auto);
        }
        let bad = || format!("\"{s}\" is not K/N (1 <= K <= N, e.g. 1/4) or auto");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(ShardSpec::Fixed(Shard { index, count }))
    }
}

/// The shard of this task: a Slurm job array (`SLURM_ARRAY_TASK_ID` counted from
/// `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`) or a Kubernetes Indexed Job
/// (`JOB_COMPLETION_INDEX`, 0-based, of `count`, which the Job's spec holds and its pods do not).
pub fn from_environment(
    var: impl Fn(&str) -> Option<String>,
    count: Option<usize>,
) -> Result<Shard> {
    let number = |name: &str| -> Result<Option<usize>> {
        var(name)
            .map(|v| {
                v.trim()
                    .parse::<usize>()
                    .with_context(|| format!("--shard auto: {name}={v:?} is not a whole number"))
            })
            .transpose()
    };
    let shard = if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        if number("SLURM_ARRAY_TASK_STEP")?.is_some_and(|step| step != 1) {
            bail!("--shard auto: the Slurm array has a step other than 1 (SLURM_ARRAY_TASK_STEP); use --array=A-B or give --shard K/N");
        }
        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let total = number("SLURM_ARRAY_TASK_COUNT")?.context(
            "--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not",
        )?;
        Shard {
            index: id
                .checked_sub(min)
                .context("--shard auto: SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN")?
                + 1,
            count: total,
        }
    } else if let Some(index) = number("JOB_COMPLETION_INDEX")? {
        let total = count.context(
            "--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): give the Job's \
             completions as --shard-count N (or shard_count in the sweep file)",
        )?;
        Shard {
            index: index + 1,
            count: total,
        }
    } else {
        bail!(
            "--shard auto: neither a Slurm job array (SLURM_ARRAY_TASK_ID) nor a Kubernetes \
             Indexed Job (JOB_COMPLETION_INDEX) is in the environment; give --shard K/N"
        );
    };
    if shard.count == 0 || shard.index > shard.count {
        bail!(
            "--shard auto: task {} of {} is not a part of the array",
            shard.index,
            shard.count
        );
    }
    Ok(shard)
}

/// The 0-based shard of every cell, from the cells' estimated costs. Shards beyond the number
/// of cells would stay empty, so no more than that many are allocated, whatever `count` is.
pub fn assign(costs: &[f64], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    // Longest first; equal costs keep plan order, so every machine sorts alike.
    order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]).then(a.cmp(&b)));
    let mut load = vec![0.0f64; count.min(costs.len()).max(1)];
    let mut shard_of = vec![0; costs.len()];
    for cell in order {
        let lightest = (0..load.len())
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .unwrap_or(0);
        load[lightest] += costs[cell];
        shard_of[cell] = lightest;
    }
    shard_of
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn shard_flag_values() {
        assert_eq!(
            "2/4".parse(),
            Ok(ShardSpec::Fixed(Shard { index: 2, count: 4 }))
        );
        assert_eq!("auto".parse(), Ok(ShardSpec::Auto));
        for bad in ["0/4", "5/4", "1/0", "1", "a/b", "1/4/2", ""] {
            let err = bad.parse::<ShardSpec>().unwrap_err();
            assert!(err.contains("is not K/N"), "{bad}: {err}");
        }
    }

    #[test]
    fn slurm_and_kubernetes_indices() {
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(
            from_environment(var(&slurm), None).unwrap(),
            Shard { index: 3, count: 4 }
        );
        let k8s = [("JOB_COMPLETION_INDEX", "0")];
        assert_eq!(
            from_environment(var(&k8s), Some(3)).unwrap(),
            Shard { index: 1, count: 3 }
        );
        let err = from_environment(var(&k8s), None).unwrap_err().to_string();
        assert!(err.contains("--shard-count"), "{err}");
        let err = from_environment(var(&[]), None).unwrap_err().to_string();
        assert!(err.contains("neither a Slurm job array"), "{err}");
        let stepped = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert!(from_environment(var(&stepped), None).is_err());
        let outside = [("JOB_COMPLETION_INDEX", "3")];
        assert!(from_environment(var(&outside), Some(3)).is_err());
    }

    #[test]
    fn assignment_is_deterministic_and_covers_every_cell_once() {
        let costs = [3.0, 1.0, 2.0, 2.0, 5.0, 1.0];
        let a = assign(&costs, 3);
        assert_eq!(a, assign(&costs, 3));
        assert_eq!(a.len(), costs.len());
        assert!(a.iter().all(|&s| s < 3));
        // Longest first onto the lightest shard: 5 -> 0, 3 -> 1, 2 -> 2, 2 -> 2 (load 2),
        // 1 -> 1 (load 3), 1 -> 1 (loads 5, 4, 4: the lowest number wins the tie).
        assert_eq!(a, vec![1, 1, 2, 2, 0, 1]);
    }
}

//! `--devices cuda:0,cuda:1,...`: one cell per listed device at once, each cell's child pinned
//! to its device. A GPU is pinned by `CUDA_VISIBLE_DEVICES` (the child sees it as cuda:0, so
//! every cell's device is cuda:0, the same cell on whichever GPU measured it); a CPU slot is a
//! core set (`cpu:0-3,cpu:4-7`), the child bound to it by sched_setaffinity. Plain `cpu`
//! slots are refused: cells measured at once on shared cores would time each other.

use crate::cell::DeviceChoice;
use std::process::Command;

/// One place a cell runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A GPU by its number on this machine.
    Cuda(usize),
    /// CPU cores by number, ascending.
    Cores(Vec<usize>),
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Slot::Cuda(i) => write!(f, "cuda:{i}"),
            Slot::Cores(cores) => match (cores.first(), cores.last()) {
                (Some(a), Some(b)) if a != b => write!(f, "cpu:{a}-{b}"),
                (Some(a), _) => write!(f, "cpu:{a}"),
                _ => write!(f, "cpu"),
            },
        }
    }
}

/// `cuda:N` or `cpu:A-B` (or `cpu:A`).
pub fn parse_slot(s: &str) -> Result<Slot, String> {
    let bad = || format!("\"{s}\" is not cuda:N or cpu:A-B (a core set, e.g. cpu:0-3)");
    if s == "cpu" {
        return Err(
            "\"cpu\" needs a core set per slot (cpu:0-3,cpu:4-7): cells measured at once \
             on shared cores would slow each other"
                .into(),
        );
    }
    if let Some(n) = s.strip_prefix("cuda:") {
        return n.parse().map(Slot::Cuda).map_err(|_| bad());
    }
    let range = s.strip_prefix("cpu:").ok_or_else(bad)?;
    let (a, b) = range.split_once('-').unwrap_or((range, range));
    let (a, b): (usize, usize) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b {
        return Err(bad());
    }
    Ok(Slot::Cores((a..=b).collect()))
}

/// Checks a whole list: one kind, no slot twice, disjoint core sets, GPUs and cores this
/// process has (`cuda_devices`, `allowed_cores`). The device the cells are planned on.
pub fn check(
    slots: &[Slot],
    cuda_devices: usize,
    allowed_cores: &[usize],
) -> Result<DeviceChoice, String> {
    let all_cuda = slots.iter().all(|s| matches!(s, Slot::Cuda(_)));
    let all_cpu = slots.iter().all(|s| matches!(s, Slot::Cores(_)));
    if !all_cuda && !all_cpu {
        return Err("--devices: give GPUs or CPU core sets, not both".into());
    }
    for (i, slot) in slots.iter().enumerate() {
        for other in &slots[..i] {
            let shared = match (slot, other) {
                (Slot::Cores(a), Slot::Cores(b)) => a.iter().any(|c| b.contains(c)),
                _ => slot == other,
            };
            if shared {
                return Err(format!(
                    "--devices: {slot} and {other} overlap; each cell needs its device to itself"
                ));
            }
        }
        match slot {
            Slot::Cuda(n) if *n >= cuda_devices => {
                return Err(format!(
                    "--devices {slot}: this machine has {cuda_devices} CUDA device(s)"
                ))
            }
            Slot::Cores(cores) => {
                let first = match &slots[0] {
                    Slot::Cores(first) => first,
                    Slot::Cuda(_) => cores,
                };
                if first.len() != cores.len() {
                    return Err(format!(
                        "--devices: {slot} has {} cores and {} has {}: a cell must run alike \
                         on whichever set it lands",
                        cores.len(),
                        slots[0],
                        first.len()
                    ));
                }
                if let Some(c) = cores.iter().find(|c| !allowed_cores.contains(c)) {
                    return Err(format!(
                        "--devices {slot}: core {c} is not one this process may run on \
                         ({} of them)",
                        allowed_cores.len()
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(match all_cuda {
        true => DeviceChoice::Cuda(0),
        false => DeviceChoice::Cpu,
    })
}

/// The threads of a cell on core sets when `--threads` gives none: one per core of a set
/// (libtorch's default would be one per core of the machine).
pub fn threads_per_set(slots: &[Slot]) -> Option<usize> {
    match slots.first() {
        Some(Slot::Cores(cores)) => Some(cores.len()),
        _ => None,
    }
}

/// The cores this process may run on (its affinity mask).
pub fn allowed_cores() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is valid, and sched_getaffinity writes at most its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

impl Slot {
    /// Pins a child to the slot before it starts.
    pub fn pin(&self, command: &mut Command) {
        match self {
            Slot::Cuda(n) => {
                command.env("CUDA_VISIBLE_DEVICES", n.to_string());
            }
            Slot::Cores(cores) => {
                use std::os::unix::process::CommandExt;
                let cores = cores.clone();
                // SAFETY: only sched_setaffinity, which is async-signal-safe, between fork and exec.
                unsafe {
                    command.pre_exec(move || {
                        let mut set: libc::cpu_set_t = std::mem::zeroed();
                        for &c in &cores {
                            libc::CPU_SET(c, &mut set);
                        }
                        match libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) {
                            0 => Ok(()),
                            _ => Err(std::io::Error::last_os_error()),
                        }
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_parse_and_lists_are_checked() {
        assert_eq!(parse_slot("cuda:3"), Ok(Slot::Cuda(3)));
        assert_eq!(parse_slot("cpu:2-4"), Ok(Slot::Cores(vec![2, 3, 4])));
        assert_eq!(parse_slot("cpu:1"), Ok(Slot::Cores(vec![1])));
        assert!(parse_slot("cpu").unwrap_err().contains("core set"));
        for bad in ["cuda", "cuda:x", "cpu:4-2", "tpu:0", "cpu:a-b", ""] {
            assert!(
                parse_slot(bad).unwrap_err().contains("is not cuda:N"),
                "{bad}"
            );
        }
        let cores: Vec<usize> = (0..8).collect();
        let list = |s: &[&str]| s.iter().map(|s| parse_slot(s).unwrap()).collect::<Vec<_>>();
        assert_eq!(
            check(&list(&["cuda:0", "cuda:1"]), 2, &cores),
            Ok(DeviceChoice::Cuda(0))
        );
        assert_eq!(
            check(&list(&["cpu:0-3", "cpu:4-7"]), 0, &cores),
            Ok(DeviceChoice::Cpu)
        );
        let err = |s: &[&str]| check(&list(s), 2, &cores).unwrap_err();
        assert!(err(&["cpu:0-3", "cpu:3-5"]).contains("cpu:3-5 and cpu:0-3 overlap"));
        assert!(err(&["cuda:1", "cuda:1"]).contains("overlap"));
        assert!(err(&["cuda:0", "cpu:1"]).contains("not both"));
        assert!(err(&["cuda:0", "cuda:2"]).contains("has 2 CUDA device(s)"));
        assert!(err(&["cpu:6-9"]).contains("core 8 is not one"));
        assert!(err(&["cpu:0-3", "cpu:4-5"]).contains("cpu:4-5 has 2 cores and cpu:0-3 has 4"));
        assert_eq!(threads_per_set(&list(&["cpu:0-3", "cpu:4-7"])), Some(4));
        assert_eq!(threads_per_set(&list(&["cuda:0"])), None);
        assert_eq!(parse_slot("cpu:4-7").unwrap().to_string(), "cpu:4-7");
    }

    #[test]
    fn a_gpu_slot_sets_cuda_visible_devices() {
        let mut command = Command::new("true");
        Slot::Cuda(3).pin(&mut command);
        let envs: Vec<_> = command.get_envs().collect();
        assert_eq!(
            envs,
            vec![(
                std::ffi::OsStr::new("CUDA_VISIBLE_DEVICES"),
                Some(std::ffi::OsStr::new("3"))
            )]
        );
    }

    #[test]
    fn a_core_slot_binds_the_child() {
        let cores = allowed_cores();
        let first = *cores.first().expect("some core");
        let mut command = Command::new("grep");
        command.args(["Cpus_allowed_list", "/proc/self/status"]);
        Slot::Cores(vec![first]).pin(&mut command);
        let out = String::from_utf8(command.output().unwrap().stdout).unwrap();
        assert_eq!(
            out.split_whitespace().last(),
            Some(first.to_string().as_str())
        );
    }
}

//! Is the machine busy? The CPU time other processes take beside this sweep (the whole
//! machine's busy time in /proc/stat less this process's, its zygote's and their finished
//! children's), over
//! a short look before the sweep and over each cell's child, against the cores; and the load
//! average, reported beside it. A speed figure measured while other processes take CPU is
//! slower and noisier than on a quiet machine, and so is the calibration MFU divides by.
//!
//! The decision rests on measured CPU time, not on the load average: that lags by a minute,
//! so a run right after another would be called busy by its predecessor.

use crate::cell::{CellResult, Load, Sweep};
use std::time::{Duration, Instant};

/// How long the look before the sweep lasts: the sweep waits for it, and 100 ms (10 clock
/// ticks a core) tells a tenth of a core apart, five times finer than the busy threshold.
/// Each cell's own look (its child's span) catches what a short look misses.
pub const BEFORE_SWEEP: Duration = Duration::from_millis(100);

/// The machine is busy when other processes take at least this share of its cores...
const BUSY_SHARE: f64 = 0.1;
/// ... and at least this many cores.
const BUSY_CORES: f64 = 0.5;

/// CPU times read at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    /// Busy clock ticks of the whole machine.
    machine_busy: u64,
    /// Ticks of this process (all its threads) and of its children it has waited for.
    ours: u64,
    cores: usize,
}

/// Now's CPU times; None where /proc cannot be read (not Linux).
fn sample() -> Option<Sample> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (machine_busy, cores) = parse_machine(&stat)?;
    // A child forked from the zygote is the zygote's: its time shows in the zygote's
    // children's ticks once the zygote has reaped it, which it does before we hear of the end.
    let zygote = crate::zygote::pid()
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .and_then(|stat| parse_own(&stat))
        .unwrap_or(0);
    Some(Sample {
        at: Instant::now(),
        machine_busy,
        ours: parse_own(&own)? + zygote,
        cores,
    })
}

/// What other processes took between two samples.
fn between(before: &Sample, after: &Sample) -> Option<Load> {
    let seconds = after.at.duration_since(before.at).as_secs_f64();
    if seconds <= 0.0 {
        return None;
    }
    let ticks = after.machine_busy.saturating_sub(before.machine_busy) as f64;
    let ours = after.ours.saturating_sub(before.ours) as f64;
    let others = (ticks - ours).max(0.0);
    let cores_of = |ticks: f64| (ticks / ticks_per_second() / seconds).min(after.cores as f64);
    // The machine's ticks are sampled (a tick lands on whatever runs) while ours are counted,
    // so the two differ by up to a tick per core: over milliseconds (a cell N/A at once) that
    // reads as whole cores of others. Busy means more than that error can explain; the figure
    // itself stays the best estimate.
    let surely = cores_of((others - after.cores as f64).max(0.0));
    Some(Load {
        other_cores: cores_of(others),
        cores: after.cores,
        busy: is_busy(surely, after.cores),
    })
}

/// Runs `work` and says what other processes took of the CPU meanwhile. Call it once the
/// work's child processes have been waited for, so that their time counts as ours.
pub fn during<T>(work: impl FnOnce() -> T) -> (T, Option<Load>) {
    let before = sample();
    let done = work();
    let load = before.zip(sample()).and_then(|(b, a)| between(&b, &a));
    (done, load)
}

/// Other processes' CPU now, over `span` (the sweep waits for it).
pub fn look(span: Duration) -> Option<Load> {
    during(|| std::thread::sleep(span)).1
}

pub fn is_busy(other_cores: f64, cores: usize) -> bool {
    other_cores >= BUSY_CORES.max(BUSY_SHARE * cores as f64)
}

/// The 1-minute load average.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// /proc/stat: the busy ticks of the `cpu` line (all but idle and iowait; guest time is
/// already in user) and the number of `cpuN` lines.
fn parse_machine(stat: &str) -> Option<(u64, usize)> {
    let mut busy = None;
    let mut cores = 0;
    for line in stat.lines() {
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("cpu") => {
                let v: Vec<u64> = fields.take(8).filter_map(|f| f.parse().ok()).collect();
                if v.len() < 8 {
                    return None;
                }
                // user nice system idle iowait irq softirq steal
                busy = Some(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
            }
            Some(name) if name.starts_with("cpu") => cores += 1,
            _ => {}
        }
    }
    Some((busy?, cores.max(1)))
}

/// /proc/self/stat: utime + stime + cutime + cstime (fields 14-17; the name in parentheses
/// may hold spaces, so fields are counted after its closing parenthesis).
fn parse_own(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: field 3 (state) is fields[0], so field N is fields[N - 3].
    (14..=17)
        .map(|n| fields.get(n - 3)?.parse::<i64>().ok())
        .sum::<Option<i64>>()
        .map(|t| t.max(0) as u64)
}

/// The environment's line for a look: `other processes 1.84 of 2 cores (busy), load average 2.31`.
pub fn describe(load: Option<&Load>) -> String {
    let average = load_average()
        .map(|a| format!(", load average {a:.2}"))
        .unwrap_or_default();
    match load {
        Some(l) => format!(
            "other processes {:.2} of {} cores ({}){average}",
            l.other_cores,
            l.cores,
            if l.busy { "busy" } else { "quiet" }
        ),
        None => format!("unknown (no /proc){average}"),
    }
}

/// The environment's line for the cells: how many were measured busy, and the most other
/// processes took.
pub fn describe_cells(loads: &[Load]) -> String {
    let busy = loads.iter().filter(|l| l.busy).count();
    let most = loads.iter().map(|l| l.other_cores).fold(0.0, f64::max);
    let cores = loads.first().map(|l| l.cores).unwrap_or_default();
    format!(
        "{busy} of {} measured cells busy; other processes took up to {most:.2} of {cores} cores",
        loads.len()
    )
}

/// Watches the other processes' CPU use before and during the sweep: one warning line the
/// first time the machine is busy, the environment's `load_before_sweep` and
/// `load_during_sweep`, and each speed result's `load`.
#[derive(Default)]
pub struct Watch {
    /// `--quiet`: no warning line (the marks and the environment still say it).
    quiet: bool,
    warned: bool,
    cells: Vec<Load>,
}

impl Watch {
    /// A watch; `quiet` leaves out the warning line.
    pub fn quiet(quiet: bool) -> Watch {
        Watch {
            quiet,
            ..Watch::default()
        }
    }

    pub fn before(&mut self, sweep: &mut Sweep) {
        let load = look(BEFORE_SWEEP);
        sweep.set_environment("load_before_sweep", describe(load.as_ref()));
        if let Some(l) = load.filter(|l| l.busy) {
            self.warn(&l, "before the sweep");
        }
    }

    /// Records what other processes took while `results` were measured.
    pub fn measured(&mut self, load: Load, results: &mut [CellResult], sweep: &mut Sweep) {
        for result in results.iter_mut() {
            if let CellResult::Speed(speed) = result {
                speed.load = Some(load);
            }
        }
        self.record(load, sweep);
    }

    /// Records what other processes took while one child measured.
    pub fn record(&mut self, load: Load, sweep: &mut Sweep) {
        self.cells.push(load);
        sweep.set_environment("load_during_sweep", describe_cells(&self.cells));
        if load.busy {
            self.warn(&load, "during the sweep");
        }
    }

    fn warn(&mut self, load: &Load, when: &str) {
        if std::mem::replace(&mut self.warned, true) || self.quiet {
            return;
        }
        let average = load_average()
            .map(|a| format!(", load average {a:.2}"))
            .unwrap_or_default();
        // Said during a cell, it must not land inside the cell's unfinished line.
        crate::console::notice(&format!(
            "Warning: the machine is busy {when}: other processes take {:.2} of {} cores{average}; \
             speed figures measured so are slower and noisier (marked ~), and MFU is not \
             comparable with a quiet run's; on a shared machine, --threads 1 keeps the cells \
             steadier",
            load.other_cores, load.cores
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  100 5 50 1000 20 3 2 1 0 0
cpu0 50 2 25 500 10 1 1 0 0 0
cpu1 50 3 25 500 10 2 1 1 0 0
intr 12345
";

    #[test]
    fn proc_files_are_read() {
        assert_eq!(parse_machine(STAT), Some((100 + 5 + 50 + 3 + 2 + 1, 2)));
        let own = "4242 (run bench) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17";
        // Fields 14-17 (utime stime cutime cstime) come after the name: 11 12 13 14.
        assert_eq!(parse_own(own), Some(11 + 12 + 13 + 14));
        assert_eq!(parse_own("garbage"), None);
    }

    #[test]
    fn busy_means_a_share_of_the_cores() {
        assert!(!is_busy(0.2, 2));
        assert!(is_busy(0.6, 2));
        // A large machine: half a core of others' work is noise, 8 cores are not.
        assert!(!is_busy(0.6, 64));
        assert!(is_busy(8.0, 64));
    }

    #[test]
    fn others_are_the_machine_less_us() {
        let t0 = Instant::now();
        let hz = ticks_per_second() as u64;
        let before = Sample {
            at: t0,
            machine_busy: 0,
            ours: 0,
            cores: 2,
        };
        // One second: the machine was busy 1.6 cores' worth, we took 1 core of it.
        let after = Sample {
            at: t0 + Duration::from_secs(1),
            machine_busy: 8 * hz / 5,
            ours: hz,
            cores: 2,
        };
        let load = between(&before, &after).unwrap();
        assert!((load.other_cores - 0.6).abs() < 0.02, "{load:?}");
        assert!(load.busy);
        assert!(describe_cells(&[load]).starts_with("1 of 1 measured cells busy"));
    }

    #[test]
    fn a_stray_tick_in_a_short_span_is_not_a_busy_machine() {
        let t0 = Instant::now();
        let before = Sample {
            at: t0,
            machine_busy: 0,
            ours: 0,
            cores: 2,
        };
        // 5 ms (a cell N/A at once): two ticks on the machine's count, none on ours, would
        // read as 4 cores of others.
        let after = Sample {
            at: t0 + Duration::from_millis(5),
            machine_busy: 2,
            ours: 0,
            cores: 2,
        };
        let load = between(&before, &after).unwrap();
        assert!(!load.busy, "{load:?}");
        // Others' work beyond a tick per core is busy, over a short span too.
        let busy = Sample {
            machine_busy: 6,
            at: t0 + Duration::from_millis(20),
            ..after
        };
        assert!(between(&before, &busy).unwrap().busy);
    }
}

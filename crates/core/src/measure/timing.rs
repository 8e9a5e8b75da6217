//! Wall-clock timing of repeated calls, under one of two protocols.

use anyhow::Result;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Protocol {
    /// Warm-up calls (not counted; fewer once they took `warmup_time_s`), then one sample per call until both `min_runs` samples
    /// and `min_time_s` seconds are reached, or `max_runs` samples. The figure is the median.
    /// With a `precision` target, timing goes on past that floor until the median's 95%
    /// interval ([`median_interval`]) lies within ± `precision` × median, or until
    /// `max_time_s` seconds of timed calls, after which the figure is flagged imprecise; it
    /// is flagged sooner when the target is out of reach before the cap ([`out_of_reach`]).
    Adaptive {
        warmup: usize,
        /// Warm-up ends early, after at least one call, once its calls have taken this many
        /// seconds: one multi-second call leaves nothing to warm, and a second one costs as
        /// much as a timed sample. None: `warmup` calls whatever they take (older files).
        #[serde(default)]
        warmup_time_s: Option<f64>,
        min_runs: usize,
        max_runs: usize,
        min_time_s: f64,
        /// Relative half-width of the median's 95% interval to reach (0.01 = ±1%).
        #[serde(default)]
        precision: Option<f64>,
        /// Seconds of timed calls after which a cell short of its precision stops.
        #[serde(default)]
        max_time_s: Option<f64>,
    },
    /// The original's `timeit.repeat(func, repeat, number)`: `repeat` samples, each the mean
    /// of `number` back-to-back calls, no warm-up. The figure is the minimum.
    Original { repeat: usize, number: usize },
}

/// The samples a protocol produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Timing {
    /// Seconds per call of every sample, in order.
    pub samples: Vec<f64>,
    /// Calls averaged into one sample.
    pub calls_per_sample: usize,
    pub warmup_calls: usize,
    /// A precision target was set and the time cap (or `max_runs`) stopped timing first.
    pub imprecise: bool,
}

/// The fewest samples for which the median has a 95% order-statistics interval
/// (1 − 2 · 0.5^6 = 96.9% for the range of 6 samples).
pub const MIN_SAMPLES_FOR_INTERVAL: usize = 6;

impl Protocol {
    /// Runs `call` under the protocol. `sync` waits for queued device work and runs before
    /// every clock read, so asynchronous GPU work is counted.
    pub fn run(&self, mut call: impl FnMut() -> Result<()>, sync: impl Fn()) -> Result<Timing> {
        let mut timed = |calls: usize| -> Result<f64> {
            sync();
            let start = Instant::now();
            for _ in 0..calls {
                call()?;
            }
            sync();
            Ok(start.elapsed().as_secs_f64() / calls as f64)
        };
        match *self {
            Protocol::Adaptive {
                warmup,
                warmup_time_s,
                min_runs,
                max_runs,
                min_time_s,
                precision,
                max_time_s,
            } => {
                let warmup_start = Instant::now();
                let mut warmup_calls = 0;
                while warmup_calls < warmup {
                    let warm =
                        warmup_time_s.is_some_and(|t| warmup_start.elapsed().as_secs_f64() >= t);
                    if warmup_calls > 0 && warm {
                        break;
                    }
                    timed(1)?;
                    warmup_calls += 1;
                }
                let min_time = Duration::from_secs_f64(min_time_s);
                let max_time = max_time_s.map(Duration::from_secs_f64);
                let floor = match precision {
                    Some(_) => min_runs.max(MIN_SAMPLES_FOR_INTERVAL),
                    None => min_runs,
                };
                let start = Instant::now();
                let mut samples = Vec::new();
                let mut imprecise = false;
                loop {
                    let floor_met = samples.len() >= floor && start.elapsed() >= min_time;
                    if samples.len() >= max_runs.max(1) {
                        imprecise = precision.is_some_and(|p| !is_precise(&samples, p));
                        break;
                    }
                    if floor_met {
                        match precision {
                            None => break,
                            Some(p) if is_precise(&samples, p) => break,
                            Some(_) if max_time.is_some_and(|cap| start.elapsed() >= cap) => {
                                imprecise = true;
                                break;
                            }
                            Some(p)
                                if max_time.is_some_and(|cap| {
                                    out_of_reach(&samples, p, start.elapsed(), cap)
                                }) =>
                            {
                                imprecise = true;
                                break;
                            }
                            Some(_) => {}
                        }
                    }
                    samples.push(timed(1)?);
                }
                Ok(Timing {
                    samples,
                    calls_per_sample: 1,
                    warmup_calls,
                    imprecise,
                })
            }
            Protocol::Original { repeat, number } => {
                let samples = (0..repeat).map(|_| timed(number)).collect::<Result<_>>()?;
                Ok(Timing {
                    samples,
                    calls_per_sample: number,
                    warmup_calls: 0,
                    imprecise: false,
                })
            }
        }
    }

    /// Untimed warm-up calls the protocol makes.
    pub fn warmup(&self) -> usize {
        match *self {
            Protocol::Adaptive { warmup, .. } => warmup,
            Protocol::Original { .. } => 0,
        }
    }

    /// The protocol on a model that has already run `calls` calls taking `seconds` (a memory
    /// cell's in the same child): those count as warm-up, calls and time, so only the rest of
    /// the warm-up is left.
    pub fn warmed_up_by(&self, calls: usize, seconds: f64) -> Protocol {
        let mut protocol = self.clone();
        if let Protocol::Adaptive {
            warmup,
            warmup_time_s,
            ..
        } = &mut protocol
        {
            *warmup = warmup.saturating_sub(calls);
            if let Some(time) = warmup_time_s {
                *time -= seconds;
                if calls > 0 && *time <= 0.0 {
                    *warmup = 0;
                }
            }
        }
        protocol
    }

    /// "2 warm-up calls (fewer once they took 1 s)".
    fn describe_warmup(&self) -> String {
        match *self {
            Protocol::Adaptive {
                warmup,
                warmup_time_s: Some(t),
                ..
            } if warmup > 1 => format!("{warmup} warm-up calls (fewer once they took {t} s)"),
            _ => format!("{} warm-up calls", self.warmup()),
        }
    }

    /// The statistic the tables show for this protocol.
    pub fn statistic(&self) -> Statistic {
        match self {
            Protocol::Adaptive { .. } => Statistic::Median,
            Protocol::Original { .. } => Statistic::Minimum,
        }
    }

    /// One line saying how a figure was obtained.
    pub fn describe(&self) -> String {
        match self {
            Protocol::Adaptive {
                min_runs, max_runs, ..
            } if min_runs == max_runs => format!(
                "median seconds per call of {min_runs} timed calls, after {}",
                self.describe_warmup()
            ),
            Protocol::Adaptive {
                min_runs,
                max_runs,
                min_time_s,
                precision: Some(precision),
                max_time_s,
                ..
            } => format!(
                "median seconds per call, timed until its 95% interval (order statistics) is \
                 within ±{}% ({} calls and {min_time_s} s at least, at most {max_runs} calls{}), \
                 after {}",
                // Up to 4 decimals, without trailing zeros: 1, 0.5, 0.0001.
                format!("{:.4}", 100.0 * precision)
                    .trim_end_matches('0')
                    .trim_end_matches('.'),
                min_runs.max(&MIN_SAMPLES_FOR_INTERVAL),
                max_time_s
                    .map(|t| format!(" or {t} s, sooner when the target is out of reach"))
                    .unwrap_or_default(),
                self.describe_warmup(),
            ),
            Protocol::Adaptive {
                min_runs,
                max_runs,
                min_time_s,
                precision: None,
                ..
            } => format!(
                "median seconds per call of at least {min_runs} timed calls and {min_time_s} s \
                 (at most {max_runs}), after {}",
                self.describe_warmup()
            ),
            Protocol::Original { repeat, number } => format!(
                "seconds per call of the fastest of {repeat} repetitions of {number} calls \
                 (the original's protocol)"
            ),
        }
    }
}

/// Futility stop: timing gives up early on a cell that cannot reach its precision before the
/// cap, instead of spending the whole cap to be flagged anyway. Checked from this share of
/// the cap on.
const OUT_OF_REACH_FROM: f64 = 0.2;
/// ... when reaching the target is projected to take more than this many caps.
const OUT_OF_REACH_MARGIN: f64 = 3.0;

/// Whether the precision target is out of reach: a median's interval narrows as 1/√n, so
/// reaching `precision` from the current half-width w takes about elapsed · (w / precision)²
/// seconds of timed calls. The margin covers small samples, whose interval (near the range
/// at 6 samples) is wider than the 1/√n rule would put it, so a cell that could make it
/// before the cap is not stopped.
fn out_of_reach(samples: &[f64], precision: f64, elapsed: Duration, cap: Duration) -> bool {
    let Some(interval) = median_interval(samples) else {
        return false;
    };
    if elapsed.as_secs_f64() < OUT_OF_REACH_FROM * cap.as_secs_f64() {
        return false;
    }
    let ratio = interval.relative_half_width() / precision;
    elapsed.as_secs_f64() * ratio * ratio > OUT_OF_REACH_MARGIN * cap.as_secs_f64()
}

/// Whether the median's 95% interval lies within ± `precision` × median.
fn is_precise(samples: &[f64], precision: f64) -> bool {
    median_interval(samples).is_some_and(|i| i.relative_half_width() <= precision)
}

/// A distribution-free 95% confidence interval of the median.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Interval {
    pub median: f64,
    pub low: f64,
    pub high: f64,
    /// Its confidence: at least 0.95 (order statistics give discrete levels).
    pub confidence: f64,
}

impl Interval {
    /// The larger distance from the median to an end, over the median.
    pub fn relative_half_width(&self) -> f64 {
        if self.median > 0.0 {
            (self.median - self.low).max(self.high - self.median) / self.median
        } else {
            f64::INFINITY
        }
    }
}

/// The order-statistics interval of the median: with `n` sorted samples, [x(k), x(n+1-k)]
/// for the largest k whose coverage 1 − 2·P(Binomial(n, ½) < k) is still ≥ 95%. It assumes
/// only that samples are independent draws of one distribution. None below
/// [`MIN_SAMPLES_FOR_INTERVAL`] samples.
pub fn median_interval(samples: &[f64]) -> Option<Interval> {
    let n = samples.len();
    if n < MIN_SAMPLES_FOR_INTERVAL {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    // P(B < k) for k = 1, 2, ...: summed in log space, so large n does not underflow.
    let ln_half_n = n as f64 * 0.5f64.ln();
    let mut ln_pmf = ln_half_n; // P(B = 0)
    let mut below = 0.0; // P(B < k)
    let mut k = 0;
    loop {
        let next = below + ln_pmf.exp();
        if 2.0 * next > 0.05 || k + 1 > n / 2 {
            break;
        }
        below = next;
        k += 1;
        ln_pmf += ((n - k + 1) as f64 / k as f64).ln();
    }
    let k = k.max(1);
    let median = crate::measure::stats::Stats::of(&sorted)?.median;
    Some(Interval {
        median,
        low: sorted[k - 1],
        high: sorted[n - k],
        confidence: 1.0 - 2.0 * below,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    Median,
    Minimum,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn counting_run(protocol: &Protocol, sleep_ms: u64) -> (Timing, usize, usize) {
        let calls = Cell::new(0);
        let syncs = Cell::new(0);
        let timing = protocol
            .run(
                || {
                    calls.set(calls.get() + 1);
                    std::thread::sleep(Duration::from_millis(sleep_ms));
                    Ok(())
                },
                || syncs.set(syncs.get() + 1),
            )
            .unwrap();
        (timing, calls.get(), syncs.get())
    }

    #[test]
    fn original_protocol_counts_every_call_and_divides_by_number() {
        let protocol = Protocol::Original {
            repeat: 3,
            number: 5,
        };
        let (timing, calls, syncs) = counting_run(&protocol, 2);
        assert_eq!((calls, syncs), (15, 6));
        assert_eq!(timing.samples.len(), 3);
        assert_eq!(timing.calls_per_sample, 5);
        assert!(
            timing.samples.iter().all(|&s| (0.002..60.0).contains(&s)),
            "{timing:?}"
        );
        assert_eq!(protocol.statistic(), Statistic::Minimum);
    }

    #[test]
    fn adaptive_protocol_warms_up_then_meets_runs_and_time() {
        let by_runs = Protocol::Adaptive {
            warmup: 2,
            warmup_time_s: None,
            min_runs: 5,
            max_runs: 100,
            min_time_s: 0.0,
            precision: None,
            max_time_s: None,
        };
        let (timing, calls, _) = counting_run(&by_runs, 1);
        assert_eq!(
            (timing.samples.len(), calls, timing.warmup_calls),
            (5, 7, 2)
        );

        let by_time = Protocol::Adaptive {
            warmup: 0,
            warmup_time_s: None,
            min_runs: 1,
            max_runs: 1000,
            min_time_s: 0.05,
            precision: None,
            max_time_s: None,
        };
        let (timing, _, _) = counting_run(&by_time, 5);
        let total: f64 = timing.samples.iter().sum();
        assert!(total >= 0.045, "{timing:?}");

        let capped = Protocol::Adaptive {
            warmup: 0,
            warmup_time_s: None,
            min_runs: 50,
            max_runs: 3,
            min_time_s: 10.0,
            precision: None,
            max_time_s: None,
        };
        assert_eq!(counting_run(&capped, 0).0.samples.len(), 3);
        assert_eq!(capped.statistic(), Statistic::Median);
    }

    #[test]
    fn a_target_out_of_reach_stops_before_the_cap() {
        let cap = Duration::from_secs(20);
        // ±10% after 5 s of a 20 s cap: (10 / 1)² · 5 s = 500 s to reach ±1%.
        let wide: Vec<f64> = (0..20).map(|i| 1.0 + 0.02 * (i as f64 - 10.0)).collect();
        assert!(out_of_reach(&wide, 0.01, Duration::from_secs(5), cap));
        // The same spread before a fifth of the cap is not judged yet.
        assert!(!out_of_reach(&wide, 0.01, Duration::from_secs(3), cap));
        // ±1.5% after 5 s: about 11 s to go, within the cap: keep timing.
        let near: Vec<f64> = (0..20).map(|i| 1.0 + 0.003 * (i as f64 - 10.0)).collect();
        let w = median_interval(&near).unwrap().relative_half_width();
        assert!((0.01..0.02).contains(&w), "{w}");
        assert!(!out_of_reach(&near, 0.01, Duration::from_secs(5), cap));
        // Too few samples for an interval: never out of reach.
        assert!(!out_of_reach(
            &wide[..5],
            0.01,
            Duration::from_secs(10),
            cap
        ));
    }

    #[test]
    fn a_noisy_cell_is_flagged_well_before_its_cap() {
        // Calls alternate 1 ms and 3 ms: the median's interval stays about ±50%.
        let protocol = Protocol::Adaptive {
            warmup: 0,
            warmup_time_s: None,
            min_runs: 6,
            max_runs: 100_000,
            min_time_s: 0.0,
            precision: Some(0.01),
            max_time_s: Some(2.0),
        };
        let calls = Cell::new(0u32);
        let start = Instant::now();
        let timing = protocol
            .run(
                || {
                    calls.set(calls.get() + 1);
                    std::thread::sleep(Duration::from_millis(1 + 2 * (calls.get() % 2) as u64));
                    Ok(())
                },
                || {},
            )
            .unwrap();
        assert!(timing.imprecise);
        // Stopped at about a fifth of the cap, far from it (a loose bound: shared machines).
        assert!(
            start.elapsed() < Duration::from_secs_f64(1.5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn calls_already_made_count_as_warm_up() {
        let protocol = Protocol::Adaptive {
            warmup: 2,
            warmup_time_s: None,
            min_runs: 3,
            max_runs: 3,
            min_time_s: 0.0,
            precision: None,
            max_time_s: None,
        };
        let (timing, calls, _) = counting_run(&protocol.warmed_up_by(1, 0.0), 0);
        assert_eq!(
            (calls, timing.warmup_calls, timing.samples.len()),
            (4, 1, 3)
        );
        let (_, calls, _) = counting_run(&protocol.warmed_up_by(5, 0.0), 0);
        assert_eq!(calls, 3);
        let original = Protocol::Original {
            repeat: 2,
            number: 3,
        };
        assert_eq!(original.warmed_up_by(1, 9.0), original);
    }

    #[test]
    fn warm_up_ends_once_its_calls_took_the_warm_up_time() {
        let protocol = |warmup_time_s| Protocol::Adaptive {
            warmup: 3,
            warmup_time_s,
            min_runs: 2,
            max_runs: 2,
            min_time_s: 0.0,
            precision: None,
            max_time_s: None,
        };
        // 30 ms calls against 50 ms: two warm-up calls, not three; never less than one.
        let (timing, calls, _) = counting_run(&protocol(Some(0.05)), 30);
        assert_eq!((timing.warmup_calls, calls), (2, 4));
        let (timing, _, _) = counting_run(&protocol(Some(0.0)), 1);
        assert_eq!(timing.warmup_calls, 1);
        let (timing, _, _) = counting_run(&protocol(None), 30);
        assert_eq!(timing.warmup_calls, 3);
        // A memory call of 2 s in the same child already was the whole warm-up...
        let (timing, calls, _) = counting_run(&protocol(Some(1.0)).warmed_up_by(1, 2.0), 0);
        assert_eq!((timing.warmup_calls, calls), (0, 2));
        // ...one of 10 ms was not.
        let (timing, _, _) = counting_run(&protocol(Some(1.0)).warmed_up_by(1, 0.01), 0);
        assert_eq!(timing.warmup_calls, 2);
        assert!(protocol(Some(1.0))
            .describe()
            .contains("3 warm-up calls (fewer once they took 1 s)"));
    }

    #[test]
    fn error_stops_the_protocol() {
        let protocol = Protocol::Original {
            repeat: 3,
            number: 10,
        };
        let result = protocol.run(|| anyhow::bail!("boom"), || {});
        assert_eq!(result.unwrap_err().to_string(), "boom");
    }

    #[test]
    fn median_interval_uses_the_binomial_ranks() {
        assert!(median_interval(&[1.0; 5]).is_none());
        let six = median_interval(&[6.0, 1.0, 5.0, 2.0, 4.0, 3.0]).unwrap();
        assert_eq!((six.low, six.high, six.median), (1.0, 6.0, 3.5));
        assert!((six.confidence - (1.0 - 2.0 / 64.0)).abs() < 1e-12);
        // n = 100: the textbook ranks are 40 and 61, coverage 96.5%.
        let hundred: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let i = median_interval(&hundred).unwrap();
        assert_eq!((i.low, i.high), (40.0, 61.0));
        assert!((i.confidence - 0.9648).abs() < 1e-3, "{}", i.confidence);
        // Large n does not underflow; the interval narrows around the median.
        let many: Vec<f64> = (0..20_000).map(|i| f64::from(i % 1000)).collect();
        let i = median_interval(&many).unwrap();
        assert!(i.low >= 480.0 && i.high <= 520.0, "{i:?}");
        assert!((0.95..0.97).contains(&i.confidence), "{}", i.confidence);
    }

    fn precise(precision: f64, max_time_s: f64) -> Protocol {
        Protocol::Adaptive {
            warmup: 0,
            warmup_time_s: None,
            min_runs: 1,
            max_runs: 100_000,
            min_time_s: 0.0,
            precision: Some(precision),
            max_time_s: Some(max_time_s),
        }
    }

    #[test]
    fn precision_target_stops_once_the_interval_is_narrow() {
        // Steady 2 ms calls: within ±20% after the floor of 6 samples or a few more.
        let (timing, calls, _) = counting_run(&precise(0.2, 5.0), 2);
        let n = timing.samples.len();
        assert_eq!(calls, n);
        assert!((6..200).contains(&n), "{n}");
        assert!(!timing.imprecise);
        let i = median_interval(&timing.samples).unwrap();
        assert!(i.relative_half_width() <= 0.2, "{i:?}");
        // It stopped at the first sample that met the target.
        if n > 6 {
            assert!(!is_precise(&timing.samples[..n - 1], 0.2));
        }
    }

    #[test]
    fn precision_target_gives_up_at_the_time_cap_and_says_so() {
        // Calls alternating 1 ms and 9 ms never give a median within ±1%.
        let calls = Cell::new(0u64);
        let timing = precise(0.01, 0.3)
            .run(
                || {
                    calls.set(calls.get() + 1);
                    let ms = if calls.get() % 2 == 0 { 1 } else { 9 };
                    std::thread::sleep(Duration::from_millis(ms));
                    Ok(())
                },
                || {},
            )
            .unwrap();
        assert!(timing.imprecise);
        // Out of reach, so it stops from a fifth of the cap on, and never much past the cap.
        let total: f64 = timing.samples.iter().sum();
        assert!(
            (OUT_OF_REACH_FROM * 0.3 - 0.005..2.0).contains(&total),
            "{total}"
        );
    }
}

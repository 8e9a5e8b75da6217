//! Wall-clock timing of repeated calls, under one of two protocols.

use anyhow::Result;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Protocol {
    /// Warm-up calls (not counted), then one sample per call until both `min_runs` samples
    /// and `min_time_s` seconds are reached, or `max_runs` samples. The figure is the median.
    Adaptive {
        warmup: usize,
        min_runs: usize,
        max_runs: usize,
        min_time_s: f64,
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
}

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
                min_runs,
                max_runs,
                min_time_s,
            } => {
                for _ in 0..warmup {
                    timed(1)?;
                }
                let min_time = Duration::from_secs_f64(min_time_s);
                let start = Instant::now();
                let mut samples = Vec::new();
                while samples.len() < max_runs.max(1)
                    && (samples.len() < min_runs || start.elapsed() < min_time)
                {
                    samples.push(timed(1)?);
                }
                Ok(Timing {
                    samples,
                    calls_per_sample: 1,
                    warmup_calls: warmup,
                })
            }
            Protocol::Original { repeat, number } => {
                let samples = (0..repeat).map(|_| timed(number)).collect::<Result<_>>()?;
                Ok(Timing {
                    samples,
                    calls_per_sample: number,
                    warmup_calls: 0,
                })
            }
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
                warmup,
                min_runs,
                max_runs,
                ..
            } if min_runs == max_runs => format!(
                "median seconds per call of {min_runs} timed calls, after {warmup} warm-up calls"
            ),
            Protocol::Adaptive {
                warmup,
                min_runs,
                max_runs,
                min_time_s,
            } => format!(
                "median seconds per call of at least {min_runs} timed calls and {min_time_s} s \
                 (at most {max_runs}), after {warmup} warm-up calls"
            ),
            Protocol::Original { repeat, number } => format!(
                "seconds per call of the fastest of {repeat} repetitions of {number} calls \
                 (the original's protocol)"
            ),
        }
    }
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
            min_runs: 5,
            max_runs: 100,
            min_time_s: 0.0,
        };
        let (timing, calls, _) = counting_run(&by_runs, 1);
        assert_eq!(
            (timing.samples.len(), calls, timing.warmup_calls),
            (5, 7, 2)
        );

        let by_time = Protocol::Adaptive {
            warmup: 0,
            min_runs: 1,
            max_runs: 1000,
            min_time_s: 0.05,
        };
        let (timing, _, _) = counting_run(&by_time, 5);
        let total: f64 = timing.samples.iter().sum();
        assert!(total >= 0.045, "{timing:?}");

        let capped = Protocol::Adaptive {
            warmup: 0,
            min_runs: 50,
            max_runs: 3,
            min_time_s: 10.0,
        };
        assert_eq!(counting_run(&capped, 0).0.samples.len(), 3);
        assert_eq!(capped.statistic(), Statistic::Median);
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
}

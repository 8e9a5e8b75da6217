//! Wall-clock timing of repeated calls.

use anyhow::Result;
use std::time::Instant;

/// The original's protocol (`timeit.repeat(func, repeat, number)`): `repeat` repetitions of
/// `number` calls each. Returns the seconds per call of every repetition. `sync` waits for
/// queued device work and runs before each clock read, so asynchronous GPU work is counted.
pub fn repeat_calls(
    mut call: impl FnMut() -> Result<()>,
    repeat: usize,
    number: usize,
    sync: impl Fn(),
) -> Result<Vec<f64>> {
    let mut per_call = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        sync();
        let start = Instant::now();
        for _ in 0..number {
            call()?;
        }
        sync();
        per_call.push(start.elapsed().as_secs_f64() / number as f64);
    }
    Ok(per_call)
}

/// The original's figure: the fastest repetition, which discards warm-up and interference.
pub fn minimum(samples: &[f64]) -> Option<f64> {
    samples.iter().copied().reduce(f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::time::Duration;

    #[test]
    fn counts_every_call_and_divides_by_number() {
        let calls = Cell::new(0);
        let syncs = Cell::new(0);
        let samples = repeat_calls(
            || {
                calls.set(calls.get() + 1);
                std::thread::sleep(Duration::from_millis(2));
                Ok(())
            },
            3,
            5,
            || syncs.set(syncs.get() + 1),
        )
        .unwrap();
        assert_eq!(calls.get(), 15);
        assert_eq!(syncs.get(), 6);
        assert_eq!(samples.len(), 3);
        // Each call sleeps 2 ms; per-call figures can only be longer, and not by much.
        assert!(
            samples.iter().all(|&s| (0.002..0.5).contains(&s)),
            "{samples:?}"
        );
    }

    #[test]
    fn error_stops_the_protocol() {
        let result = repeat_calls(|| anyhow::bail!("boom"), 3, 10, || {});
        assert_eq!(result.unwrap_err().to_string(), "boom");
    }

    #[test]
    fn minimum_of_samples() {
        assert_eq!(minimum(&[0.3, 0.1, 0.2]), Some(0.1));
        assert_eq!(minimum(&[]), None);
    }
}

//! Summary statistics of timing samples.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Statistics of a sample set. `std_dev` is the sample standard deviation (n - 1);
/// percentiles interpolate linearly between order statistics (numpy's default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stats {
    pub count: usize,
    pub mean: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub std_dev: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    /// Interquartile range, p75 - p25.
    pub iqr: f64,
    /// Coefficient of variation, std_dev / mean.
    pub cv: f64,
}

/// A figure is flagged as noisy when IQR / median exceeds this.
pub const NOISY_IQR_RATIO: f64 = 0.10;

impl Stats {
    /// None for an empty sample set.
    pub fn of(samples: &[f64]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let mean = sorted.iter().sum::<f64>() / n as f64;
        let variance = if n > 1 {
            sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        let std_dev = variance.sqrt();
        let q = |p: f64| percentile(&sorted, p);
        Some(Stats {
            count: n,
            mean,
            median: q(50.0),
            min: sorted[0],
            max: sorted[n - 1],
            std_dev,
            p90: q(90.0),
            p95: q(95.0),
            p99: q(99.0),
            iqr: q(75.0) - q(25.0),
            cv: if mean != 0.0 { std_dev / mean } else { 0.0 },
        })
    }

    /// IQR / median: the spread the noise flag looks at.
    pub fn relative_iqr(&self) -> f64 {
        if self.median != 0.0 {
            self.iqr / self.median
        } else {
            0.0
        }
    }

    pub fn is_noisy(&self) -> bool {
        self.count >= 4 && self.relative_iqr() > NOISY_IQR_RATIO
    }
}

/// The median of `samples` (sorted in place); NaN for none.
pub fn median(samples: &mut [f64]) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    percentile(samples, 50.0)
}

/// The smallest of `samples`; NaN for none.
pub fn minimum(samples: &mut [f64]) -> f64 {
    samples.iter().copied().reduce(f64::min).unwrap_or(f64::NAN)
}

/// Percentile bootstrap interval, at `confidence` (0.95), of statistic(b) / statistic(a), each
/// sample set resampled with replacement on its own, `resamples` times. Seeded, so the same
/// inputs always give the same interval. None when either set is empty.
pub fn bootstrap_ratio_interval(
    a: &[f64],
    b: &[f64],
    statistic: fn(&mut [f64]) -> f64,
    resamples: usize,
    confidence: f64,
) -> Option<(f64, f64)> {
    if a.is_empty() || b.is_empty() || resamples == 0 {
        return None;
    }
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut ra = vec![0.0; a.len()];
    let mut rb = vec![0.0; b.len()];
    let mut ratios: Vec<f64> = (0..resamples)
        .map(|_| {
            ra.iter_mut().for_each(|x| *x = a[rng.usize(..a.len())]);
            rb.iter_mut().for_each(|x| *x = b[rng.usize(..b.len())]);
            statistic(&mut rb) / statistic(&mut ra)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let tail = 100.0 * (1.0 - confidence) / 2.0;
    Some((percentile(&ratios, tail), percentile(&ratios, 100.0 - tail)))
}

/// The first and third quartiles (p25, p75) of `samples`; None for none.
pub fn quartiles(samples: &[f64]) -> Option<(f64, f64)> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some((percentile(&sorted, 25.0), percentile(&sorted, 75.0)))
}

/// Linear interpolation between closest ranks of sorted data, p in [0, 100].
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn statistics_of_one_to_ten() {
        let samples: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        let s = Stats::of(&samples).unwrap();
        assert_eq!(s.count, 10);
        assert!(close(s.mean, 5.5));
        assert!(close(s.median, 5.5));
        assert_eq!((s.min, s.max), (1.0, 10.0));
        // Sample variance of 1..10 is 55/6.
        assert!(close(s.std_dev, (55.0f64 / 6.0).sqrt()));
        // numpy.percentile(range(1, 11), [25, 75, 90, 95, 99]) = 3.25, 7.75, 9.1, 9.55, 9.91
        assert!(close(s.iqr, 7.75 - 3.25));
        assert!(close(s.p90, 9.1));
        assert!(close(s.p95, 9.55));
        assert!(close(s.p99, 9.91));
        assert!(close(s.cv, s.std_dev / 5.5));
    }

    #[test]
    fn single_sample_has_no_spread() {
        let s = Stats::of(&[2.0]).unwrap();
        assert_eq!((s.median, s.std_dev, s.iqr, s.p99), (2.0, 0.0, 0.0, 2.0));
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn median_and_minimum() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(minimum(&mut [3.0, 1.0, 2.0]), 1.0);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn bootstrap_intervals() {
        let a = [1.0, 1.01, 0.99, 1.0, 1.02];
        let b = [1.5, 1.52, 1.49, 1.51, 1.5];
        let (lo, hi) = bootstrap_ratio_interval(&a, &b, median, 2000, 0.95).unwrap();
        assert!(lo > 1.4 && hi < 1.6 && lo <= hi, "{lo} {hi}");
        let noisy = [1.0, 1.4, 0.8, 1.2, 0.9];
        let (lo, hi) = bootstrap_ratio_interval(&noisy, &noisy, median, 2000, 0.95).unwrap();
        assert!(lo < 1.0 && hi > 1.0, "{lo} {hi}");
        assert!(bootstrap_ratio_interval(&[], &b, median, 10, 0.95).is_none());
    }

    #[test]
    fn noise_flag_uses_iqr_over_median() {
        let steady = Stats::of(&[1.0, 1.01, 0.99, 1.0, 1.02, 0.98]).unwrap();
        assert!(!steady.is_noisy());
        let noisy = Stats::of(&[1.0, 1.3, 0.8, 1.0, 1.5, 0.7]).unwrap();
        assert!(noisy.is_noisy(), "{}", noisy.relative_iqr());
    }
}

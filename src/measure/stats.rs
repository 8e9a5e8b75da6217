//! Summary statistics of timing samples.

use serde::{Deserialize, Serialize};

/// Statistics of a sample set. `std_dev` is the sample standard deviation (n - 1);
/// percentiles interpolate linearly between order statistics (numpy's default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    fn noise_flag_uses_iqr_over_median() {
        let steady = Stats::of(&[1.0, 1.01, 0.99, 1.0, 1.02, 0.98]).unwrap();
        assert!(!steady.is_noisy());
        let noisy = Stats::of(&[1.0, 1.3, 0.8, 1.0, 1.5, 0.7]).unwrap();
        assert!(noisy.is_noisy(), "{}", noisy.relative_iqr());
    }
}

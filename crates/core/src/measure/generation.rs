//! Generation figures from per-token clock readings: each request's readings are seconds
//! from its call to each new token, so no figure spans two requests.

use crate::cell::GenerationSpeed;
use crate::measure::stats::Stats;
use anyhow::{bail, Result};

/// Fewest samples for which a percentile p is shown: one sample beyond it, 1 / (1 − p).
pub fn enough_for(percentile: f64, count: usize) -> bool {
    count as f64 >= 1.0 / (1.0 - percentile / 100.0) - 1e-9
}

/// The figures of `token_seconds` (per timed request, N readings each) for `batch`
/// sequences per request.
pub fn summarise(batch: i64, token_seconds: Vec<Vec<f64>>) -> Result<GenerationSpeed> {
    let new_tokens = token_seconds.first().map_or(0, Vec::len);
    if new_tokens == 0 || token_seconds.iter().any(|r| r.len() != new_tokens) {
        bail!("no per-token readings, or requests with different token counts");
    }
    let ttft: Vec<f64> = token_seconds.iter().map(|r| r[0]).collect();
    let end_to_end: Vec<f64> = token_seconds.iter().map(|r| r[new_tokens - 1]).collect();
    let decode: Vec<f64> = end_to_end.iter().zip(&ttft).map(|(e, t)| e - t).collect();
    let steps = (new_tokens - 1) as f64;
    let tpot: Vec<f64> = decode.iter().map(|d| d / steps).collect();
    let rate: Vec<f64> = decode.iter().map(|d| batch as f64 * steps / d).collect();
    let gaps: Vec<f64> = token_seconds
        .iter()
        .flat_map(|r| r.windows(2).map(|w| w[1] - w[0]))
        .collect();
    let decoded = new_tokens > 1;
    let stats = |xs: &[f64]| Stats::of(xs).expect("one request at least");
    Ok(GenerationSpeed {
        new_tokens: new_tokens as i64,
        ttft: stats(&ttft),
        tpot: decoded.then(|| stats(&tpot)),
        itl: decoded.then(|| stats(&gaps)),
        decode_tokens_per_second: decoded.then(|| stats(&rate)),
        end_to_end: stats(&end_to_end),
        token_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_follow_their_formulas() {
        // Two requests of 4 tokens, batch 2.
        let g = summarise(2, vec![vec![0.5, 0.6, 0.8, 1.1], vec![0.7, 0.8, 0.9, 1.0]]).unwrap();
        assert_eq!(g.new_tokens, 4);
        assert_eq!((g.ttft.min, g.ttft.max), (0.5, 0.7));
        assert_eq!((g.end_to_end.min, g.end_to_end.max), (1.0, 1.1));
        // TPOT: (1.1 - 0.5) / 3 = 0.2 and (1.0 - 0.7) / 3 = 0.1.
        let tpot = g.tpot.unwrap();
        assert!((tpot.max - 0.2).abs() < 1e-12 && (tpot.min - 0.1).abs() < 1e-12);
        // Gaps of both requests, pooled: 0.1, 0.2, 0.3 and 0.1, 0.1, 0.1.
        let itl = g.itl.unwrap();
        assert_eq!(itl.count, 6);
        assert!((itl.max - 0.3).abs() < 1e-12 && (itl.median - 0.1).abs() < 1e-12);
        // Decode throughput: 2 · 3 / 0.6 = 10 and 2 · 3 / 0.3 = 20 tokens/s.
        let rate = g.decode_tokens_per_second.unwrap();
        assert!((rate.min - 10.0).abs() < 1e-9 && (rate.max - 20.0).abs() < 1e-9);
    }

    #[test]
    fn one_new_token_has_no_decode_figures() {
        let g = summarise(1, vec![vec![0.25]]).unwrap();
        assert_eq!(g.ttft.median, 0.25);
        assert!(g.tpot.is_none() && g.itl.is_none() && g.decode_tokens_per_second.is_none());
        assert!(summarise(1, vec![]).is_err());
        assert!(summarise(1, vec![vec![0.1, 0.2], vec![0.3]]).is_err());
    }

    #[test]
    fn percentiles_need_enough_samples() {
        assert!(enough_for(50.0, 2) && !enough_for(50.0, 1));
        assert!(enough_for(90.0, 10) && !enough_for(90.0, 9));
        assert!(enough_for(99.0, 100) && !enough_for(99.0, 99));
    }
}

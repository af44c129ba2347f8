//! Small, dependency-free statistics: latency percentiles and medians.

use serde::{Deserialize, Serialize};

/// Percentiles of a set of latency samples, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Nearest-rank percentile (`q` in 0..=1) of an ascending slice.
pub fn percentile_sorted(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let q = q.clamp(0.0, 1.0);
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarises latency samples given in nanoseconds (sorts them in place).
pub fn summarize_nanos(samples: &mut [u64]) -> LatencySummary {
    if samples.is_empty() {
        return LatencySummary::default();
    }
    samples.sort_unstable();
    let ms = |ns: u64| ns as f64 / 1e6;
    let sum: u128 = samples.iter().map(|&s| s as u128).sum();
    LatencySummary {
        count: samples.len() as u64,
        mean_ms: sum as f64 / samples.len() as f64 / 1e6,
        p50_ms: ms(percentile_sorted(samples, 0.50)),
        p90_ms: ms(percentile_sorted(samples, 0.90)),
        p99_ms: ms(percentile_sorted(samples, 0.99)),
        max_ms: ms(*samples.last().unwrap()),
    }
}

/// Median of a list of values (mean of the two middle ones for even counts).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile_sorted(&v, 0.5), 50);
        assert_eq!(percentile_sorted(&v, 0.99), 99);
        assert_eq!(percentile_sorted(&v, 1.0), 100);
        assert_eq!(percentile_sorted(&v, 0.0), 1);
        assert_eq!(percentile_sorted(&[7], 0.99), 7);
        assert_eq!(percentile_sorted(&[], 0.5), 0);
    }

    #[test]
    fn summary_in_millis() {
        let mut v: Vec<u64> = (1..=1000).map(|i| i * 1_000_000).collect();
        v.reverse();
        let s = summarize_nanos(&mut v);
        assert_eq!(s.count, 1000);
        assert_eq!(s.p50_ms, 500.0);
        assert_eq!(s.p99_ms, 990.0);
        assert_eq!(s.max_ms, 1000.0);
        assert!((s.mean_ms - 500.5).abs() < 1e-9);
        assert_eq!(summarize_nanos(&mut []), LatencySummary::default());
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}

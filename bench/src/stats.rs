//! Percentiles of samples (nearest rank) and their summary.

use std::time::Duration;

/// p50, p99 and max of a set of durations, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub count: usize,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

/// The nearest-rank percentile `p` (0 < p ≤ 100) of sorted samples: the
/// smallest sample with at least p % of the samples at or below it.
/// `None` for no samples.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    // ceil(p/100 * n), at least 1; as an index, minus one.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

impl Summary {
    /// Sorts `samples` in place and summarises them.
    pub fn of(samples: &mut [u64]) -> Summary {
        samples.sort_unstable();
        Summary {
            count: samples.len(),
            p50: percentile(samples, 50.0).unwrap_or(0),
            p99: percentile(samples, 99.0).unwrap_or(0),
            max: samples.last().copied().unwrap_or(0),
        }
    }
}

/// Nanoseconds as milliseconds with three decimals, for the table.
pub fn ms(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

/// A duration as nanoseconds (saturating).
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_of_nothing_is_none() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(Summary::of(&mut []), Summary::default());
    }

    #[test]
    fn percentile_of_one_sample_is_that_sample() {
        for p in [0.0, 1.0, 50.0, 99.0, 100.0] {
            assert_eq!(percentile(&[7], p), Some(7));
        }
    }

    #[test]
    fn nearest_rank_on_one_to_a_hundred() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
    }

    #[test]
    fn p99_of_a_small_set_is_its_maximum() {
        // ceil(0.99 * 10) = 10: the 10th of 10.
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&v, 99.0), Some(10));
        assert_eq!(percentile(&v, 50.0), Some(5));
    }

    #[test]
    fn summary_sorts_and_keeps_the_count() {
        let mut v = vec![9, 1, 5, 3, 7, 2, 8, 4, 6, 10];
        let s = Summary::of(&mut v);
        assert_eq!(
            s,
            Summary {
                count: 10,
                p50: 5,
                p99: 10,
                max: 10
            }
        );
        assert_eq!(v, (1..=10).collect::<Vec<u64>>());
    }

    #[test]
    fn ms_has_three_decimals() {
        assert_eq!(ms(1_234_567), "1.235");
        assert_eq!(ms(0), "0.000");
    }
}

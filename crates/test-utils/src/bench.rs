//! Figures for the benchmarks (display only: no amount is computed here).
#![allow(clippy::float_arithmetic)]

use std::time::Duration;

/// The `p`-th percentile (nearest rank) of an ascending slice; `Duration::ZERO` when empty.
pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = (sorted.len() * p).div_ceil(100).saturating_sub(1).min(sorted.len() - 1);
    sorted[i]
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// `p50 .. p99 .. max` of an ascending slice.
pub fn summary(sorted: &[Duration]) -> String {
    format!(
        "p50 {}  p99 {}  max {}",
        ms(percentile(sorted, 50)),
        ms(percentile(sorted, 99)),
        ms(sorted.last().copied().unwrap_or_default())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99), Duration::from_millis(99));
        assert_eq!(percentile(&v, 100), Duration::from_millis(100));
        assert_eq!(percentile(&v[..3], 99), Duration::from_millis(3));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
        assert_eq!(ms(Duration::from_micros(12_345)), "12.35 ms");
    }
}

//! Latency histograms and medians.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::error::{CompareError, Result};

/// A latency histogram in microseconds, 3 significant digits, up to one hour.
///
/// # Errors
/// Only if `hdrhistogram` rejected these (valid) bounds.
pub fn histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3)
        .map_err(|e| CompareError::Run(format!("histogram: {e}")))
}

/// Records `ns` nanoseconds into a microsecond histogram, clamped to its range.
pub fn record_ns(histogram: &mut Histogram<u64>, ns: u64) {
    histogram.saturating_record((ns / 1_000).max(1));
}

/// End-to-end latency percentiles, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    /// The percentiles of a microsecond histogram.
    pub fn of(histogram: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1_000.0;
        Latency {
            count: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.5)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count), `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => sorted.get(n / 2).copied(),
        _ => Some((sorted.get(n / 2 - 1)? + sorted.get(n / 2)?) / 2.0),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn percentiles_in_milliseconds() {
        let mut h = histogram().unwrap();
        for ms in 1..=1000u64 {
            record_ns(&mut h, ms * 1_000_000);
        }
        let latency = Latency::of(&h);
        assert_eq!(latency.count, 1000);
        assert!((latency.p50_ms - 500.0).abs() < 1.0);
        assert!((latency.p99_ms - 990.0).abs() < 1.0);
        assert!((latency.max_ms - 1000.0).abs() < 1.0);
    }
}

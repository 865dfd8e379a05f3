//! A fixed-bucket latency histogram owned by one task: plain integers, no atomics, no
//! allocation, so recording a message costs a few comparisons.

/// Upper bounds (inclusive, in milliseconds) of the latency buckets; a last bucket takes
/// everything slower. From 5 ms (a consumer waiting on a long poll) to a day (a backlog).
pub const LATENCY_BOUNDS_MS: [u64; 17] = [
    5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000,
    3_600_000, 86_400_000,
];

/// Number of buckets: one per bound plus the overflow bucket.
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// Observations of a latency, bucketed by [`LATENCY_BOUNDS_MS`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Observations per bucket (not cumulative): `counts[i]` were at most
    /// `LATENCY_BOUNDS_MS[i]` and above the bound before it; the last entry above every bound.
    pub counts: [u64; LATENCY_BUCKETS],
    /// Sum of all observations, in milliseconds.
    pub sum_ms: u64,
}

impl LatencyHistogram {
    /// Counts one observation of `ms` milliseconds.
    pub fn record(&mut self, ms: u64) {
        let bucket = LATENCY_BOUNDS_MS.partition_point(|&bound| bound < ms);
        if let Some(count) = self.counts.get_mut(bucket) {
            *count += 1;
        }
        self.sum_ms = self.sum_ms.saturating_add(ms);
    }

    /// How many observations there are.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The observations made since `earlier` (a previous copy of the same histogram). If the
    /// histogram was reset in between (a queue re-created), the whole of `self`.
    pub fn since(&self, earlier: &LatencyHistogram) -> LatencyHistogram {
        let reset = self.counts.iter().zip(&earlier.counts).any(|(a, b)| a < b);
        if reset {
            return *self;
        }
        let mut out = LatencyHistogram {
            sum_ms: self.sum_ms.saturating_sub(earlier.sum_ms),
            ..LatencyHistogram::default()
        };
        for ((o, a), b) in out.counts.iter_mut().zip(&self.counts).zip(&earlier.counts) {
            *o = a - b;
        }
        out
    }

    /// Adds `other`'s observations to these.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.sum_ms = self.sum_ms.saturating_add(other.sum_ms);
    }

    /// Estimates the `q` quantile (0 to 1) in milliseconds by linear interpolation inside its
    /// bucket, as Prometheus' `histogram_quantile` does; `None` without observations. In the
    /// overflow bucket the answer is its lower bound.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut below = 0u64;
        let mut lower = 0u64;
        for (i, &count) in self.counts.iter().enumerate() {
            let Some(&upper) = LATENCY_BOUNDS_MS.get(i) else {
                return Some(lower as f64);
            };
            if count > 0 && (below + count) as f64 >= rank {
                let within = (rank - below as f64) / count as f64;
                return Some(lower as f64 + (upper - lower) as f64 * within.clamp(0.0, 1.0));
            }
            below += count;
            lower = upper;
        }
        Some(lower as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_bucket_of_their_upper_bound() {
        let mut h = LatencyHistogram::default();
        h.record(0);
        h.record(5);
        h.record(6);
        h.record(300);
        h.record(u64::MAX);
        assert_eq!(h.counts[0], 2, "0 and 5 ms are at most 5 ms");
        assert_eq!(h.counts[1], 1, "6 ms is in (5, 10]");
        assert_eq!(h.counts[6], 1, "300 ms is in (250, 500]");
        assert_eq!(h.counts[LATENCY_BUCKETS - 1], 1);
        assert_eq!(h.count(), 5);
    }

    #[test]
    fn since_subtracts_and_detects_resets() {
        let mut a = LatencyHistogram::default();
        a.record(7);
        let before = a;
        a.record(7);
        a.record(700);
        let d = a.since(&before);
        assert_eq!(d.count(), 2);
        assert_eq!(d.sum_ms, 707);
        let fresh = LatencyHistogram::default();
        assert_eq!(fresh.since(&a), fresh, "a reset starts over");
        let mut m = d;
        m.merge(&before);
        assert_eq!(m, a);
    }

    #[test]
    fn quantiles_interpolate_inside_buckets() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.quantile_ms(0.5), None);
        for _ in 0..10 {
            h.record(300); // (250, 500]
        }
        assert_eq!(h.quantile_ms(0.5), Some(375.0));
        assert_eq!(h.quantile_ms(1.0), Some(500.0));
        h.record(u64::MAX);
        assert_eq!(
            h.quantile_ms(1.0),
            Some(86_400_000.0),
            "overflow: its lower bound"
        );
    }
}

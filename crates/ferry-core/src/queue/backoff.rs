//! Retry delays: exponential backoff with deterministic jitter.

use super::config::QueueConfig;
use std::time::Duration;

/// The delay before the next delivery of message `seq` after its `receive_count`-th delivery failed.
///
/// `initial × multiplier^(receive_count − 1)`, capped at `backoff_max_ms`, then reduced by up to
/// `backoff_jitter` of itself. The jitter is a hash of `(seq, receive_count)` rather than a random
/// draw, so that replaying the log reproduces the same schedule while retries of different
/// messages still spread out.
pub fn retry_delay(config: &QueueConfig, seq: u64, receive_count: u32) -> Duration {
    if config.backoff_initial_ms == 0 {
        return Duration::ZERO;
    }
    let exponent = i32::try_from(receive_count.saturating_sub(1)).unwrap_or(i32::MAX);
    let raw = config.backoff_initial_ms as f64 * config.backoff_multiplier.powi(exponent);
    let capped = raw.min(config.backoff_max_ms as f64).max(0.0);
    let cut = config.backoff_jitter * unit_hash(seq, receive_count);
    Duration::from_millis((capped * (1.0 - cut)) as u64)
}

/// A number in [0, 1) that looks random but is a function of its inputs (splitmix64).
fn unit_hash(seq: u64, receive_count: u32) -> f64 {
    let mut z = seq ^ (u64::from(receive_count) << 40) ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(initial: u64, mult: f64, max: u64, jitter: f64) -> QueueConfig {
        QueueConfig {
            backoff_initial_ms: initial,
            backoff_multiplier: mult,
            backoff_max_ms: max,
            backoff_jitter: jitter,
            ..QueueConfig::default()
        }
    }

    #[test]
    fn no_backoff_by_default() {
        assert_eq!(retry_delay(&QueueConfig::default(), 1, 5), Duration::ZERO);
    }

    #[test]
    fn grows_exponentially_up_to_the_cap() {
        let c = config(100, 2.0, 1_000, 0.0);
        let delays: Vec<u64> = (1..=6)
            .map(|rc| retry_delay(&c, 7, rc).as_millis() as u64)
            .collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1_000, 1_000]);
    }

    #[test]
    fn jitter_stays_in_range_is_deterministic_and_spreads() {
        let c = config(1_000, 1.0, 1_000, 0.5);
        let delays: Vec<u128> = (0..200)
            .map(|seq| retry_delay(&c, seq, 1).as_millis())
            .collect();
        assert!(delays.iter().all(|d| (500..=1_000).contains(d)));
        assert_eq!(
            delays,
            (0..200)
                .map(|seq| retry_delay(&c, seq, 1).as_millis())
                .collect::<Vec<_>>()
        );
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 50, "jitter should spread retries");
    }
}

//! The delivery-rate limiter: a token bucket driven by the commands' own clock.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Tokens refill at `rate` per second up to a one-second burst (at least one token).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenBucket {
    tokens: f64,
    refilled_at: Timestamp,
}

impl TokenBucket {
    fn capacity(rate: f64) -> f64 {
        rate.max(1.0)
    }

    /// Whole tokens available at `now` under `rate` (`None` = unlimited).
    pub fn available(&self, rate: Option<f64>, now: Timestamp) -> u64 {
        match rate {
            None => u64::MAX,
            Some(rate) => self.refilled(rate, now).floor() as u64,
        }
    }

    /// Spends `n` tokens at `now` (no-op when unlimited).
    pub fn spend(&mut self, rate: Option<f64>, now: Timestamp, n: u64) {
        if let Some(rate) = rate {
            self.tokens = (self.refilled(rate, now) - n as f64).max(0.0);
            self.refilled_at = now;
        }
    }

    /// When `n` tokens will be available again under `rate`.
    pub fn ready_at(&self, rate: Option<f64>, now: Timestamp, n: u64) -> Timestamp {
        let Some(rate) = rate else { return now };
        let missing = n as f64 - self.refilled(rate, now);
        if missing <= 0.0 {
            return now;
        }
        Timestamp(
            now.0
                .saturating_add((missing / rate * 1_000.0).ceil() as u64),
        )
    }

    fn refilled(&self, rate: f64, now: Timestamp) -> f64 {
        if self.refilled_at == Timestamp::ZERO {
            return TokenBucket::capacity(rate);
        }
        let elapsed_s = now.0.saturating_sub(self.refilled_at.0) as f64 / 1_000.0;
        (self.tokens + elapsed_s * rate).min(TokenBucket::capacity(rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_full_then_refills_at_the_rate() {
        let mut b = TokenBucket::default();
        let rate = Some(10.0);
        assert_eq!(b.available(rate, Timestamp(1_000)), 10);
        b.spend(rate, Timestamp(1_000), 10);
        assert_eq!(b.available(rate, Timestamp(1_000)), 0);
        assert_eq!(b.available(rate, Timestamp(1_250)), 2);
        assert_eq!(b.ready_at(rate, Timestamp(1_000), 1), Timestamp(1_100));
        assert_eq!(b.available(rate, Timestamp(60_000)), 10);
        assert_eq!(b.available(None, Timestamp(0)), u64::MAX);
    }
}

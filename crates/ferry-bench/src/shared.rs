//! What the producer and consumer tasks of one run share: the client, the clock, the ledger,
//! live counters, the stop signals and the first failure.

use crate::error::BenchError;
use crate::ledger::Ledger;
use crate::wire::Wire;
use ferry_client::Client;
use hdrhistogram::Histogram;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Highest latency the histograms hold (one hour, in microseconds); larger values are clamped.
const MAX_LATENCY_MICROS: u64 = 3_600_000_000;

/// Running totals for the progress bar (every message, warm-up included).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Messages the broker acknowledged.
    pub(crate) sent: AtomicU64,
    /// Messages received for the first time.
    pub(crate) received: AtomicU64,
    /// Deliveries acked.
    pub(crate) acked: AtomicU64,
}

impl Counters {
    /// Adds `n` to one counter.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads one counter.
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// One run's shared state; tasks hold it in an `Arc`.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The server, through its native API.
    pub(crate) client: Client,
    /// The server, on the protocol under test (the native API unless a queue run asks for
    /// another).
    pub(crate) wire: Wire,
    /// The queue under test.
    pub(crate) queue: String,
    /// Time zero of the run: headers carry nanoseconds since this instant.
    pub(crate) origin: Instant,
    /// Messages stamped earlier than this (since `origin`) stay out of the statistics.
    pub(crate) warmup: Duration,
    /// Body size.
    pub(crate) size_bytes: usize,
    /// Who sent and received what.
    ledger: Mutex<Ledger>,
    /// Totals for the progress bar.
    pub(crate) counters: Counters,
    /// Set to end the sending phase early (Ctrl-C or a failure).
    pub(crate) stop_sending: watch::Sender<bool>,
    /// Set when the consumers should stop (drained, timed out or failed).
    pub(crate) stop_receiving: watch::Sender<bool>,
    /// The first failure of any task; it stops the run.
    failure: Mutex<Option<BenchError>>,
}

impl Shared {
    /// The state of a run starting now.
    pub(crate) fn new(
        client: Client,
        wire: Wire,
        queue: String,
        producers: usize,
        size_bytes: usize,
        warmup: Duration,
    ) -> Shared {
        Shared {
            client,
            wire,
            queue,
            origin: Instant::now(),
            warmup,
            size_bytes,
            ledger: Mutex::new(Ledger::new(producers)),
            counters: Counters::default(),
            stop_sending: watch::Sender::new(false),
            stop_receiving: watch::Sender::new(false),
            failure: Mutex::new(None),
        }
    }

    /// Time since the origin.
    pub(crate) fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Whether something stamped at `at` counts in the statistics.
    pub(crate) fn is_measured(&self, at: Duration) -> bool {
        at >= self.warmup
    }

    /// The ledger, locked. Never hold it across an `.await`.
    pub(crate) fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the first failure and stops every task.
    pub(crate) fn fail(&self, error: BenchError) {
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if failure.is_none() {
            *failure = Some(error);
        }
        drop(failure);
        self.stop_sending.send_replace(true);
        self.stop_receiving.send_replace(true);
    }

    /// Whether a task has failed.
    pub(crate) fn has_failed(&self) -> bool {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Takes the first failure, if any.
    pub(crate) fn take_failure(&self) -> Option<BenchError> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// A client error of `action`, on this run's queue.
    pub(crate) fn client_error(
        &self,
        action: &'static str,
        source: ferry_client::Error,
    ) -> BenchError {
        BenchError::Client {
            action,
            queue: self.queue.clone(),
            source,
        }
    }
}

/// An empty latency histogram in microseconds, 3 significant digits, up to an hour.
///
/// # Errors
/// [`BenchError::Internal`] if hdrhistogram refuses the (constant) bounds.
pub(crate) fn latency_histogram() -> Result<Histogram<u64>, BenchError> {
    Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3)
        .map_err(|e| BenchError::Internal(format!("cannot create a latency histogram: {e}")))
}

/// Records `latency` in microseconds, clamped to the histogram's range.
pub(crate) fn record_latency(histogram: &mut Histogram<u64>, latency: Duration) {
    let micros = u64::try_from(latency.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_LATENCY_MICROS);
    histogram.saturating_record(micros);
}

/// `bench-` and 8 random hex digits: a fresh queue or stream name.
pub(crate) fn random_name() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!("bench-{:08x}", hasher.finish() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_names_are_valid_queue_and_stream_names() {
        let name = random_name();
        assert!(name.starts_with("bench-") && name.len() == 14, "{name}");
        assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "{name}"
        );
        assert_ne!(random_name(), random_name());
    }
}

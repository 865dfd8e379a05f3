//! The load generator of `bench/compare`: the same work-queue and stream workloads, written
//! once, run against Ferry (native HTTP API), Redis Streams, NATS JetStream and RabbitMQ
//! (quorum queues and streams), with every message checked off a ledger (lost and duplicated
//! counted) and end-to-end latency in HDR histograms. It starts no server: `bench/compare/run`
//! does, and calls this tool once per system, workload and repetition.
//!
//! The workloads ([`Workload`]) are those of issue 8 and `docs/benchmarks.md`:
//! W1 (1 producer, 1 consumer, 100,000 × 100 B, ≤ 256 publishes in flight, individual acks),
//! W2 (the same with 4 and 4), W3 (2,000 msgs/s for 10 s, latency from the due time) and W4
//! (append 1,000,000 × 100 B in batches of 1,000, then read all from the start).

pub mod clock;
pub mod error;
pub mod ledger;
pub mod payload;
pub mod queue;
pub mod report;
pub mod stats;
pub mod stream;
pub mod systems;

pub use error::{CompareError, Result};

use queue::QueueSpec;
use stream::StreamSpec;

/// The four workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Workload {
    /// Durable work queue, 1 producer, 1 consumer.
    W1,
    /// Durable work queue, 4 producers, 4 consumers.
    W2,
    /// Latency at a fixed rate.
    W3,
    /// Stream append, then read from the start.
    W4,
}

/// Sizes a run may override (for quick checks); `None` keeps the workload's own.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scale {
    /// Messages (W1, W2) or records (W4).
    pub messages: Option<u64>,
    /// W3's rate, msgs/s.
    pub rate: Option<u64>,
    /// W3's length, seconds.
    pub duration_s: Option<u64>,
}

impl Workload {
    /// Its name in results (`W1` …).
    pub fn name(self) -> &'static str {
        match self {
            Workload::W1 => "W1",
            Workload::W2 => "W2",
            Workload::W3 => "W3",
            Workload::W4 => "W4",
        }
    }

    /// The queue spec of W1–W3 (`None` for W4).
    pub fn queue_spec(self, scale: Scale) -> Option<QueueSpec> {
        let base = QueueSpec {
            producers: 1,
            consumers: 1,
            messages: scale.messages.unwrap_or(100_000),
            size: 100,
            batch: 64,
            inflight: 256,
            prefetch: 100,
            rate: 0,
            drain_timeout_ms: 30_000,
        };
        match self {
            Workload::W1 => Some(base),
            Workload::W2 => Some(QueueSpec {
                producers: 4,
                consumers: 4,
                ..base
            }),
            Workload::W3 => {
                let rate = scale.rate.unwrap_or(2_000);
                Some(QueueSpec {
                    messages: rate * scale.duration_s.unwrap_or(10),
                    rate,
                    batch: 1,
                    ..base
                })
            }
            Workload::W4 => None,
        }
    }

    /// The stream spec of W4 (`None` for the others).
    pub fn stream_spec(self, scale: Scale) -> Option<StreamSpec> {
        (self == Workload::W4).then(|| StreamSpec {
            records: scale.messages.unwrap_or(1_000_000),
            size: 100,
            batch: 1_000,
            inflight: 4,
            read_batch: 10_000,
            idle_timeout_ms: 15_000,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_match_the_issue() {
        let w1 = Workload::W1.queue_spec(Scale::default());
        assert!(matches!(
            w1,
            Some(QueueSpec {
                producers: 1,
                consumers: 1,
                messages: 100_000,
                size: 100,
                inflight: 256,
                ..
            })
        ));
        let w2 = Workload::W2.queue_spec(Scale::default());
        assert!(matches!(
            w2,
            Some(QueueSpec {
                producers: 4,
                consumers: 4,
                ..
            })
        ));
        let w3 = Workload::W3.queue_spec(Scale::default());
        assert!(matches!(
            w3,
            Some(QueueSpec {
                rate: 2_000,
                messages: 20_000,
                batch: 1,
                ..
            })
        ));
        assert!(Workload::W4.queue_spec(Scale::default()).is_none());
        let w4 = Workload::W4.stream_spec(Scale {
            messages: Some(10),
            ..Scale::default()
        });
        assert!(matches!(
            w4,
            Some(StreamSpec {
                records: 10,
                size: 100,
                ..
            })
        ));
    }
}

//! `GET /v1/metrics/history`: the last minutes of every queue's depth, rates and latency, and
//! of every stream's end offsets, append rate and consumer lag, for charts (the dashboard,
//! `ferry top`).

use serde::{Deserialize, Serialize};

/// The reply to `GET /v1/metrics/history`: columns, `times[i]` going with index `i` of every
/// series.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsHistory {
    /// Time between samples.
    pub interval_ms: u64,
    /// Most samples kept.
    pub capacity: usize,
    /// The sample instants (RFC 3339), oldest first.
    pub times: Vec<String>,
    /// Every queue seen in any sample, by name.
    pub queues: Vec<QueueHistory>,
    /// Every stream seen in any sample, by name.
    #[serde(default)]
    pub streams: Vec<StreamHistory>,
}

/// One stream's series. `null` where the stream did not exist, or a rate had no earlier sample.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamHistory {
    /// The stream's name.
    pub name: String,
    /// The sum of its partitions' end offsets: records ever appended.
    pub end_offsets: Vec<Option<f64>>,
    /// Bytes its partitions take on disk.
    pub bytes: Vec<Option<f64>>,
    /// Records appended per second over the interval before the sample.
    pub appended_per_s: Vec<Option<f64>>,
    /// Records behind the partitions' ends, summed over every consumer group and partition.
    pub lag_records: Vec<Option<f64>>,
}

/// One queue's series. `null` where the queue did not exist, or a rate (first sample) or a
/// latency (nothing delivered or acked in that interval) had nothing to go on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueHistory {
    /// The queue's name.
    pub name: String,
    /// Receivable messages.
    pub visible: Vec<Option<f64>>,
    /// Delayed messages (delay or retry backoff).
    pub delayed: Vec<Option<f64>>,
    /// Leased messages.
    pub in_flight: Vec<Option<f64>>,
    /// Age of the oldest stored message.
    pub oldest_age_ms: Vec<Option<f64>>,
    /// Messages enqueued per second over the interval before the sample.
    pub enqueued_per_s: Vec<Option<f64>>,
    /// Deliveries per second.
    pub delivered_per_s: Vec<Option<f64>>,
    /// Acks per second.
    pub acked_per_s: Vec<Option<f64>>,
    /// Messages dead-lettered per second.
    pub dead_lettered_per_s: Vec<Option<f64>>,
    /// Median enqueue → first delivery of the messages first delivered in the interval.
    pub first_delivery_p50_ms: Vec<Option<f64>>,
    /// 99th percentile of the same.
    pub first_delivery_p99_ms: Vec<Option<f64>>,
    /// Median enqueue → ack of the messages acked in the interval.
    pub ack_p50_ms: Vec<Option<f64>>,
    /// 99th percentile of the same.
    pub ack_p99_ms: Vec<Option<f64>>,
}

impl QueueHistory {
    /// The last value of a series that has one.
    pub fn last(series: &[Option<f64>]) -> Option<f64> {
        series.last().copied().flatten()
    }
}

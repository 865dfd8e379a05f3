//! Numbers about the broker for `/metrics`, the dashboard and `ferry top`.
//!
//! Most numbers are *derived* from the queues' state when asked ([`QueueStats`] totals survive
//! restarts; [`Breakdown`] walks the stored messages), so they are exact and cost nothing per
//! message. What the state cannot tell (latencies, redeliveries, rejections, bytes written) is
//! counted by each queue's task in plain integers it owns ([`QueueEvents`]): no atomics, no lock
//! and no allocation per message. A snapshot is taken by asking every task in turn.
//!
//! Streams are measured the same way: partition extents and group lag are read from the
//! partitions and the catalog when asked ([`StreamMetrics`]); only what nothing remembers
//! (append batches, compaction runs) is counted, in a few relaxed atomics per stream.
//! The resequencer will add its own entries to [`MetricsSnapshot`].

mod histogram;
mod history;

pub use ferry_core::queue::{Breakdown, FifoBreakdown, GroupLoad, Tally};
pub use ferry_log::{FlusherStats, SYNC_LATENCY_BOUNDS_US, SyncLatency};
pub use histogram::{LATENCY_BOUNDS_MS, LATENCY_BUCKETS, LatencyHistogram};
pub use history::{
    History, HistorySeries, MAX_QUEUES_PER_SAMPLE, MAX_STREAMS_PER_SAMPLE, QueueSeries, Sample,
    StreamSample, StreamSeries,
};

use crate::error::ErrorKind;
use crate::stream_types::PartitionInfo;
use ferry_core::Timestamp;
use ferry_core::queue::QueueStats;

/// How much a snapshot should contain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Detail {
    /// Stats, events and storage: constant time per queue (for frequent sampling).
    #[default]
    Counts,
    /// Also the per-state [`Breakdown`] and the busiest FIFO groups: linear in the stored
    /// messages (for a Prometheus scrape).
    Full,
}

/// How many FIFO groups a [`Detail::Full`] snapshot reports per queue (a bound on label
/// cardinality).
pub const BUSIEST_GROUPS: usize = 5;

/// How many consumer groups per stream a snapshot details, partition by partition (those with
/// the most lag, then by name): a bound on label cardinality. [`StreamMetrics::groups`]
/// still counts them all.
pub const MAX_GROUPS_PER_STREAM: usize = 10;

/// Everything measured at one instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// When it was taken.
    pub taken_at: Timestamp,
    /// Every live queue, by name.
    pub queues: Vec<QueueMetrics>,
    /// Every live stream, by name.
    pub streams: Vec<StreamMetrics>,
    /// The group-commit flusher of the data directory.
    pub flusher: FlusherStats,
}

/// One queue's numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueMetrics {
    /// The queue's name.
    pub name: String,
    /// Whether it is a FIFO queue.
    pub fifo: bool,
    /// Where its dead letters go, if anywhere.
    pub dead_letter_queue: Option<String>,
    /// Depth and totals, exactly as `GET /v1/queues/{q}` reports them.
    pub stats: QueueStats,
    /// Messages and bytes per state and FIFO groups ([`Detail::Full`] only).
    pub breakdown: Option<Breakdown>,
    /// What the task counted since it started.
    pub events: QueueEvents,
    /// Its log.
    pub storage: StorageMetrics,
}

/// One stream's numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamMetrics {
    /// The stream's name.
    pub name: String,
    /// Each partition's extent and storage, by partition number.
    pub partitions: Vec<PartitionInfo>,
    /// What was counted since the stream was opened (process start or creation).
    pub events: StreamEvents,
    /// Consumer groups with members or committed offsets (all of them, not only those in
    /// [`StreamMetrics::busiest_groups`]).
    pub groups: u64,
    /// Records between each group's committed offsets and the ends, summed over every group
    /// and partition.
    pub lag_records: u64,
    /// The groups with the most lag (at most [`MAX_GROUPS_PER_STREAM`]), most lag first,
    /// then by name.
    pub busiest_groups: Vec<GroupMetrics>,
}

impl StreamMetrics {
    /// Records ever appended: the sum of the partitions' end offsets (offsets are consecutive
    /// from 0 and never reused, so this survives restarts and counts every front end).
    pub fn appended_records(&self) -> u64 {
        self.partitions.iter().map(|p| p.end_offset).sum()
    }

    /// Bytes the partitions' segment files take.
    pub fn bytes(&self) -> u64 {
        self.partitions.iter().map(|p| p.bytes).sum()
    }
}

/// What a stream counts as it goes, since it was opened: what its logs do not remember.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamEvents {
    /// Batches appended (one per partition of an append request, one per Kafka produce
    /// batch).
    pub appended_batches: u64,
    /// Compaction runs finished (one per stream per round, over all its partitions; failed
    /// runs included).
    pub compaction_runs: u64,
    /// Segments rewritten by compaction.
    pub compaction_rewritten_segments: u64,
    /// Records removed by compaction.
    pub compaction_removed_records: u64,
}

/// One consumer group's progress on a stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupMetrics {
    /// The group's name.
    pub name: String,
    /// Every partition of the stream, by number.
    pub partitions: Vec<GroupPartitionMetrics>,
    /// Age of the oldest record the group has not consumed, over all partitions (0 when
    /// caught up). Only in [`Detail::Full`] snapshots: it reads a record per lagging
    /// partition.
    pub lag_ms: Option<u64>,
}

impl GroupMetrics {
    /// Records behind, over all partitions.
    pub fn lag_records(&self) -> u64 {
        self.partitions.iter().map(|p| p.lag_records).sum()
    }
}

/// A group's progress on one partition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupPartitionMetrics {
    /// The partition.
    pub partition: u32,
    /// The committed offset (the next to read), if the group committed one here.
    pub committed_offset: Option<u64>,
    /// Records between the committed offset (the partition's start if none) and the end.
    pub lag_records: u64,
}

/// What a queue's task counts as it goes, since the task started (process start or queue
/// creation): the things the queue's state does not remember.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueEvents {
    /// Deliveries of messages delivered before (receive count above 1).
    pub redelivered: u64,
    /// Messages and receipts refused, by reason.
    pub rejected: Rejected,
    /// From enqueue to first delivery (delays and backoffs included).
    pub time_to_first_delivery: LatencyHistogram,
    /// From enqueue to ack (auto-ack receives included).
    pub time_to_ack: LatencyHistogram,
}

impl QueueEvents {
    /// Counts one delivery at `now` of a message enqueued at `enqueued_at`, delivered
    /// `receive_count` times so far (this time included).
    pub(crate) fn on_delivery(
        &mut self,
        now: Timestamp,
        enqueued_at: Timestamp,
        receive_count: u32,
    ) {
        if receive_count <= 1 {
            self.time_to_first_delivery
                .record(now.0.saturating_sub(enqueued_at.0));
        } else {
            self.redelivered += 1;
        }
    }

    /// Counts one ack at `now` of a message enqueued at `enqueued_at`.
    pub(crate) fn on_ack(&mut self, now: Timestamp, enqueued_at: Timestamp) {
        self.time_to_ack.record(now.0.saturating_sub(enqueued_at.0));
    }

    /// Counts `count` messages or receipts refused with `kind`.
    pub(crate) fn on_rejected(&mut self, kind: ErrorKind, count: u64) {
        let r = &mut self.rejected;
        let slot = match kind {
            ErrorKind::QueueFull => &mut r.queue_full,
            ErrorKind::MessageTooLarge => &mut r.message_too_large,
            ErrorKind::InvalidRequest => &mut r.invalid_message,
            ErrorKind::StaleReceipt => &mut r.stale_receipt,
            ErrorKind::InvalidReceipt => &mut r.invalid_receipt,
            ErrorKind::MessageNotFound | ErrorKind::Conflict => &mut r.not_leased,
            ErrorKind::AlreadyCompleted => &mut r.already_completed,
            _ => &mut r.other,
        };
        *slot += count;
    }
}

/// Refusals by reason: sent messages refused whole-batch, and receipts that failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rejected {
    /// Sends refused because the queue was at `max_length`/`max_bytes` (per message).
    pub queue_full: u64,
    /// Sends refused for a body over `max_message_bytes` (per message of the batch).
    pub message_too_large: u64,
    /// Sends refused for another bad message (per message of the batch).
    pub invalid_message: u64,
    /// Receipts of an earlier delivery (per receipt).
    pub stale_receipt: u64,
    /// Strings that are not receipts of this queue (per receipt).
    pub invalid_receipt: u64,
    /// Receipts of messages no longer there or not leased (per receipt).
    pub not_leased: u64,
    /// Completions of messages already completed (per completion).
    pub already_completed: u64,
    /// Anything else (storage failures).
    pub other: u64,
}

impl Rejected {
    /// Every reason with its count, in a fixed order (the `reason` label values).
    pub fn by_reason(&self) -> [(&'static str, u64); 8] {
        [
            ("queue_full", self.queue_full),
            ("message_too_large", self.message_too_large),
            ("invalid_message", self.invalid_message),
            ("stale_receipt", self.stale_receipt),
            ("invalid_receipt", self.invalid_receipt),
            ("not_leased", self.not_leased),
            ("already_completed", self.already_completed),
            ("other", self.other),
        ]
    }
}

/// A queue log's numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageMetrics {
    /// Segment files now.
    pub segments: u64,
    /// Bytes in those files now.
    pub bytes: u64,
    /// Bytes appended since the task started (framing included).
    pub written_bytes: u64,
    /// Records appended since the task started.
    pub appended_records: u64,
    /// Snapshots written since the task started.
    pub snapshots: u64,
    /// Segments deleted by reclamation since the task started.
    pub reclaimed_segments: u64,
    /// What opening the log found and repaired.
    pub recovery: RecoveryMetrics,
}

/// What recovery did when the queue was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoveryMetrics {
    /// Log records replayed into the state (after the snapshot, if any).
    pub replayed_records: u64,
    /// Records validated by scanning.
    pub scanned_records: u64,
    /// 1 if a torn or corrupt tail was cut off, else 0.
    pub truncations: u64,
    /// Bytes cut off.
    pub truncated_bytes: u64,
    /// Segment indexes rebuilt.
    pub indexes_rebuilt: u64,
    /// Empty segments left by a crash during a roll and removed.
    pub removed_segments: u64,
}

impl RecoveryMetrics {
    /// The numbers of a log's recovery report, with `replayed` records replayed.
    pub(crate) fn new(report: &ferry_log::RecoveryReport, replayed: u64) -> RecoveryMetrics {
        RecoveryMetrics {
            replayed_records: replayed,
            scanned_records: report.records_scanned,
            truncations: u64::from(report.truncated_bytes > 0),
            truncated_bytes: report.truncated_bytes,
            indexes_rebuilt: report.indexes_rebuilt as u64,
            removed_segments: report.removed_segments.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_first_deliveries_from_redeliveries() {
        let mut e = QueueEvents::default();
        e.on_delivery(Timestamp(1300), Timestamp(1000), 1);
        e.on_delivery(Timestamp(1300), Timestamp(1000), 2);
        e.on_ack(Timestamp(1600), Timestamp(1000));
        assert_eq!(e.redelivered, 1);
        assert_eq!(e.time_to_first_delivery.count(), 1);
        assert_eq!(e.time_to_first_delivery.sum_ms, 300);
        assert_eq!(e.time_to_ack.sum_ms, 600);
    }

    #[test]
    fn rejections_are_counted_by_reason() {
        let mut e = QueueEvents::default();
        e.on_rejected(ErrorKind::QueueFull, 3);
        e.on_rejected(ErrorKind::StaleReceipt, 1);
        e.on_rejected(ErrorKind::Internal, 1);
        e.on_rejected(ErrorKind::AlreadyCompleted, 2);
        let reasons = e.rejected.by_reason();
        assert_eq!(reasons[0], ("queue_full", 3));
        assert_eq!(reasons[3], ("stale_receipt", 1));
        assert_eq!(reasons[6], ("already_completed", 2));
        assert_eq!(reasons[7], ("other", 1));
    }
}

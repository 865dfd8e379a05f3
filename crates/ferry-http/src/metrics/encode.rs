//! The broker's [`MetricsSnapshot`] in the Prometheus (OpenMetrics) text format.
//!
//! Names follow the Prometheus conventions: a `ferry_` prefix, the unit last (`_seconds`,
//! `_bytes`), `_total` on counters (added by the encoder). Labels are bounded: `queue` (one
//! per queue), `state` and `reason` (fixed sets), and `group` only for the few busiest FIFO
//! groups of a queue; `stream` (one per stream), `partition` (one per partition), and
//! `group` only for the consumer groups with the most lag (at most
//! [`ferry_broker::metrics::MAX_GROUPS_PER_STREAM`] per stream). Never a message id, key or offset.

use ferry_broker::metrics::{
    FifoBreakdown, GroupMetrics, LATENCY_BOUNDS_MS, LatencyHistogram, MetricsSnapshot,
    QueueMetrics, SYNC_LATENCY_BOUNDS_US, StreamMetrics, SyncLatency,
};
use ferry_broker::{ResequenceStats, Timestamp};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use std::fmt;

/// Encodes a snapshot on each scrape (it is built per scrape, so it owns its snapshot).
#[derive(Debug)]
pub(crate) struct SnapshotCollector {
    /// The numbers to encode.
    pub(crate) snapshot: MetricsSnapshot,
}

type Labels<'a> = Vec<(&'static str, &'a str)>;
/// Reads one counter of a queue.
type Getter = fn(&QueueMetrics) -> u64;
/// A storage counter: name, help, unit, and how to read it.
type StorageCounter<'a> = (&'a str, &'a str, Option<&'a Unit>, Getter);
/// Reads one number of a stream.
type StreamGetter = fn(&StreamMetrics) -> u64;
/// Reads one number of a stream's partition.
type PartitionGetter = fn(&ferry_broker::PartitionInfo) -> u64;

/// Writes one metric family: its descriptor, then one sample per `(labels, value)`.
fn family<'a, V: EncodeGaugeValue + EncodeCounterValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    metric_type: MetricType,
    samples: impl IntoIterator<Item = (Labels<'a>, V)>,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, unit, metric_type)?;
    for (labels, value) in samples {
        if labels.is_empty() {
            encode_value(&mut metric, metric_type, &value)?;
        } else {
            encode_value(&mut metric.encode_family(&labels)?, metric_type, &value)?;
        }
    }
    Ok(())
}

fn encode_value<V: EncodeGaugeValue + EncodeCounterValue>(
    sample: &mut MetricEncoder<'_>,
    metric_type: MetricType,
    value: &V,
) -> fmt::Result {
    match metric_type {
        MetricType::Counter => sample.encode_counter::<NoLabelSet, V, f64>(value, None),
        _ => sample.encode_gauge(value),
    }
}

fn queue_label(q: &QueueMetrics) -> Labels<'_> {
    vec![("queue", q.name.as_str())]
}

/// Buckets as (upper bound in seconds, count in that bucket), the overflow bucket last:
/// `counts[i]` is bounded by `bounds[i]`, in units of which `per_second` make a second.
fn buckets(counts: &[u64], bounds: &[u64], per_second: f64) -> Vec<(f64, u64)> {
    counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let upper = bounds
                .get(i)
                .map_or(f64::INFINITY, |&bound| bound as f64 / per_second);
            (upper, count)
        })
        .collect()
}

fn latency_buckets(h: &LatencyHistogram) -> Vec<(f64, u64)> {
    buckets(&h.counts, &LATENCY_BOUNDS_MS, 1000.0)
}

fn sync_buckets(h: &SyncLatency) -> Vec<(f64, u64)> {
    buckets(&h.counts, &SYNC_LATENCY_BOUNDS_US, 1_000_000.0)
}

/// Writes one family per `(name, help, unit, read)` row, with a sample per item labelled by
/// `label`.
fn families_per_item<'a, T>(
    e: &mut DescriptorEncoder,
    items: &'a [T],
    label: fn(&'a T) -> Labels<'a>,
    metric_type: MetricType,
    rows: impl IntoIterator<Item = (&'a str, &'a str, Option<&'a Unit>, fn(&T) -> u64)>,
) -> fmt::Result {
    for (name, help, unit, read) in rows {
        family(
            e,
            name,
            help,
            unit,
            metric_type,
            items.iter().map(|item| (label(item), read(item))),
        )?;
    }
    Ok(())
}

fn histogram_family<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels<'a>, f64, u64, Vec<(f64, u64)>)>,
) -> fmt::Result {
    let mut metric =
        encoder.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?;
    for (labels, sum, count, buckets) in samples {
        if labels.is_empty() {
            metric.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        } else {
            let mut sample = metric.encode_family(&labels)?;
            sample.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
    }
    Ok(())
}

/// Queue gauges: messages and bytes per state, oldest age, FIFO groups.
fn encode_queue_gauges(e: &mut DescriptorEncoder, queues: &[QueueMetrics]) -> fmt::Result {
    let mut messages = Vec::new();
    let mut bytes = Vec::new();
    for q in queues {
        let states = match &q.breakdown {
            Some(b) => [
                ("visible", b.visible.messages, b.visible.bytes),
                ("delayed", b.delayed.messages, b.delayed.bytes),
                ("in_flight", b.in_flight.messages, b.in_flight.bytes),
                (
                    "dead_lettering",
                    b.dead_lettering.messages,
                    b.dead_lettering.bytes,
                ),
            ],
            None => [
                ("visible", q.stats.visible, 0),
                ("delayed", q.stats.delayed, 0),
                ("in_flight", q.stats.in_flight, 0),
                ("dead_lettering", 0, 0),
            ],
        };
        for (state, m, b) in states {
            messages.push((vec![("queue", q.name.as_str()), ("state", state)], m));
            if q.breakdown.is_some() {
                bytes.push((vec![("queue", q.name.as_str()), ("state", state)], b));
            }
        }
    }
    family(
        e,
        "ferry_queue_messages",
        "Messages stored, by state.",
        None,
        MetricType::Gauge,
        messages,
    )?;
    family(
        e,
        "ferry_queue",
        "Body bytes stored, by state.",
        Some(&Unit::Bytes),
        MetricType::Gauge,
        bytes,
    )?;
    family(
        e,
        "ferry_queue_oldest_message_age",
        "Age of the oldest stored message (0 when empty).",
        Some(&Unit::Seconds),
        MetricType::Gauge,
        queues
            .iter()
            .map(|q| (queue_label(q), q.stats.oldest_age_ms as f64 / 1000.0)),
    )?;
    let mut info = e.encode_descriptor(
        "ferry_queue",
        "Static facts about a queue (value 1).",
        None,
        MetricType::Info,
    )?;
    for q in queues {
        let labels = vec![
            ("queue", q.name.as_str()),
            ("fifo", if q.fifo { "true" } else { "false" }),
            (
                "dead_letter_queue",
                q.dead_letter_queue.as_deref().unwrap_or(""),
            ),
        ];
        info.encode_info(&labels)?;
    }
    Ok(())
}

fn encode_fifo(e: &mut DescriptorEncoder, queues: &[QueueMetrics], now: Timestamp) -> fmt::Result {
    let fifos: Vec<(&QueueMetrics, &FifoBreakdown)> = queues
        .iter()
        .filter_map(|q| Some((q, q.breakdown.as_ref()?.fifo.as_ref()?)))
        .collect();
    family(
        e,
        "ferry_queue_fifo_groups",
        "FIFO groups with stored messages.",
        None,
        MetricType::Gauge,
        fifos.iter().map(|(q, f)| (queue_label(q), f.groups)),
    )?;
    family(
        e,
        "ferry_queue_fifo_groups_in_flight",
        "FIFO groups with a message in flight (blocking the rest of the group).",
        None,
        MetricType::Gauge,
        fifos
            .iter()
            .map(|(q, f)| (queue_label(q), f.groups_in_flight)),
    )?;
    let busiest = || {
        fifos
            .iter()
            .flat_map(|(q, f)| f.busiest.iter().map(move |g| (q, g)))
    };
    family(
        e,
        "ferry_queue_fifo_group_messages",
        "Messages stored in each of the busiest FIFO groups (at most 5 per queue).",
        None,
        MetricType::Gauge,
        busiest().map(|(q, g)| {
            (
                vec![("queue", q.name.as_str()), ("group", g.group.as_str())],
                g.messages,
            )
        }),
    )?;
    family(
        e,
        "ferry_queue_fifo_group_oldest_message_age",
        "Age of the oldest message of each of the busiest FIFO groups.",
        Some(&Unit::Seconds),
        MetricType::Gauge,
        busiest().map(|(q, g)| {
            (
                vec![("queue", q.name.as_str()), ("group", g.group.as_str())],
                now.0.saturating_sub(g.oldest_enqueued_at.0) as f64 / 1000.0,
            )
        }),
    )
}

/// Resequencing queues: held-back results, blocked gaps, and release counters.
fn encode_resequence(e: &mut DescriptorEncoder, queues: &[QueueMetrics]) -> fmt::Result {
    let resequencing: Vec<(&QueueMetrics, ResequenceStats)> = queues
        .iter()
        .filter_map(|q| Some((q, q.stats.resequence?)))
        .collect();
    type Read = fn(&ResequenceStats) -> u64;
    let (gauge, counter) = (MetricType::Gauge, MetricType::Counter);
    let rows: [(&str, &str, Option<&Unit>, MetricType, Read); 7] = [
        (
            "ferry_queue_held_back_results",
            "Results completed but held behind earlier messages of their order key.",
            None,
            gauge,
            |r| r.held_back,
        ),
        (
            "ferry_queue_held_back",
            "Body bytes of the held-back results.",
            Some(&Unit::Bytes),
            gauge,
            |r| r.held_back_bytes,
        ),
        (
            "ferry_queue_releasing_results",
            "Results released in order and not yet stored by the output.",
            None,
            gauge,
            |r| r.releasing,
        ),
        (
            "ferry_queue_blocked_gaps",
            "Gaps holding their order key (gap_policy block) until skipped.",
            None,
            gauge,
            |r| r.blocked_gaps,
        ),
        (
            "ferry_queue_completed",
            "Messages completed with a result.",
            None,
            counter,
            |r| r.completed_total,
        ),
        (
            "ferry_queue_released",
            "Results (and gap markers) stored by the output, in order.",
            None,
            counter,
            |r| r.released_total,
        ),
        (
            "ferry_queue_gaps",
            "Gaps skipped (by policy or by an operator).",
            None,
            counter,
            |r| r.gaps_total,
        ),
    ];
    for (name, help, unit, metric_type, read) in rows {
        let samples = resequencing.iter().map(|(q, r)| (queue_label(q), read(r)));
        family(e, name, help, unit, metric_type, samples)?;
    }
    family(
        e,
        "ferry_queue_oldest_gap_age",
        "How long the oldest held-back result or blocked gap has waited (0 when none).",
        Some(&Unit::Seconds),
        gauge,
        resequencing
            .iter()
            .map(|(q, r)| (queue_label(q), r.oldest_gap_age_ms as f64 / 1000.0)),
    )
}

/// Queue counters and latency histograms.
fn encode_queue_counters(e: &mut DescriptorEncoder, queues: &[QueueMetrics]) -> fmt::Result {
    let counters: [(&str, &str, Getter); 9] = [
        (
            "ferry_queue_enqueued",
            "Messages accepted (duplicates not counted).",
            |q| q.stats.enqueued_total,
        ),
        (
            "ferry_queue_delivered",
            "Deliveries (redeliveries included).",
            |q| q.stats.delivered_total,
        ),
        ("ferry_queue_acked", "Messages acked.", |q| {
            q.stats.acked_total
        }),
        ("ferry_queue_nacked", "Messages nacked.", |q| {
            q.stats.nacked_total
        }),
        (
            "ferry_queue_redelivered",
            "Deliveries of messages delivered before (since the queue's task started).",
            |q| q.events.redelivered,
        ),
        (
            "ferry_queue_expired",
            "Messages expired by TTL or retention.",
            |q| q.stats.expired_total,
        ),
        (
            "ferry_queue_dead_lettered",
            "Messages moved (or due to move) to the dead-letter queue.",
            |q| q.stats.dead_lettered,
        ),
        (
            "ferry_queue_deduplicated",
            "Sends dropped as duplicates within the dedup window.",
            |q| q.stats.deduplicated_total,
        ),
        (
            "ferry_queue_removed",
            "Messages removed by overflow, cancel or purge.",
            |q| q.stats.removed_total,
        ),
    ];
    families_per_item(
        e,
        queues,
        queue_label,
        MetricType::Counter,
        counters.map(|(name, help, get)| (name, help, None, get)),
    )?;
    let rejected = queues.iter().flat_map(|q| {
        q.events
            .rejected
            .by_reason()
            .into_iter()
            .map(move |(reason, count)| {
                (vec![("queue", q.name.as_str()), ("reason", reason)], count)
            })
    });
    family(
        e,
        "ferry_queue_rejected",
        "Sent messages and receipts refused, by reason (since the queue's task started).",
        None,
        MetricType::Counter,
        rejected,
    )?;
    let latency = |f: fn(&QueueMetrics) -> &LatencyHistogram| {
        queues.iter().map(move |q| {
            let h = f(q);
            (
                queue_label(q),
                h.sum_ms as f64 / 1000.0,
                h.count(),
                latency_buckets(h),
            )
        })
    };
    histogram_family(
        e,
        "ferry_queue_time_to_first_delivery",
        "Time from enqueue to first delivery (delays included).",
        latency(|q| &q.events.time_to_first_delivery),
    )?;
    histogram_family(
        e,
        "ferry_queue_time_to_ack",
        "Time from enqueue to ack.",
        latency(|q| &q.events.time_to_ack),
    )
}

/// Storage: per queue log, and the data directory's flusher.
fn encode_storage(e: &mut DescriptorEncoder, s: &MetricsSnapshot) -> fmt::Result {
    let queues = &s.queues;
    let gauges: [StorageCounter<'_>; 2] = [
        (
            "ferry_storage_segments",
            "Segment files of the queue's log.",
            None,
            |q| q.storage.segments,
        ),
        (
            "ferry_storage",
            "Bytes in the queue's log segments.",
            Some(&Unit::Bytes),
            |q| q.storage.bytes,
        ),
    ];
    families_per_item(e, queues, queue_label, MetricType::Gauge, gauges)?;
    let counters: [StorageCounter<'_>; 9] = [
        (
            "ferry_storage_written",
            "Bytes appended to the queue's log, framing included.",
            Some(&Unit::Bytes),
            |q| q.storage.written_bytes,
        ),
        (
            "ferry_storage_appended_records",
            "Records appended to the queue's log.",
            None,
            |q| q.storage.appended_records,
        ),
        ("ferry_storage_snapshots", "Snapshots written.", None, |q| {
            q.storage.snapshots
        }),
        (
            "ferry_storage_reclaimed_segments",
            "Log segments deleted by reclamation.",
            None,
            |q| q.storage.reclaimed_segments,
        ),
        (
            "ferry_storage_recovery_replayed_records",
            "Records replayed when the queue was opened.",
            None,
            |q| q.storage.recovery.replayed_records,
        ),
        (
            "ferry_storage_recovery_truncations",
            "Torn or corrupt log tails cut off when the queue was opened.",
            None,
            |q| q.storage.recovery.truncations,
        ),
        (
            "ferry_storage_recovery_truncated",
            "Bytes cut off the log tail when the queue was opened.",
            Some(&Unit::Bytes),
            |q| q.storage.recovery.truncated_bytes,
        ),
        (
            "ferry_storage_recovery_rebuilt_indexes",
            "Segment indexes rebuilt when the queue was opened.",
            None,
            |q| q.storage.recovery.indexes_rebuilt,
        ),
        (
            "ferry_storage_recovery_removed_segments",
            "Empty segments of a crashed roll removed when the queue was opened.",
            None,
            |q| q.storage.recovery.removed_segments,
        ),
    ];
    families_per_item(e, queues, queue_label, MetricType::Counter, counters)?;
    let f = &s.flusher;
    let flusher_counters = [
        (
            "ferry_storage_sync_requests",
            "Sync requests served by the group-commit flusher.",
            f.requests,
        ),
        (
            "ferry_storage_sync_rounds",
            "Group-commit rounds.",
            f.rounds,
        ),
        ("ferry_storage_fsyncs", "fdatasync calls.", f.syncs),
    ];
    for (name, help, value) in flusher_counters {
        family(
            e,
            name,
            help,
            None,
            MetricType::Counter,
            [(Labels::new(), value)],
        )?;
    }
    let h = &f.sync_latency;
    let count = h.counts.iter().sum();
    histogram_family(
        e,
        "ferry_storage_fsync_duration",
        "Duration of each fdatasync.",
        std::iter::once((
            Labels::new(),
            h.sum_us as f64 / 1_000_000.0,
            count,
            sync_buckets(h),
        )),
    )
}

fn stream_label(s: &StreamMetrics) -> Labels<'_> {
    vec![("stream", s.name.as_str())]
}

/// The `partition` label values, made once per scrape: `numbers[p]` is `p` in decimal.
fn partition_numbers(streams: &[StreamMetrics]) -> Vec<String> {
    let most = streams
        .iter()
        .map(|s| s.partitions.len())
        .max()
        .unwrap_or(0);
    (0..most).map(|p| p.to_string()).collect()
}

fn number(numbers: &[String], partition: u32) -> &str {
    usize::try_from(partition)
        .ok()
        .and_then(|p| numbers.get(p))
        .map_or("", String::as_str)
}

/// Streams: partition extents and storage, appends, consumer groups, compaction.
fn encode_streams(e: &mut DescriptorEncoder, streams: &[StreamMetrics]) -> fmt::Result {
    let numbers = partition_numbers(streams);
    let gauges: [(&str, &str, Option<&Unit>, PartitionGetter); 4] = [
        (
            "ferry_stream_partition_start_offset",
            "First offset still stored in the partition (earlier ones were removed by retention).",
            None,
            |p| p.start_offset,
        ),
        (
            "ferry_stream_partition_end_offset",
            "The offset the partition's next record gets (one past the last durable record).",
            None,
            |p| p.end_offset,
        ),
        (
            "ferry_stream_partition",
            "Bytes the partition's segment files take on disk.",
            Some(&Unit::Bytes),
            |p| p.bytes,
        ),
        (
            "ferry_stream_partition_segments",
            "Segment files of the partition's log.",
            None,
            |p| u64::from(p.segments),
        ),
    ];
    for (name, help, unit, get) in gauges {
        let samples = streams.iter().flat_map(|s| {
            let numbers = &numbers;
            s.partitions.iter().map(move |p| {
                (
                    vec![
                        ("stream", s.name.as_str()),
                        ("partition", number(numbers, p.partition)),
                    ],
                    get(p),
                )
            })
        });
        family(e, name, help, unit, MetricType::Gauge, samples)?;
    }
    family(
        e,
        "ferry_stream_groups",
        "Consumer groups of the stream with members or committed offsets.",
        None,
        MetricType::Gauge,
        streams.iter().map(|s| (stream_label(s), s.groups)),
    )?;
    let counters: [(&str, &str, StreamGetter); 5] = [
        (
            "ferry_stream_appended_records",
            "Records appended to the stream (the sum of its partitions' end offsets).",
            StreamMetrics::appended_records,
        ),
        (
            "ferry_stream_appended_batches",
            "Record batches appended: one per partition of a native append request, one per Kafka produce batch (since the stream was opened).",
            |s| s.events.appended_batches,
        ),
        (
            "ferry_stream_compaction_runs",
            "Compaction runs over the stream's partitions (since the stream was opened).",
            |s| s.events.compaction_runs,
        ),
        (
            "ferry_stream_compaction_rewritten_segments",
            "Segments rewritten by compaction.",
            |s| s.events.compaction_rewritten_segments,
        ),
        (
            "ferry_stream_compaction_removed_records",
            "Records removed by compaction (superseded values and expired tombstones).",
            |s| s.events.compaction_removed_records,
        ),
    ];
    families_per_item(
        e,
        streams,
        stream_label,
        MetricType::Counter,
        counters.map(|(name, help, get)| (name, help, None, get)),
    )?;
    encode_groups(e, streams, &numbers)
}

fn group_labels<'a>(
    s: &'a StreamMetrics,
    g: &'a GroupMetrics,
    numbers: &'a [String],
    partition: u32,
) -> Labels<'a> {
    vec![
        ("stream", s.name.as_str()),
        ("group", g.name.as_str()),
        ("partition", number(numbers, partition)),
    ]
}

/// Consumer groups: committed offsets and lag per partition, lag in time per group (at most
/// [`ferry_broker::metrics::MAX_GROUPS_PER_STREAM`] groups per stream, those with the most lag).
fn encode_groups(
    e: &mut DescriptorEncoder,
    streams: &[StreamMetrics],
    numbers: &[String],
) -> fmt::Result {
    let groups = || {
        streams
            .iter()
            .flat_map(|s| s.busiest_groups.iter().map(move |g| (s, g)))
    };
    let labels = |s, g, partition| group_labels(s, g, numbers, partition);
    let mut committed = Vec::new();
    let mut lag = Vec::new();
    for (s, g) in groups() {
        for p in &g.partitions {
            if let Some(offset) = p.committed_offset {
                committed.push((labels(s, g, p.partition), offset));
            }
            lag.push((labels(s, g, p.partition), p.lag_records));
        }
    }
    family(
        e,
        "ferry_stream_group_committed_offset",
        "The group's committed offset on the partition: the next offset it will read.",
        None,
        MetricType::Gauge,
        committed,
    )?;
    family(
        e,
        "ferry_stream_group_lag_records",
        "Records between the group's committed offset (the partition's start if none) and the partition's end.",
        None,
        MetricType::Gauge,
        lag,
    )?;
    family(
        e,
        "ferry_stream_group_lag",
        "Age of the oldest record the group has not consumed, over all partitions (0 when caught up).",
        Some(&Unit::Seconds),
        MetricType::Gauge,
        groups().filter_map(|(s, g)| {
            let ms = g.lag_ms?;
            Some((
                vec![("stream", s.name.as_str()), ("group", g.name.as_str())],
                ms as f64 / 1000.0,
            ))
        }),
    )
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let queues = &self.snapshot.queues;
        encode_queue_gauges(&mut encoder, queues)?;
        encode_fifo(&mut encoder, queues, self.snapshot.taken_at)?;
        encode_queue_counters(&mut encoder, queues)?;
        encode_resequence(&mut encoder, queues)?;
        encode_storage(&mut encoder, &self.snapshot)?;
        encode_streams(&mut encoder, &self.snapshot.streams)
    }
}

//! A short memory of the broker's numbers for the dashboard and `ferry top`: a ring buffer of
//! samples (say 10 minutes at 5 s), each holding per-queue depth, rates over the interval
//! before it, and latency quantiles of the messages delivered and acked in that interval; and
//! per stream its end offsets, bytes, append rate and consumer lag.
//!
//! Pure: [`History::record`] is fed [`MetricsSnapshot`]s by whoever samples (the HTTP server
//! runs a timer), so the arithmetic is tested without a clock.

use super::{LatencyHistogram, MetricsSnapshot, QueueMetrics, StreamMetrics};
use ferry_core::Timestamp;
use std::collections::VecDeque;

/// Most queues one sample keeps (by name order), bounding memory with many queues.
pub const MAX_QUEUES_PER_SAMPLE: usize = 1000;

/// Most streams one sample keeps (by name order).
pub const MAX_STREAMS_PER_SAMPLE: usize = 1000;

/// One stream at one sample.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamSample {
    /// The stream's name.
    pub name: String,
    /// The sum of its partitions' end offsets: records ever appended.
    pub end_offsets: u64,
    /// Bytes its partitions take on disk.
    pub bytes: u64,
    /// Records behind the ends, summed over every group and partition.
    pub lag_records: u64,
    /// Records appended per second over the interval before (none for the first sample).
    pub appended_per_s: Option<f64>,
}

/// One queue at one sample.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// The queue's name.
    pub name: String,
    /// Receivable messages.
    pub visible: u64,
    /// Delayed messages.
    pub delayed: u64,
    /// Leased messages.
    pub in_flight: u64,
    /// Age of the oldest stored message.
    pub oldest_age_ms: u64,
    /// Messages enqueued per second over the interval before (none for the first sample).
    pub enqueued_per_s: Option<f64>,
    /// Deliveries per second.
    pub delivered_per_s: Option<f64>,
    /// Acks per second.
    pub acked_per_s: Option<f64>,
    /// Messages dead-lettered per second.
    pub dead_lettered_per_s: Option<f64>,
    /// Median enqueue → first delivery of the messages first delivered in the interval.
    pub first_delivery_p50_ms: Option<f64>,
    /// 99th percentile of the same.
    pub first_delivery_p99_ms: Option<f64>,
    /// Median enqueue → ack of the messages acked in the interval.
    pub ack_p50_ms: Option<f64>,
    /// 99th percentile of the same.
    pub ack_p99_ms: Option<f64>,
}

/// The samples of one instant.
#[derive(Clone, Debug, Default, PartialEq)]
struct Row {
    at: Timestamp,
    queues: Vec<Sample>,
    streams: Vec<StreamSample>,
}

/// The ring buffer.
#[derive(Clone, Debug)]
pub struct History {
    capacity: usize,
    rows: VecDeque<Row>,
    last: Option<MetricsSnapshot>,
}

/// The history in columns, ready to chart: `times[i]` goes with index `i` of every series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistorySeries {
    /// The sample instants, oldest first.
    pub times: Vec<Timestamp>,
    /// Per queue (by name), its values at each instant; `None` where the queue did not exist
    /// or a rate or quantile had nothing to go on.
    pub queues: Vec<QueueSeries>,
    /// Per stream (by name), likewise.
    pub streams: Vec<StreamSeries>,
}

/// One stream's columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamSeries {
    /// The stream's name.
    pub name: String,
    /// See [`StreamSample::end_offsets`].
    pub end_offsets: Vec<Option<f64>>,
    /// See [`StreamSample::bytes`].
    pub bytes: Vec<Option<f64>>,
    /// See [`StreamSample::lag_records`].
    pub lag_records: Vec<Option<f64>>,
    /// See [`StreamSample::appended_per_s`].
    pub appended_per_s: Vec<Option<f64>>,
}

/// One queue's columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueSeries {
    /// The queue's name.
    pub name: String,
    /// See [`Sample::visible`].
    pub visible: Vec<Option<f64>>,
    /// See [`Sample::delayed`].
    pub delayed: Vec<Option<f64>>,
    /// See [`Sample::in_flight`].
    pub in_flight: Vec<Option<f64>>,
    /// See [`Sample::oldest_age_ms`].
    pub oldest_age_ms: Vec<Option<f64>>,
    /// See [`Sample::enqueued_per_s`].
    pub enqueued_per_s: Vec<Option<f64>>,
    /// See [`Sample::delivered_per_s`].
    pub delivered_per_s: Vec<Option<f64>>,
    /// See [`Sample::acked_per_s`].
    pub acked_per_s: Vec<Option<f64>>,
    /// See [`Sample::dead_lettered_per_s`].
    pub dead_lettered_per_s: Vec<Option<f64>>,
    /// See [`Sample::first_delivery_p50_ms`].
    pub first_delivery_p50_ms: Vec<Option<f64>>,
    /// See [`Sample::first_delivery_p99_ms`].
    pub first_delivery_p99_ms: Vec<Option<f64>>,
    /// See [`Sample::ack_p50_ms`].
    pub ack_p50_ms: Vec<Option<f64>>,
    /// See [`Sample::ack_p99_ms`].
    pub ack_p99_ms: Vec<Option<f64>>,
}

fn rate(now: u64, before: u64, seconds: f64) -> Option<f64> {
    (now >= before && seconds > 0.0).then(|| (now - before) as f64 / seconds)
}

fn quantiles(
    now: &LatencyHistogram,
    before: Option<&LatencyHistogram>,
) -> (Option<f64>, Option<f64>) {
    let interval = before.map_or(*now, |b| now.since(b));
    (interval.quantile_ms(0.5), interval.quantile_ms(0.99))
}

fn sample(q: &QueueMetrics, before: Option<&QueueMetrics>, seconds: f64) -> Sample {
    let s = &q.stats;
    let e = &q.events;
    let mut out = Sample {
        name: q.name.clone(),
        visible: s.visible,
        delayed: s.delayed,
        in_flight: s.in_flight,
        oldest_age_ms: s.oldest_age_ms,
        ..Sample::default()
    };
    if let Some(b) = before {
        out.enqueued_per_s = rate(s.enqueued_total, b.stats.enqueued_total, seconds);
        out.delivered_per_s = rate(s.delivered_total, b.stats.delivered_total, seconds);
        out.acked_per_s = rate(s.acked_total, b.stats.acked_total, seconds);
        out.dead_lettered_per_s = rate(s.dead_lettered, b.stats.dead_lettered, seconds);
    }
    let before_events = before.map(|b| &b.events);
    (out.first_delivery_p50_ms, out.first_delivery_p99_ms) = quantiles(
        &e.time_to_first_delivery,
        before_events.map(|b| &b.time_to_first_delivery),
    );
    (out.ack_p50_ms, out.ack_p99_ms) =
        quantiles(&e.time_to_ack, before_events.map(|b| &b.time_to_ack));
    out
}

fn stream_sample(s: &StreamMetrics, before: Option<&StreamMetrics>, seconds: f64) -> StreamSample {
    let end_offsets = s.appended_records();
    StreamSample {
        name: s.name.clone(),
        end_offsets,
        bytes: s.bytes(),
        lag_records: s.lag_records,
        appended_per_s: before.and_then(|b| rate(end_offsets, b.appended_records(), seconds)),
    }
}

/// The entry named `name` of a list sorted by name.
fn by_name<'a, T>(list: &'a [T], name: &str, key: fn(&T) -> &str) -> Option<&'a T> {
    list.binary_search_by(|x| key(x).cmp(name))
        .ok()
        .and_then(|i| list.get(i))
}

/// The names in any row, sorted, once each.
fn names<'a>(lists: impl Iterator<Item = impl Iterator<Item = &'a str>>) -> Vec<&'a str> {
    let mut names: Vec<&str> = lists.flatten().collect();
    names.sort_unstable();
    names.dedup();
    names
}

impl History {
    /// An empty history keeping the last `capacity` samples.
    pub fn new(capacity: usize) -> History {
        History {
            capacity: capacity.max(1),
            rows: VecDeque::new(),
            last: None,
        }
    }

    /// Adds a sample computed from `snapshot` and the snapshot recorded before it. The first
    /// sample has no rates; its latencies cover everything since the queues started.
    pub fn record(&mut self, mut snapshot: MetricsSnapshot) {
        snapshot.queues.sort_by(|a, b| a.name.cmp(&b.name));
        snapshot.queues.truncate(MAX_QUEUES_PER_SAMPLE);
        let last = self.last.as_ref();
        let seconds = last.map_or(0.0, |l| {
            snapshot.taken_at.0.saturating_sub(l.taken_at.0) as f64 / 1000.0
        });
        let queues = snapshot
            .queues
            .iter()
            .map(|q| {
                let before = last.and_then(|l| by_name(&l.queues, &q.name, |b| &b.name));
                sample(q, before, seconds)
            })
            .collect();
        snapshot.streams.sort_by(|a, b| a.name.cmp(&b.name));
        snapshot.streams.truncate(MAX_STREAMS_PER_SAMPLE);
        let streams = snapshot
            .streams
            .iter()
            .map(|s| {
                let before = last.and_then(|l| by_name(&l.streams, &s.name, |b| &b.name));
                stream_sample(s, before, seconds)
            })
            .collect();
        if self.rows.len() == self.capacity {
            self.rows.pop_front();
        }
        self.rows.push_back(Row {
            at: snapshot.taken_at,
            queues,
            streams,
        });
        self.last = Some(snapshot);
    }

    /// The latest sample of every queue, if any sample was taken.
    pub fn latest(&self) -> Option<(Timestamp, &[Sample])> {
        self.rows.back().map(|r| (r.at, r.queues.as_slice()))
    }

    /// The whole history in columns, every queue and stream seen in any sample included.
    pub fn series(&self) -> HistorySeries {
        let queue_names = names(
            self.rows
                .iter()
                .map(|r| r.queues.iter().map(|q| q.name.as_str())),
        );
        let queues = queue_names
            .into_iter()
            .map(|name| {
                let mut s = QueueSeries {
                    name: name.to_owned(),
                    ..QueueSeries::default()
                };
                for row in &self.rows {
                    series_push(&mut s, by_name(&row.queues, name, |q| &q.name));
                }
                s
            })
            .collect();
        let stream_names = names(
            self.rows
                .iter()
                .map(|r| r.streams.iter().map(|s| s.name.as_str())),
        );
        let streams = stream_names
            .into_iter()
            .map(|name| {
                let mut s = StreamSeries {
                    name: name.to_owned(),
                    ..StreamSeries::default()
                };
                for row in &self.rows {
                    let sample = by_name(&row.streams, name, |s| &s.name);
                    let gauge = |f: fn(&StreamSample) -> u64| sample.map(|x| f(x) as f64);
                    s.end_offsets.push(gauge(|x| x.end_offsets));
                    s.bytes.push(gauge(|x| x.bytes));
                    s.lag_records.push(gauge(|x| x.lag_records));
                    s.appended_per_s.push(sample.and_then(|x| x.appended_per_s));
                }
                s
            })
            .collect();
        HistorySeries {
            times: self.rows.iter().map(|r| r.at).collect(),
            queues,
            streams,
        }
    }
}

fn series_push(s: &mut QueueSeries, q: Option<&Sample>) {
    let gauge = |f: fn(&Sample) -> u64| q.map(|q| f(q) as f64);
    let opt = |f: fn(&Sample) -> Option<f64>| q.and_then(f);
    s.visible.push(gauge(|q| q.visible));
    s.delayed.push(gauge(|q| q.delayed));
    s.in_flight.push(gauge(|q| q.in_flight));
    s.oldest_age_ms.push(gauge(|q| q.oldest_age_ms));
    s.enqueued_per_s.push(opt(|q| q.enqueued_per_s));
    s.delivered_per_s.push(opt(|q| q.delivered_per_s));
    s.acked_per_s.push(opt(|q| q.acked_per_s));
    s.dead_lettered_per_s.push(opt(|q| q.dead_lettered_per_s));
    s.first_delivery_p50_ms
        .push(opt(|q| q.first_delivery_p50_ms));
    s.first_delivery_p99_ms
        .push(opt(|q| q.first_delivery_p99_ms));
    s.ack_p50_ms.push(opt(|q| q.ack_p50_ms));
    s.ack_p99_ms.push(opt(|q| q.ack_p99_ms));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(name: &str, enqueued: u64, acked: u64, ack_ms: &[u64]) -> QueueMetrics {
        let mut q = QueueMetrics {
            name: name.to_owned(),
            ..QueueMetrics::default()
        };
        q.stats.enqueued_total = enqueued;
        q.stats.acked_total = acked;
        q.stats.visible = enqueued - acked;
        for &ms in ack_ms {
            q.events.time_to_ack.record(ms);
        }
        q
    }

    fn snapshot(at: u64, queues: Vec<QueueMetrics>) -> MetricsSnapshot {
        MetricsSnapshot {
            taken_at: Timestamp(at),
            queues,
            ..MetricsSnapshot::default()
        }
    }

    #[test]
    fn rates_and_quantiles_cover_the_interval_before_each_sample() {
        let mut h = History::new(10);
        h.record(snapshot(10_000, vec![queue("a", 100, 0, &[])]));
        h.record(snapshot(15_000, vec![queue("a", 600, 50, &[300; 50])]));
        let (at, latest) = h.latest().unwrap_or((Timestamp(0), &[]));
        assert_eq!(at, Timestamp(15_000));
        let a = &latest[0];
        assert_eq!(a.enqueued_per_s, Some(100.0), "500 in 5 s");
        assert_eq!(a.acked_per_s, Some(10.0));
        assert_eq!(a.ack_p50_ms, Some(375.0), "300 ms lies in (250, 500]");
        assert_eq!(a.visible, 550);
        let s = h.series();
        assert_eq!(s.times, [Timestamp(10_000), Timestamp(15_000)]);
        assert_eq!(s.queues[0].enqueued_per_s, [None, Some(100.0)]);
    }

    #[test]
    fn the_ring_keeps_its_capacity_and_queues_come_and_go() {
        let mut h = History::new(2);
        h.record(snapshot(1_000, vec![queue("a", 1, 0, &[])]));
        h.record(snapshot(2_000, vec![queue("b", 1, 0, &[])]));
        h.record(snapshot(
            3_000,
            vec![queue("a", 5, 0, &[]), queue("b", 3, 0, &[])],
        ));
        let s = h.series();
        assert_eq!(s.times.len(), 2);
        let names: Vec<&str> = s.queues.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(
            s.queues[0].visible,
            [None, Some(5.0)],
            "a was absent at 2 s"
        );
        assert_eq!(
            s.queues[0].enqueued_per_s,
            [None, None],
            "no earlier sample of a"
        );
        assert_eq!(s.queues[1].enqueued_per_s, [None, Some(2.0)]);
    }

    fn stream(name: &str, ends: &[u64], lag_records: u64) -> StreamMetrics {
        StreamMetrics {
            name: name.to_owned(),
            partitions: (0u32..)
                .zip(ends)
                .map(
                    |(partition, &end_offset)| crate::stream_types::PartitionInfo {
                        partition,
                        start_offset: 0,
                        end_offset,
                        bytes: 100,
                        segments: 1,
                    },
                )
                .collect(),
            lag_records,
            ..StreamMetrics::default()
        }
    }

    #[test]
    fn streams_get_append_rates_from_their_end_offsets() {
        let mut h = History::new(10);
        let mut first = snapshot(10_000, vec![]);
        first.streams = vec![stream("s", &[10, 20], 5)];
        h.record(first);
        let mut second = snapshot(12_000, vec![]);
        second.streams = vec![stream("s", &[30, 40], 12), stream("new", &[3], 0)];
        h.record(second);
        let s = h.series();
        let names: Vec<&str> = s.streams.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["new", "s"]);
        let st = &s.streams[1];
        assert_eq!(st.end_offsets, [Some(30.0), Some(70.0)]);
        assert_eq!(st.appended_per_s, [None, Some(20.0)], "40 records in 2 s");
        assert_eq!(st.lag_records, [Some(5.0), Some(12.0)]);
        assert_eq!(st.bytes, [Some(200.0), Some(200.0)]);
        assert_eq!(s.streams[0].end_offsets, [None, Some(3.0)]);
    }

    #[test]
    fn a_recreated_queue_has_no_negative_rate() {
        let mut h = History::new(4);
        h.record(snapshot(1_000, vec![queue("a", 10, 0, &[])]));
        h.record(snapshot(2_000, vec![queue("a", 2, 0, &[])]));
        assert_eq!(h.series().queues[0].enqueued_per_s, [None, None]);
    }
}

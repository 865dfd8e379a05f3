//! `ferry stats`: every queue's depth, rates and latency, and every stream's size, append rate
//! and consumer lag, printed once (two tables, or JSON).
//!
//! Depths, offsets and totals are exact and current (`GET /v1/queues/{q}`,
//! `GET /v1/streams/{s}`); rates, latency percentiles and lag come from the server's latest
//! history sample (`GET /v1/metrics/history`), so they describe the last sampling interval
//! (5 s by default).

use crate::cli::StatsArgs;
use crate::failure::Failure;
use crate::output::Table;
use ferry_api::{MetricsHistory, QueueDetails, QueueHistory, StreamDetails, StreamHistory};
use ferry_client::Client;
use serde::Serialize;

/// One queue's line.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) fifo: bool,
    pub(crate) visible: u64,
    pub(crate) delayed: u64,
    pub(crate) in_flight: u64,
    pub(crate) dead_lettered: u64,
    pub(crate) oldest_age_ms: u64,
    pub(crate) enqueued_total: u64,
    pub(crate) acked_total: u64,
    pub(crate) enqueued_per_s: Option<f64>,
    pub(crate) acked_per_s: Option<f64>,
    pub(crate) first_delivery_p99_ms: Option<f64>,
    pub(crate) ack_p99_ms: Option<f64>,
}

/// Joins a queue's live details with its latest history sample.
pub(crate) fn row(d: &QueueDetails, history: Option<&QueueHistory>) -> Row {
    let s = &d.stats;
    let last =
        |f: fn(&QueueHistory) -> &Vec<Option<f64>>| history.and_then(|h| QueueHistory::last(f(h)));
    Row {
        name: d.name.clone(),
        fifo: d.config.fifo,
        visible: s.visible,
        delayed: s.delayed,
        in_flight: s.in_flight,
        dead_lettered: s.dead_lettered,
        oldest_age_ms: s.oldest_age_ms,
        enqueued_total: s.enqueued_total,
        acked_total: s.acked_total,
        enqueued_per_s: last(|h| &h.enqueued_per_s),
        acked_per_s: last(|h| &h.acked_per_s),
        first_delivery_p99_ms: last(|h| &h.first_delivery_p99_ms),
        ack_p99_ms: last(|h| &h.ack_p99_ms),
    }
}

/// One stream's line.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct StreamRow {
    pub(crate) name: String,
    pub(crate) partitions: u32,
    /// Records stored now (end minus start, over every partition).
    pub(crate) records: u64,
    /// Records ever appended (the partitions' end offsets, summed).
    pub(crate) appended_total: u64,
    pub(crate) bytes: u64,
    pub(crate) groups: usize,
    pub(crate) appended_per_s: Option<f64>,
    /// Records behind the partitions' ends, summed over the groups with the most lag.
    pub(crate) lag_records: Option<f64>,
}

/// Joins a stream's live details with its latest history sample.
pub(crate) fn stream_row(d: &StreamDetails, history: Option<&StreamHistory>) -> StreamRow {
    let last =
        |f: fn(&StreamHistory) -> &Vec<Option<f64>>| history.and_then(|h| QueueHistory::last(f(h)));
    StreamRow {
        name: d.name.clone(),
        partitions: d.config.partitions,
        records: d
            .partitions
            .iter()
            .map(|p| p.end_offset.saturating_sub(p.start_offset))
            .sum(),
        appended_total: d.partitions.iter().map(|p| p.end_offset).sum(),
        bytes: d.partitions.iter().map(|p| p.bytes).sum(),
        groups: d.groups.len(),
        appended_per_s: last(|h| &h.appended_per_s),
        lag_records: last(|h| &h.lag_records),
    }
}

/// Every queue's and every stream's line.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct Snapshot {
    pub(crate) queues: Vec<Row>,
    pub(crate) streams: Vec<StreamRow>,
}

/// Fetches every queue's and stream's row.
///
/// # Errors
/// When the server cannot be reached or answers an error (a queue or stream deleted
/// meanwhile is skipped).
pub(crate) async fn fetch(client: &Client) -> Result<Snapshot, Failure> {
    let history: MetricsHistory = client.metrics_history().await?;
    let mut snapshot = Snapshot::default();
    for q in client.list_queues().await? {
        let details = match client.queue_info(&q.name).await {
            Ok(details) => details,
            Err(e) if e.code() == "queue_not_found" => continue,
            Err(e) => return Err(e.into()),
        };
        let h = history.queues.iter().find(|h| h.name == q.name);
        snapshot.queues.push(row(&details, h));
    }
    for s in client.list_streams().await? {
        let details = match client.stream_info(&s.name).await {
            Ok(details) => details,
            Err(e) if e.code() == "stream_not_found" => continue,
            Err(e) => return Err(e.into()),
        };
        let h = history.streams.iter().find(|h| h.name == s.name);
        snapshot.streams.push(stream_row(&details, h));
    }
    Ok(snapshot)
}

/// A duration for people: `850ms`, `12.5s`, `3.2m`, `1.5h`, `2.0d`.
pub(crate) fn duration(ms: f64) -> String {
    let s = ms / 1000.0;
    if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{:.1}m", s / 60.0)
    } else if s < 86_400.0 {
        format!("{:.1}h", s / 3600.0)
    } else {
        format!("{:.1}d", s / 86_400.0)
    }
}

/// A rate, or `-`.
pub(crate) fn rate(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_owned(), |r| format!("{r:.1}"))
}

/// The column titles of the table (shared with `ferry top`).
pub(crate) const HEADER: [&str; 11] = [
    "QUEUE",
    "VISIBLE",
    "DELAYED",
    "IN-FLIGHT",
    "DLQ'D",
    "OLDEST",
    "IN/S",
    "ACK/S",
    "P99 DELIVER",
    "P99 ACK",
    "ENQUEUED",
];

/// One row's cells, in [`HEADER`] order.
pub(crate) fn cells(r: &Row) -> Vec<String> {
    vec![
        if r.fifo {
            format!("{} (fifo)", r.name)
        } else {
            r.name.clone()
        },
        r.visible.to_string(),
        r.delayed.to_string(),
        r.in_flight.to_string(),
        r.dead_lettered.to_string(),
        duration(r.oldest_age_ms as f64),
        rate(r.enqueued_per_s),
        rate(r.acked_per_s),
        r.first_delivery_p99_ms
            .map_or_else(|| "-".to_owned(), duration),
        r.ack_p99_ms.map_or_else(|| "-".to_owned(), duration),
        r.enqueued_total.to_string(),
    ]
}

/// The column titles of the streams table (shared with `ferry top`).
pub(crate) const STREAM_HEADER: [&str; 7] = [
    "STREAM",
    "PARTITIONS",
    "RECORDS",
    "BYTES",
    "IN/S",
    "GROUPS",
    "LAG",
];

/// One stream row's cells, in [`STREAM_HEADER`] order.
pub(crate) fn stream_cells(r: &StreamRow) -> Vec<String> {
    vec![
        r.name.clone(),
        r.partitions.to_string(),
        r.records.to_string(),
        r.bytes.to_string(),
        rate(r.appended_per_s),
        r.groups.to_string(),
        r.lag_records
            .map_or_else(|| "-".to_owned(), |l| format!("{l:.0}")),
    ]
}

/// The queues as a table, then the streams as another (when there are any).
pub(crate) fn render(snapshot: &Snapshot) -> String {
    let mut table = Table::new(&HEADER);
    for r in &snapshot.queues {
        table.row(cells(r));
    }
    let mut text = table.render();
    if !snapshot.streams.is_empty() {
        let mut streams = Table::new(&STREAM_HEADER);
        for r in &snapshot.streams {
            streams.row(stream_cells(r));
        }
        text.push('\n');
        text.push_str(&streams.render());
    }
    text
}

/// Runs `ferry stats`.
///
/// # Errors
/// When the server cannot be reached.
pub(crate) async fn run(args: StatsArgs) -> Result<(), Failure> {
    let client = Client::new(&args.url)?;
    let snapshot = fetch(&client).await?;
    if args.json {
        let json = serde_json::to_string_pretty(&snapshot)
            .map_err(|e| Failure::new("internal", e.to_string()))?;
        println!("{json}");
    } else {
        print!("{}", render(&snapshot));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration(850.0), "850ms");
        assert_eq!(duration(12_500.0), "12.5s");
        assert_eq!(duration(192_000.0), "3.2m");
        assert_eq!(duration(5_400_000.0), "1.5h");
        assert_eq!(duration(172_800_000.0), "2.0d");
    }

    #[test]
    fn a_row_joins_live_stats_with_the_latest_sample() {
        let mut details = QueueDetails {
            name: "jobs".into(),
            config: ferry_api::QueueConfig::default(),
            stats: ferry_api::QueueStats::default(),
            created_at: ferry_api::Timestamp(0),
            updated_at: ferry_api::Timestamp(0),
            dead_letter_sources: Vec::new(),
        };
        details.stats.visible = 7;
        details.stats.oldest_age_ms = 1500;
        let history = QueueHistory {
            name: "jobs".into(),
            enqueued_per_s: vec![None, Some(12.0)],
            ack_p99_ms: vec![Some(40.0), None],
            ..QueueHistory::default()
        };
        let r = row(&details, Some(&history));
        assert_eq!(r.enqueued_per_s, Some(12.0));
        assert_eq!(r.ack_p99_ms, None, "only the latest sample counts");
        let text = render(&Snapshot {
            queues: vec![r],
            streams: Vec::new(),
        });
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("QUEUE  VISIBLE"));
        assert!(lines[1].starts_with("jobs   7"), "{text}");
        assert!(
            lines[1].contains("1.5s") && lines[1].contains("12.0"),
            "{text}"
        );
        assert!(!text.contains("STREAM"), "no streams table without streams");
    }

    #[test]
    fn a_stream_row_sums_its_partitions_and_takes_the_latest_sample() {
        let partition = |p, start, end, bytes| ferry_api::PartitionInfo {
            partition: p,
            start_offset: start,
            end_offset: end,
            bytes,
            ..ferry_api::PartitionInfo::default()
        };
        let details = StreamDetails {
            name: "orders".into(),
            config: ferry_api::StreamConfig {
                partitions: 2,
                ..ferry_api::StreamConfig::default()
            },
            created_at: ferry_api::Timestamp(0),
            updated_at: ferry_api::Timestamp(0),
            partitions: vec![partition(0, 10, 110, 4000), partition(1, 0, 50, 2000)],
            groups: vec!["billing".into()],
        };
        let history = StreamHistory {
            name: "orders".into(),
            appended_per_s: vec![Some(3.0), Some(40.0)],
            lag_records: vec![Some(7.0)],
            ..StreamHistory::default()
        };
        let r = stream_row(&details, Some(&history));
        assert_eq!(
            (r.records, r.appended_total, r.bytes, r.groups),
            (150, 160, 6000, 1)
        );
        assert_eq!((r.appended_per_s, r.lag_records), (Some(40.0), Some(7.0)));
        let text = render(&Snapshot {
            queues: Vec::new(),
            streams: vec![r],
        });
        let line = text
            .lines()
            .find(|l| l.starts_with("orders"))
            .unwrap_or_default();
        assert!(line.contains(" 150 ") && line.contains("40.0"), "{text}");
    }
}

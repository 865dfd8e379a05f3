//! `ferry stats`: every queue's depth, rates and latency, printed once (a table, or JSON).
//!
//! Depths and totals are exact and current (`GET /v1/queues/{q}`); rates and latency
//! percentiles come from the server's latest history sample (`GET /v1/metrics/history`), so
//! they describe the last sampling interval (5 s by default).

use crate::cli::StatsArgs;
use crate::failure::Failure;
use crate::output::Table;
use ferry_api::{MetricsHistory, QueueDetails, QueueHistory};
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

/// Fetches every queue's row.
///
/// # Errors
/// When the server cannot be reached or answers an error (a queue deleted meanwhile is
/// skipped).
pub(crate) async fn fetch(client: &Client) -> Result<Vec<Row>, Failure> {
    let queues = client.list_queues().await?;
    let history: MetricsHistory = client.metrics_history().await?;
    let mut rows = Vec::with_capacity(queues.len());
    for q in queues {
        let details = match client.queue_info(&q.name).await {
            Ok(details) => details,
            Err(e) if e.code() == "queue_not_found" => continue,
            Err(e) => return Err(e.into()),
        };
        let h = history.queues.iter().find(|h| h.name == q.name);
        rows.push(row(&details, h));
    }
    Ok(rows)
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

/// The rows as a table.
pub(crate) fn render(rows: &[Row]) -> String {
    let mut table = Table::new(&HEADER);
    for r in rows {
        table.row(cells(r));
    }
    table.render()
}

/// Runs `ferry stats`.
///
/// # Errors
/// When the server cannot be reached.
pub(crate) async fn run(args: StatsArgs) -> Result<(), Failure> {
    let client = Client::new(&args.url)?;
    let rows = fetch(&client).await?;
    if args.json {
        let json = serde_json::to_string_pretty(&rows)
            .map_err(|e| Failure::new("internal", e.to_string()))?;
        println!("{json}");
    } else {
        print!("{}", render(&rows));
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
        let text = render(&[r]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("QUEUE  VISIBLE"));
        assert!(lines[1].starts_with("jobs   7"), "{text}");
        assert!(
            lines[1].contains("1.5s") && lines[1].contains("12.0"),
            "{text}"
        );
    }
}

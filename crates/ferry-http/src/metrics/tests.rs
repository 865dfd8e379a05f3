use super::http::HttpMetrics;
use super::render_with;
use ferry_broker::PartitionInfo;
use ferry_broker::metrics::{
    Breakdown, FifoBreakdown, GroupLoad, GroupMetrics, GroupPartitionMetrics, MetricsSnapshot,
    QueueMetrics, StreamEvents, StreamMetrics, Tally,
};
use ferry_broker::{ResequenceStats, Timestamp};

fn stream() -> StreamMetrics {
    let partition = |partition, start_offset, end_offset| PartitionInfo {
        partition,
        start_offset,
        end_offset,
        bytes: 4096 * u64::from(partition + 1),
        segments: partition + 1,
    };
    StreamMetrics {
        name: "orders".into(),
        partitions: vec![partition(0, 0, 7), partition(1, 2, 5)],
        events: StreamEvents {
            appended_batches: 3,
            compaction_runs: 2,
            compaction_rewritten_segments: 1,
            compaction_removed_records: 9,
        },
        groups: 2,
        lag_records: 4,
        busiest_groups: vec![GroupMetrics {
            name: "billing".into(),
            partitions: vec![
                GroupPartitionMetrics {
                    partition: 0,
                    committed_offset: Some(4),
                    lag_records: 3,
                },
                GroupPartitionMetrics {
                    partition: 1,
                    committed_offset: None,
                    lag_records: 3,
                },
            ],
            lag_ms: Some(1500),
        }],
    }
}

/// A snapshot with a resequencing queue next to the FIFO one.
fn snapshot_with_resequencing() -> MetricsSnapshot {
    let mut s = snapshot();
    let mut q = QueueMetrics {
        name: "work".into(),
        ..QueueMetrics::default()
    };
    q.stats.resequence = Some(ResequenceStats {
        held_back: 3,
        held_back_bytes: 30,
        releasing: 2,
        blocked_gaps: 1,
        oldest_gap_age_ms: 1500,
        completed_total: 9,
        released_total: 4,
        gaps_total: 1,
    });
    s.queues.push(q);
    s
}

fn snapshot() -> MetricsSnapshot {
    let mut q = QueueMetrics {
        name: "jobs.fifo".into(),
        fifo: true,
        dead_letter_queue: Some("dlq.fifo".into()),
        ..QueueMetrics::default()
    };
    q.stats.enqueued_total = 12;
    q.stats.acked_total = 7;
    q.stats.oldest_age_ms = 2500;
    q.events.redelivered = 2;
    q.events.rejected.queue_full = 3;
    q.events.time_to_ack.record(300);
    q.events.time_to_ack.record(700);
    q.storage.written_bytes = 4096;
    q.breakdown = Some(Breakdown {
        visible: Tally {
            messages: 4,
            bytes: 40,
        },
        in_flight: Tally {
            messages: 1,
            bytes: 10,
        },
        fifo: Some(FifoBreakdown {
            groups: 2,
            groups_in_flight: 1,
            busiest: vec![GroupLoad {
                group: "g\"1".into(),
                messages: 3,
                in_flight: 1,
                oldest_enqueued_at: Timestamp(7_000),
            }],
        }),
        ..Breakdown::default()
    });
    let mut s = MetricsSnapshot {
        taken_at: Timestamp(10_000),
        queues: vec![q],
        streams: vec![stream()],
        ..MetricsSnapshot::default()
    };
    s.flusher.syncs = 5;
    s.flusher.sync_latency.counts[0] = 5;
    s.flusher.sync_latency.sum_us = 250;
    s
}

fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{text}"))
}

#[test]
fn the_exposition_has_exact_values_units_and_bounded_labels() {
    let text = render_with(snapshot(), HttpMetrics::default().registry(), &[]).unwrap_or_default();
    let q = "queue=\"jobs.fifo\"";
    assert_eq!(
        line(&text, &format!("ferry_queue_enqueued_total{{{q}}}")),
        format!("ferry_queue_enqueued_total{{{q}}} 12")
    );
    assert_eq!(
        line(&text, &format!("ferry_queue_acked_total{{{q}}}")),
        format!("ferry_queue_acked_total{{{q}}} 7")
    );
    assert_eq!(
        line(&text, &format!("ferry_queue_redelivered_total{{{q}}}")),
        format!("ferry_queue_redelivered_total{{{q}}} 2")
    );
    assert!(text.contains(&format!(
        "ferry_queue_rejected_total{{{q},reason=\"queue_full\"}} 3"
    )));
    assert!(text.contains(&format!("ferry_queue_messages{{{q},state=\"visible\"}} 4")));
    assert!(text.contains(&format!("ferry_queue_bytes{{{q},state=\"in_flight\"}} 10")));
    assert!(text.contains(&format!(
        "ferry_queue_oldest_message_age_seconds{{{q}}} 2.5"
    )));
    assert!(text.contains(&format!(
        "ferry_queue_info{{{q},fifo=\"true\",dead_letter_queue=\"dlq.fifo\"}} 1"
    )));
    assert!(text.contains(&format!("ferry_queue_fifo_groups_in_flight{{{q}}} 1")));
    assert!(
        text.contains(&format!(
            "ferry_queue_fifo_group_oldest_message_age_seconds{{{q},group=\"g\\\"1\"}} 3.0"
        )),
        "group label escaped, age from the snapshot's instant:\n{text}"
    );
    // 300 ms lands in (0.25, 0.5], 700 ms in (0.5, 1]; buckets are cumulative.
    assert!(text.contains(&format!(
        "ferry_queue_time_to_ack_seconds_bucket{{le=\"0.25\",{q}}} 0"
    )));
    assert!(text.contains(&format!(
        "ferry_queue_time_to_ack_seconds_bucket{{le=\"0.5\",{q}}} 1"
    )));
    assert!(text.contains(&format!(
        "ferry_queue_time_to_ack_seconds_bucket{{le=\"1.0\",{q}}} 2"
    )));
    assert!(text.contains(&format!("ferry_queue_time_to_ack_seconds_count{{{q}}} 2")));
    assert!(text.contains(&format!("ferry_queue_time_to_ack_seconds_sum{{{q}}} 1.0")));
    assert!(text.contains(&format!("ferry_storage_written_bytes_total{{{q}}} 4096")));
    assert!(text.contains("ferry_storage_fsyncs_total 5"));
    assert!(text.contains("ferry_storage_fsync_duration_seconds_bucket{le=\"0.0001\"} 5"));
    assert!(text.contains("ferry_http_open_connections 0"), "{text}");
    assert!(text.contains("ferry_build_info{version="));
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn resequencing_queues_report_held_back_results_gaps_and_releases() {
    let snapshot = snapshot_with_resequencing();
    let text = render_with(snapshot, HttpMetrics::default().registry(), &[]).unwrap_or_default();
    let q = "queue=\"work\"";
    for expected in [
        format!("ferry_queue_held_back_results{{{q}}} 3"),
        format!("ferry_queue_held_back_bytes{{{q}}} 30"),
        format!("ferry_queue_releasing_results{{{q}}} 2"),
        format!("ferry_queue_blocked_gaps{{{q}}} 1"),
        format!("ferry_queue_oldest_gap_age_seconds{{{q}}} 1.5"),
        format!("ferry_queue_completed_total{{{q}}} 9"),
        format!("ferry_queue_released_total{{{q}}} 4"),
        format!("ferry_queue_gaps_total{{{q}}} 1"),
    ] {
        assert!(text.contains(&expected), "{expected} missing:\n{text}");
    }
    assert!(
        !text.contains("ferry_queue_held_back_results{queue=\"jobs.fifo\"}"),
        "queues that do not resequence have no resequencer samples"
    );
}

#[test]
fn streams_have_exact_extents_lag_and_counters() {
    let text = render_with(snapshot(), HttpMetrics::default().registry(), &[]).unwrap_or_default();
    let s = "stream=\"orders\"";
    for expected in [
        format!("ferry_stream_partition_start_offset{{{s},partition=\"1\"}} 2"),
        format!("ferry_stream_partition_end_offset{{{s},partition=\"0\"}} 7"),
        format!("ferry_stream_partition_end_offset{{{s},partition=\"1\"}} 5"),
        format!("ferry_stream_partition_bytes{{{s},partition=\"1\"}} 8192"),
        format!("ferry_stream_partition_segments{{{s},partition=\"0\"}} 1"),
        format!("ferry_stream_appended_records_total{{{s}}} 12"),
        format!("ferry_stream_appended_batches_total{{{s}}} 3"),
        format!("ferry_stream_groups{{{s}}} 2"),
        format!("ferry_stream_group_committed_offset{{{s},group=\"billing\",partition=\"0\"}} 4"),
        format!("ferry_stream_group_lag_records{{{s},group=\"billing\",partition=\"1\"}} 3"),
        format!("ferry_stream_group_lag_seconds{{{s},group=\"billing\"}} 1.5"),
        format!("ferry_stream_compaction_runs_total{{{s}}} 2"),
        format!("ferry_stream_compaction_removed_records_total{{{s}}} 9"),
        format!("ferry_stream_compaction_rewritten_segments_total{{{s}}} 1"),
    ] {
        assert!(
            text.lines().any(|l| l == expected),
            "no line {expected:?} in:\n{text}"
        );
    }
    assert!(
        !text.contains("ferry_stream_group_committed_offset{stream=\"orders\",group=\"billing\",partition=\"1\"}"),
        "no committed offset where the group committed none"
    );
    assert!(text.contains("# TYPE ferry_stream_appended_records counter"));
    assert!(text.contains("# TYPE ferry_stream_group_lag_seconds gauge"));
    assert!(text.contains("# UNIT ferry_stream_partition_bytes bytes"));
}

#[test]
fn every_metric_the_grafana_dashboard_uses_exists() {
    let http = HttpMetrics::default();
    http.record("/v1/queues/{q}", "GET", 200, 0.01);
    let text = render_with(snapshot_with_resequencing(), http.registry(), &[]).unwrap_or_default();
    let dashboard = include_str!("../../../../deploy/grafana/ferry.json");
    let mut checked = 0;
    for (start, _) in dashboard.match_indices("ferry_") {
        let name: String = dashboard[start..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if name == "ferry_" {
            continue;
        }
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "the Grafana dashboard uses {name}, which /metrics does not serve"
        );
        checked += 1;
    }
    assert!(checked > 20, "only {checked} metric references");
}

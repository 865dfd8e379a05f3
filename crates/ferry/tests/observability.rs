//! Observability against the real binary: `/metrics` after scripted traffic (exact numbers,
//! queues and streams), latency histograms, readiness during recovery, `ferry stats`.

mod common;

use common::{DataDir, Server, runtime};
use ferry_client::Client;
use ferry_client::api::{
    AppendRecord, AppendRequest, Cleanup, CommitOffset, CommitRequest, NackRequest, QueueConfig,
    ReceiveRequest, SendEntry, StreamConfig,
};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn receive(max: u32) -> ReceiveRequest {
    ReceiveRequest {
        max: Some(max),
        wait_ms: Some(1000),
        consumer: Some("worker-1".into()),
        ..ReceiveRequest::default()
    }
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// The value of the sample whose name and labels are exactly `series`, if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
}

async fn scrape(client: &Client) -> String {
    ok(client.metrics_text().await)
}

#[test]
fn metrics_count_scripted_traffic_exactly() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        ok(client.put_queue("work-dlq", &QueueConfig::default()).await);
        let config = QueueConfig {
            max_receives: Some(2),
            dead_letter_queue: Some("work-dlq".into()),
            max_message_bytes: 100,
            ..QueueConfig::default()
        };
        ok(client.put_queue("work", &config).await);
        let bodies = (0..10).map(|i| SendEntry::text(format!("m{i}"))).collect();
        ok(client.send("work", bodies).await);
        let dup = |_| SendEntry {
            dedup_id: Some("once".into()),
            ..SendEntry::text("dup")
        };
        ok(client.send("work", (0..2).map(dup).collect()).await);
        let too_big = client
            .send("work", vec![SendEntry::text("x".repeat(200))])
            .await;
        assert_eq!(
            too_big.err().map(|e| e.code().to_owned()).as_deref(),
            Some("message_too_large")
        );

        // Four deliveries: ack three, nack one; it comes back (a redelivery) and is nacked
        // again, which dead-letters it (max_receives 2).
        let got = ok(client.receive("work", &receive(4)).await);
        assert_eq!(got.len(), 4);
        let receipts: Vec<String> = got.iter().map(|m| m.receipt.clone()).collect();
        ok(client.ack("work", receipts[..3].to_vec()).await);
        let nack = |r: &str| NackRequest {
            receipts: vec![r.to_owned()],
            delay_ms: Some(0),
            reason: Some("boom".into()),
        };
        ok(client.nack("work", &nack(&receipts[3])).await);
        let again = ok(client.receive("work", &receive(1)).await);
        assert_eq!(again.first().map(|m| m.receive_count), Some(2));
        ok(client.nack("work", &nack(&again[0].receipt)).await);
        let stale = ok(client
            .ack("work", vec![receipts[3].clone(), "garbage".into()])
            .await);
        assert_eq!(stale.failed.len(), 2);
        let missing = client.queue_info("nope").await;
        assert_eq!(missing.err().and_then(|e| e.status()), Some(404));

        // The dead letter reaches its queue asynchronously.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut text = scrape(&client).await;
        let moved = |text: &str| {
            sample(
                text,
                r#"ferry_queue_messages{queue="work-dlq",state="visible"}"#,
            ) == Some(1.0)
                && sample(
                    text,
                    r#"ferry_queue_messages{queue="work",state="dead_lettering"}"#,
                ) == Some(0.0)
        };
        while !moved(&text) {
            assert!(
                Instant::now() < deadline,
                "dead letter never arrived:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            text = scrape(&client).await;
        }
        let q = r#"queue="work""#;
        let expect = [
            ("ferry_queue_enqueued_total", 11.0),
            ("ferry_queue_delivered_total", 5.0),
            ("ferry_queue_acked_total", 3.0),
            ("ferry_queue_nacked_total", 2.0),
            ("ferry_queue_redelivered_total", 1.0),
            ("ferry_queue_dead_lettered_total", 1.0),
            ("ferry_queue_deduplicated_total", 1.0),
            ("ferry_queue_expired_total", 0.0),
        ];
        for (name, want) in expect {
            assert_eq!(value(&text, &format!("{name}{{{q}}}")), want, "{name}");
        }
        for (reason, want) in [
            ("stale_receipt", 1.0),
            ("invalid_receipt", 1.0),
            ("message_too_large", 1.0),
            ("queue_full", 0.0),
        ] {
            assert_eq!(
                value(
                    &text,
                    &format!(r#"ferry_queue_rejected_total{{{q},reason="{reason}"}}"#)
                ),
                want,
                "{reason}"
            );
        }
        for (state, want) in [
            ("visible", 7.0),
            ("delayed", 0.0),
            ("in_flight", 0.0),
            ("dead_lettering", 0.0),
        ] {
            assert_eq!(
                value(
                    &text,
                    &format!(r#"ferry_queue_messages{{{q},state="{state}"}}"#)
                ),
                want,
                "{state}"
            );
        }
        // Bodies "m4".."m9" and "dup": 6 × 2 + 3 bytes.
        assert_eq!(
            value(
                &text,
                &format!(r#"ferry_queue_bytes{{{q},state="visible"}}"#)
            ),
            15.0
        );
        assert_eq!(
            value(&text, r#"ferry_queue_enqueued_total{queue="work-dlq"}"#),
            1.0
        );
        assert_eq!(
            value(
                &text,
                &format!("ferry_queue_time_to_first_delivery_seconds_count{{{q}}}")
            ),
            4.0
        );
        assert_eq!(
            value(
                &text,
                &format!("ferry_queue_time_to_ack_seconds_count{{{q}}}")
            ),
            3.0
        );
        assert!(value(&text, &format!("ferry_storage_written_bytes_total{{{q}}}")) > 0.0);
        assert_eq!(value(&text, &format!("ferry_storage_segments{{{q}}}")), 1.0);
        assert!(value(&text, "ferry_storage_fsyncs_total") >= 1.0);
        let route = |r: &str, m: &str, s: u16| {
            format!(r#"ferry_http_requests_total{{route="{r}",method="{m}",status="{s}"}}"#)
        };
        assert_eq!(
            value(&text, &route("/v1/queues/{q}/receive", "POST", 200)),
            2.0
        );
        assert_eq!(value(&text, &route("/v1/queues/{q}/ack", "POST", 200)), 2.0);
        assert_eq!(
            value(&text, &route("/v1/queues/{q}/messages", "POST", 413)),
            1.0
        );
        assert_eq!(value(&text, &route("/v1/queues/{q}", "GET", 404)), 1.0);
        assert!(value(&text, "ferry_http_open_connections") >= 1.0);
        assert!(text.contains(
            r#"ferry_queue_info{queue="work",fifo="false",dead_letter_queue="work-dlq"} 1"#
        ));
    });
}

fn append(records: Vec<AppendRecord>) -> AppendRequest {
    AppendRequest {
        records,
        expected_offset: None,
    }
}

fn commit(offsets: &[(u32, u64)]) -> CommitRequest {
    CommitRequest {
        member_id: None,
        generation: None,
        offsets: offsets
            .iter()
            .map(|&(partition, offset)| CommitOffset {
                partition,
                offset,
                metadata: None,
            })
            .collect(),
    }
}

// docs/operations.md#reference (streams)
#[test]
fn stream_metrics_show_exact_offsets_lag_and_compaction() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        let two = StreamConfig {
            partitions: 2,
            ..StreamConfig::default()
        };
        ok(client.put_stream("events", &two).await);
        // 11 records written an hour ago (producer timestamps): 5 to partition 0 and 6 to
        // partition 1, in three batches (one append spanning both partitions, then one more).
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let an_hour_ago = ferry_client::api::Timestamp(now_ms - 3_600_000);
        let old = |i: u32, p: u32| AppendRecord {
            timestamp: Some(an_hour_ago),
            ..AppendRecord::text(format!("e{i}")).with_partition(p)
        };
        ok(client
            .append("events", &append((0..10).map(|i| old(i, i % 2)).collect()))
            .await);
        ok(client.append("events", &append(vec![old(10, 1)])).await);
        // "billing" has read 2 records of partition 0 and none of partition 1; "audit" all.
        ok(client.commit_offsets("events", "billing", &commit(&[(0, 2)])).await);
        ok(client
            .commit_offsets("events", "audit", &commit(&[(0, 5), (1, 6)]))
            .await);

        // A compacted stream with one key written over 1 MiB, so the first segment closes
        // and compaction has something to remove.
        let compacted = StreamConfig {
            cleanup: Cleanup::Compact,
            segment_bytes: Some(1024 * 1024),
            ..StreamConfig::default()
        };
        ok(client.put_stream("kv", &compacted).await);
        for i in 0..12 {
            let value = format!("{i}-{}", "v".repeat(100_000));
            ok(client
                .append("kv", &append(vec![AppendRecord::text(value).with_key("k")]))
                .await);
        }
        let compaction = ok(client.compact_stream("kv").await);
        assert!(compaction.records_removed > 0, "{compaction:?}");

        let text = scrape(&client).await;
        let events = |series: &str| value(&text, &series.replace("S", r#"stream="events""#));
        assert_eq!(events("ferry_stream_partition_start_offset{S,partition=\"0\"}"), 0.0);
        assert_eq!(events("ferry_stream_partition_end_offset{S,partition=\"0\"}"), 5.0);
        assert_eq!(events("ferry_stream_partition_end_offset{S,partition=\"1\"}"), 6.0);
        assert_eq!(events("ferry_stream_partition_segments{S,partition=\"1\"}"), 1.0);
        assert!(events("ferry_stream_partition_bytes{S,partition=\"1\"}") > 0.0);
        assert_eq!(events("ferry_stream_appended_records_total{S}"), 11.0);
        assert_eq!(events("ferry_stream_appended_batches_total{S}"), 3.0);
        assert_eq!(events("ferry_stream_groups{S}"), 2.0);
        let billing = |series: &str| events(&series.replace("G", r#"group="billing""#));
        assert_eq!(billing("ferry_stream_group_committed_offset{S,G,partition=\"0\"}"), 2.0);
        assert_eq!(
            sample(&text, r#"ferry_stream_group_committed_offset{stream="events",group="billing",partition="1"}"#),
            None,
            "billing never committed on partition 1"
        );
        assert_eq!(billing("ferry_stream_group_lag_records{S,G,partition=\"0\"}"), 3.0);
        assert_eq!(billing("ferry_stream_group_lag_records{S,G,partition=\"1\"}"), 6.0);
        let age = billing("ferry_stream_group_lag_seconds{S,G}");
        assert!((3600.0..3660.0).contains(&age), "oldest unconsumed is an hour old: {age}");
        let audit = |series: &str| events(&series.replace("G", r#"group="audit""#));
        assert_eq!(audit("ferry_stream_group_lag_records{S,G,partition=\"1\"}"), 0.0);
        assert_eq!(audit("ferry_stream_group_lag_seconds{S,G}"), 0.0);
        assert_eq!(events("ferry_stream_compaction_runs_total{S}"), 0.0);

        let kv = |series: &str| value(&text, &series.replace("S", r#"stream="kv""#));
        assert_eq!(kv("ferry_stream_compaction_runs_total{S}"), 1.0);
        assert_eq!(
            kv("ferry_stream_compaction_removed_records_total{S}"),
            compaction.records_removed as f64
        );
        assert_eq!(
            kv("ferry_stream_compaction_rewritten_segments_total{S}"),
            compaction.segments_rewritten as f64
        );
        assert_eq!(kv("ferry_stream_appended_records_total{S}"), 12.0);
        assert!(kv("ferry_stream_partition_segments{S,partition=\"0\"}") >= 2.0);
        ok(client.compact_stream("kv").await);
        let again = scrape(&client).await;
        assert_eq!(
            value(&again, r#"ferry_stream_compaction_runs_total{stream="kv"}"#),
            2.0,
            "every run counts, even one with nothing to remove"
        );
    });
}

#[test]
fn latency_histograms_record_the_injected_delay() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        ok(client.put_queue("lat", &QueueConfig::default()).await);
        ok(client.send("lat", vec![SendEntry::text("slow")]).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let got = ok(client.receive("lat", &receive(1)).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
        ok(client.ack("lat", vec![got[0].receipt.clone()]).await);
        let text = scrape(&client).await;
        let bucket = |h: &str, le: &str| {
            value(
                &text,
                &format!(r#"ferry_queue_{h}_seconds_bucket{{le="{le}",queue="lat"}}"#),
            )
        };
        // Received 300 ms after it was sent: in (0.25, 0.5].
        assert_eq!(bucket("time_to_first_delivery", "0.25"), 0.0);
        assert_eq!(bucket("time_to_first_delivery", "0.5"), 1.0);
        // Acked 300 ms after that: in (0.5, 1].
        assert_eq!(bucket("time_to_ack", "0.5"), 0.0);
        assert_eq!(bucket("time_to_ack", "1.0"), 1.0);
        let sum = value(&text, r#"ferry_queue_time_to_ack_seconds_sum{queue="lat"}"#);
        assert!((0.6..1.0).contains(&sum), "sum {sum}");
    });
}

/// Starts `ferry serve` holding readiness while `hold` exists; returns the child and its
/// address from the `ferry recovering` line.
fn start_held(dir: &DataDir, hold: &std::path::Path) -> (std::process::Child, String) {
    let mut child = ok(Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "serve",
            "--http-listen",
            "127.0.0.1:0",
            "--kafka-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .arg("--hold-ready-while")
        .arg(hold)
        .env_remove("FERRY_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn());
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut lines = BufReader::new(stdout).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("ferry recovering http=").map(str::to_owned))
        .unwrap_or_else(|| panic!("no recovering line"));
    std::thread::spawn(move || lines.for_each(drop));
    (child, format!("http://{addr}"))
}

#[test]
fn readiness_flips_after_recovery() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    runtime().block_on(async {
        let client = server.client();
        ok(client.put_queue("kept", &QueueConfig::default()).await);
        let bodies = (0..5).map(|i| SendEntry::text(format!("k{i}"))).collect();
        ok(client.send("kept", bodies).await);
    });
    let (status, _) = server.terminate();
    assert!(status.success());

    let hold = dir.path().join("hold-ready");
    ok(std::fs::write(&hold, b""));
    let (mut child, url) = start_held(&dir, &hold);
    let http = reqwest::Client::new();
    runtime().block_on(async {
        let get = |path: &str| http.get(format!("{url}{path}")).send();
        let live = ok(get("/health/live").await);
        assert_eq!(live.status(), 200);
        let ready = ok(get("/health/ready").await);
        assert_eq!(ready.status(), 503);
        let body: serde_json::Value = ok(ready.json().await);
        assert_eq!(body["status"], "recovering");
        let api = ok(get("/v1/queues").await);
        assert_eq!(api.status(), 503);
        let body: serde_json::Value = ok(api.json().await);
        assert_eq!(body["error"]["code"], "unavailable");

        ok(std::fs::remove_file(&hold));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = ok(get("/health/ready").await);
            if ready.status() == 200 {
                let body: serde_json::Value = ok(ready.json().await);
                assert_eq!(body["status"], "ready");
                break;
            }
            assert!(Instant::now() < deadline, "never turned ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let client = ok(Client::new(&url));
        let info = ok(client.queue_info("kept").await);
        assert_eq!(
            info.stats.visible, 5,
            "ready means the queues are recovered"
        );
    });
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn stats_prints_every_queue_and_stream_once() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &["--metrics-sample-interval-ms", "100"]);
    let client = server.client();
    runtime().block_on(async {
        ok(client.put_queue("a", &QueueConfig::default()).await);
        ok(client.put_queue("b", &QueueConfig::default()).await);
        let bodies = (0..3).map(|i| SendEntry::text(format!("a{i}"))).collect();
        ok(client.send("a", bodies).await);
        ok(client.put_stream("events", &StreamConfig::default()).await);
        let records = AppendRequest {
            records: vec![AppendRecord::text("e1"), AppendRecord::text("e2")],
            expected_offset: None,
        };
        ok(client.append("events", &records).await);
        // Two samples at least, so that the history has rates.
        tokio::time::sleep(Duration::from_millis(350)).await;
        let history = ok(client.metrics_history().await);
        assert_eq!(history.interval_ms, 100);
        let a = history
            .queues
            .iter()
            .find(|q| q.name == "a")
            .unwrap_or_else(|| panic!("no a"));
        assert_eq!(a.visible.last().copied().flatten(), Some(3.0));
        assert_eq!(a.visible.len(), history.times.len());
    });
    let out = ok(Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["stats", "--json"])
        .env("FERRY_URL", server.url())
        .output());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = ok(serde_json::from_slice(&out.stdout));
    assert_eq!(rows["queues"][0]["name"], "a");
    assert_eq!(rows["queues"][0]["visible"], 3);
    assert_eq!(rows["queues"][1]["name"], "b");
    assert_eq!(rows["streams"][0]["name"], "events");
    assert_eq!(rows["streams"][0]["records"], 2);
    let table = ok(Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["stats", "--url", &server.url()])
        .output());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("QUEUE"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("a ") && l.contains(" 3 ")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("STREAM")),
        "a streams table: {text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("events ") && l.contains(" 2 ")),
        "{text}"
    );
}

/// Sends raw bytes to the Kafka listener; returns the first `read` bytes of the answer, if any.
fn kafka_exchange(server: &Server, frame: &[u8], read: usize) -> Vec<u8> {
    use std::io::{Read, Write};
    let addr = server
        .kafka_addr
        .unwrap_or_else(|| panic!("no kafka listener"));
    let mut socket = ok(std::net::TcpStream::connect(addr));
    ok(socket.set_read_timeout(Some(Duration::from_secs(5))));
    ok(socket.write_all(frame));
    let mut answer = vec![0; read];
    let got = socket.read(&mut answer).unwrap_or(0);
    answer.truncate(got);
    answer
}

#[test]
fn kafka_requests_and_connections_appear_in_metrics() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    // ApiVersions v0, correlation id 7, null client id: answered.
    let api_versions = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 7, 0xff, 0xff];
    let answer = kafka_exchange(&server, &api_versions, 8);
    assert_eq!(answer.get(4..8), Some(&[0u8, 0, 0, 7][..]), "{answer:?}");
    // An unknown API key: the connection is closed without an answer.
    let unknown = [0, 0, 0, 8, 3, 231, 0, 0, 0, 0, 0, 1];
    assert!(kafka_exchange(&server, &unknown, 8).is_empty());
    let rt = runtime();
    let client = server.client();
    let text = rt.block_on(async {
        // The closing connection is counted closed a moment after the client sees it.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = scrape(&client).await;
            if sample(&text, "ferry_kafka_open_connections") == Some(0.0)
                || Instant::now() > deadline
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let answered = r#"ferry_kafka_requests_total{api="ApiVersions",outcome="answered"}"#;
    assert_eq!(value(&text, answered), 1.0);
    let refused = r#"ferry_kafka_requests_total{api="unknown",outcome="refused"}"#;
    assert_eq!(value(&text, refused), 1.0);
    assert_eq!(
        value(
            &text,
            r#"ferry_kafka_request_duration_seconds_count{api="ApiVersions"}"#
        ),
        1.0
    );
    assert_eq!(value(&text, "ferry_kafka_connections_total"), 2.0);
    assert_eq!(value(&text, "ferry_kafka_open_connections"), 0.0);
}

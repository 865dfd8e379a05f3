//! Streams through the real binary: management, appends and reads (text, binary, base64),
//! refused input that writes nothing, conditional appends, partition server-sent events and
//! their resumption, and a shutdown with event streams open.

mod common;

use common::{DataDir, Server, SseReader, call_json, runtime};
use ferry_client::Client;
use ferry_client::api::{
    AppendHeader, AppendRecord, AppendRequest, Cleanup, OffsetSpec, ReadEncoding, ReadQuery,
    ReadRecord, StreamConfig, Timestamp,
};
use reqwest::Method;
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);

fn partitions(n: u32) -> StreamConfig {
    StreamConfig {
        partitions: n,
        ..StreamConfig::default()
    }
}

fn append(records: Vec<AppendRecord>) -> AppendRequest {
    AppendRequest {
        records,
        expected_offset: None,
    }
}

fn from(offset: u64) -> ReadQuery {
    ReadQuery {
        offset: Some(OffsetSpec::At(offset)),
        ..ReadQuery::default()
    }
}

fn code(reply: &Value) -> &str {
    reply["error"]["code"].as_str().unwrap_or("<no error code>")
}

fn message(reply: &Value) -> &str {
    reply["error"]["message"].as_str().unwrap_or("")
}

async fn end_offsets(client: &Client, stream: &str) -> Vec<u64> {
    let info = client
        .stream_info(stream)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    info.partitions.iter().map(|p| p.end_offset).collect()
}

#[test]
fn streams_are_created_listed_described_and_deleted() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        let put = client.put_stream("events", &partitions(2)).await;
        let put = put.unwrap_or_else(|e| panic!("{e}"));
        assert!(put.created);
        assert_eq!(put.stream.config.partitions, 2);
        let grown = client.put_stream("events", &partitions(3)).await;
        assert_eq!(grown.map(|o| o.created).ok(), Some(false));
        let shrunk = client.put_stream("events", &partitions(1)).await;
        assert_eq!(
            shrunk.err().map(|e| e.code().to_owned()).as_deref(),
            Some("invalid_config")
        );
        let bad_name = client.put_stream("no/slash", &partitions(1)).await;
        assert!(bad_name.is_err());
        // An empty body means the defaults.
        let (status, reply) = call_json(&server, Method::PUT, "/v1/streams/defaults", None).await;
        assert_eq!(
            (status, reply["config"]["partitions"].as_u64()),
            (201, Some(1))
        );
        let (status, reply) = call_json(
            &server,
            Method::PUT,
            "/v1/streams/x",
            Some(r#"{"partitons": 2}"#),
        )
        .await;
        assert_eq!((status, code(&reply)), (400, "invalid_request"), "{reply}");
        assert!(message(&reply).contains("partitons"), "{reply}");

        let names: Vec<String> = client
            .list_streams()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, vec!["defaults", "events"]);
        let info = client
            .stream_info("events")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.partitions.len(), 3);
        assert!(info.partitions.iter().all(|p| p.end_offset == 0));
        let partition = client.partition_info("events", 2).await;
        assert_eq!(partition.map(|p| p.partition).ok(), Some(2));

        client
            .delete_stream("events")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for gone in [
            client.stream_info("events").await.err(),
            client.delete_stream("events").await.err(),
        ] {
            assert_eq!(
                gone.map(|e| (e.status(), e.code().to_owned())),
                Some((Some(404), "stream_not_found".to_owned()))
            );
        }
    });
}

#[test]
fn records_round_trip_as_text_binary_and_base64() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        client
            .put_stream("rt", &partitions(2))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let at = Timestamp(1_700_000_000_123);
        let records = vec![
            AppendRecord {
                timestamp: Some(at),
                ..AppendRecord::text("héllo")
                    .with_key("user-1")
                    .with_header(AppendHeader::text("kind", "greeting"))
                    .with_header(AppendHeader::binary("raw", &[0, 255]))
                    .with_partition(1)
            },
            AppendRecord::binary(&[0xde, 0xad, 0xbe, 0xef])
                .with_binary_key(&[0xff, 0x00])
                .with_partition(1),
            AppendRecord::tombstone("user-1").with_partition(1),
        ];
        let placed = client
            .append("rt", &append(records))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let offsets: Vec<(u32, u64)> = placed.iter().map(|r| (r.partition, r.offset)).collect();
        assert_eq!(offsets, vec![(1, 0), (1, 1), (1, 2)]);

        let read = client
            .read("rt", 1, &ReadQuery::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (read.next_offset, read.start_offset, read.end_offset),
            (3, 0, 3)
        );
        let [text, binary, tombstone] = &read.records[..] else {
            panic!("{read:?}");
        };
        // Text comes back as text, binary as base64, each with its bytes intact.
        assert_eq!(
            (text.key.as_deref(), text.value.as_deref(), text.timestamp),
            (Some("user-1"), Some("héllo"), at)
        );
        assert_eq!(text.partition, None);
        let headers: Vec<(String, Option<Vec<u8>>)> = text
            .headers
            .iter()
            .map(|h| (h.name.clone(), h.decode_value().unwrap_or_default()))
            .collect();
        assert_eq!(
            headers,
            vec![
                ("kind".to_owned(), Some(b"greeting".to_vec())),
                ("raw".to_owned(), Some(vec![0, 255]))
            ]
        );
        assert_eq!(
            text.headers.get(1).and_then(|h| h.value_base64.as_deref()),
            Some("AP8=")
        );
        assert_eq!(
            (binary.key.as_deref(), binary.value.as_deref()),
            (None, None)
        );
        assert_eq!(binary.decode_key().ok().flatten(), Some(vec![0xff, 0x00]));
        assert_eq!(
            binary.decode_value().ok().flatten(),
            Some(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert!(tombstone.is_tombstone());
        assert_eq!(tombstone.key.as_deref(), Some("user-1"));

        // encoding=base64: every byte field as base64, same bytes.
        let query = ReadQuery {
            encoding: Some(ReadEncoding::Base64),
            max_records: Some(1),
            ..ReadQuery::default()
        };
        let b64 = client
            .read("rt", 1, &query)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b64.next_offset, 1);
        let first: &ReadRecord = b64.records.first().unwrap_or_else(|| panic!("{b64:?}"));
        assert_eq!((first.key.as_deref(), first.value.as_deref()), (None, None));
        assert_eq!(first.key_base64.as_deref(), Some("dXNlci0x"));
        assert_eq!(
            first.decode_value().ok().flatten(),
            Some("héllo".as_bytes().to_vec())
        );
        assert_eq!(
            first
                .headers
                .first()
                .and_then(|h| h.value_base64.as_deref()),
            Some("Z3JlZXRpbmc=")
        );

        // Keys pick partitions: equal keys go to the same one.
        let keyed: Vec<AppendRecord> = (0..4)
            .map(|i| AppendRecord::text(format!("v{i}")).with_key("same"))
            .collect();
        let placed = client
            .append("rt", &append(keyed))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            placed
                .windows(2)
                .all(|w| w[0].partition == w[1].partition && w[1].offset == w[0].offset + 1)
        );
        let since = client.offset_for_time("rt", 1, at).await;
        assert_eq!(since.ok().flatten(), Some(0));
    });
}

#[test]
fn reads_past_the_end_and_unknown_streams_and_partitions_are_refused() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        client
            .put_stream("r", &partitions(2))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let three = (0..3)
            .map(|i| AppendRecord::text(format!("{i}")).with_partition(0))
            .collect();
        client
            .append("r", &append(three))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let at_end = client.read("r", 0, &from(3)).await;
        assert_eq!(
            at_end.map(|r| (r.records.len(), r.next_offset)).ok(),
            Some((0, 3))
        );
        let past = client
            .read("r", 0, &from(4))
            .await
            .err()
            .unwrap_or_else(|| panic!("read past the end"));
        assert_eq!(
            (past.status(), past.code()),
            (Some(400), "offset_out_of_range")
        );
        assert!(past.message().contains("0..=3"), "{past}");
        let latest = ReadQuery {
            offset: Some(OffsetSpec::Latest),
            ..ReadQuery::default()
        };
        let tail = client.read("r", 0, &latest).await;
        assert_eq!(
            tail.map(|r| (r.records.len(), r.next_offset)).ok(),
            Some((0, 3))
        );

        for (path, status, expected) in [
            (
                "/v1/streams/nope/partitions/0/records",
                404,
                "stream_not_found",
            ),
            (
                "/v1/streams/r/partitions/2/records",
                404,
                "partition_not_found",
            ),
            ("/v1/streams/r/partitions/2", 404, "partition_not_found"),
            ("/v1/streams/nope", 404, "stream_not_found"),
            ("/v1/streams/r/partitions/x/records", 400, "invalid_request"),
            (
                "/v1/streams/r/partitions/0/records?offset=soon",
                400,
                "invalid_request",
            ),
            (
                "/v1/streams/r/partitions/0/records?max_records=0",
                400,
                "invalid_request",
            ),
            (
                "/v1/streams/r/partitions/0/records?max_records=10001",
                400,
                "invalid_request",
            ),
            (
                "/v1/streams/r/partitions/0/records?colour=red",
                400,
                "invalid_request",
            ),
            ("/v1/streams/r/partitions/0/offsets", 400, "invalid_request"),
            (
                "/v1/streams/r/partitions/0/offsets?timestamp=yesterday",
                400,
                "invalid_request",
            ),
        ] {
            let (got, reply) = call_json(&server, Method::GET, path, None).await;
            assert_eq!((got, code(&reply)), (status, expected), "{path}: {reply}");
        }
        let (_, reply) = call_json(
            &server,
            Method::GET,
            "/v1/streams/r/partitions/0/records?max_records=0",
            None,
        )
        .await;
        assert!(message(&reply).contains("max_records"), "{reply}");
    });
}

#[test]
fn a_partition_reader_reads_ahead_and_hands_out_every_record_once_in_order() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        client
            .put_stream("ahead", &partitions(1))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for batch in 0..5 {
            let records = (0..50)
                .map(|i| AppendRecord::text(format!("r{}", batch * 50 + i)))
                .collect();
            client
                .append("ahead", &append(records))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        // The header repeats the body's next offset.
        let reply = common::raw()
            .get(format!(
                "{}/v1/streams/ahead/partitions/0/records?offset=10&max_records=7",
                server.url()
            ))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let header = reply.headers().get("ferry-next-offset").cloned();
        let body: Value = reply.json().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body["next_offset"], 17);
        assert_eq!(header.as_ref().and_then(|v| v.to_str().ok()), Some("17"));

        let query = ReadQuery {
            offset: Some(OffsetSpec::Earliest),
            max_records: Some(40),
            wait_ms: Some(2000),
            ..ReadQuery::default()
        };
        let mut reader = client.partition_reader("ahead", 0, query);
        let mut values = Vec::new();
        while values.len() < 250 {
            let read = reader.next().await.unwrap_or_else(|e| panic!("{e}"));
            assert!(read.records.len() <= 40);
            values.extend(
                read.records
                    .into_iter()
                    .map(|r| r.value.unwrap_or_default()),
            );
        }
        let expected: Vec<String> = (0..250).map(|i| format!("r{i}")).collect();
        assert_eq!(values, expected, "every record once, in order");

        // At the end the read ahead long-polls, and takes what is appended meanwhile.
        let later = tokio::spawn({
            let client = client.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                client
                    .append("ahead", &append(vec![AppendRecord::text("late")]))
                    .await
            }
        });
        let started = Instant::now();
        let read = reader.next().await.unwrap_or_else(|e| panic!("{e}"));
        let late: Vec<_> = read
            .records
            .iter()
            .map(|r| (r.offset, r.value.clone()))
            .collect();
        assert_eq!(late, vec![(250, Some("late".to_owned()))]);
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "woken by the append"
        );
        later
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));

        // An error is reported, and again at the next call: nothing is skipped past it.
        client
            .delete_stream("ahead")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..2 {
            let gone = reader.next().await.err().map(|e| e.code().to_owned());
            assert_eq!(gone.as_deref(), Some("stream_not_found"));
        }
        let mut elsewhere = client.partition_reader("ahead", 3, ReadQuery::default());
        assert!(elsewhere.next().await.is_err());
    });
}

#[test]
fn bad_appends_are_refused_and_write_nothing() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        let small = StreamConfig {
            max_record_bytes: 1024,
            ..partitions(2)
        };
        client
            .put_stream("b", &small)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let compacted = StreamConfig {
            cleanup: Cleanup::Compact,
            ..partitions(1)
        };
        client
            .put_stream("kv", &compacted)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let big = format!(r#"{{"records": [{{"value": "ok"}}, {{"value": "{}"}}]}}"#, "v".repeat(2000));
        let cases: Vec<(&str, &str, u16, &str, &str)> = vec![
            ("b", "{", 400, "invalid_request", "invalid JSON"),
            ("b", "", 400, "invalid_request", "empty"),
            ("b", r#"{"records": []}"#, 400, "invalid_request", "records must not be empty"),
            ("b", r#"{"records": [{"value": "a", "colour": 1}]}"#, 400, "invalid_request", "colour"),
            (
                "b",
                r#"{"records": [{"value": "a"}, {"value_base64": "***"}]}"#,
                400,
                "invalid_request",
                "records[1]: value_base64 is not valid base64",
            ),
            (
                "b",
                r#"{"records": [{"value": "a"}, {"value": "b"}, {"key": "k", "key_base64": "aw==", "value": "c"}]}"#,
                400,
                "invalid_request",
                "records[2]: give either key or key_base64",
            ),
            (
                "b",
                r#"{"records": [{"value": "a", "headers": [{"name": "h", "value_base64": "%"}]}]}"#,
                400,
                "invalid_request",
                "records[0]",
            ),
            ("b", &big, 413, "message_too_large", "max_record_bytes"),
            ("b", r#"{"records": [{"value": "a"}, {"value": "b", "partition": 7}]}"#, 404, "partition_not_found", "7"),
            ("b", r#"{"records": [{"value": "a", "timestamp": "soon"}]}"#, 400, "invalid_request", "RFC 3339"),
            ("kv", r#"{"records": [{"value": "keyless"}]}"#, 400, "invalid_request", "key"),
            ("missing", r#"{"records": [{"value": "a"}]}"#, 404, "stream_not_found", "missing"),
        ];
        for (stream, body, status, expected, fragment) in cases {
            let path = format!("/v1/streams/{stream}/records");
            let (got, reply) = call_json(&server, Method::POST, &path, Some(body)).await;
            assert_eq!((got, code(&reply)), (status, expected), "{body:.80}: {reply}");
            assert!(message(&reply).contains(fragment), "{body:.80}: {reply}");
        }
        assert_eq!(end_offsets(&client, "b").await, vec![0, 0]);
        assert_eq!(end_offsets(&client, "kv").await, vec![0]);
    });
}

#[test]
fn a_conditional_append_with_a_stale_offset_is_409_with_the_next_offset() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        client
            .put_stream("orders", &partitions(2))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let created = AppendRequest {
            records: vec![AppendRecord::text("created").with_partition(1)],
            expected_offset: Some(0),
        };
        client
            .append("orders", &created)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let stale = client
            .append("orders", &created)
            .await
            .err()
            .unwrap_or_else(|| panic!("a stale conditional append was accepted"));
        assert_eq!(
            (stale.status(), stale.code(), stale.next_offset()),
            (Some(409), "offset_mismatch", Some(1))
        );
        assert_eq!(end_offsets(&client, "orders").await, vec![0, 1]);
        let (status, reply) = call_json(
            &server,
            Method::POST,
            "/v1/streams/orders/records",
            Some(r#"{"records": [{"value": "x", "partition": 1}], "expected_offset": 5}"#),
        )
        .await;
        assert_eq!(
            (status, reply["error"]["next_offset"].as_u64()),
            (409, Some(1))
        );
        let retried = AppendRequest {
            expected_offset: Some(1),
            ..created
        };
        let placed = client.append("orders", &retried).await;
        assert_eq!(placed.map(|p| p[0].offset).ok(), Some(1));
    });
}

#[test]
fn partition_events_deliver_appends_and_resume_after_the_last_event_id() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        client
            .put_stream("feed", &partitions(1))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let one = |v: &str| append(vec![AppendRecord::text(v).with_partition(0)]);
        client
            .append("feed", &one("before"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));

        // From the end: only what is appended after connecting.
        let mut events = client
            .stream_events("feed", 0, OffsetSpec::Latest)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        client
            .append("feed", &one("live-1"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        client
            .append("feed", &one("live-2"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut got = Vec::new();
        for _ in 0..2 {
            let record = tokio::time::timeout(PATIENCE, events.next())
                .await
                .unwrap_or_else(|_| panic!("no record event"))
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("the event stream ended"));
            got.push((record.offset, record.value.unwrap_or_default()));
        }
        assert_eq!(
            got,
            vec![(1, "live-1".to_owned()), (2, "live-2".to_owned())]
        );
        assert_eq!(events.last_event_id(), Some("2"));
        drop(events);

        // The raw format: event name, id = offset, data = the record.
        let mut raw = SseReader::open(
            &server,
            "/v1/streams/feed/partitions/0/events?offset=0",
            &[],
        )
        .await;
        let first = raw
            .next_of("record", PATIENCE)
            .await
            .unwrap_or_else(|| panic!("ended"));
        assert_eq!(first.id.as_deref(), Some("0"));
        let record: ReadRecord =
            serde_json::from_str(&first.data).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (record.offset, record.value.as_deref()),
            (0, Some("before"))
        );
        drop(raw);

        // Reconnecting with Last-Event-ID resumes just after it, whatever `offset` says.
        let mut resumed = SseReader::open(
            &server,
            "/v1/streams/feed/partitions/0/events?offset=earliest",
            &[("Last-Event-ID", "1")],
        )
        .await;
        let next = resumed
            .next_of("record", PATIENCE)
            .await
            .unwrap_or_else(|| panic!("ended"));
        assert_eq!(next.id.as_deref(), Some("2"));
        client
            .append("feed", &one("live-3"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let next = resumed
            .next_of("record", PATIENCE)
            .await
            .unwrap_or_else(|| panic!("ended"));
        assert_eq!(next.id.as_deref(), Some("3"));

        for (path, header, status, expected) in [
            (
                "/v1/streams/feed/partitions/0/events?offset=9",
                None,
                400,
                "offset_out_of_range",
            ),
            (
                "/v1/streams/feed/partitions/4/events",
                None,
                404,
                "partition_not_found",
            ),
            (
                "/v1/streams/none/partitions/0/events",
                None,
                404,
                "stream_not_found",
            ),
            (
                "/v1/streams/feed/partitions/0/events",
                Some("x"),
                400,
                "invalid_request",
            ),
        ] {
            let mut request = common::raw().get(format!("{}{path}", server.url()));
            if let Some(id) = header {
                request = request.header("Last-Event-ID", id);
            }
            let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
            let got = response.status().as_u16();
            let reply: Value = response.json().await.unwrap_or(Value::Null);
            assert_eq!((got, code(&reply)), (status, expected), "{path}: {reply}");
        }
    });
}

#[test]
fn shutdown_ends_open_event_streams_at_once() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    let rt = runtime();
    let (mut partition_feed, mut group_feed) = rt.block_on(async {
        client
            .put_stream("s", &partitions(2))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let partition_feed =
            SseReader::open(&server, "/v1/streams/s/partitions/0/events", &[]).await;
        let mut group_feed = SseReader::open(&server, "/v1/streams/s/groups/g/events", &[]).await;
        // The member has joined once its assignment arrived.
        group_feed
            .next_of("assignment", PATIENCE)
            .await
            .unwrap_or_else(|| panic!("no assignment"));
        (partition_feed, group_feed)
    });
    let started = Instant::now();
    let (status, log) = server.terminate();
    let took = started.elapsed();
    assert_eq!(status.code(), Some(0), "{log}");
    // The feeds long-poll for 15 s and keep-alive every 15 s: neither may hold the shutdown.
    assert!(
        took < Duration::from_secs(8),
        "shutdown took {took:?}:\n{log}"
    );
    rt.block_on(async {
        assert_eq!(partition_feed.next(PATIENCE).await, None);
        assert_eq!(group_feed.next_of("record", PATIENCE).await, None);
    });
}

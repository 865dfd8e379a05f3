//! The Kafka APIs Ferry serves, spoken raw over TCP to an in-process server: each test sends
//! the requests a Kafka client would and checks the exact error codes, offsets and bytes.

mod common;

use bytes::Bytes;
use common::*;
use ferry_core::stream::{Compression, StreamRecord};
use ferry_kafka::versions::SUPPORTED;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    AlterConfigsRequest, ApiKey, ApiVersionsRequest, ApiVersionsResponse, CreatePartitionsRequest,
    DeleteRecordsRequest, DeleteTopicsRequest, DescribeConfigsRequest, DescribeConfigsResponse,
    DescribeGroupsRequest, FetchRequest, FetchResponse, FindCoordinatorRequest, GroupId,
    HeartbeatRequest, IncrementalAlterConfigsRequest, JoinGroupRequest, JoinGroupResponse,
    LeaveGroupRequest, ListGroupsRequest, MetadataRequest, MetadataResponse, OffsetCommitRequest,
    OffsetFetchRequest, ProduceRequest, SyncGroupRequest, alter_configs_request,
    incremental_alter_configs_request,
};
use std::time::{Duration, Instant};

// Kafka error codes the tests expect.
const NONE: i16 = 0;
const OFFSET_OUT_OF_RANGE: i16 = 1;
const CORRUPT_MESSAGE: i16 = 2;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const MESSAGE_TOO_LARGE: i16 = 10;
const INVALID_REQUIRED_ACKS: i16 = 21;
const ILLEGAL_GENERATION: i16 = 22;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const UNSUPPORTED_VERSION: i16 = 35;
const TOPIC_ALREADY_EXISTS: i16 = 36;
const INVALID_PARTITIONS: i16 = 37;
const INVALID_REPLICATION_FACTOR: i16 = 38;
const INVALID_CONFIG: i16 = 40;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const MEMBER_ID_REQUIRED: i16 = 79;
const INVALID_RECORD: i16 = 87;

/// DescribeConfigs resource type of a topic, and config sources.
const TOPIC_RESOURCE: i8 = 2;
const SOURCE_TOPIC: i8 = 1;
const SOURCE_DEFAULT: i8 = 5;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn metadata_request(names: Option<&[&str]>, allow_create: bool) -> MetadataRequest {
    let mut request = MetadataRequest::default();
    request.topics = names.map(|names| {
        names
            .iter()
            .map(|n| {
                let mut t = MetadataRequestTopic::default();
                t.name = Some(topic(n));
                t
            })
            .collect()
    });
    request.allow_auto_topic_creation = allow_create;
    request
}

fn topic_names(response: &MetadataResponse) -> Vec<String> {
    let mut names: Vec<String> = response
        .topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.0.as_str().to_owned()))
        .collect();
    names.sort();
    names
}

/// Produces `batch` to partition 0 at `version` with acks=-1; returns (error, base offset).
async fn produce_one(conn: &mut Conn, version: i16, name: &str, batch: Vec<u8>) -> (i16, i64) {
    let response = conn.call(version, &produce(name, 0, -1, batch)).await;
    let p = produced(&response);
    assert_eq!(p.index, 0);
    (p.error_code, p.base_offset)
}

/// The one partition of a Fetch response; asserts `records` is never null.
fn fetched(response: &FetchResponse) -> (i16, i64, Bytes) {
    let t = some(response.responses.first(), "fetch topic");
    let p = some(t.partitions.first(), "fetch partition");
    let records = some(
        p.records.clone(),
        "fetch records must never be null (clients treat null as corrupt)",
    );
    (p.error_code, p.high_watermark, records)
}

async fn fetch_at(
    conn: &mut Conn,
    version: i16,
    name: &str,
    offset: i64,
    wait_ms: i32,
) -> (i16, i64, Bytes) {
    let response = conn.call(version, &fetch(name, 0, offset, wait_ms)).await;
    assert_eq!(response.error_code, NONE);
    fetched(&response)
}

/// Every (offset, record) stored in partition 0 of `name`, read by Fetch from 0.
async fn read_all(conn: &mut Conn, version: i16, name: &str) -> Vec<(u64, StreamRecord)> {
    let mut out: Vec<(u64, StreamRecord)> = Vec::new();
    let mut next = 0;
    loop {
        let (error, high_watermark, records) = fetch_at(conn, version, name, next, 0).await;
        assert_eq!(error, NONE);
        if records.is_empty() {
            assert_eq!(next, high_watermark);
            return out;
        }
        for batch in decode_batches(&records) {
            for (offset, record) in batch.records {
                if offset >= u64::try_from(next).unwrap_or(0) {
                    out.push((offset, record));
                }
            }
            next = i64::try_from(batch.header.next_offset()).unwrap_or(i64::MAX);
        }
    }
}

fn describe_configs(name: &str, keys: Option<&[&str]>) -> DescribeConfigsRequest {
    let mut resource = DescribeConfigsResource::default();
    resource.resource_type = TOPIC_RESOURCE;
    resource.resource_name = s(name);
    resource.configuration_keys = keys.map(|keys| keys.iter().map(|k| s(k)).collect());
    let mut request = DescribeConfigsRequest::default();
    request.resources = vec![resource];
    request
}

/// name → (value, source) of a topic's DescribeConfigs answer.
fn configs_of(response: &DescribeConfigsResponse) -> Vec<(String, Option<String>, i8)> {
    let result = some(response.results.first(), "describe configs result");
    assert_eq!(result.error_code, NONE, "{:?}", result.error_message);
    result
        .configs
        .iter()
        .map(|c| {
            (
                c.name.as_str().to_owned(),
                c.value.as_ref().map(|v| v.as_str().to_owned()),
                c.config_source,
            )
        })
        .collect()
}

async fn config_value(conn: &mut Conn, name: &str, key: &str) -> (Option<String>, i8) {
    let response = conn.call(4, &describe_configs(name, Some(&[key]))).await;
    let configs = configs_of(&response);
    assert_eq!(configs.len(), 1, "{configs:?}");
    let (_, value, source) = configs.into_iter().next().unwrap_or_default();
    (value, source)
}

fn incremental(
    name: &str,
    ops: &[(&str, i8, Option<&str>)],
    validate_only: bool,
) -> IncrementalAlterConfigsRequest {
    use incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
    let mut resource = AlterConfigsResource::default();
    resource.resource_type = TOPIC_RESOURCE;
    resource.resource_name = s(name);
    resource.configs = ops
        .iter()
        .map(|(k, op, v)| {
            let mut c = AlterableConfig::default();
            c.name = s(k);
            c.config_operation = *op;
            c.value = v.map(s);
            c
        })
        .collect();
    let mut request = IncrementalAlterConfigsRequest::default();
    request.resources = vec![resource];
    request.validate_only = validate_only;
    request
}

async fn partitions_of(conn: &mut Conn, name: &str) -> (i16, usize) {
    let response = conn.call(9, &metadata_request(Some(&[name]), false)).await;
    let t = some(response.topics.first(), "metadata topic");
    (t.error_code, t.partitions.len())
}

// ---------------------------------------------------------------------------------------------
// ApiVersions
// ---------------------------------------------------------------------------------------------

fn assert_lists_supported(response: &ApiVersionsResponse) {
    assert_eq!(response.error_code, NONE);
    let listed: Vec<(i16, i16, i16)> = response
        .api_keys
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version))
        .collect();
    let expected: Vec<(i16, i16, i16)> = SUPPORTED
        .iter()
        .map(|s| (s.key as i16, s.min, s.max))
        .collect();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn api_versions_v0_and_v3_list_exactly_the_supported_ranges() {
    let server = start().await;
    let mut conn = server.conn().await;
    assert_lists_supported(&conn.call(0, &ApiVersionsRequest::default()).await);
    let mut v3 = ApiVersionsRequest::default();
    v3.client_software_name = s("ferry-test");
    v3.client_software_version = s("1.0");
    assert_lists_supported(&conn.call(3, &v3).await);
}

#[tokio::test]
async fn api_versions_at_an_unknown_version_is_answered_in_v0_with_unsupported_version() {
    let server = start().await;
    let mut conn = server.conn().await;
    // ApiVersions v9, header v2: key, version, correlation id, null client id, no tags; then
    // a v3-shaped body (two empty compact strings, no tags).
    let mut frame = vec![0, 0, 0, 0];
    frame.extend_from_slice(&18i16.to_be_bytes());
    frame.extend_from_slice(&9i16.to_be_bytes());
    frame.extend_from_slice(&4242i32.to_be_bytes());
    frame.extend_from_slice(&[0xff, 0xff, 0, 1, 1, 0]);
    let size = i32::try_from(frame.len() - 4).unwrap_or(0);
    frame[..4].copy_from_slice(&size.to_be_bytes());
    conn.send_raw(&frame).await;
    let response = some(conn.read_frame().await, "ApiVersions v9 answer");
    let (correlation_id, response) =
        decode_response::<ApiVersionsRequest>(ApiKey::ApiVersions, 0, response);
    assert_eq!(correlation_id, 4242);
    assert_eq!(response.error_code, UNSUPPORTED_VERSION);
    let mut ok_response = response.clone();
    ok_response.error_code = NONE;
    assert_lists_supported(&ok_response);
    // The connection stays usable: the client retries at a version both know.
    assert_lists_supported(&conn.call(3, &ApiVersionsRequest::default()).await);
}

// ---------------------------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn metadata_creates_unknown_topics_only_when_allowed() {
    let server = start().await;
    let mut conn = server.conn().await;
    let response = conn
        .call(9, &metadata_request(Some(&["auto-made"]), true))
        .await;
    let t = some(response.topics.first(), "topic");
    assert_eq!(t.error_code, NONE);
    assert_eq!(t.partitions.len(), 1, "default_partitions is 1");
    let p = some(t.partitions.first(), "partition");
    assert_eq!((p.partition_index, p.leader_id.0), (0, 0));

    // v4+: the client may forbid creation.
    for version in [4, 12] {
        let response = conn
            .call(version, &metadata_request(Some(&["not-made"]), false))
            .await;
        let t = some(response.topics.first(), "topic");
        assert_eq!(t.error_code, UNKNOWN_TOPIC_OR_PARTITION, "v{version}");
        assert!(t.partitions.is_empty());
    }
    // All topics: null list (v1+), empty list in v0.
    let all = conn.call(1, &metadata_request(None, true)).await;
    assert_eq!(topic_names(&all), ["auto-made"]);
    let all_v0 = conn.call(0, &metadata_request(Some(&[]), true)).await;
    assert_eq!(topic_names(&all_v0), ["auto-made"]);
    // An empty list in v1+ means no topics.
    let none = conn.call(1, &metadata_request(Some(&[]), true)).await;
    assert!(none.topics.is_empty());
}

#[tokio::test]
async fn metadata_does_not_create_topics_when_the_listener_forbids_it() {
    let server = start_with(|c| c.auto_create_topics = false).await;
    let mut conn = server.conn().await;
    for version in [0, 9] {
        let response = conn
            .call(version, &metadata_request(Some(&["nope"]), true))
            .await;
        let t = some(response.topics.first(), "topic");
        assert_eq!(t.error_code, UNKNOWN_TOPIC_OR_PARTITION, "v{version}");
    }
}

#[tokio::test]
async fn metadata_and_find_coordinator_advertise_the_configured_address() {
    let server = start_with(|c| {
        c.advertised_host = "kafka.example.invalid".to_owned();
        c.advertised_port = 19092;
    })
    .await;
    let mut conn = server.conn().await;
    for version in [0, 1, 9, 12] {
        let all: Option<&[&str]> = if version == 0 { Some(&[]) } else { None };
        let response = conn.call(version, &metadata_request(all, true)).await;
        let broker = some(response.brokers.first(), "broker");
        assert_eq!(response.brokers.len(), 1);
        assert_eq!(
            (broker.node_id.0, broker.host.as_str(), broker.port),
            (0, "kafka.example.invalid", 19092),
            "v{version}"
        );
    }
    let mut request = FindCoordinatorRequest::default();
    request.key = s("some-group");
    let old = conn.call(2, &request).await;
    assert_eq!(
        (old.error_code, old.host.as_str(), old.port),
        (NONE, "kafka.example.invalid", 19092)
    );
    let mut request = FindCoordinatorRequest::default();
    request.coordinator_keys = vec![s("g1"), s("g2")];
    let new = conn.call(4, &request).await;
    assert_eq!(new.coordinators.len(), 2);
    for c in &new.coordinators {
        assert_eq!(
            (c.error_code, c.host.as_str(), c.port),
            (NONE, "kafka.example.invalid", 19092)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Produce and Fetch
// ---------------------------------------------------------------------------------------------

async fn round_trip(produce_version: i16, fetch_version: i16) {
    let server = start().await;
    let mut conn = server.conn().await;
    let name = format!("rt-{produce_version}-{fetch_version}");
    create_topic(&mut conn, &name, 1, &[]).await;
    let mut sent: Vec<StreamRecord> = Vec::new();
    for (i, compression) in Compression::ALL.into_iter().enumerate() {
        let batch_records = records(&format!("{compression:?}"), 5, 1_000 + 10 * i as u64);
        let (error, base) = produce_one(
            &mut conn,
            produce_version,
            &name,
            batch(&batch_records, compression),
        )
        .await;
        assert_eq!((error, base), (NONE, 5 * i as i64), "{compression:?}");
        sent.extend(batch_records);
    }
    // Everything back, in order, at dense offsets.
    let stored = read_all(&mut conn, fetch_version, &name).await;
    let offsets: Vec<u64> = stored.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (0..25).collect::<Vec<u64>>());
    let values: Vec<StreamRecord> = stored.into_iter().map(|(_, r)| r).collect();
    assert_eq!(values, sent);

    // From the middle of the third batch (gzip at 5..10 is the second; snappy is 10..15):
    // the whole stored batch comes back, and the client skips what it did not ask for.
    let (error, high_watermark, bytes) = fetch_at(&mut conn, fetch_version, &name, 12, 0).await;
    assert_eq!((error, high_watermark), (NONE, 25));
    let batches = decode_batches(&bytes);
    let first = some(batches.first(), "batch");
    assert_eq!(first.header.base_offset, 10);
    assert_eq!(first.header.compression().ok(), Some(Compression::Snappy));
    assert_eq!(first.records.len(), 5);
}

#[tokio::test]
async fn produce_v3_and_fetch_v4_round_trip_every_compression() {
    round_trip(3, 4).await;
}

#[tokio::test]
async fn produce_v9_and_fetch_v12_round_trip_every_compression() {
    round_trip(9, 12).await;
}

#[tokio::test]
async fn fetch_at_the_end_waits_for_max_wait_and_wakes_on_a_produce() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "waiting", 1, &[]).await;
    let (error, _) = produce_one(
        &mut conn,
        9,
        "waiting",
        batch(&records("a", 1, 1), Compression::None),
    )
    .await;
    assert_eq!(error, NONE);

    // Nothing arrives: an empty (not null) answer after about max_wait.
    let started = Instant::now();
    let (error, high_watermark, bytes) = fetch_at(&mut conn, 12, "waiting", 1, 200).await;
    let waited = started.elapsed();
    assert_eq!((error, high_watermark, bytes.len()), (NONE, 1, 0));
    assert!(
        waited >= Duration::from_millis(180),
        "answered after {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "answered after {waited:?}");

    // A record produced meanwhile wakes the fetch long before its 10 s.
    let mut fetcher = server.conn().await;
    let started = Instant::now();
    let sent = fetcher.send(12, &fetch("waiting", 0, 1, 10_000)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (error, base) = produce_one(
        &mut conn,
        9,
        "waiting",
        batch(&records("b", 2, 2), Compression::Lz4),
    )
    .await;
    assert_eq!((error, base), (NONE, 1));
    let (got, response) = fetcher.recv::<FetchRequest>(12).await;
    assert_eq!(got, sent);
    let (error, high_watermark, bytes) = fetched(&response);
    assert_eq!((error, high_watermark), (NONE, 3));
    assert_eq!(decode_batches(&bytes).len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woke after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn fetch_outside_the_partition_is_offset_out_of_range() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "bounds", 1, &[]).await;
    let (error, _) = produce_one(
        &mut conn,
        9,
        "bounds",
        batch(&records("a", 3, 1), Compression::None),
    )
    .await;
    assert_eq!(error, NONE);
    for (version, offset) in [(4, 4), (12, 4), (12, 1_000_000), (12, -5)] {
        let (error, _, bytes) = fetch_at(&mut conn, version, "bounds", offset, 0).await;
        assert_eq!(error, OFFSET_OUT_OF_RANGE, "v{version} at {offset}");
        assert!(bytes.is_empty());
    }
    // At the end exactly: no error, nothing yet.
    let (error, high_watermark, bytes) = fetch_at(&mut conn, 12, "bounds", 3, 0).await;
    assert_eq!((error, high_watermark, bytes.len()), (NONE, 3, 0));
    // Unknown topic and partition.
    let (error, _, bytes) = fetch_at(&mut conn, 12, "no-such-topic", 0, 0).await;
    assert_eq!((error, bytes.len()), (UNKNOWN_TOPIC_OR_PARTITION, 0));
    let response = conn.call(12, &fetch("bounds", 7, 0, 0)).await;
    assert_eq!(fetched(&response).0, UNKNOWN_TOPIC_OR_PARTITION);
}

#[tokio::test]
async fn acks_zero_gets_no_response_and_bad_acks_are_refused() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "quiet", 1, &[]).await;
    let silent = conn
        .send(
            9,
            &produce("quiet", 0, 0, batch(&records("q", 2, 1), Compression::None)),
        )
        .await;
    let versions = conn.send(3, &ApiVersionsRequest::default()).await;
    let (got, _) = conn.recv::<ApiVersionsRequest>(3).await;
    assert_eq!(
        got, versions,
        "the acks=0 produce ({silent}) must not be answered"
    );
    assert_eq!(
        end_offset(&mut conn, "quiet", 0).await,
        2,
        "yet it was appended"
    );

    for acks in [5, 2, -2] {
        let response = conn
            .call(
                9,
                &produce(
                    "quiet",
                    0,
                    acks,
                    batch(&records("x", 1, 1), Compression::None),
                ),
            )
            .await;
        assert_eq!(
            produced(&response).error_code,
            INVALID_REQUIRED_ACKS,
            "acks={acks}"
        );
    }
    assert_eq!(end_offset(&mut conn, "quiet", 0).await, 2);
}

#[tokio::test]
async fn bad_batches_are_refused_whole_and_nothing_is_appended() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "strict", 1, &[("max.message.bytes", "1024")]).await;
    create_topic(&mut conn, "compacted", 1, &[("cleanup.policy", "compact")]).await;
    let good = batch(&records("ok", 3, 1), Compression::None);
    assert_eq!(
        produce_one(&mut conn, 9, "strict", good.clone()).await,
        (NONE, 0)
    );

    // A flipped byte in the records: the CRC no longer matches.
    for compression in [Compression::None, Compression::Zstd] {
        let mut corrupt = batch(&records("bad", 3, 1), compression);
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0x55;
        let (error, _) = produce_one(&mut conn, 9, "strict", corrupt).await;
        assert_eq!(error, CORRUPT_MESSAGE, "{compression:?}");
    }
    // A batch cut short, and a record set that is not a batch at all.
    let (error, _) = produce_one(&mut conn, 3, "strict", good[..good.len() - 3].to_vec()).await;
    assert_eq!(error, CORRUPT_MESSAGE);
    let (error, _) = produce_one(&mut conn, 3, "strict", vec![1, 2, 3]).await;
    assert_eq!(error, CORRUPT_MESSAGE);
    assert_eq!(
        end_offset(&mut conn, "strict", 0).await,
        3,
        "nothing appended"
    );

    // Larger than the topic's max.message.bytes.
    let big = vec![StreamRecord {
        timestamp_ms: 1,
        key: Some(b"k".to_vec()),
        value: Some(vec![7; 2000]),
        headers: Vec::new(),
    }];
    let (error, _) = produce_one(&mut conn, 9, "strict", batch(&big, Compression::None)).await;
    assert_eq!(error, MESSAGE_TOO_LARGE);

    // A keyless record on a compacted topic.
    let mut keyless = records("c", 2, 1);
    keyless[1].key = None;
    let (error, _) = produce_one(
        &mut conn,
        9,
        "compacted",
        batch(&keyless, Compression::None),
    )
    .await;
    assert_eq!(error, INVALID_RECORD);
    let (error, _) = produce_one(
        &mut conn,
        9,
        "compacted",
        batch(&records("c", 2, 1), Compression::Gzip),
    )
    .await;
    assert_eq!(error, NONE, "keyed records are fine");

    // An unknown topic (Produce never creates one) and an unknown partition.
    let (error, _) = produce_one(&mut conn, 9, "no-such-topic", good.clone()).await;
    assert_eq!(error, UNKNOWN_TOPIC_OR_PARTITION);
    let response = conn.call(9, &produce("strict", 3, -1, good)).await;
    assert_eq!(produced(&response).error_code, UNKNOWN_TOPIC_OR_PARTITION);
    let (error, _) = partitions_of(&mut conn, "no-such-topic").await;
    assert_eq!(
        error, UNKNOWN_TOPIC_OR_PARTITION,
        "produce created the topic"
    );
    assert_eq!(
        end_offset(&mut conn, "strict", 0).await,
        3,
        "nothing appended"
    );
}

#[tokio::test]

async fn a_record_set_with_one_bad_batch_appends_nothing() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "atomic", 1, &[]).await;
    let good = batch(&records("ok", 3, 1), Compression::None);
    let mut corrupt = good.clone();
    corrupt[70] ^= 1;
    let mut two = good;
    two.extend_from_slice(&corrupt);
    let (error, _) = produce_one(&mut conn, 9, "atomic", two).await;
    assert_eq!(error, CORRUPT_MESSAGE);
    assert_eq!(
        end_offset(&mut conn, "atomic", 0).await,
        0,
        "an answered error appended records"
    );
}

// ---------------------------------------------------------------------------------------------
// Idempotent producers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_idempotent_producer_gets_retries_deduplicated_and_gaps_refused() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "idem", 1, &[]).await;
    let id = init_producer_id(&mut conn).await;
    assert_ne!(
        init_producer_id(&mut conn).await,
        id,
        "ids are never handed out twice"
    );

    let batch_at = |seq: i32, epoch: i16| {
        idempotent(
            batch(&records(&format!("s{seq}"), 5, 1), Compression::None),
            id,
            epoch,
            seq,
        )
    };
    for (seq, offset) in [(0, 0), (5, 5), (10, 10)] {
        assert_eq!(
            produce_one(&mut conn, 9, "idem", batch_at(seq, 0)).await,
            (NONE, offset)
        );
    }
    // Exact retries of earlier batches: success with the original offsets, nothing appended.
    assert_eq!(
        produce_one(&mut conn, 9, "idem", batch_at(5, 0)).await,
        (NONE, 5)
    );
    assert_eq!(
        produce_one(&mut conn, 3, "idem", batch_at(10, 0)).await,
        (NONE, 10)
    );
    assert_eq!(
        produce_one(&mut conn, 9, "idem", batch_at(0, 0)).await,
        (NONE, 0)
    );
    assert_eq!(end_offset(&mut conn, "idem", 0).await, 15);
    // A gap.
    let (error, _) = produce_one(&mut conn, 9, "idem", batch_at(20, 0)).await;
    assert_eq!(error, OUT_OF_ORDER_SEQUENCE_NUMBER);
    // A newer epoch starts over at 0; then the older epoch is fenced.
    assert_eq!(
        produce_one(&mut conn, 9, "idem", batch_at(0, 1)).await,
        (NONE, 15)
    );
    let (error, _) = produce_one(&mut conn, 9, "idem", batch_at(15, 0)).await;
    assert_eq!(error, INVALID_PRODUCER_EPOCH);
    assert_eq!(end_offset(&mut conn, "idem", 0).await, 20);
    // Each stored record once, in order.
    let stored = read_all(&mut conn, 12, "idem").await;
    let values: Vec<String> = stored
        .iter()
        .map(|(_, r)| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    let expected: Vec<String> = ["s0", "s5", "s10", "s0"]
        .iter()
        .flat_map(|p| (0..5).map(move |i| format!("{p}-{i}")))
        .collect();
    assert_eq!(values, expected);
}

/// Sends `requests` idempotent produces of `per_request` records each to partition 0 of
/// `topic` (record keys from `prefix`) in one write, as a client with several requests in flight does, then checks each
/// reply comes in request order with its batch at the next base offset.
async fn pipelined_idempotent_produces(
    conn: &mut Conn,
    topic: &str,
    prefix: &str,
    requests: i32,
    per_request: i32,
    compression: Compression,
) {
    let id = init_producer_id(conn).await;
    let mut bytes = Vec::new();
    let mut sent = Vec::new();
    for k in 0..requests {
        let b = idempotent(
            batch(
                &records(&format!("{prefix}{k}"), per_request as usize, 1),
                compression,
            ),
            id,
            0,
            per_request * k,
        );
        let (correlation_id, frame) = conn.frame(9, &produce(topic, 0, -1, b));
        bytes.extend(frame);
        sent.push(correlation_id);
    }
    conn.send_raw(&bytes).await;
    for (k, correlation_id) in sent.into_iter().enumerate() {
        let (got, response) = conn.recv::<ProduceRequest>(9).await;
        assert_eq!(got, correlation_id);
        let p = produced(&response);
        assert_eq!(
            (p.error_code, p.base_offset),
            (NONE, i64::from(per_request) * k as i64),
            "request {k}"
        );
    }
}

#[tokio::test]
async fn pipelined_idempotent_produces_are_appended_in_request_order() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "pipelined", 1, &[]).await;
    // Five requests in flight at once, as a client with max.in.flight=5 sends them.
    pipelined_idempotent_produces(&mut conn, "pipelined", "p", 5, 3, Compression::None).await;
}

// ---------------------------------------------------------------------------------------------
// ListOffsets and DeleteRecords
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_offsets_finds_earliest_latest_and_by_time() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "times", 1, &[]).await;
    assert_eq!(offset_at(&mut conn, "times", 0, -2).await, (0, -1, NONE));
    assert_eq!(offset_at(&mut conn, "times", 0, -1).await, (0, -1, NONE));
    // Records at 1000, 1001, 1002 (offsets 0..3) and 2000, 2001 (offsets 3..5).
    produce_one(
        &mut conn,
        9,
        "times",
        batch(&records("a", 3, 1_000), Compression::None),
    )
    .await;
    produce_one(
        &mut conn,
        9,
        "times",
        batch(&records("b", 2, 2_000), Compression::Gzip),
    )
    .await;
    assert_eq!(offset_at(&mut conn, "times", 0, -2).await, (0, -1, NONE));
    assert_eq!(offset_at(&mut conn, "times", 0, -1).await, (5, -1, NONE));
    assert_eq!(offset_at(&mut conn, "times", 0, 0).await, (0, 1_000, NONE));
    assert_eq!(
        offset_at(&mut conn, "times", 0, 1_001).await,
        (1, 1_001, NONE)
    );
    assert_eq!(
        offset_at(&mut conn, "times", 0, 1_500).await,
        (3, 2_000, NONE)
    );
    assert_eq!(
        offset_at(&mut conn, "times", 0, 2_001).await,
        (4, 2_001, NONE)
    );
    assert_eq!(
        offset_at(&mut conn, "times", 0, 9_999).await,
        (-1, -1, NONE)
    );
    let (_, _, error) = offset_at(&mut conn, "missing", 0, -1).await;
    assert_eq!(error, UNKNOWN_TOPIC_OR_PARTITION);
}

#[tokio::test]
async fn delete_records_moves_the_start_and_fetches_below_it_are_out_of_range() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "trim", 1, &[]).await;
    for k in 0..3 {
        produce_one(
            &mut conn,
            9,
            "trim",
            batch(&records(&format!("t{k}"), 2, 1), Compression::None),
        )
        .await;
    }
    let delete = |offset: i64| {
        let mut p = DeleteRecordsPartition::default();
        p.partition_index = 0;
        p.offset = offset;
        let mut t = DeleteRecordsTopic::default();
        t.name = topic("trim");
        t.partitions = vec![p];
        let mut request = DeleteRecordsRequest::default();
        request.topics = vec![t];
        request.timeout_ms = 5_000;
        request
    };
    let low_watermark = |response: &kafka_protocol::messages::DeleteRecordsResponse| {
        let t = some(response.topics.first(), "topic");
        let p = some(t.partitions.first(), "partition");
        (p.error_code, p.low_watermark)
    };
    assert_eq!(low_watermark(&conn.call(2, &delete(2)).await), (NONE, 2));
    assert_eq!(offset_at(&mut conn, "trim", 0, -2).await.0, 2);
    let (error, _, _) = fetch_at(&mut conn, 12, "trim", 1, 0).await;
    assert_eq!(error, OFFSET_OUT_OF_RANGE);
    let (error, _, bytes) = fetch_at(&mut conn, 12, "trim", 2, 0).await;
    assert_eq!(error, NONE);
    assert_eq!(
        some(decode_batches(&bytes).first(), "batch")
            .header
            .base_offset,
        2
    );
    // Backwards is a no-op; past the end is refused; -1 means up to the end.
    assert_eq!(low_watermark(&conn.call(0, &delete(1)).await), (NONE, 2));
    assert_eq!(
        low_watermark(&conn.call(1, &delete(99)).await).0,
        OFFSET_OUT_OF_RANGE
    );
    assert_eq!(low_watermark(&conn.call(2, &delete(-1)).await), (NONE, 6));
    assert_eq!(offset_at(&mut conn, "trim", 0, -2).await.0, 6);
    assert_eq!(offset_at(&mut conn, "trim", 0, -1).await.0, 6);
}

// ---------------------------------------------------------------------------------------------
// Topics and configs
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_topics_creates_validates_and_refuses() {
    let server = start().await;
    let mut conn = server.conn().await;
    let response = conn
        .call(
            5,
            &create_topics("made", 3, -1, &[("retention.ms", "60000")], false),
        )
        .await;
    let result = some(response.topics.first(), "result");
    assert_eq!(result.error_code, NONE, "{:?}", result.error_message);
    assert_eq!((result.num_partitions, result.replication_factor), (3, 1));
    let configs = some(result.configs.as_ref(), "configs (v5+)");
    let retention = some(
        configs.iter().find(|c| c.name.as_str() == "retention.ms"),
        "retention.ms",
    );
    assert_eq!(retention.value.as_ref().map(|v| v.as_str()), Some("60000"));
    assert_eq!(partitions_of(&mut conn, "made").await, (NONE, 3));

    let code = |response: &kafka_protocol::messages::CreateTopicsResponse| {
        some(response.topics.first(), "result").error_code
    };
    assert_eq!(
        code(&conn.call(2, &create_topics("made", 1, 1, &[], false)).await),
        TOPIC_ALREADY_EXISTS
    );
    assert_eq!(
        code(&conn.call(7, &create_topics("made", 1, 1, &[], true)).await),
        TOPIC_ALREADY_EXISTS
    );
    assert_eq!(
        code(&conn.call(5, &create_topics("rf3", 1, 3, &[], false)).await),
        INVALID_REPLICATION_FACTOR
    );
    assert_eq!(
        code(&conn.call(5, &create_topics("zero", 0, 1, &[], false)).await),
        INVALID_PARTITIONS
    );
    assert_eq!(
        code(
            &conn
                .call(
                    5,
                    &create_topics("badcfg", 1, 1, &[("compression.type", "lz4")], false)
                )
                .await
        ),
        INVALID_CONFIG
    );
    assert_eq!(
        code(
            &conn
                .call(
                    5,
                    &create_topics("badval", 1, 1, &[("retention.ms", "soon")], false)
                )
                .await
        ),
        INVALID_CONFIG
    );
    // validate_only answers as a creation would, and creates nothing.
    let response = conn.call(5, &create_topics("dry", 2, 1, &[], true)).await;
    let result = some(response.topics.first(), "result");
    assert_eq!((result.error_code, result.num_partitions), (NONE, 2));
    // Nothing of the refused or validated ones exists.
    let all = conn.call(1, &metadata_request(None, true)).await;
    assert_eq!(topic_names(&all), ["made"]);
    // num_partitions -1: the listener's default.
    let response = conn
        .call(5, &create_topics("dflt", -1, -1, &[], false))
        .await;
    assert_eq!(some(response.topics.first(), "result").num_partitions, 1);
}

#[tokio::test]
async fn create_partitions_grows_and_refuses_to_shrink() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "grow", 2, &[]).await;
    let request = |count: i32, validate_only: bool| {
        let mut t = CreatePartitionsTopic::default();
        t.name = topic("grow");
        t.count = count;
        let mut request = CreatePartitionsRequest::default();
        request.topics = vec![t];
        request.timeout_ms = 5_000;
        request.validate_only = validate_only;
        request
    };
    let code = |response: &kafka_protocol::messages::CreatePartitionsResponse| {
        some(response.results.first(), "result").error_code
    };
    assert_eq!(code(&conn.call(3, &request(6, true)).await), NONE);
    assert_eq!(
        partitions_of(&mut conn, "grow").await,
        (NONE, 2),
        "validate_only"
    );
    assert_eq!(code(&conn.call(3, &request(5, false)).await), NONE);
    assert_eq!(partitions_of(&mut conn, "grow").await, (NONE, 5));
    assert_eq!(
        code(&conn.call(0, &request(3, false)).await),
        INVALID_PARTITIONS
    );
    assert_eq!(
        code(&conn.call(0, &request(5, false)).await),
        INVALID_PARTITIONS
    );
    assert_eq!(partitions_of(&mut conn, "grow").await, (NONE, 5));
    // A new partition takes records.
    let response = conn
        .call(
            9,
            &produce("grow", 4, -1, batch(&records("g", 1, 1), Compression::None)),
        )
        .await;
    assert_eq!(
        (
            produced(&response).error_code,
            produced(&response).base_offset
        ),
        (NONE, 0)
    );
}

#[tokio::test]
async fn delete_topics_by_name_in_old_and_new_versions() {
    let server = start().await;
    let mut conn = server.conn().await;
    for name in ["d1", "d2"] {
        create_topic(&mut conn, name, 1, &[]).await;
    }
    let mut old = DeleteTopicsRequest::default();
    old.topic_names = vec![topic("d1"), topic("ghost")];
    old.timeout_ms = 5_000;
    let response = conn.call(1, &old).await;
    let codes: Vec<(String, i16)> = response
        .responses
        .iter()
        .map(|r| {
            (
                r.name
                    .as_ref()
                    .map_or(String::new(), |n| n.0.as_str().to_owned()),
                r.error_code,
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("d1".to_owned(), NONE),
            ("ghost".to_owned(), UNKNOWN_TOPIC_OR_PARTITION)
        ]
    );

    let mut new = DeleteTopicsRequest::default();
    let mut state = DeleteTopicState::default();
    state.name = Some(topic("d2"));
    new.topics = vec![state];
    new.timeout_ms = 5_000;
    let response = conn.call(6, &new).await;
    assert_eq!(some(response.responses.first(), "result").error_code, NONE);
    let all = conn.call(1, &metadata_request(None, true)).await;
    assert!(topic_names(&all).is_empty());
}

#[tokio::test]
async fn describe_configs_lists_every_topic_config_with_its_source() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "described", 1, &[("retention.ms", "60000")]).await;
    let response = conn.call(4, &describe_configs("described", None)).await;
    let configs = configs_of(&response);
    let names: Vec<&str> = configs.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "cleanup.policy",
            "retention.ms",
            "retention.bytes",
            "max.message.bytes",
            "delete.retention.ms",
            "min.compaction.lag.ms",
            "segment.bytes",
        ]
    );
    for (name, value, source) in &configs {
        if name == "retention.ms" {
            assert_eq!((value.as_deref(), *source), (Some("60000"), SOURCE_TOPIC));
        } else {
            assert_eq!(*source, SOURCE_DEFAULT, "{name}");
        }
    }
    assert_eq!(
        config_value(&mut conn, "described", "cleanup.policy").await,
        (Some("delete".to_owned()), SOURCE_DEFAULT)
    );
    // v1 works too; an unknown topic is an error of its resource.
    let response = conn
        .call(
            1,
            &describe_configs("described", Some(&["max.message.bytes"])),
        )
        .await;
    assert_eq!(configs_of(&response).len(), 1);
    let response = conn.call(4, &describe_configs("ghost", None)).await;
    assert_eq!(
        some(response.results.first(), "result").error_code,
        UNKNOWN_TOPIC_OR_PARTITION
    );
}

#[tokio::test]
async fn describe_configs_with_an_empty_key_list_returns_every_config() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "empty-keys", 1, &[]).await;
    let response = conn
        .call(4, &describe_configs("empty-keys", Some(&[])))
        .await;
    assert_eq!(configs_of(&response).len(), 7);
}

#[tokio::test]
async fn incremental_alter_configs_sets_and_deletes() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "tuned", 1, &[]).await;
    let code = |response: &kafka_protocol::messages::IncrementalAlterConfigsResponse| {
        some(response.responses.first(), "result").error_code
    };
    const SET: i8 = 0;
    const DELETE: i8 = 1;
    let set = incremental("tuned", &[("retention.ms", SET, Some("120000"))], true);
    assert_eq!(code(&conn.call(1, &set).await), NONE);
    assert_eq!(
        config_value(&mut conn, "tuned", "retention.ms").await,
        (Some("604800000".to_owned()), SOURCE_DEFAULT),
        "validate_only"
    );
    let set = incremental(
        "tuned",
        &[
            ("retention.ms", SET, Some("120000")),
            ("cleanup.policy", SET, Some("compact,delete")),
        ],
        false,
    );
    assert_eq!(code(&conn.call(1, &set).await), NONE);
    assert_eq!(
        config_value(&mut conn, "tuned", "retention.ms").await,
        (Some("120000".to_owned()), SOURCE_TOPIC)
    );
    assert_eq!(
        config_value(&mut conn, "tuned", "cleanup.policy").await,
        (Some("compact,delete".to_owned()), SOURCE_TOPIC)
    );
    let delete = incremental("tuned", &[("retention.ms", DELETE, None)], false);
    assert_eq!(code(&conn.call(0, &delete).await), NONE);
    assert_eq!(
        config_value(&mut conn, "tuned", "retention.ms").await,
        (Some("604800000".to_owned()), SOURCE_DEFAULT)
    );
    assert_eq!(
        config_value(&mut conn, "tuned", "cleanup.policy").await.1,
        SOURCE_TOPIC,
        "others kept"
    );
    // Unknown names and bad values are refused, and change nothing.
    let unknown = incremental(
        "tuned",
        &[
            ("retention.ms", SET, Some("5000")),
            ("compression.type", SET, Some("lz4")),
        ],
        false,
    );
    assert_eq!(code(&conn.call(1, &unknown).await), INVALID_CONFIG);
    let bad = incremental("tuned", &[("max.message.bytes", SET, Some("lots"))], false);
    assert_eq!(code(&conn.call(1, &bad).await), INVALID_CONFIG);
    assert_eq!(
        config_value(&mut conn, "tuned", "retention.ms").await.1,
        SOURCE_DEFAULT
    );
    let ghost = incremental("ghost", &[("retention.ms", SET, Some("5000"))], false);
    assert_eq!(
        code(&conn.call(1, &ghost).await),
        UNKNOWN_TOPIC_OR_PARTITION
    );
}

#[tokio::test]
async fn alter_configs_replaces_the_whole_set() {
    use alter_configs_request::{AlterConfigsResource, AlterableConfig};
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "replaced", 1, &[("retention.ms", "60000")]).await;
    let request = |configs: &[(&str, &str)]| {
        let mut resource = AlterConfigsResource::default();
        resource.resource_type = TOPIC_RESOURCE;
        resource.resource_name = s("replaced");
        resource.configs = configs
            .iter()
            .map(|(k, v)| {
                let mut c = AlterableConfig::default();
                c.name = s(k);
                c.value = Some(s(v));
                c
            })
            .collect();
        let mut request = AlterConfigsRequest::default();
        request.resources = vec![resource];
        request
    };
    let response = conn
        .call(2, &request(&[("max.message.bytes", "2048")]))
        .await;
    assert_eq!(some(response.responses.first(), "result").error_code, NONE);
    assert_eq!(
        config_value(&mut conn, "replaced", "max.message.bytes").await,
        (Some("2048".to_owned()), SOURCE_TOPIC)
    );
    assert_eq!(
        config_value(&mut conn, "replaced", "retention.ms").await.1,
        SOURCE_DEFAULT,
        "not named: back to default"
    );
    let response = conn.call(0, &request(&[("no.such.config", "1")])).await;
    assert_eq!(
        some(response.responses.first(), "result").error_code,
        INVALID_CONFIG
    );
    assert_eq!(partitions_of(&mut conn, "replaced").await, (NONE, 1));
}

// ---------------------------------------------------------------------------------------------
// Classic consumer groups and committed offsets
// ---------------------------------------------------------------------------------------------

const GROUP: &str = "workers";

fn join(member_id: &str, metadata: &'static [u8]) -> JoinGroupRequest {
    let mut protocol = JoinGroupRequestProtocol::default();
    protocol.name = s("range");
    protocol.metadata = Bytes::from_static(metadata);
    let mut request = JoinGroupRequest::default();
    request.group_id = GroupId(s(GROUP));
    request.session_timeout_ms = 10_000;
    request.rebalance_timeout_ms = 10_000;
    request.member_id = s(member_id);
    request.protocol_type = s("consumer");
    request.protocols = vec![protocol];
    request
}

/// Joins with an empty id at v5: MEMBER_ID_REQUIRED carrying the id to join with.
async fn member_id(conn: &mut Conn, metadata: &'static [u8]) -> String {
    let response = conn.call(5, &join("", metadata)).await;
    assert_eq!(response.error_code, MEMBER_ID_REQUIRED);
    assert!(!response.member_id.is_empty());
    response.member_id.as_str().to_owned()
}

fn sync(member_id: &str, generation: i32, assignments: &[(&str, &[u8])]) -> SyncGroupRequest {
    let mut request = SyncGroupRequest::default();
    request.group_id = GroupId(s(GROUP));
    request.generation_id = generation;
    request.member_id = s(member_id);
    request.assignments = assignments
        .iter()
        .map(|(m, a)| {
            let mut assignment = SyncGroupRequestAssignment::default();
            assignment.member_id = s(m);
            assignment.assignment = Bytes::copy_from_slice(a);
            assignment
        })
        .collect();
    request
}

async fn heartbeat(conn: &mut Conn, member_id: &str, generation: i32) -> i16 {
    let mut request = HeartbeatRequest::default();
    request.group_id = GroupId(s(GROUP));
    request.member_id = s(member_id);
    request.generation_id = generation;
    conn.call(4, &request).await.error_code
}

fn commit(
    group: &str,
    member_id: &str,
    generation: i32,
    offset: i64,
    metadata: &str,
) -> OffsetCommitRequest {
    let mut p = OffsetCommitRequestPartition::default();
    p.partition_index = 0;
    p.committed_offset = offset;
    p.committed_metadata = Some(s(metadata));
    let mut t = OffsetCommitRequestTopic::default();
    t.name = topic("jobs");
    t.partitions = vec![p];
    let mut request = OffsetCommitRequest::default();
    request.group_id = GroupId(s(group));
    request.member_id = s(member_id);
    request.generation_id_or_member_epoch = generation;
    request.topics = vec![t];
    request
}

async fn commit_code(conn: &mut Conn, request: &OffsetCommitRequest) -> i16 {
    let response = conn.call(7, request).await;
    let t = some(response.topics.first(), "commit topic");
    some(t.partitions.first(), "commit partition").error_code
}

async fn committed(conn: &mut Conn, group: &str) -> (i64, Option<String>) {
    let mut t = OffsetFetchRequestTopic::default();
    t.name = topic("jobs");
    t.partition_indexes = vec![0];
    let mut request = OffsetFetchRequest::default();
    request.group_id = GroupId(s(group));
    request.topics = Some(vec![t]);
    let response = conn.call(5, &request).await;
    assert_eq!(response.error_code, NONE);
    let t = some(response.topics.first(), "offset fetch topic");
    let p = some(t.partitions.first(), "offset fetch partition");
    assert_eq!(p.error_code, NONE);
    (
        p.committed_offset,
        p.metadata.as_ref().map(|m| m.as_str().to_owned()),
    )
}

/// Polls DescribeGroups until the group is in `state`.
async fn wait_for_state(conn: &mut Conn, state: &str) {
    let mut request = DescribeGroupsRequest::default();
    request.groups = vec![GroupId(s(GROUP))];
    let started = Instant::now();
    loop {
        let response = conn.call(5, &request).await;
        let group = some(response.groups.first(), "group");
        if group.group_state.as_str() == state {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "group still {} rather than {state}",
            group.group_state.as_str()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn joined(response: &JoinGroupResponse) -> (i32, String, String) {
    assert_eq!(response.error_code, NONE);
    (
        response.generation_id,
        response.leader.as_str().to_owned(),
        response.member_id.as_str().to_owned(),
    )
}

#[tokio::test]
async fn a_classic_group_joins_syncs_heartbeats_rebalances_and_commits() {
    let server = start().await;
    let mut admin = server.conn().await;
    create_topic(&mut admin, "jobs", 1, &[]).await;
    let (mut a, mut b, mut c) = (
        server.conn().await,
        server.conn().await,
        server.conn().await,
    );

    // v4+: a new member first gets an id to join with.
    let id_a = member_id(&mut a, b"meta-a").await;
    let id_b = member_id(&mut b, b"meta-b").await;
    assert_ne!(id_a, id_b);
    // The join phase waits for both pending members.
    let held_a = a.send(5, &join(&id_a, b"meta-a")).await;
    // b joins once a's join is held, so a is the earliest member and becomes the leader.
    wait_for_state(&mut admin, "PreparingRebalance").await;
    let response_b = b.call(5, &join(&id_b, b"meta-b")).await;
    let (got, response_a) = a.recv::<JoinGroupRequest>(5).await;
    assert_eq!(got, held_a);
    let (generation, leader, me) = joined(&response_a);
    assert_eq!(
        (generation, leader.as_str(), me.as_str()),
        (1, id_a.as_str(), id_a.as_str())
    );
    assert_eq!(
        response_a.protocol_name.as_ref().map(|p| p.as_str()),
        Some("range")
    );
    assert_eq!(joined(&response_b), (1, id_a.clone(), id_b.clone()));
    // The leader alone gets every member's metadata.
    let mut members: Vec<(String, Bytes)> = response_a
        .members
        .iter()
        .map(|m| (m.member_id.as_str().to_owned(), m.metadata.clone()))
        .collect();
    members.sort();
    let mut expected = vec![
        (id_a.clone(), Bytes::from_static(b"meta-a")),
        (id_b.clone(), Bytes::from_static(b"meta-b")),
    ];
    expected.sort();
    assert_eq!(members, expected);
    assert!(response_b.members.is_empty());

    // The follower's SyncGroup waits for the leader's assignment.
    let held_b = b.send(5, &sync(&id_b, 1, &[])).await;
    assert!(
        b.read_frame_within(Duration::from_millis(100))
            .await
            .is_err(),
        "the follower's sync was answered before the leader's"
    );
    let assignments: [(&str, &[u8]); 2] = [(&id_a, b"to-a"), (&id_b, b"to-b")];
    let response = a.call(5, &sync(&id_a, 1, &assignments)).await;
    assert_eq!(
        (response.error_code, response.assignment.as_ref()),
        (NONE, b"to-a".as_slice())
    );
    let (got, response) = b.recv::<SyncGroupRequest>(5).await;
    assert_eq!(got, held_b);
    assert_eq!(
        (response.error_code, response.assignment.as_ref()),
        (NONE, b"to-b".as_slice())
    );
    assert_eq!(heartbeat(&mut a, &id_a, 1).await, NONE);
    assert_eq!(heartbeat(&mut b, &id_b, 1).await, NONE);

    // Commits are fenced by member and generation.
    assert_eq!(
        commit_code(&mut a, &commit(GROUP, &id_a, 1, 42, "note")).await,
        NONE
    );
    assert_eq!(
        commit_code(&mut a, &commit(GROUP, &id_a, 2, 43, "")).await,
        ILLEGAL_GENERATION
    );
    assert_eq!(
        commit_code(&mut a, &commit(GROUP, "stranger", 1, 43, "")).await,
        UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        commit_code(&mut a, &commit(GROUP, "", -1, 43, "")).await,
        UNKNOWN_MEMBER_ID,
        "standalone commit to a group with members"
    );
    assert_eq!(
        committed(&mut admin, GROUP).await,
        (42, Some("note".to_owned()))
    );

    // DescribeGroups and ListGroups show it.
    let mut describe = DescribeGroupsRequest::default();
    describe.groups = vec![GroupId(s(GROUP))];
    let response = admin.call(5, &describe).await;
    let group = some(response.groups.first(), "group");
    assert_eq!(
        (group.error_code, group.group_state.as_str()),
        (NONE, "Stable")
    );
    assert_eq!(
        (group.protocol_type.as_str(), group.protocol_data.as_str()),
        ("consumer", "range")
    );
    let mut assignments: Vec<(String, Bytes)> = group
        .members
        .iter()
        .map(|m| (m.member_id.as_str().to_owned(), m.member_assignment.clone()))
        .collect();
    assignments.sort();
    let mut expected = vec![
        (id_a.clone(), Bytes::from_static(b"to-a")),
        (id_b.clone(), Bytes::from_static(b"to-b")),
    ];
    expected.sort();
    assert_eq!(assignments, expected);
    let listed = admin.call(4, &ListGroupsRequest::default()).await;
    let found: Vec<(&str, &str)> = listed
        .groups
        .iter()
        .map(|g| (g.group_id.0.as_str(), g.group_state.as_str()))
        .collect();
    assert_eq!(found, [(GROUP, "Stable")]);

    // A third member: everyone must rejoin, which heartbeats tell them.
    let id_c = member_id(&mut c, b"meta-c").await;
    let held_c = c.send(5, &join(&id_c, b"meta-c")).await;
    wait_for_state(&mut admin, "PreparingRebalance").await;
    assert_eq!(heartbeat(&mut a, &id_a, 1).await, REBALANCE_IN_PROGRESS);
    assert_eq!(heartbeat(&mut b, &id_b, 1).await, REBALANCE_IN_PROGRESS);
    let held_a = a.send(5, &join(&id_a, b"meta-a")).await;
    let response_b = b.call(5, &join(&id_b, b"meta-b")).await;
    assert_eq!(joined(&response_b).0, 2);
    let (got, response_a) = a.recv::<JoinGroupRequest>(5).await;
    assert_eq!(got, held_a);
    assert_eq!((joined(&response_a).0, response_a.members.len()), (2, 3));
    let (got, response_c) = c.recv::<JoinGroupRequest>(5).await;
    assert_eq!((got, joined(&response_c).0), (held_c, 2));
    assert_eq!(heartbeat(&mut a, &id_a, 1).await, ILLEGAL_GENERATION);

    // Leaving: v3+ by a list of members, v0 by member id.
    let mut leave = LeaveGroupRequest::default();
    leave.group_id = GroupId(s(GROUP));
    let mut identity = MemberIdentity::default();
    identity.member_id = s(&id_c);
    let mut stranger = MemberIdentity::default();
    stranger.member_id = s("stranger");
    leave.members = vec![identity, stranger];
    let response = c.call(4, &leave).await;
    assert_eq!(response.error_code, NONE);
    let codes: Vec<i16> = response.members.iter().map(|m| m.error_code).collect();
    assert_eq!(codes, [NONE, UNKNOWN_MEMBER_ID]);
    for (conn, id) in [(&mut a, &id_a), (&mut b, &id_b)] {
        let mut leave = LeaveGroupRequest::default();
        leave.group_id = GroupId(s(GROUP));
        leave.member_id = s(id);
        assert_eq!(conn.call(0, &leave).await.error_code, NONE);
    }
    // Empty now: a standalone commit is allowed, and the offsets stay.
    assert_eq!(
        commit_code(&mut admin, &commit(GROUP, "", -1, 50, "after")).await,
        NONE
    );
    assert_eq!(
        committed(&mut admin, GROUP).await,
        (50, Some("after".to_owned()))
    );
    let response = admin.call(5, &describe).await;
    assert_eq!(
        some(response.groups.first(), "group").group_state.as_str(),
        "Empty"
    );
}

#[tokio::test]
async fn standalone_commits_work_without_a_group_and_show_up_as_empty_groups() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "jobs", 1, &[]).await;
    assert_eq!(
        commit_code(&mut conn, &commit("solo", "", -1, 7, "m")).await,
        NONE
    );
    assert_eq!(
        committed(&mut conn, "solo").await,
        (7, Some("m".to_owned()))
    );
    // A partition never committed: -1. An unknown partition or topic: refused.
    let mut t = OffsetFetchRequestTopic::default();
    t.name = topic("jobs");
    t.partition_indexes = vec![0, 5];
    let mut request = OffsetFetchRequest::default();
    request.group_id = GroupId(s("solo"));
    request.topics = Some(vec![t]);
    let response = conn.call(1, &request).await;
    let offsets: Vec<i64> = some(response.topics.first(), "topic")
        .partitions
        .iter()
        .map(|p| p.committed_offset)
        .collect();
    assert_eq!(offsets, [7, -1]);
    let mut bad = commit("solo", "", -1, 8, "");
    bad.topics[0].name = topic("ghost");
    assert_eq!(
        commit_code(&mut conn, &bad).await,
        UNKNOWN_TOPIC_OR_PARTITION
    );
    // OffsetFetch of every topic (null list, v2+).
    let mut all = OffsetFetchRequest::default();
    all.group_id = GroupId(s("solo"));
    all.topics = None;
    let response = conn.call(7, &all).await;
    assert_eq!(response.topics.len(), 1);
    // ListGroups and DescribeGroups show it as Empty.
    let listed = conn.call(3, &ListGroupsRequest::default()).await;
    let found: Vec<(&str, &str)> = listed
        .groups
        .iter()
        .map(|g| (g.group_id.0.as_str(), g.protocol_type.as_str()))
        .collect();
    assert_eq!(found, [("solo", "consumer")]);
    let mut describe = DescribeGroupsRequest::default();
    describe.groups = vec![GroupId(s("solo")), GroupId(s("never"))];
    let response = conn.call(0, &describe).await;
    let states: Vec<&str> = response
        .groups
        .iter()
        .map(|g| g.group_state.as_str())
        .collect();
    assert_eq!(states, ["Empty", "Dead"]);
}

// ---------------------------------------------------------------------------------------------
// Edges
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_deleted_topic_recreated_under_its_name_starts_empty() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "phoenix", 1, &[]).await;
    let id = init_producer_id(&mut conn).await;
    let first = idempotent(batch(&records("old", 4, 1), Compression::None), id, 0, 0);
    assert_eq!(
        produce_one(&mut conn, 9, "phoenix", first.clone()).await,
        (NONE, 0)
    );
    let mut delete = DeleteTopicsRequest::default();
    delete.topic_names = vec![topic("phoenix")];
    let response = conn.call(4, &delete).await;
    assert_eq!(some(response.responses.first(), "result").error_code, NONE);
    assert_eq!(
        partitions_of(&mut conn, "phoenix").await.0,
        UNKNOWN_TOPIC_OR_PARTITION
    );
    let (error, _, _) = fetch_at(&mut conn, 12, "phoenix", 0, 0).await;
    assert_eq!(error, UNKNOWN_TOPIC_OR_PARTITION);

    create_topic(&mut conn, "phoenix", 1, &[]).await;
    assert_eq!(end_offset(&mut conn, "phoenix", 0).await, 0);
    assert!(read_all(&mut conn, 12, "phoenix").await.is_empty());
    // The old producer state went with the old topic: the same batch is new here.
    assert_eq!(produce_one(&mut conn, 9, "phoenix", first).await, (NONE, 0));
    assert_eq!(end_offset(&mut conn, "phoenix", 0).await, 4);
}

#[tokio::test]
async fn invalid_names_and_limits_are_refused_and_create_nothing() {
    let server = start().await;
    let mut conn = server.conn().await;
    let code = |response: &kafka_protocol::messages::CreateTopicsResponse| {
        some(response.topics.first(), "result").error_code
    };
    const INVALID_TOPIC_EXCEPTION: i16 = 17;
    for name in ["bad name", "..", ".", "", "topic/1", &"x".repeat(250)] {
        for validate_only in [false, true] {
            let response = conn
                .call(5, &create_topics(name, 1, 1, &[], validate_only))
                .await;
            assert_eq!(
                code(&response),
                INVALID_TOPIC_EXCEPTION,
                "{name:?} validate_only={validate_only}"
            );
        }
    }
    // Kafka's legal characters are Ferry's.
    create_topic(&mut conn, "Legal.name_with-all-0123456789", 1, &[]).await;
    // Far too many partitions, at creation or growing.
    let response = conn
        .call(5, &create_topics("huge", 100_000, 1, &[], false))
        .await;
    assert_eq!(code(&response), INVALID_PARTITIONS);
    let mut grow = CreatePartitionsTopic::default();
    grow.name = topic("Legal.name_with-all-0123456789");
    grow.count = 100_000;
    let mut request = CreatePartitionsRequest::default();
    request.topics = vec![grow];
    let response = conn.call(3, &request).await;
    assert_eq!(
        some(response.results.first(), "result").error_code,
        INVALID_PARTITIONS
    );
    let all = conn.call(1, &metadata_request(None, true)).await;
    assert_eq!(topic_names(&all), ["Legal.name_with-all-0123456789"]);
    assert_eq!(
        partitions_of(&mut conn, "Legal.name_with-all-0123456789").await,
        (NONE, 1)
    );
    // A config value outside its range.
    let tiny = incremental(
        "Legal.name_with-all-0123456789",
        &[("max.message.bytes", 0, Some("100"))],
        false,
    );
    let response = conn.call(1, &tiny).await;
    assert_eq!(
        some(response.responses.first(), "result").error_code,
        INVALID_CONFIG
    );
}

#[tokio::test]
async fn broker_configs_are_described_read_only() {
    let server = start_with(|c| c.default_partitions = 3).await;
    let mut conn = server.conn().await;
    let mut resource = DescribeConfigsResource::default();
    resource.resource_type = 4;
    resource.resource_name = s("0");
    resource.configuration_keys = None;
    let mut request = DescribeConfigsRequest::default();
    request.resources = vec![resource];
    let response = conn.call(4, &request).await;
    let result = some(response.results.first(), "result");
    assert_eq!(result.error_code, NONE);
    let partitions = some(
        result
            .configs
            .iter()
            .find(|c| c.name.as_str() == "num.partitions"),
        "num.partitions",
    );
    assert_eq!(partitions.value.as_ref().map(|v| v.as_str()), Some("3"));
    assert!(result.configs.iter().all(|c| c.read_only));
    // And they cannot be altered.
    let mut alter = incremental("0", &[("num.partitions", 0, Some("5"))], false);
    alter.resources[0].resource_type = 4;
    let response = conn.call(1, &alter).await;
    assert_ne!(some(response.responses.first(), "result").error_code, NONE);
}

#[tokio::test]
async fn a_batch_larger_than_the_fetch_limits_still_comes_back() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "wide", 2, &[]).await;
    let big = vec![StreamRecord {
        timestamp_ms: 1,
        key: Some(b"k".to_vec()),
        value: Some(vec![9; 50_000]),
        headers: Vec::new(),
    }];
    for partition in [0, 1] {
        for _ in 0..2 {
            let response = conn
                .call(
                    9,
                    &produce("wide", partition, -1, batch(&big, Compression::None)),
                )
                .await;
            assert_eq!(produced(&response).error_code, NONE);
        }
    }
    // Both partitions asked for, 1 KiB allowed: the first batch of the first partition comes
    // back whole (KIP-74); nothing else fits.
    let mut request = fetch("wide", 0, 0, 0);
    request.max_bytes = 1024;
    let mut second = request.topics[0].partitions[0].clone();
    second.partition = 1;
    request.topics[0].partitions.push(second);
    for p in &mut request.topics[0].partitions {
        p.partition_max_bytes = 1024;
    }
    let response = conn.call(12, &request).await;
    let t = some(response.responses.first(), "topic");
    let sizes: Vec<usize> = t
        .partitions
        .iter()
        .map(|p| decode_batches(&some(p.records.clone(), "records")).len())
        .collect();
    assert_eq!(sizes, [1, 0]);
}

#[tokio::test]
async fn classic_groups_take_any_kafka_group_id_and_refuse_oversized_metadata() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "jobs", 1, &[]).await;
    for group in ["my group", "team:payments/v2", "ünïcode-grüppe"] {
        assert_eq!(
            commit_code(&mut conn, &commit(group, "", -1, 3, "m")).await,
            NONE,
            "{group:?}"
        );
        assert_eq!(
            committed(&mut conn, group).await,
            (3, Some("m".to_owned())),
            "{group:?}"
        );
    }
    const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    let long = "x".repeat(5_000);
    assert_eq!(
        commit_code(&mut conn, &commit("my group", "", -1, 4, &long)).await,
        OFFSET_METADATA_TOO_LARGE
    );
    assert_eq!(committed(&mut conn, "my group").await.0, 3);
}

#[tokio::test]
async fn a_member_that_stops_heartbeating_is_removed_after_its_session() {
    let server = start().await;
    let mut conn = server.conn().await;
    // v3 assigns the member id on the first join.
    let mut request = join("", b"m");
    request.group_id = GroupId(s("sleepy"));
    request.session_timeout_ms = 1_000;
    request.rebalance_timeout_ms = 1_000;
    let response = conn.call(3, &request).await;
    let (generation, leader, me) = joined(&response);
    assert_eq!((generation, leader.as_str()), (1, me.as_str()));
    let mut sync_request = sync(&me, 1, &[(me.as_str(), b"a".as_slice())]);
    sync_request.group_id = GroupId(s("sleepy"));
    assert_eq!(conn.call(3, &sync_request).await.error_code, NONE);
    let mut stale = sync_request.clone();
    stale.generation_id = 7;
    assert_eq!(conn.call(3, &stale).await.error_code, ILLEGAL_GENERATION);
    let mut stranger = sync_request.clone();
    stranger.member_id = s("stranger");
    assert_eq!(conn.call(3, &stranger).await.error_code, UNKNOWN_MEMBER_ID);

    let started = Instant::now();
    let mut hb = HeartbeatRequest::default();
    hb.group_id = GroupId(s("sleepy"));
    hb.member_id = s(&me);
    hb.generation_id = 1;
    let mut describe = DescribeGroupsRequest::default();
    describe.groups = vec![GroupId(s("sleepy"))];
    loop {
        let response = conn.call(5, &describe).await;
        let group = some(response.groups.first(), "group");
        if group.members.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the member was never removed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "removed after {:?}",
        started.elapsed()
    );
    assert_eq!(conn.call(4, &hb).await.error_code, UNKNOWN_MEMBER_ID);
}

#[tokio::test]

async fn pipelined_offset_commits_take_effect_in_request_order() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "jobs", 1, &[]).await;
    // As a consumer's commitAsync does: commits pipelined on the coordinator connection.
    for round in 0..10 {
        let mut bytes = Vec::new();
        let mut sent = Vec::new();
        let last = 40 * (round + 1);
        for offset in (last - 39)..=last {
            let (correlation_id, frame) = conn.frame(7, &commit("ordered", "", -1, offset, ""));
            bytes.extend(frame);
            sent.push(correlation_id);
        }
        conn.send_raw(&bytes).await;
        for correlation_id in sent {
            let (got, response) = conn.recv::<OffsetCommitRequest>(7).await;
            assert_eq!(got, correlation_id);
            let t = some(response.topics.first(), "topic");
            assert_eq!(some(t.partitions.first(), "partition").error_code, NONE);
        }
        assert_eq!(
            committed(&mut conn, "ordered").await.0,
            last,
            "round {round}: an earlier commit landed after the last one"
        );
    }
}

#[tokio::test]
async fn many_pipelined_produces_keep_their_order() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "order", 1, &[]).await;
    pipelined_idempotent_produces(&mut conn, "order", "o", 40, 2, Compression::Lz4).await;
}

// ---------------------------------------------------------------------------------------------
// Every version of every API
// ---------------------------------------------------------------------------------------------

/// Sends `build(v)` at every version Ferry advertises for `R`'s API and returns the answers;
/// panics naming the version if the server closes the connection instead (for instance
/// because it cannot encode its response at that version).
async fn at_every_version<R: kafka_protocol::protocol::Request>(
    conn: &mut Conn,
    addr: std::net::SocketAddr,
    build: impl Fn(i16) -> R,
) -> Vec<(i16, R::Response)> {
    let key = some(ApiKey::try_from(R::KEY).ok(), "key");
    let range = some(ferry_kafka::versions::supported(key), "supported");
    let mut out = Vec::new();
    for version in range.min..=range.max {
        match conn.try_call(version, &build(version)).await {
            Some(response) => out.push((version, response)),
            None => {
                *conn = Conn::connect(addr).await;
                panic!("{key:?} v{version}: the server closed the connection instead of answering");
            }
        }
    }
    out
}

#[tokio::test]
async fn every_advertised_version_of_every_api_is_answered() {
    use kafka_protocol::messages::{
        DeleteRecordsRequest as DeleteRecords, FindCoordinatorRequest as FindCoordinator,
        ListOffsetsRequest as ListOffsets,
    };
    let server = start().await;
    let addr = server.addr;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "sweep", 1, &[]).await;
    create_topic(&mut conn, "jobs", 1, &[]).await;
    assert_eq!(
        commit_code(&mut conn, &commit("swept", "", -1, 1, "m")).await,
        NONE
    );

    at_every_version(&mut conn, addr, |_| ApiVersionsRequest::default()).await;
    for (v, r) in at_every_version(&mut conn, addr, |_| {
        metadata_request(Some(&["sweep"]), true)
    })
    .await
    {
        assert_eq!(
            some(r.topics.first(), "topic").partitions.len(),
            1,
            "Metadata v{v}"
        );
    }
    for (v, r) in at_every_version(&mut conn, addr, |_| {
        produce(
            "sweep",
            0,
            -1,
            batch(&records("v", 1, 5), Compression::None),
        )
    })
    .await
    {
        assert_eq!(produced(&r).error_code, NONE, "Produce v{v}");
    }
    for (v, r) in at_every_version(&mut conn, addr, |_| fetch("sweep", 0, 0, 0)).await {
        assert_eq!(fetched(&r).0, NONE, "Fetch v{v}");
    }
    for (v, r) in
        at_every_version::<ListOffsets>(&mut conn, addr, |_| list_offsets("sweep", 0, -1)).await
    {
        let t = some(r.topics.first(), "topic");
        assert_eq!(
            some(t.partitions.first(), "partition").offset,
            9,
            "ListOffsets v{v}"
        );
    }
    for (v, r) in at_every_version(&mut conn, addr, |_| commit("swept", "", -1, 2, "m")).await {
        let t = some(r.topics.first(), "topic");
        assert_eq!(
            some(t.partitions.first(), "partition").error_code,
            NONE,
            "OffsetCommit v{v}"
        );
    }
    for (v, r) in at_every_version(&mut conn, addr, |_| {
        let mut t = OffsetFetchRequestTopic::default();
        t.name = topic("jobs");
        t.partition_indexes = vec![0];
        let mut request = OffsetFetchRequest::default();
        request.group_id = GroupId(s("swept"));
        request.topics = Some(vec![t]);
        request
    })
    .await
    {
        let t = some(r.topics.first(), "topic");
        assert_eq!(
            some(t.partitions.first(), "partition").committed_offset,
            2,
            "OffsetFetch v{v}"
        );
    }
    for key_type in [0, 1] {
        at_every_version::<FindCoordinator>(&mut conn, addr, |v| {
            let mut request = FindCoordinator::default();
            if v >= 4 {
                request.coordinator_keys = vec![s("swept")];
            } else {
                request.key = s("swept");
            }
            if v >= 1 {
                request.key_type = key_type;
            }
            request
        })
        .await;
    }
    for (v, r) in at_every_version(&mut conn, addr, |v| {
        let mut request = join("", b"m");
        request.group_id = GroupId(s(&format!("jg-{v}")));
        if v == 0 {
            request.rebalance_timeout_ms = -1;
        }
        request
    })
    .await
    {
        let expected = if v >= 4 { MEMBER_ID_REQUIRED } else { NONE };
        assert_eq!(r.error_code, expected, "JoinGroup v{v}");
    }
    for (v, r) in at_every_version(&mut conn, addr, |_| {
        let mut request = sync("stranger", 1, &[("stranger", b"a".as_slice())]);
        request.group_id = GroupId(s("jg-3"));
        request
    })
    .await
    {
        assert_eq!(r.error_code, UNKNOWN_MEMBER_ID, "SyncGroup v{v}");
    }
    for (v, r) in at_every_version(&mut conn, addr, |_| {
        let mut request = HeartbeatRequest::default();
        request.group_id = GroupId(s("jg-3"));
        request.member_id = s("stranger");
        request
    })
    .await
    {
        assert_eq!(r.error_code, UNKNOWN_MEMBER_ID, "Heartbeat v{v}");
    }
    at_every_version(&mut conn, addr, |v| {
        let mut request = LeaveGroupRequest::default();
        request.group_id = GroupId(s("jg-2"));
        if v >= 3 {
            let mut m = MemberIdentity::default();
            m.member_id = s("stranger");
            request.members = vec![m];
        } else {
            request.member_id = s("stranger");
        }
        request
    })
    .await;
    for (v, r) in at_every_version(&mut conn, addr, |_| {
        let mut request = DescribeGroupsRequest::default();
        request.groups = vec![GroupId(s("jg-1")), GroupId(s("swept"))];
        request
    })
    .await
    {
        assert_eq!(r.groups.len(), 2, "DescribeGroups v{v}");
    }
    for (v, r) in at_every_version(&mut conn, addr, |_| ListGroupsRequest::default()).await {
        assert!(r.groups.len() >= 2, "ListGroups v{v}");
    }
    for (v, r) in at_every_version(&mut conn, addr, |v| {
        create_topics(&format!("ct-{v}"), 1, -1, &[], false)
    })
    .await
    {
        assert_eq!(
            some(r.topics.first(), "topic").error_code,
            NONE,
            "CreateTopics v{v}"
        );
    }
    for (v, r) in at_every_version(&mut conn, addr, |v| {
        // CreateTopics starts at v2 and DeleteTopics at v1: v deletes what v + 1 created.
        let mut request = DeleteTopicsRequest::default();
        if v >= 6 {
            let mut state = DeleteTopicState::default();
            state.name = Some(topic(&format!("ct-{}", v + 1)));
            request.topics = vec![state];
        } else {
            request.topic_names = vec![topic(&format!("ct-{}", v + 1))];
        }
        request
    })
    .await
    {
        assert_eq!(
            some(r.responses.first(), "topic").error_code,
            NONE,
            "DeleteTopics v{v}"
        );
    }
    for (v, r) in at_every_version::<DeleteRecords>(&mut conn, addr, |_| {
        let mut p = DeleteRecordsPartition::default();
        p.offset = 1;
        let mut t = DeleteRecordsTopic::default();
        t.name = topic("sweep");
        t.partitions = vec![p];
        let mut request = DeleteRecords::default();
        request.topics = vec![t];
        request
    })
    .await
    {
        let t = some(r.topics.first(), "topic");
        assert_eq!(
            some(t.partitions.first(), "partition").error_code,
            NONE,
            "DeleteRecords v{v}"
        );
    }
    for transactional in [None, Some("tx")] {
        at_every_version(&mut conn, addr, |_| {
            let mut request = kafka_protocol::messages::InitProducerIdRequest::default();
            request.transactional_id =
                transactional.map(|t| kafka_protocol::messages::TransactionalId(s(t)));
            request
        })
        .await;
    }
    for (v, r) in at_every_version(&mut conn, addr, |_| describe_configs("sweep", None)).await {
        assert_eq!(configs_of(&r).len(), 7, "DescribeConfigs v{v}");
    }
    for (v, r) in at_every_version(&mut conn, addr, |_| {
        use alter_configs_request::{AlterConfigsResource, AlterableConfig};
        let mut c = AlterableConfig::default();
        c.name = s("retention.ms");
        c.value = Some(s("60000"));
        let mut resource = AlterConfigsResource::default();
        resource.resource_type = TOPIC_RESOURCE;
        resource.resource_name = s("sweep");
        resource.configs = vec![c];
        let mut request = AlterConfigsRequest::default();
        request.resources = vec![resource];
        request
    })
    .await
    {
        assert_eq!(
            some(r.responses.first(), "resource").error_code,
            NONE,
            "AlterConfigs v{v}"
        );
    }
    for (v, r) in at_every_version(&mut conn, addr, |v| {
        let mut t = CreatePartitionsTopic::default();
        t.name = topic("sweep");
        t.count = 2 + i32::from(v);
        let mut request = CreatePartitionsRequest::default();
        request.topics = vec![t];
        request
    })
    .await
    {
        assert_eq!(
            some(r.results.first(), "topic").error_code,
            NONE,
            "CreatePartitions v{v}"
        );
    }
    for (v, r) in at_every_version(&mut conn, addr, |_| {
        incremental("sweep", &[("retention.ms", 0, Some("70000"))], false)
    })
    .await
    {
        assert_eq!(
            some(r.responses.first(), "resource").error_code,
            NONE,
            "IncrementalAlterConfigs v{v}"
        );
    }
    server.assert_alive().await;
}

#[tokio::test]
async fn stopping_the_listener_ends_long_polls_at_once() {
    let server = start().await;
    let mut conn = server.conn().await;
    create_topic(&mut conn, "idle", 1, &[]).await;
    let sent = conn.send(12, &fetch("idle", 0, 0, 20_000)).await;
    // The fetch is waiting (nothing to read); then the server stops.
    assert!(
        conn.read_frame_within(Duration::from_millis(100))
            .await
            .is_err()
    );
    let started = Instant::now();
    server.stop();
    // Either answered (empty) or closed, and promptly, not after the 20 s wait.
    if let Some(frame) = conn.read_frame().await {
        let (got, response) = decode_response::<FetchRequest>(ApiKey::Fetch, 12, frame);
        assert_eq!(got, sent);
        assert!(fetched(&response).2.is_empty());
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    // New connections are no longer served.
    let refused = tokio::time::timeout(PATIENCE, tokio::net::TcpStream::connect(server.addr)).await;
    if let Ok(Ok(stream)) = refused {
        let mut stream = stream;
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::io::AsyncReadExt::read(&mut stream, &mut byte),
        )
        .await;
        assert!(!matches!(read, Ok(Ok(1))), "a stopped listener sent bytes");
    }
}

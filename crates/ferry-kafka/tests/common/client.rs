//! A tiny raw Kafka client for tests: frames requests encoded by `kafka-protocol` with
//! correlation ids, reads responses back, sends raw bytes, and builds and reads record batches
//! with Ferry's own codec. No retries, no metadata cache: exactly the bytes a test asks for.
//!
//! Shared by the `ferry-kafka` tests and, through `#[path]`, the `ferry` binary's crash test,
//! so it depends only on `kafka-protocol`, `ferry-core`, `bytes`, `crc32c` and `tokio`.

#![allow(dead_code, unreachable_pub)]

use bytes::{Buf, BufMut, Bytes, BytesMut};
use ferry_core::stream::{
    Compression, DecodedBatch, StreamRecord, decode_batch, decode_header, encode_batch_with,
};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, FetchRequest, InitProducerIdRequest, ListOffsetsRequest,
    ProduceRequest, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use std::fmt::Display;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest any single read waits before the test fails as hung.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The value of `r`, or a panic naming `what`.
pub fn ok<T, E: Display>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// The value of `o`, or a panic naming `what`.
pub fn some<T>(o: Option<T>, what: &str) -> T {
    o.unwrap_or_else(|| panic!("{what}: nothing"))
}

/// A protocol string.
pub fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

/// A topic name.
pub fn topic(name: &str) -> TopicName {
    TopicName(s(name))
}

/// One connection to a Kafka listener.
pub struct Conn {
    stream: TcpStream,
    next_correlation: i32,
    input: BytesMut,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> Conn {
        let stream = ok(
            tokio::time::timeout(PATIENCE, TcpStream::connect(addr))
                .await
                .map_err(|_| "timed out"),
            "connect",
        );
        let stream = ok(stream, "connect");
        let _ = stream.set_nodelay(true);
        Conn {
            stream,
            next_correlation: 1,
            input: BytesMut::new(),
        }
    }

    /// A whole request frame (size, header, body) for `request` at `version`, with the next
    /// correlation id, which is returned with it.
    pub fn frame<R: Request>(&mut self, version: i16, request: &R) -> (i32, Vec<u8>) {
        let correlation_id = self.next_correlation;
        self.next_correlation += 1;
        let key = some(ApiKey::try_from(R::KEY).ok(), "api key");
        let mut header = RequestHeader::default();
        header.request_api_key = R::KEY;
        header.request_api_version = version;
        header.correlation_id = correlation_id;
        header.client_id = Some(s("ferry-test"));
        let mut out = BytesMut::new();
        out.put_i32(0);
        ok(
            header.encode(&mut out, key.request_header_version(version)),
            "encode request header",
        );
        ok(
            request.encode(&mut out, version),
            &format!("encode {key:?} v{version}"),
        );
        let size = ok(i32::try_from(out.len() - 4), "frame size");
        out[..4].copy_from_slice(&size.to_be_bytes());
        (correlation_id, out.to_vec())
    }

    /// Sends `request` without waiting for the response; returns its correlation id.
    pub async fn send<R: Request>(&mut self, version: i16, request: &R) -> i32 {
        let (correlation_id, frame) = self.frame(version, request);
        self.send_raw(&frame).await;
        correlation_id
    }

    /// Writes `bytes` as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        ok(self.stream.write_all(bytes).await, "write");
    }

    /// Writes `bytes`, tolerating a server that already closed the connection.
    pub async fn try_send_raw(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok()
    }

    /// Closes the writing half (the server then reads end of file).
    pub async fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// Reads the next response of a `R` request sent at `version`: its correlation id and
    /// body. Panics if the connection closes, nothing comes within [`PATIENCE`], or the
    /// response does not decode exactly.
    pub async fn recv<R: Request>(&mut self, version: i16) -> (i32, R::Response) {
        let key = some(ApiKey::try_from(R::KEY).ok(), "api key");
        let frame = some(
            self.read_frame().await,
            "the connection closed before a response",
        );
        decode_response::<R>(key, version, frame)
    }

    /// Sends `request` and reads its response, checking the correlation id.
    pub async fn call<R: Request>(&mut self, version: i16, request: &R) -> R::Response {
        let sent = self.send(version, request).await;
        let (got, response) = self.recv::<R>(version).await;
        assert_eq!(got, sent, "correlation id");
        response
    }

    /// Sends `request` and reads its response; `None` if the connection fails or closes
    /// first (the server went away).
    pub async fn try_call<R: Request>(&mut self, version: i16, request: &R) -> Option<R::Response> {
        let key = some(ApiKey::try_from(R::KEY).ok(), "api key");
        let (sent, frame) = self.frame(version, request);
        if !self.try_send_raw(&frame).await {
            return None;
        }
        let frame = self.read_frame().await?;
        let (got, response) = decode_response::<R>(key, version, frame);
        assert_eq!(got, sent, "correlation id");
        Some(response)
    }

    /// The next response frame without its size prefix; `None` once the server closed the
    /// connection (end of file or reset). Panics after [`PATIENCE`].
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        match self.read_frame_within(PATIENCE).await {
            Ok(frame) => frame,
            Err(()) => panic!("no response and no close within {PATIENCE:?}"),
        }
    }

    /// As [`Conn::read_frame`], but `Err` if nothing happens within `wait`.
    pub async fn read_frame_within(&mut self, wait: Duration) -> Result<Option<Bytes>, ()> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(prefix) = self.input.get(..4) {
                let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
                let size = ok(usize::try_from(size), "response size");
                if self.input.len() >= 4 + size {
                    self.input.advance(4);
                    return Ok(Some(self.input.split_to(size).freeze()));
                }
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.input)).await {
                Err(_) => return Err(()),
                Ok(Ok(0) | Err(_)) => return Ok(None),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Asserts the server closes the connection without sending anything (more).
    pub async fn expect_closed(&mut self, why: &str) {
        if let Some(frame) = self.read_frame().await {
            panic!(
                "{why}: expected the connection to close, got a {}-byte response",
                frame.len()
            );
        }
    }
}

/// Decodes one response frame of a `R` request at `version`.
pub fn decode_response<R: Request>(key: ApiKey, version: i16, frame: Bytes) -> (i32, R::Response) {
    let mut buf = frame;
    let header = ok(
        ResponseHeader::decode(&mut buf, key.response_header_version(version)),
        "response header",
    );
    let response = ok(
        R::Response::decode(&mut buf, version),
        &format!("{key:?} v{version} response"),
    );
    assert_eq!(
        buf.remaining(),
        0,
        "{key:?} v{version} response has trailing bytes"
    );
    (header.correlation_id, response)
}

// ---------------------------------------------------------------------------------------------
// Record batches
// ---------------------------------------------------------------------------------------------

/// `count` keyed records `"{prefix}-{i}"` with timestamps `base_ms + i` and one header each.
pub fn records(prefix: &str, count: usize, base_ms: u64) -> Vec<StreamRecord> {
    (0..count)
        .map(|i| StreamRecord {
            timestamp_ms: base_ms + i as u64,
            key: Some(format!("k-{prefix}-{i}").into_bytes()),
            value: Some(format!("{prefix}-{i}").into_bytes()),
            headers: vec![(
                "h".to_owned(),
                Some(vec![u8::try_from(i % 256).unwrap_or(0)]),
            )],
        })
        .collect()
}

/// One batch of `records`, compressed with `compression`, as a plain producer writes it.
pub fn batch(records: &[StreamRecord], compression: Compression) -> Vec<u8> {
    let mut out = Vec::new();
    ok(
        encode_batch_with(0, records, compression, &mut out),
        "encode batch",
    );
    out
}

/// `batch` as an idempotent producer writes it: producer id, epoch and base sequence set and
/// the CRC recomputed.
pub fn idempotent(mut batch: Vec<u8>, producer_id: i64, epoch: i16, base_sequence: i32) -> Vec<u8> {
    batch[43..51].copy_from_slice(&producer_id.to_be_bytes());
    batch[51..53].copy_from_slice(&epoch.to_be_bytes());
    batch[53..57].copy_from_slice(&base_sequence.to_be_bytes());
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    batch
}

/// Every batch in `bytes` (a Fetch response's records), decoded; panics on anything invalid.
pub fn decode_batches(bytes: &[u8]) -> Vec<DecodedBatch> {
    raw_batches(bytes)
        .into_iter()
        .map(|b| ok(decode_batch(b), "stored batch"))
        .collect()
}

/// The batches in `bytes`, cut by their headers, undecoded.
pub fn raw_batches(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let header = ok(decode_header(rest), "batch header");
        let (one, tail) = rest.split_at(header.total_bytes());
        out.push(one);
        rest = tail;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Requests the tests send often
// ---------------------------------------------------------------------------------------------

/// Creates `name` with `partitions` partitions and the given topic configs; asserts success.
pub async fn create_topic(conn: &mut Conn, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let response = conn
        .call(5, &create_topics(name, partitions, 1, configs, false))
        .await;
    let result = some(response.topics.first(), "create topics result");
    assert_eq!(
        result.error_code, 0,
        "create {name}: {:?}",
        result.error_message
    );
}

pub fn create_topics(
    name: &str,
    partitions: i32,
    replication: i16,
    configs: &[(&str, &str)],
    validate_only: bool,
) -> CreateTopicsRequest {
    let mut t = CreatableTopic::default();
    t.name = topic(name);
    t.num_partitions = partitions;
    t.replication_factor = replication;
    t.configs = configs
        .iter()
        .map(|(k, v)| {
            let mut c = CreatableTopicConfig::default();
            c.name = s(k);
            c.value = Some(s(v));
            c
        })
        .collect();
    let mut request = CreateTopicsRequest::default();
    request.topics = vec![t];
    request.timeout_ms = 5_000;
    request.validate_only = validate_only;
    request
}

/// A fresh idempotent producer id (epoch 0).
pub async fn init_producer_id(conn: &mut Conn) -> i64 {
    let mut request = InitProducerIdRequest::default();
    request.transactional_id = None;
    request.transaction_timeout_ms = 60_000;
    let response = conn.call(4, &request).await;
    assert_eq!(response.error_code, 0, "InitProducerId");
    assert_eq!(response.producer_epoch, 0);
    assert!(response.producer_id.0 >= 0);
    response.producer_id.0
}

/// A Produce of `batch` to one partition.
pub fn produce(name: &str, partition: i32, acks: i16, batch: Vec<u8>) -> ProduceRequest {
    let mut data = PartitionProduceData::default();
    data.index = partition;
    data.records = Some(Bytes::from(batch));
    let mut t = TopicProduceData::default();
    t.name = topic(name);
    t.partition_data = vec![data];
    let mut request = ProduceRequest::default();
    request.acks = acks;
    request.timeout_ms = 10_000;
    request.topic_data = vec![t];
    request
}

/// The one partition's answer of a Produce response.
pub fn produced(response: &kafka_protocol::messages::ProduceResponse) -> &PartitionProduceResponse {
    let t = some(response.responses.first(), "produce topic");
    some(t.partition_responses.first(), "produce partition")
}

/// A Fetch of one partition from `offset`.
pub fn fetch(name: &str, partition: i32, offset: i64, max_wait_ms: i32) -> FetchRequest {
    let mut p = FetchPartition::default();
    p.partition = partition;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1024 * 1024;
    let mut t = FetchTopic::default();
    t.topic = topic(name);
    t.partitions = vec![p];
    let mut request = FetchRequest::default();
    request.max_wait_ms = max_wait_ms;
    request.min_bytes = 1;
    request.max_bytes = 4 * 1024 * 1024;
    request.topics = vec![t];
    request
}

/// A ListOffsets of one partition at `timestamp` (−1 latest, −2 earliest).
pub fn list_offsets(name: &str, partition: i32, timestamp: i64) -> ListOffsetsRequest {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = partition;
    p.timestamp = timestamp;
    let mut t = ListOffsetsTopic::default();
    t.name = topic(name);
    t.partitions = vec![p];
    let mut request = ListOffsetsRequest::default();
    request.replica_id = (-1).into();
    request.topics = vec![t];
    request
}

/// `(offset, timestamp, error)` of one partition's ListOffsets answer, at version 1+.
pub async fn offset_at(
    conn: &mut Conn,
    name: &str,
    partition: i32,
    timestamp: i64,
) -> (i64, i64, i16) {
    let response = conn
        .call(4, &list_offsets(name, partition, timestamp))
        .await;
    let t = some(response.topics.first(), "list offsets topic");
    let p = some(t.partitions.first(), "list offsets partition");
    (p.offset, p.timestamp, p.error_code)
}

/// The partition's end offset (ListOffsets latest).
pub async fn end_offset(conn: &mut Conn, name: &str, partition: i32) -> i64 {
    let (offset, _, error) = offset_at(conn, name, partition, -1).await;
    assert_eq!(error, 0, "list offsets {name}/{partition}");
    offset
}

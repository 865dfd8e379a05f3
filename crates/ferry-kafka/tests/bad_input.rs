//! Hostile and broken input on the Kafka port: whatever a client sends, the server either
//! answers or closes that one connection, never crashes, hangs or panics, and keeps serving
//! new connections (checked after every case with a fresh ApiVersions).

mod common;

use common::*;
use ferry_kafka::versions::SUPPORTED;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, MetadataRequest};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

/// A request header with a null client id, in the layout `key` and `version` call for
/// (flexible versions add an empty tagged-field section).
fn header(key: i16, version: i16, correlation_id: i32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&key.to_be_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&correlation_id.to_be_bytes());
    out.extend_from_slice(&(-1i16).to_be_bytes());
    let flexible = ApiKey::try_from(key).is_ok_and(|k| k.request_header_version(version) >= 2);
    if flexible {
        out.push(0);
    }
    out
}

/// `payload` with its size prefix.
fn framed(payload: &[u8]) -> Vec<u8> {
    let mut out = i32::try_from(payload.len())
        .unwrap_or(i32::MAX)
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(payload);
    out
}

/// A frame of `key` at `version` whose body is `body`.
fn request(key: i16, version: i16, correlation_id: i32, body: &[u8]) -> Vec<u8> {
    let mut payload = header(key, version, correlation_id);
    payload.extend_from_slice(body);
    framed(&payload)
}

/// Deterministic pseudo-random bytes (xorshift), so every run sends the same garbage.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Sends `bytes` on a fresh connection; the server must close it without answering.
async fn assert_closes(server: &TestServer, bytes: &[u8], why: &str) {
    let mut conn = server.conn().await;
    let _ = conn.try_send_raw(bytes).await;
    conn.expect_closed(why).await;
    server.assert_alive().await;
}

/// Sends `bytes` (one request with `correlation_id`) on a fresh connection; the server must
/// either close it or answer with that correlation id and then keep the connection usable.
async fn assert_closes_or_answers(
    server: &TestServer,
    bytes: &[u8],
    correlation_id: i32,
    why: &str,
) {
    let mut conn = server.conn().await;
    if conn.try_send_raw(bytes).await {
        if let Some(frame) = conn.read_frame().await {
            let got = frame
                .get(..4)
                .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            assert_eq!(got, Some(correlation_id), "{why}: answered another request");
        }
    }
    server.assert_alive().await;
}

#[tokio::test]
async fn truncated_frames_close_the_connection() {
    let server = start().await;
    // Half a size prefix, then the client stops sending.
    let mut conn = server.conn().await;
    conn.send_raw(&[0, 0]).await;
    conn.shutdown_write().await;
    conn.expect_closed("half a size prefix").await;
    // A size of 100 and only 50 bytes.
    let mut conn = server.conn().await;
    let mut short = 100i32.to_be_bytes().to_vec();
    short.extend_from_slice(&header(3, 1, 1));
    short.resize(54, 0);
    conn.send_raw(&short).await;
    conn.shutdown_write().await;
    conn.expect_closed("a frame cut short").await;
    server.assert_alive().await;
    // Whole frames too short for a header, or cut inside it.
    assert_closes(&server, &framed(&[]), "an empty frame").await;
    assert_closes(&server, &framed(&[0, 18, 0]), "a 3-byte frame").await;
    assert_closes(
        &server,
        &framed(&[0, 3, 0, 1, 0, 0, 0, 9]),
        "a header without client id",
    )
    .await;
    assert_closes(
        &server,
        &framed(&[0, 3, 0, 1, 0, 0, 0, 9, 0, 200, b'x']),
        "a client id longer than the frame",
    )
    .await;
}

#[tokio::test]
async fn negative_frame_sizes_close_the_connection() {
    let server = start().await;
    for size in [-1i32, i32::MIN, -8] {
        let mut bytes = size.to_be_bytes().to_vec();
        bytes.extend_from_slice(&header(18, 0, 1));
        assert_closes(&server, &bytes, &format!("size {size}")).await;
    }
}

#[tokio::test]
async fn oversized_frames_close_the_connection_and_the_server_serves_on() {
    let server = start_with(|c| c.max_request_bytes = 4096).await;
    // Refused from the size alone, before any body arrives.
    assert_closes(
        &server,
        &4097i32.to_be_bytes(),
        "one byte over max_request_bytes",
    )
    .await;
    assert_closes(&server, &i32::MAX.to_be_bytes(), "2 GiB").await;
    // At the limit: read, and answered or refused on its merits.
    let body = noise(1, 4096 - header(18, 0, 5).len());
    assert_closes_or_answers(
        &server,
        &request(18, 0, 5, &body),
        5,
        "exactly max_request_bytes",
    )
    .await;

    // Anything but Produce is held to 4 MiB whatever max_request_bytes says.
    let server = start().await;
    let mut metadata = header(3, 1, 6);
    metadata.extend_from_slice(&[0, 0, 0, 0]);
    metadata.resize(5 * 1024 * 1024, 0);
    assert_closes(&server, &framed(&metadata), "a 5 MiB Metadata").await;
}

#[tokio::test]
async fn unknown_apis_and_unsupported_versions_close_the_connection() {
    let server = start().await;
    for key in [
        999i16,
        -1,
        i16::MAX,
        ApiKey::EndTxn as i16,
        ApiKey::SaslHandshake as i16,
    ] {
        assert_closes(
            &server,
            &request(key, 0, 1, &[0; 16]),
            &format!("api key {key}"),
        )
        .await;
    }
    let beyond = [
        (ApiKey::Produce, 2),
        (ApiKey::Produce, 12),
        (ApiKey::Fetch, 3),
        (ApiKey::Fetch, 13),
        (ApiKey::ListOffsets, 7),
        (ApiKey::Metadata, 13),
        (ApiKey::OffsetFetch, 8),
        (ApiKey::JoinGroup, -1),
    ];
    for (key, version) in beyond {
        assert_closes(
            &server,
            &request(key as i16, version, 1, &[0; 16]),
            &format!("{key:?} v{version}"),
        )
        .await;
    }
}

#[tokio::test]
async fn garbage_bodies_for_every_supported_api_are_refused_or_answered() {
    let server = start().await;
    let mut correlation_id = 0;
    for supported in SUPPORTED {
        for version in supported.min..=supported.max {
            let seed = (supported.key as u64) << 16 | version as u64;
            let bodies = [
                Vec::new(),
                vec![0xff; 40],
                vec![0x7f; 9],
                noise(seed, 64),
                noise(seed + 1, 7),
            ];
            for body in bodies {
                correlation_id += 1;
                let bytes = request(supported.key as i16, version, correlation_id, &body);
                let why = format!("{:?} v{version} body {body:02x?}", supported.key);
                assert_closes_or_answers(&server, &bytes, correlation_id, &why).await;
            }
        }
    }
}

#[tokio::test]
async fn huge_array_counts_close_the_connection_without_allocating() {
    let server = start().await;
    // Metadata v1: null client id, then 2^31 - 1 topics in eight bytes.
    let attack = [0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff];
    assert_closes(&server, &framed(&attack), "Metadata v1 with 2^31-1 topics").await;
    // v0, as the brief has it.
    let attack = [0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff];
    assert_closes(&server, &framed(&attack), "Metadata v0 with 2^31-1 topics").await;
    // Metadata v12 (flexible): a compact array of 2^32 - 2 topics.
    let mut flexible = header(3, 12, 1);
    flexible.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert_closes(
        &server,
        &framed(&flexible),
        "Metadata v12 with a huge compact count",
    )
    .await;
    // Produce v3: no transactional id, acks, timeout, then 2^31 - 1 topics.
    let mut produce = header(0, 3, 1);
    produce.extend_from_slice(&[
        0xff, 0xff, 0xff, 0xff, 0, 0, 0x27, 0x10, 0x7f, 0xff, 0xff, 0xff,
    ]);
    assert_closes(&server, &framed(&produce), "Produce with 2^31-1 topics").await;
    // OffsetCommit v2 with a huge partition count inside one topic.
    let mut commit = header(8, 2, 1);
    commit.extend_from_slice(&[0, 1, b'g', 0, 0, 0, 1, 0, 1, b'm']);
    commit.extend_from_slice(&(-1i64).to_be_bytes());
    commit.extend_from_slice(&[0, 0, 0, 1, 0, 1, b't', 0x7f, 0xff, 0xff, 0xff]);
    assert_closes(
        &server,
        &framed(&commit),
        "OffsetCommit with 2^31-1 partitions",
    )
    .await;
}

#[tokio::test]
async fn requests_before_a_bad_frame_are_answered_then_the_connection_closes() {
    let server = start().await;
    let mut conn = server.conn().await;
    let (first, mut bytes) = conn.frame(0, &ApiVersionsRequest::default());
    let (second, more) = conn.frame(1, &MetadataRequest::default());
    bytes.extend(more);
    bytes.extend(request(999, 0, 77, &[]));
    conn.send_raw(&bytes).await;
    let (got, _) = decode_response::<ApiVersionsRequest>(
        ApiKey::ApiVersions,
        0,
        some(conn.read_frame().await, "ApiVersions answer"),
    );
    assert_eq!(got, first);
    let (got, _) = decode_response::<MetadataRequest>(
        ApiKey::Metadata,
        1,
        some(conn.read_frame().await, "Metadata answer"),
    );
    assert_eq!(got, second);
    conn.expect_closed("after the unknown API").await;
    server.assert_alive().await;
}

/// One random frame: a supported or arbitrary API key, a version near the supported range, a
/// random body, and sometimes a size prefix that lies.
fn random_frame() -> impl Strategy<Value = (Vec<u8>, i32)> {
    let key = prop_oneof![
        3 => proptest::sample::select(SUPPORTED.iter().map(|s| s.key as i16).collect::<Vec<_>>()),
        1 => any::<i16>(),
    ];
    (
        key,
        -1i16..16,
        proptest::collection::vec(any::<u8>(), 0..96),
        prop_oneof![4 => Just(0i32), 1 => -8i32..8],
    )
        .prop_map(|(key, version, body, lie)| {
            let correlation_id = 1000 + i32::from(version);
            let mut payload = header(key, version, correlation_id);
            payload.extend_from_slice(&body);
            let size = i32::try_from(payload.len()).unwrap_or(0) + lie;
            let mut bytes = size.to_be_bytes().to_vec();
            bytes.extend_from_slice(&payload);
            (bytes, correlation_id)
        })
}

#[test]
fn random_frames_never_crash_or_hang_the_server() {
    let runtime = ok(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        "runtime",
    );
    let server = runtime.block_on(start());
    let config = Config {
        cases: 96,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0xfe44_7a11),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(&random_frame(), |(bytes, correlation_id)| {
        runtime.block_on(async {
            let mut conn = server.conn().await;
            if conn.try_send_raw(&bytes).await {
                // A lying size leaves the server waiting for more: end the stream so it
                // sees end of file rather than waiting for bytes that never come.
                conn.shutdown_write().await;
                while let Some(frame) = conn.read_frame().await {
                    let got = frame
                        .get(..4)
                        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                    assert_eq!(got, Some(correlation_id));
                }
            }
            server.assert_alive().await;
        });
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

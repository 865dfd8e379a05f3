//! Tests of the shape check: the tables against `kafka-protocol`'s encoder, truncations, the
//! allocation attacks, and random and mutated input against the codec's decoder.

mod samples;

use super::schemas::{HEADER, REQUESTS};
use super::{Malformed, Part, Problem, ShapeError, check, check_header};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
use kafka_protocol::protocol::{Encodable, StrBytes};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use samples::{Ask, Nulls};
use std::collections::BTreeMap;

/// Every (api key, version) with a table, in table order.
fn served() -> Vec<(i16, i16)> {
    REQUESTS
        .iter()
        .flat_map(|schema| {
            (schema.versions.min..=schema.versions.max).map(|version| (schema.api_key, version))
        })
        .collect()
}

/// Every sample body: each served version, with nullable fields set and null.
fn all_samples() -> Vec<(i16, i16, Nulls, Bytes)> {
    let mut out = Vec::new();
    for (api_key, version) in served() {
        for nulls in [Nulls::Set, Nulls::Null] {
            let (codec_key, body) = samples::encode(api_key, Ask { version, nulls });
            assert_eq!(
                codec_key, api_key,
                "sample for api key {api_key} is another request"
            );
            out.push((api_key, version, nulls, body));
        }
    }
    out
}

/// The problem in a `Malformed` error, or a panic.
fn problem<T: std::fmt::Debug>(result: Result<T, ShapeError>) -> (String, Problem) {
    match result {
        Err(ShapeError::Malformed(malformed)) => (malformed.path.to_string(), malformed.problem),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

/// A frame: a v1 or v2 header as the codec encodes it, then `body`.
fn frame(
    api_key: i16,
    version: i16,
    client_id: Option<&'static str>,
    body: &[u8],
) -> (usize, Bytes) {
    let key = ApiKey::try_from(api_key).unwrap_or_else(|()| panic!("api key {api_key}"));
    let header = RequestHeader::default()
        .with_request_api_key(api_key)
        .with_request_api_version(version)
        .with_correlation_id(12345)
        .with_client_id(client_id.map(StrBytes::from_static_str))
        .with_unknown_tagged_fields(BTreeMap::from([(3, Bytes::from_static(b"hdr"))]));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, key.request_header_version(version))
        .unwrap_or_else(|e| panic!("header: {e}"));
    let header_len = buf.len();
    buf.put_slice(body);
    (header_len, buf.freeze())
}

#[test]
fn ferry_serves_exactly_the_advertised_apis_and_versions() {
    let expected: &[(i16, i16, i16)] = &[
        (0, 3, 11),
        (1, 4, 12),
        (2, 1, 7),
        (3, 0, 12),
        (8, 2, 8),
        (9, 1, 7),
        (10, 0, 4),
        (11, 0, 9),
        (12, 0, 4),
        (13, 0, 5),
        (14, 0, 5),
        (15, 0, 5),
        (16, 0, 4),
        (18, 0, 3),
        (19, 2, 7),
        (20, 1, 6),
        (21, 0, 2),
        (22, 0, 4),
        (32, 1, 4),
        (33, 0, 2),
        (37, 0, 3),
        (44, 0, 1),
        (47, 0, 0),
    ];
    let tables: Vec<(i16, i16, i16)> = REQUESTS
        .iter()
        .map(|schema| (schema.api_key, schema.versions.min, schema.versions.max))
        .collect();
    assert_eq!(tables, expected);
    for &(api_key, min, max) in expected {
        let key = ApiKey::try_from(api_key).unwrap_or_else(|()| panic!("api key {api_key}"));
        let codec = key.valid_versions();
        assert!(
            codec.min <= min && max <= codec.max,
            "{key:?}: the codec knows {codec}"
        );
    }
}

#[test]
fn unserved_apis_and_versions_are_unsupported() {
    for (api_key, version) in [
        (0, 2),
        (0, 12),
        (1, 13),
        (3, -1),
        (17, 0),
        (18, 4),
        (47, 1),
        (-5, 0),
    ] {
        let unsupported = ShapeError::Unsupported { api_key, version };
        assert_eq!(check(api_key, version, &[]), Err(unsupported.clone()));
        assert_eq!(check_header(api_key, version, &[0; 32]), Err(unsupported));
    }
}

#[test]
fn the_header_version_is_the_one_the_codec_uses() {
    for (api_key, version) in served() {
        let flexible = super::schemas::request(api_key, version)
            .map(|schema| schema.flexible.contains(version))
            .unwrap_or_else(|e| panic!("{e}"));
        let key = ApiKey::try_from(api_key).unwrap_or_else(|()| panic!("api key {api_key}"));
        let expected = if flexible { 2 } else { 1 };
        assert_eq!(
            key.request_header_version(version),
            expected,
            "{key:?} v{version}"
        );
    }
    assert!(
        !HEADER.versions.contains(0),
        "header v0 (ControlledShutdown v0) is not served"
    );
}

#[test]
fn every_served_version_accepts_the_codecs_own_encoding() {
    let samples = all_samples();
    assert_eq!(samples.len(), 2 * served().len());
    for (api_key, version, nulls, body) in &samples {
        let accepted = check(*api_key, *version, body);
        assert_eq!(
            accepted,
            Ok(body.len()),
            "api key {api_key} v{version} {nulls:?}: {accepted:?}"
        );
        // The codec reads the same bytes back, all of them.
        let key = ApiKey::try_from(*api_key).unwrap_or_else(|()| panic!("api key {api_key}"));
        let mut rest = body.clone();
        let decoded = RequestKind::decode(key, &mut rest, *version);
        assert!(decoded.is_ok(), "{key:?} v{version}: {decoded:?}");
        assert!(
            rest.is_empty(),
            "{key:?} v{version}: the codec left {} bytes",
            rest.len()
        );
    }
}

/// Whether any field of `fields` (or of a struct inside) may be null at `version`.
fn has_nullable(fields: &[super::Field], version: i16) -> bool {
    fields
        .iter()
        .filter(|f| f.versions.contains(version))
        .any(|f| {
            f.nullable.contains(version)
                || match f.kind {
                    super::Kind::Struct(inner) | super::Kind::Array(inner) => {
                        has_nullable(inner, version)
                    }
                    _ => false,
                }
        })
}

#[test]
fn null_samples_are_null_wherever_the_tables_allow_it() {
    // Guards the samples: `Nulls::Null` must change the encoding of every version with a
    // nullable field, or the null branches of the walker go untested there.
    for pair in all_samples().chunks(2) {
        let [(api_key, version, _, set), (_, _, _, null)] = pair else {
            panic!("samples come in pairs");
        };
        let schema = super::schemas::request(*api_key, *version).unwrap_or_else(|e| panic!("{e}"));
        let nullable = has_nullable(schema.fields, *version);
        assert_eq!(set != null, nullable, "api key {api_key} v{version}");
    }
}

#[test]
fn every_truncation_is_refused_and_trailing_bytes_are_ignored() {
    for (api_key, version, nulls, body) in all_samples() {
        for cut in 0..body.len() {
            let truncated = body.get(..cut).unwrap_or_default();
            let refused = check(api_key, version, truncated);
            assert!(
                matches!(refused, Err(ShapeError::Malformed(_))),
                "api key {api_key} v{version} {nulls:?} cut at {cut}/{}: {refused:?}",
                body.len()
            );
        }
        // Bytes after the last field are ignored, as Kafka ignores them.
        let mut longer = body.to_vec();
        longer.extend_from_slice(&[0, 0, 0]);
        assert_eq!(check(api_key, version, &longer), Ok(body.len()));
    }
}

#[test]
fn headers_from_the_codec_are_measured_exactly() {
    for (api_key, version) in served() {
        for client_id in [Some("ferry-client"), None] {
            let (header_len, bytes) = frame(api_key, version, client_id, b"body");
            assert_eq!(
                check_header(api_key, version, &bytes),
                Ok(header_len),
                "{api_key} v{version}"
            );
            for cut in 0..header_len {
                let truncated = bytes.get(..cut).unwrap_or_default();
                let refused = check_header(api_key, version, truncated);
                assert!(
                    matches!(refused, Err(ShapeError::Malformed(_))),
                    "{refused:?}"
                );
            }
        }
    }
}

#[test]
fn a_header_for_another_api_or_version_is_refused() {
    let (_, bytes) = frame(3, 4, Some("c"), &[]);
    let expected = ShapeError::HeaderMismatch {
        api_key: 3,
        version: 5,
        found_key: 3,
        found_version: 4,
    };
    assert_eq!(check_header(3, 5, &bytes), Err(expected));
}

#[test]
fn the_eight_byte_metadata_attack_is_refused() {
    // The body of an 8-byte frame: 2^31 - 1 topics, then nothing.
    let refused = check(3, 0, &[0x7f, 0xff, 0xff, 0xff]);
    assert_eq!(
        refused.as_ref().map_err(ToString::to_string),
        Err(
            "body topics: array of 2147483647 elements (each at least 2 bytes) with 0 bytes left"
                .to_owned()
        )
    );
    // Even with bytes behind it, a count can never outrun them.
    let mut padded = vec![0x7f, 0xff, 0xff, 0xff];
    padded.extend([0; 64]);
    let (path, found) = problem(check(3, 1, &padded));
    assert_eq!(path, "topics");
    assert!(matches!(
        found,
        Problem::ArrayTooLong {
            count: 2_147_483_647,
            left: 64,
            ..
        }
    ));
}

/// A Produce v3 body: no transactional id, acks 1, one topic "t" with `partitions` entries of
/// no records (8 bytes each).
fn empty_produce(partitions: usize) -> Vec<u8> {
    let mut body = vec![0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0, 0, 0, 1, 0, 1, b't'];
    body.extend(i32::try_from(partitions).expect("a count").to_be_bytes());
    for index in 0..partitions {
        body.extend(i32::try_from(index).expect("an index").to_be_bytes());
        body.extend((-1i32).to_be_bytes());
    }
    body
}

#[test]
fn a_produce_of_countless_empty_entries_is_refused() {
    // One topic plus its partitions may be MAX_PRODUCE_STRUCTS structs, no more.
    let fits = empty_produce(super::MAX_PRODUCE_STRUCTS - 1);
    assert_eq!(check(0, 3, &fits), Ok(fits.len()));
    let (path, found) = problem(check(0, 3, &empty_produce(super::MAX_PRODUCE_STRUCTS)));
    assert_eq!(path, "topic_data[0].partition_data");
    assert_eq!(
        found,
        Problem::TooManyStructs {
            max: super::MAX_PRODUCE_STRUCTS
        }
    );
}

#[test]
fn compact_array_counts_beyond_the_bytes_are_refused() {
    for version in 9..=12 {
        // u32::MAX as an unsigned varint: 2^32 - 2 topics.
        let (path, found) = problem(check(3, version, &[0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0]));
        assert_eq!(path, "topics");
        assert!(
            matches!(
                found,
                Problem::ArrayTooLong {
                    count: 4_294_967_294,
                    left: 3,
                    ..
                }
            ),
            "v{version}: {found:?}"
        );
        // A count that would fit bytes but not elements: 3 topics of at least 2 (v9) or
        // 18 (v10+, a uuid first) bytes in 5 bytes.
        let (_, found) = problem(check(3, version, &[4, 0, 0, 0, 0, 0]));
        assert!(
            matches!(found, Problem::ArrayTooLong { count: 3, .. }),
            "{found:?}"
        );
    }
}

#[test]
fn a_nested_count_names_its_path() {
    // Produce v3: null transactional id, acks, timeout, 1 topic "t", then 2^31-1 partitions.
    let mut body = vec![0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0, 0, 0, 1, 0, 1, b't'];
    body.extend([0x7f, 0xff, 0xff, 0xff]);
    body.extend([0; 12]);
    let refused = check(0, 3, &body);
    assert_eq!(
        refused.as_ref().map_err(ToString::to_string),
        Err(
            "body topic_data[0].partition_data: array of 2147483647 elements (each at least 8 \
             bytes) with 12 bytes left"
                .to_owned()
        )
    );
}

#[test]
fn lengths_beyond_the_bytes_and_bad_lengths_are_refused() {
    // Heartbeat v0: a group id of 30000 bytes in 4.
    let (path, found) = problem(check(12, 0, &[0x75, 0x30, 1, 2, 3, 4]));
    assert_eq!(path, "group_id");
    assert_eq!(
        found,
        Problem::ValueTooLong {
            what: super::Value::String,
            length: 30_000,
            left: 4
        }
    );
    // A length of -2.
    let (_, found) = problem(check(12, 0, &[0xff, 0xfe]));
    assert_eq!(found, Problem::NegativeLength { length: -2 });
    // Null where the version does not allow it: Metadata v0 topics, v9 topic name.
    let (_, found) = problem(check(3, 0, &[0xff, 0xff, 0xff, 0xff]));
    assert_eq!(found, Problem::UnexpectedNull);
    let (path, found) = problem(check(3, 9, &[2, 0, 0, 0, 0]));
    assert_eq!(
        (path.as_str(), found),
        ("topics[0].name", Problem::UnexpectedNull)
    );
    // Heartbeat v4 (compact): a string longer than Kafka allows, even with the bytes present.
    let mut body = vec![0x81, 0x80, 0x02];
    body.extend(vec![b'g'; 32_768]);
    let (_, found) = problem(check(12, 4, &body));
    assert_eq!(found, Problem::StringOverLimit { length: 32_768 });
}

#[test]
fn malformed_varints_are_refused() {
    // ApiVersions v3: the name's length as a 6-byte varint, then with bits past 32.
    let (_, found) = problem(check(18, 3, &[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]));
    assert_eq!(found, Problem::BadVarint);
    let (_, found) = problem(check(18, 3, &[0x81, 0x80, 0x80, 0x80, 0x10]));
    assert_eq!(found, Problem::BadVarint);
}

#[test]
fn tagged_sections_are_bounded() {
    // ApiVersions v3: two empty strings, then 2^31 tagged fields in 3 bytes.
    let (_, found) = problem(check(18, 3, &[1, 1, 0x80, 0x80, 0x80, 0x80, 0x08, 0, 0, 0]));
    assert_eq!(
        found,
        Problem::TooManyTags {
            count: 1 << 31,
            left: 3
        }
    );
    // One tagged field claiming 200 bytes with 1 left.
    let (_, found) = problem(check(18, 3, &[1, 1, 1, 9, 0xc8, 0x01, 0]));
    assert_eq!(
        found,
        Problem::ValueTooLong {
            what: super::Value::TaggedField,
            length: 200,
            left: 1
        }
    );
}

#[test]
fn a_declared_tagged_field_must_fill_its_size() {
    // Fetch v12 with no topics: replica_id, max_wait, min_bytes, max_bytes, isolation, session
    // id and epoch, topics [], forgotten [], rack "", then tag 0 (cluster_id).
    let mut body = vec![0; 4 * 4 + 1 + 4 * 2];
    body.extend([1, 1, 1]);
    // cluster_id "abc" takes 4 bytes; a size of 6 hides a compact-array count behind it.
    let mut lying = body.clone();
    lying.extend([1, 0, 6, 4, b'a', b'b', b'c', 0xff, 0x0f]);
    let (path, found) = problem(check(1, 12, &lying));
    assert_eq!(path, "cluster_id");
    assert_eq!(
        found,
        Problem::TaggedFieldSize {
            tag: 0,
            declared: 6,
            used: 4
        }
    );
    // A size shorter than the value: the value runs past it.
    let mut short = body.clone();
    short.extend([1, 0, 2, 4, b'a', b'b', b'c']);
    let (path, found) = problem(check(1, 12, &short));
    assert_eq!(path, "cluster_id");
    assert!(
        matches!(
            found,
            Problem::ValueTooLong {
                length: 3,
                left: 1,
                ..
            }
        ),
        "{found:?}"
    );
    // The honest version is accepted.
    body.extend([1, 0, 4, 4, b'a', b'b', b'c']);
    assert_eq!(check(1, 12, &body), Ok(body.len()));
}

#[test]
fn error_messages_name_the_part_and_the_field() {
    let malformed = Malformed {
        part: Part::Header,
        path: super::Path::default(),
        problem: Problem::Truncated { needed: 2, left: 1 },
    };
    assert_eq!(malformed.to_string(), "header: needs 2 bytes with 1 left");
    let refused = check_header(3, 0, &[0, 3, 0, 0, 0, 0, 0, 1, 0, 9, b'x']);
    assert_eq!(
        refused.map_err(|e| e.to_string()),
        Err("header client_id: string of 9 bytes with 1 bytes left".to_owned())
    );
}

/// Checks `body`, and when it is accepted, decodes it with the codec: that must not abort,
/// and when it succeeds it must have read exactly the bytes the walker did.
fn check_then_decode(api_key: i16, version: i16, body: &[u8]) -> Result<(), TestCaseError> {
    let Ok(used) = check(api_key, version, body) else {
        return Ok(());
    };
    let key = ApiKey::try_from(api_key).map_err(|()| TestCaseError::fail("api key"))?;
    let mut rest = Bytes::copy_from_slice(body);
    if RequestKind::decode(key, &mut rest, version).is_ok() {
        prop_assert_eq!(
            rest.len(),
            body.len() - used,
            "{:?} v{}: the codec stopped elsewhere than the walker",
            key,
            version
        );
    }
    Ok(())
}

/// A fixed seed, so every run tries the same cases (`PROPTEST_CASES` still scales them).
fn seeded(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5eed_f0e5),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(seeded(4_000))]

    #[test]
    fn random_bytes_never_panic(
        pick in any::<prop::sample::Index>(),
        body in prop::collection::vec(prop_oneof![4 => 0_u8..3, 1 => any::<u8>()], 0..64),
    ) {
        let served = served();
        let (api_key, version) = served[pick.index(served.len())];
        check_then_decode(api_key, version, &body)?;
    }

    #[test]
    fn mutated_samples_never_panic_and_agree_with_the_codec(
        pick in any::<prop::sample::Index>(),
        null in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        insert in prop::option::of((any::<prop::sample::Index>(), prop::sample::select(vec![0x00_u8, 0x7f, 0x80, 0xff]), 1..6_usize)),
    ) {
        let served = served();
        let (api_key, version) = served[pick.index(served.len())];
        let nulls = if null { Nulls::Null } else { Nulls::Set };
        let (_, sample) = samples::encode(api_key, Ask { version, nulls });
        let mut body = sample.to_vec();
        for (at, byte) in edits {
            if let Some(slot) = body.get_mut(at.index(sample.len().max(1))) {
                *slot = byte;
            }
        }
        if let Some((at, byte, count)) = insert {
            let at = at.index(body.len() + 1);
            body.splice(at..at, std::iter::repeat_n(byte, count));
        }
        check_then_decode(api_key, version, &body)?;
    }
}

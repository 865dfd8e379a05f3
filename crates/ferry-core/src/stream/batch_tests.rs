//! Tests of the v2 record batch codec: a batch captured from a real client, the byte layout,
//! corruption, and property tests (round trips, no panics on any bytes).

#![allow(clippy::indexing_slicing)]

use super::*;
use proptest::prelude::*;

fn rec(timestamp_ms: u64, key: Option<&[u8]>, value: Option<&[u8]>) -> StreamRecord {
    StreamRecord {
        timestamp_ms,
        key: key.map(<[u8]>::to_vec),
        value: value.map(<[u8]>::to_vec),
        headers: Vec::new(),
    }
}

fn encoded(base_offset: u64, records: &[StreamRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_batch(base_offset, records, &mut out).unwrap_or_else(|e| panic!("{e}"));
    out
}

fn decoded(bytes: &[u8]) -> DecodedBatch {
    decode_batch(bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// Recomputes the CRC after a test edits covered bytes.
fn reseal(batch: &mut [u8]) {
    let crc = crc32c::crc32c(&batch[CRC_START..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// A one-record batch librdkafka produced (key "", value "hello kafka", header foo=bar), as
/// published in rskafka's test fixtures.
const LIBRDKAFKA_BATCH: &[u8] = b"\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x4b\x00\x00\x00\x00\
\x02\x27\x24\xfe\xcd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x61\
\xd5\x9b\x77\x00\x00\x00\x00\x61\xd5\x9b\x77\xff\xff\xff\xff\xff\
\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x01\x32\x00\x00\
\x00\x00\x16\x68\x65\x6c\x6c\x6f\x20\x6b\x61\x66\x6b\x61\x02\x06\
\x66\x6f\x6f\x06\x62\x61\x72";

#[test]
fn a_batch_from_librdkafka_decodes_and_reencodes_byte_for_byte() {
    let batch = decoded(LIBRDKAFKA_BATCH);
    let expected = StreamRecord {
        timestamp_ms: 1_641_388_919,
        key: Some(Vec::new()),
        value: Some(b"hello kafka".to_vec()),
        headers: vec![("foo".to_owned(), Some(b"bar".to_vec()))],
    };
    assert_eq!(batch.records, vec![(0, expected.clone())]);
    assert_eq!(
        batch.header,
        BatchHeader {
            base_offset: 0,
            batch_length: 75,
            partition_leader_epoch: 0,
            crc: 0x2724_fecd,
            attributes: 0,
            last_offset_delta: 0,
            base_timestamp_ms: 1_641_388_919,
            max_timestamp_ms: 1_641_388_919,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            record_count: 1,
        }
    );
    assert!(batch.is_dense());
    assert_eq!(encoded(0, &[expected]), LIBRDKAFKA_BATCH);
}

#[test]
fn crc32c_is_castagnoli() {
    // The standard check value of CRC-32C.
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
}

#[test]
fn header_fields_sit_where_the_spec_puts_them() {
    let records = [
        rec(1_000, Some(b"k"), Some(b"v")),
        rec(900, None, None),
        rec(5_000, Some(b"k2"), Some(&[7; 300])),
    ];
    let bytes = encoded(40, &records);
    assert_eq!(
        i64::from_be_bytes(bytes[0..8].try_into().unwrap_or_default()),
        40
    );
    let batch_length = i32::from_be_bytes(bytes[8..12].try_into().unwrap_or_default());
    assert_eq!(batch_length as usize, bytes.len() - 12);
    assert_eq!(bytes[16], 2);
    assert_eq!(&bytes[21..23], &[0, 0]); // attributes
    assert_eq!(&bytes[23..27], &2i32.to_be_bytes()); // last offset delta
    assert_eq!(&bytes[27..35], &1_000i64.to_be_bytes()); // base timestamp: the first record's
    assert_eq!(&bytes[35..43], &5_000i64.to_be_bytes()); // max timestamp
    assert_eq!(&bytes[43..57], &[0xff; 14]); // no producer: id, epoch and sequence are −1
    assert_eq!(&bytes[57..61], &3i32.to_be_bytes()); // record count
    let batch = decoded(&bytes);
    let offsets: Vec<u64> = batch.records.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, vec![40, 41, 42]);
    assert_eq!(batch.header.span(), 3);
    assert_eq!(
        (batch.header.last_offset(), batch.header.next_offset()),
        (42, 43)
    );
    assert_eq!(batch.header.total_bytes(), bytes.len());
    assert_eq!(batch.header.timestamp_type(), TimestampType::CreateTime);
    assert!(!batch.header.is_control() && !batch.header.is_transactional());
    let records_back: Vec<StreamRecord> = batch.records.into_iter().map(|(_, r)| r).collect();
    assert_eq!(records_back, records);
}

#[test]
fn a_record_is_laid_out_as_zigzag_varints() {
    let record = StreamRecord {
        timestamp_ms: 1_000,
        key: Some(b"k".to_vec()),
        value: Some(b"v".to_vec()),
        headers: vec![
            ("h".to_owned(), Some(b"x".to_vec())),
            ("n".to_owned(), None),
        ],
    };
    let bytes = encoded(0, &[record]);
    assert_eq!(
        &bytes[BATCH_HEADER_BYTES..],
        &[
            0x1e, // length 15, zigzag
            0x00, // attributes
            0x00, // timestamp delta 0
            0x00, // offset delta 0
            0x02, b'k', // key length 1
            0x02, b'v', // value length 1
            0x04, // two headers
            0x02, b'h', 0x02, b'x', // h = x
            0x02, b'n', 0x01, // n = null (−1)
        ]
    );
}

#[test]
fn null_and_empty_stay_distinct() {
    let records = [
        StreamRecord {
            timestamp_ms: 0,
            key: Some(Vec::new()),
            value: Some(Vec::new()),
            headers: vec![("a".into(), Some(Vec::new())), ("a".into(), None)],
        },
        rec(0, None, None),
    ];
    let batch = decoded(&encoded(0, &records));
    assert_eq!(batch.records[0].1, records[0]);
    assert_eq!(batch.records[1].1, records[1]);
}

#[test]
fn the_base_offset_is_outside_the_crc() {
    let mut bytes = encoded(0, &[rec(5, Some(b"k"), Some(b"v"))]);
    set_base_offset(&mut bytes, 1_234).unwrap_or_else(|e| panic!("{e}"));
    let batch = decoded(&bytes);
    assert_eq!(batch.header.base_offset, 1_234);
    assert_eq!(batch.records[0].0, 1_234);
    assert_eq!(
        set_base_offset(&mut bytes, i64::MAX as u64 + 1),
        Err(BatchError::OffsetOutOfRange {
            base_offset: i64::MAX as u64 + 1,
            last_offset_delta: 0,
        })
    );
    // A batch from a client may carry any base offset; it is replaced, not judged.
    bytes[0..8].copy_from_slice(&(-1i64).to_be_bytes());
    assert_eq!(
        decode_header(&bytes),
        Err(BatchError::Negative {
            field: "base_offset",
            value: -1
        })
    );
    assert_eq!(set_base_offset(&mut bytes, 7), Ok(()));
    assert_eq!(decoded(&bytes).header.base_offset, 7);
}

#[test]
fn every_flipped_byte_from_the_magic_on_is_caught() {
    let bytes = encoded(
        3,
        &[
            rec(5, Some(b"key"), Some(b"value")),
            rec(6, None, Some(b"x")),
        ],
    );
    for at in 16..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x10;
        assert!(decode_batch(&bad).is_err(), "flip at {at}");
    }
    // Like the base offset, the leader epoch is outside the CRC (a leader restamps it).
    let mut epoch = bytes.clone();
    epoch[12..16].copy_from_slice(&7i32.to_be_bytes());
    assert_eq!(decoded(&epoch).header.partition_leader_epoch, 7);
}

#[test]
fn codecs_five_to_seven_are_refused_by_name() {
    let mut bytes = encoded(0, &[rec(5, None, Some(b"v"))]);
    for codec in 5..=7u8 {
        bytes[22] = codec;
        reseal(&mut bytes);
        let err = BatchError::UnknownCompression { codec };
        assert_eq!(decode_batch(&bytes), Err(err.clone()));
        assert_eq!(check_batch(&bytes), Err(err));
        let header = decode_header(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header.compression_codec(), codec);
        assert_eq!(
            header.compression(),
            Err(BatchError::UnknownCompression { codec })
        );
    }
}

#[test]
fn log_append_time_gives_every_record_the_max_timestamp() {
    let mut bytes = encoded(0, &[rec(5, None, Some(b"a")), rec(9, None, Some(b"b"))]);
    bytes[22] = 0x08;
    bytes[35..43].copy_from_slice(&77i64.to_be_bytes());
    reseal(&mut bytes);
    let batch = decoded(&bytes);
    assert_eq!(batch.header.timestamp_type(), TimestampType::LogAppendTime);
    assert!(batch.records.iter().all(|(_, r)| r.timestamp_ms == 77));
}

#[test]
fn lengths_are_checked() {
    let bytes = encoded(0, &[rec(5, None, Some(b"v"))]);
    for len in 0..bytes.len() {
        assert!(decode_batch(&bytes[..len]).is_err(), "prefix {len}");
        assert!(decode_header(&bytes[..len]).is_err(), "prefix {len}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        decode_batch(&longer),
        Err(BatchError::LengthMismatch {
            declared: bytes.len(),
            actual: bytes.len() + 1
        })
    );
    // decode_header walks concatenated batches.
    let mut two = bytes.clone();
    two.extend_from_slice(&encoded(1, &[rec(6, None, None)]));
    let first = decode_header(&two).unwrap_or_else(|e| panic!("{e}"));
    let second = decode_header(&two[first.total_bytes()..]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((first.base_offset, second.base_offset), (0, 1));
    let mut magic1 = bytes.clone();
    magic1[16] = 1;
    assert_eq!(
        decode_header(&magic1),
        Err(BatchError::UnsupportedMagic { magic: 1 })
    );
}

#[test]
fn record_count_and_offset_deltas_must_agree_with_the_records() {
    let bytes = encoded(0, &[rec(5, None, Some(b"a")), rec(6, None, Some(b"b"))]);
    let mut fewer = bytes.clone();
    fewer[57..61].copy_from_slice(&1i32.to_be_bytes());
    reseal(&mut fewer);
    assert!(matches!(
        decode_batch(&fewer),
        Err(BatchError::TrailingBytes { count: 1, .. })
    ));
    let mut more = bytes.clone();
    more[57..61].copy_from_slice(&3i32.to_be_bytes());
    reseal(&mut more);
    assert!(matches!(
        decode_batch(&more),
        Err(BatchError::BadRecord { index: 2, .. })
    ));
    let mut short_span = bytes.clone();
    short_span[23..27].copy_from_slice(&0i32.to_be_bytes());
    reseal(&mut short_span);
    assert!(matches!(
        decode_batch(&short_span),
        Err(BatchError::BadRecord { index: 1, .. })
    ));
    let mut negative = bytes;
    negative[57..61].copy_from_slice(&(-1i32).to_be_bytes());
    assert_eq!(
        decode_header(&negative),
        Err(BatchError::Negative {
            field: "record_count",
            value: -1
        })
    );
}

#[test]
fn encoding_refuses_what_kafka_cannot_hold_and_leaves_out_untouched() {
    let mut out = b"prefix".to_vec();
    assert_eq!(encode_batch(0, &[], &mut out), Err(BatchError::Empty));
    assert_eq!(
        encode_batch(
            0,
            &[rec(5, None, None), rec(u64::MAX, None, None)],
            &mut out
        ),
        Err(BatchError::TimestampOutOfRange {
            timestamp_ms: u64::MAX
        })
    );
    assert_eq!(
        encode_batch(
            i64::MAX as u64,
            &[rec(5, None, None), rec(5, None, None)],
            &mut out
        ),
        Err(BatchError::OffsetOutOfRange {
            base_offset: i64::MAX as u64,
            last_offset_delta: 1
        })
    );
    assert_eq!(out, b"prefix");
    // The largest base offset that still fits.
    assert_eq!(
        encode_batch(i64::MAX as u64, &[rec(5, None, None)], &mut out),
        Ok(())
    );
    assert_eq!(decoded(&out[6..]).records[0].0, i64::MAX as u64);
}

#[test]
fn a_reused_buffer_is_not_reallocated() {
    let records: Vec<StreamRecord> = (0..1_000u64)
        .map(|i| StreamRecord {
            timestamp_ms: 1_700_000_000_000 + i,
            key: Some(i.to_be_bytes().to_vec()),
            value: Some(vec![b'x'; 100]),
            headers: vec![("trace".into(), Some(b"abc".to_vec()))],
        })
        .collect();
    let mut out = Vec::new();
    encode_batch(0, &records, &mut out).unwrap_or_else(|e| panic!("{e}"));
    let (len, capacity) = (out.len(), out.capacity());
    out.clear();
    encode_batch(0, &records, &mut out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((out.len(), out.capacity()), (len, capacity));
    assert!(len <= BATCH_HEADER_BYTES + records.iter().map(record_size).sum::<usize>());
    assert_eq!(decoded(&out).records.len(), 1_000);
}

#[test]
fn varints_at_their_limits() {
    for v in [0, 1, -1, 63, -64, 64, i32::MAX, i32::MIN] {
        let mut out = Vec::new();
        put_varint(&mut out, v);
        assert_eq!(out.len(), varint_size(v));
        assert_eq!(Reader { bytes: &out }.varint(), Some(v), "{v}");
    }
    for v in [0, -1, i64::MAX, i64::MIN, 1 << 40] {
        let mut out = Vec::new();
        put_varlong(&mut out, v);
        assert_eq!(out.len(), varlong_size(v));
        assert_eq!(Reader { bytes: &out }.varlong(), Some(v), "{v}");
    }
    assert_eq!(varlong_size(i64::MIN), 10);
    // Too long, or overflowing the type.
    assert_eq!(Reader { bytes: &[0x80; 6] }.varint(), None);
    assert_eq!(
        Reader {
            bytes: &[0xff, 0xff, 0xff, 0xff, 0x1f]
        }
        .varint(),
        None
    );
    let mut eleven = [0xffu8; 10];
    eleven[9] = 0x02;
    assert_eq!(Reader { bytes: &eleven }.varlong(), None);
}

fn any_record() -> impl Strategy<Value = StreamRecord> {
    let timestamp = prop_oneof![0..=i64::MAX as u64, 1_600_000_000_000..1_600_000_100_000u64,];
    let bytes = |max| proptest::option::of(proptest::collection::vec(any::<u8>(), 0..max));
    let header = ("[a-zé]{0,4}", bytes(8));
    (
        timestamp,
        bytes(16),
        bytes(300),
        proptest::collection::vec(header, 0..3),
    )
        .prop_map(|(timestamp_ms, key, value, headers)| StreamRecord {
            timestamp_ms,
            key,
            value,
            headers,
        })
}

proptest! {
    #[test]
    fn encode_then_decode_round_trips(
        base_offset in 0..=(i64::MAX as u64 - 100),
        records in proptest::collection::vec(any_record(), 1..20),
    ) {
        let bytes = encoded(base_offset, &records);
        prop_assert!(bytes.len() <= BATCH_HEADER_BYTES + records.iter().map(record_size).sum::<usize>());
        let batch = decoded(&bytes);
        prop_assert!(batch.is_dense());
        prop_assert_eq!(batch.header.record_count as usize, records.len());
        prop_assert_eq!(
            batch.header.max_timestamp_ms as u64,
            records.iter().map(|r| r.timestamp_ms).max().unwrap_or_default()
        );
        for (i, ((offset, got), want)) in batch.records.iter().zip(&records).enumerate() {
            prop_assert_eq!(*offset, base_offset + i as u64);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_batch(&bytes);
        let _ = check_batch(&bytes);
        let _ = decode_header(&bytes);
        let mut bytes = bytes;
        let _ = set_base_offset(&mut bytes, 9);
    }

    /// Random record bytes behind a valid header and CRC, so the record parser is what is
    /// exercised.
    #[test]
    fn random_records_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..120),
        count in 0..6i32,
        last_offset_delta in 0..6i32,
        attributes in prop_oneof![Just(0u16), Just(8u16), Just(0x20u16), 1..=7u16, 0x09..=0x0fu16],
    ) {
        let mut bytes = encoded(0, &[rec(5, None, None)]);
        bytes.truncate(BATCH_HEADER_BYTES);
        bytes.extend_from_slice(&tail);
        let length = (bytes.len() - 12) as i32;
        bytes[8..12].copy_from_slice(&length.to_be_bytes());
        bytes[21..23].copy_from_slice(&attributes.to_be_bytes());
        bytes[23..27].copy_from_slice(&last_offset_delta.to_be_bytes());
        bytes[57..61].copy_from_slice(&count.to_be_bytes());
        reseal(&mut bytes);
        assert_check_agrees(&bytes);
        if let Ok(batch) = decode_batch(&bytes) {
            prop_assert_eq!(batch.records.len(), count as usize);
            prop_assert!(batch.records.iter().all(|(o, _)| *o <= last_offset_delta as u64));
        }
    }

    /// Corrupting one byte of a valid batch never panics.
    #[test]
    fn mutated_batches_never_panic(
        records in proptest::collection::vec(any_record(), 1..4),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        fix_crc in any::<bool>(),
    ) {
        let mut bytes = encoded(0, &records);
        let at = at.index(bytes.len());
        bytes[at] = byte;
        if fix_crc {
            reseal(&mut bytes);
        }
        let _ = decode_batch(&bytes);
        let _ = check_batch(&bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// Compression, and the check that shares the decoder's record walk
// ---------------------------------------------------------------------------------------------

const CODECS: [Compression; 4] = [
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn encoded_with(base_offset: u64, records: &[StreamRecord], compression: Compression) -> Vec<u8> {
    let mut out = Vec::new();
    encode_batch_with(base_offset, records, compression, &mut out)
        .unwrap_or_else(|e| panic!("{e}"));
    out
}

fn checked(bytes: &[u8]) -> BatchSummary {
    check_batch(bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// Replaces the records of `batch` by `payload`, fixing the length and the CRC.
fn with_payload(batch: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut bytes = batch[..BATCH_HEADER_BYTES].to_vec();
    bytes.extend_from_slice(payload);
    let length = (bytes.len() - 12) as i32;
    bytes[8..12].copy_from_slice(&length.to_be_bytes());
    reseal(&mut bytes);
    bytes
}

/// Records using every field: null and empty keys and values, several headers (one with a
/// null value), timestamps out of order, values repetitive enough for compression to matter.
fn rich_records(count: u64) -> Vec<StreamRecord> {
    (0..count)
        .map(|i| StreamRecord {
            timestamp_ms: 1_700_000_000_000 + (i * 7_919) % 1_000,
            key: match i % 4 {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some(format!("user-{}", i % 13).into_bytes()),
            },
            value: match i % 5 {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some(format!("{{\"n\":{i},\"pad\":\"{}\"}}", "ab".repeat(40)).into_bytes()),
            },
            headers: (0..i % 3)
                .map(|h| {
                    let value = (h != 1).then(|| format!("v{i}").into_bytes());
                    (format!("h{h}"), value)
                })
                .collect(),
        })
        .collect()
}

/// The same checks as [`decode_batch`] made by [`check_batch`]: same verdict, same counts.
fn assert_check_agrees(bytes: &[u8]) {
    match (decode_batch(bytes), check_batch(bytes)) {
        (Ok(batch), Ok(summary)) => {
            assert_eq!(summary.header, batch.header);
            assert_eq!(summary.record_count as usize, batch.records.len());
            let keyless = batch
                .records
                .iter()
                .filter(|(_, r)| r.key.is_none())
                .count();
            assert_eq!(summary.keyless_records as usize, keyless);
            assert_eq!(summary.is_dense(), batch.is_dense());
            let largest = batch.records.iter().map(|(_, r)| record_size(r)).max();
            assert!(summary.largest_record_bytes <= largest.unwrap_or_default());
        }
        (Err(decode), Err(check)) => assert_eq!(decode, check),
        (decode, check) => panic!("decode_batch {decode:?} but check_batch {check:?}"),
    }
}

#[test]
fn every_codec_round_trips() {
    let records = rich_records(200);
    let plain = encoded(500, &records);
    for compression in Compression::ALL {
        let bytes = encoded_with(500, &records, compression);
        let batch = decoded(&bytes);
        assert_eq!(batch.header.compression(), Ok(compression));
        assert_eq!(batch.header.compression_codec(), compression.codec());
        let back: Vec<StreamRecord> = batch.records.iter().map(|(_, r)| r.clone()).collect();
        assert_eq!(back, records, "{compression}");
        assert!(batch.is_dense());
        // Only the codec bits, the length and the CRC differ from the uncompressed batch.
        assert_eq!(bytes[..8], plain[..8]);
        assert_eq!(bytes[12..17], plain[12..17]);
        assert_eq!(bytes[23..BATCH_HEADER_BYTES], plain[23..BATCH_HEADER_BYTES]);
        if compression != Compression::None {
            assert!(bytes.len() < plain.len(), "{compression} did not compress");
        }
        let summary = checked(&bytes);
        assert_eq!(summary.record_count, 200);
        assert_eq!(summary.keyless_records, 50);
        assert_eq!(summary.records_bytes, plain.len() - BATCH_HEADER_BYTES);
        assert!(summary.is_dense());
        assert_check_agrees(&bytes);
    }
    assert_eq!(encoded_with(500, &records, Compression::None), plain);
}

#[test]
fn compressed_encoding_refuses_what_plain_encoding_refuses() {
    let mut out = b"prefix".to_vec();
    for compression in Compression::ALL {
        assert_eq!(
            encode_batch_with(0, &[], compression, &mut out),
            Err(BatchError::Empty)
        );
        assert_eq!(
            encode_batch_with(0, &[rec(u64::MAX, None, None)], compression, &mut out),
            Err(BatchError::TimestampOutOfRange {
                timestamp_ms: u64::MAX
            })
        );
    }
    assert_eq!(out, b"prefix");
}

#[test]
fn the_summary_counts_what_a_front_end_needs() {
    let records = [
        rec(5, Some(b"k"), Some(b"value")),
        rec(6, None, Some(&[9; 300])),
        rec(7, None, None),
    ];
    let bytes = encoded(10, &records);
    let summary = checked(&bytes);
    assert_eq!(
        summary.header,
        decode_header(&bytes).unwrap_or_else(|e| panic!("{e}"))
    );
    assert_eq!((summary.record_count, summary.keyless_records), (3, 2));
    // The 300-byte record: length varint (2), attributes, two deltas, null key, value length
    // (2) and value, header count.
    assert_eq!(
        summary.largest_record_bytes,
        2 + 1 + 1 + 1 + 1 + 2 + 300 + 1
    );
    assert_eq!(summary.records_bytes, bytes.len() - BATCH_HEADER_BYTES);
    assert!(summary.is_dense());
    // A batch with a gap (as compaction leaves) is not dense.
    let mut gap = encoded(10, &records[..2]);
    gap[23..27].copy_from_slice(&2i32.to_be_bytes());
    reseal(&mut gap);
    assert!(!checked(&gap).is_dense());
    assert!(!decoded(&gap).is_dense());
}

#[test]
fn check_batch_fails_exactly_where_decode_batch_does() {
    let bytes = encoded(
        3,
        &[
            rec(5, Some(b"key"), Some(b"value")),
            rec(6, None, Some(b"x")),
        ],
    );
    for at in 0..bytes.len() {
        for flip in [0x01, 0x10, 0x80] {
            let mut bad = bytes.clone();
            bad[at] ^= flip;
            assert_check_agrees(&bad);
            reseal(&mut bad);
            assert_check_agrees(&bad);
        }
    }
    for len in 0..bytes.len() {
        assert_check_agrees(&bytes[..len]);
    }
    assert_check_agrees(LIBRDKAFKA_BATCH);
}

#[test]
fn corrupt_compressed_records_fail_cleanly() {
    let records = rich_records(50);
    for compression in CODECS {
        let bytes = encoded_with(0, &records, compression);
        let payload = &bytes[BATCH_HEADER_BYTES..];
        // Truncated payloads, length and CRC fixed so that decompression is what fails.
        for cut in [0, 1, payload.len() / 3, payload.len() - 1] {
            let short = with_payload(&bytes, &payload[..cut]);
            let err = decode_batch(&short).err();
            let clean = match &err {
                Some(BatchError::Decompress { compression: c, .. }) => *c == compression,
                // An empty stream may decompress to nothing, which holds no records.
                Some(BatchError::BadRecord { .. }) => cut == 0,
                _ => false,
            };
            assert!(clean, "{compression} cut at {cut}: {err:?}");
            assert_check_agrees(&short);
        }
        // Garbage in place of the payload: the message names the codec.
        let garbage = with_payload(&bytes, b"this is not what the attributes say it is");
        let message = decode_batch(&garbage)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains(compression.name()), "{message}");
        assert_check_agrees(&garbage);
        // Every single flipped payload byte, CRC fixed: an error or, if the codec has no
        // checksum to notice, records that still pass every check; never a panic.
        for at in 0..payload.len() {
            let mut flipped = payload.to_vec();
            flipped[at] ^= 0x41;
            assert_check_agrees(&with_payload(&bytes, &flipped));
        }
    }
}

#[test]
fn a_decompression_bomb_is_refused() {
    let bytes = encoded(0, &[rec(5, None, Some(b"v"))]);
    let zeros = vec![0u8; MAX_DECOMPRESSED_BYTES + 1];
    for compression in CODECS {
        let mut bomb = Vec::new();
        compression::compress(compression, &zeros, &mut bomb).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            bomb.len() < zeros.len() / 20,
            "{compression}: {} bytes",
            bomb.len()
        );
        let mut batch = with_payload(&bytes, &bomb);
        batch[21..23].copy_from_slice(&u16::from(compression.codec()).to_be_bytes());
        reseal(&mut batch);
        let err = BatchError::DecompressedTooLarge {
            compression,
            limit: MAX_DECOMPRESSED_BYTES,
        };
        assert_eq!(decode_batch(&batch), Err(err.clone()), "{compression}");
        assert_eq!(check_batch(&batch), Err(err));
    }
}

// Interoperability with an independent implementation, the kafka-protocol crate.

mod kafka {
    use super::*;
    use bytes::Bytes;
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::{
        self as kp, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    };

    fn theirs(compression: Compression) -> kp::Compression {
        match compression {
            Compression::Gzip => kp::Compression::Gzip,
            Compression::Snappy => kp::Compression::Snappy,
            Compression::Lz4 => kp::Compression::Lz4,
            Compression::Zstd => kp::Compression::Zstd,
            _ => kp::Compression::None,
        }
    }

    /// `records` as kafka-protocol encodes them: an idempotent producer's batch at
    /// `base_offset`.
    fn encode(base_offset: i64, records: &[StreamRecord], compression: Compression) -> Vec<u8> {
        let records: Vec<kp::Record> = records
            .iter()
            .zip(0..)
            .map(|(r, i)| kp::Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 3,
                producer_id: 77,
                producer_epoch: 2,
                timestamp_type: kp::TimestampType::Creation,
                offset: base_offset + i64::from(i),
                sequence: 10 + i,
                timestamp: r.timestamp_ms as i64,
                key: r.key.clone().map(Bytes::from),
                value: r.value.clone().map(Bytes::from),
                headers: r
                    .headers
                    .iter()
                    .map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone().map(Bytes::from)))
                    .collect(),
            })
            .collect();
        let options = RecordEncodeOptions {
            version: 2,
            compression: theirs(compression),
        };
        let mut out = Vec::new();
        RecordBatchEncoder::encode(&mut out, &records, &options).unwrap_or_else(|e| panic!("{e}"));
        out
    }

    #[test]
    fn batches_kafka_protocol_compresses_decode_identically() {
        let records = rich_records(300);
        for compression in Compression::ALL {
            let bytes = encode(1_000, &records, compression);
            if compression == Compression::Snappy {
                // kafka-protocol writes the Java client's xerial framing.
                assert_eq!(&bytes[61..69], b"\x82SNAPPY\0");
            }
            let batch = decoded(&bytes);
            let header = batch.header;
            assert_eq!(header.compression(), Ok(compression));
            assert_eq!(
                (
                    header.base_offset,
                    header.last_offset_delta,
                    header.record_count
                ),
                (1_000, 299, 300)
            );
            assert_eq!(header.partition_leader_epoch, 3);
            assert_eq!(
                (
                    header.producer_id,
                    header.producer_epoch,
                    header.base_sequence
                ),
                (77, 2, 10)
            );
            // kafka-protocol takes the smallest timestamp as the base, not the first.
            assert_eq!(header.base_timestamp_ms, 1_700_000_000_000);
            let offsets: Vec<u64> = batch.records.iter().map(|(o, _)| *o).collect();
            assert_eq!(offsets, (1_000..1_300).collect::<Vec<u64>>());
            let back: Vec<StreamRecord> = batch.records.into_iter().map(|(_, r)| r).collect();
            assert_eq!(back, records, "{compression}");
            let summary = checked(&bytes);
            assert_eq!((summary.record_count, summary.keyless_records), (300, 75));
            assert!(summary.is_dense());
        }
    }

    #[test]
    fn kafka_protocol_decodes_ferrys_compressed_batches() {
        let records = rich_records(300);
        for compression in Compression::ALL {
            let bytes = encoded_with(40, &records, compression);
            let mut buf = Bytes::from(bytes);
            let set = RecordBatchDecoder::decode(&mut buf).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(set.compression, theirs(compression));
            assert_eq!(set.records.len(), records.len());
            for ((got, want), offset) in set.records.iter().zip(&records).zip(40..) {
                assert_eq!(got.offset, offset);
                assert_eq!(got.timestamp, want.timestamp_ms as i64);
                assert_eq!(got.key.as_deref(), want.key.as_deref());
                assert_eq!(got.value.as_deref(), want.value.as_deref());
                let headers: Vec<(String, Option<Vec<u8>>)> = got
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.as_ref().map(|v| v.to_vec())))
                    .collect();
                assert_eq!(headers, want.headers);
            }
        }
    }
}

fn any_compression() -> impl Strategy<Value = Compression> {
    prop::sample::select(Compression::ALL.to_vec())
}

proptest! {
    #[test]
    fn compressed_encode_then_decode_round_trips(
        base_offset in 0..=(i64::MAX as u64 - 100),
        records in proptest::collection::vec(any_record(), 1..20),
        compression in any_compression(),
    ) {
        let bytes = encoded_with(base_offset, &records, compression);
        let batch = decoded(&bytes);
        prop_assert_eq!(batch.header.compression(), Ok(compression));
        let back: Vec<StreamRecord> = batch.records.into_iter().map(|(_, r)| r).collect();
        prop_assert_eq!(back, records);
        let summary = checked(&bytes);
        prop_assert!(summary.is_dense());
    }

    /// Random bytes after a valid header whose attributes name a codec (or an unassigned one)
    /// and whose CRC is right, so that the decompressors are what meet them.
    #[test]
    fn random_payloads_with_compression_bits_never_panic(
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        codec in 1..=7u16,
        other_bits in prop_oneof![Just(0u16), Just(0x08u16), Just(0x30u16)],
        count in 0..4i32,
    ) {
        let mut bytes = with_payload(&encoded(0, &[rec(5, None, None)]), &payload);
        bytes[21..23].copy_from_slice(&(codec | other_bits).to_be_bytes());
        bytes[57..61].copy_from_slice(&count.to_be_bytes());
        reseal(&mut bytes);
        assert_check_agrees(&bytes);
    }

    /// A valid compressed payload with a prefix kept, and random bytes after it: the header of
    /// each stream is right, so corruption is met deeper inside.
    #[test]
    fn corrupted_compressed_payloads_never_panic(
        records in proptest::collection::vec(any_record(), 1..6),
        compression in any_compression(),
        at in any::<prop::sample::Index>(),
        tail in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let bytes = encoded_with(0, &records, compression);
        let payload = &bytes[BATCH_HEADER_BYTES..];
        let mut corrupt = payload[..at.index(payload.len() + 1)].to_vec();
        corrupt.extend_from_slice(&tail);
        assert_check_agrees(&with_payload(&bytes, &corrupt));
    }

    #[test]
    fn check_batch_agrees_with_decode_batch_on_mutations(
        records in proptest::collection::vec(any_record(), 1..4),
        compression in any_compression(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        fix_crc in any::<bool>(),
    ) {
        let mut bytes = encoded_with(0, &records, compression);
        let at = at.index(bytes.len());
        bytes[at] = byte;
        if fix_crc {
            reseal(&mut bytes);
        }
        assert_check_agrees(&bytes);
    }
}

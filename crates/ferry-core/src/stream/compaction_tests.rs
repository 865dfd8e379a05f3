//! Tests of compaction planning: the keep rule, what a rewrite preserves, and a property test
//! against a model of "the latest record per key".

use super::*;
use crate::stream::batch::{ATTR_DELETE_HORIZON, BatchHeader, decode_batch, encode_batch};
use proptest::prelude::*;
use std::collections::BTreeMap;

const GRACE_MS: u64 = 1_000;

fn rec(timestamp_ms: u64, key: Option<&str>, value: Option<&str>) -> StreamRecord {
    StreamRecord {
        timestamp_ms,
        key: key.map(|k| k.as_bytes().to_vec()),
        value: value.map(|v| v.as_bytes().to_vec()),
        headers: Vec::new(),
    }
}

fn batch_at(base_offset: u64, records: &[StreamRecord]) -> (Vec<u8>, DecodedBatch) {
    let mut bytes = Vec::new();
    encode_batch(base_offset, records, &mut bytes).unwrap_or_else(|e| panic!("{e}"));
    let decoded = decode_batch(&bytes).unwrap_or_else(|e| panic!("{e}"));
    (bytes, decoded)
}

fn index_of<'a>(batches: impl IntoIterator<Item = &'a DecodedBatch>) -> KeyIndex {
    let mut index = KeyIndex::new();
    for batch in batches {
        index.add_batch(batch);
    }
    index
}

fn rewritten(c: Compacted) -> DecodedBatch {
    match c {
        Compacted::Rewrite(bytes) => decode_batch(&bytes).unwrap_or_else(|e| panic!("{e}")),
        other => panic!("expected a rewrite, got {other:?}"),
    }
}

#[test]
fn the_index_remembers_the_latest_offset_per_key() {
    let (_, first) = batch_at(
        0,
        &[rec(1, Some("a"), Some("1")), rec(2, Some("b"), Some("1"))],
    );
    let (_, second) = batch_at(2, &[rec(3, Some("a"), Some("2")), rec(4, None, Some("x"))]);
    let index = index_of([&first, &second]);
    assert_eq!(index.latest_offset(b"a"), Some(2));
    assert_eq!(index.latest_offset(b"b"), Some(1));
    assert_eq!(index.latest_offset(b"c"), None);
    assert_eq!((index.len(), index.end_offset()), (2, 4));
    // Feeding a batch again, or out of order, never moves a key backwards.
    let mut again = index.clone();
    again.add_batch(&first);
    assert_eq!(
        (again.latest_offset(b"a"), again.end_offset()),
        (Some(2), 4)
    );
}

#[test]
fn superseded_records_go_and_offsets_stay() {
    let (_, first) = batch_at(
        10,
        &[
            rec(1, Some("a"), Some("old")),
            rec(2, Some("b"), Some("only")),
            rec(3, Some("a"), Some("mid")),
            rec(4, None, Some("keyless")),
        ],
    );
    let (_, second) = batch_at(14, &[rec(5, Some("a"), Some("new"))]);
    let index = index_of([&first, &second]);
    let compacted = rewritten(compact_batch(&first, &index, 0, GRACE_MS));
    assert_eq!(
        compacted.records,
        vec![
            (11, rec(2, Some("b"), Some("only"))),
            (13, rec(4, None, Some("keyless")))
        ]
    );
    assert_eq!(compacted.header.base_offset, 10);
    assert_eq!(compacted.header.last_offset_delta, 3);
    assert_eq!(compacted.header.span(), 4);
    assert_eq!(compacted.header.base_timestamp_ms, 2);
    assert_eq!(compacted.header.max_timestamp_ms, 4);
    assert!(!compacted.is_dense());
    assert_eq!(compact_batch(&second, &index, 0, GRACE_MS), Compacted::Keep);
    let (_, stale) = batch_at(20, &[rec(1, Some("a"), Some("x"))]);
    let index = index_of([&first, &second, &stale]);
    assert_eq!(compact_batch(&second, &index, 0, GRACE_MS), Compacted::Drop);
}

#[test]
fn tombstones_outlive_their_grace_period_only() {
    let (_, batch) = batch_at(
        0,
        &[rec(100, Some("a"), Some("v")), rec(200, Some("a"), None)],
    );
    let index = index_of([&batch]);
    let before = rewritten(compact_batch(&batch, &index, 200 + GRACE_MS - 1, GRACE_MS));
    assert_eq!(before.records, vec![(1, rec(200, Some("a"), None))]);
    assert_eq!(
        compact_batch(&batch, &index, 200 + GRACE_MS, GRACE_MS),
        Compacted::Drop
    );
    // A huge grace never overflows into dropping.
    assert!(matches!(
        compact_batch(&batch, &index, u64::MAX - 1, u64::MAX),
        Compacted::Rewrite(_)
    ));
}

#[test]
fn a_rewrite_keeps_producer_fields_and_clears_the_delete_horizon() {
    let records = [rec(7, Some("a"), Some("1")), rec(8, Some("a"), Some("2"))];
    let fields = BatchFields {
        base_offset: 50,
        partition_leader_epoch: 3,
        attributes: ATTR_DELETE_HORIZON | 0x10,
        last_offset_delta: 5,
        producer_id: 99,
        producer_epoch: 2,
        base_sequence: 17,
    };
    let mut bytes = Vec::new();
    encode_with(&fields, [(0, &records[0]), (4, &records[1])], &mut bytes)
        .unwrap_or_else(|e| panic!("{e}"));
    let batch = decode_batch(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        batch.records.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![50, 54]
    );
    let index = index_of([&batch]);
    let compacted = rewritten(compact_batch(&batch, &index, 0, GRACE_MS));
    let BatchHeader {
        base_offset,
        partition_leader_epoch,
        attributes,
        last_offset_delta,
        producer_id,
        producer_epoch,
        base_sequence,
        record_count,
        ..
    } = compacted.header;
    assert_eq!(
        (
            base_offset,
            partition_leader_epoch,
            attributes,
            last_offset_delta
        ),
        (50, 3, 0x10, 5)
    );
    assert_eq!((producer_id, producer_epoch, base_sequence), (99, 2, 17));
    assert_eq!(record_count, 1);
    assert_eq!(compacted.records, vec![(54, records[1].clone())]);
}

#[test]
fn control_batches_are_left_alone() {
    let records = [rec(1, Some("a"), None), rec(2, Some("a"), None)];
    let fields = BatchFields {
        base_offset: 0,
        partition_leader_epoch: 0,
        attributes: 0x30,
        last_offset_delta: 1,
        producer_id: 5,
        producer_epoch: 0,
        base_sequence: -1,
    };
    let mut bytes = Vec::new();
    encode_with(&fields, [(0, &records[0]), (1, &records[1])], &mut bytes)
        .unwrap_or_else(|e| panic!("{e}"));
    let batch = decode_batch(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert!(batch.header.is_control());
    let index = index_of([&batch]);
    assert!(index.is_empty());
    assert_eq!(compact_batch(&batch, &index, u64::MAX, 0), Compacted::Keep);
}

#[test]
fn compressed_batches_compact_and_keep_their_codec_when_it_pays() {
    use crate::stream::{Compression, encode_batch_with};
    let value = "a value that repeats itself, a value that repeats itself".repeat(4);
    let records: Vec<StreamRecord> = (0..40u64)
        .map(|i| {
            let key = format!("k{}", i % 10);
            rec(100 + i, Some(key.as_str()), Some(value.as_str()))
        })
        .collect();
    for compression in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut bytes = Vec::new();
        encode_batch_with(7, &records, compression, &mut bytes).unwrap_or_else(|e| panic!("{e}"));
        let batch = decode_batch(&bytes).unwrap_or_else(|e| panic!("{e}"));
        let index = index_of([&batch]);
        let compacted = rewritten(compact_batch(&batch, &index, 0, GRACE_MS));
        // The last record of each of the 10 keys survives, at its offset, compressed alike.
        assert_eq!(compacted.header.compression(), Ok(compression));
        let expected: Vec<(u64, StreamRecord)> = batch.records[30..].to_vec();
        assert_eq!(compacted.records, expected, "{compression}");
        assert_eq!(
            (compacted.header.base_offset, compacted.header.span()),
            (7, 40)
        );
        // Nothing to remove: the stored (compressed) bytes stay as they are.
        let (_, later) = batch_at(100, &[rec(1, Some("other"), None)]);
        let index = index_of([&later]);
        assert_eq!(compact_batch(&batch, &index, 0, GRACE_MS), Compacted::Keep);
    }
}

#[test]
fn a_rewrite_that_compression_would_grow_is_stored_uncompressed() {
    use crate::stream::{Compression, encode_batch_with};
    let records = [rec(1, Some("a"), Some("x")), rec(2, Some("a"), Some("y"))];
    let mut bytes = Vec::new();
    encode_batch_with(0, &records, Compression::Gzip, &mut bytes).unwrap_or_else(|e| panic!("{e}"));
    let batch = decode_batch(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let index = index_of([&batch]);
    let Compacted::Rewrite(out) = compact_batch(&batch, &index, 0, GRACE_MS) else {
        panic!("expected a rewrite");
    };
    let compacted = decode_batch(&out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(compacted.header.compression(), Ok(Compression::None));
    assert_eq!(compacted.header.attributes, 0);
    assert_eq!(compacted.records, vec![(1, records[1].clone())]);
}

/// A generated record: key index (None = keyless), tombstone or not, timestamp step.
type Spec = (Option<u8>, bool, u16);

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop_oneof![1 => Just(None), 8 => (0..5u8).prop_map(Some)],
        prop::bool::weighted(0.25),
        0..500u16,
    )
}

proptest! {
    /// Compacting every batch up to `clean_end` leaves exactly the latest record of each key
    /// (minus tombstones past their grace) and every keyless record, at their original
    /// offsets.
    #[test]
    fn compaction_leaves_the_latest_record_per_key(
        batches in prop::collection::vec(prop::collection::vec(spec(), 1..6), 1..12),
        split in any::<prop::sample::Index>(),
        now_step in 0..3_000u64,
    ) {
        let mut time = 0u64;
        let mut next_offset = 0u64;
        let mut stored: Vec<(Vec<u8>, DecodedBatch)> = Vec::new();
        for specs in &batches {
            let records: Vec<StreamRecord> = specs
                .iter()
                .enumerate()
                .map(|(i, (key, tombstone, step))| {
                    time += u64::from(*step);
                    let key = key.map(|k| format!("key-{k}"));
                    let value = (!tombstone).then(|| format!("v{next_offset}-{i}"));
                    rec(time, key.as_deref(), value.as_deref())
                })
                .collect();
            let (bytes, batch) = batch_at(next_offset, &records);
            next_offset = batch.header.next_offset();
            stored.push((bytes, batch));
        }
        let now = time + now_step;
        let clean = split.index(stored.len() + 1);
        let index = index_of(stored[..clean].iter().map(|(_, b)| b));
        prop_assert_eq!(index.end_offset(), stored[..clean].last().map_or(0, |(_, b)| b.header.next_offset()));

        // The model: every record below clean_end, then the rule applied by hand.
        let below: Vec<(u64, StreamRecord)> =
            stored[..clean].iter().flat_map(|(_, b)| b.records.clone()).collect();
        let mut latest: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for (offset, record) in &below {
            if let Some(key) = &record.key {
                latest.insert(key.clone(), *offset);
            }
        }
        let expected: Vec<(u64, StreamRecord)> = below
            .into_iter()
            .filter(|(offset, r)| match &r.key {
                None => true,
                Some(key) => {
                    latest.get(key) == Some(offset)
                        && !(r.value.is_none() && r.timestamp_ms + GRACE_MS <= now)
                }
            })
            .collect();

        let mut got = Vec::new();
        for (bytes, batch) in &stored[..clean] {
            let result = compact_batch(batch, &index, now, GRACE_MS);
            match result {
                Compacted::Keep => got.extend(decode_batch(bytes).unwrap_or_else(|e| panic!("{e}")).records),
                Compacted::Drop => {}
                Compacted::Rewrite(new) => {
                    let new = decode_batch(&new).unwrap_or_else(|e| panic!("{e}"));
                    prop_assert_eq!(new.header.base_offset, batch.header.base_offset);
                    prop_assert_eq!(new.header.last_offset_delta, batch.header.last_offset_delta);
                    prop_assert!(!new.records.is_empty());
                    prop_assert!(new.records.len() < batch.records.len());
                    got.extend(new.records);
                }
            }
        }
        prop_assert_eq!(got, expected);
    }
}

/// A batch of producer `producer_id` (epoch 0) whose first record has sequence `sequence`.
fn producer_batch(
    base_offset: u64,
    producer_id: i64,
    sequence: i32,
    records: &[StreamRecord],
) -> DecodedBatch {
    let fields = BatchFields {
        base_offset,
        partition_leader_epoch: 0,
        attributes: 0,
        last_offset_delta: u32::try_from(records.len() - 1).unwrap_or(0),
        producer_id,
        producer_epoch: 0,
        base_sequence: sequence,
    };
    let mut bytes = Vec::new();
    let numbered = records.iter().enumerate().map(|(i, r)| (i as u32, r));
    encode_with(&fields, numbered, &mut bytes).unwrap_or_else(|e| panic!("{e}"));
    decode_batch(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_producers_last_batch_stays_as_an_empty_batch_when_all_its_records_go() {
    let earlier = producer_batch(0, 7, 0, &[rec(1, Some("a"), Some("1"))]);
    let last = producer_batch(
        1,
        7,
        1,
        &[rec(2, Some("k"), Some("1")), rec(3, Some("k"), Some("2"))],
    );
    let (_, plain) = batch_at(
        3,
        &[rec(4, Some("a"), Some("2")), rec(5, Some("k"), Some("3"))],
    );
    let index = index_of([&earlier, &last, &plain]);
    // An earlier batch of the producer goes as any other.
    assert_eq!(
        compact_batch(&earlier, &index, 0, GRACE_MS),
        Compacted::Drop
    );
    // Its last one keeps its header: offsets, timestamps and sequence, but no records.
    let emptied = rewritten(compact_batch(&last, &index, 0, GRACE_MS));
    assert!(emptied.records.is_empty());
    let (before, after) = (&last.header, &emptied.header);
    assert_eq!(after.record_count, 0);
    assert_eq!(
        (
            after.base_offset,
            after.span(),
            after.producer_id,
            after.producer_epoch
        ),
        (
            before.base_offset,
            before.span(),
            before.producer_id,
            before.producer_epoch
        )
    );
    assert_eq!(after.base_sequence, before.base_sequence);
    assert_eq!(after.max_timestamp_ms, before.max_timestamp_ms);
    // A batch without a producer still simply goes.
    let (_, gone) = batch_at(5, &[rec(6, Some("k"), Some("4"))]);
    let index = index_of([
        &gone,
        &plain,
        &producer_batch(6, 8, 0, &[rec(7, Some("k"), Some("5"))]),
    ]);
    assert_eq!(compact_batch(&gone, &index, 0, GRACE_MS), Compacted::Drop);
}

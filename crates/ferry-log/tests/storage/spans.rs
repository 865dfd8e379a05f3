//! Records of several offsets (a stream batch): appending, reading from inside one, rolling,
//! retention and recovery.

use std::fs;

use ferry_log::record::{self, HEADER_BYTES, RecordHeader};
use ferry_log::{CorruptReason, Flusher, Location, LogConfig, LogError};

use crate::*;

/// The first offset of each record whose range holds `offset`, or the next after it.
fn first_reaching(offsets: &[u64], offset: u64) -> Option<u64> {
    offsets
        .iter()
        .copied()
        .find(|&o| o + u64::from(span(o)) > offset)
}

#[test]
fn spans_advance_offsets_across_rolls_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), small_segments(300), &flusher);
    let offsets = fill_spans(&mut log, 200);
    let next = log.next_offset();
    assert!(next >= 200);
    assert_span_records(&all_records(&log), &offsets);
    let segments = log.segments();
    assert!(segments.len() > 5, "{} segments", segments.len());
    for pair in segments.windows(2) {
        assert_eq!(pair[0].next_offset, pair[1].base_offset);
        // docs/log-format.md#segment-baselog: a roll names the segment after its first record.
        assert!(offsets.contains(&pair[1].base_offset));
    }
    drop(log);

    // From the persisted indexes, then again with them deleted to force a rescan.
    for rescan in [false, true] {
        if rescan {
            for s in &segments[..segments.len() - 1] {
                fs::remove_file(segment_file(dir.path(), s.base_offset, "index")).unwrap();
            }
        }
        let mut log = open(dir.path(), small_segments(300), &flusher);
        let expected_rebuilt = if rescan { segments.len() - 1 } else { 0 };
        assert_eq!(log.recovery().indexes_rebuilt, expected_rebuilt);
        assert_eq!(log.segments(), segments);
        assert_eq!(log.next_offset(), next);
        assert_span_records(&all_records(&log), &offsets);
        if rescan {
            let more = log.append_span(7, 1, b"more", 3).unwrap();
            assert_eq!(more.offset, next);
            assert_eq!(log.next_offset(), next + 3);
        }
    }
}

#[test]
fn reading_inside_a_span_returns_the_whole_record() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), small_segments(300), &flusher);
    let offsets = fill_spans(&mut log, 120);
    let next = log.next_offset();
    for from in 0..next {
        let first = first_reaching(&offsets, from).unwrap();
        let read = log.read(from, 1).unwrap();
        assert_eq!(read.len(), 1, "at least one record from {from}");
        assert_eq!(read[0].offset, first, "read from {from}");
        assert!(read[0].offset <= from && from < read[0].next_offset());
        let replayed: Vec<_> = log.replay(from).unwrap().map(Result::unwrap).collect();
        let expected: Vec<u64> = offsets.iter().copied().filter(|&o| o >= first).collect();
        assert_span_records(&replayed, &expected);
    }
    assert!(log.read(next, 1).unwrap().is_empty());
    assert!(matches!(
        log.read(next + 1, 1),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn offset_for_timestamp_returns_the_first_offset_of_a_span() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), small_segments(300), &flusher);
    let offsets = fill_spans(&mut log, 100);
    for &o in &offsets {
        assert_eq!(log.offset_for_timestamp(timestamp(o)).unwrap(), Some(o));
        assert_eq!(log.offset_for_timestamp(timestamp(o) - 1).unwrap(), Some(o));
    }
}

#[test]
fn zero_span_is_refused_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), LogConfig::default(), &flusher);
    fill(&mut log, 2);
    let err = log.append_span(0, 0, b"x", 0).unwrap_err();
    assert!(
        matches!(err, LogError::InvalidSpan { offset: 2, span: 0 }),
        "{err}"
    );
    assert!(!log.is_poisoned());
    assert_eq!(log.next_offset(), 2);
    fill(&mut log, 3);
    assert_records(&all_records(&log), 0, 3);
}

#[test]
fn a_segment_rolls_before_its_range_passes_u32_offsets() {
    // The index keeps offsets relative to the segment's base as u32.
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), LogConfig::default(), &flusher);
    let huge = u64::from(u32::MAX);
    log.append_span(1, 0, b"a", u32::MAX).unwrap();
    log.append_span(2, 0, b"b", 1).unwrap();
    log.append_span(3, 0, b"c", u32::MAX - 1).unwrap();
    log.append_span(4, 0, b"d", 1).unwrap();
    let bases: Vec<u64> = log.segments().iter().map(|s| s.base_offset).collect();
    assert_eq!(bases, [0, huge, 2 * huge]);
    assert_eq!(log.next_offset(), 2 * huge + 1);
    assert_eq!(log.read(huge, 1).unwrap()[0].payload, b"b");
    assert_eq!(log.read(huge + 7, 1).unwrap()[0].payload, b"c");
    assert_eq!(log.read(2 * huge - 1, 1).unwrap()[0].payload, b"c");
    drop(log);
    let log = open(dir.path(), LogConfig::default(), &flusher);
    assert_eq!(log.next_offset(), 2 * huge + 1);
    assert_eq!(all_records(&log).len(), 4);
}

#[test]
fn delete_segments_before_keeps_a_segment_whose_record_reaches_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), small_segments(300), &flusher);
    let offsets = fill_spans(&mut log, 100);
    let segments = log.segments();
    // The last record of the third segment reaches its end: cutting at its last offset keeps
    // that segment.
    let third = segments[2];
    let last = offsets
        .iter()
        .copied()
        .rfind(|&o| o < third.next_offset)
        .unwrap();
    assert_eq!(last + u64::from(span(last)), third.next_offset);
    assert_eq!(
        log.delete_segments_before(third.next_offset - 1).unwrap(),
        2
    );
    assert_eq!(log.start_offset(), third.base_offset);
    assert_eq!(log.delete_segments_before(third.next_offset).unwrap(), 1);
    assert_eq!(log.start_offset(), third.next_offset);
    let kept: Vec<u64> = offsets
        .iter()
        .copied()
        .filter(|&o| o >= third.next_offset)
        .collect();
    assert_span_records(&all_records(&log), &kept);
}

#[test]
fn torn_tail_of_a_span_record_is_truncated() {
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default(), &flusher);
    log.append_span(timestamp(0), 1, &payload(0), 4).unwrap();
    let last = log.append_span(timestamp(4), 1, &payload(4), 3).unwrap();
    drop(log);
    let path = segment_file(dir.path(), 0, "log");
    set_len(&path, last.location.position + HEADER_BYTES as u64 + 1);

    let mut log = open(dir.path(), LogConfig::default(), &flusher);
    let report = log.recovery();
    assert_eq!(report.truncated_bytes, HEADER_BYTES as u64 + 1);
    assert_eq!(
        report.truncated_at,
        Some(Location {
            segment: 0,
            position: last.location.position
        })
    );
    assert_eq!(log.next_offset(), 4, "the end of the last whole record");
    assert_eq!(log.read(3, 1).unwrap()[0].offset, 0);
    let again = log.append_span(timestamp(4), 1, &payload(4), 3).unwrap();
    assert_eq!(again.offset, 4);
    assert_eq!(log.next_offset(), 7);
}

#[test]
fn zero_span_or_overlap_on_disk_ends_the_tail() {
    let flusher = Flusher::start();
    let cases: [(u64, u32, CorruptReason); 2] = [
        (6, 0, CorruptReason::BadSpan { offset: 6, span: 0 }),
        (
            5,
            2,
            CorruptReason::UnexpectedOffset {
                expected: 6,
                found: 5,
            },
        ),
    ];
    for (offset, span, reason) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default(), &flusher);
        log.append_span(1, 1, b"batch", 6).unwrap();
        drop(log);
        // A record with a valid CRC but a bad span, or overlapping the one before.
        let mut bytes = Vec::new();
        let header = RecordHeader {
            offset,
            span: span.max(1),
            timestamp_ms: 2,
            kind: 1,
        };
        record::encode(&mut bytes, header, b"bad").unwrap();
        if span == 0 {
            bytes[16..20].copy_from_slice(&0u32.to_le_bytes());
            let crc = crc32c(&bytes[8..]);
            bytes[4..8].copy_from_slice(&crc.to_le_bytes());
        }
        let path = segment_file(dir.path(), 0, "log");
        let mut content = fs::read(&path).unwrap();
        content.extend_from_slice(&bytes);
        fs::write(&path, content).unwrap();

        let log = open(dir.path(), LogConfig::default(), &flusher);
        assert_eq!(log.recovery().truncate_reason, Some(reason));
        assert_eq!(log.next_offset(), 6);
    }
}

/// CRC32C, bit by bit (the tests do not depend on the crate the log uses).
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn segment_info_reports_the_largest_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), LogConfig::default(), &flusher);
    assert_eq!(log.segments()[0].max_timestamp_ms, None);
    for ts in [50, 90, 70] {
        log.append_span(ts, 0, b"x", 2).unwrap();
    }
    log.roll().unwrap();
    log.append(60, 0, b"y").unwrap();
    let maxima: Vec<_> = log.segments().iter().map(|s| s.max_timestamp_ms).collect();
    assert_eq!(maxima, [Some(90), Some(60)]);
    drop(log);
    let log = open(dir.path(), LogConfig::default(), &flusher);
    let maxima: Vec<_> = log.segments().iter().map(|s| s.max_timestamp_ms).collect();
    assert_eq!(maxima, [Some(90), Some(60)]);
}

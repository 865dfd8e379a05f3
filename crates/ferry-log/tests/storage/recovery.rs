//! Opening logs whose files a crash or a bad disk left torn, corrupt or inconsistent.

use std::fs;

use ferry_log::record::{self, HEADER_BYTES, RecordHeader};
use ferry_log::{CorruptReason, Flusher, Location, LogConfig, LogError};

use crate::*;

/// A single-segment log of 10 records; returns the start position of the last record.
fn ten_records(dir: &std::path::Path, flusher: &Flusher) -> u64 {
    let mut log = open(dir, LogConfig::default(), flusher);
    fill(&mut log, 9);
    let last = log.append(timestamp(9), 1, &payload(9)).unwrap();
    last.location.position
}

#[test]
fn torn_tail_is_truncated_to_the_last_whole_record() {
    let flusher = Flusher::start();
    let framed = (HEADER_BYTES + payload(9).len()) as u64;
    // Cut inside the length field, the header, and the payload of the last record.
    for keep in [1, 6, 20, framed - 1] {
        let dir = tempfile::tempdir().unwrap();
        let last = ten_records(dir.path(), &flusher);
        let path = segment_file(dir.path(), 0, "log");
        set_len(&path, last + keep);

        let mut log = open(dir.path(), LogConfig::default(), &flusher);
        let report = log.recovery().clone();
        assert_eq!(report.truncated_bytes, keep, "keep {keep}");
        assert_eq!(
            report.truncated_at,
            Some(Location {
                segment: 0,
                position: last
            })
        );
        assert!(matches!(
            report.truncate_reason,
            Some(CorruptReason::Truncated { .. })
        ));
        assert_eq!(file_len(&path), last);
        assert_eq!(log.next_offset(), 9);
        assert_records(&all_records(&log), 0, 9);

        // Appending continues at the right offset, and survives another reopen intact.
        fill(&mut log, 12);
        drop(log);
        let log = open(dir.path(), LogConfig::default(), &flusher);
        assert_eq!(log.recovery().truncated_bytes, 0);
        assert_records(&all_records(&log), 0, 12);
    }
}

#[test]
fn flipped_byte_in_the_last_record_truncates_it() {
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let last = ten_records(dir.path(), &flusher);
    flip_byte(
        &segment_file(dir.path(), 0, "log"),
        last + HEADER_BYTES as u64 + 3,
    );

    let log = open(dir.path(), LogConfig::default(), &flusher);
    let report = log.recovery();
    assert!(matches!(
        report.truncate_reason,
        Some(CorruptReason::Checksum { .. })
    ));
    assert_eq!(
        report.truncated_at,
        Some(Location {
            segment: 0,
            position: last
        })
    );
    assert_eq!(log.next_offset(), 9);
    assert_records(&all_records(&log), 0, 9);
}

#[test]
fn zeroed_tail_is_truncated() {
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    ten_records(dir.path(), &flusher);
    let path = segment_file(dir.path(), 0, "log");
    let len = file_len(&path);
    set_len(&path, len + 4096);
    let log = open(dir.path(), LogConfig::default(), &flusher);
    assert_eq!(log.recovery().truncated_bytes, 4096);
    assert_eq!(
        log.recovery().truncate_reason,
        Some(CorruptReason::BadLength { len: 0 })
    );
    assert_records(&all_records(&log), 0, 10);
}

#[test]
fn stale_record_with_a_wrong_offset_ends_the_tail() {
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    ten_records(dir.path(), &flusher);
    // A valid record, but not the next offset (e.g. left over from an earlier life).
    let mut stale = Vec::new();
    let header = RecordHeader {
        offset: 3,
        span: 1,
        timestamp_ms: 1,
        kind: 1,
    };
    record::encode(&mut stale, header, b"old").unwrap();
    let path = segment_file(dir.path(), 0, "log");
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(&stale);
    fs::write(&path, bytes).unwrap();

    let log = open(dir.path(), LogConfig::default(), &flusher);
    let reason = log.recovery().truncate_reason;
    assert_eq!(
        reason,
        Some(CorruptReason::UnexpectedOffset {
            expected: 10,
            found: 3
        })
    );
    assert_records(&all_records(&log), 0, 10);
}

/// A log of 40 records in segments of at most 300 bytes.
fn segmented(dir: &std::path::Path, flusher: &Flusher) -> Vec<ferry_log::SegmentInfo> {
    let mut log = open(dir, small_segments(300), flusher);
    fill(&mut log, 40);
    log.segments()
}

#[test]
fn corrupt_record_in_a_closed_segment_is_an_error_never_a_truncation() {
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let segments = segmented(dir.path(), &flusher);
    let victim = segments[1].base_offset;
    let path = segment_file(dir.path(), victim, "log");
    flip_byte(&path, 30);

    // With a valid index the segment is not rescanned on open, so reading finds it.
    let log = open(dir.path(), small_segments(300), &flusher);
    assert_eq!(log.segments(), segments);
    let replayed: Result<Vec<_>, _> = log.replay(0).unwrap().collect();
    assert!(matches!(replayed, Err(LogError::Corrupt { .. })));
    let err = log.read(0, usize::MAX).unwrap_err();
    match &err {
        LogError::Corrupt {
            segment,
            position,
            reason,
        } => {
            assert_eq!(segment, &path);
            assert_eq!(*position, 0);
            assert!(matches!(reason, CorruptReason::Checksum { .. }), "{reason}");
        }
        other => panic!("unexpected {other}"),
    }
    assert_records(
        &log.read(segments[2].base_offset, usize::MAX).unwrap(),
        segments[2].base_offset,
        40,
    );
    drop(log);

    // Without its index, open scans the segment and refuses to drop data in the middle.
    fs::remove_file(segment_file(dir.path(), victim, "index")).unwrap();
    let err = ferry_log::Log::open(dir.path(), small_segments(300), &flusher).unwrap_err();
    assert!(
        matches!(&err, LogError::Corrupt { segment, .. } if segment == &path),
        "{err}"
    );
    assert_eq!(file_len(&path), segments[1].bytes, "nothing truncated");
}

#[test]
fn missing_or_garbage_index_files_are_rebuilt() {
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let segments = segmented(dir.path(), &flusher);
    assert!(segments.len() >= 5);
    let d = dir.path();
    fs::remove_file(segment_file(d, segments[0].base_offset, "index")).unwrap();
    fs::remove_file(segment_file(d, segments[1].base_offset, "timeindex")).unwrap();
    fs::write(
        segment_file(d, segments[2].base_offset, "index"),
        b"garbage",
    )
    .unwrap();
    flip_byte(&segment_file(d, segments[3].base_offset, "timeindex"), 50);
    set_len(&segment_file(d, segments[4].base_offset, "index"), 10);

    let log = open(d, small_segments(300), &flusher);
    assert_eq!(log.recovery().indexes_rebuilt, 5);
    assert_eq!(log.segments(), segments);
    assert_records(&all_records(&log), 0, 40);
    assert_eq!(log.offset_for_timestamp(timestamp(17)).unwrap(), Some(17));
    drop(log);

    let log = open(d, small_segments(300), &flusher);
    assert_eq!(
        log.recovery().indexes_rebuilt,
        0,
        "rebuilt indexes were persisted"
    );
    assert_records(&all_records(&log), 0, 40);
}

#[test]
fn index_of_a_different_segment_size_is_rebuilt() {
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let segments = segmented(dir.path(), &flusher);
    // The index describes a longer file than the one on disk.
    let path = segment_file(dir.path(), segments[0].base_offset, "log");
    let index = segment_file(dir.path(), segments[1].base_offset, "index");
    let timeindex = segment_file(dir.path(), segments[1].base_offset, "timeindex");
    fs::copy(
        &index,
        segment_file(dir.path(), segments[0].base_offset, "index"),
    )
    .unwrap();
    fs::copy(
        &timeindex,
        segment_file(dir.path(), segments[0].base_offset, "timeindex"),
    )
    .unwrap();
    let log = open(dir.path(), small_segments(300), &flusher);
    assert_eq!(log.recovery().indexes_rebuilt, 1);
    assert_eq!(file_len(&path), segments[0].bytes);
    assert_records(&all_records(&log), 0, 40);
}

#[test]
fn orphan_index_files_and_unknown_files() {
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    segmented(dir.path(), &flusher);
    let orphan = segment_file(dir.path(), 1_000_000, "index");
    fs::write(&orphan, b"x").unwrap();
    fs::write(dir.path().join("notes.txt"), b"keep me").unwrap();
    let log = open(dir.path(), small_segments(300), &flusher);
    assert!(!orphan.exists());
    assert!(dir.path().join("notes.txt").exists());
    assert_records(&all_records(&log), 0, 40);
}

#[test]
fn crash_after_creating_the_next_segment_leaves_an_empty_active_segment() {
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let segments = segmented(dir.path(), &flusher);
    let next = segments.last().unwrap().next_offset;
    fs::write(segment_file(dir.path(), next, "log"), b"").unwrap();

    let mut log = open(dir.path(), small_segments(300), &flusher);
    let now = log.segments();
    assert_eq!(now.len(), segments.len() + 1);
    assert_eq!(now.last().unwrap().base_offset, next);
    fill(&mut log, 45);
    assert_records(&all_records(&log), 0, 45);
}

#[test]
fn crash_mid_write_of_the_first_record_of_a_new_segment() {
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let segments = segmented(dir.path(), &flusher);
    let next = segments.last().unwrap().next_offset;
    let mut torn = Vec::new();
    let header = RecordHeader {
        offset: next,
        span: 1,
        timestamp_ms: 1,
        kind: 1,
    };
    record::encode(&mut torn, header, b"half written").unwrap();
    torn.truncate(torn.len() / 2);
    fs::write(segment_file(dir.path(), next, "log"), &torn).unwrap();

    let mut log = open(dir.path(), small_segments(300), &flusher);
    assert_eq!(log.recovery().truncated_bytes, torn.len() as u64);
    assert_eq!(log.next_offset(), next);
    fill(&mut log, 45);
    assert_records(&all_records(&log), 0, 45);
}

#[test]
fn empty_or_torn_newest_segment_that_overlaps_the_previous_one_is_removed() {
    // docs/log-format.md#opening-a-log-recovery: no roll names a segment inside the previous
    // one's records.
    let flusher = Flusher::start();
    for content in [&b""[..], &[9u8, 0, 0][..]] {
        let dir = tempfile::tempdir().unwrap();
        let segments = segmented(dir.path(), &flusher);
        let last = *segments.last().unwrap();
        assert!(last.base_offset < last.next_offset - 1);
        let stray = segment_file(dir.path(), last.next_offset - 1, "log");
        fs::write(&stray, content).unwrap();

        let mut log = open(dir.path(), small_segments(300), &flusher);
        assert_eq!(log.recovery().removed_segments, [last.next_offset - 1]);
        assert!(!stray.exists());
        assert_eq!(log.segments(), segments);
        fill(&mut log, 45);
        assert_records(&all_records(&log), 0, 45);
    }
}

/// A record at `offset` of span 1 with the test payload, framed.
fn framed_record(offset: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    let header = RecordHeader {
        offset,
        span: 1,
        timestamp_ms: timestamp(offset),
        kind: 1,
    };
    record::encode(&mut bytes, header, &payload(offset)).unwrap();
    bytes
}

#[test]
fn newest_segment_named_past_the_end_of_the_previous_records_follows_a_gap() {
    // docs/log-format.md#opening-a-log-recovery: without its index, a closed segment only
    // shows where its records end; a rewrite may have dropped the offsets up to the next
    // segment, and reusing them would give old offsets to new records.
    let flusher = Flusher::start();
    for with_record in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let segments = segmented(dir.path(), &flusher);
        let next = segments.last().unwrap().next_offset;
        let content = if with_record {
            framed_record(next + 5)
        } else {
            Vec::new()
        };
        fs::write(segment_file(dir.path(), next + 5, "log"), content).unwrap();

        let mut log = open(dir.path(), small_segments(300), &flusher);
        assert!(log.recovery().removed_segments.is_empty());
        let now = log.segments();
        assert_eq!(now.len(), segments.len() + 1);
        assert_eq!(now[now.len() - 2].next_offset, next + 5, "range extended");
        assert_eq!(log.next_offset(), next + 5 + u64::from(with_record));
        fill(&mut log, 50);
        let offsets: Vec<u64> = all_records(&log).iter().map(|r| r.offset).collect();
        let expected: Vec<u64> = (0..next).chain(next + 5..50).collect();
        assert_eq!(offsets, expected);
        // A read inside the gap starts at the next record.
        assert_eq!(log.read(next + 1, 1).unwrap()[0].offset, next + 5);
        drop(log);
        let log = open(dir.path(), small_segments(300), &flusher);
        assert_eq!(
            log.recovery().indexes_rebuilt,
            0,
            "the extended range was persisted"
        );
        assert_eq!(log.segments()[now.len() - 2].next_offset, next + 5);
    }
}

#[test]
fn torn_closed_segment_before_an_empty_newest_one_is_an_error() {
    // A roll syncs the old segment before creating the new file, so an old segment that lost
    // its tail while the new name survived means the disk lost synced data: refuse to guess.
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default(), &flusher);
    fill(&mut log, 10);
    drop(log);
    let path = segment_file(dir.path(), 0, "log");
    set_len(&path, file_len(&path) - 3);
    fs::write(segment_file(dir.path(), 10, "log"), b"").unwrap();

    let err = ferry_log::Log::open(dir.path(), LogConfig::default(), &flusher).unwrap_err();
    assert!(
        matches!(&err, LogError::Corrupt { segment, reason: CorruptReason::Truncated { .. }, .. } if segment == &path),
        "{err}"
    );
}

#[test]
fn newest_segment_with_records_that_overlap_the_previous_ones_is_an_error() {
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let segments = segmented(dir.path(), &flusher);
    let next = segments.last().unwrap().next_offset;
    let bytes = framed_record(next - 1);
    fs::write(segment_file(dir.path(), next - 1, "log"), &bytes).unwrap();

    let err = ferry_log::Log::open(dir.path(), small_segments(300), &flusher).unwrap_err();
    let expected = CorruptReason::Discontinuous {
        expected: next,
        found: next - 1,
    };
    assert!(
        matches!(err, LogError::Corrupt { reason, .. } if reason == expected),
        "{err}"
    );
}

#[test]
fn a_missing_segment_in_the_middle_is_an_error() {
    // The indexes say where each segment ends, so a lost segment is not taken for a gap.
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let segments = segmented(dir.path(), &flusher);
    let lost = segments[2].base_offset;
    fs::remove_file(segment_file(dir.path(), lost, "log")).unwrap();
    let err = ferry_log::Log::open(dir.path(), small_segments(300), &flusher).unwrap_err();
    let expected = CorruptReason::Discontinuous {
        expected: lost,
        found: segments[3].base_offset,
    };
    assert!(
        matches!(err, LogError::Corrupt { reason, .. } if reason == expected),
        "{err}"
    );
}

#[test]
fn stale_index_files_of_the_active_segment_are_removed() {
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let segments = segmented(dir.path(), &flusher);
    let active = segments.last().unwrap().base_offset;
    let stale = segment_file(dir.path(), active, "index");
    fs::write(&stale, b"from a roll that did not finish").unwrap();
    let mut log = open(dir.path(), small_segments(300), &flusher);
    assert!(!stale.exists());
    fill(&mut log, 50);
    assert_records(&all_records(&log), 0, 50);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Writes records with the given payload sizes; returns the active segment's base offset
    /// and the (start, end) byte positions of its records.
    fn write(dir: &std::path::Path, sizes: &[usize], segment_bytes: u64) -> (u64, Vec<(u64, u64)>) {
        let flusher = Flusher::start();
        let mut log = open(dir, small_segments(segment_bytes), &flusher);
        let mut spans = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            let appended = log.append(i as u64, 0, &vec![i as u8; size]).unwrap();
            let start = appended.location.position;
            if start == 0 {
                spans.clear();
            }
            spans.push((start, start + (HEADER_BYTES + size) as u64));
        }
        (log.segments().last().unwrap().base_offset, spans)
    }

    fn check_reopened(
        dir: &std::path::Path,
        sizes: &[usize],
        segment_bytes: u64,
        base: u64,
        kept: usize,
    ) {
        let flusher = Flusher::start();
        let mut log = open(dir, small_segments(segment_bytes), &flusher);
        assert_eq!(log.next_offset(), base + kept as u64);
        let records = all_records(&log);
        assert_eq!(records.len() as u64, log.next_offset());
        for r in &records {
            assert_eq!(r.payload, vec![r.offset as u8; sizes[r.offset as usize]]);
        }
        let next = log.append(7, 0, b"after").unwrap();
        assert_eq!(next.offset, base + kept as u64);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn any_cut_of_the_active_segment_keeps_exactly_its_whole_records(
            sizes in proptest::collection::vec(0usize..150, 1..40),
            segment_bytes in 150u64..1500,
            cut in 0.0f64..1.0,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let (base, spans) = write(dir.path(), &sizes, segment_bytes);
            let path = segment_file(dir.path(), base, "log");
            let cut_at = (file_len(&path) as f64 * cut) as u64;
            set_len(&path, cut_at);
            let kept = spans.iter().filter(|(_, end)| *end <= cut_at).count();
            check_reopened(dir.path(), &sizes, segment_bytes, base, kept);
        }

        #[test]
        fn any_flipped_byte_of_the_active_segment_keeps_the_records_before_it(
            sizes in proptest::collection::vec(0usize..150, 1..40),
            segment_bytes in 150u64..1500,
            at in 0.0f64..1.0,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let (base, spans) = write(dir.path(), &sizes, segment_bytes);
            let path = segment_file(dir.path(), base, "log");
            let position = (file_len(&path) as f64 * at) as u64;
            flip_byte(&path, position);
            let kept = spans.iter().filter(|(_, end)| *end <= position).count();
            check_reopened(dir.path(), &sizes, segment_bytes, base, kept);
        }
    }
}

//! Rewriting closed segments (compaction): the rewrite runs on another thread, is swapped in by
//! the owner, leaves gaps, and survives reopening with or without index files.

use std::fs;
use std::thread;

use ferry_log::io::FaultyStorage;
use ferry_log::{Flusher, Log, LogError, Record, RewrittenSegment, SegmentInfo};

use crate::*;

/// Rewrites the closed segment at `base` on another thread, keeping the records `keep` likes,
/// as a compactor would; returns the finished rewrite.
fn rewrite(
    log: &Log,
    base: u64,
    keep: impl Fn(&Record) -> bool + Send + 'static,
) -> RewrittenSegment {
    let source = log.segment_source(base).unwrap();
    thread::spawn(move || {
        let records = source.records();
        let mut writer = source.rewrite()?;
        for record in records {
            let record = record?;
            if keep(&record) {
                writer.push(
                    record.offset,
                    record.span,
                    record.timestamp_ms,
                    record.kind,
                    &record.payload,
                )?;
            }
        }
        writer.finish()
    })
    .join()
    .unwrap()
    .unwrap()
}

/// Rewrites and swaps in the segment at `base`.
fn compact(log: &mut Log, base: u64, keep: impl Fn(&Record) -> bool + Send + 'static) {
    let rewritten = rewrite(log, base, keep);
    assert!(log.replace_segment(rewritten).unwrap());
}

fn is_even(record: &Record) -> bool {
    record.offset % 2 == 0
}

/// A log of records with the test spans in segments of at most 300 bytes, rolled so that the
/// active segment is empty; returns the record offsets.
fn closed_log(dir: &std::path::Path, flusher: &Flusher) -> (Log, Vec<u64>) {
    let mut log = open(dir, small_segments(300), flusher);
    let offsets = fill_spans(&mut log, 150);
    log.roll().unwrap();
    (log, offsets)
}

fn kept(offsets: &[u64], keep: impl Fn(u64) -> bool) -> Vec<u64> {
    offsets.iter().copied().filter(|&o| keep(o)).collect()
}

/// Checks reads of `log` against the records at `offsets`, every offset of the log as `from`.
fn check_reads(log: &Log, offsets: &[u64]) {
    assert_span_records(&all_records(log), offsets);
    for from in log.start_offset()..log.next_offset() {
        let read = log.read(from, 1).unwrap();
        let first = offsets.iter().find(|&&o| o + u64::from(span(o)) > from);
        assert_eq!(
            read.first().map(|r| r.offset),
            first.copied(),
            "from {from}"
        );
    }
    for &o in offsets {
        assert_eq!(log.offset_for_timestamp(timestamp(o)).unwrap(), Some(o));
    }
}

/// Reopens the log, and again with every index file deleted (a full rescan); checks that
/// both see `segments` and the records at `offsets`.
fn check_reopened(dir: &std::path::Path, segments: &[SegmentInfo], offsets: &[u64]) {
    let flusher = Flusher::start();
    let log = open(dir, small_segments(300), &flusher);
    assert_eq!(log.recovery().indexes_rebuilt, 0);
    assert_eq!(log.segments(), segments);
    check_reads(&log, offsets);
    drop(log);
    for s in &segments[..segments.len() - 1] {
        fs::remove_file(segment_file(dir, s.base_offset, "index")).unwrap();
        fs::remove_file(segment_file(dir, s.base_offset, "timeindex")).unwrap();
    }
    let log = open(dir, small_segments(300), &flusher);
    assert_eq!(log.recovery().indexes_rebuilt, segments.len() - 1);
    assert_eq!(log.segments(), segments, "ranges are kept without indexes");
    check_reads(&log, offsets);
}

#[test]
fn rewrite_that_drops_records_leaves_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let (mut log, offsets) = closed_log(dir.path(), &flusher);
    let before = log.segments();
    let victim = before[1];
    compact(&mut log, victim.base_offset, is_even);

    let in_victim = |o: u64| victim.base_offset <= o && o < victim.next_offset;
    let expected = kept(&offsets, |o| !in_victim(o) || o % 2 == 0);
    assert!(expected.len() < offsets.len());
    let after = log.segments();
    assert_eq!(after.len(), before.len());
    for (a, b) in after.iter().zip(&before) {
        assert_eq!(
            (a.base_offset, a.next_offset),
            (b.base_offset, b.next_offset)
        );
    }
    assert!(after[1].bytes < victim.bytes);
    let max_kept = kept(&expected, in_victim).into_iter().map(timestamp).max();
    assert_eq!(after[1].max_timestamp_ms, max_kept);
    check_reads(&log, &expected);
    drop(log);
    check_reopened(dir.path(), &after, &expected);
}

#[test]
fn rewrite_that_drops_every_record_leaves_an_empty_closed_segment() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let (mut log, offsets) = closed_log(dir.path(), &flusher);
    let segments = log.segments();
    let (first, victim) = (segments[0], segments[2]);
    compact(&mut log, first.base_offset, |_| false);
    compact(&mut log, victim.base_offset, |_| false);

    let expected = kept(&offsets, |o| {
        !(o < first.next_offset || (victim.base_offset <= o && o < victim.next_offset))
    });
    let after = log.segments();
    assert_eq!((after[2].bytes, after[2].max_timestamp_ms), (0, None));
    assert_eq!(after[2].next_offset, victim.next_offset);
    assert_eq!(
        log.start_offset(),
        0,
        "the first segment's range still starts the log"
    );
    // Reading from the start or inside the empty segment goes on to the next records.
    assert_eq!(log.read(0, 1).unwrap()[0].offset, first.next_offset);
    assert_eq!(
        log.read(victim.base_offset, 1).unwrap()[0].offset,
        victim.next_offset
    );
    check_reads(&log, &expected);
    drop(log);
    check_reopened(dir.path(), &after, &expected);

    // Retention still deletes whole segments by their ranges, empty ones included.
    let mut log = open(dir.path(), small_segments(300), &flusher);
    assert_eq!(log.delete_segments_before(victim.next_offset).unwrap(), 3);
    assert_eq!(log.start_offset(), victim.next_offset);
    assert_span_records(
        &all_records(&log),
        &kept(&offsets, |o| o >= victim.next_offset),
    );
}

#[test]
fn dropping_the_tail_of_the_last_closed_segment_never_reuses_its_offsets() {
    // The active segment is empty, so after a rescan only its file name tells where the last
    // closed segment's range ends.
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let (mut log, offsets) = closed_log(dir.path(), &flusher);
    let next = log.next_offset();
    let segments = log.segments();
    let base = segments[segments.len() - 2].base_offset;
    compact(&mut log, base, move |r| r.offset == base);
    let gap_from = base + u64::from(span(base));
    assert!(gap_from < next);
    assert!(
        log.read(gap_from, 1).unwrap().is_empty(),
        "only a gap lies after it"
    );
    let expected = kept(&offsets, |o| o <= base);
    let segments = log.segments();
    drop(log);
    check_reopened(dir.path(), &segments, &expected);

    let mut log = open(dir.path(), small_segments(300), &flusher);
    assert_eq!(log.next_offset(), next);
    assert_eq!(log.append(1, 1, b"new").unwrap().offset, next);
}

#[test]
fn offset_for_timestamp_skips_dropped_records() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let (mut log, offsets) = closed_log(dir.path(), &flusher);
    let victim = log.segments()[1];
    compact(&mut log, victim.base_offset, |_| false);
    let first_dropped = *offsets.iter().find(|&&o| o >= victim.base_offset).unwrap();
    assert_eq!(
        log.offset_for_timestamp(timestamp(first_dropped)).unwrap(),
        Some(victim.next_offset)
    );
}

#[test]
fn rewritten_payloads_replace_the_old_ones() {
    // A compactor may shrink a batch's payload, keeping its range.
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let (mut log, offsets) = closed_log(dir.path(), &flusher);
    let base = log.segments()[0].base_offset;
    let source = log.segment_source(base).unwrap();
    let records: Vec<Record> = source.records().map(Result::unwrap).collect();
    let mut writer = source.rewrite().unwrap();
    for r in &records {
        writer
            .push(r.offset, r.span, r.timestamp_ms, r.kind, &r.payload[..3])
            .unwrap();
    }
    assert!(log.replace_segment(writer.finish().unwrap()).unwrap());
    for r in &records {
        let read = log.read(r.offset, 1).unwrap();
        assert_eq!(read[0].payload, r.payload[..3]);
        assert_eq!(read[0].span, r.span);
        assert_eq!(log.read_at(read[0].location, 3).unwrap(), r.payload[..3]);
    }
    assert_eq!(all_records(&log).len(), offsets.len());
}

#[test]
fn replace_after_the_segment_was_deleted_returns_false() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let (mut log, _) = closed_log(dir.path(), &flusher);
    let first = log.segments()[0];
    let source = log.segment_source(first.base_offset).unwrap();
    assert_eq!(log.delete_segments_before(first.next_offset).unwrap(), 1);
    // The source still reads the deleted segment's file.
    let records = source.records().map(Result::unwrap).count();
    assert!(records > 0);
    let mut writer = source.rewrite().unwrap();
    let temp = dir
        .path()
        .join(format!("{:020}.log.rewrite", first.base_offset));
    assert!(temp.exists());
    writer.push(first.base_offset, 1, 1, 1, b"x").unwrap();
    assert!(!log.replace_segment(writer.finish().unwrap()).unwrap());
    assert!(!temp.exists());
    assert!(!segment_file(dir.path(), first.base_offset, "log").exists());
    assert_eq!(log.start_offset(), first.next_offset);
}

#[test]
fn a_rewrite_of_an_outdated_segment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let (mut log, offsets) = closed_log(dir.path(), &flusher);
    let victim = log.segments()[1];
    let stale = log.segment_source(victim.base_offset).unwrap();
    compact(&mut log, victim.base_offset, is_even);
    // Read before the first rewrite was swapped in: its result would bring records back.
    let rewritten = {
        let records = stale.records();
        let mut writer = stale.rewrite().unwrap();
        for r in records {
            let r = r.unwrap();
            writer
                .push(r.offset, r.span, r.timestamp_ms, r.kind, &r.payload)
                .unwrap();
        }
        writer.finish().unwrap()
    };
    assert!(!log.replace_segment(rewritten).unwrap());
    let in_victim = |o: u64| victim.base_offset <= o && o < victim.next_offset;
    let expected = kept(&offsets, |o| !in_victim(o) || o % 2 == 0);
    check_reads(&log, &expected);
}

#[test]
fn only_closed_segments_can_be_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), small_segments(300), &flusher);
    fill_spans(&mut log, 50);
    let active = *log.segments().last().unwrap();
    for base in [active.base_offset, active.base_offset + 1, 999_999] {
        let err = log.segment_source(base).unwrap_err();
        assert!(
            matches!(err, LogError::SegmentNotClosed { base_offset } if base_offset == base),
            "{err}"
        );
    }
}

#[test]
fn overlapping_or_out_of_range_records_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let (mut log, _) = closed_log(dir.path(), &flusher);
    let segment = log.segments()[1];
    let (base, next) = (segment.base_offset, segment.next_offset);
    let mut writer = log.segment_source(base).unwrap().rewrite().unwrap();
    let refused = |result: Result<(), LogError>| {
        assert!(
            matches!(result, Err(LogError::RewriteOutOfRange { .. })),
            "{result:?}"
        );
    };
    refused(writer.push(base - 1, 1, 5, 1, b"before the segment"));
    refused(writer.push(next - 1, 2, 5, 1, b"past its end"));
    writer.push(base + 1, 2, 5, 1, b"kept").unwrap();
    refused(writer.push(base + 2, 1, 5, 1, b"inside the previous record"));
    refused(writer.push(base + 1, 2, 5, 1, b"the same offsets again"));
    let err = writer.push(base + 3, 0, 5, 1, b"no offsets").unwrap_err();
    assert!(
        matches!(err, LogError::InvalidSpan { span: 0, .. }),
        "{err}"
    );
    writer.push(base + 3, 1, 5, 1, b"right after").unwrap();
    assert!(log.replace_segment(writer.finish().unwrap()).unwrap());

    let records: Vec<_> = log
        .replay(base)
        .unwrap()
        .map(Result::unwrap)
        .take_while(|r| r.offset < next)
        .collect();
    let got: Vec<_> = records.iter().map(|r| (r.offset, r.span)).collect();
    assert_eq!(got, [(base + 1, 2), (base + 3, 1)]);
    assert_eq!(records[0].payload, b"kept");
}

#[test]
fn a_leftover_rewrite_is_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let (log, offsets) = closed_log(dir.path(), &flusher);
    let segments = log.segments();
    let base = segments[1].base_offset;
    // A crash after the rewrite was written but before it was renamed into place.
    let rewritten = rewrite(&log, base, |_| false);
    std::mem::forget(rewritten);
    drop(log);
    let temp = dir.path().join(format!("{base:020}.log.rewrite"));
    assert!(temp.exists());

    let log = open(dir.path(), small_segments(300), &flusher);
    assert!(!temp.exists());
    assert_eq!(log.recovery().removed_rewrites, [base]);
    assert_eq!(log.segments(), segments);
    assert_span_records(&all_records(&log), &offsets);
    // The segment can be rewritten again.
    drop(rewrite(&log, base, is_even));
}

#[test]
fn a_dropped_writer_removes_its_file_and_a_second_rewrite_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let (log, _) = closed_log(dir.path(), &flusher);
    let base = log.segments()[0].base_offset;
    let writer = log.segment_source(base).unwrap().rewrite().unwrap();
    let err = log.segment_source(base).unwrap().rewrite().unwrap_err();
    assert!(matches!(err, LogError::Io { .. }), "{err}");
    drop(writer);
    let temp = dir.path().join(format!("{base:020}.log.rewrite"));
    assert!(!temp.exists());
    drop(log.segment_source(base).unwrap().rewrite().unwrap());
}

#[test]
fn a_failed_rewrite_write_does_not_poison_the_log() {
    let storage = FaultyStorage::new();
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let mut log = open_faulty(dir.path(), small_segments(300), &flusher, &storage);
    let offsets = fill_spans(&mut log, 100);
    log.roll().unwrap();
    let base = log.segments()[0].base_offset;
    let source = log.segment_source(base).unwrap();
    let records = source.records();
    let mut writer = source.rewrite().unwrap();
    for r in records {
        let r = r.unwrap();
        writer
            .push(r.offset, r.span, r.timestamp_ms, r.kind, &r.payload)
            .unwrap();
    }
    storage.fail_next_write();
    let err = writer.finish().unwrap_err();
    assert!(matches!(err, LogError::Io { .. }), "{err}");
    assert!(!dir.path().join(format!("{base:020}.log.rewrite")).exists());
    assert!(!log.is_poisoned());
    assert_span_records(&all_records(&log), &offsets);
    compact(&mut log, base, is_even);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// A record as the model keeps it: (offset, span, payload).
    type Model = Vec<(u64, u32, Vec<u8>)>;

    /// Writes the records, rolls, rewrites every closed segment keeping the records `keep`
    /// marks; returns the model of what the log must now hold.
    fn write_and_compact(
        dir: &std::path::Path,
        records: &[(u32, usize, bool)],
        segment_bytes: u64,
    ) -> Model {
        let flusher = Flusher::start();
        let mut log = open(dir, small_segments(segment_bytes), &flusher);
        let mut model = Model::new();
        let mut keep = Vec::new();
        for (i, &(span, size, kept)) in records.iter().enumerate() {
            let body = vec![i as u8; size];
            let appended = log.append_span(i as u64, 1, &body, span).unwrap();
            if kept {
                model.push((appended.offset, span, body));
            }
            keep.push((appended.offset, kept));
        }
        log.roll().unwrap();
        let closed: Vec<u64> = log
            .segments()
            .iter()
            .filter(|s| !s.is_active)
            .map(|s| s.base_offset)
            .collect();
        for base in closed {
            let keep = keep.clone();
            compact(&mut log, base, move |r| {
                keep.iter()
                    .any(|&(offset, kept)| offset == r.offset && kept)
            });
        }
        model
    }

    fn check(log: &Log, model: &Model, next: u64) {
        assert_eq!(log.next_offset(), next);
        let got: Model = all_records(log)
            .into_iter()
            .map(|r| (r.offset, r.span, r.payload))
            .collect();
        assert_eq!(&got, model);
        for from in log.start_offset()..=next {
            let first = model.iter().find(|(o, s, _)| o + u64::from(*s) > from);
            let read = log.read(from, 1).unwrap();
            assert_eq!(
                read.first().map(|r| r.offset),
                first.map(|f| f.0),
                "from {from}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn rewrites_keep_exactly_the_kept_records_across_reopens(
            records in proptest::collection::vec((1u32..5, 0usize..80, any::<bool>()), 1..40),
            segment_bytes in 150u64..600,
            drop_indexes in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let model = write_and_compact(dir.path(), &records, segment_bytes);
            let next: u64 = records.iter().map(|r| u64::from(r.0)).sum();
            let flusher = Flusher::start();
            let log = open(dir.path(), small_segments(segment_bytes), &flusher);
            check(&log, &model, next);
            let segments = log.segments();
            drop(log);
            if drop_indexes {
                for s in &segments[..segments.len() - 1] {
                    fs::remove_file(segment_file(dir.path(), s.base_offset, "index")).unwrap();
                }
            }
            let mut log = open(dir.path(), small_segments(segment_bytes), &flusher);
            prop_assert_eq!(log.segments(), segments);
            check(&log, &model, next);
            prop_assert_eq!(log.append(0, 0, b"x").unwrap().offset, next);
        }
    }
}

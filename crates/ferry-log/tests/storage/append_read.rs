//! Appending, reading, rolling, retention and timestamp lookup.

use std::time::Duration;

use ferry_log::record::{HEADER_BYTES, MAX_PAYLOAD_BYTES};
use ferry_log::{Flusher, Location, LogConfig, LogError};

use crate::*;

#[test]
fn appends_get_consecutive_offsets_and_exact_locations() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), LogConfig::default(), &flusher);
    assert_eq!((log.start_offset(), log.next_offset()), (0, 0));
    let mut position = 0;
    for offset in 0..20 {
        let body = payload(offset);
        let appended = log.append(timestamp(offset), 3, &body).unwrap();
        assert_eq!(appended.offset, offset);
        assert_eq!(
            appended.location,
            Location {
                segment: 0,
                position
            }
        );
        assert_eq!(
            appended.payload,
            appended.location.advance(HEADER_BYTES as u64)
        );
        // A message body inside the payload, read without decoding the record.
        assert_eq!(
            log.read_at(appended.payload.advance(2), 5).unwrap(),
            body[2..7]
        );
        position += (HEADER_BYTES + body.len()) as u64;
    }
    let records = log.read(0, usize::MAX).unwrap();
    assert_eq!(records.len(), 20);
    assert!(records.iter().all(|r| r.kind == 3));
    assert_eq!(
        records[4].location.advance(1),
        Location {
            segment: 0,
            position: records[4].location.position + 1
        }
    );
    assert_eq!(
        log.read_at(records[4].location, records[4].payload.len() as u32)
            .unwrap(),
        records[4].payload
    );
}

#[test]
fn read_and_replay_cross_segment_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), small_segments(300), &flusher);
    fill(&mut log, 100);
    let segments = log.segments();
    assert!(segments.len() > 10, "{} segments", segments.len());
    for pair in segments.windows(2) {
        assert_eq!(pair[0].next_offset, pair[1].base_offset);
        assert!(pair[0].bytes <= 300 && !pair[0].is_active);
    }
    assert!(segments.last().unwrap().is_active);
    for from in [0, 1, 7, 33, 50, 98, 99] {
        assert_records(&log.read(from, usize::MAX).unwrap(), from, 100);
        let replayed: Vec<_> = log.replay(from).unwrap().map(Result::unwrap).collect();
        assert_records(&replayed, from, 100);
    }
    assert!(log.read(100, 1).unwrap().is_empty());
    assert_eq!(log.replay(100).unwrap().count(), 0);
}

#[test]
fn read_respects_max_bytes_but_returns_at_least_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), small_segments(300), &flusher);
    fill(&mut log, 30);
    assert_records(&log.read(5, 0).unwrap(), 5, 6);
    let budget = 200;
    let records = log.read(5, budget).unwrap();
    let used: usize = records.iter().map(|r| HEADER_BYTES + r.payload.len()).sum();
    assert!(used <= budget);
    let next = HEADER_BYTES + payload(5 + records.len() as u64).len();
    assert!(used + next > budget, "stopped early");
    assert_records(&records, 5, 5 + records.len() as u64);
}

#[test]
fn offsets_outside_the_log_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), small_segments(300), &flusher);
    fill(&mut log, 10);
    let err = log.read(11, 10).unwrap_err();
    assert!(
        matches!(
            err,
            LogError::OffsetOutOfRange {
                requested: 11,
                start: 0,
                end: 10
            }
        ),
        "{err}"
    );
    assert!(log.replay(11).is_err());
    let missing = Location {
        segment: 999,
        position: 0,
    };
    assert!(matches!(
        log.read_at(missing, 1),
        Err(LogError::LocationOutOfRange { .. })
    ));
    let past_end = Location {
        segment: log.segments()[0].base_offset,
        position: 290,
    };
    assert!(matches!(
        log.read_at(past_end, 100),
        Err(LogError::LocationOutOfRange { .. })
    ));
}

#[test]
fn reopening_loads_closed_segments_from_their_index() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), small_segments(300), &flusher);
    fill(&mut log, 60);
    let before = log.segments();
    drop(log);
    let log = open(dir.path(), small_segments(300), &flusher);
    let report = log.recovery();
    assert_eq!(report.segments, before.len());
    assert_eq!(report.indexes_rebuilt, 0);
    assert_eq!(report.truncated_bytes, 0);
    let active = before.last().unwrap();
    assert_eq!(
        report.records_scanned,
        active.next_offset - active.base_offset
    );
    assert_eq!(log.segments(), before);
    assert_records(&all_records(&log), 0, 60);
}

#[test]
fn a_record_larger_than_a_segment_gets_a_segment_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), small_segments(300), &flusher);
    fill(&mut log, 3);
    let big = vec![7u8; 1000];
    let appended = log.append(5, 2, &big).unwrap();
    assert_eq!(
        appended.location,
        Location {
            segment: 3,
            position: 0
        }
    );
    fill(&mut log, 6);
    let bases: Vec<u64> = log.segments().iter().map(|s| s.base_offset).collect();
    assert_eq!(bases, [0, 3, 4]);
    assert_eq!(log.read(3, 1).unwrap()[0].payload, big);
}

#[test]
fn segments_roll_by_age_of_record_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let config = LogConfig {
        segment_age: Some(Duration::from_millis(100)),
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config, &flusher);
    for ts in [1_000, 1_050, 1_100, 1_101, 1_150, 1_202] {
        log.append(ts, 0, b"x").unwrap();
    }
    let bases: Vec<u64> = log.segments().iter().map(|s| s.base_offset).collect();
    assert_eq!(bases, [0, 3, 5]);
}

#[test]
fn roll_starts_a_new_segment_unless_the_active_one_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), LogConfig::default(), &flusher);
    log.roll().unwrap();
    assert_eq!(log.segments().len(), 1);
    fill(&mut log, 4);
    log.roll().unwrap();
    log.roll().unwrap();
    let bases: Vec<u64> = log.segments().iter().map(|s| s.base_offset).collect();
    assert_eq!(bases, [0, 4]);
    assert!(segment_file(dir.path(), 0, "index").exists());
    assert!(segment_file(dir.path(), 0, "timeindex").exists());
    fill(&mut log, 6);
    assert_records(&all_records(&log), 0, 6);
}

#[test]
fn oversized_payloads_are_refused_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), LogConfig::default(), &flusher);
    fill(&mut log, 2);
    let huge = vec![0u8; MAX_PAYLOAD_BYTES + 1];
    let err = log.append(0, 0, &huge).unwrap_err();
    assert!(matches!(err, LogError::RecordTooLarge { .. }), "{err}");
    assert!(!log.is_poisoned());
    fill(&mut log, 3);
    assert_records(&all_records(&log), 0, 3);
}

#[test]
fn invalid_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let config = LogConfig {
        segment_bytes: 0,
        ..LogConfig::default()
    };
    let err = ferry_log::Log::open(dir.path(), config, &flusher).unwrap_err();
    assert!(matches!(err, LogError::InvalidConfig { .. }), "{err}");
}

#[test]
fn delete_segments_before_removes_only_whole_closed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), small_segments(300), &flusher);
    fill(&mut log, 60);
    let segments = log.segments();
    let cut = segments[3].base_offset + 1; // inside the fourth segment
    assert_eq!(log.delete_segments_before(cut).unwrap(), 3);
    assert_eq!(log.start_offset(), segments[3].base_offset);
    for s in &segments[..3] {
        assert!(!segment_file(dir.path(), s.base_offset, "log").exists());
        assert!(!segment_file(dir.path(), s.base_offset, "index").exists());
    }
    let err = log.read(0, 10).unwrap_err();
    assert!(matches!(err, LogError::OffsetOutOfRange { .. }), "{err}");
    assert_records(&all_records(&log), segments[3].base_offset, 60);
    assert_eq!(log.delete_segments_before(cut).unwrap(), 0);

    // Everything below the end: every closed segment goes, the active one stays.
    let closed = log.segments().len() - 1;
    assert_eq!(log.delete_segments_before(u64::MAX).unwrap(), closed);
    let active = log.segments()[0];
    assert!(active.is_active);
    assert_eq!(log.start_offset(), active.base_offset);
    drop(log);
    let log = open(dir.path(), small_segments(300), &flusher);
    assert_eq!(log.start_offset(), active.base_offset);
    assert_records(&all_records(&log), active.base_offset, 60);
}

#[test]
fn deleting_everything_after_a_roll_leaves_an_empty_log_at_the_same_offset() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), LogConfig::default(), &flusher);
    fill(&mut log, 5);
    log.roll().unwrap();
    assert_eq!(log.delete_segments_before(5).unwrap(), 1);
    assert_eq!((log.start_offset(), log.next_offset()), (5, 5));
    drop(log);
    let mut log = open(dir.path(), LogConfig::default(), &flusher);
    assert_eq!((log.start_offset(), log.next_offset()), (5, 5));
    fill(&mut log, 7);
    assert_records(&all_records(&log), 5, 7);
}

/// A small deterministic generator, so the test needs no seed handling.
fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

#[test]
fn offset_for_timestamp_matches_a_linear_scan_with_unordered_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), small_segments(400), &flusher);
    let mut state = 42;
    let mut timestamps = Vec::new();
    for i in 0..200u64 {
        // Mostly rising, with producers' clocks jittering backwards.
        let ts = 1_000 + i * 5 - lcg(&mut state) % 40;
        timestamps.push(ts);
        log.append(ts, 0, &payload(i)).unwrap();
    }
    let expected = |target: u64| {
        timestamps
            .iter()
            .position(|&ts| ts >= target)
            .map(|i| i as u64)
    };
    let check = |log: &ferry_log::Log| {
        for target in (900..2_100).step_by(7) {
            assert_eq!(
                log.offset_for_timestamp(target).unwrap(),
                expected(target),
                "ts {target}"
            );
        }
    };
    check(&log);
    drop(log);
    // Again with the closed segments' time indexes loaded from their files.
    let log = open(dir.path(), small_segments(400), &flusher);
    assert!(log.segments().len() > 5);
    check(&log);
    assert_eq!(log.offset_for_timestamp(u64::MAX).unwrap(), None);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some(0));
}

#[test]
fn locations_serialize_and_advance() {
    let location = Location {
        segment: 40,
        position: 100,
    };
    assert_eq!(
        location.advance(25),
        Location {
            segment: 40,
            position: 125
        }
    );
    let json = serde_json::to_string(&location).unwrap();
    assert_eq!(serde_json::from_str::<Location>(&json).unwrap(), location);
}

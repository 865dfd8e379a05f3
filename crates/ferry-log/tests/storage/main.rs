//! Storage tests of ferry-log against real files in temporary directories: reads across
//! segments, records of several offsets, recovery from torn and corrupt files, segment
//! rewrites, and group commit with injected faults.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

mod append_read;
mod durability;
mod recovery;
mod rewrite;
mod spans;

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_log::io::FaultyStorage;
use ferry_log::{Flusher, FsyncPolicy, Log, LogConfig, Record};

/// A config with small segments so tests cross segment boundaries quickly.
pub fn small_segments(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes: 64,
        ..LogConfig::default()
    }
}

pub fn open(dir: &Path, config: LogConfig, flusher: &Flusher) -> Log {
    Log::open(dir, config, flusher).unwrap()
}

pub fn open_faulty(
    dir: &Path,
    config: LogConfig,
    flusher: &Flusher,
    storage: &FaultyStorage,
) -> Log {
    Log::open_with_storage(dir, config, flusher, Arc::new(storage.clone())).unwrap()
}

/// The payload the tests write at `offset`: its length varies so records have varied sizes.
pub fn payload(offset: u64) -> Vec<u8> {
    let len = 10 + (offset % 7) as usize * 5;
    format!("record-{offset:06}-")
        .into_bytes()
        .into_iter()
        .cycle()
        .take(len)
        .collect()
}

/// Timestamp the tests give the record at `offset`.
pub fn timestamp(offset: u64) -> u64 {
    1_000 + offset * 10
}

/// Appends records with the test payloads until the log's next offset is `until`.
pub fn fill(log: &mut Log, until: u64) {
    while log.next_offset() < until {
        let offset = log.next_offset();
        let appended = log.append(timestamp(offset), 1, &payload(offset)).unwrap();
        assert_eq!(appended.offset, offset);
    }
}

/// Asserts that `records` are exactly the test records `from..until`.
pub fn assert_records(records: &[Record], from: u64, until: u64) {
    let offsets: Vec<u64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (from..until).collect::<Vec<_>>());
    for r in records {
        assert_eq!(r.payload, payload(r.offset), "payload of {}", r.offset);
        assert_eq!(r.timestamp_ms, timestamp(r.offset));
        assert_eq!(r.kind, 1);
        assert_eq!(r.span, 1);
    }
}

/// The span the tests give the record at `offset`: 1 to 4 offsets.
pub fn span(offset: u64) -> u32 {
    1 + (offset % 4) as u32
}

/// Appends records of the test spans until the log's next offset reaches `until` (the last
/// record may pass it); returns the offsets of the records appended.
pub fn fill_spans(log: &mut Log, until: u64) -> Vec<u64> {
    let mut offsets = Vec::new();
    while log.next_offset() < until {
        let offset = log.next_offset();
        let appended = log
            .append_span(timestamp(offset), 1, &payload(offset), span(offset))
            .unwrap();
        assert_eq!(appended.offset, offset);
        assert_eq!(log.next_offset(), offset + u64::from(span(offset)));
        offsets.push(offset);
    }
    offsets
}

/// Asserts that `records` are exactly the test records of spans at `offsets`.
pub fn assert_span_records(records: &[Record], offsets: &[u64]) {
    let got: Vec<u64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(got, offsets);
    for r in records {
        assert_eq!(r.span, span(r.offset), "span of {}", r.offset);
        assert_eq!(r.payload, payload(r.offset), "payload of {}", r.offset);
        assert_eq!(r.timestamp_ms, timestamp(r.offset));
        assert_eq!(r.next_offset(), r.offset + u64::from(r.span));
    }
}

/// Every record of the log, by replay from its start.
pub fn all_records(log: &Log) -> Vec<Record> {
    log.replay(log.start_offset())
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

pub fn segment_file(dir: &Path, base: u64, extension: &str) -> PathBuf {
    dir.join(format!("{base:020}.{extension}"))
}

/// XORs one byte of a file.
pub fn flip_byte(path: &Path, position: u64) {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, position).unwrap();
    byte[0] ^= 0x5a;
    file.write_all_at(&byte, position).unwrap();
}

pub fn file_len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

pub fn set_len(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

pub fn always() -> LogConfig {
    LogConfig {
        fsync: FsyncPolicy::Always,
        ..LogConfig::default()
    }
}

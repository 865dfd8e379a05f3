//! Opening a log directory: find the segments, load or rebuild the indexes of the closed ones,
//! validate the newest one record by record and cut off a torn or corrupt tail, and undo what a
//! crash in the middle of a roll can leave behind.

use std::collections::BTreeSet;
use std::io;

use crate::error::CorruptReason;
use crate::segment::{
    INDEX_EXTENSION, LOG_EXTENSION, Segment, SegmentEnv, TIMEINDEX_EXTENSION, Truncation,
    segment_path,
};
use crate::{Location, LogError};

/// What [`crate::Log::open`] found and repaired.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segments of the log after opening.
    pub segments: usize,
    /// Records validated by scanning: those of the newest segment, plus those of closed
    /// segments whose index had to be rebuilt.
    pub records_scanned: u64,
    /// Closed segments whose `.index`/`.timeindex` files were missing or invalid and were
    /// rebuilt by scanning.
    pub indexes_rebuilt: usize,
    /// Bytes cut off the end of the newest segment (a torn write or a corrupt tail).
    pub truncated_bytes: u64,
    /// Where the cut was made: the start of the first invalid record.
    pub truncated_at: Option<Location>,
    /// Why the bytes there were not a valid record.
    pub truncate_reason: Option<CorruptReason>,
    /// Base offsets of empty newest segments that did not follow on from the previous segment
    /// (left by a crash while rolling) and were removed.
    pub removed_segments: Vec<u64>,
}

/// The segments found in a directory, by base offset.
#[derive(Debug, Default)]
struct Listing {
    logs: BTreeSet<u64>,
    indexes: BTreeSet<u64>,
}

fn list(env: SegmentEnv<'_>) -> Result<Listing, LogError> {
    let names = env
        .storage
        .list(env.dir)
        .map_err(|e| LogError::io("list log directory", env.dir, e))?;
    let mut listing = Listing::default();
    for name in names {
        let parsed = name.rsplit_once('.').and_then(|(stem, extension)| {
            let digits = stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit());
            digits.then(|| stem.parse::<u64>().ok().map(|base| (base, extension)))?
        });
        match parsed {
            Some((base, LOG_EXTENSION)) => {
                listing.logs.insert(base);
            }
            Some((base, INDEX_EXTENSION | TIMEINDEX_EXTENSION)) => {
                listing.indexes.insert(base);
            }
            _ => {
                let dir = env.dir.display();
                tracing::debug!(dir = %dir, name, "ignoring unknown file in log directory");
            }
        }
    }
    Ok(listing)
}

/// Opens every segment of the directory; returns the closed segments (oldest first), the
/// active one, and the report.
pub(crate) fn recover(
    env: SegmentEnv<'_>,
) -> Result<(Vec<Segment>, Segment, RecoveryReport), LogError> {
    env.storage
        .create_dir_all(env.dir)
        .map_err(|e| LogError::io("create log directory", env.dir, e))?;
    let listing = list(env)?;
    for orphan in listing.indexes.difference(&listing.logs) {
        let dir = env.dir.display();
        tracing::warn!(dir = %dir, base_offset = orphan, "removing index files without a segment");
        env.remove_index_files(*orphan)?;
    }
    let mut report = RecoveryReport::default();
    let mut bases: Vec<u64> = listing.logs.into_iter().collect();
    let Some(newest) = bases.pop() else {
        let active = Segment::create(env, 0)?;
        // A new log: make its directory's own name durable too.
        if let Some(parent) = env.dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            env.storage
                .sync_dir(parent)
                .map_err(|e| LogError::io("sync directory", parent, e))?;
        }
        report.segments = 1;
        return Ok((Vec::new(), active, report));
    };
    let mut closed = open_closed_segments(env, &bases, &mut report)?;
    let active = recover_newest(env, newest, &mut closed, &mut report)?;
    report.segments = closed.len() + 1;
    Ok((closed, active, report))
}

/// Opens the closed segments and checks that each starts where the previous one ends.
fn open_closed_segments(
    env: SegmentEnv<'_>,
    bases: &[u64],
    report: &mut RecoveryReport,
) -> Result<Vec<Segment>, LogError> {
    let mut closed: Vec<Segment> = Vec::with_capacity(bases.len());
    for &base in bases {
        let (segment, scanned) = Segment::open_closed(env, base)?;
        if scanned > 0 {
            report.indexes_rebuilt += 1;
            report.records_scanned += scanned;
        }
        check_follows(closed.last(), &segment)?;
        closed.push(segment);
    }
    Ok(closed)
}

/// A segment must start at the offset where the one before it ends.
fn check_follows(previous: Option<&Segment>, segment: &Segment) -> Result<(), LogError> {
    match previous {
        Some(previous) if previous.next_offset() != segment.base_offset() => {
            Err(discontinuous(previous, segment))
        }
        _ => Ok(()),
    }
}

fn discontinuous(previous: &Segment, segment: &Segment) -> LogError {
    let reason = CorruptReason::Discontinuous {
        expected: previous.next_offset(),
        found: segment.base_offset(),
    };
    LogError::corrupt(segment.path(), 0, reason)
}

/// Recovers the newest segment as the active one. An empty newest segment that does not follow
/// on from the previous one is a leftover of a crash during a roll: it is removed and the
/// previous segment becomes the active one again.
fn recover_newest(
    env: SegmentEnv<'_>,
    mut base: u64,
    closed: &mut Vec<Segment>,
    report: &mut RecoveryReport,
) -> Result<Segment, LogError> {
    loop {
        let (segment, records, truncation) = Segment::recover_tail(env, base)?;
        report.records_scanned += records;
        if let Some(truncation) = truncation {
            note_truncation(&segment, truncation, report);
        }
        let Some(previous) = closed.last() else {
            return Ok(segment);
        };
        if previous.next_offset() == segment.base_offset() {
            return Ok(segment);
        }
        if !segment.is_empty() {
            return Err(discontinuous(previous, &segment));
        }
        let path = segment.path().to_path_buf();
        let shown = path.display();
        tracing::warn!(path = %shown, "removing empty segment left by an interrupted roll");
        drop(segment);
        env.storage
            .remove(&path)
            .map_err(|e| LogError::io("remove segment", &path, e))?;
        sync_dir(env)?;
        report.removed_segments.push(base);
        if let Some(previous) = closed.pop() {
            base = previous.base_offset();
        }
    }
}

fn note_truncation(segment: &Segment, truncation: Truncation, report: &mut RecoveryReport) {
    tracing::warn!(
        path = %segment.path().display(),
        position = truncation.position,
        truncated_bytes = truncation.bytes,
        reason = %truncation.reason,
        records_kept = segment.next_offset() - segment.base_offset(),
        "truncated torn or corrupt log tail"
    );
    report.truncated_bytes += truncation.bytes;
    report.truncated_at = Some(Location {
        segment: segment.base_offset(),
        position: truncation.position,
    });
    report.truncate_reason = Some(truncation.reason);
}

pub(crate) fn sync_dir(env: SegmentEnv<'_>) -> Result<(), LogError> {
    env.storage
        .sync_dir(env.dir)
        .map_err(|e: io::Error| LogError::io("sync directory", env.dir, e))
}

/// Removes a segment's data and index files (for retention).
pub(crate) fn remove_segment(env: SegmentEnv<'_>, base_offset: u64) -> Result<(), LogError> {
    let path = segment_path(env.dir, base_offset, LOG_EXTENSION);
    env.storage
        .remove(&path)
        .map_err(|e| LogError::io("remove segment", &path, e))?;
    if let Err(error) = env.remove_index_files(base_offset) {
        tracing::warn!(%error, "could not remove segment index files; removed on next open");
    }
    Ok(())
}

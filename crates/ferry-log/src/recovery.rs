//! Opening a log directory: find the segments, load or rebuild the indexes of the closed ones,
//! validate the newest one record by record and cut off a torn or corrupt tail, and undo what a
//! crash in the middle of a roll or a segment rewrite can leave behind.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

use crate::error::CorruptReason;
use crate::segment::{
    INDEX_EXTENSION, LOG_EXTENSION, REWRITE_EXTENSION, Segment, SegmentEnv, TIMEINDEX_EXTENSION,
    Truncation, segment_path,
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
    /// Base offsets of empty newest segments whose range overlapped the previous segment's
    /// (which no roll can leave) and were removed.
    pub removed_segments: Vec<u64>,
    /// Base offsets of segment rewrites that never replaced their segment (the process stopped
    /// before [`crate::Log::replace_segment`]); their temporary files were removed.
    pub removed_rewrites: Vec<u64>,
}

/// The segments found in a directory, by base offset.
#[derive(Debug, Default)]
struct Listing {
    logs: BTreeSet<u64>,
    indexes: BTreeSet<u64>,
    rewrites: BTreeSet<u64>,
}

fn list(env: SegmentEnv<'_>) -> Result<Listing, LogError> {
    let names = env
        .storage
        .list(env.dir)
        .map_err(|e| LogError::io("list log directory", env.dir, e))?;
    let mut listing = Listing::default();
    for name in names {
        let parsed = name.split_once('.').and_then(|(stem, extension)| {
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
            Some((base, REWRITE_EXTENSION)) => {
                listing.rewrites.insert(base);
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
    // The directories about to be created: each one's name must be made durable in its
    // parent once the log is set up (`streams/<s>/<p>` may create two levels).
    let created: Vec<&Path> = env
        .dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .collect();
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
    for base in listing.rewrites {
        let path = segment_path(env.dir, base, REWRITE_EXTENSION);
        let shown = path.display();
        tracing::warn!(path = %shown, "removing an unfinished segment rewrite");
        env.storage
            .remove(&path)
            .map_err(|e| LogError::io("remove segment rewrite", &path, e))?;
        report.removed_rewrites.push(base);
    }
    let mut bases: Vec<u64> = listing.logs.into_iter().collect();
    let Some(newest) = bases.pop() else {
        let active = Segment::create(env, 0)?;
        // A new log: make its directory's own name durable too, and those of the directories
        // created above it, deepest first.
        let parents = std::iter::once(env.dir)
            .chain(created.into_iter().skip(1))
            .filter_map(Path::parent)
            .filter(|p| !p.as_os_str().is_empty());
        for parent in parents {
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
    let closed = closed
        .into_iter()
        .map(|c| {
            if c.rebuilt {
                c.segment.write_index_files(env);
            }
            c.segment
        })
        .collect();
    Ok((closed, active, report))
}

/// A closed segment opened during recovery.
#[derive(Debug)]
struct Closed {
    segment: Segment,
    /// Opened by a scan, not from its index: its range is only known to reach the end of its
    /// records until the next segment is seen (see [`reaches`]), and its index files are
    /// written once it is.
    rebuilt: bool,
}

/// Opens the closed segments and checks that each starts where the previous one ends.
fn open_closed_segments(
    env: SegmentEnv<'_>,
    bases: &[u64],
    report: &mut RecoveryReport,
) -> Result<Vec<Closed>, LogError> {
    let mut closed: Vec<Closed> = Vec::with_capacity(bases.len());
    for &base in bases {
        let (segment, scanned) = Segment::open_closed(env, base)?;
        if let Some(records) = scanned {
            report.indexes_rebuilt += 1;
            report.records_scanned += records;
        }
        if let Some(previous) = closed.last_mut()
            && !reaches(previous, base)
        {
            return Err(discontinuous(&previous.segment, &segment));
        }
        let rebuilt = scanned.is_some();
        closed.push(Closed { segment, rebuilt });
    }
    Ok(closed)
}

/// Whether the next segment may start at `base`, after `previous`: segments tile the offset
/// space. A segment opened from its index knows its range, which must end exactly at `base`. A
/// rebuilt one only knows where its records end: if that is at or below `base`, its range is
/// extended to `base`, since the offsets between can only have been dropped by a rewrite (a
/// roll names the new segment after the old one's end). Reusing them instead would give old
/// offsets to new records.
fn reaches(previous: &mut Closed, base: u64) -> bool {
    let end = previous.segment.next_offset();
    if end == base {
        return true;
    }
    if previous.rebuilt && end < base {
        previous.segment.extend_range(base);
        return true;
    }
    false
}

fn discontinuous(previous: &Segment, segment: &Segment) -> LogError {
    let reason = CorruptReason::Discontinuous {
        expected: previous.next_offset(),
        found: segment.base_offset(),
    };
    LogError::corrupt(segment.path(), 0, reason)
}

/// Recovers the newest segment as the active one. An empty newest segment whose range overlaps
/// the previous segment's (which no roll leaves, since a roll names the new segment after the
/// old one's end) is removed, and the previous segment becomes the active one again.
fn recover_newest(
    env: SegmentEnv<'_>,
    mut base: u64,
    closed: &mut Vec<Closed>,
    report: &mut RecoveryReport,
) -> Result<Segment, LogError> {
    loop {
        let (segment, records, truncation) = Segment::recover_tail(env, base)?;
        report.records_scanned += records;
        if let Some(truncation) = truncation {
            note_truncation(&segment, truncation, report);
        }
        let Some(previous) = closed.last_mut() else {
            return Ok(segment);
        };
        if reaches(previous, segment.base_offset()) {
            return Ok(segment);
        }
        if !segment.is_empty() {
            return Err(discontinuous(&previous.segment, &segment));
        }
        let path = segment.path().to_path_buf();
        let shown = path.display();
        tracing::warn!(path = %shown, "removing an empty newest segment that overlaps the previous one");
        drop(segment);
        env.storage
            .remove(&path)
            .map_err(|e| LogError::io("remove segment", &path, e))?;
        sync_dir(env)?;
        report.removed_segments.push(base);
        if let Some(previous) = closed.pop() {
            base = previous.segment.base_offset();
        }
    }
}

fn note_truncation(segment: &Segment, truncation: Truncation, report: &mut RecoveryReport) {
    tracing::warn!(
        path = %segment.path().display(),
        position = truncation.position,
        truncated_bytes = truncation.bytes,
        reason = %truncation.reason,
        next_offset = segment.next_offset(),
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

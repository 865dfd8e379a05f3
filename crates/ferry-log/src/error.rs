//! The errors of this crate.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::Location;

/// Why a log operation failed.
#[non_exhaustive]
#[derive(thiserror::Error, Debug)]
pub enum LogError {
    /// An I/O call failed.
    #[error("log i/o failed: {context} {}", path.display())]
    Io {
        /// What the log was doing, e.g. `"write segment"`.
        context: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Bytes on disk are not a valid record where one must be: in a closed segment, or inside
    /// the part of the active segment that was already validated.
    #[error("log segment {} is corrupt at position {position}: {reason}", segment.display())]
    Corrupt {
        /// The segment file.
        segment: PathBuf,
        /// Byte position in that file where the bad record starts.
        position: u64,
        /// What was wrong.
        reason: CorruptReason,
    },
    /// A write or fsync of this log failed earlier, so what the disk holds is unknown; the log
    /// refuses further appends and syncs until it is reopened (which re-validates the tail).
    #[error("log is poisoned by an earlier failed write or fsync; reopen it")]
    Poisoned,
    /// The requested offset is not stored: below the first retained offset or past the end.
    #[error("log offset {requested} is out of range {start}..{end}")]
    OffsetOutOfRange {
        /// The offset asked for.
        requested: u64,
        /// First offset still stored.
        start: u64,
        /// Offset the next append gets.
        end: u64,
    },
    /// A byte range asked of [`crate::Log::read_at`] is not inside a stored segment.
    #[error("log location {location:?} (+{len} bytes) is not stored")]
    LocationOutOfRange {
        /// The start of the range.
        location: Location,
        /// Its length.
        len: u32,
    },
    /// The payload would make a record larger than [`crate::record::MAX_RECORD_BYTES`].
    #[error("log record payload of {payload_bytes} bytes exceeds the maximum {max_payload_bytes}")]
    RecordTooLarge {
        /// Size of the refused payload.
        payload_bytes: usize,
        /// Largest payload accepted.
        max_payload_bytes: usize,
    },
    /// The flusher thread went away without serving a sync request (it panicked, or could not
    /// be started). Whether the records are durable is unknown.
    #[error("log flusher stopped before the sync was done")]
    FlusherStopped,
    /// A span given to [`crate::Log::append_span`] or [`crate::SegmentWriter::push`] is 0, or
    /// makes the record's range `offset .. offset + span` pass `u64::MAX`.
    #[error(
        "log record span {span} at offset {offset} is invalid: it must be at least 1 and end by u64::MAX"
    )]
    InvalidSpan {
        /// The record's first offset.
        offset: u64,
        /// The refused span.
        span: u32,
    },
    /// A record pushed to a [`crate::SegmentWriter`] overlaps the previous one or does not lie
    /// inside the segment's range: `offset .. offset + span` must lie in `min_offset ..
    /// next_offset`.
    #[error(
        "log segment rewrite got record {offset} (span {span}) outside {min_offset}..{next_offset}"
    )]
    RewriteOutOfRange {
        /// The record's first offset.
        offset: u64,
        /// Its span.
        span: u32,
        /// The least offset allowed there: the end of the previous record's range, or the
        /// segment's base offset.
        min_offset: u64,
        /// The end of the segment's range.
        next_offset: u64,
    },
    /// [`crate::Log::segment_source`] was asked for a segment that is not a closed segment of
    /// the log: the active one, one deleted by retention, or no segment at all.
    #[error("log segment {base_offset} is not a closed segment of this log")]
    SegmentNotClosed {
        /// The base offset asked for.
        base_offset: u64,
    },
    /// A [`crate::LogConfig`] value is outside what the log supports.
    #[error("log config is invalid: {reason}")]
    InvalidConfig {
        /// Which value and why.
        reason: String,
    },
}

impl LogError {
    pub(crate) fn io(context: &'static str, path: &Path, source: io::Error) -> LogError {
        LogError::Io {
            context,
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt(segment: &Path, position: u64, reason: CorruptReason) -> LogError {
        LogError::Corrupt {
            segment: segment.to_path_buf(),
            position,
            reason,
        }
    }
}

/// What made bytes on disk invalid.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorruptReason {
    /// The `len` field is below the header size or above the record size limit.
    BadLength {
        /// The value read.
        len: u32,
    },
    /// The file ends inside the record.
    Truncated {
        /// Bytes the record needs from its start (0 if even the length field is cut).
        needed: u64,
        /// Bytes the file still holds from the record's start.
        available: u64,
    },
    /// The stored CRC32C does not match the bytes.
    Checksum {
        /// CRC stored in the record.
        stored: u32,
        /// CRC computed over the bytes read.
        computed: u32,
    },
    /// A valid record starts below the end of the previous record's range (offsets overlap or
    /// go backwards), or below its segment's base offset. Gaps are legal; overlaps are not.
    UnexpectedOffset {
        /// The least offset allowed there: the end of the previous record's range (or the
        /// segment's base offset).
        expected: u64,
        /// The offset the record carries.
        found: u64,
    },
    /// A valid record's range ends past the end of its segment's range.
    PastSegmentEnd {
        /// The end of the record's range (`offset + span`).
        record_end: u64,
        /// The end of the segment's range (its `next_offset`).
        segment_end: u64,
    },
    /// A record's span is 0, or its range passes `u64::MAX`.
    BadSpan {
        /// The record's first offset.
        offset: u64,
        /// Its span.
        span: u32,
    },
    /// A segment does not start where the previous one ends: offsets overlap, or (with a valid
    /// index saying where the previous segment ends) a segment is missing.
    Discontinuous {
        /// The previous segment's end offset (the end of its records, if its index was
        /// rebuilt).
        expected: u64,
        /// This segment's base offset.
        found: u64,
    },
    /// A segment file is larger than the log can address (4 GiB).
    TooLarge {
        /// Its size in bytes.
        bytes: u64,
    },
}

impl fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CorruptReason::BadLength { len } => write!(f, "impossible record length {len}"),
            CorruptReason::Truncated { needed, available } => {
                write!(
                    f,
                    "record cut short: needs {needed} bytes, {available} left"
                )
            }
            CorruptReason::Checksum { stored, computed } => {
                write!(
                    f,
                    "crc mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
            CorruptReason::UnexpectedOffset { expected, found } => {
                write!(f, "record offset {found}, expected at least {expected}")
            }
            CorruptReason::PastSegmentEnd {
                record_end,
                segment_end,
            } => {
                write!(
                    f,
                    "record range ends at {record_end}, past the segment end {segment_end}"
                )
            }
            CorruptReason::BadSpan { offset, span } => {
                write!(f, "record at offset {offset} has an invalid span {span}")
            }
            CorruptReason::Discontinuous { expected, found } => {
                write!(f, "segment starts at offset {found}, expected {expected}")
            }
            CorruptReason::TooLarge { bytes } => write!(f, "segment of {bytes} bytes is too large"),
        }
    }
}

/// Copies an I/O error so several waiters can each receive one.
pub(crate) fn clone_io_error(error: &io::Error) -> io::Error {
    match error.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(error.kind(), error.to_string()),
    }
}

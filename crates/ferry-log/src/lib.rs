//! Ferry's storage: a segmented, append-only, CRC-checked log per queue or stream partition,
//! each in its own directory, and a group-commit [`Flusher`] shared by all the logs of a data
//! directory.
//!
//! - **What it is.** A [`Log`] stores framed records (offset, timestamp, kind, payload; layout
//!   in `docs/log-format.md`) in segment files named by base offset, with a sparse offset index
//!   and time index per segment. [`Log::open`] validates the newest segment and cuts off a torn
//!   or corrupt tail. [`Log::append`] writes; [`Log::sync`] returns a [`SyncTicket`] that the
//!   [`Flusher`] completes after one `fdatasync` per dirty file per round, however many
//!   publishers wait. A failed write or fsync poisons the log ([`LogError::Poisoned`]).
//! - **What it is not.** Not a database: it does not know what records mean (the `kind` byte
//!   and payload are the caller's), it keeps no state besides the records, and it has no async
//!   runtime inside: all I/O is blocking `std` file I/O on the caller's thread, except the
//!   fsyncs, which run on the flusher's thread. One task owns each `Log`; it is not shared.
//!
//! All file operations go through the [`io::Storage`] trait, so tests can inject faults with
//! [`io::FaultyStorage`].
//!
//! # Example
//!
//! ```
//! use ferry_log::{Flusher, Log, LogConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let flusher = Flusher::start();
//! let mut log = Log::open(dir.path(), LogConfig::default(), &flusher)?;
//!
//! let first = log.append(1_700_000_000_000, 1, b"hello")?;
//! log.append(1_700_000_000_001, 1, b"world")?;
//! log.sync().wait()?; // or `.await` from async code
//!
//! let records = log.read(first.offset, 1 << 20)?;
//! assert_eq!(records.len(), 2);
//! assert_eq!(records[1].payload, b"world");
//! // One message body can be read straight from its location.
//! assert_eq!(log.read_at(first.payload.advance(1), 4)?, b"ello");
//!
//! drop(log);
//! let log = Log::open(dir.path(), LogConfig::default(), &flusher)?;
//! assert_eq!(log.next_offset(), 2);
//! flusher.shutdown();
//! # Ok(())
//! # }
//! ```

#![warn(clippy::big_endian_bytes, clippy::host_endian_bytes)]

mod config;
mod error;
mod flusher;
mod index;
pub mod io;
mod log;
mod read;
mod reader;
pub mod record;
mod recovery;
mod segment;
mod ticket;

pub use config::{
    DEFAULT_INDEX_INTERVAL_BYTES, DEFAULT_SEGMENT_BYTES, FsyncPolicy, LogConfig,
    ParseFsyncPolicyError,
};
pub use error::{CorruptReason, LogError};
pub use flusher::{Flusher, FlusherStats, SYNC_LATENCY_BOUNDS_US, SyncLatency};
pub use log::Log;
pub use recovery::RecoveryReport;
pub use ticket::SyncTicket;

/// Where bytes lie in a log: a segment (named by its base offset) and a byte position in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Location {
    /// Base offset of the segment, which is also its file name.
    pub segment: u64,
    /// Byte position in that segment file.
    pub position: u64,
}

impl Location {
    /// The location `bytes` further on in the same segment: where a sub-slice of a payload
    /// lives, given where the payload starts.
    #[must_use]
    pub fn advance(self, bytes: u64) -> Location {
        Location {
            segment: self.segment,
            position: self.position + bytes,
        }
    }
}

/// Where [`Log::append`] put a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The record's offset.
    pub offset: u64,
    /// Where the record starts (its `len` field).
    pub location: Location,
    /// Where its payload starts: [`Appended::location`] + [`record::HEADER_BYTES`]. Keep it
    /// to read message bodies later with [`Log::read_at`].
    pub payload: Location,
}

/// One record read back from a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its offset.
    pub offset: u64,
    /// The timestamp given to [`Log::append`].
    pub timestamp_ms: u64,
    /// The kind given to [`Log::append`].
    pub kind: u8,
    /// The payload given to [`Log::append`].
    pub payload: Vec<u8>,
    /// Where the payload's first byte lies (not the record start).
    pub location: Location,
}

/// A segment of a log, as [`Log::segments`] lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Offset of its first record; also its file name.
    pub base_offset: u64,
    /// Offset after its last record (exclusive end).
    pub next_offset: u64,
    /// Size of its file in bytes.
    pub bytes: u64,
    /// Whether appends go to it.
    pub is_active: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_can_move_between_threads() {
        // A log is owned by one task, which tokio may move between worker threads.
        assert_send_sync::<Log>();
        assert_send_sync::<Flusher>();
        assert_send_sync::<LogError>();
        assert_send_sync::<SyncTicket>();
    }
}

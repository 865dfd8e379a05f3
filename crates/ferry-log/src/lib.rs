//! Ferry's storage: a segmented, append-only, CRC-checked log per queue or stream partition,
//! each in its own directory, and a group-commit [`Flusher`] shared by all the logs of a data
//! directory.
//!
//! - **What it is.** A [`Log`] stores framed records (offset, span, timestamp, kind, payload;
//!   layout in `docs/log-format.md`) in segment files named by base offset, with a sparse offset
//!   index and time index per segment. [`Log::open`] validates the newest segment and cuts off a
//!   torn or corrupt tail. [`Log::append`] writes; [`Log::sync`] returns a [`SyncTicket`] that
//!   the [`Flusher`] completes after one `fdatasync` per dirty file per round, however many
//!   publishers wait. A failed write or fsync poisons the log ([`LogError::Poisoned`]).
//! - **Spans.** A record occupies the offsets `offset .. offset + span`: a queue command takes
//!   one ([`Log::append`]), a batch of stream records one per stream record
//!   ([`Log::append_span`]). Reading from an offset inside a record returns that whole record.
//! - **Rewrites.** A closed segment can be rewritten off the owner's task, for compaction:
//!   [`Log::segment_source`] hands out a [`SegmentSource`] to read on another thread, a
//!   [`SegmentWriter`] writes the records to keep (with their offsets, so dropped ones leave
//!   gaps), and [`Log::replace_segment`] swaps the result in with a rename. Segments keep their
//!   offset ranges, so gaps lie inside segments; reads skip them.
//! - **What it is not.** Not a database: it does not know what records mean (the `kind` byte
//!   and payload are the caller's, and so is deciding which records a rewrite keeps), it keeps
//!   no state besides the records, and it has no async runtime inside: all I/O is blocking
//!   `std` file I/O on the caller's thread, except the fsyncs, which run on the flusher's
//!   thread. One task owns each `Log`; it is not shared.
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
//! // A batch of three stream records takes offsets 2, 3 and 4.
//! let batch = log.append_span(1_700_000_000_002, 2, b"batch", 3)?;
//! assert_eq!((batch.offset, log.next_offset()), (2, 5));
//! assert_eq!(log.read(3, 1)?[0].offset, 2); // from inside the batch: the whole batch
//!
//! drop(log);
//! let log = Log::open(dir.path(), LogConfig::default(), &flusher)?;
//! assert_eq!(log.next_offset(), 5);
//! flusher.shutdown();
//! # Ok(())
//! # }
//! ```
//!
//! # Rewriting a segment
//!
//! ```
//! use ferry_log::{Flusher, Log, LogConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let flusher = Flusher::start();
//! let mut log = Log::open(dir.path(), LogConfig::default(), &flusher)?;
//! for i in 0..10u8 {
//!     log.append_span(1_000, 0, &[i], 2)?;
//! }
//! log.roll()?; // only closed segments are rewritten
//!
//! // On the owner: a handle that needs nothing from the log.
//! let source = log.segment_source(0)?;
//! // On another thread (e.g. `tokio::task::spawn_blocking`): keep every other record.
//! let rewritten = std::thread::spawn(move || {
//!     let mut writer = source.rewrite()?;
//!     for record in source.records() {
//!         let r = record?;
//!         if r.payload[0] % 2 == 0 {
//!             writer.push(r.offset, r.span, r.timestamp_ms, r.kind, &r.payload)?;
//!         }
//!     }
//!     writer.finish()
//! })
//! .join()
//! .expect("rewrite thread")?;
//! // Back on the owner: `false` if retention deleted the segment meanwhile.
//! assert!(log.replace_segment(rewritten)?);
//!
//! // Offsets 2 and 3 are now a gap: a read there starts at the next record.
//! assert_eq!(log.read(2, 1)?[0].offset, 4);
//! assert_eq!(log.segments()[0].next_offset, 20); // the segment's range is unchanged
//! # flusher.shutdown();
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
mod rewrite;
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
pub use rewrite::{RewrittenSegment, SegmentSource, SegmentWriter};
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

/// Where [`Log::append`] or [`Log::append_span`] put a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The record's first offset.
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
    /// The first offset it occupies.
    pub offset: u64,
    /// How many offsets it occupies (`offset .. offset + span`), as given to
    /// [`Log::append_span`]; 1 for [`Log::append`].
    pub span: u32,
    /// The timestamp given to [`Log::append`].
    pub timestamp_ms: u64,
    /// The kind given to [`Log::append`].
    pub kind: u8,
    /// The payload given to [`Log::append`].
    pub payload: Vec<u8>,
    /// Where the payload's first byte lies (not the record start).
    pub location: Location,
}

impl Record {
    /// The offset after its range: `offset + span`.
    pub fn next_offset(&self) -> u64 {
        self.offset.saturating_add(u64::from(self.span))
    }
}

/// A segment of a log, as [`Log::segments`] lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Start of its offset range, at or below its first record's offset; also its file name.
    pub base_offset: u64,
    /// End of its offset range (exclusive): where the next segment starts, or for the active
    /// segment [`Log::next_offset`]. After a rewrite, records need not fill the range.
    pub next_offset: u64,
    /// Size of its file in bytes.
    pub bytes: u64,
    /// Largest timestamp of its records, `None` if it holds none: a segment whose maximum is
    /// older than the retention time can be deleted whole (timestamps need not be monotonic).
    pub max_timestamp_ms: Option<u64>,
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
        // Compaction reads and writes off the owner's task.
        assert_send_sync::<SegmentSource>();
        assert_send_sync::<SegmentWriter>();
        assert_send_sync::<RewrittenSegment>();
    }
}

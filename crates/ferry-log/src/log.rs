//! [`Log`]: the segmented log of one queue or stream partition, written by its one owner.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::flusher::Shared;
use crate::io::{StdStorage, Storage};
use crate::record::{self, HEADER_BYTES, MAX_PAYLOAD_BYTES, RecordHeader};
use crate::recovery::{self, RecoveryReport};
use crate::segment::{Segment, SegmentEnv, SegmentFile};
use crate::ticket::{Completion, Failure, SyncTicket};
use crate::{Appended, Flusher, FsyncPolicy, LogConfig, LogError, SegmentInfo};

/// Capacity above which the reusable framing buffer is released after an append, so one huge
/// record does not pin its size in memory.
const FRAME_BUFFER_KEEP_BYTES: usize = 1024 * 1024;
/// Stand-in deadline for an interval too long to add to the clock.
const MAX_SYNC_DELAY: Duration = Duration::from_secs(24 * 60 * 60);

/// A segmented, append-only, CRC-checked log in its own directory.
///
/// One task owns a `Log`: appends, syncs, rolls and deletions take `&mut self`, reads take
/// `&self`. Durability is requested separately from appending: [`Log::append`] writes the
/// record to the file (no fsync) and [`Log::sync`] returns a [`SyncTicket`] that completes once
/// everything appended so far is durable under the [`FsyncPolicy`], so a caller can append a
/// batch and wait once.
pub struct Log {
    pub(crate) dir: PathBuf,
    pub(crate) config: LogConfig,
    pub(crate) storage: Arc<dyn Storage>,
    flusher: Arc<Shared>,
    /// Set when a write or fsync of this log failed; shared with its segment files so that the
    /// flusher can set it.
    poisoned: Arc<AtomicBool>,
    /// Closed segments, oldest first, each starting where the previous one's range ends.
    pub(crate) closed: Vec<Segment>,
    /// The segment appends go to; starts where the last closed segment ends.
    pub(crate) active: Segment,
    /// Under [`FsyncPolicy::Always`]: files written since the last [`Log::sync`].
    unsynced: Vec<Arc<SegmentFile>>,
    /// The last sync handed to the flusher, to know whether one is still in flight.
    last_sync: Option<Arc<Completion>>,
    recovery: RecoveryReport,
    /// Reused buffer for framing records.
    frame: Vec<u8>,
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.dir)
            .field("start_offset", &self.start_offset())
            .field("next_offset", &self.next_offset())
            .field("segments", &(self.closed.len() + 1))
            .field("fsync", &self.config.fsync)
            .field("poisoned", &self.is_poisoned())
            .finish_non_exhaustive()
    }
}

impl Log {
    /// Opens the log in `dir` (creating the directory if missing) on the real file system,
    /// and recovers it: validates the records of the newest segment and truncates a torn or
    /// corrupt tail to the last whole record. See [`Log::recovery`] for what was found.
    ///
    /// # Errors
    ///
    /// [`LogError::InvalidConfig`], [`LogError::Io`], or [`LogError::Corrupt`] if a closed
    /// segment holds an invalid record or segments do not follow on from each other (data in
    /// the middle of the log is never dropped silently).
    pub fn open(dir: &Path, config: LogConfig, flusher: &Flusher) -> Result<Log, LogError> {
        Log::open_with_storage(dir, config, flusher, Arc::new(StdStorage))
    }

    /// [`Log::open`] through another [`Storage`], e.g. [`crate::io::FaultyStorage`] in tests.
    ///
    /// # Errors
    ///
    /// As [`Log::open`].
    pub fn open_with_storage(
        dir: &Path,
        config: LogConfig,
        flusher: &Flusher,
        storage: Arc<dyn Storage>,
    ) -> Result<Log, LogError> {
        config.validate()?;
        let poisoned = Arc::new(AtomicBool::new(false));
        let env = SegmentEnv {
            storage: storage.as_ref(),
            dir,
            poisoned: &poisoned,
            index_interval_bytes: config.index_interval_bytes,
        };
        let (closed, active, recovery) = recovery::recover(env)?;
        Ok(Log {
            dir: dir.to_path_buf(),
            config,
            storage,
            flusher: flusher.shared(),
            poisoned,
            closed,
            active,
            unsynced: Vec::new(),
            last_sync: None,
            recovery,
            frame: Vec::new(),
        })
    }

    /// What [`Log::open`] found: segments, records scanned, bytes truncated and where.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// Writes one framed record of span 1 at the end of the active segment: the same as
    /// [`Log::append_span`] with `span` 1, as queues use it.
    ///
    /// # Errors
    ///
    /// As [`Log::append_span`].
    pub fn append(
        &mut self,
        timestamp_ms: u64,
        kind: u8,
        payload: &[u8],
    ) -> Result<Appended, LogError> {
        self.append_span(timestamp_ms, kind, payload, 1)
    }

    /// Writes one framed record occupying the `span` offsets `next_offset .. next_offset +
    /// span` (e.g. one record per stream record of a batch payload) at the end of the active
    /// segment (a write(2), no fsync), and advances [`Log::next_offset`] by `span`. Rolls to a
    /// new segment first if the active one would grow past [`LogConfig::segment_bytes`], is
    /// older than [`LogConfig::segment_age`], or would cover more than `u32::MAX` offsets.
    ///
    /// # Errors
    ///
    /// [`LogError::Poisoned`] if an earlier write or fsync failed; [`LogError::InvalidSpan`] if
    /// `span` is 0 or the range would pass `u64::MAX`; [`LogError::RecordTooLarge`] if the
    /// payload exceeds [`record::MAX_PAYLOAD_BYTES`]; [`LogError::Io`] if the write fails,
    /// which poisons the log (nothing in memory changes, and reopening cuts off whatever part
    /// of the record reached the file). The other errors change nothing.
    pub fn append_span(
        &mut self,
        timestamp_ms: u64,
        kind: u8,
        payload: &[u8],
        span: u32,
    ) -> Result<Appended, LogError> {
        self.check_poisoned()?;
        let too_large = || LogError::RecordTooLarge {
            payload_bytes: payload.len(),
            max_payload_bytes: MAX_PAYLOAD_BYTES,
        };
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(too_large());
        }
        let offset = self.next_offset();
        if span == 0 || offset.checked_add(u64::from(span)).is_none() {
            return Err(LogError::InvalidSpan { offset, span });
        }
        if self.needs_roll(
            record::framed_bytes(payload.len()) as u64,
            timestamp_ms,
            span,
        ) {
            self.roll()?;
        }
        debug_assert_eq!(self.active.next_offset(), offset);
        let header = RecordHeader {
            offset,
            span,
            timestamp_ms,
            kind,
        };
        self.frame.clear();
        record::encode(&mut self.frame, header, payload).ok_or_else(too_large)?;
        debug_assert!(matches!(
            record::decode(&self.frame),
            Ok(record::Decoded::Record { header: h, payload: p, .. }) if h == header && p == payload
        ));
        let written = self.active.append(&self.frame, timestamp_ms, span);
        if self.frame.capacity() > FRAME_BUFFER_KEEP_BYTES {
            self.frame = Vec::new();
        }
        let location = written.inspect_err(|_| self.poison())?;
        debug_assert_eq!(self.active.next_offset(), offset + u64::from(span));
        self.note_written();
        Ok(Appended {
            offset,
            location,
            payload: location.advance(HEADER_BYTES as u64),
        })
    }

    fn needs_roll(&self, framed_bytes: u64, timestamp_ms: u64, span: u32) -> bool {
        if self.active.is_empty() {
            return false;
        }
        let too_big = self.active.bytes() + framed_bytes > self.config.segment_bytes;
        let too_old = match (self.config.segment_age, self.active.first_timestamp_ms()) {
            (Some(age), Some(first)) => {
                u128::from(timestamp_ms.saturating_sub(first)) > age.as_millis()
            }
            _ => false,
        };
        // Offsets relative to the base are stored as u32 in the index.
        let offsets = self.active.next_offset() - self.active.base_offset() + u64::from(span);
        too_big || too_old || offsets > u64::from(u32::MAX)
    }

    /// Remembers that the active segment needs syncing, as the policy wants it.
    fn note_written(&mut self) {
        let file = self.active.file();
        match self.config.fsync {
            FsyncPolicy::Always => {
                if !self.unsynced.iter().any(|f| Arc::ptr_eq(f, file)) {
                    self.unsynced.push(Arc::clone(file));
                }
            }
            FsyncPolicy::Interval(every) => {
                if file.schedule_sync() {
                    let now = Instant::now();
                    let due = now.checked_add(every).unwrap_or(now + MAX_SYNC_DELAY);
                    self.flusher.sync_by(Arc::clone(file), due);
                }
            }
            FsyncPolicy::Never => {}
        }
    }

    /// Returns a ticket that completes once everything appended so far is durable under the
    /// policy: with [`FsyncPolicy::Always`], after the flusher's fdatasync of the file(s)
    /// written since the last sync; with `Interval` or `Never`, at once. Cheap to call when
    /// nothing was appended.
    ///
    /// The ticket's error is [`LogError::Poisoned`] if the log is poisoned, or the fsync's
    /// [`LogError::Io`] (which poisons the log).
    pub fn sync(&mut self) -> SyncTicket {
        if self.is_poisoned() {
            return SyncTicket::ready(Err(Failure::Poisoned));
        }
        if self.config.fsync != FsyncPolicy::Always {
            return SyncTicket::ready(Ok(()));
        }
        let in_flight = self.last_sync.as_ref().is_some_and(|c| !c.is_complete());
        if self.unsynced.is_empty() && !in_flight {
            return SyncTicket::ready(Ok(()));
        }
        let files = std::mem::take(&mut self.unsynced);
        self.request_sync(files)
    }

    /// Like [`Log::sync`], but whatever the fsync policy: the ticket completes once
    /// everything appended so far is on disk. For what must never get ahead of the log on
    /// disk, such as a snapshot that lets older segments be deleted.
    ///
    /// The ticket's error is as [`Log::sync`]'s.
    pub fn sync_all(&mut self) -> SyncTicket {
        if self.is_poisoned() {
            return SyncTicket::ready(Err(Failure::Poisoned));
        }
        // Closed segments were synced when they were closed: only the active one can lag.
        let mut files = std::mem::take(&mut self.unsynced);
        let active = self.active.file();
        if !files.iter().any(|f| Arc::ptr_eq(f, active)) {
            files.push(Arc::clone(active));
        }
        self.request_sync(files)
    }

    /// Asks the flusher to sync `files`. Even with no files of its own, the request completes
    /// only after the one in flight, and fails if that one fails: it vouches for everything
    /// appended so far.
    fn request_sync(&mut self, files: Vec<Arc<SegmentFile>>) -> SyncTicket {
        let in_flight = self.last_sync.clone().filter(|c| !c.is_complete());
        let completion = self.flusher.sync(files, in_flight);
        self.last_sync = Some(Arc::clone(&completion));
        SyncTicket::waiting(completion)
    }

    /// Closes the active segment and starts a new one at [`Log::next_offset`]. Does nothing if
    /// the active segment is empty.
    ///
    /// Rolling fsyncs the closed segment (under every policy) before creating the new file
    /// and fsyncing the directory, so after a crash a closed segment is always whole, and a
    /// waiter on an earlier append never depends on a file the log no longer writes.
    ///
    /// # Errors
    ///
    /// [`LogError::Poisoned`]; [`LogError::Io`] (a failed fsync also poisons the log).
    pub fn roll(&mut self) -> Result<(), LogError> {
        self.check_poisoned()?;
        if self.active.is_empty() {
            return Ok(());
        }
        let old = Arc::clone(self.active.file());
        old.sync()
            .map_err(|e| LogError::io("sync segment", old.path(), e))?;
        self.active.write_index_files(self.env());
        let new = Segment::create(self.env(), self.active.next_offset())?;
        let closed = std::mem::replace(&mut self.active, new);
        debug_assert_eq!(closed.next_offset(), self.active.base_offset());
        self.closed.push(closed);
        self.unsynced.retain(|f| !Arc::ptr_eq(f, &old));
        Ok(())
    }

    /// Deletes the closed segments whose whole offset range lies below `offset` (their
    /// `next_offset` is at or below it), oldest first: a segment holding a record whose range
    /// reaches `offset` or past it stays. The active segment is never deleted (roll first to
    /// make it deletable). Returns how many were deleted.
    ///
    /// # Errors
    ///
    /// [`LogError::Io`] if a file cannot be removed; the segments removed before it stay
    /// removed.
    pub fn delete_segments_before(&mut self, offset: u64) -> Result<usize, LogError> {
        let deletable = self
            .closed
            .iter()
            .take_while(|s| s.next_offset() <= offset)
            .count();
        let mut deleted = 0;
        let mut result = Ok(());
        for segment in self.closed.iter().take(deletable) {
            if let Err(e) = recovery::remove_segment(self.env(), segment.base_offset()) {
                result = Err(e);
                break;
            }
            deleted += 1;
        }
        self.closed.drain(..deleted);
        if deleted > 0 {
            recovery::sync_dir(self.env())?;
        }
        result.map(|()| deleted)
    }

    /// Start of the first segment's offset range: the first offset still stored, unless a
    /// rewrite dropped it (equal to [`Log::next_offset`] when the log is empty).
    pub fn start_offset(&self) -> u64 {
        self.closed
            .first()
            .map_or(self.active.base_offset(), Segment::base_offset)
    }

    /// Offset the next append gets: the end of the last record's range.
    pub fn next_offset(&self) -> u64 {
        self.active.next_offset()
    }

    /// The segments, oldest first; the last one is the active one.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        self.all_segments()
            .map(|s| SegmentInfo {
                base_offset: s.base_offset(),
                next_offset: s.next_offset(),
                bytes: s.bytes(),
                max_timestamp_ms: s.max_timestamp_ms(),
                is_active: std::ptr::eq(s, &self.active),
            })
            .collect()
    }

    /// Whether a write or fsync failed: appends, syncs and rolls then return
    /// [`LogError::Poisoned`] until the log is reopened. Reads still work.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::SeqCst)
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    pub(crate) fn check_poisoned(&self) -> Result<(), LogError> {
        if self.is_poisoned() {
            return Err(LogError::Poisoned);
        }
        Ok(())
    }

    fn poison(&self) {
        self.poisoned.store(true, Ordering::SeqCst);
    }

    pub(crate) fn env(&self) -> SegmentEnv<'_> {
        SegmentEnv {
            storage: self.storage.as_ref(),
            dir: &self.dir,
            poisoned: &self.poisoned,
            index_interval_bytes: self.config.index_interval_bytes,
        }
    }

    /// Closed segments then the active one.
    pub(crate) fn all_segments(&self) -> impl Iterator<Item = &Segment> {
        self.closed.iter().chain(std::iter::once(&self.active))
    }
}

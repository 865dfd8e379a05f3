//! One segment: a `<base>.log` file of framed records and its in-memory sparse index.

#![deny(clippy::indexing_slicing)]

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::CorruptReason;
use crate::index::{IndexedSegment, SegmentIndex};
use crate::io::{Storage, StorageFile};
use crate::reader::{ReadFrom, ScanError, SegmentReader, scan};
use crate::{Location, LogError};

/// Extension of segment data files.
pub(crate) const LOG_EXTENSION: &str = "log";
/// Extension of persisted offset indexes.
pub(crate) const INDEX_EXTENSION: &str = "index";
/// Extension of persisted time indexes.
pub(crate) const TIMEINDEX_EXTENSION: &str = "timeindex";
/// Extension of a segment rewrite in progress (renamed over the `.log` file when done).
pub(crate) const REWRITE_EXTENSION: &str = "log.rewrite";

/// Path of the file with the given extension for the segment starting at `base_offset`.
pub(crate) fn segment_path(dir: &Path, base_offset: u64, extension: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{extension}"))
}

/// An open segment file, shared by the log that writes it and the flusher that syncs it.
#[derive(Debug)]
pub(crate) struct SegmentFile {
    path: PathBuf,
    file: Box<dyn StorageFile>,
    /// The owning log's poison flag: set when a write or sync of any of its files fails.
    poisoned: Arc<AtomicBool>,
    /// Under the interval policy: a deferred sync of this file is queued in the flusher.
    sync_scheduled: AtomicBool,
}

impl SegmentFile {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// fdatasync; on failure the owning log is poisoned before the error is returned.
    pub(crate) fn sync(&self) -> io::Result<()> {
        let result = self.file.sync();
        if result.is_err() {
            self.poison();
        }
        result
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::SeqCst)
    }

    pub(crate) fn poison(&self) {
        self.poisoned.store(true, Ordering::SeqCst);
    }

    /// Marks a deferred sync as queued; `true` if it was not queued already.
    pub(crate) fn schedule_sync(&self) -> bool {
        !self.sync_scheduled.swap(true, Ordering::SeqCst)
    }

    /// Called by the flusher right before it syncs for a deferred request, so that writes
    /// racing with that sync queue another one.
    pub(crate) fn clear_scheduled(&self) {
        self.sync_scheduled.store(false, Ordering::SeqCst);
    }

    /// Fills `buf` from `position`; a file shorter than that is [`CorruptReason::Truncated`].
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], position: u64) -> Result<(), ScanError> {
        let mut done = 0;
        while let Some(rest) = buf.get_mut(done..).filter(|rest| !rest.is_empty()) {
            let at = position + done as u64;
            match self.file.read_at(rest, at) {
                Ok(0) => {
                    let reason = CorruptReason::Truncated {
                        needed: buf.len() as u64,
                        available: done as u64,
                    };
                    return Err(ScanError::Invalid { position, reason });
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ScanError::Io(e)),
            }
        }
        Ok(())
    }
}

/// One segment of a log.
#[derive(Debug)]
pub(crate) struct Segment {
    /// Start of its offset range (its file name), at or below its first record's offset.
    base_offset: u64,
    /// End of its offset range: where the next segment starts. The active segment's ends with
    /// its last record; a closed segment's may lie past its last record after a rewrite.
    next_offset: u64,
    /// Bytes of valid records in the file.
    bytes: u64,
    file: Arc<SegmentFile>,
    index: SegmentIndex,
}

/// Where [`Segment`] files live and how they are opened.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SegmentEnv<'a> {
    pub(crate) storage: &'a dyn Storage,
    pub(crate) dir: &'a Path,
    pub(crate) poisoned: &'a Arc<AtomicBool>,
    pub(crate) index_interval_bytes: u32,
}

impl SegmentEnv<'_> {
    /// Creates a new, empty segment file. An empty file already at `path` is taken instead:
    /// one left by a roll that created it but failed to sync the directory, so that the
    /// next roll can succeed.
    fn create_file(&self, path: PathBuf) -> Result<Arc<SegmentFile>, LogError> {
        let file = match self.storage.create(&path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self
                .storage
                .open(&path)
                .and_then(|file| if file.size()? == 0 { Ok(file) } else { Err(e) }),
            created => created,
        };
        self.wrap(path, file)
    }

    fn open_file(&self, path: PathBuf) -> Result<Arc<SegmentFile>, LogError> {
        let file = self.storage.open(&path);
        self.wrap(path, file)
    }

    fn wrap(
        &self,
        path: PathBuf,
        file: io::Result<Box<dyn StorageFile>>,
    ) -> Result<Arc<SegmentFile>, LogError> {
        let file = file.map_err(|e| LogError::io("open segment", &path, e))?;
        Ok(self.adopt(path, file))
    }

    /// Makes an already open file (a finished rewrite, renamed to `path`) a segment file of
    /// this log.
    pub(crate) fn adopt(&self, path: PathBuf, file: Box<dyn StorageFile>) -> Arc<SegmentFile> {
        Arc::new(SegmentFile {
            path,
            file,
            poisoned: Arc::clone(self.poisoned),
            sync_scheduled: AtomicBool::new(false),
        })
    }

    fn file_bytes(&self, file: &SegmentFile) -> Result<u64, LogError> {
        file.file
            .size()
            .map_err(|e| LogError::io("stat segment", file.path(), e))
    }

    /// Removes the persisted index files of a segment, if present.
    pub(crate) fn remove_index_files(&self, base_offset: u64) -> Result<(), LogError> {
        for extension in [INDEX_EXTENSION, TIMEINDEX_EXTENSION] {
            let path = segment_path(self.dir, base_offset, extension);
            match self.storage.remove(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::io("remove index", &path, e)),
            }
        }
        Ok(())
    }
}

/// A segment whose tail was cut off while opening it.
#[derive(Debug)]
pub(crate) struct Truncation {
    pub(crate) position: u64,
    pub(crate) bytes: u64,
    pub(crate) reason: CorruptReason,
}

impl Segment {
    /// Creates a new, empty segment file and makes its name durable (directory fsync).
    pub(crate) fn create(env: SegmentEnv<'_>, base_offset: u64) -> Result<Segment, LogError> {
        let file = env.create_file(segment_path(env.dir, base_offset, LOG_EXTENSION))?;
        env.storage
            .sync_dir(env.dir)
            .map_err(|e| LogError::io("sync directory", env.dir, e))?;
        Ok(Segment {
            base_offset,
            next_offset: base_offset,
            bytes: 0,
            file,
            index: SegmentIndex::new(env.index_interval_bytes),
        })
    }

    /// Opens a closed segment from its persisted index, or by scanning it if the index files
    /// are missing or invalid. Returns the number of records scanned, `None` when the index was
    /// used.
    ///
    /// A scan only knows where the records end, not where the segment's range ends (a rewrite
    /// may have dropped its last records): the caller settles that with
    /// [`Segment::extend_range`], then persists the rebuilt index with
    /// [`Segment::write_index_files`]. Any invalid record is an error: a closed segment has no
    /// torn tail to drop.
    pub(crate) fn open_closed(
        env: SegmentEnv<'_>,
        base_offset: u64,
    ) -> Result<(Segment, Option<u64>), LogError> {
        let file = env.open_file(segment_path(env.dir, base_offset, LOG_EXTENSION))?;
        let bytes = env.file_bytes(&file)?;
        let read = |ext| {
            env.storage
                .read_file(&segment_path(env.dir, base_offset, ext))
                .ok()
        };
        let persisted = read(INDEX_EXTENSION)
            .zip(read(TIMEINDEX_EXTENSION))
            .and_then(|(o, t)| SegmentIndex::decode(&o, &t, base_offset, bytes));
        if let Some((index, meta)) = persisted {
            let next_offset = meta.next_offset;
            return Ok((
                Segment {
                    base_offset,
                    next_offset,
                    bytes,
                    file,
                    index,
                },
                None,
            ));
        }
        let scanned = scan(&file, base_offset, bytes, env.index_interval_bytes)?;
        if let Some((position, reason)) = scanned.invalid {
            return Err(LogError::corrupt(file.path(), position, reason));
        }
        let segment = Segment {
            base_offset,
            next_offset: scanned.records_end,
            bytes,
            file,
            index: scanned.index,
        };
        Ok((segment, Some(scanned.records)))
    }

    /// Opens the newest segment, keeping its valid records and cutting off (and syncing) any
    /// invalid tail. Its stale index files, if any, are removed.
    pub(crate) fn recover_tail(
        env: SegmentEnv<'_>,
        base_offset: u64,
    ) -> Result<(Segment, u64, Option<Truncation>), LogError> {
        let file = env.open_file(segment_path(env.dir, base_offset, LOG_EXTENSION))?;
        let bytes = env.file_bytes(&file)?;
        let scanned = scan(&file, base_offset, bytes, env.index_interval_bytes)?;
        let truncation = match scanned.invalid {
            None => None,
            Some((position, reason)) => {
                debug_assert_eq!(position, scanned.valid_bytes);
                let io_err = |e| LogError::io("truncate segment", file.path(), e);
                file.file.truncate(scanned.valid_bytes).map_err(io_err)?;
                file.file.sync().map_err(io_err)?;
                let bytes = bytes - scanned.valid_bytes;
                Some(Truncation {
                    position,
                    bytes,
                    reason,
                })
            }
        };
        env.remove_index_files(base_offset)?;
        let segment = Segment {
            base_offset,
            next_offset: scanned.records_end,
            bytes: scanned.valid_bytes,
            file,
            index: scanned.index,
        };
        Ok((segment, scanned.records, truncation))
    }

    /// Persists the index of this (now closed) segment. Failures are only logged: the index is
    /// rebuilt from the segment when missing or invalid.
    pub(crate) fn write_index_files(&self, env: SegmentEnv<'_>) {
        let meta = IndexedSegment {
            base_offset: self.base_offset,
            next_offset: self.next_offset,
            log_bytes: self.bytes,
        };
        let (offsets, times) = self.index.encode(meta);
        for (extension, bytes) in [(INDEX_EXTENSION, offsets), (TIMEINDEX_EXTENSION, times)] {
            let path = segment_path(env.dir, self.base_offset, extension);
            if let Err(error) = env.storage.write_file(&path, &bytes) {
                tracing::warn!(
                    path = %path.display(),
                    %error,
                    "could not write segment index; it will be rebuilt on open"
                );
            }
        }
    }

    /// Writes one encoded record of `span` offsets at the end of the segment and indexes it.
    /// On error nothing in memory changes (the file may hold part of the record; the caller
    /// poisons the log).
    pub(crate) fn append(
        &mut self,
        framed: &[u8],
        timestamp_ms: u64,
        span: u32,
    ) -> Result<Location, LogError> {
        let position = self.bytes;
        let relative = u32::try_from(self.next_offset - self.base_offset);
        let position32 = u32::try_from(position);
        let (Ok(relative), Ok(position32)) = (relative, position32) else {
            let reason = CorruptReason::TooLarge { bytes: position };
            return Err(LogError::corrupt(self.file.path(), position, reason));
        };
        self.file
            .file
            .write_at(framed, position)
            .map_err(|e| LogError::io("write segment", self.file.path(), e))?;
        let framed_bytes = framed.len() as u64;
        self.index
            .on_record(relative, position32, timestamp_ms, framed_bytes);
        self.bytes += framed_bytes;
        self.next_offset += u64::from(span);
        Ok(Location {
            segment: self.base_offset,
            position,
        })
    }

    /// Moves the end of the range of a segment opened by a scan up to where the next segment
    /// starts: the offsets between were dropped by a rewrite.
    pub(crate) fn extend_range(&mut self, next_offset: u64) {
        debug_assert!(next_offset >= self.next_offset);
        self.next_offset = next_offset;
    }

    /// Swaps in the content of a finished rewrite: same offset range, new file and index.
    pub(crate) fn replace_content(
        &mut self,
        file: Arc<SegmentFile>,
        bytes: u64,
        index: SegmentIndex,
    ) {
        self.file = file;
        self.bytes = bytes;
        self.index = index;
    }

    pub(crate) fn base_offset(&self) -> u64 {
        self.base_offset
    }

    pub(crate) fn next_offset(&self) -> u64 {
        self.next_offset
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.next_offset == self.base_offset
    }

    pub(crate) fn file(&self) -> &Arc<SegmentFile> {
        &self.file
    }

    pub(crate) fn path(&self) -> &Path {
        self.file.path()
    }

    pub(crate) fn first_timestamp_ms(&self) -> Option<u64> {
        self.index.first_timestamp_ms()
    }

    pub(crate) fn max_timestamp_ms(&self) -> Option<u64> {
        self.index.max_timestamp_ms()
    }

    /// A reader positioned at or before the first record whose range contains `offset` or
    /// lies after it (`offset` must lie in this segment's range or be its `next_offset`): at the
    /// largest index entry at or below `offset`, since every record before that entry ends at or
    /// below it.
    pub(crate) fn reader_at_offset(&self, offset: u64) -> SegmentReader {
        debug_assert!(self.base_offset <= offset && offset <= self.next_offset);
        let relative = u32::try_from(offset.saturating_sub(self.base_offset)).unwrap_or(u32::MAX);
        let (indexed, position) = self.index.seek_offset(relative);
        self.reader_from(position, indexed)
    }

    /// A reader positioned so that every record before it has a timestamp below `timestamp_ms`.
    pub(crate) fn reader_at_timestamp(&self, timestamp_ms: u64) -> SegmentReader {
        let (relative, position) = self.index.seek_timestamp(timestamp_ms);
        self.reader_from(position, relative)
    }

    /// A reader from the record at `position`, whose offset is at least `base + relative`.
    fn reader_from(&self, position: u64, relative: u32) -> SegmentReader {
        let from = ReadFrom {
            position,
            min_offset: self.base_offset + u64::from(relative),
            max_offset: self.next_offset,
        };
        SegmentReader::new(Arc::clone(&self.file), self.bytes, from)
    }

    /// Reads `len` bytes at `position`, which must lie within the segment's records.
    pub(crate) fn read_at(&self, position: u64, len: u32) -> Result<Vec<u8>, LogError> {
        let location = Location {
            segment: self.base_offset,
            position,
        };
        let end = position.checked_add(u64::from(len));
        if end.is_none_or(|end| end > self.bytes) {
            return Err(LogError::LocationOutOfRange { location, len });
        }
        let mut buf = vec![0; len as usize];
        self.file
            .read_exact_at(&mut buf, position)
            .map_err(|e| e.into_log_error(self.file.path()))?;
        Ok(buf)
    }
}

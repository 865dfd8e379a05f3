//! Rewriting a closed segment without blocking the log's owner, for compaction.
//!
//! The owner calls [`Log::segment_source`] and hands the [`SegmentSource`] to another thread
//! (e.g. `tokio::task::spawn_blocking`). There, [`SegmentSource::records`] reads the segment and
//! a [`SegmentWriter`] (from [`SegmentSource::rewrite`]) writes the records to keep to
//! `<base>.log.rewrite`; [`SegmentWriter::finish`] fsyncs it. Back on the owner,
//! [`Log::replace_segment`] renames it over `<base>.log`: the rename is the commit point, and a
//! leftover temporary file is removed when the log is next opened.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::CorruptReason;
use crate::index::SegmentIndex;
use crate::io::{Storage, StorageFile};
use crate::reader::{ReadFrom, Records, SegmentReader};
use crate::record::{self, MAX_PAYLOAD_BYTES, RecordHeader};
use crate::segment::{LOG_EXTENSION, REWRITE_EXTENSION, SegmentFile, segment_path};
use crate::{Log, LogError, Record, recovery};

/// Bytes of framed records a [`SegmentWriter`] gathers before writing them out.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// A closed segment to read off the log owner's task: an owned, `Send + 'static` handle from
/// [`Log::segment_source`], which reads the segment's file without touching the [`Log`].
///
/// It shares the open file with the log (reads are positional, so that is safe across threads).
/// The file stays readable even if the log deletes or replaces the segment meanwhile, and
/// [`Log::replace_segment`] uses it to tell whether the segment is still the one read.
#[derive(Debug)]
pub struct SegmentSource {
    storage: Arc<dyn Storage>,
    /// The log's directory, where the rewrite's temporary file goes.
    dir: PathBuf,
    base_offset: u64,
    next_offset: u64,
    bytes: u64,
    index_interval_bytes: u32,
    file: Arc<SegmentFile>,
}

impl SegmentSource {
    /// Start of the segment's offset range (its file name).
    pub fn base_offset(&self) -> u64 {
        self.base_offset
    }

    /// End of the segment's offset range (exclusive); a rewrite keeps it.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Size of the segment file in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Every record of the segment, in order, each checked (length, CRC, offsets) as
    /// [`Log::replay`] does. The iterator is independent of the source and stops after the
    /// first error, which is [`LogError::Corrupt`] or [`LogError::Io`].
    pub fn records(&self) -> impl Iterator<Item = Result<Record, LogError>> + Send + 'static {
        let from = ReadFrom {
            position: 0,
            min_offset: self.base_offset,
            max_offset: self.next_offset,
        };
        let reader = SegmentReader::new(Arc::clone(&self.file), self.bytes, from);
        Records::new(reader, self.base_offset, self.base_offset)
    }

    /// Starts a rewrite of the segment: creates `<base>.log.rewrite` in the log's directory.
    /// The source stays usable, e.g. to read the records while writing the ones to keep.
    ///
    /// # Errors
    ///
    /// [`LogError::Io`] if the file cannot be created, also when it exists because another
    /// rewrite of this segment is in progress.
    pub fn rewrite(&self) -> Result<SegmentWriter, LogError> {
        let path = segment_path(&self.dir, self.base_offset, REWRITE_EXTENSION);
        let file = self
            .storage
            .create(&path)
            .map_err(|e| LogError::io("create segment rewrite", &path, e))?;
        Ok(SegmentWriter {
            temp: TempFile {
                storage: Arc::clone(&self.storage),
                path,
                renamed: false,
            },
            file,
            base_offset: self.base_offset,
            next_offset: self.next_offset,
            min_offset: self.base_offset,
            index: SegmentIndex::new(self.index_interval_bytes),
            written: 0,
            buffer: Vec::new(),
            failed: false,
            original: Arc::clone(&self.file),
        })
    }
}

/// Writes the new content of a closed segment to a temporary file, off the log owner's task.
/// Made by [`SegmentSource::rewrite`].
///
/// Records keep their offsets: each must start at or after the end of the previous one and
/// lie inside the segment's range, so dropping records leaves gaps. Dropping the writer
/// without [`SegmentWriter::finish`] removes the temporary file.
#[derive(Debug)]
pub struct SegmentWriter {
    temp: TempFile,
    file: Box<dyn StorageFile>,
    base_offset: u64,
    next_offset: u64,
    /// The least offset the next record may carry: the end of the previous record's range.
    min_offset: u64,
    index: SegmentIndex,
    /// Bytes written to the file; `buffer` holds the records that follow.
    written: u64,
    buffer: Vec<u8>,
    /// A write failed: what the file holds is unknown, so nothing more is accepted.
    failed: bool,
    original: Arc<SegmentFile>,
}

impl SegmentWriter {
    /// Appends one record occupying `offset .. offset + span`, e.g. `writer.push(r.offset,
    /// r.span, r.timestamp_ms, r.kind, &r.payload)` for a [`Record`] kept as it was. The
    /// payload may differ from the original (a batch with some stream records removed); its
    /// range must not.
    ///
    /// # Errors
    ///
    /// [`LogError::InvalidSpan`] for a span of 0 or one that overflows;
    /// [`LogError::RewriteOutOfRange`] if the range starts before the end of the previous
    /// record's or does not lie inside the segment's range; [`LogError::RecordTooLarge`]; a
    /// [`LogError::Corrupt`] of [`CorruptReason::TooLarge`] if the file would pass 4 GiB. None
    /// of these writes anything. [`LogError::Io`] if a write fails, after which the writer
    /// refuses everything with [`LogError::Poisoned`]: drop it.
    pub fn push(
        &mut self,
        offset: u64,
        span: u32,
        timestamp_ms: u64,
        kind: u8,
        payload: &[u8],
    ) -> Result<(), LogError> {
        if self.failed {
            return Err(LogError::Poisoned);
        }
        let header = RecordHeader {
            offset,
            span,
            timestamp_ms,
            kind,
        };
        let (relative, position) = self.push_check(header, payload)?;
        let framed_start = self.buffer.len();
        record::encode(&mut self.buffer, header, payload)
            .ok_or(LogError::InvalidSpan { offset, span })?;
        let framed_bytes = (self.buffer.len() - framed_start) as u64;
        self.index
            .on_record(relative, position, timestamp_ms, framed_bytes);
        // `push_check` found the range valid.
        self.min_offset = header.next_offset().unwrap_or(u64::MAX);
        if self.buffer.len() >= WRITE_BUFFER_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Checks that the record can come next; returns its offset relative to the base and its
    /// position in the file, both of which the index keeps as `u32`.
    fn push_check(&self, header: RecordHeader, payload: &[u8]) -> Result<(u32, u32), LogError> {
        let (offset, span) = (header.offset, header.span);
        let end = header
            .next_offset()
            .filter(|_| span > 0)
            .ok_or(LogError::InvalidSpan { offset, span })?;
        let out_of_range = || LogError::RewriteOutOfRange {
            offset,
            span,
            min_offset: self.min_offset,
            next_offset: self.next_offset,
        };
        if offset < self.min_offset || end > self.next_offset {
            return Err(out_of_range());
        }
        // `min_offset` is at or above the base.
        let relative = u32::try_from(offset - self.base_offset).map_err(|_| out_of_range())?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(LogError::RecordTooLarge {
                payload_bytes: payload.len(),
                max_payload_bytes: MAX_PAYLOAD_BYTES,
            });
        }
        let position = self.written + self.buffer.len() as u64;
        let end_position = position + record::framed_bytes(payload.len()) as u64;
        match (u32::try_from(position), u32::try_from(end_position)) {
            (Ok(position), Ok(_)) => Ok((relative, position)),
            _ => {
                let reason = CorruptReason::TooLarge {
                    bytes: end_position,
                };
                Err(LogError::corrupt(&self.temp.path, position, reason))
            }
        }
    }

    /// Writes what is buffered.
    fn flush(&mut self) -> Result<(), LogError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.file.write_at(&self.buffer, self.written) {
            self.failed = true;
            return Err(LogError::io("write segment rewrite", &self.temp.path, e));
        }
        self.written += self.buffer.len() as u64;
        self.buffer.clear();
        if self.buffer.capacity() > 4 * WRITE_BUFFER_BYTES {
            self.buffer = Vec::new();
        }
        Ok(())
    }

    /// Writes out the last records and fsyncs the file, so that the rename in
    /// [`Log::replace_segment`] can only ever expose whole content.
    ///
    /// # Errors
    ///
    /// [`LogError::Io`] if a write or the fsync fails; [`LogError::Poisoned`] if a write
    /// failed before. The temporary file is then removed.
    pub fn finish(mut self) -> Result<RewrittenSegment, LogError> {
        if self.failed {
            return Err(LogError::Poisoned);
        }
        self.flush()?;
        self.file
            .sync()
            .map_err(|e| LogError::io("sync segment rewrite", &self.temp.path, e))?;
        Ok(RewrittenSegment {
            temp: self.temp,
            file: self.file,
            base_offset: self.base_offset,
            next_offset: self.next_offset,
            bytes: self.written,
            index: self.index,
            original: self.original,
        })
    }
}

/// A finished, durable segment rewrite, to hand back to the log's owner for
/// [`Log::replace_segment`]. Dropping it instead removes its temporary file.
#[derive(Debug)]
pub struct RewrittenSegment {
    temp: TempFile,
    file: Box<dyn StorageFile>,
    base_offset: u64,
    next_offset: u64,
    bytes: u64,
    index: SegmentIndex,
    /// The file the rewrite was read from, to tell whether the segment is still the same.
    original: Arc<SegmentFile>,
}

impl RewrittenSegment {
    /// Start of the segment's offset range (its file name).
    pub fn base_offset(&self) -> u64 {
        self.base_offset
    }

    /// Size of the new segment file in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// A rewrite's temporary file, removed when dropped unless it was renamed into place.
#[derive(Debug)]
struct TempFile {
    storage: Arc<dyn Storage>,
    path: PathBuf,
    renamed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.renamed {
            return;
        }
        match self.storage.remove(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(
                path = %self.path.display(),
                %error,
                "could not remove a segment rewrite; removed on next open"
            ),
        }
    }
}

impl Log {
    /// A handle to read and rewrite the closed segment starting at `base_offset` off the
    /// owner's task (see [`SegmentSource`]). The log is not changed.
    ///
    /// # Errors
    ///
    /// [`LogError::SegmentNotClosed`] if no closed segment starts at `base_offset` (the active
    /// segment cannot be rewritten: roll first).
    pub fn segment_source(&self, base_offset: u64) -> Result<SegmentSource, LogError> {
        let segment = self
            .closed_position(base_offset)
            .and_then(|i| self.closed.get(i))
            .ok_or(LogError::SegmentNotClosed { base_offset })?;
        Ok(SegmentSource {
            storage: Arc::clone(&self.storage),
            dir: self.dir.clone(),
            base_offset,
            next_offset: segment.next_offset(),
            bytes: segment.bytes(),
            index_interval_bytes: self.config.index_interval_bytes,
            file: Arc::clone(segment.file()),
        })
    }

    /// Swaps a finished rewrite in for its segment, on the owner's task: removes the
    /// segment's index files, renames the rewrite over `<base>.log` (the commit point), fsyncs
    /// the directory and writes the new index files. Reads from then on see the new content;
    /// the segment's offset range, and so every other segment, is unchanged.
    ///
    /// Returns `false`, changing nothing but removing the temporary file, if the segment is no
    /// longer the one the rewrite read: deleted by [`Log::delete_segments_before`] meanwhile,
    /// replaced by another rewrite, or from another [`Log`] instance.
    ///
    /// [`crate::Location`]s into the segment from before the swap (e.g. [`Record::location`])
    /// point into the old content: do not pass them to [`Log::read_at`] afterwards.
    ///
    /// # Errors
    ///
    /// [`LogError::Poisoned`]; [`LogError::Io`] if removing the old index files or the rename
    /// fails (the old content stays), or if the directory fsync fails (the new content is in
    /// place, but a crash may bring back the old one; either is valid).
    pub fn replace_segment(&mut self, rewritten: RewrittenSegment) -> Result<bool, LogError> {
        self.check_poisoned()?;
        let base = rewritten.base_offset;
        let current = self.closed_position(base).filter(|&i| {
            self.closed
                .get(i)
                .is_some_and(|s| Arc::ptr_eq(s.file(), &rewritten.original))
        });
        let Some(i) = current else {
            return Ok(false);
        };
        let RewrittenSegment {
            mut temp,
            file,
            next_offset,
            bytes,
            index,
            ..
        } = rewritten;
        let env = self.env();
        // The old index files describe the old content: never leave them beside the new one.
        env.remove_index_files(base)?;
        let path = segment_path(&self.dir, base, LOG_EXTENSION);
        self.storage
            .rename(&temp.path, &path)
            .map_err(|e| LogError::io("rename segment rewrite", &path, e))?;
        temp.renamed = true;
        let file = env.adopt(path, file);
        if let Some(segment) = self.closed.get_mut(i) {
            debug_assert_eq!(segment.next_offset(), next_offset);
            segment.replace_content(file, bytes, index);
        }
        let env = self.env();
        if let Some(segment) = self.closed.get(i) {
            segment.write_index_files(env);
        }
        recovery::sync_dir(env)?;
        Ok(true)
    }

    /// Position in `closed` of the closed segment starting at `base_offset`.
    fn closed_position(&self, base_offset: u64) -> Option<usize> {
        self.closed
            .binary_search_by_key(&base_offset, |s| s.base_offset())
            .ok()
    }
}

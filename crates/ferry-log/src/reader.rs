//! Reading records back from a segment file: a buffered reader that validates the length,
//! CRC and offset range of every record it returns, and the whole-segment scan used on open.

#![deny(clippy::indexing_slicing)]

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::error::CorruptReason;
use crate::index::SegmentIndex;
use crate::record::{self, Decoded, RecordHeader};
use crate::segment::SegmentFile;
use crate::{Location, LogError, Record};

/// Bytes read from a segment at a time when scanning.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Bytes of a record's `len` field, the least a scan must see to size a record.
const LEN_FIELD_BYTES: usize = 4;
/// Bytes of the `len` and `crc32c` fields, not counted by `len`.
const PREFIX_BYTES: usize = 8;

/// Why a scan stopped early.
#[derive(Debug)]
pub(crate) enum ScanError {
    /// The bytes at `position` are not the record expected there.
    Invalid {
        position: u64,
        reason: CorruptReason,
    },
    /// Reading failed.
    Io(io::Error),
}

impl ScanError {
    pub(crate) fn into_log_error(self, path: &Path) -> LogError {
        match self {
            ScanError::Invalid { position, reason } => LogError::corrupt(path, position, reason),
            ScanError::Io(e) => LogError::io("read segment", path, e),
        }
    }
}

/// A record as a scan sees it, borrowing the payload from the reader's buffer.
#[derive(Debug)]
pub(crate) struct RecordView<'a> {
    /// Position of the record start in the segment file.
    pub(crate) position: u64,
    pub(crate) header: RecordHeader,
    pub(crate) payload: &'a [u8],
    pub(crate) framed_bytes: u64,
}

impl RecordView<'_> {
    /// The record as callers get it, read from the segment starting at `segment`.
    fn to_record(&self, segment: u64) -> Record {
        Record {
            offset: self.header.offset,
            span: self.header.span,
            timestamp_ms: self.header.timestamp_ms,
            kind: self.header.kind,
            payload: self.payload.to_vec(),
            location: Location {
                segment,
                position: self.position + record::HEADER_BYTES as u64,
            },
        }
    }
}

/// The records a [`SegmentReader`] reads, as callers get them, from the first whose range ends
/// after `from` (so the one containing `from`, if any). Stops after the first error.
#[derive(Debug)]
pub(crate) struct Records {
    reader: SegmentReader,
    /// Base offset of the segment read, for the records' locations.
    segment: u64,
    from: u64,
    failed: bool,
}

impl Records {
    pub(crate) fn new(reader: SegmentReader, segment: u64, from: u64) -> Records {
        Records {
            reader,
            segment,
            from,
            failed: false,
        }
    }
}

impl Iterator for Records {
    type Item = Result<Record, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed {
            match self.reader.next_view() {
                // `decode` refuses ranges that overflow.
                Ok(Some(view)) if view.header.next_offset().unwrap_or(u64::MAX) <= self.from => {}
                Ok(Some(view)) => return Some(Ok(view.to_record(self.segment))),
                Ok(None) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e.into_log_error(self.reader.file().path())));
                }
            }
        }
        None
    }
}

/// Reads the records of one segment in order from a record start, checking each record's CRC
/// and that offset ranges increase without overlapping and stay inside the segment's range.
/// Gaps between records are legal (a rewrite leaves them).
///
/// It holds its own reference to the file, so it can outlive the segment (and move to another
/// thread, for a [`crate::SegmentSource`]).
#[derive(Debug)]
pub(crate) struct SegmentReader {
    file: Arc<SegmentFile>,
    /// Start of the next record.
    position: u64,
    /// End of the readable bytes (the segment's size).
    end: u64,
    /// The least offset the next record may carry: the end of the previous record's range.
    min_offset: u64,
    /// No record's range may end past this offset: the end of the segment's range.
    max_offset: u64,
    buf: Vec<u8>,
    /// File position of `buf[0]`.
    buf_start: u64,
}

/// Where a [`SegmentReader`] starts and what offsets it accepts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadFrom {
    /// A record start in the file.
    pub(crate) position: u64,
    /// The least offset the record there may carry.
    pub(crate) min_offset: u64,
    /// The end of the segment's offset range.
    pub(crate) max_offset: u64,
}

impl SegmentReader {
    /// A reader of `file`, whose valid bytes end at `end`.
    pub(crate) fn new(file: Arc<SegmentFile>, end: u64, from: ReadFrom) -> Self {
        SegmentReader {
            file,
            position: from.position,
            end,
            min_offset: from.min_offset,
            max_offset: from.max_offset,
            buf: Vec::new(),
            buf_start: from.position,
        }
    }

    /// Start of the next record (after the last one returned).
    pub(crate) fn position(&self) -> u64 {
        self.position
    }

    /// The least offset the next record may carry: the end of the last one returned.
    pub(crate) fn min_offset(&self) -> u64 {
        self.min_offset
    }

    /// The file read.
    pub(crate) fn file(&self) -> &SegmentFile {
        &self.file
    }

    /// The next record, `None` at the end, or why the bytes there are not a valid record.
    pub(crate) fn next_view(&mut self) -> Result<Option<RecordView<'_>>, ScanError> {
        if self.position >= self.end {
            return Ok(None);
        }
        while let Some(needed) = self.missing_bytes()? {
            self.refill(needed)?;
        }
        let position = self.position;
        let invalid = |reason| ScanError::Invalid { position, reason };
        let start = usize::try_from(position - self.buf_start).unwrap_or(usize::MAX);
        let bytes = self.buf.get(start..).unwrap_or_default();
        let Decoded::Record {
            header,
            payload,
            framed_bytes,
        } = record::decode(bytes).map_err(invalid)?
        else {
            let reason = CorruptReason::Truncated {
                needed: 0,
                available: self.end - position,
            };
            return Err(invalid(reason));
        };
        if header.offset < self.min_offset {
            let expected = self.min_offset;
            let found = header.offset;
            return Err(invalid(CorruptReason::UnexpectedOffset { expected, found }));
        }
        // `decode` refuses records whose range overflows.
        let record_end = header.next_offset().unwrap_or(u64::MAX);
        if record_end > self.max_offset {
            let segment_end = self.max_offset;
            let reason = CorruptReason::PastSegmentEnd {
                record_end,
                segment_end,
            };
            return Err(invalid(reason));
        }
        let framed_bytes = framed_bytes as u64;
        debug_assert!(position + framed_bytes <= self.end);
        self.position += framed_bytes;
        self.min_offset = record_end;
        Ok(Some(RecordView {
            position,
            header,
            payload,
            framed_bytes,
        }))
    }

    /// How many bytes from `position` the buffer must hold to decode the next record, if it
    /// holds fewer. Checks the length field, and that the record fits before `end`.
    fn missing_bytes(&self) -> Result<Option<usize>, ScanError> {
        let position = self.position;
        let start = usize::try_from(position - self.buf_start).unwrap_or(usize::MAX);
        let buffered = self.buf.get(start..).unwrap_or_default();
        let left = self.end - position;
        let truncated = |needed: u64| ScanError::Invalid {
            position,
            reason: CorruptReason::Truncated {
                needed,
                available: left,
            },
        };
        let Some(len_field) = buffered.get(..LEN_FIELD_BYTES) else {
            if left < LEN_FIELD_BYTES as u64 {
                return Err(truncated(LEN_FIELD_BYTES as u64));
            }
            return Ok(Some(LEN_FIELD_BYTES));
        };
        let len = u32::from_le_bytes(len_field.try_into().map_err(|_| truncated(4))?);
        let framed = PREFIX_BYTES + usize::try_from(len).unwrap_or(usize::MAX);
        if !(record::HEADER_BYTES..=record::MAX_RECORD_BYTES).contains(&framed) {
            let reason = CorruptReason::BadLength { len };
            return Err(ScanError::Invalid { position, reason });
        }
        if framed as u64 > left {
            return Err(truncated(framed as u64));
        }
        Ok((buffered.len() < framed).then_some(framed))
    }

    /// Replaces the buffer with at least `needed` bytes from `position` (more if available).
    fn refill(&mut self, needed: usize) -> Result<(), ScanError> {
        let left = usize::try_from(self.end - self.position).unwrap_or(usize::MAX);
        let len = needed.max(READ_CHUNK_BYTES).min(left);
        debug_assert!(len >= needed);
        self.buf.resize(len, 0);
        self.buf_start = self.position;
        self.file.read_exact_at(&mut self.buf, self.position)
    }
}

/// What a scan of a whole segment found.
#[derive(Debug)]
pub(crate) struct Scan {
    pub(crate) index: SegmentIndex,
    /// The end of the last valid record's range (the base offset if there is none).
    pub(crate) records_end: u64,
    /// Bytes of whole valid records from the start.
    pub(crate) valid_bytes: u64,
    pub(crate) records: u64,
    /// Where and why the scan stopped before the end of the file.
    pub(crate) invalid: Option<(u64, CorruptReason)>,
}

/// Scans `file` (of `file_bytes`) from the start, expecting offsets from `base_offset`, up to the
/// first invalid record. Record ranges must end within `u32::MAX` offsets of the base, so that
/// relative offsets fit in the index.
pub(crate) fn scan(
    file: &Arc<SegmentFile>,
    base_offset: u64,
    file_bytes: u64,
    interval_bytes: u32,
) -> Result<Scan, LogError> {
    if u32::try_from(file_bytes).is_err() {
        let reason = CorruptReason::TooLarge { bytes: file_bytes };
        return Err(LogError::corrupt(file.path(), 0, reason));
    }
    let mut index = SegmentIndex::new(interval_bytes);
    let from = ReadFrom {
        position: 0,
        min_offset: base_offset,
        max_offset: base_offset.saturating_add(u64::from(u32::MAX)),
    };
    let mut reader = SegmentReader::new(Arc::clone(file), file_bytes, from);
    let mut records = 0;
    let invalid = loop {
        match reader.next_view() {
            Ok(Some(view)) => {
                // Both fit in u32: the file does, and so do offsets below `max_offset`.
                let relative = (view.header.offset - base_offset) as u32;
                let ts = view.header.timestamp_ms;
                index.on_record(relative, view.position as u32, ts, view.framed_bytes);
                records += 1;
            }
            Ok(None) => break None,
            Err(ScanError::Invalid { position, reason }) => break Some((position, reason)),
            Err(ScanError::Io(e)) => return Err(LogError::io("scan segment", file.path(), e)),
        }
    };
    Ok(Scan {
        index,
        records_end: reader.min_offset(),
        valid_bytes: reader.position(),
        records,
        invalid,
    })
}

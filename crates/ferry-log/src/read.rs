//! Reading a [`Log`]: by offset, by byte location, by timestamp, and replay.

use crate::reader::Records;
use crate::record::HEADER_BYTES;
use crate::segment::Segment;
use crate::{Location, Log, LogError, Record};

impl Log {
    /// Reads `len` raw bytes at a byte location of a segment (pread), e.g. one message body
    /// inside a record's payload, found from [`crate::Appended::payload`] or
    /// [`Record::location`] with [`Location::advance`]. The bytes are not checked against the
    /// record's CRC: the caller asks for part of a record, not a record.
    ///
    /// # Errors
    ///
    /// [`LogError::LocationOutOfRange`] if the segment is gone or the range passes its end;
    /// [`LogError::Io`].
    pub fn read_at(&self, location: Location, len: u32) -> Result<Vec<u8>, LogError> {
        let segment = self
            .segment_by_base(location.segment)
            .ok_or(LogError::LocationOutOfRange { location, len })?;
        segment.read_at(location.position, len)
    }

    /// The records from offset `from` onward, in order, until their framed size would pass
    /// `max_bytes`, but at least one if there is any.
    ///
    /// The first record returned is the first whose range ends after `from`: the record
    /// containing `from` (which may start before it: a caller that wants stream records from
    /// `from` skips the earlier part of that batch), or the next record after a gap a rewrite
    /// left. Empty if `from` equals [`Log::next_offset`], or if only gaps lie from `from` on.
    ///
    /// # Errors
    ///
    /// [`LogError::OffsetOutOfRange`] if `from` is below [`Log::start_offset`] or above
    /// [`Log::next_offset`]; [`LogError::Corrupt`] if a record read fails its check;
    /// [`LogError::Io`].
    pub fn read(&self, from: u64, max_bytes: usize) -> Result<Vec<Record>, LogError> {
        let mut records = Vec::new();
        let mut bytes = 0usize;
        for record in self.replay(from)? {
            let record = record?;
            let framed = HEADER_BYTES + record.payload.len();
            if !records.is_empty() && bytes.saturating_add(framed) > max_bytes {
                break;
            }
            bytes = bytes.saturating_add(framed);
            records.push(record);
        }
        Ok(records)
    }

    /// Every record from offset `from` to the end, in order, read lazily segment by segment:
    /// for rebuilding state on recovery. It starts, as [`Log::read`] does, at the first record
    /// whose range ends after `from`. The iterator stops after the first error.
    ///
    /// # Errors
    ///
    /// [`LogError::OffsetOutOfRange`] as for [`Log::read`]; the items can be
    /// [`LogError::Corrupt`] or [`LogError::Io`].
    pub fn replay(
        &self,
        from: u64,
    ) -> Result<impl Iterator<Item = Result<Record, LogError>> + '_, LogError> {
        self.check_range(from)?;
        Ok(Replay {
            log: self,
            segment: self.segment_index_of(from),
            from,
            records: None,
            failed: false,
        })
    }

    /// Offset of the first record whose timestamp is ≥ `ts_ms`, or `None` if there is none.
    /// For a record of several offsets, that is its first offset.
    ///
    /// Producer timestamps need not be monotonic. As in Kafka, the search uses each segment's
    /// running maximum timestamp: it skips the segments whose maximum is below `ts_ms`, seeks
    /// with the time index to where the running maximum reaches it, and scans from there.
    ///
    /// # Errors
    ///
    /// [`LogError::Corrupt`] or [`LogError::Io`] from the scan.
    pub fn offset_for_timestamp(&self, ts_ms: u64) -> Result<Option<u64>, LogError> {
        for segment in self.all_segments() {
            if segment.max_timestamp_ms().is_none_or(|max| max < ts_ms) {
                continue;
            }
            let mut reader = segment.reader_at_timestamp(ts_ms);
            loop {
                match reader.next_view() {
                    Ok(Some(view)) if view.header.timestamp_ms >= ts_ms => {
                        return Ok(Some(view.header.offset));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => return Err(e.into_log_error(segment.path())),
                }
            }
        }
        Ok(None)
    }

    fn check_range(&self, from: u64) -> Result<(), LogError> {
        let (start, end) = (self.start_offset(), self.next_offset());
        if from < start || from > end {
            return Err(LogError::OffsetOutOfRange {
                requested: from,
                start,
                end,
            });
        }
        Ok(())
    }

    /// Position in closed ++ [active] of the segment whose range holds `offset` (the active one
    /// for offsets at or past its base). Segments tile the offset space, so there is one.
    fn segment_index_of(&self, offset: u64) -> usize {
        if offset >= self.active.base_offset() {
            return self.closed.len();
        }
        self.closed.partition_point(|s| s.next_offset() <= offset)
    }

    fn segment_at(&self, index: usize) -> Option<&Segment> {
        match self.closed.get(index) {
            Some(segment) => Some(segment),
            None => (index == self.closed.len()).then_some(&self.active),
        }
    }

    fn segment_by_base(&self, base_offset: u64) -> Option<&Segment> {
        if base_offset == self.active.base_offset() {
            return Some(&self.active);
        }
        let i = self
            .closed
            .binary_search_by_key(&base_offset, Segment::base_offset)
            .ok()?;
        self.closed.get(i)
    }
}

/// The iterator behind [`Log::replay`].
struct Replay<'a> {
    log: &'a Log,
    /// Position in closed ++ [active] of the segment being read.
    segment: usize,
    from: u64,
    records: Option<Records>,
    failed: bool,
}

impl Iterator for Replay<'_> {
    type Item = Result<Record, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed {
            let records = match &mut self.records {
                Some(records) => records,
                None => {
                    let segment = self.log.segment_at(self.segment)?;
                    let reader = segment.reader_at_offset(self.from.max(segment.base_offset()));
                    let records = Records::new(reader, segment.base_offset(), self.from);
                    self.records.insert(records)
                }
            };
            match records.next() {
                Some(Ok(record)) => return Some(Ok(record)),
                Some(Err(e)) => {
                    self.failed = true;
                    return Some(Err(e));
                }
                None => {
                    self.segment += 1;
                    self.records = None;
                }
            }
        }
        None
    }
}

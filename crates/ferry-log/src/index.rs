//! The sparse per-segment index: offset → byte position, and running maximum timestamp →
//! offset. Kept in memory for every segment, and persisted beside each closed segment as
//! `<base>.index` and `<base>.timeindex` so that opening a log need not rescan closed segments.
//! A persisted index that fails any check is ignored and rebuilt by scanning the segment.

#![deny(clippy::indexing_slicing)]

/// Leading bytes of an `.index` file.
const OFFSET_MAGIC: &[u8; 8] = b"FERRYIX1";
/// Leading bytes of a `.timeindex` file.
const TIME_MAGIC: &[u8; 8] = b"FERRYTI1";
/// magic, base_offset, next_offset, log_bytes, max_timestamp_ms, entry_count.
const HEADER_BYTES: usize = 8 + 8 + 8 + 8 + 8 + 4;
const CRC_BYTES: usize = 4;
const OFFSET_ENTRY_BYTES: usize = 4 + 4;
const TIME_ENTRY_BYTES: usize = 8 + 4;

/// One sparse index point: the record at `relative_offset` starts at `position`, and the
/// largest timestamp of the segment's records up to and including it is `max_timestamp_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IndexEntry {
    relative_offset: u32,
    position: u32,
    max_timestamp_ms: u64,
}

/// What a persisted index describes, checked against the segment file when loading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexedSegment {
    /// Start of the segment's offset range (its file name), at or below its first record's
    /// offset.
    pub(crate) base_offset: u64,
    /// End of its offset range: at or past its last record's range, where the next segment
    /// starts. A rewrite keeps it, even if it drops the last records.
    pub(crate) next_offset: u64,
    /// Length of the `.log` file the index was built from.
    pub(crate) log_bytes: u64,
}

/// The in-memory sparse index of one segment.
#[derive(Clone, Debug)]
pub(crate) struct SegmentIndex {
    entries: Vec<IndexEntry>,
    interval_bytes: u64,
    /// Record bytes appended since the last entry's record start.
    bytes_since_entry: u64,
    first_timestamp_ms: Option<u64>,
    max_timestamp_ms: Option<u64>,
}

impl SegmentIndex {
    /// An empty index that adds an entry every `interval_bytes` of records.
    pub(crate) fn new(interval_bytes: u32) -> SegmentIndex {
        SegmentIndex {
            entries: Vec::new(),
            interval_bytes: u64::from(interval_bytes),
            bytes_since_entry: 0,
            first_timestamp_ms: None,
            max_timestamp_ms: None,
        }
    }

    /// Accounts for the record just appended (or scanned) at `position`.
    pub(crate) fn on_record(
        &mut self,
        relative_offset: u32,
        position: u32,
        timestamp_ms: u64,
        framed_bytes: u64,
    ) {
        let max = self
            .max_timestamp_ms
            .map_or(timestamp_ms, |m| m.max(timestamp_ms));
        self.max_timestamp_ms = Some(max);
        self.first_timestamp_ms.get_or_insert(timestamp_ms);
        if self.entries.is_empty() || self.bytes_since_entry >= self.interval_bytes {
            debug_assert!(self.entries.last().is_none_or(|last| {
                last.relative_offset < relative_offset && last.position < position
            }));
            self.entries.push(IndexEntry {
                relative_offset,
                position,
                max_timestamp_ms: max,
            });
            self.bytes_since_entry = 0;
        }
        self.bytes_since_entry = self.bytes_since_entry.saturating_add(framed_bytes);
    }

    /// Timestamp of the first record, if any (for rolling by age).
    pub(crate) fn first_timestamp_ms(&self) -> Option<u64> {
        self.first_timestamp_ms
    }

    /// Largest timestamp of any record, if any.
    pub(crate) fn max_timestamp_ms(&self) -> Option<u64> {
        self.max_timestamp_ms
    }

    /// Where to start scanning for the record at `relative_offset`: the position of the nearest
    /// indexed record at or before it, with that record's relative offset.
    pub(crate) fn seek_offset(&self, relative_offset: u32) -> (u32, u64) {
        let after = self
            .entries
            .partition_point(|e| e.relative_offset <= relative_offset);
        match after.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(e) => (e.relative_offset, u64::from(e.position)),
            None => (0, 0),
        }
    }

    /// Where to start scanning for the first record with a timestamp ≥ `timestamp_ms`: every
    /// record before the returned position has a smaller timestamp. Returns the relative offset
    /// and position of an indexed record.
    pub(crate) fn seek_timestamp(&self, timestamp_ms: u64) -> (u32, u64) {
        let below = self
            .entries
            .partition_point(|e| e.max_timestamp_ms < timestamp_ms);
        match below.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(e) => (e.relative_offset, u64::from(e.position)),
            None => (0, 0),
        }
    }

    /// The `.index` and `.timeindex` file contents for a closed segment.
    pub(crate) fn encode(&self, segment: IndexedSegment) -> (Vec<u8>, Vec<u8>) {
        let mut offsets = encode_header(OFFSET_MAGIC, segment, self);
        let mut times = encode_header(TIME_MAGIC, segment, self);
        for e in &self.entries {
            offsets.extend_from_slice(&e.relative_offset.to_le_bytes());
            offsets.extend_from_slice(&e.position.to_le_bytes());
            times.extend_from_slice(&e.max_timestamp_ms.to_le_bytes());
            times.extend_from_slice(&e.relative_offset.to_le_bytes());
        }
        for bytes in [&mut offsets, &mut times] {
            let crc = crc32c::crc32c(bytes);
            bytes.extend_from_slice(&crc.to_le_bytes());
        }
        (offsets, times)
    }

    /// Parses persisted index files of the segment starting at `base_offset` whose log file is
    /// `log_bytes` long. `None` if anything is off: the caller then rebuilds by scanning.
    pub(crate) fn decode(
        offsets: &[u8],
        times: &[u8],
        base_offset: u64,
        log_bytes: u64,
    ) -> Option<(SegmentIndex, IndexedSegment)> {
        let (segment, max_ts, offset_entries) =
            decode_file(offsets, OFFSET_MAGIC, OFFSET_ENTRY_BYTES)?;
        let (time_segment, time_max_ts, time_entries) =
            decode_file(times, TIME_MAGIC, TIME_ENTRY_BYTES)?;
        if segment != time_segment
            || max_ts != time_max_ts
            || segment.base_offset != base_offset
            || segment.log_bytes != log_bytes
            || segment.next_offset <= base_offset
            || offset_entries.len() / OFFSET_ENTRY_BYTES != time_entries.len() / TIME_ENTRY_BYTES
        {
            return None;
        }
        let range = segment.next_offset.checked_sub(base_offset)?;
        let mut entries: Vec<IndexEntry> =
            Vec::with_capacity(offset_entries.len() / OFFSET_ENTRY_BYTES);
        let pairs = offset_entries
            .chunks_exact(OFFSET_ENTRY_BYTES)
            .zip(time_entries.chunks_exact(TIME_ENTRY_BYTES));
        for (o, t) in pairs {
            let relative_offset = le_u32(o, 0)?;
            let entry = IndexEntry {
                relative_offset,
                position: le_u32(o, 4)?,
                max_timestamp_ms: le_u64(t, 0)?,
            };
            let previous = entries.last();
            let valid = le_u32(t, 8)? == relative_offset
                && u64::from(relative_offset) < range
                && u64::from(entry.position) < log_bytes
                && entry.max_timestamp_ms <= max_ts
                && match previous {
                    // The first record, which may lie past the base after a rewrite.
                    None => entry.position == 0,
                    Some(p) => {
                        p.relative_offset < entry.relative_offset
                            && p.position < entry.position
                            && p.max_timestamp_ms <= entry.max_timestamp_ms
                    }
                };
            if !valid {
                return None;
            }
            entries.push(entry);
        }
        // A segment without records (a rewrite dropped them all) has no entries; any other has
        // one for its first record at least.
        if entries.is_empty() != (log_bytes == 0) {
            return None;
        }
        let index = SegmentIndex {
            max_timestamp_ms: (!entries.is_empty()).then_some(max_ts),
            entries,
            interval_bytes: 0,
            bytes_since_entry: 0,
            first_timestamp_ms: None,
        };
        Some((index, segment))
    }
}

fn encode_header(magic: &[u8; 8], segment: IndexedSegment, index: &SegmentIndex) -> Vec<u8> {
    let count = u32::try_from(index.entries.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(HEADER_BYTES + index.entries.len() * TIME_ENTRY_BYTES + 4);
    out.extend_from_slice(magic);
    out.extend_from_slice(&segment.base_offset.to_le_bytes());
    out.extend_from_slice(&segment.next_offset.to_le_bytes());
    out.extend_from_slice(&segment.log_bytes.to_le_bytes());
    out.extend_from_slice(&index.max_timestamp_ms.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out
}

/// Checks magic, length and CRC; returns the header fields and the entry bytes.
fn decode_file<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    entry_bytes: usize,
) -> Option<(IndexedSegment, u64, &'a [u8])> {
    let crc_at = bytes.len().checked_sub(CRC_BYTES)?;
    let (body, crc) = (bytes.get(..crc_at)?, le_u32(bytes, crc_at)?);
    if crc32c::crc32c(body) != crc || body.get(..8)? != magic {
        return None;
    }
    let segment = IndexedSegment {
        base_offset: le_u64(body, 8)?,
        next_offset: le_u64(body, 16)?,
        log_bytes: le_u64(body, 24)?,
    };
    let max_timestamp_ms = le_u64(body, 32)?;
    let count = usize::try_from(le_u32(body, 40)?).ok()?;
    let entries = body.get(HEADER_BYTES..)?;
    if entries.len() != count.checked_mul(entry_bytes)? {
        return None;
    }
    Some((segment, max_timestamp_ms, entries))
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(raw))
}

fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let raw: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(raw))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Records of 100 bytes at positions 0, 100, 200, …, with the given timestamps.
    fn index_of(timestamps: &[u64], interval: u32) -> SegmentIndex {
        let mut index = SegmentIndex::new(interval);
        for (i, ts) in timestamps.iter().enumerate() {
            let i = u32::try_from(i).unwrap();
            index.on_record(i, i * 100, *ts, 100);
        }
        index
    }

    fn meta(records: u64) -> IndexedSegment {
        IndexedSegment {
            base_offset: 40,
            next_offset: 40 + records,
            log_bytes: records * 100,
        }
    }

    #[test]
    fn entries_are_sparse_and_seek_backwards() {
        let index = index_of(&[1; 10], 250);
        // Entries at records 0, 3, 6, 9 (every third 100-byte record crosses 250 bytes).
        assert_eq!(index.entries.len(), 4);
        assert_eq!(index.seek_offset(0), (0, 0));
        assert_eq!(index.seek_offset(2), (0, 0));
        assert_eq!(index.seek_offset(3), (3, 300));
        assert_eq!(index.seek_offset(8), (6, 600));
        assert_eq!(index.seek_offset(100), (9, 900));
    }

    #[test]
    fn timestamp_seek_uses_running_maximum() {
        // Non-monotonic producer timestamps; every record indexed.
        let index = index_of(&[10, 5, 30, 20, 40], 0);
        assert_eq!(index.seek_timestamp(0), (0, 0));
        assert_eq!(index.seek_timestamp(10), (0, 0));
        // Running max is 10, 10, 30, 30, 40: records up to offset 1 are all < 25.
        assert_eq!(index.seek_timestamp(25), (1, 100));
        assert_eq!(index.seek_timestamp(35), (3, 300));
        assert_eq!(index.max_timestamp_ms(), Some(40));
        assert_eq!(index.first_timestamp_ms(), Some(10));
    }

    #[test]
    fn persisted_index_round_trips() {
        let index = index_of(&[3, 1, 4, 1, 5, 9, 2, 6], 150);
        let (offsets, times) = index.encode(meta(8));
        let (loaded, segment) = SegmentIndex::decode(&offsets, &times, 40, 800).unwrap();
        assert_eq!(segment, meta(8));
        assert_eq!(loaded.entries, index.entries);
        assert_eq!(loaded.max_timestamp_ms(), Some(9));
    }

    #[test]
    fn persisted_index_accepts_gaps_and_empty_segments() {
        // docs/log-format.md#index-files-baseindex-basetimeindex: the first record may lie past
        // the base, and a rewritten segment may hold no record at all.
        let mut index = SegmentIndex::new(0);
        index.on_record(3, 0, 7, 100);
        index.on_record(9, 100, 5, 100);
        let (offsets, times) = index.encode(IndexedSegment {
            log_bytes: 200,
            ..meta(12)
        });
        let (loaded, _) = SegmentIndex::decode(&offsets, &times, 40, 200).unwrap();
        assert_eq!(loaded.entries, index.entries);
        assert_eq!(loaded.seek_offset(2), (0, 0));
        assert_eq!(loaded.seek_offset(10), (9, 100));

        let empty = SegmentIndex::new(0);
        let segment = IndexedSegment {
            log_bytes: 0,
            ..meta(5)
        };
        let (offsets, times) = empty.encode(segment);
        let (loaded, got) = SegmentIndex::decode(&offsets, &times, 40, 0).unwrap();
        assert_eq!(got, segment);
        assert!(loaded.entries.is_empty());
        assert_eq!(loaded.max_timestamp_ms(), None);
        // But a non-empty file needs entries, and an empty one has none.
        assert!(SegmentIndex::decode(&offsets, &times, 40, 10).is_none());
        let (offsets, times) = index.encode(IndexedSegment {
            log_bytes: 0,
            ..meta(12)
        });
        assert!(SegmentIndex::decode(&offsets, &times, 40, 0).is_none());
    }

    #[test]
    fn persisted_index_for_another_file_is_refused() {
        let index = index_of(&[1, 2, 3], 0);
        let (offsets, times) = index.encode(meta(3));
        assert!(SegmentIndex::decode(&offsets, &times, 41, 300).is_none());
        assert!(SegmentIndex::decode(&offsets, &times, 40, 301).is_none());
        assert!(SegmentIndex::decode(&times, &offsets, 40, 300).is_none());
        for i in 0..offsets.len() {
            let mut bad = offsets.clone();
            bad[i] ^= 1;
            assert!(SegmentIndex::decode(&bad, &times, 40, 300).is_none());
        }
    }

    proptest! {
        #[test]
        fn garbage_index_files_never_panic(
            a in proptest::collection::vec(any::<u8>(), 0..200),
            b in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let _ = SegmentIndex::decode(&a, &b, 0, 1000);
        }
    }
}

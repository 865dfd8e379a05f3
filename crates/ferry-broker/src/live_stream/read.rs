//! Reading a partition: long polls on its durable end, and decoding stored batches into
//! records from the asked-for offset on.

use super::partition::{Chunk, Ends, PartitionHandle};
use crate::error::{Error, ErrorKind, Result};
use crate::stream_types::{ReadOutcome, StartOffset, StoredRecord};
use ferry_core::Timestamp;
use ferry_core::stream::decode_batch;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Bytes a decoded record is charged against a read's `max_bytes` besides its key, value and
/// headers (roughly its framing in a batch).
const RECORD_OVERHEAD_BYTES: usize = 16;
/// Most stored bytes read from the log at a time while collecting a read's records: a read
/// with a large `max_bytes` but few `max_records` then reads about what it returns, not all
/// of `max_bytes`.
const READ_CHUNK_BYTES: usize = 1 << 20;

impl PartitionHandle {
    /// Reads records from `from`, waiting up to `wait` for one if the read starts at the end.
    /// `stop` ends a wait early (the server is shutting down).
    pub(crate) async fn read_records(
        &self,
        from: StartOffset,
        max_records: u32,
        max_bytes: u32,
        wait: Duration,
        stop: &watch::Receiver<bool>,
    ) -> Result<ReadOutcome> {
        let ends = self.ends();
        let offset = match from {
            StartOffset::Earliest => ends.start,
            StartOffset::Latest => ends.end,
            StartOffset::At(offset) => offset,
        };
        if offset == ends.end && !wait.is_zero() {
            self.wait_past(offset, Instant::now() + wait, stop.clone())
                .await;
        }
        let max_bytes = usize::try_from(max_bytes).unwrap_or(usize::MAX);
        let max_records = max_records.max(1);
        let mut outcome: Option<ReadOutcome> = None;
        loop {
            let (from, got, used) = match &outcome {
                Some(o) => (o.next_offset, o.records.len(), charged(&o.records)),
                None => (offset, 0, 0),
            };
            let want = max_records.saturating_sub(u32::try_from(got).unwrap_or(u32::MAX));
            let room = max_bytes.saturating_sub(used);
            let chunk = self.read(from, room.min(READ_CHUNK_BYTES)).await?;
            let part = decode_chunk(from, &chunk, want, room)?;
            let more = !part.records.is_empty() && part.next_offset < part.end_offset;
            let merged = match outcome.take() {
                None => part,
                Some(mut o) => {
                    o.records.extend(part.records);
                    ReadOutcome {
                        records: o.records,
                        skipped_to: o.skipped_to,
                        ..part
                    }
                }
            };
            let full = merged.records.len() >= max_records as usize
                || charged(&merged.records) >= max_bytes;
            outcome = Some(merged);
            if full || !more {
                break;
            }
        }
        outcome.ok_or_else(|| Error::new(ErrorKind::Internal, "read returned nothing"))
    }

    /// The offset and timestamp of the first record whose timestamp is at least `timestamp`
    /// (in the first batch, by the time index, whose largest timestamp reaches it), if any.
    pub(crate) async fn record_at_time(
        &self,
        timestamp: Timestamp,
    ) -> Result<Option<(u64, Timestamp)>> {
        let Some(offset) = self.offset_for_timestamp(timestamp).await? else {
            return Ok(None);
        };
        let chunk = self.read(offset, 1).await?;
        let mut found = None;
        for stored in &chunk.batches {
            let batch = decode_batch(&stored.payload).map_err(|e| unreadable(stored.offset, &e))?;
            found = batch
                .records
                .into_iter()
                .find(|(o, r)| *o >= offset && r.timestamp_ms >= timestamp.as_millis())
                .map(|(o, r)| (o, Timestamp(r.timestamp_ms)));
            if found.is_some() {
                break;
            }
        }
        // The index found a batch reaching the time, so one of its records does; if the batch
        // is gone (retention raced), its offset is the best answer.
        Ok(Some(found.unwrap_or((offset, timestamp))))
    }

    /// Waits until the durable end passes `offset`, the deadline, or a stop.
    pub(crate) async fn wait_past(
        &self,
        offset: u64,
        deadline: Instant,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut ends = self.watch();
        let passed = |e: &Ends| e.end > offset;
        tokio::select! {
            _ = ends.wait_for(passed) => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = stop.wait_for(|stopping| *stopping) => {}
        }
    }
}

/// The records of `chunk` from `from` on, within the limits.
pub(crate) fn decode_chunk(
    from: u64,
    chunk: &Chunk,
    max_records: u32,
    max_bytes: usize,
) -> Result<ReadOutcome> {
    let max_records = usize::try_from(max_records.max(1)).unwrap_or(usize::MAX);
    let mut records = Vec::new();
    let mut bytes = 0usize;
    // With no stored batch from `from` on, every durable offset up to the end is a gap left
    // by compaction (or there is nothing yet): the next read starts at the end.
    let mut next_offset = if chunk.batches.is_empty() {
        from.max(chunk.ends.end)
    } else {
        from.max(chunk.ends.start)
    };
    // A batch that straddles the partition's start holds records below it, which were
    // deleted (DeleteRecords): they are not read.
    let first_readable = from.max(chunk.ends.start);
    'batches: for stored in &chunk.batches {
        let batch = decode_batch(&stored.payload).map_err(|e| unreadable(stored.offset, &e))?;
        for (offset, record) in batch.records {
            if offset < first_readable {
                continue;
            }
            let size = record_charge(&record);
            if records.len() >= max_records
                || (!records.is_empty() && bytes.saturating_add(size) > max_bytes)
            {
                break 'batches;
            }
            bytes = bytes.saturating_add(size);
            next_offset = offset + 1;
            records.push(StoredRecord { offset, record });
        }
        // Past the batch's last record, including offsets compaction removed from its end.
        next_offset = next_offset.max(stored.offset + u64::from(stored.span));
    }
    let first = records.first().map_or(next_offset, |r| r.offset);
    Ok(ReadOutcome {
        skipped_to: (first > from).then_some(first),
        records,
        next_offset,
        start_offset: chunk.ends.start,
        end_offset: chunk.ends.end,
    })
}

/// What a record counts against a read's `max_bytes`.
fn record_charge(record: &ferry_core::stream::StreamRecord) -> usize {
    RECORD_OVERHEAD_BYTES
        + record.key.as_ref().map_or(0, Vec::len)
        + record.value.as_ref().map_or(0, Vec::len)
}

/// What records count against a read's `max_bytes`, together.
fn charged(records: &[StoredRecord]) -> usize {
    records.iter().map(|r| record_charge(&r.record)).sum()
}

fn unreadable(offset: u64, e: &ferry_core::stream::BatchError) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("stored batch at offset {offset} is unreadable: {e}"),
    )
}

/// The timestamp of the first record at or after `from` in `chunk`, if it holds one.
pub(crate) fn first_timestamp(from: u64, chunk: &Chunk) -> Result<Option<Timestamp>> {
    let outcome = decode_chunk(from, chunk, 1, 0)?;
    Ok(outcome
        .records
        .first()
        .map(|r| Timestamp(r.record.timestamp_ms)))
}

//! Stream calls in terms of stored record batches, for a front end that speaks Kafka's
//! record format itself: append a batch as a producer encoded it, read stored batches as
//! they are, wait for records, mint producer ids.

use super::Broker;
use crate::clock::wall_now;
use crate::error::{Error, ErrorKind, Result};
use crate::live_stream::EncodedBatch;
use ferry_core::Timestamp;
use ferry_core::stream::{BatchError, ProducerBatch, StreamConfig, check_batch};
use std::time::Duration;

/// Where an appended batch went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchAppend {
    /// The offset of its first record (of the original, for a retried duplicate).
    pub base_offset: u64,
    /// The partition's first offset after the append.
    pub start_offset: u64,
}

/// Stored batches read from a partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchRead {
    /// Whole stored batches, back to back, from the one holding the offset asked for; at
    /// least one batch if any lies at or after it, even one larger than the byte limit.
    pub bytes: Vec<u8>,
    /// The partition's first offset.
    pub start_offset: u64,
    /// The partition's end: the offset after the last durable record (Kafka's high
    /// watermark).
    pub end_offset: u64,
}

/// A partition to wait on, and the offset a record must pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitTarget {
    /// The stream.
    pub stream: String,
    /// The partition.
    pub partition: u32,
    /// Wake once the partition's end is past this offset.
    pub offset: u64,
}

/// Checks one batch for `stream` whole, and readies it for its partition.
fn checked_batch(stream: &str, config: &StreamConfig, batch: Vec<u8>) -> Result<EncodedBatch> {
    let max = usize::try_from(config.max_record_bytes).unwrap_or(usize::MAX);
    if batch.len() > max {
        return Err(Error::new(
            ErrorKind::MessageTooLarge,
            format!(
                "a record batch of {} bytes is larger than stream {stream:?} allows (max_record_bytes {max})",
                batch.len()
            ),
        ));
    }
    let summary = check_batch(&batch).map_err(|e| corrupt(&e))?;
    let header = summary.header;
    if header.is_transactional() || header.is_control() {
        return Err(Error::new(
            ErrorKind::InvalidRecord,
            "transactional and control batches are not supported",
        ));
    }
    if summary.record_count != header.span() {
        return Err(Error::new(
            ErrorKind::CorruptBatch,
            format!(
                "record batch: {} records for {} offsets; a producer's batch fills its offsets densely",
                summary.record_count,
                header.span()
            ),
        ));
    }
    if config.cleanup.compacts() && summary.keyless_records > 0 {
        return Err(Error::new(
            ErrorKind::InvalidRecord,
            format!(
                "stream {stream:?} is compacted, so every record needs a key ({} have none)",
                summary.keyless_records
            ),
        ));
    }
    let max_timestamp =
        u64::try_from(header.max_timestamp_ms).unwrap_or_else(|_| wall_now().as_millis());
    Ok(EncodedBatch {
        span: header.span(),
        max_timestamp: Timestamp(max_timestamp),
        producer: Some(ProducerBatch::from(&header)),
        origin: None,
        bytes: batch,
    })
}

fn corrupt(e: &BatchError) -> Error {
    Error::new(ErrorKind::CorruptBatch, format!("record batch: {e}"))
}

impl Broker {
    /// Appends Kafka v2 record batches of one partition as the producer encoded them
    /// (compressed or not), in order, after checking every one of them whole; answers once
    /// they are durable, with the first one's offset. An idempotent producer's retry of a
    /// batch the partition holds is not appended again: the answer carries the original
    /// offsets. If any batch fails its checks, none is appended; a producer-sequence refusal
    /// (judged in order, by the partition) stops the batches after it.
    ///
    /// # Errors
    /// `stream_not_found`, `partition_not_found`, `invalid_request` (no batch),
    /// `corrupt_batch` (CRC, lengths, offsets, compression), `message_too_large` (a batch
    /// larger than the stream's `max_record_bytes`), `invalid_record` (a keyless record on a
    /// compacted stream, a transactional or control batch), `out_of_order_sequence`,
    /// `producer_fenced`.
    pub async fn append_batches(
        &self,
        stream: &str,
        partition: u32,
        batches: Vec<Vec<u8>>,
    ) -> Result<BatchAppend> {
        let live = self.stream(stream)?;
        let handle = live.partition(partition)?;
        let config = live.config();
        let checked = batches
            .into_iter()
            .map(|batch| checked_batch(stream, &config, batch))
            .collect::<Result<Vec<_>>>()?;
        let mut first = None;
        for batch in checked {
            let base_offset = handle.append(batch, None).await?;
            live.counters.on_batches(1);
            first.get_or_insert(base_offset);
        }
        let base_offset = first
            .ok_or_else(|| Error::new(ErrorKind::InvalidRequest, "no record batch to append"))?;
        Ok(BatchAppend {
            base_offset,
            start_offset: handle.ends().start,
        })
    }

    /// Reads stored batches of a partition from the one holding `offset`, up to about
    /// `max_bytes` (at least one batch). Only durable batches are read.
    ///
    /// # Errors
    /// `stream_not_found`, `partition_not_found`, `offset_out_of_range` (before the start or
    /// past the end).
    pub async fn read_batches(
        &self,
        stream: &str,
        partition: u32,
        offset: u64,
        max_bytes: usize,
    ) -> Result<BatchRead> {
        let handle = self.stream(stream)?.partition(partition)?;
        let ends = handle.ends();
        if offset < ends.start || offset > ends.end {
            return Err(Error::new(
                ErrorKind::OffsetOutOfRange,
                format!(
                    "stream {stream:?} partition {partition}: offset {offset} is outside {}..={}",
                    ends.start, ends.end
                ),
            ));
        }
        if offset == ends.end {
            return Ok(BatchRead {
                bytes: Vec::new(),
                start_offset: ends.start,
                end_offset: ends.end,
            });
        }
        let chunk = handle.read(offset, max_bytes).await?;
        let total = chunk.batches.iter().map(|b| b.payload.len()).sum();
        let mut bytes = Vec::with_capacity(total);
        for batch in &chunk.batches {
            bytes.extend_from_slice(&batch.payload);
        }
        Ok(BatchRead {
            bytes,
            start_offset: chunk.ends.start,
            end_offset: chunk.ends.end,
        })
    }

    /// Waits until one of the partitions' end passes its target offset, `timeout` passes, or
    /// the server stops. Unknown streams and partitions are ignored.
    pub async fn wait_for_records(&self, targets: &[WaitTarget], timeout: Duration) {
        let mut waits = Vec::new();
        for target in targets {
            let Ok(handle) = self
                .stream(&target.stream)
                .and_then(|s| s.partition(target.partition))
            else {
                continue;
            };
            let mut ends = handle.watch();
            let offset = target.offset;
            waits.push(Box::pin(async move {
                let _ = ends.wait_for(|e| e.end > offset).await;
            }));
        }
        if waits.is_empty() {
            return;
        }
        let mut stopping = self.inner.stopping.subscribe();
        tokio::select! {
            _ = futures_util::future::select_all(waits) => {}
            () = tokio::time::sleep(timeout) => {}
            _ = stopping.wait_for(|s| *s) => {}
        }
    }

    /// The first and end offsets of a partition now, without waiting on its task.
    ///
    /// # Errors
    /// `stream_not_found`, `partition_not_found`.
    pub fn partition_extent(&self, stream: &str, partition: u32) -> Result<(u64, u64)> {
        let ends = self.stream(stream)?.partition(partition)?.ends();
        Ok((ends.start, ends.end))
    }

    /// The offset and timestamp of the first record at or after `timestamp`, if any.
    ///
    /// # Errors
    /// `stream_not_found`, `partition_not_found`.
    pub async fn record_at_time(
        &self,
        stream: &str,
        partition: u32,
        timestamp: Timestamp,
    ) -> Result<Option<(u64, Timestamp)>> {
        self.stream(stream)?
            .partition(partition)?
            .record_at_time(timestamp)
            .await
    }

    /// Deletes a partition's records below `offset` (at most its end; Kafka's
    /// DeleteRecords): readers see it start there, also after a restart. Answers the new start.
    ///
    /// # Errors
    /// `stream_not_found`, `partition_not_found`, `offset_out_of_range` (past the end).
    pub async fn delete_records(&self, stream: &str, partition: u32, offset: u64) -> Result<u64> {
        let handle = self.stream(stream)?.partition(partition)?;
        let ends = handle.ends();
        if offset > ends.end {
            return Err(Error::new(
                ErrorKind::OffsetOutOfRange,
                format!(
                    "stream {stream:?} partition {partition}: offset {offset} is past the end ({})",
                    ends.end
                ),
            ));
        }
        if offset <= ends.start {
            return Ok(ends.start);
        }
        // Durable first: after a crash the partition still starts there.
        let broker = self.clone();
        let name = stream.to_owned();
        tokio::task::spawn_blocking(move || {
            broker
                .inner
                .catalog
                .set_partition_start(&name, partition, offset)
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Internal, format!("delete records: {e}")))??;
        handle.delete_before(offset).await
    }

    /// A producer id never handed out before (Kafka's InitProducerId), durably.
    ///
    /// # Errors
    /// `internal` when the catalog cannot be written.
    pub async fn new_producer_id(&self) -> Result<i64> {
        self.check_open()?;
        let broker = self.clone();
        tokio::task::spawn_blocking(move || broker.inner.catalog.next_producer_id())
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, format!("producer id: {e}")))?
    }
}

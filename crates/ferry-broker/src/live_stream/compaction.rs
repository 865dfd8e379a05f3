//! Key compaction of a partition, off its task: the task hands out its closed segments, a
//! blocking thread builds the key index over them and writes compacted copies, and the task
//! swaps each copy in (a rename). Appends and reads go on meanwhile; the active segment is
//! never compacted.

use super::partition::{KIND_STREAM_BATCH, PartitionHandle};
use crate::error::{Error, ErrorKind, Result};
use crate::stream_types::CompactionOutcome;
use ferry_core::Timestamp;
use ferry_core::stream::{Compacted, KeyIndex, StreamConfig, decode_batch, decode_header};
use ferry_log::{RewrittenSegment, SegmentSource};
use std::sync::Arc;

/// Compacts the closed segments of one partition.
pub(crate) async fn compact(
    partition: &PartitionHandle,
    config: Arc<StreamConfig>,
    now: Timestamp,
) -> Result<CompactionOutcome> {
    let sources = partition.closed_segments().await?;
    if sources.is_empty() {
        return Ok(CompactionOutcome::default());
    }
    let (rewritten, mut outcome) =
        tokio::task::spawn_blocking(move || rewrite_segments(&sources, &config, now))
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, format!("compaction: {e}")))??;
    for segment in rewritten {
        if !partition.replace(segment).await? {
            // Retention removed the segment meanwhile: nothing to swap in.
            outcome.segments_rewritten = outcome.segments_rewritten.saturating_sub(1);
        }
    }
    Ok(outcome)
}

fn unreadable(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, format!("compaction: {e}"))
}

/// Builds the key index over every closed segment, then writes a compacted copy of each
/// segment that loses records, up to the first segment holding a batch younger than
/// `min_compaction_lag_ms`. An idempotent producer's last batch is kept as an empty batch when
/// all its records go, so that its sequence is still known after a restart (as Kafka does).
fn rewrite_segments(
    sources: &[SegmentSource],
    config: &StreamConfig,
    now: Timestamp,
) -> Result<(Vec<RewrittenSegment>, CompactionOutcome)> {
    let mut index = KeyIndex::default();
    for source in sources {
        for stored in source.records() {
            let stored = stored?;
            index.add_batch(&decode_batch(&stored.payload).map_err(unreadable)?);
        }
    }
    let mut rewritten = Vec::new();
    let mut outcome = CompactionOutcome::default();
    let lag_cutoff = now.as_millis().saturating_sub(config.min_compaction_lag_ms);
    for source in sources {
        let mut kept = Vec::new();
        let mut removed = 0u64;
        let mut too_young = false;
        for stored in source.records() {
            let stored = stored?;
            if stored.timestamp_ms > lag_cutoff {
                too_young = true;
                break;
            }
            let batch = decode_batch(&stored.payload).map_err(unreadable)?;
            let before = batch.records.len() as u64;
            match ferry_core::stream::compact_batch(
                &batch,
                &index,
                now.as_millis(),
                config.delete_retention_ms,
            ) {
                Compacted::Keep => kept.push((stored, None)),
                Compacted::Drop => removed += before,
                Compacted::Rewrite(bytes) => {
                    let after = u64::from(decode_header(&bytes).map_err(unreadable)?.record_count);
                    removed += before.saturating_sub(after);
                    kept.push((stored, Some(bytes)));
                }
            }
        }
        if too_young {
            // Cleaning stops at the first batch younger than the lag: a tombstone after it
            // must not be dropped while an older value of its key before it stays.
            break;
        }
        if removed == 0 {
            continue;
        }
        let mut writer = source.rewrite()?;
        for (stored, bytes) in &kept {
            let payload = bytes.as_deref().unwrap_or(&stored.payload);
            writer.push(
                stored.offset,
                stored.span,
                stored.timestamp_ms,
                KIND_STREAM_BATCH,
                payload,
            )?;
        }
        rewritten.push(writer.finish()?);
        outcome.segments_rewritten += 1;
        outcome.records_removed += removed;
    }
    Ok((rewritten, outcome))
}

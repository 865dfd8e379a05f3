//! Background duties of a queue task: handing dead letters to the dead-letter queue, taking
//! snapshots, and reclaiming log segments (moving long-lived messages forward first).

use super::task::LiveQueue;
use super::{Incoming, Request};
use crate::error::Result;
use crate::snapshot;
use ferry_core::queue::{Command, NewMessage, RemoveCause, encode_blob};
use std::time::Duration;

/// Take a snapshot after this many records even if no segment can be reclaimed, to bound
/// recovery time.
const SNAPSHOT_EVERY_RECORDS: u64 = 1_000_000;
/// Copy messages out of the oldest segment only when at most this many still live there: they
/// are stragglers holding a segment hostage, not a backlog (copying a backlog would only churn).
const RELOCATE_BATCH: usize = 10_000;
/// Pause before handing dead letters over again after the dead-letter queue refused them.
const DEAD_LETTER_RETRY: Duration = Duration::from_secs(1);

impl LiveQueue {
    /// Hands newly dead-lettering messages to the dead-letter queue, without waiting for it.
    pub(super) fn forward_dead_letters(&mut self) {
        let new: Vec<u64> = self
            .state
            .dead_lettering()
            .filter(|seq| !self.forwarding.contains(seq))
            .collect();
        if new.is_empty() {
            return;
        }
        let dlq = self
            .state
            .config()
            .dead_letter_queue
            .clone()
            .and_then(|name| self.registry.get(&name));
        let Some(dlq) = dlq else {
            tracing::warn!(queue = %self.name, count = new.len(), "dead-letter queue is gone; dropping dead letters");
            let command = Command::Remove {
                now: self.clock.now(),
                seqs: new,
                cause: RemoveCause::DeadLettered,
            };
            if let Err(e) = self.append_apply(&command, &[]) {
                tracing::error!(queue = %self.name, error = %e, "could not record dropped dead letters");
            }
            return;
        };
        let mut messages = Vec::with_capacity(new.len());
        // Only what is handed over may be removed here once the DLQ confirms.
        let mut handed = Vec::with_capacity(new.len());
        for &seq in &new {
            let Some(meta) = self.state.dead_letter_meta(seq) else {
                continue;
            };
            let blob = match self.read_blob(meta.blob) {
                Ok(blob) => blob,
                Err(e) => {
                    tracing::error!(queue = %self.name, seq, error = %e, "cannot read a dead letter; it stays in its queue");
                    continue;
                }
            };
            handed.push(seq);
            let mut info = meta.info;
            info.source_queue = self.name.clone();
            let message = NewMessage {
                body: blob.body,
                attributes: blob.attributes,
                typed_attributes: blob.typed_attributes,
                group: meta.group,
                ..NewMessage::default()
            };
            messages.push(Incoming {
                message,
                dead_letter: Some(info),
            });
        }
        // Unreadable ones are marked too, so that they are not retried on every event.
        self.forwarding.extend(new.iter().copied());
        if handed.is_empty() {
            return;
        }
        let Some(me) = self.self_tx.upgrade() else {
            return;
        };
        let name = self.name.clone();
        let dlq_name = self
            .state
            .config()
            .dead_letter_queue
            .clone()
            .unwrap_or_default();
        tokio::spawn(async move {
            let count = messages.len();
            match dlq.send(messages).await {
                Ok(_) => {
                    tracing::info!(queue = %name, dead_letter_queue = %dlq_name, count, "moved messages to the dead-letter queue");
                    let _ = me.send(Request::DeadLettered { seqs: handed }).await;
                }
                Err(e) => {
                    tracing::warn!(queue = %name, error = %e, "dead-letter queue refused messages; retrying");
                    tokio::time::sleep(DEAD_LETTER_RETRY).await;
                    let _ = me.send(Request::DeadLetterFailed { seqs: handed }).await;
                }
            }
        });
    }

    pub(super) fn on_dead_lettered(&mut self, seqs: Vec<u64>) {
        for seq in &seqs {
            self.forwarding.remove(seq);
        }
        let command = Command::Remove {
            now: self.clock.now(),
            seqs,
            cause: RemoveCause::DeadLettered,
        };
        if let Err(e) = self.append_apply(&command, &[]) {
            tracing::error!(queue = %self.name, error = %e, "could not record dead-letter removal");
        }
    }

    /// After a segment rolled (or very many records), snapshots and deletes the segments
    /// nothing needs any more. A snapshot costs time proportional to the queue's size, so one is
    /// taken on a roll only when it lets a segment go.
    pub(super) async fn maybe_maintain(&mut self) {
        if self.records_since_snapshot == 0 {
            return;
        }
        let many = self.records_since_snapshot >= SNAPSHOT_EVERY_RECORDS;
        if !(self.rolled_since_snapshot || many) {
            return;
        }
        self.rolled_since_snapshot = false;
        if !many && !self.can_free_oldest_segment() {
            return;
        }
        if let Err(e) = self.maintain().await {
            tracing::error!(queue = %self.name, error = %e, "queue maintenance failed");
        }
    }

    /// Whether the oldest closed segment holds no live message, or so few that moving them is cheap.
    fn can_free_oldest_segment(&self) -> bool {
        let segments = self.log.segments();
        let (Some(oldest), true) = (segments.first(), segments.len() > 1) else {
            return false;
        };
        self.state
            .blobs()
            .filter(|(_, blob)| blob.segment == oldest.base_offset)
            .take(RELOCATE_BATCH + 1)
            .count()
            <= RELOCATE_BATCH
    }

    async fn maintain(&mut self) -> Result<()> {
        self.relocate_stragglers()?;
        // Whatever the fsync policy: a snapshot ahead of the log on disk, with the segments
        // before it deleted, could not be rebuilt after a power loss.
        self.log.sync_all().await?;
        self.snapshot()?;
        let oldest_needed = self
            .state
            .lowest_segment()
            .unwrap_or(u64::MAX)
            .min(self.log.next_offset());
        let deleted = self.log.delete_segments_before(oldest_needed)?;
        self.storage.reclaimed_segments += deleted as u64;
        if deleted > 0 {
            tracing::info!(queue = %self.name, deleted, "reclaimed log segments");
        }
        Ok(())
    }

    /// Copies the blobs of messages still living in the oldest segment to the head of the log.
    fn relocate_stragglers(&mut self) -> Result<()> {
        let segments = self.log.segments();
        let (Some(oldest), true) = (segments.first().map(|s| s.base_offset), segments.len() > 1)
        else {
            return Ok(());
        };
        let stragglers: Vec<(u64, ferry_core::queue::BlobRef)> = self
            .state
            .blobs()
            .filter(|(_, blob)| blob.segment == oldest)
            .take(RELOCATE_BATCH + 1)
            .collect();
        if stragglers.is_empty() || stragglers.len() > RELOCATE_BATCH {
            return Ok(());
        }
        let mut seqs = Vec::with_capacity(stragglers.len());
        let mut blobs = Vec::with_capacity(stragglers.len());
        for (seq, blob_ref) in stragglers {
            let blob = encode_blob(&self.read_blob(blob_ref)?)
                .map_err(|e| crate::Error::new(crate::ErrorKind::Internal, e.to_string()))?;
            seqs.push((seq, u32::try_from(blob.len()).unwrap_or(u32::MAX)));
            blobs.push(blob);
        }
        tracing::info!(queue = %self.name, count = seqs.len(), "moving long-lived messages to the head of the log");
        let command = Command::Relocate {
            now: self.clock.now(),
            seqs,
        };
        self.append_apply(&command, &blobs)
    }

    /// Writes a snapshot covering everything appended so far (the caller made it durable
    /// with [`ferry_log::Log::sync_all`]).
    pub(super) fn snapshot(&mut self) -> Result<()> {
        snapshot::write(self.log.dir(), &self.state, self.log.next_offset())?;
        self.records_since_snapshot = 0;
        self.rolled_since_snapshot = false;
        self.storage.snapshots += 1;
        Ok(())
    }
}

//! Read-only views of a queue for browsing and for moving messages to a dead-letter queue.

use super::command::BlobRef;
use super::message::{DeadLetterCause, DeadLetterInfo, LeaseInfo, MessageState};
use super::state::{Phase, QueueState};
use crate::ids::MessageId;
use crate::time::Timestamp;

/// A message's scheduling data as shown by peek (the broker adds the blob's content).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeekMeta {
    /// Its id.
    pub id: MessageId,
    /// Its seq.
    pub seq: u64,
    /// Where it stands.
    pub state: MessageState,
    /// Where its blob lies.
    pub blob: BlobRef,
    /// Deliveries so far.
    pub receive_count: u32,
    /// When it was enqueued.
    pub enqueued_at: Timestamp,
    /// When it is (or was) due to become visible.
    pub visible_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
    /// Its FIFO group.
    pub group: Option<String>,
    /// Its priority.
    pub priority: u8,
    /// Its lease, if in flight.
    pub lease: Option<LeaseInfo>,
}

/// A message on its way to the dead-letter queue: where its blob is, and its history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetterMeta {
    /// Its seq here.
    pub seq: u64,
    /// Where its blob lies.
    pub blob: BlobRef,
    /// Its group, kept in the dead-letter queue.
    pub group: Option<String>,
    /// Its history, with `source_queue` left for the caller to fill in.
    pub info: DeadLetterInfo,
}

impl QueueState {
    /// Up to `limit` messages in queue order, without leasing them.
    pub fn peek(&self, limit: usize) -> Vec<PeekMeta> {
        self.entries
            .iter()
            .take(limit)
            .map(|(seq, e)| PeekMeta {
                id: MessageId::new(self.uid, seq),
                seq,
                state: self.state_of(e),
                blob: e.blob,
                receive_count: e.receive_count,
                enqueued_at: e.enqueued_at,
                visible_at: e.visible_at,
                expires_at: e.expires_at,
                group: e.group.clone(),
                priority: e.priority,
                lease: match &e.phase {
                    Phase::Leased {
                        consumer,
                        since,
                        until,
                    } => Some(LeaseInfo {
                        consumer: consumer.clone(),
                        since: *since,
                        until: *until,
                    }),
                    _ => None,
                },
            })
            .collect()
    }

    /// What the dead-letter queue must store for message `seq`, if it is dead-lettering.
    pub fn dead_letter_meta(&self, seq: u64) -> Option<DeadLetterMeta> {
        let e = self.entries.get(&seq)?;
        let Phase::DeadLettering(cause) = e.phase else {
            return None;
        };
        let failures = e.failures.as_deref();
        Some(DeadLetterMeta {
            seq,
            blob: e.blob,
            group: e.group.clone(),
            info: DeadLetterInfo {
                source_queue: String::new(),
                original_id: MessageId::new(self.uid, seq),
                original_enqueued_at: e.enqueued_at,
                receive_count: e.receive_count,
                cause,
                first_failure_at: failures.map(|f| f.first_at),
                last_failure_at: failures.map(|f| f.last_at),
                reasons: failures.map(|f| f.reasons.clone()).unwrap_or_default(),
            },
        })
    }

    /// The delivery data of a message that is leased under `receipt`'s delivery, if it still is,
    /// and when that lease runs out (for repeating a receive: same messages, same receipts).
    pub fn leased_under(
        &self,
        receipt: &crate::Receipt,
    ) -> Option<(crate::queue::DeliveryMeta, Timestamp)> {
        let seq = receipt.id.seq();
        let e = self
            .entries
            .get(&seq)
            .filter(|_| receipt.id.queue_uid() == self.uid)?;
        let Phase::Leased { until, .. } = e.phase else {
            return None;
        };
        if e.receive_count != receipt.receive_count {
            return None;
        }
        let meta = crate::queue::DeliveryMeta {
            seq,
            blob: e.blob,
            receive_count: e.receive_count,
            enqueued_at: e.enqueued_at,
            first_received_at: e.first_received_at,
            group: e.group.clone(),
            priority: e.priority,
        };
        Some((meta, until))
    }

    /// Every message's blob location, for relocating stragglers: (seq, blob).
    pub fn blobs(&self) -> impl Iterator<Item = (u64, BlobRef)> + '_ {
        self.entries.iter().map(|(seq, e)| (seq, e.blob))
    }

    /// Resequencing queues: the number of the latest release (0 if none yet).
    pub fn last_release(&self) -> u64 {
        self.reseq.last_release()
    }

    /// Resequencing queues: up to `max` results released in order and not yet stored by the
    /// output, from release number `after` on (exclusive), with their release numbers.
    pub fn outbox(&self, after: u64, max: usize) -> Vec<(u64, super::resequence::Release)> {
        self.reseq
            .outbox_after(after)
            .take(max)
            .map(|(n, r)| (n, r.clone()))
            .collect()
    }

    /// Whether this queue's dead-letter info says it was caused by `cause` (helper for tests).
    pub fn is_dead_lettering(&self, seq: u64, cause: DeadLetterCause) -> bool {
        self.entries
            .get(&seq)
            .is_some_and(|e| e.phase == Phase::DeadLettering(cause))
    }
}

//! Reading messages back: bodies come from the log, or from a small cache of the freshly
//! written tail, so that a message delivered soon after it was sent needs no read at all.

use super::task::{LiveQueue, internal};
use crate::error::Result;
use ferry_core::queue::{Blob, BlobRef, Delivery, DeliveryMeta, PeekedMessage, decode_blob};
use ferry_core::{MessageId, Receipt};
use ferry_log::Location;
use std::collections::BTreeMap;

/// Most bytes of blobs the fresh-tail cache keeps per queue.
const FRESH_MAX_BYTES: usize = 8 * 1024 * 1024;

/// The blobs of recently enqueued messages by seq, oldest evicted first, bounded by bytes.
/// A delivery takes its blob out; a redelivery reads the log.
#[derive(Debug, Default)]
pub(crate) struct FreshBlobs {
    by_seq: BTreeMap<u64, Vec<u8>>,
    bytes: usize,
}

impl FreshBlobs {
    /// Keeps the blobs just written for these seqs.
    pub(crate) fn keep(&mut self, blobs: impl Iterator<Item = (u64, Vec<u8>)>) {
        for (seq, blob) in blobs {
            self.bytes += blob.len();
            if let Some(old) = self.by_seq.insert(seq, blob) {
                self.bytes -= old.len();
            }
        }
        while self.bytes > FRESH_MAX_BYTES {
            let Some((_, evicted)) = self.by_seq.pop_first() else {
                break;
            };
            self.bytes -= evicted.len();
        }
    }

    /// Takes the blob of `seq` out, if it is still cached.
    pub(crate) fn take(&mut self, seq: u64) -> Option<Vec<u8>> {
        let blob = self.by_seq.remove(&seq)?;
        self.bytes -= blob.len();
        Some(blob)
    }
}

/// A delivery whose blob is still encoded. The queue's task hands these out and the
/// receiving request decodes them, so that decoding runs in parallel rather than in the one
/// task every request of the queue goes through.
pub(crate) struct Leased {
    id: MessageId,
    meta: DeliveryMeta,
    receipt: String,
    blob: Vec<u8>,
}

impl Leased {
    /// The delivery, its blob decoded.
    pub(crate) fn decode(self, queue: &str) -> Result<Delivery> {
        let blob =
            decode_blob(&self.blob).map_err(|e| internal(format!("queue {queue:?}: {e}")))?;
        Ok(Delivery {
            id: self.id,
            seq: self.meta.seq,
            body: blob.body,
            attributes: blob.attributes,
            typed_attributes: blob.typed_attributes,
            receipt: self.receipt,
            receive_count: self.meta.receive_count,
            enqueued_at: self.meta.enqueued_at,
            first_received_at: self.meta.first_received_at,
            group: self.meta.group,
            dedup_id: blob.dedup_id,
            priority: self.meta.priority,
            dead_letter: blob.dead_letter,
        })
    }
}

impl LiveQueue {
    /// Reads a message's blob from the log.
    pub(super) fn read_blob(&self, blob: BlobRef) -> Result<Blob> {
        let bytes = self.read_bytes(blob)?;
        decode_blob(&bytes).map_err(|e| internal(format!("queue {:?}: {e}", self.name)))
    }

    /// Reads the bytes a blob reference points at.
    pub(super) fn read_bytes(&self, blob: BlobRef) -> Result<Vec<u8>> {
        Ok(self.log.read_at(
            Location {
                segment: blob.segment,
                position: blob.position,
            },
            blob.len,
        )?)
    }

    /// A just-leased message with its blob's bytes (from the cache if there, else from the
    /// log), left encoded: the caller decodes it outside the queue's task. Auto-ack deliveries
    /// carry no receipt.
    pub(super) fn leased(
        &mut self,
        uid: u64,
        meta: DeliveryMeta,
        auto_ack: bool,
    ) -> Result<Leased> {
        let blob = match self.fresh.take(meta.seq) {
            Some(bytes) => bytes,
            None => self.read_bytes(meta.blob)?,
        };
        let receipt = if auto_ack {
            String::new()
        } else {
            Receipt {
                id: MessageId::new(uid, meta.seq),
                receive_count: meta.receive_count,
            }
            .encode()
        };
        Ok(Leased {
            id: MessageId::new(uid, meta.seq),
            meta,
            receipt,
            blob,
        })
    }

    /// Up to `limit` messages in queue order, without leasing them.
    pub(super) fn on_peek(&mut self, limit: usize) -> Result<Vec<PeekedMessage>> {
        let now = self.clock.now();
        self.state.advance(now);
        let mut out = Vec::new();
        for meta in self.state.peek(limit) {
            let blob = self.read_blob(meta.blob)?;
            out.push(PeekedMessage {
                id: meta.id,
                seq: meta.seq,
                state: meta.state,
                body: blob.body,
                attributes: blob.attributes,
                typed_attributes: blob.typed_attributes,
                receive_count: meta.receive_count,
                enqueued_at: meta.enqueued_at,
                visible_at: meta.visible_at,
                expires_at: meta.expires_at,
                group: meta.group,
                priority: meta.priority,
                lease: meta.lease,
                dead_letter: blob.dead_letter,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_blobs_stay_within_their_byte_bound_oldest_first() {
        let mut fresh = FreshBlobs::default();
        let chunk = FRESH_MAX_BYTES / 4;
        fresh.keep((1..=5u64).map(|seq| (seq, vec![0u8; chunk])));
        assert!(fresh.bytes <= FRESH_MAX_BYTES);
        assert_eq!(fresh.take(1), None, "the oldest was evicted");
        assert_eq!(fresh.take(5).map(|b| b.len()), Some(chunk));
        assert_eq!(fresh.take(5), None, "taken once");
        assert_eq!(fresh.bytes, 3 * chunk);
    }
}

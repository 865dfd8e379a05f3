//! Reading messages back: bodies come from the log, or from a small cache of the freshly
//! written tail, so that a message delivered soon after it was sent needs no read at all.

use super::task::{LiveQueue, internal};
use crate::error::Result;
use bytes::Bytes;
use ferry_core::queue::{Blob, BlobRef, Delivery, DeliveryMeta, PeekedMessage, decode_blob};
use ferry_core::{MessageId, Receipt};
use ferry_log::Location;
use std::collections::VecDeque;

/// The widest gap between two blobs that one read still spans (the framing and command
/// header between two batches' blobs).
const MAX_READ_GAP_BYTES: u64 = 4096;

/// The most bytes one coalesced read takes.
const MAX_READ_SPAN_BYTES: u64 = 1 << 20;

/// Splits `blobs` (in delivery order) into runs that one read can take: same segment, each
/// starting after the previous one ends and at most [`MAX_READ_GAP_BYTES`] later, the whole
/// run at most [`MAX_READ_SPAN_BYTES`] (a single larger blob is a run of its own).
fn coalesce(blobs: &[(usize, BlobRef)]) -> Vec<&[(usize, BlobRef)]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=blobs.len() {
        let joins = match (blobs.get(start), blobs.get(i - 1), blobs.get(i)) {
            (Some(&(_, first)), Some(&(_, prev)), Some(&(_, next))) => {
                let prev_end = prev.position + u64::from(prev.len);
                next.segment == prev.segment
                    && next.position >= prev_end
                    && next.position - prev_end <= MAX_READ_GAP_BYTES
                    && next.position + u64::from(next.len) - first.position <= MAX_READ_SPAN_BYTES
            }
            _ => false,
        };
        if !joins {
            if let Some(run) = blobs.get(start..i) {
                runs.push(run);
            }
            start = i;
        }
    }
    runs
}

/// Most bytes of blobs the fresh-tail cache keeps per queue.
const FRESH_MAX_BYTES: usize = 8 * 1024 * 1024;

/// Most slots (cached or already taken) the fresh-tail cache spans: a blob never taken (a
/// delayed message, say) is evicted once this many later seqs have been kept, so that the
/// taken slots behind it do not pile up.
const FRESH_MAX_SLOTS: usize = 1 << 16;

/// The blobs of recently enqueued messages by seq, oldest evicted first, bounded by bytes.
/// A delivery takes its blob out; a redelivery reads the log.
///
/// Seqs are kept in ascending order and mostly taken in that order, so the blobs sit in a
/// deque by seq: keeping is a push at the back, taking a binary search, and a taken blob
/// leaves an empty slot until the front passes it.
#[derive(Debug, Default)]
pub(crate) struct FreshBlobs {
    slots: VecDeque<(u64, Option<Vec<u8>>)>,
    bytes: usize,
}

impl FreshBlobs {
    /// Keeps the blobs just written for these seqs. A seq at or below one already kept
    /// replaces its blob if still cached, and is otherwise left to the log.
    pub(crate) fn keep(&mut self, blobs: impl Iterator<Item = (u64, Vec<u8>)>) {
        for (seq, blob) in blobs {
            match self.slots.back() {
                Some(&(last, _)) if seq <= last => {
                    if let Some(slot) = slot(&mut self.slots, seq).filter(|slot| slot.is_some()) {
                        self.bytes += blob.len();
                        if let Some(old) = slot.replace(blob) {
                            self.bytes -= old.len();
                        }
                    }
                }
                _ => {
                    self.bytes += blob.len();
                    self.slots.push_back((seq, Some(blob)));
                }
            }
        }
        while self.bytes > FRESH_MAX_BYTES || self.slots.len() > FRESH_MAX_SLOTS {
            let Some((_, evicted)) = self.slots.pop_front() else {
                break;
            };
            self.bytes -= evicted.map_or(0, |b| b.len());
        }
        self.trim_front();
    }

    /// Takes the blob of `seq` out, if it is still cached.
    pub(crate) fn take(&mut self, seq: u64) -> Option<Vec<u8>> {
        let blob = slot(&mut self.slots, seq)?.take()?;
        self.bytes -= blob.len();
        self.trim_front();
        Some(blob)
    }

    /// Drops the taken slots at the front, and gives back the room of a past burst.
    fn trim_front(&mut self) {
        while self.slots.front().is_some_and(|(_, blob)| blob.is_none()) {
            self.slots.pop_front();
        }
        if self.slots.capacity() > 4 * self.slots.len() + 1024 {
            self.slots.shrink_to(2 * self.slots.len() + 1024);
        }
    }
}

/// The slot of `seq` in `slots` (ascending by seq), if there is one.
fn slot(slots: &mut VecDeque<(u64, Option<Vec<u8>>)>, seq: u64) -> Option<&mut Option<Vec<u8>>> {
    let i = slots.binary_search_by_key(&seq, |&(s, _)| s).ok()?;
    slots.get_mut(i).map(|(_, blob)| blob)
}

/// A delivery whose blob is still encoded. The queue's task hands these out and the
/// receiving request decodes them, so that decoding runs in parallel rather than in the one
/// task every request of the queue goes through.
pub(crate) struct Leased {
    id: MessageId,
    meta: DeliveryMeta,
    /// Whether the delivery was acked as it was made (it then has no receipt).
    auto_ack: bool,
    /// The blob: its own buffer from the cache, or a slice of one read shared with its
    /// neighbours.
    blob: Bytes,
}

impl Leased {
    /// The delivery, its blob decoded and its receipt written out.
    pub(crate) fn decode(self, queue: &str) -> Result<Delivery> {
        let blob =
            decode_blob(&self.blob).map_err(|e| internal(format!("queue {queue:?}: {e}")))?;
        let receipt = if self.auto_ack {
            String::new()
        } else {
            Receipt {
                id: self.id,
                receive_count: self.meta.receive_count,
            }
            .encode()
        };
        Ok(Delivery {
            id: self.id,
            seq: self.meta.seq,
            body: blob.body,
            attributes: blob.attributes,
            typed_attributes: blob.typed_attributes,
            receipt,
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

    /// Just-leased messages with their blobs' bytes, left encoded: the caller decodes them
    /// outside the queue's task. Blobs come from the cache of the freshly written tail where
    /// there, else from the log. Auto-ack deliveries carry no receipt.
    pub(super) fn leased(
        &mut self,
        uid: u64,
        metas: Vec<DeliveryMeta>,
        auto_ack: bool,
    ) -> Result<Vec<Leased>> {
        let mut blobs: Vec<Option<Bytes>> = metas
            .iter()
            .map(|m| self.fresh.take(m.seq).map(Bytes::from))
            .collect();
        let missing: Vec<(usize, BlobRef)> = metas
            .iter()
            .enumerate()
            .filter(|(i, _)| blobs.get(*i).is_some_and(Option::is_none))
            .map(|(i, m)| (i, m.blob))
            .collect();
        self.fill_from_log(&missing, &mut blobs)?;
        metas
            .into_iter()
            .zip(blobs)
            .map(|(meta, blob)| {
                let blob = blob.ok_or_else(|| {
                    internal(format!(
                        "queue {:?}: blob of {} not read",
                        self.name, meta.seq
                    ))
                })?;
                Ok(Leased {
                    id: MessageId::new(uid, meta.seq),
                    meta,
                    auto_ack,
                    blob,
                })
            })
            .collect()
    }

    /// Reads the blobs `wanted` (by position in `into`) from the log into `into`, one read per
    /// run of blobs that lie close together in one segment: messages sent in one batch lie
    /// back to back, so a backlog too large for the cache costs a read per batch rather than
    /// per message, and the blobs of a run share that read's buffer.
    fn fill_from_log(&self, wanted: &[(usize, BlobRef)], into: &mut [Option<Bytes>]) -> Result<()> {
        for run in coalesce(wanted) {
            let (Some(&(_, first)), Some(&(_, last))) = (run.first(), run.last()) else {
                continue;
            };
            let span = last.position + u64::from(last.len) - first.position;
            let bytes = Bytes::from(self.read_bytes(BlobRef {
                segment: first.segment,
                position: first.position,
                len: u32::try_from(span).map_err(internal)?,
            })?);
            for &(i, blob) in run {
                let from = usize::try_from(blob.position - first.position).map_err(internal)?;
                let to = from + blob.len as usize;
                if to > bytes.len() {
                    return Err(internal(format!("queue {:?}: short read", self.name)));
                }
                if let Some(slot) = into.get_mut(i) {
                    *slot = Some(bytes.slice(from..to));
                }
            }
        }
        Ok(())
    }

    /// Up to `limit` messages in queue order, without leasing them.
    pub(super) fn on_peek(&mut self, limit: usize) -> Result<Vec<PeekedMessage>> {
        let now = self.clock.now();
        self.state.advance(now);
        let metas = self.state.peek(limit);
        let wanted: Vec<(usize, BlobRef)> = metas.iter().map(|m| m.blob).enumerate().collect();
        let mut blobs = vec![None; metas.len()];
        self.fill_from_log(&wanted, &mut blobs)?;
        let mut out = Vec::with_capacity(metas.len());
        for (meta, bytes) in metas.into_iter().zip(blobs) {
            let bytes =
                bytes.ok_or_else(|| internal(format!("queue {:?}: blob not read", self.name)))?;
            let blob =
                decode_blob(&bytes).map_err(|e| internal(format!("queue {:?}: {e}", self.name)))?;
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

    fn blob(segment: u64, position: u64, len: u32) -> BlobRef {
        BlobRef {
            segment,
            position,
            len,
        }
    }

    fn run_lengths(blobs: &[BlobRef]) -> Vec<usize> {
        let indexed: Vec<(usize, BlobRef)> = blobs.iter().copied().enumerate().collect();
        coalesce(&indexed).iter().map(|run| run.len()).collect()
    }

    #[test]
    fn reads_coalesce_close_blobs_of_one_segment_in_order() {
        // Back to back, then a batch header's gap, then another segment.
        let blobs = [
            blob(0, 100, 10),
            blob(0, 110, 10),
            blob(0, 120 + 60, 10),
            blob(64, 0, 10),
            blob(64, 10, 10),
        ];
        assert_eq!(run_lengths(&blobs), vec![3, 2]);
        // A gap wider than allowed, and a blob before the previous one, each start a run.
        let far = [
            blob(0, 0, 10),
            blob(0, 10 + MAX_READ_GAP_BYTES + 1, 10),
            blob(0, 5, 5),
        ];
        assert_eq!(run_lengths(&far), vec![1, 1, 1]);
        // A run stops before it would pass the span bound; a blob larger than it is alone.
        let half = u32::try_from(MAX_READ_SPAN_BYTES / 2).unwrap_or(u32::MAX);
        let big = [
            blob(0, 0, half),
            blob(0, u64::from(half), half),
            blob(0, 2 * u64::from(half), 1),
            blob(0, 2 * u64::from(half) + 1, 2 * half),
        ];
        assert_eq!(run_lengths(&big), vec![2, 1, 1]);
        assert!(run_lengths(&[]).is_empty());
    }

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

    #[test]
    fn a_blob_never_taken_is_evicted_once_the_cache_spans_too_many_seqs() {
        let mut fresh = FreshBlobs::default();
        fresh.keep(std::iter::once((1, b"delayed".to_vec())));
        let last = FRESH_MAX_SLOTS as u64;
        for seq in 2..=last {
            fresh.keep(std::iter::once((seq, vec![1])));
            assert_eq!(fresh.take(seq), Some(vec![1]));
        }
        assert_eq!(
            fresh.slots.len(),
            FRESH_MAX_SLOTS,
            "the slots taken behind it remain"
        );
        fresh.keep(std::iter::once((last + 1, vec![2])));
        assert_eq!(fresh.take(1), None, "evicted by the slot bound");
        assert_eq!(
            fresh.slots.len(),
            1,
            "and the taken slots behind it went too"
        );
        assert_eq!(fresh.bytes, 1);
    }

    #[test]
    fn a_seq_kept_again_replaces_its_blob_only_while_cached() {
        let mut fresh = FreshBlobs::default();
        fresh.keep([(3, vec![3]), (5, vec![5]), (7, vec![7])].into_iter());
        assert_eq!(fresh.take(5), Some(vec![5]));
        fresh.keep([(3, vec![3, 3]), (5, vec![5, 5]), (4, vec![4])].into_iter());
        assert_eq!(fresh.take(5), None, "taken before; left to the log");
        assert_eq!(
            fresh.take(4),
            None,
            "behind the tail and never kept; left to the log"
        );
        assert_eq!(fresh.take(3), Some(vec![3, 3]), "replaced");
        assert_eq!(fresh.bytes, 1);
        assert_eq!(fresh.take(7), Some(vec![7]));
        assert!(fresh.slots.is_empty());
        assert_eq!(fresh.bytes, 0);
    }
}

//! Key compaction, planned without I/O: which records of a batch survive, and the bytes of
//! the batch that holds them.
//!
//! The broker runs it in two passes over a partition's closed segments:
//!
//! 1. **Index.** Feed every batch from the start of the partition up to a `clean_end` offset
//!    to [`KeyIndex::add_batch`]. The broker chooses `clean_end`: the end of the closed
//!    segments, held back to the first batch younger than `min_compaction_lag_ms`, so that
//!    every record stays uncompacted for at least that long.
//! 2. **Rewrite.** Pass each batch below `clean_end` to [`compact_batch`] and store what it
//!    says: the batch unchanged, nothing, or a rewritten batch.
//!
//! Offsets never change: a rewritten batch keeps its base offset and its span, and each kept
//! record its offset, so consumer positions and committed offsets stay meaningful. Readers
//! therefore meet gaps, which Kafka consumers expect of compacted topics.

use super::batch::{
    BatchFields, BatchHeader, DecodedBatch, StreamRecord, compress_batch, encode_empty, encode_with,
};
use super::compression::Compression;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// The latest offset of every key in a partition, up to the offset the index was built to.
///
/// Keys are stored as the first 128 bits of their SHA-256, not in full, so memory is 24 bytes
/// per distinct key plus the hash table's slack (30 to 60 bytes in all) however long the keys
/// are: ten million keys take a few hundred MiB, not ten million copies of the keys. The price
/// is the chance that two distinct keys share a digest, in which case the older record of one
/// would be removed as if the other had replaced it: for `n` keys that chance is about
/// `n² / 2¹²⁹`, some 10⁻²¹ for a billion keys, far below the odds of undetected disk
/// corruption. Kafka's cleaner makes the same trade with a 128-bit MD5.
#[derive(Clone, Debug, Default)]
pub struct KeyIndex {
    latest: HashMap<KeyDigest, u64, BuildHasherDefault<DigestHasher>>,
    end_offset: u64,
    /// The base offset of each idempotent producer's last batch.
    last_batch_of: HashMap<i64, u64>,
}

impl KeyIndex {
    /// An empty index.
    pub fn new() -> KeyIndex {
        KeyIndex::default()
    }

    /// Records the offset of every keyed record in `batch` as the latest for its key, unless
    /// a later offset is already known. Control batches (transaction markers) are skipped:
    /// their keys are not user keys.
    pub fn add_batch(&mut self, batch: &DecodedBatch) {
        self.end_offset = self.end_offset.max(batch.header.next_offset());
        if batch.header.producer_id >= 0 {
            let last = self
                .last_batch_of
                .entry(batch.header.producer_id)
                .or_insert(batch.header.base_offset);
            *last = (*last).max(batch.header.base_offset);
        }
        if batch.header.is_control() {
            return;
        }
        for (offset, record) in &batch.records {
            if let Some(key) = &record.key {
                let latest = self.latest.entry(KeyDigest::of(key)).or_insert(*offset);
                *latest = (*latest).max(*offset);
            }
        }
    }

    /// The latest offset seen for `key`, if any.
    pub fn latest_offset(&self, key: &[u8]) -> Option<u64> {
        self.latest.get(&KeyDigest::of(key)).copied()
    }

    /// The offset after the last batch added: the `clean_end` the index was built to.
    pub fn end_offset(&self) -> u64 {
        self.end_offset
    }

    /// How many distinct keys the index holds.
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    /// Whether the index holds no key.
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// Whether the batch with `header` is the last one its idempotent producer wrote.
    fn is_producers_last(&self, header: &BatchHeader) -> bool {
        header.producer_id >= 0
            && self.last_batch_of.get(&header.producer_id) == Some(&header.base_offset)
    }

    /// Whether `record` at `offset` survives: keyless records always do; a keyed one if no
    /// later record of its key is indexed, and, for a tombstone, only until its grace period
    /// has passed.
    fn keeps(&self, offset: u64, record: &StreamRecord, now_ms: u64, grace_ms: u64) -> bool {
        let Some(key) = &record.key else {
            return true;
        };
        let superseded = self
            .latest_offset(key)
            .is_some_and(|latest| latest > offset);
        let expired_tombstone =
            record.value.is_none() && record.timestamp_ms.saturating_add(grace_ms) <= now_ms;
        !superseded && !expired_tombstone
    }
}

/// The first 128 bits of the SHA-256 of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KeyDigest([u8; 16]);

impl KeyDigest {
    fn of(key: &[u8]) -> KeyDigest {
        let mut first = [0u8; 16];
        first.copy_from_slice(Sha256::digest(key).get(..16).unwrap_or(&[0; 16]));
        KeyDigest(first)
    }
}

impl Hash for KeyDigest {
    /// The digest is already uniformly random: its first 64 bits are a good hash, and
    /// feeding them straight to [`DigestHasher`] saves SipHash a second pass per key.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        first.copy_from_slice(self.0.get(..8).unwrap_or(&[0; 8]));
        state.write_u64(u64::from_le_bytes(first));
    }
}

/// A hasher that passes a [`KeyDigest`]'s 64 bits through.
#[derive(Clone, Copy, Debug, Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached by `KeyDigest`; folds anything else in, correctly if slowly.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// What compaction makes of one batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compacted {
    /// Every record survives: keep the stored bytes as they are.
    Keep,
    /// No record survives: leave the batch out of the compacted segment.
    Drop,
    /// Some records survive: store these bytes instead, a batch with the same base offset,
    /// span, producer fields and leader epoch, holding only the surviving records at their
    /// original offsets and timestamps.
    Rewrite(Vec<u8>),
}

/// Plans the compaction of `batch` against `index`, at time `now_ms`.
///
/// A record is kept iff no later offset of its key is in `index`, except that a tombstone
/// (`value: None`) is dropped once `timestamp_ms + delete_retention_ms <= now_ms`. Keyless
/// records are kept. A batch without records is dropped. Control batches are kept whole, as
/// are batches the encoder cannot rewrite (none that [`decode_batch`](super::decode_batch)
/// accepts), since keeping a record is always safe. A rewritten batch clears the
/// delete-horizon attribute, which Ferry does not use.
///
/// `batch` may have been decoded from a compressed batch. Its rewrite is compressed with the
/// same codec if that makes it smaller, and is otherwise written **uncompressed**; snappy is
/// rewritten as a raw block and lz4 as a standard frame, both of which every Kafka client
/// reads. So a rewrite is never larger than the uncompressed batch of its records, which
/// [`MAX_DECOMPRESSED_BYTES`](super::MAX_DECOMPRESSED_BYTES) keeps within one log record.
pub fn compact_batch(
    batch: &DecodedBatch,
    index: &KeyIndex,
    now_ms: u64,
    delete_retention_ms: u64,
) -> Compacted {
    let header = &batch.header;
    if header.is_control() {
        return Compacted::Keep;
    }
    let mut kept: Vec<(u32, &StreamRecord)> = Vec::with_capacity(batch.records.len());
    for (offset, record) in &batch.records {
        if !index.keeps(*offset, record, now_ms, delete_retention_ms) {
            continue;
        }
        let delta = offset
            .checked_sub(header.base_offset)
            .and_then(|d| u32::try_from(d).ok());
        let Some(delta) = delta else {
            // Not a batch decode_batch made; keeping it whole is always safe.
            return Compacted::Keep;
        };
        kept.push((delta, record));
    }
    if kept.is_empty() {
        // The producer's sequence lives in its batches' headers: its last one stays, empty,
        // so that a restart still knows where the producer is (as Kafka's cleaner does).
        if index.is_producers_last(header) {
            return Compacted::Rewrite(encode_empty(header));
        }
        return Compacted::Drop;
    }
    if kept.len() == batch.records.len() {
        return Compacted::Keep;
    }
    let fields = BatchFields::rewriting(header);
    let mut plain = Vec::new();
    if let Err(e) = encode_with(&fields, kept, &mut plain) {
        debug_assert!(false, "a decoded batch failed to re-encode: {e}");
        return Compacted::Keep;
    }
    // A batch that decoded has a known codec; an unknown one is rewritten uncompressed.
    let codec = header.compression().unwrap_or_default();
    if codec == Compression::None {
        return Compacted::Rewrite(plain);
    }
    let mut packed = Vec::new();
    match compress_batch(&plain, codec, &mut packed) {
        Ok(()) if packed.len() < plain.len() => Compacted::Rewrite(packed),
        _ => Compacted::Rewrite(plain),
    }
}

#[cfg(test)]
#[path = "compaction_tests.rs"]
mod tests;

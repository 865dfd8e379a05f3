//! The dedup window: which dedup keys were seen recently, and by which message.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};

/// A dedup id or body reduced to 16 bytes (the first half of its SHA-256), so that every entry of
/// the window costs the same small, bounded amount of memory whatever the id's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DedupKey(pub [u8; 16]);

impl DedupKey {
    /// The key of a producer-given dedup id.
    pub fn of_id(id: &str) -> DedupKey {
        DedupKey::digest(b"id:", id.as_bytes())
    }

    /// The key of a body, for content-based dedup.
    pub fn of_body(body: &[u8]) -> DedupKey {
        DedupKey::digest(b"body:", body)
    }

    /// This key as seen within one group (for `dedup_scope = group`): the same id in another
    /// group is another key.
    pub fn within_group(self, group: &str) -> DedupKey {
        let hash = Sha256::new()
            .chain_update(b"group:")
            .chain_update(group.as_bytes())
            .chain_update(b"\0")
            .chain_update(self.0)
            .finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&hash[..16]);
        DedupKey(key)
    }

    fn digest(domain: &[u8], bytes: &[u8]) -> DedupKey {
        let hash = Sha256::new()
            .chain_update(domain)
            .chain_update(bytes)
            .finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&hash[..16]);
        DedupKey(key)
    }
}

/// Keys seen within the window and the sequence number of the message that first carried each.
///
/// Memory: one map entry (16-byte key, 8-byte seq, 8-byte expiry) plus one queue slot
/// (16-byte key, 8-byte expiry) per key, about 80 bytes with the map's overhead.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DedupWindow {
    seen: HashMap<DedupKey, (u64, Timestamp)>,
    by_expiry: VecDeque<(DedupKey, Timestamp)>,
}

impl DedupWindow {
    /// The message that carried `key` within the window, if any.
    pub fn get(&self, key: &DedupKey, now: Timestamp) -> Option<u64> {
        self.seen
            .get(key)
            .filter(|(_, expires)| *expires > now)
            .map(|(seq, _)| *seq)
    }

    /// Remembers that message `seq` carried `key`, until `expires`.
    pub fn insert(&mut self, key: DedupKey, seq: u64, expires: Timestamp) {
        self.seen.insert(key, (seq, expires));
        self.by_expiry.push_back((key, expires));
    }

    /// Forgets keys whose window has passed.
    pub fn evict(&mut self, now: Timestamp) {
        while let Some(&(key, expires)) = self.by_expiry.front() {
            if expires > now {
                break;
            }
            self.by_expiry.pop_front();
            if self.seen.get(&key).is_some_and(|(_, e)| *e <= now) {
                self.seen.remove(&key);
            }
        }
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_expire_with_the_window() {
        let mut w = DedupWindow::default();
        let k = DedupKey::of_id("order-1");
        w.insert(k, 7, Timestamp(1_000));
        assert_eq!(w.get(&k, Timestamp(999)), Some(7));
        assert_eq!(w.get(&k, Timestamp(1_000)), None);
        w.evict(Timestamp(1_000));
        assert!(w.is_empty());
    }

    #[test]
    fn ids_and_bodies_do_not_collide() {
        assert_ne!(DedupKey::of_id("x"), DedupKey::of_body(b"x"));
        assert_eq!(DedupKey::of_id("x"), DedupKey::of_id("x"));
    }
}

//! [`SeqSet`]: an ordered set of `(key, seq)` pairs, built for the way a queue uses its
//! indexes. Seqs are handed out in ascending order, and messages enqueued, received or
//! delayed together share their key (a priority, or the instant they become due); so pairs
//! arrive in dense runs of neighbouring seqs under one key, and mostly leave in that order.
//!
//! Each key's seqs are stored as 64-bit masks over aligned blocks of 64 seqs, in a B-tree by
//! `(key, block)`. A dense run of 64 messages is one tree entry instead of 64, so inserting
//! or removing a pair is usually a bit flip in a node already in cache, not a tree update.
//! A pair alone in its block costs one entry, about what a `BTreeSet<(K, u64)>` spends.

use std::collections::BTreeMap;

use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Seqs per block: the bits of a mask.
const BLOCK: u64 = 64;

fn split(seq: u64) -> (u64, u64) {
    (seq / BLOCK, 1 << (seq % BLOCK))
}

/// An ordered set of `(key, seq)` pairs, iterated by key, then seq. Its serialized form is
/// that of a `BTreeSet<(K, u64)>` (a sequence of pairs in order), so stored snapshots read
/// either way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SeqSet<K> {
    /// Per `(key, block)`, bit `i` set when `(key, block * 64 + i)` is in the set; never 0.
    masks: BTreeMap<(K, u64), u64>,
    len: usize,
}

impl<K> Default for SeqSet<K> {
    fn default() -> Self {
        SeqSet {
            masks: BTreeMap::new(),
            len: 0,
        }
    }
}

impl<K: Ord + Copy> SeqSet<K> {
    /// An empty set.
    pub(crate) fn new() -> Self {
        SeqSet::default()
    }

    /// Pairs in the set.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the set has no pairs.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `(key, seq)`; false when it was already there.
    pub(crate) fn insert(&mut self, (key, seq): (K, u64)) -> bool {
        let (block, bit) = split(seq);
        let mask = self.masks.entry((key, block)).or_insert(0);
        let added = *mask & bit == 0;
        *mask |= bit;
        self.len += usize::from(added);
        added
    }

    /// Takes `(key, seq)` out; false when it was not there.
    pub(crate) fn remove(&mut self, &(key, seq): &(K, u64)) -> bool {
        let (block, bit) = split(seq);
        let Some(mask) = self.masks.get_mut(&(key, block)) else {
            return false;
        };
        if *mask & bit == 0 {
            return false;
        }
        *mask &= !bit;
        if *mask == 0 {
            self.masks.remove(&(key, block));
        }
        self.len -= 1;
        true
    }

    /// Whether `(key, seq)` is in the set.
    pub(crate) fn contains(&self, &(key, seq): &(K, u64)) -> bool {
        let (block, bit) = split(seq);
        self.masks.get(&(key, block)).is_some_and(|m| m & bit != 0)
    }

    /// The least pair.
    pub(crate) fn first(&self) -> Option<(K, u64)> {
        let (&(key, block), &mask) = self.masks.first_key_value()?;
        Some((key, block * BLOCK + u64::from(mask.trailing_zeros())))
    }

    /// Takes out and returns the least pair.
    pub(crate) fn pop_first(&mut self) -> Option<(K, u64)> {
        let first = self.first()?;
        self.remove(&first);
        Some(first)
    }

    /// Every pair, least first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (K, u64)> + '_ {
        self.masks.iter().flat_map(|(&(key, block), &mask)| {
            Bits(mask).map(move |i| (key, block * BLOCK + u64::from(i)))
        })
    }
}

/// The set bits of a mask, lowest first.
struct Bits(u64);

impl Iterator for Bits {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.0 == 0 {
            return None;
        }
        let i = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(i)
    }
}

impl<K: Ord + Copy> FromIterator<(K, u64)> for SeqSet<K> {
    fn from_iter<I: IntoIterator<Item = (K, u64)>>(pairs: I) -> Self {
        let mut set = SeqSet::new();
        for pair in pairs {
            set.insert(pair);
        }
        set
    }
}

impl<K: Ord + Copy + Serialize> Serialize for SeqSet<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for pair in self.iter() {
            seq.serialize_element(&pair)?;
        }
        seq.end()
    }
}

impl<'de, K: Ord + Copy + Deserialize<'de>> Deserialize<'de> for SeqSet<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs = Vec::<(K, u64)>::deserialize(deserializer)?;
        Ok(pairs.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, u64),
        Remove(u8, u64),
        PopFirst,
    }

    fn op() -> impl Strategy<Value = Op> {
        // Seqs near block edges and far apart, keys from a few values: runs and strays.
        let seq = prop_oneof![0u64..200, (0u64..4).prop_map(|b| b * 64 + 63), any::<u64>()];
        prop_oneof![
            4 => (0u8..3, seq.clone()).prop_map(|(k, s)| Op::Insert(k, s)),
            3 => (0u8..3, seq).prop_map(|(k, s)| Op::Remove(k, s)),
            1 => Just(Op::PopFirst),
        ]
    }

    proptest! {
        /// Every operation answers as a `BTreeSet<(u8, u64)>` does, and leaves the same pairs.
        #[test]
        fn behaves_as_an_ordered_set_of_pairs(ops in prop::collection::vec(op(), 0..300)) {
            let mut set = SeqSet::new();
            let mut model = BTreeSet::new();
            for op in ops {
                match op {
                    Op::Insert(k, s) => prop_assert_eq!(set.insert((k, s)), model.insert((k, s))),
                    Op::Remove(k, s) => prop_assert_eq!(set.remove(&(k, s)), model.remove(&(k, s))),
                    Op::PopFirst => prop_assert_eq!(set.pop_first(), model.pop_first()),
                }
                prop_assert_eq!(set.len(), model.len());
                prop_assert_eq!(set.is_empty(), model.is_empty());
                prop_assert_eq!(set.first(), model.first().copied());
            }
            prop_assert!(set.iter().eq(model.iter().copied()));
            for &(k, s) in &model {
                prop_assert!(set.contains(&(k, s)));
                prop_assert!(!set.contains(&(k, s ^ 1)) || model.contains(&(k, s ^ 1)));
            }
        }
    }

    #[test]
    fn a_dense_run_is_one_mask_per_block() {
        let set: SeqSet<u8> = (0..640).map(|s| (0, s)).collect();
        assert_eq!(set.len(), 640);
        assert_eq!(set.masks.len(), 10);
        let mut set = set;
        for s in 0..64 {
            assert!(set.remove(&(0, s)));
        }
        assert_eq!(set.masks.len(), 9, "an emptied block leaves the tree");
        assert_eq!(set.first(), Some((0, 64)));
    }

    #[test]
    fn the_extreme_seqs_fit() {
        let mut set = SeqSet::new();
        assert!(set.insert((1u8, u64::MAX)));
        assert!(set.insert((1u8, 0)));
        assert!(set.iter().eq([(1, 0), (1, u64::MAX)]));
        assert_eq!(set.pop_first(), Some((1, 0)));
        assert_eq!(set.pop_first(), Some((1, u64::MAX)));
        assert_eq!(set.pop_first(), None);
    }

    #[test]
    fn serializes_as_a_set_of_pairs_does() {
        let pairs = [(2u8, 7u64), (0, 64), (0, 3), (2, 1 << 40)];
        let model: BTreeSet<(u8, u64)> = pairs.into_iter().collect();
        let set: SeqSet<u8> = pairs.into_iter().collect();
        let bytes = postcard::to_allocvec(&set).expect("encodes");
        assert_eq!(bytes, postcard::to_allocvec(&model).expect("encodes"));
        let back: SeqSet<u8> = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(back, set);
        let json = serde_json::to_string(&set).expect("encodes");
        assert_eq!(json, serde_json::to_string(&model).expect("encodes"));
    }
}

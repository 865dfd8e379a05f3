//! [`SeqMap`]: a map from message seq to a value, built for the way a queue holds its
//! messages. Seqs are handed out in ascending order and mostly leave in about that order, so
//! the live ones cluster: the map keeps them in aligned runs of 64 seqs, a B-tree by run.
//!
//! A busy run is *dense*, a slot per seq, so a lookup is one small tree search and an array
//! index, and a message coming or going touches one slot, not a tree node full of its
//! neighbours. A run with few live seqs left (messages that stay while their neighbours
//! go: a retry, a delay) is *sparse*, its values in a short sorted list, so that an isolated
//! message costs about what it does in a `BTreeMap`, not 64 slots. A run turns sparse below
//! 16 values, so a dense run holds at least a quarter of its slots: at worst four times the
//! memory of the values alone.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Seqs per run.
const RUN: u64 = 64;
/// A sparse run that grows past this many values becomes dense.
const SPARSE_MAX: usize = 32;
/// A dense run that shrinks below this many values becomes sparse (less than
/// [`SPARSE_MAX`], so a run on the edge does not switch back and forth).
const DENSE_MIN: usize = 16;

fn split(seq: u64) -> (u64, u8) {
    (seq / RUN, (seq % RUN) as u8)
}

/// Where `offset` is among a sparse run's pairs: `Ok` at it, `Err` where it would go.
fn find<T>(pairs: &[(u8, T)], offset: u8) -> Result<usize, usize> {
    pairs.binary_search_by_key(&offset, |&(o, _)| o)
}

/// The values of one run of 64 seqs (never empty in a map).
#[derive(Clone)]
enum Run<T> {
    /// `(offset, value)` pairs by offset.
    Sparse(Vec<(u8, T)>),
    /// A slot per offset, and how many are filled.
    Dense(Box<[Option<T>; RUN as usize]>, usize),
}

impl<T> Run<T> {
    fn len(&self) -> usize {
        match self {
            Run::Sparse(pairs) => pairs.len(),
            Run::Dense(_, filled) => *filled,
        }
    }

    fn get(&self, offset: u8) -> Option<&T> {
        match self {
            Run::Sparse(pairs) => pairs.get(find(pairs, offset).ok()?).map(|(_, v)| v),
            Run::Dense(slots, _) => slots.get(usize::from(offset))?.as_ref(),
        }
    }

    fn get_mut(&mut self, offset: u8) -> Option<&mut T> {
        match self {
            Run::Sparse(pairs) => {
                let i = find(pairs, offset).ok()?;
                pairs.get_mut(i).map(|(_, v)| v)
            }
            Run::Dense(slots, _) => slots.get_mut(usize::from(offset))?.as_mut(),
        }
    }

    /// Puts `value` at `offset`, returning the value it replaced.
    fn insert(&mut self, offset: u8, value: T) -> Option<T> {
        let replaced = match self {
            Run::Sparse(pairs) => match find(pairs, offset) {
                Ok(i) => pairs.get_mut(i).map(|(_, v)| std::mem::replace(v, value)),
                Err(i) => {
                    pairs.insert(i, (offset, value));
                    None
                }
            },
            Run::Dense(slots, filled) => {
                let replaced = slots.get_mut(usize::from(offset))?.replace(value);
                *filled += usize::from(replaced.is_none());
                replaced
            }
        };
        if matches!(self, Run::Sparse(pairs) if pairs.len() > SPARSE_MAX) {
            self.densify();
        }
        replaced
    }

    fn remove(&mut self, offset: u8) -> Option<T> {
        let removed = match self {
            Run::Sparse(pairs) => {
                let i = find(pairs, offset).ok()?;
                Some(pairs.remove(i).1)
            }
            Run::Dense(slots, filled) => {
                let removed = slots.get_mut(usize::from(offset))?.take()?;
                *filled -= 1;
                Some(removed)
            }
        };
        if matches!(self, Run::Dense(_, filled) if *filled < DENSE_MIN) {
            self.sparsify();
        }
        removed
    }

    fn densify(&mut self) {
        if let Run::Sparse(pairs) = self {
            let mut slots: Box<[Option<T>; RUN as usize]> = Box::new(std::array::from_fn(|_| None));
            let filled = pairs.len();
            for (offset, value) in pairs.drain(..) {
                if let Some(slot) = slots.get_mut(usize::from(offset)) {
                    *slot = Some(value);
                }
            }
            *self = Run::Dense(slots, filled);
        }
    }

    fn sparsify(&mut self) {
        if let Run::Dense(slots, _) = self {
            let pairs: Vec<(u8, T)> = (0u8..)
                .zip(slots.iter_mut())
                .filter_map(|(offset, slot)| Some((offset, slot.take()?)))
                .collect();
            *self = Run::Sparse(pairs);
        }
    }

    fn iter(&self) -> RunIter<'_, T> {
        match self {
            Run::Sparse(pairs) => RunIter::Sparse(pairs.iter()),
            Run::Dense(slots, _) => RunIter::Dense((0u8..).zip(slots.iter())),
        }
    }
}

/// A run's `(offset, value)` pairs by offset.
enum RunIter<'a, T> {
    Sparse(std::slice::Iter<'a, (u8, T)>),
    Dense(std::iter::Zip<std::ops::RangeFrom<u8>, std::slice::Iter<'a, Option<T>>>),
}

impl<'a, T> Iterator for RunIter<'a, T> {
    type Item = (u8, &'a T);

    fn next(&mut self) -> Option<(u8, &'a T)> {
        match self {
            RunIter::Sparse(pairs) => pairs.next().map(|(o, v)| (*o, v)),
            RunIter::Dense(slots) => slots.find_map(|(o, slot)| Some((o, slot.as_ref()?))),
        }
    }
}

/// A map from seq to `T`, iterated by ascending seq. Its serialized form is that of a
/// `BTreeMap<u64, T>`, so stored snapshots read either way.
#[derive(Clone)]
pub(crate) struct SeqMap<T> {
    runs: BTreeMap<u64, Run<T>>,
    len: usize,
}

impl<T> Default for SeqMap<T> {
    fn default() -> Self {
        SeqMap {
            runs: BTreeMap::new(),
            len: 0,
        }
    }
}

impl<T> SeqMap<T> {
    /// An empty map.
    pub(crate) fn new() -> Self {
        SeqMap::default()
    }

    /// Values in the map.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the map has no values.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value of `seq`.
    pub(crate) fn get(&self, seq: &u64) -> Option<&T> {
        let (run, offset) = split(*seq);
        self.runs.get(&run)?.get(offset)
    }

    /// The value of `seq`, to change.
    pub(crate) fn get_mut(&mut self, seq: &u64) -> Option<&mut T> {
        let (run, offset) = split(*seq);
        self.runs.get_mut(&run)?.get_mut(offset)
    }

    /// Whether `seq` has a value.
    pub(crate) fn contains_key(&self, seq: &u64) -> bool {
        self.get(seq).is_some()
    }

    /// Sets the value of `seq`, returning the one it replaced.
    pub(crate) fn insert(&mut self, seq: u64, value: T) -> Option<T> {
        let (run, offset) = split(seq);
        let replaced = self
            .runs
            .entry(run)
            .or_insert_with(|| Run::Sparse(Vec::new()))
            .insert(offset, value);
        self.len += usize::from(replaced.is_none());
        replaced
    }

    /// Takes the value of `seq` out.
    pub(crate) fn remove(&mut self, seq: &u64) -> Option<T> {
        let (run, offset) = split(*seq);
        let values = self.runs.get_mut(&run)?;
        let removed = values.remove(offset)?;
        if values.len() == 0 {
            self.runs.remove(&run);
        }
        self.len -= 1;
        Some(removed)
    }

    /// Every `(seq, value)`, by ascending seq.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &T)> + '_ {
        self.runs.iter().flat_map(|(&run, values)| {
            values
                .iter()
                .map(move |(offset, v)| (run * RUN + u64::from(offset), v))
        })
    }

    /// Every seq with a value, ascending.
    pub(crate) fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|(seq, _)| seq)
    }

    /// Every value, by ascending seq.
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

impl<T: PartialEq> PartialEq for SeqMap<T> {
    /// Equal when they hold the same values under the same seqs, however their runs are laid
    /// out.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for SeqMap<T> {}

impl<T: fmt::Debug> fmt::Debug for SeqMap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<T> FromIterator<(u64, T)> for SeqMap<T> {
    fn from_iter<I: IntoIterator<Item = (u64, T)>>(pairs: I) -> Self {
        let mut map = SeqMap::new();
        for (seq, value) in pairs {
            map.insert(seq, value);
        }
        map
    }
}

impl<T: Serialize> Serialize for SeqMap<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len))?;
        for (seq, value) in self.iter() {
            map.serialize_entry(&seq, value)?;
        }
        map.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for SeqMap<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Entries<T> {
            type Value = SeqMap<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from seq to value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<SeqMap<T>, A::Error> {
                let mut map = SeqMap::new();
                while let Some((seq, value)) = access.next_entry::<u64, T>()? {
                    map.insert(seq, value);
                }
                Ok(map)
            }
        }

        deserializer.deserialize_map(Entries(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u64, u32),
        Remove(u64),
        Bump(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Mostly a few runs' worth of seqs, so runs fill, thin out and switch form; some strays.
        let seq = prop_oneof![8 => 0u64..200, 1 => any::<u64>()];
        prop_oneof![
            5 => (seq.clone(), any::<u32>()).prop_map(|(s, v)| Op::Insert(s, v)),
            4 => seq.clone().prop_map(Op::Remove),
            1 => seq.prop_map(Op::Bump),
        ]
    }

    proptest! {
        /// Every operation answers as a `BTreeMap<u64, u32>` does, and leaves the same values.
        #[test]
        fn behaves_as_an_ordered_map(ops in prop::collection::vec(op(), 0..600)) {
            let mut map = SeqMap::new();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(s, v) => prop_assert_eq!(map.insert(s, v), model.insert(s, v)),
                    Op::Remove(s) => prop_assert_eq!(map.remove(&s), model.remove(&s)),
                    Op::Bump(s) => {
                        if let Some(v) = map.get_mut(&s) {
                            *v = v.wrapping_add(1);
                        }
                        if let Some(v) = model.get_mut(&s) {
                            *v = v.wrapping_add(1);
                        }
                    }
                }
                prop_assert_eq!(map.len(), model.len());
                prop_assert_eq!(map.is_empty(), model.is_empty());
            }
            prop_assert!(map.iter().eq(model.iter().map(|(&s, v)| (s, v))));
            for s in 0..200 {
                prop_assert_eq!(map.get(&s), model.get(&s));
                prop_assert_eq!(map.contains_key(&s), model.contains_key(&s));
            }
            prop_assert_eq!(map.runs.len(), map.runs.values().filter(|r| r.len() > 0).count());
        }
    }

    #[test]
    fn a_run_turns_dense_when_busy_and_sparse_when_thinned() {
        let mut map: SeqMap<u64> = (0..64).map(|s| (s, s)).collect();
        assert!(matches!(map.runs.get(&0), Some(Run::Dense(_, 64))));
        for s in 0..48 {
            assert_eq!(map.remove(&s), Some(s));
        }
        assert!(matches!(map.runs.get(&0), Some(Run::Dense(_, 16))));
        assert_eq!(map.remove(&48), Some(48));
        assert!(matches!(map.runs.get(&0), Some(Run::Sparse(p)) if p.len() == 15));
        assert!(map.keys().eq(49..64));
        for s in 49..64 {
            assert_eq!(map.remove(&s), Some(s));
        }
        assert!(map.runs.is_empty(), "an emptied run leaves the tree");
    }

    #[test]
    fn maps_equal_by_content_whatever_their_runs_look_like() {
        let grown: SeqMap<u8> = (0..20).map(|s| (s, 1)).collect();
        let mut thinned: SeqMap<u8> = (0..64).map(|s| (s, 1)).collect();
        for s in 20..64 {
            thinned.remove(&s);
        }
        assert!(matches!(grown.runs.get(&0), Some(Run::Sparse(_))));
        assert!(matches!(thinned.runs.get(&0), Some(Run::Dense(_, 20))));
        assert_eq!(grown, thinned);
    }

    #[test]
    fn serializes_as_a_btree_map_does() {
        let pairs = [
            (70u64, "b".to_owned()),
            (3, "a".to_owned()),
            (1 << 50, "c".to_owned()),
        ];
        let model: BTreeMap<u64, String> = pairs.iter().cloned().collect();
        let map: SeqMap<String> = pairs.iter().cloned().collect();
        let bytes = postcard::to_allocvec(&map).expect("encodes");
        assert_eq!(bytes, postcard::to_allocvec(&model).expect("encodes"));
        let back: SeqMap<String> = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(back, map);
        let json = serde_json::to_string(&map).expect("encodes");
        assert_eq!(json, serde_json::to_string(&model).expect("encodes"));
        let back: SeqMap<String> = serde_json::from_str(&json).expect("decodes");
        assert_eq!(back, map);
    }
}

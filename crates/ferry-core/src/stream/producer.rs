//! Idempotent producers: the per-partition state that lets a partition drop a batch a Kafka
//! producer retried and refuse one that arrives out of order, as a Kafka broker does for the
//! Java client (idempotent by default), librdkafka (`enable.idempotence=true`) and kafkajs.
//!
//! The rules, and the choices Ferry made where Kafka leaves room, are documented on
//! [`ProducerStates`], which holds the state.

use super::batch::BatchHeader;
use std::collections::{BTreeSet, HashMap, VecDeque};

/// How many of its latest batches a producer's state keeps for recognising retries: the most
/// batches a Kafka client may have in flight to one partition
/// (`max.in.flight.requests.per.connection` ≤ 5 with idempotence).
pub const RETAINED_BATCHES: usize = 5;

/// The most producers one partition tracks; recording one more evicts the producer whose last
/// append is oldest. About 250 bytes each, so some 2.5 MiB per partition at most.
pub const MAX_PRODUCERS_PER_PARTITION: usize = 10_000;

/// Sequences run from 0 to `i32::MAX` and then wrap to 0: there are 2³¹ of them.
const SEQUENCE_MODULUS: i64 = 1 << 31;

/// The producer fields of one batch: what [`ProducerStates`] judges it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProducerBatch {
    /// The idempotent producer's id; negative (Kafka sends −1) when the producer is not
    /// idempotent, and then nothing is checked.
    pub producer_id: i64,
    /// The producer's epoch: a producer that gets a higher one fences the older incarnation.
    pub producer_epoch: i16,
    /// The sequence of the batch's first record.
    pub base_sequence: i32,
    /// The batch holds records with sequences `base_sequence ..= base_sequence + this`
    /// (modulo 2³¹): a record count minus one, as in the batch header.
    pub last_offset_delta: u32,
}

impl ProducerBatch {
    /// Whether the batch comes from an idempotent producer (a non-negative producer id, as
    /// Kafka's `hasProducerId`).
    pub fn is_idempotent(&self) -> bool {
        self.producer_id >= 0
    }

    /// The sequence of the batch's last record, wrapping past `i32::MAX` to 0 as Kafka does:
    /// a batch of 3 records at base sequence `i32::MAX - 1` holds sequences `i32::MAX - 1`,
    /// `i32::MAX` and 0, so it ends at 0.
    pub fn last_sequence(&self) -> i32 {
        sequence_add(self.base_sequence, i64::from(self.last_offset_delta))
    }

    /// Whether the producer fields are well formed for an idempotent batch.
    fn is_malformed(&self) -> bool {
        self.producer_epoch < 0 || self.base_sequence < 0
    }
}

impl From<&BatchHeader> for ProducerBatch {
    fn from(header: &BatchHeader) -> ProducerBatch {
        ProducerBatch {
            producer_id: header.producer_id,
            producer_epoch: header.producer_epoch,
            base_sequence: header.base_sequence,
            last_offset_delta: header.last_offset_delta,
        }
    }
}

/// What to do with a batch that passed [`ProducerStates::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Append the batch, then [`ProducerStates::record`] it.
    Append,
    /// The producer retried a batch the partition already holds: append nothing and answer
    /// with success and these offsets, those of the original batch.
    Duplicate {
        /// Where the original batch starts.
        base_offset: u64,
        /// The last offset the original batch spans.
        last_offset: u64,
    },
}

/// Why a batch from an idempotent producer was refused; nothing was appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProducerError {
    /// The batch carries an epoch older than the producer's latest: another incarnation of
    /// the producer has fenced this one. Kafka's `INVALID_PRODUCER_EPOCH` (47).
    #[error(
        "producer {producer_id} sent epoch {epoch}, older than its current epoch {current_epoch}; \
         a newer instance of the producer has fenced this one"
    )]
    InvalidProducerEpoch {
        /// The producer.
        producer_id: i64,
        /// The epoch the batch carries.
        epoch: i16,
        /// The producer's latest epoch on this partition.
        current_epoch: i16,
    },
    /// The batch does not start at the sequence the partition expects: some earlier batch is
    /// missing (a gap), or this one is a retry too old to recognise, or a new epoch does not
    /// start at 0. Kafka's `OUT_OF_ORDER_SEQUENCE_NUMBER` (45).
    #[error(
        "producer {producer_id} (epoch {epoch}) sent sequence {got}, but this partition \
         expects sequence {expected} next"
    )]
    OutOfOrderSequence {
        /// The producer.
        producer_id: i64,
        /// The epoch the batch carries.
        epoch: i16,
        /// The sequence the next batch must start at: the last appended one plus 1, or 0 for
        /// a new epoch.
        expected: i32,
        /// The batch's first sequence.
        got: i32,
    },
    /// A batch with a producer id but a negative epoch or base sequence, which no idempotent
    /// producer sends. Kafka answers `INVALID_RECORD` (87).
    #[error(
        "producer {producer_id} sent epoch {epoch} and base sequence {base_sequence}; \
         an idempotent batch needs both to be 0 or more"
    )]
    InvalidSequence {
        /// The producer.
        producer_id: i64,
        /// The epoch the batch carries.
        epoch: i16,
        /// The batch's first sequence.
        base_sequence: i32,
    },
}

/// What a partition knows about one producer, as [`ProducerStates::producer`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerSummary {
    /// The producer's latest epoch.
    pub epoch: i16,
    /// The sequence of the last record appended in that epoch; the next batch must start
    /// right after it.
    pub last_sequence: i32,
    /// The last offset of the producer's latest batch: what eviction goes by.
    pub last_offset: u64,
}

/// The sequences and offsets of one appended batch (Kafka's `BatchMetadata`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AppendedBatch {
    first_sequence: i32,
    last_sequence: i32,
    base_offset: u64,
    last_offset: u64,
}

/// One producer's state: its epoch and its latest batches in that epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProducerEntry {
    epoch: i16,
    /// Oldest first; never empty, at most [`RETAINED_BATCHES`]. Only batches of `epoch`: a
    /// new epoch starts an empty window, since older epochs are refused before duplicates
    /// are looked for.
    batches: VecDeque<AppendedBatch>,
}

impl ProducerEntry {
    fn latest(&self) -> Option<&AppendedBatch> {
        self.batches.back()
    }

    fn last_offset(&self) -> u64 {
        self.latest().map_or(0, |b| b.last_offset)
    }

    fn push(&mut self, epoch: i16, batch: AppendedBatch) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.batches.clear();
        }
        if self.batches.len() == RETAINED_BATCHES {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
        debug_assert!(!self.batches.is_empty() && self.batches.len() <= RETAINED_BATCHES);
    }
}

/// The idempotent producers of one partition: their epochs, last sequences and latest
/// batches. Owned by the task that owns the partition.
///
/// An idempotent producer stamps every batch with its **producer id** (minted by the broker
/// elsewhere), its **epoch** and the **sequence** of its first record; record `i` of the batch
/// has sequence `base_sequence + i`. Sequences count per producer *and per partition*, from 0,
/// and wrap from `i32::MAX` back to 0. A partition keeps, per producer, its epoch and the
/// sequence ranges and offsets of its last [`RETAINED_BATCHES`] appended batches (Kafka's
/// `ProducerStateEntry`). [`ProducerStates::check`] judges an incoming batch by the first of
/// these rules that applies, the order a Kafka broker applies them in:
///
/// 1. No producer id (a negative one; Kafka sends −1): [`Verdict::Append`], nothing checked.
/// 2. A negative epoch or base sequence: [`ProducerError::InvalidSequence`].
/// 3. An unknown producer: [`Verdict::Append`], whatever its epoch and sequence (below).
/// 4. An epoch below the producer's: [`ProducerError::InvalidProducerEpoch`] (fenced).
/// 5. An epoch above the producer's: [`Verdict::Append`] if the base sequence is 0, else
///    [`ProducerError::OutOfOrderSequence`] expecting 0.
/// 6. The same first and last sequence as one of the producer's last [`RETAINED_BATCHES`]
///    batches: [`Verdict::Duplicate`] with that batch's offsets.
/// 7. A base sequence right after the producer's last sequence: [`Verdict::Append`].
/// 8. Anything else, a gap or a retry of an older batch: [`ProducerError::OutOfOrderSequence`]
///    with the sequence expected.
///
/// **Duplicates succeed.** A modern Kafka broker answers a retried batch with success and the
/// offsets of the original batch, not with `DUPLICATE_SEQUENCE_NUMBER` (46), which clients
/// treat as success anyway; Ferry does the same, so there is no error for it. The front end
/// must still hold the reply until the original batch is durable (its last offset below the
/// durable end), as it would have for the original.
///
/// **Unknown producers may start anywhere.** A producer the partition has no state for,
/// because it is new here, because retention removed all its batches, or because it was
/// evicted (below), may send any base sequence and any epoch: the partition cannot tell lost
/// state from a client bug, and a Kafka broker likewise accepts any sequence from a producer
/// it has no state for (KIP-360) rather than fail the producer. The cost: a retry of a batch
/// whose state was lost is appended a second time.
///
/// **The order of calls.** The one task that owns a partition calls [`ProducerStates::check`],
/// appends the batch, then calls [`ProducerStates::record`] with the base offset the log gave,
/// *before* checking the next batch, not once the append is durable: a client pipelines up to
/// five batches, and the second must find the first recorded. A crash loses only batches that
/// were never acknowledged, and rebuilding state from the durable log forgets them too, so the
/// producer's retries of them are accepted again.
///
/// **Rebuilding.** At startup the broker feeds the header of every stored batch, in offset
/// order, to [`ProducerStates::observe`]; this is the same update as `record`, so the rebuilt
/// state equals the live one, and gives the same verdicts, provided the live state was told of
/// retention with [`ProducerStates::retained`].
///
/// **A bound.** At most [`MAX_PRODUCERS_PER_PARTITION`] producers are tracked. Recording a new
/// producer beyond that evicts the one whose last append is oldest (the lowest last offset);
/// an evicted producer is then unknown, with the consequence above. Kafka expires producers
/// after `producer.id.expiration.ms` instead, which needs a clock; a bound on offsets does not.
///
/// Transactions are out of scope: control batches are ignored and transactional batches are
/// treated as plain idempotent ones.
///
/// ```
/// use ferry_core::stream::{ProducerBatch, ProducerError, ProducerStates, Verdict};
///
/// let mut producers = ProducerStates::new();
/// // Three records, sequences 0..=2.
/// let first = ProducerBatch {
///     producer_id: 7, producer_epoch: 0, base_sequence: 0, last_offset_delta: 2,
/// };
/// assert_eq!(producers.check(&first), Ok(Verdict::Append));
/// producers.record(&first, 100); // appended at offsets 100..=102
///
/// // The producer did not hear back and sends the batch again: it gets the original offsets.
/// let original = Verdict::Duplicate { base_offset: 100, last_offset: 102 };
/// assert_eq!(producers.check(&first), Ok(original));
///
/// // A batch that skips sequences 3 and 4 is refused.
/// let gap = ProducerBatch { base_sequence: 5, ..first };
/// assert!(matches!(
///     producers.check(&gap),
///     Err(ProducerError::OutOfOrderSequence { expected: 3, got: 5, .. })
/// ));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
    /// Every tracked producer by its latest batch's last offset, to find whom to evict and
    /// whom retention removes.
    by_last_offset: BTreeSet<(u64, i64)>,
    max_producers: usize,
}

impl Default for ProducerStates {
    fn default() -> ProducerStates {
        ProducerStates::new()
    }
}

impl ProducerStates {
    /// No producers yet, tracking at most [`MAX_PRODUCERS_PER_PARTITION`].
    pub fn new() -> ProducerStates {
        ProducerStates::with_max_producers(MAX_PRODUCERS_PER_PARTITION)
    }

    /// No producers yet, tracking at most `max_producers` (at least 1).
    pub fn with_max_producers(max_producers: usize) -> ProducerStates {
        ProducerStates {
            producers: HashMap::new(),
            by_last_offset: BTreeSet::new(),
            max_producers: max_producers.max(1),
        }
    }

    /// How many producers are tracked.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Whether no producer is tracked.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// What the partition knows about `producer_id`, or `None` if it is unknown.
    pub fn producer(&self, producer_id: i64) -> Option<ProducerSummary> {
        let entry = self.producers.get(&producer_id)?;
        let latest = entry.latest()?;
        Some(ProducerSummary {
            epoch: entry.epoch,
            last_sequence: latest.last_sequence,
            last_offset: latest.last_offset,
        })
    }

    /// Judges a batch before it is appended; changes nothing.
    ///
    /// # Errors
    /// - [`ProducerError::InvalidSequence`] for a negative epoch or base sequence;
    /// - [`ProducerError::InvalidProducerEpoch`] for an epoch older than the producer's;
    /// - [`ProducerError::OutOfOrderSequence`] for a new epoch not starting at 0, or, in the
    ///   current epoch, a first sequence that is not the last one plus 1 and is not a retry
    ///   of one of the last [`RETAINED_BATCHES`] batches.
    pub fn check(&self, batch: &ProducerBatch) -> Result<Verdict, ProducerError> {
        if !batch.is_idempotent() {
            return Ok(Verdict::Append);
        }
        if batch.is_malformed() {
            return Err(ProducerError::InvalidSequence {
                producer_id: batch.producer_id,
                epoch: batch.producer_epoch,
                base_sequence: batch.base_sequence,
            });
        }
        // Unknown: new here, retained away or evicted (see the type's docs).
        let Some(entry) = self.producers.get(&batch.producer_id) else {
            return Ok(Verdict::Append);
        };
        let Some(latest) = entry.latest() else {
            return Ok(Verdict::Append);
        };
        let out_of_order = |expected| ProducerError::OutOfOrderSequence {
            producer_id: batch.producer_id,
            epoch: batch.producer_epoch,
            expected,
            got: batch.base_sequence,
        };
        if batch.producer_epoch < entry.epoch {
            return Err(ProducerError::InvalidProducerEpoch {
                producer_id: batch.producer_id,
                epoch: batch.producer_epoch,
                current_epoch: entry.epoch,
            });
        }
        if batch.producer_epoch > entry.epoch {
            return match batch.base_sequence {
                0 => Ok(Verdict::Append),
                _ => Err(out_of_order(0)),
            };
        }
        let last_sequence = batch.last_sequence();
        if let Some(original) = entry
            .batches
            .iter()
            .find(|b| b.first_sequence == batch.base_sequence && b.last_sequence == last_sequence)
        {
            return Ok(Verdict::Duplicate {
                base_offset: original.base_offset,
                last_offset: original.last_offset,
            });
        }
        let expected = sequence_add(latest.last_sequence, 1);
        if batch.base_sequence == expected {
            Ok(Verdict::Append)
        } else {
            Err(out_of_order(expected))
        }
    }

    /// Records that `batch` was appended at `base_offset`: the producer's epoch becomes the
    /// batch's, its last sequence the batch's last, and the batch joins its window (a new
    /// epoch empties the window first). Call it only for a batch [`ProducerStates::check`]
    /// answered with [`Verdict::Append`], in offset order. Batches without a producer id, or
    /// with a negative epoch or sequence, change nothing.
    ///
    /// Returns the producer evicted to stay within the bound, if any.
    pub fn record(&mut self, batch: &ProducerBatch, base_offset: u64) -> Option<i64> {
        if !batch.is_idempotent() || batch.is_malformed() {
            return None;
        }
        let appended = AppendedBatch {
            first_sequence: batch.base_sequence,
            last_sequence: batch.last_sequence(),
            base_offset,
            last_offset: base_offset.saturating_add(u64::from(batch.last_offset_delta)),
        };
        let producer_id = batch.producer_id;
        let mut evicted = None;
        if let Some(entry) = self.producers.get_mut(&producer_id) {
            self.by_last_offset
                .remove(&(entry.last_offset(), producer_id));
            entry.push(batch.producer_epoch, appended);
        } else {
            if self.producers.len() >= self.max_producers {
                evicted = self.evict_oldest();
            }
            let mut entry = ProducerEntry {
                epoch: batch.producer_epoch,
                batches: VecDeque::with_capacity(RETAINED_BATCHES),
            };
            entry.push(batch.producer_epoch, appended);
            self.producers.insert(producer_id, entry);
        }
        self.by_last_offset
            .insert((appended.last_offset, producer_id));
        debug_assert_eq!(self.producers.len(), self.by_last_offset.len());
        debug_assert!(self.producers.len() <= self.max_producers);
        evicted
    }

    /// Rebuilds state from a stored batch: the update [`ProducerStates::record`] makes, fed
    /// from the batch's header while the broker scans the log in offset order at startup.
    /// Control batches (transaction markers) change nothing.
    ///
    /// Returns the producer evicted to stay within the bound, if any.
    pub fn observe(&mut self, header: &BatchHeader) -> Option<i64> {
        if header.is_control() {
            return None;
        }
        self.record(&ProducerBatch::from(header), header.base_offset)
    }

    /// Retention removed every batch that lies wholly below `start`: forgets those batches, and
    /// the producers left with none, which are then unknown; a rebuild from the remaining log
    /// would not see them either, so live and rebuilt state stay equal. A retry of a forgotten
    /// batch is then out of order rather than a duplicate. Takes time linear in the number of
    /// producers; retention is rare. Returns how many producers were forgotten.
    pub fn retained(&mut self, start: u64) -> usize {
        let kept = self.by_last_offset.split_off(&(start, i64::MIN));
        let removed = std::mem::replace(&mut self.by_last_offset, kept);
        for (_, producer_id) in &removed {
            self.producers.remove(producer_id);
        }
        for entry in self.producers.values_mut() {
            // Keeps the latest batch: its last offset is at least `start`, or it was removed.
            entry.batches.retain(|b| b.last_offset >= start);
        }
        debug_assert_eq!(self.producers.len(), self.by_last_offset.len());
        debug_assert!(self.producers.values().all(|e| !e.batches.is_empty()));
        removed.len()
    }

    /// Forgets the producer whose latest batch is oldest; returns its id.
    fn evict_oldest(&mut self) -> Option<i64> {
        let (_, producer_id) = self.by_last_offset.pop_first()?;
        self.producers.remove(&producer_id);
        Some(producer_id)
    }
}

/// `sequence + delta`, wrapping from `i32::MAX` to 0 (Kafka's `incrementSequence`).
fn sequence_add(sequence: i32, delta: i64) -> i32 {
    let sum = (i64::from(sequence) + delta).rem_euclid(SEQUENCE_MODULUS);
    // The remainder lies in 0..2³¹, so it fits.
    i32::try_from(sum).unwrap_or(0)
}

#[cfg(test)]
#[path = "producer_tests.rs"]
mod tests;

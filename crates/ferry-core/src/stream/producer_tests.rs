//! Tests of idempotent producer state: the verdict table of the module docs, the bound,
//! rebuilding from batch headers, and a property test against a reference model.

use super::*;
use proptest::prelude::*;

/// A batch of `count` records (at least 1).
fn batch(producer_id: i64, producer_epoch: i16, base_sequence: i32, count: u32) -> ProducerBatch {
    ProducerBatch {
        producer_id,
        producer_epoch,
        base_sequence,
        last_offset_delta: count - 1,
    }
}

/// The header a stored batch would have.
fn header(batch: &ProducerBatch, base_offset: u64, attributes: u16) -> BatchHeader {
    BatchHeader {
        base_offset,
        batch_length: 0,
        partition_leader_epoch: 0,
        crc: 0,
        attributes,
        last_offset_delta: batch.last_offset_delta,
        base_timestamp_ms: 0,
        max_timestamp_ms: 0,
        producer_id: batch.producer_id,
        producer_epoch: batch.producer_epoch,
        base_sequence: batch.base_sequence,
        record_count: batch.last_offset_delta + 1,
    }
}

/// A partition's offsets plus its producer state, appending as the partition task would, and
/// keeping the headers of what it stored for rebuilding.
struct Partition {
    producers: ProducerStates,
    next_offset: u64,
    stored: Vec<BatchHeader>,
}

impl Partition {
    fn new(producers: ProducerStates) -> Partition {
        Partition {
            producers,
            next_offset: 0,
            stored: Vec::new(),
        }
    }

    /// Checks `batch`, and appends and records it if the verdict says so.
    fn produce(&mut self, batch: &ProducerBatch) -> Result<Verdict, ProducerError> {
        let verdict = self.producers.check(batch)?;
        if verdict == Verdict::Append {
            let base_offset = self.next_offset;
            self.producers.record(batch, base_offset);
            self.stored.push(header(batch, base_offset, 0));
            self.next_offset += u64::from(batch.last_offset_delta) + 1;
        }
        Ok(verdict)
    }

    /// Produces a batch that must be appended; returns its base offset.
    fn append(&mut self, batch: &ProducerBatch) -> u64 {
        let base_offset = self.next_offset;
        assert_eq!(self.produce(batch), Ok(Verdict::Append), "{batch:?}");
        base_offset
    }

    /// State rebuilt from the stored headers, as at startup.
    fn rebuilt(&self, max_producers: usize) -> ProducerStates {
        let mut rebuilt = ProducerStates::with_max_producers(max_producers);
        for stored in &self.stored {
            rebuilt.observe(stored);
        }
        rebuilt
    }
}

fn out_of_order(producer_id: i64, epoch: i16, expected: i32, got: i32) -> ProducerError {
    ProducerError::OutOfOrderSequence {
        producer_id,
        epoch,
        expected,
        got,
    }
}

// docs/streams.md#idempotent-producers
#[test]
fn in_order_sequences_are_appended() {
    let mut p = Partition::new(ProducerStates::new());
    assert_eq!(p.append(&batch(1, 0, 0, 3)), 0);
    assert_eq!(p.append(&batch(1, 0, 3, 1)), 3);
    assert_eq!(p.append(&batch(1, 0, 4, 10)), 4);
    // Another producer counts its own sequences.
    assert_eq!(p.append(&batch(2, 0, 0, 2)), 14);
    assert_eq!(p.append(&batch(1, 0, 14, 1)), 16);
    assert_eq!(
        p.producers.producer(1),
        Some(ProducerSummary {
            epoch: 0,
            last_sequence: 14,
            last_offset: 16
        })
    );
    assert_eq!(p.producers.len(), 2);
}

// docs/streams.md#idempotent-producers
#[test]
fn a_retry_of_each_of_the_last_five_batches_is_a_duplicate_with_its_original_offsets() {
    let mut p = Partition::new(ProducerStates::new());
    p.append(&batch(9, 0, 0, 1)); // pushed out of the window by the next five
    let mut sent = Vec::new();
    for i in 0..5 {
        let b = batch(9, 0, 1 + 2 * i, 2);
        let base_offset = p.append(&b);
        sent.push((b, base_offset));
    }
    let end = p.next_offset;
    for (b, base_offset) in &sent {
        assert_eq!(
            p.produce(b),
            Ok(Verdict::Duplicate {
                base_offset: *base_offset,
                last_offset: base_offset + 1
            }),
            "{b:?}"
        );
    }
    assert_eq!(p.next_offset, end, "duplicates are not appended");
    // Same first sequence but another last one is not the same batch.
    assert_eq!(
        p.produce(&batch(9, 0, 9, 1)),
        Err(out_of_order(9, 0, 11, 9))
    );
    // And the producer carries on where it was.
    assert_eq!(p.append(&batch(9, 0, 11, 1)), end);
}

// docs/streams.md#idempotent-producers
#[test]
fn a_retry_older_than_the_window_is_out_of_order() {
    let mut p = Partition::new(ProducerStates::new());
    for seq in 0..6 {
        p.append(&batch(4, 2, seq, 1));
    }
    assert_eq!(p.produce(&batch(4, 2, 0, 1)), Err(out_of_order(4, 2, 6, 0)));
    assert!(matches!(
        p.produce(&batch(4, 2, 1, 1)),
        Ok(Verdict::Duplicate { base_offset: 1, .. })
    ));
}

// docs/streams.md#idempotent-producers
#[test]
fn a_gap_is_out_of_order_with_the_expected_sequence() {
    let mut p = Partition::new(ProducerStates::new());
    p.append(&batch(5, 0, 0, 4));
    let err = p.produce(&batch(5, 0, 6, 1));
    assert_eq!(err, Err(out_of_order(5, 0, 4, 6)));
    assert_eq!(p.next_offset, 4, "nothing appended");
    // An older sequence that is no batch's start is out of order too.
    assert_eq!(p.produce(&batch(5, 0, 2, 2)), Err(out_of_order(5, 0, 4, 2)));
    assert_eq!(
        out_of_order(5, 0, 4, 6).to_string(),
        "producer 5 (epoch 0) sent sequence 6, but this partition expects sequence 4 next"
    );
}

// docs/streams.md#idempotent-producers
#[test]
fn a_new_epoch_must_start_at_sequence_zero() {
    let mut p = Partition::new(ProducerStates::new());
    p.append(&batch(3, 0, 0, 5));
    assert_eq!(p.produce(&batch(3, 1, 5, 1)), Err(out_of_order(3, 1, 0, 5)));
    assert_eq!(p.produce(&batch(3, 1, 1, 1)), Err(out_of_order(3, 1, 0, 1)));
    assert_eq!(p.append(&batch(3, 1, 0, 2)), 5);
    assert_eq!(p.append(&batch(3, 1, 2, 1)), 7);
    // Skipping epochs is allowed, as long as the new one starts at 0.
    assert_eq!(p.append(&batch(3, 7, 0, 1)), 8);
    assert_eq!(p.producers.producer(3).map(|s| s.epoch), Some(7));
}

// docs/streams.md#idempotent-producers
#[test]
fn an_older_epoch_is_fenced() {
    let mut p = Partition::new(ProducerStates::new());
    p.append(&batch(3, 4, 0, 1));
    p.append(&batch(3, 5, 0, 1));
    // Even an exact retry of the old epoch's batch.
    for b in [batch(3, 4, 0, 1), batch(3, 4, 1, 1), batch(3, 0, 0, 1)] {
        assert_eq!(
            p.produce(&b),
            Err(ProducerError::InvalidProducerEpoch {
                producer_id: 3,
                epoch: b.producer_epoch,
                current_epoch: 5
            })
        );
    }
    let message = ProducerError::InvalidProducerEpoch {
        producer_id: 3,
        epoch: 4,
        current_epoch: 5,
    }
    .to_string();
    assert!(message.starts_with("producer 3 sent epoch 4, older than its current epoch 5"));
}

// docs/streams.md#idempotent-producers
#[test]
fn batches_without_a_producer_id_are_always_appended_and_leave_no_state() {
    let mut p = Partition::new(ProducerStates::new());
    for b in [
        batch(-1, -1, -1, 3),
        batch(-1, -1, -1, 3),
        batch(-1, 5, 17, 1),
        batch(-2, 0, 0, 1),
    ] {
        p.append(&b);
    }
    assert!(p.producers.is_empty());
    assert_eq!(
        p.producers.observe(&header(&batch(-1, 0, 0, 1), 0, 0)),
        None
    );
    assert!(p.producers.is_empty());
}

// docs/streams.md#idempotent-producers
#[test]
fn an_unknown_producer_may_start_at_any_sequence() {
    let mut p = Partition::new(ProducerStates::new());
    p.append(&batch(8, 3, 1_234, 2));
    assert_eq!(p.append(&batch(8, 3, 1_236, 1)), 2);
    assert_eq!(
        p.produce(&batch(8, 3, 1_234, 1)),
        Err(out_of_order(8, 3, 1_237, 1_234))
    );
}

// docs/streams.md#idempotent-producers
#[test]
fn a_negative_epoch_or_sequence_with_a_producer_id_is_invalid() {
    let mut p = Partition::new(ProducerStates::new());
    assert_eq!(
        p.produce(&batch(6, 0, -1, 1)),
        Err(ProducerError::InvalidSequence {
            producer_id: 6,
            epoch: 0,
            base_sequence: -1
        })
    );
    assert!(matches!(
        p.produce(&batch(6, -1, 0, 1)),
        Err(ProducerError::InvalidSequence { epoch: -1, .. })
    ));
    assert_eq!(p.producers.record(&batch(6, -1, 0, 1), 0), None);
    assert!(p.producers.is_empty());
}

// docs/streams.md#idempotent-producers
#[test]
fn sequences_wrap_from_i32_max_to_zero() {
    let max = i32::MAX;
    assert_eq!(batch(1, 0, max - 1, 3).last_sequence(), 0);
    assert_eq!(batch(1, 0, max, 1).last_sequence(), max);
    assert_eq!(batch(1, 0, max, 2).last_sequence(), 0);
    assert_eq!(batch(1, 0, 0, 1).last_sequence(), 0);

    let mut p = Partition::new(ProducerStates::new());
    p.append(&batch(1, 0, max - 4, 3)); // max-4 ..= max-2
    assert_eq!(
        p.produce(&batch(1, 0, 0, 1)),
        Err(out_of_order(1, 0, max - 1, 0))
    );
    let across = batch(1, 0, max - 1, 3); // max-1, max, 0
    let at = p.append(&across);
    assert_eq!(p.producers.producer(1).map(|s| s.last_sequence), Some(0));
    p.append(&batch(1, 0, 1, 2));
    assert_eq!(
        p.produce(&across),
        Ok(Verdict::Duplicate {
            base_offset: at,
            last_offset: at + 2
        })
    );

    // A batch ending exactly at i32::MAX is followed by sequence 0.
    p.append(&batch(2, 0, max - 1, 2));
    assert_eq!(
        p.produce(&batch(2, 0, max, 1)),
        Err(out_of_order(2, 0, 0, max))
    );
    p.append(&batch(2, 0, 0, 1));
}

// docs/streams.md#idempotent-producers
#[test]
fn beyond_the_bound_the_producer_with_the_oldest_append_is_evicted_and_then_unknown() {
    let mut p = Partition::new(ProducerStates::with_max_producers(3));
    p.append(&batch(1, 0, 0, 1)); // offset 0
    p.append(&batch(2, 0, 0, 1)); // offset 1
    p.append(&batch(3, 0, 0, 1)); // offset 2
    p.append(&batch(1, 0, 1, 1)); // offset 3: producer 1 is now the newest
    assert_eq!(p.producers.len(), 3);
    assert_eq!(p.producers.record(&batch(4, 0, 0, 1), 4), Some(2));
    assert_eq!(p.producers.len(), 3);
    assert_eq!(p.producers.producer(2), None);
    // Producer 2 is unknown: a gap is accepted, and so is its old batch again.
    assert_eq!(p.producers.check(&batch(2, 0, 5, 1)), Ok(Verdict::Append));
    assert_eq!(p.producers.check(&batch(2, 0, 0, 1)), Ok(Verdict::Append));
    // The others are still checked.
    assert_eq!(
        p.producers.check(&batch(1, 0, 5, 1)),
        Err(out_of_order(1, 0, 2, 5))
    );
    // A known producer's append evicts nobody.
    assert_eq!(p.producers.record(&batch(3, 0, 1, 1), 5), None);
}

// docs/streams.md#idempotent-producers
#[test]
fn the_default_bound_is_max_producers_per_partition() {
    let mut producers = ProducerStates::new();
    let mut offset = 0;
    for producer_id in 0..MAX_PRODUCERS_PER_PARTITION as i64 {
        assert_eq!(producers.record(&batch(producer_id, 0, 0, 1), offset), None);
        offset += 1;
    }
    assert_eq!(producers.len(), MAX_PRODUCERS_PER_PARTITION);
    assert_eq!(
        producers.record(&batch(-5 + i64::MAX, 0, 0, 1), offset),
        Some(0)
    );
    assert_eq!(producers.len(), MAX_PRODUCERS_PER_PARTITION);
}

// docs/streams.md#idempotent-producers
#[test]
fn state_rebuilt_from_the_log_equals_the_live_state() {
    let mut p = Partition::new(ProducerStates::with_max_producers(3));
    for b in [
        batch(1, 0, 0, 2),
        batch(-1, -1, -1, 4),
        batch(2, 0, 7, 1),
        batch(1, 0, 2, 1),
        batch(1, 1, 0, 3),
        batch(3, 0, 0, 1),
        batch(4, 2, 0, 1), // evicts producer 2
        batch(1, 1, 3, 1),
    ] {
        p.append(&b);
    }
    // A transaction marker in the log changes nothing, even one with a later epoch.
    let marker = header(&batch(1, 2, 0, 1), p.next_offset, 0x20);
    p.stored.push(marker);
    let rebuilt = p.rebuilt(3);
    assert_eq!(rebuilt, p.producers);
    for probe in [
        batch(1, 1, 0, 3),
        batch(1, 1, 4, 1),
        batch(1, 0, 4, 1),
        batch(2, 0, 0, 1),
        batch(4, 2, 0, 1),
    ] {
        assert_eq!(
            rebuilt.check(&probe),
            p.producers.check(&probe),
            "{probe:?}"
        );
    }
}

// docs/streams.md#retention
#[test]
fn retention_forgets_the_batches_and_producers_it_removed() {
    let mut p = Partition::new(ProducerStates::new());
    p.append(&batch(1, 0, 0, 2)); // 0..=1
    p.append(&batch(2, 0, 0, 2)); // 2..=3
    p.append(&batch(1, 0, 2, 2)); // 4..=5
    assert_eq!(p.producers.retained(4), 1);
    assert_eq!(p.producers.producer(2), None);
    // Producer 1's first batch is gone: its retry is no longer recognised.
    assert_eq!(
        p.producers.check(&batch(1, 0, 0, 2)),
        Err(out_of_order(1, 0, 4, 0))
    );
    assert!(matches!(
        p.producers.check(&batch(1, 0, 2, 2)),
        Ok(Verdict::Duplicate { base_offset: 4, .. })
    ));
    p.stored.retain(|h| h.last_offset() >= 4);
    assert_eq!(p.rebuilt(MAX_PRODUCERS_PER_PARTITION), p.producers);
}

// --- Property test against a reference model ---

/// The (first sequence, last sequence, base offset, last offset) of each stored batch of a
/// producer's current epoch, oldest first.
type History = Vec<(i32, i32, u64, u64)>;

/// The rules written out plainly: every producer's whole history, scanned each time.
#[derive(Debug, Default)]
struct Model {
    max_producers: usize,
    /// In order of first appearance: producer id, epoch, history.
    producers: Vec<(i64, i16, History)>,
}

impl Model {
    /// Kafka's `incrementSequence`.
    fn last_sequence(base: i32, delta: u32) -> i32 {
        let delta = delta as i32;
        if base > i32::MAX - delta {
            delta - (i32::MAX - base) - 1
        } else {
            base + delta
        }
    }

    fn verdict(&self, b: &ProducerBatch) -> Result<Verdict, ProducerError> {
        if b.producer_id < 0 {
            return Ok(Verdict::Append);
        }
        if b.producer_epoch < 0 || b.base_sequence < 0 {
            return Err(ProducerError::InvalidSequence {
                producer_id: b.producer_id,
                epoch: b.producer_epoch,
                base_sequence: b.base_sequence,
            });
        }
        let Some((_, epoch, history)) = self.producers.iter().find(|p| p.0 == b.producer_id) else {
            return Ok(Verdict::Append);
        };
        let oo =
            |expected| out_of_order(b.producer_id, b.producer_epoch, expected, b.base_sequence);
        if b.producer_epoch < *epoch {
            return Err(ProducerError::InvalidProducerEpoch {
                producer_id: b.producer_id,
                epoch: b.producer_epoch,
                current_epoch: *epoch,
            });
        }
        if b.producer_epoch > *epoch {
            return if b.base_sequence == 0 {
                Ok(Verdict::Append)
            } else {
                Err(oo(0))
            };
        }
        let last = Self::last_sequence(b.base_sequence, b.last_offset_delta);
        let window = &history[history.len().saturating_sub(5)..];
        if let Some(&(_, _, base_offset, last_offset)) = window
            .iter()
            .find(|h| h.0 == b.base_sequence && h.1 == last)
        {
            return Ok(Verdict::Duplicate {
                base_offset,
                last_offset,
            });
        }
        let previous = history.last().map_or(-1, |h| h.1);
        let expected = if previous == i32::MAX {
            0
        } else {
            previous + 1
        };
        if b.base_sequence == expected {
            Ok(Verdict::Append)
        } else {
            Err(oo(expected))
        }
    }

    fn record(&mut self, b: &ProducerBatch, base_offset: u64) {
        if b.producer_id < 0 || b.producer_epoch < 0 || b.base_sequence < 0 {
            return;
        }
        let entry = (
            b.base_sequence,
            Self::last_sequence(b.base_sequence, b.last_offset_delta),
            base_offset,
            base_offset + u64::from(b.last_offset_delta),
        );
        if let Some(p) = self.producers.iter_mut().find(|p| p.0 == b.producer_id) {
            if p.1 != b.producer_epoch {
                p.1 = b.producer_epoch;
                p.2.clear();
            }
            p.2.push(entry);
            return;
        }
        if self.producers.len() == self.max_producers {
            let oldest = (0..self.producers.len())
                .min_by_key(|&i| self.producers[i].2.last().map_or(0, |h| h.3))
                .unwrap_or(0);
            self.producers.remove(oldest);
        }
        self.producers
            .push((b.producer_id, b.producer_epoch, vec![entry]));
    }

    fn retained(&mut self, start: u64) {
        for p in &mut self.producers {
            p.2.retain(|h| h.3 >= start);
        }
        self.producers.retain(|p| !p.2.is_empty());
    }
}

/// What a client does next.
#[derive(Clone, Copy, Debug)]
enum Move {
    /// Send its next batch.
    Next,
    /// Resend the batch it sent this many batches ago.
    Retry(usize),
    /// Skip ahead or fall back this many sequences.
    Jump(i32),
    /// Start a new epoch at sequence 0.
    Bump,
    /// Send with an epoch one below its current one.
    Stale,
    /// Send without a producer id.
    Plain,
    /// Retention removes the batches before the stored batch this far from the newest.
    Retain(usize),
}

fn a_move() -> impl Strategy<Value = Move> {
    prop_oneof![
        8 => Just(Move::Next),
        4 => (0..8usize).prop_map(Move::Retry),
        2 => prop_oneof![-4..0i32, 1..4i32].prop_map(Move::Jump),
        1 => Just(Move::Bump),
        1 => Just(Move::Stale),
        1 => Just(Move::Plain),
        1 => (0..12usize).prop_map(Move::Retain),
    ]
}

/// A client's view: its id, epoch, next sequence and what it sent.
struct Client {
    producer_id: i64,
    epoch: i16,
    next_sequence: i32,
    sent: Vec<ProducerBatch>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Live state gives the model's verdicts and summaries at every step, and state rebuilt
    /// from the stored headers equals it at the end.
    #[test]
    fn producer_state_matches_the_model(
        starts in prop::collection::vec(prop_oneof![Just(0), Just(i32::MAX - 6), 0..1_000i32], 5),
        moves in prop::collection::vec((0..5usize, a_move(), 1..4u32), 1..150),
        max_producers in 1..6usize,
    ) {
        let mut p = Partition::new(ProducerStates::with_max_producers(max_producers));
        let mut model = Model { max_producers, ..Model::default() };
        let mut clients: Vec<Client> = starts
            .iter()
            .enumerate()
            .map(|(i, &start)| Client {
                producer_id: 100 + i as i64,
                epoch: 1,
                next_sequence: start,
                sent: Vec::new(),
            })
            .collect();
        let mut start = 0;
        for (client, step, count) in moves {
            let c = &mut clients[client];
            let next = batch(c.producer_id, c.epoch, c.next_sequence, count);
            let b = match step {
                Move::Next => next,
                Move::Retry(back) => match c.sent.len().checked_sub(back + 1) {
                    Some(i) => c.sent[i],
                    None => next,
                },
                Move::Jump(by) => ProducerBatch {
                    base_sequence: sequence_add(c.next_sequence, i64::from(by)),
                    ..next
                },
                Move::Bump => batch(c.producer_id, c.epoch + 1, 0, count),
                Move::Stale => ProducerBatch { producer_epoch: c.epoch - 1, ..next },
                Move::Plain => batch(-1, -1, -1, count),
                Move::Retain(back) => {
                    if let Some(h) = p.stored.len().checked_sub(back + 1).map(|i| p.stored[i]) {
                        start = start.max(h.base_offset);
                        p.producers.retained(start);
                        model.retained(start);
                        p.stored.retain(|h| h.last_offset() >= start);
                    }
                    continue;
                }
            };
            let expected = model.verdict(&b);
            let base_offset = p.next_offset;
            prop_assert_eq!(p.produce(&b), expected, "{:?}", b);
            if b.is_idempotent() {
                c.sent.push(b);
            }
            if expected == Ok(Verdict::Append) {
                model.record(&b, base_offset);
                if b.is_idempotent() {
                    c.epoch = b.producer_epoch;
                    c.next_sequence = sequence_add(b.last_sequence(), 1);
                }
            }
            for &(producer_id, epoch, ref history) in &model.producers {
                let last = history.last().map(|h| ProducerSummary {
                    epoch,
                    last_sequence: h.1,
                    last_offset: h.3,
                });
                prop_assert_eq!(p.producers.producer(producer_id), last);
            }
            prop_assert_eq!(p.producers.len(), model.producers.len());
        }
        let rebuilt = p.rebuilt(max_producers);
        prop_assert_eq!(&rebuilt, &p.producers);
        for c in &clients {
            for b in &c.sent {
                prop_assert_eq!(rebuilt.check(b), model.verdict(b));
            }
        }
    }
}

//! The resequencer's rules, with explicit `now`, and a property test: whatever the order in
//! which parallel workers complete, whatever leases run out and whatever completions repeat,
//! each key's results leave in arrival order, each exactly once.

use super::tests::{Harness, at, msg};
use super::*;
use crate::ids::{MessageId, Receipt};
use crate::time::Timestamp;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn config(gap_policy: GapPolicy, gap_markers: bool) -> QueueConfig {
    QueueConfig {
        visibility_timeout_ms: 1_000,
        resequence: Some(ResequenceConfig {
            output: Output::Stream("out".into()),
            gap_policy,
            gap_markers,
        }),
        ..QueueConfig::default()
    }
}

fn keyed(body: &str, key: Option<&str>) -> NewMessage {
    NewMessage {
        group: key.map(str::to_owned),
        ..msg(body)
    }
}

/// What the output received: (key, seq, marker?) in release order.
type Released = Vec<(Option<String>, u64, bool)>;

impl Harness {
    fn complete(&mut self, now: Timestamp, receipts: &[Receipt]) -> Vec<(usize, Rejection)> {
        let sizes: Vec<ResultSize> = receipts
            .iter()
            .map(|_| ResultSize {
                body_len: 3,
                blob_len: 10,
            })
            .collect();
        let decision = self
            .q
            .decide_complete(now, receipts, &sizes)
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(command) = decision.command {
            self.commit(command);
        }
        decision.failed
    }

    /// Hands everything in the outbox to `out` and logs that it was stored.
    fn release(&mut self, now: Timestamp, out: &mut Released) {
        let outbox = self.q.outbox(0, usize::MAX);
        let Some(&(through, _)) = outbox.last() else {
            return;
        };
        out.extend(
            outbox
                .into_iter()
                .map(|(_, r)| (r.key, r.seq, r.blob.is_none())),
        );
        let command = self.q.decide_released(now, through);
        self.commit(command);
    }

    fn skip_gaps(&mut self, now: Timestamp, key: Option<&str>) {
        let command = self
            .q
            .decide_skip_gaps(now, key.map(str::to_owned))
            .unwrap_or_else(|e| panic!("{e}"));
        self.commit(command);
    }

    fn reseq_stats(&self) -> ResequenceStats {
        self.q.stats().resequence.unwrap_or_default()
    }
}

fn seqs(out: &Released) -> Vec<u64> {
    out.iter().map(|o| o.1).collect()
}

// docs/ordered-processing.md#release-order
#[test]
fn results_completed_out_of_order_leave_in_arrival_order() {
    let mut h = Harness::new(config(GapPolicy::Skip, false));
    for body in ["a", "b", "c"] {
        h.send1(at(0), msg(body));
    }
    let r = h.receive(at(1), 3);
    assert_eq!(r.len(), 3, "one key's messages are delivered in parallel");
    let mut out = Released::new();
    assert!(h.complete(at(2), &[r[2]]).is_empty());
    assert!(h.complete(at(3), &[r[1]]).is_empty());
    h.release(at(3), &mut out);
    assert!(out.is_empty(), "held back behind the first message");
    let s = h.reseq_stats();
    assert_eq!(
        (s.held_back, s.held_back_bytes, s.oldest_gap_age_ms),
        (2, 6, 1)
    );
    assert!(h.complete(at(4), &[r[0]]).is_empty());
    h.release(at(4), &mut out);
    assert_eq!(seqs(&out), vec![1, 2, 3]);
    let s = h.reseq_stats();
    assert_eq!(
        (s.held_back, s.released_total, s.completed_total),
        (0, 3, 3)
    );
    assert_eq!(h.q.stats().acked_total, 3);
    h.assert_replays(at(5));
}

// docs/ordered-processing.md#order-keys
#[test]
fn keys_release_independently() {
    let mut h = Harness::new(config(GapPolicy::Skip, false));
    h.send1(at(0), keyed("a1", Some("a")));
    h.send1(at(0), keyed("b1", Some("b")));
    h.send1(at(0), keyed("a2", Some("a")));
    let r = h.receive(at(1), 3);
    let mut out = Released::new();
    h.complete(at(2), &[r[2], r[1]]);
    h.release(at(2), &mut out);
    assert_eq!(
        out,
        vec![(Some("b".into()), 2, false)],
        "b does not wait for a"
    );
    h.complete(at(3), &[r[0]]);
    h.release(at(3), &mut out);
    assert_eq!(seqs(&out), vec![2, 1, 3]);
}

// docs/ordered-processing.md#exactly-once
#[test]
fn first_completion_wins_even_after_the_lease_ran_out() {
    let mut h = Harness::new(config(GapPolicy::Skip, false));
    h.send1(at(0), msg("a"));
    let first = h.receive(at(0), 1);
    let second = h.receive(at(1_000), 1);
    assert_eq!(
        second[0].receive_count, 2,
        "redelivered after the lease ran out"
    );
    assert!(
        h.complete(at(1_100), &first).is_empty(),
        "the late worker finished first"
    );
    let failed = h.complete(at(1_200), &second);
    assert_eq!(
        failed,
        vec![(0, Rejection::AlreadyCompleted(MessageId::new(42, 1)))]
    );
    let failed = h.complete(at(1_300), &first);
    assert_eq!(failed.len(), 1, "a repeated completion is refused too");
    let mut out = Released::new();
    h.release(at(1_300), &mut out);
    assert_eq!(seqs(&out), vec![1]);
    let never_issued = Receipt {
        id: MessageId::new(42, 1),
        receive_count: 3,
    };
    h.send1(at(1_400), msg("b"));
    let _ = h.receive(at(1_400), 1);
    let failed = h.complete(
        at(1_500),
        &[Receipt {
            id: MessageId::new(42, 2),
            ..never_issued
        }],
    );
    assert_eq!(failed, vec![(0, Rejection::InvalidReceipt)]);
}

// docs/ordered-processing.md#gaps
#[test]
fn skip_policy_moves_past_a_message_acked_without_result_and_can_mark_it() {
    for markers in [false, true] {
        let mut h = Harness::new(config(GapPolicy::Skip, markers));
        for body in ["a", "b", "c"] {
            h.send1(at(0), msg(body));
        }
        let r = h.receive(at(1), 3);
        h.complete(at(2), &[r[2]]);
        assert!(
            h.ack(at(3), &[r[0]]).is_empty(),
            "the worker skipped message 1"
        );
        h.complete(at(4), &[r[1]]);
        let mut out = Released::new();
        h.release(at(4), &mut out);
        let expected = if markers {
            vec![(None, 1, true), (None, 2, false), (None, 3, false)]
        } else {
            vec![(None, 2, false), (None, 3, false)]
        };
        assert_eq!(out, expected);
        assert_eq!(h.reseq_stats().gaps_total, 1);
        h.assert_replays(at(5));
    }
}

// docs/ordered-processing.md#gaps
#[test]
fn block_policy_holds_the_line_until_an_operator_skips_the_gap() {
    let mut h = Harness::new(QueueConfig {
        max_receives: Some(1),
        ..config(GapPolicy::Block, false)
    });
    h.send1(at(0), keyed("a1", Some("a")));
    h.send1(at(0), keyed("a2", Some("a")));
    let r = h.receive(at(0), 2);
    h.complete(at(10), &[r[1]]);
    // Message 1's only lease runs out: past max_receives with no DLQ, it is dropped.
    let mut out = Released::new();
    h.q.advance(at(1_000));
    h.release(at(1_000), &mut out);
    assert!(out.is_empty());
    let s = h.reseq_stats();
    assert_eq!((s.blocked_gaps, s.held_back), (1, 1));
    h.q.advance(at(5_000));
    assert_eq!(
        h.reseq_stats().oldest_gap_age_ms,
        4_990,
        "the held result has waited since 10"
    );
    h.skip_gaps(at(5_000), Some("b"));
    h.release(at(5_000), &mut out);
    assert!(out.is_empty(), "skipping another key changes nothing");
    h.skip_gaps(at(5_001), Some("a"));
    h.release(at(5_001), &mut out);
    assert_eq!(seqs(&out), vec![2]);
    let s = h.reseq_stats();
    assert_eq!((s.blocked_gaps, s.gaps_total), (0, 1));
    h.assert_replays(at(5_002));
}

// docs/ordered-processing.md#configuration
#[test]
fn plain_queues_refuse_completions_and_resequencing_toggles_only_when_empty() {
    let mut h = Harness::new(QueueConfig::default());
    h.send1(at(0), msg("a"));
    let r = h.receive(at(1), 1);
    let size = ResultSize {
        body_len: 1,
        blob_len: 5,
    };
    assert_eq!(
        h.q.decide_complete(at(2), &r, &[size]).map(|d| d.failed),
        Err(Rejection::NotResequencing)
    );
    let on = config(GapPolicy::Skip, false);
    assert!(matches!(
        h.q.check_config_change(&on),
        Err(Rejection::Conflict(_))
    ));
    h.ack(at(3), &r);
    assert_eq!(h.q.check_config_change(&on), Ok(()));
}

#[derive(Clone, Debug)]
enum Op {
    Send { key: u8 },
    Receive { max: u32 },
    Complete { pick: usize },
    CompleteStale { pick: usize },
    Ack { pick: usize },
    Cancel { pick: usize },
    Advance { ms: u64 },
    Release,
    Skip,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..3u8).prop_map(|key| Op::Send { key }),
        4 => (1..5u32).prop_map(|max| Op::Receive { max }),
        6 => any::<usize>().prop_map(|pick| Op::Complete { pick }),
        2 => any::<usize>().prop_map(|pick| Op::CompleteStale { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Ack { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        3 => (1..700u64).prop_map(|ms| Op::Advance { ms }),
        2 => Just(Op::Release),
        1 => Just(Op::Skip),
    ]
}

fn key_name(key: u8) -> Option<String> {
    (key > 0).then(|| format!("k{key}"))
}

fn run(gap_policy: GapPolicy, markers: bool, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut h = Harness::new(QueueConfig {
        max_receives: Some(3),
        ..config(gap_policy, markers)
    });
    let mut now = 0u64;
    let mut key_of: BTreeMap<u64, Option<String>> = BTreeMap::new();
    // Every receipt ever handed out, so that stale and repeated completions can be tried.
    let mut receipts: Vec<Receipt> = Vec::new();
    let mut completed: BTreeSet<u64> = BTreeSet::new();
    let mut out = Released::new();
    for op in ops {
        match op {
            Op::Send { key } => {
                let seq = h.send1(at(now), keyed("m", key_name(key).as_deref()));
                key_of.insert(seq, key_name(key));
            }
            Op::Receive { max } => receipts.extend(h.receive(at(now), max)),
            Op::Complete { pick } | Op::CompleteStale { pick } if !receipts.is_empty() => {
                let receipt = receipts[pick % receipts.len()];
                let seq = receipt.id.seq();
                let failed = h.complete(at(now), &[receipt]);
                if completed.contains(&seq) {
                    prop_assert_eq!(
                        failed.len(),
                        1,
                        "a second completion of {} was accepted",
                        seq
                    );
                } else if failed.is_empty() {
                    completed.insert(seq);
                }
            }
            Op::Ack { pick } if !receipts.is_empty() => {
                h.ack(at(now), &[receipts[pick % receipts.len()]]);
            }
            Op::Cancel { pick } if !key_of.is_empty() => {
                let seq = *key_of.keys().nth(pick % key_of.len()).unwrap_or(&0);
                if let Ok(command) = h.q.decide_cancel(at(now), MessageId::new(42, seq)) {
                    h.commit(command);
                }
            }
            Op::Advance { ms } => now += ms,
            Op::Release => h.release(at(now), &mut out),
            Op::Skip => h.skip_gaps(at(now), None),
            _ => {}
        }
    }
    // Drain: finish every message still in the queue, skip every gap, release everything.
    loop {
        now += 1_000;
        let more = h.receive(at(now), 100);
        if more.is_empty() && h.q.is_empty() {
            break;
        }
        for r in &more {
            if h.complete(at(now), &[*r]).is_empty() {
                completed.insert(r.id.seq());
            }
        }
    }
    h.skip_gaps(at(now), None);
    h.release(at(now), &mut out);
    let s = h.reseq_stats();
    prop_assert_eq!((s.held_back, s.releasing, s.blocked_gaps), (0, 0, 0));

    // Exactly once: every completed message's result left, once; nothing else but markers.
    let results: Vec<u64> = out.iter().filter(|o| !o.2).map(|o| o.1).collect();
    let unique: BTreeSet<u64> = results.iter().copied().collect();
    prop_assert_eq!(
        unique.len(),
        results.len(),
        "a result left twice: {:?}",
        out
    );
    prop_assert_eq!(&unique, &completed);
    // In order: per key, strictly increasing seqs (markers included); keys as sent.
    let mut last: BTreeMap<Option<String>, u64> = BTreeMap::new();
    for (key, seq, _) in &out {
        prop_assert_eq!(
            key_of.get(seq),
            Some(key),
            "seq {} left under the wrong key",
            seq
        );
        let previous = last.insert(key.clone(), *seq).unwrap_or(0);
        prop_assert!(
            previous < *seq,
            "key {:?}: {} left after {}",
            key,
            seq,
            previous
        );
    }
    if !markers {
        prop_assert!(out.iter().all(|o| !o.2));
    }
    h.assert_replays(at(now));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn each_key_releases_in_arrival_order_exactly_once(
        policy in prop_oneof![Just(GapPolicy::Skip), Just(GapPolicy::Block)],
        markers in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        run(policy, markers, ops)?;
    }
}

// docs/ordered-processing.md#atomic-ack-and-publish
#[test]
fn a_transaction_acks_and_posts_parcels_all_or_nothing() {
    let mut h = Harness::new(QueueConfig {
        visibility_timeout_ms: 1_000,
        ..QueueConfig::default()
    });
    h.send1(at(0), msg("a"));
    h.send1(at(0), msg("b"));
    let r = h.receive(at(1), 2);
    let stale = Receipt {
        receive_count: 9,
        ..r[1]
    };
    let refused = h.q.decide_transact(at(2), &[r[0], stale], &[(10, 3)]);
    assert_eq!(
        refused.err().map(|f| f.len()),
        Some(1),
        "one bad receipt refuses all"
    );
    assert_eq!(h.q.len(), 2);
    assert!(h.q.outbox(0, 10).is_empty());
    let command =
        h.q.decide_transact(at(3), &r, &[(10, 3), (20, 7)])
            .unwrap_or_else(|f| panic!("{f:?}"));
    h.commit(command);
    assert!(h.q.is_empty(), "both messages acked");
    let outbox = h.q.outbox(0, 10);
    let kinds: Vec<(u64, ReleaseKind, u32)> = outbox
        .iter()
        .map(|(n, r)| (*n, r.kind, r.body_len))
        .collect();
    assert_eq!(
        kinds,
        vec![(1, ReleaseKind::Parcel, 3), (2, ReleaseKind::Parcel, 7)]
    );
    assert_eq!(h.q.stats().acked_total, 2);
    assert_eq!(
        h.reseq_stats().releasing,
        2,
        "shown while parcels are on their way"
    );
    let mut out = Released::new();
    h.release(at(4), &mut out);
    assert!(h.q.outbox(0, 10).is_empty());
    assert!(h.q.stats().resequence.is_none());
    h.assert_replays(at(5));
}

// docs/ordered-processing.md#crashes-and-restarts
#[test]
fn releases_opened_by_time_get_the_same_numbers_however_time_is_split() {
    let mut config = config(GapPolicy::Skip, false);
    config.max_receives = Some(1);
    let mut h = Harness::new(config);
    h.send1(at(0), keyed("a1", Some("a")));
    h.send1(at(0), keyed("a2", Some("a")));
    h.send1(
        at(0),
        NewMessage {
            delay: Some(std::time::Duration::from_millis(10_000)),
            ttl: Some(std::time::Duration::from_millis(500)),
            ..keyed("b1", Some("b"))
        },
    );
    h.send1(at(0), keyed("b2", Some("b")));
    let leased = h.receive(at(1), 10); // a1, a2, b2
    assert!(h.complete(at(2), &[leased[1], leased[2]]).is_empty());
    // Live, the timer fires at each deadline: b1 expires first (b2 becomes release 1), then
    // a1's last lease ends and it is dropped (a2 becomes release 2).
    h.q.advance(at(500));
    h.q.advance(at(1001));
    let stored = h.q.decide_released(at(1100), 1);
    h.commit(stored);
    // Replay advances only at each record's time, in one step over both events.
    h.assert_replays(at(1100));
    let left: Vec<u64> =
        h.q.outbox(0, usize::MAX)
            .iter()
            .map(|(_, r)| r.seq)
            .collect();
    assert_eq!(left, vec![2], "a2 is the one still to be stored");
}

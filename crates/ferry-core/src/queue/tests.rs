//! State-machine tests: explicit `now`, exact outcomes. Each names the doc rule it enforces.

use super::*;
use crate::MessageId;
use crate::ids::Receipt;
use crate::time::Timestamp;
use std::time::Duration;

const T0: Timestamp = Timestamp(1_000_000);

/// A queue plus the log it would have written: decide → "log" → apply, and replay to compare.
pub(super) struct Harness {
    pub(super) q: QueueState,
    pub(super) log: Vec<(Command, BlobsAt)>,
    position: u64,
}

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn at(offset_ms: u64) -> Timestamp {
    T0.plus(ms(offset_ms))
}

pub(super) fn msg(body: &str) -> NewMessage {
    NewMessage {
        body: Body::text(body),
        ..NewMessage::default()
    }
}

impl Harness {
    pub(super) fn new(config: QueueConfig) -> Harness {
        let mut h = Harness {
            q: QueueState::new(0, QueueConfig::default()),
            log: Vec::new(),
            position: 0,
        };
        h.commit(Command::Configure {
            now: T0,
            config,
            uid: 42,
        });
        h
    }

    pub(super) fn commit(&mut self, command: Command) {
        let blobs = BlobsAt {
            segment: 0,
            position: self.position,
        };
        self.position += 1_000;
        self.q.apply(&command, blobs);
        self.log.push((command, blobs));
        self.q.mark_all_durable();
    }

    pub(super) fn send(
        &mut self,
        now: Timestamp,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<(u64, bool)>, Rejection> {
        let lens: Vec<u32> = messages.iter().map(|m| m.body.bytes.len() as u32).collect();
        let decision = self.q.decide_enqueue(now, &messages, &lens)?;
        if let Some(command) = decision.command {
            self.commit(command);
        }
        Ok(decision.results)
    }

    pub(super) fn send1(&mut self, now: Timestamp, m: NewMessage) -> u64 {
        self.send(now, vec![m])
            .map(|r| r[0].0)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub(super) fn receive(&mut self, now: Timestamp, max: u32) -> Vec<Receipt> {
        self.receive_as(now, max, "c", false)
    }

    pub(super) fn receive_as(
        &mut self,
        now: Timestamp,
        max: u32,
        consumer: &str,
        auto_ack: bool,
    ) -> Vec<Receipt> {
        let visibility = self.q.config().visibility_timeout();
        match self
            .q
            .decide_receive(now, max, visibility, consumer, auto_ack)
        {
            None => Vec::new(),
            Some((command, metas)) => {
                self.commit(command);
                metas
                    .iter()
                    .map(|m| Receipt {
                        id: MessageId::new(42, m.seq),
                        receive_count: m.receive_count,
                    })
                    .collect()
            }
        }
    }

    pub(super) fn ack(&mut self, now: Timestamp, receipts: &[Receipt]) -> Vec<(usize, Rejection)> {
        let (command, failed) = self.q.decide_ack(now, receipts);
        if let Some(command) = command {
            self.commit(command);
        }
        failed
    }

    pub(super) fn nack(
        &mut self,
        now: Timestamp,
        receipts: &[Receipt],
        delay: Option<Duration>,
        reason: Option<&str>,
    ) -> Vec<(usize, Rejection)> {
        let (command, failed) = self
            .q
            .decide_nack(now, receipts, delay, reason.map(str::to_owned));
        if let Some(command) = command {
            self.commit(command);
        }
        failed
    }

    pub(super) fn change_visibility(
        &mut self,
        now: Timestamp,
        receipts: &[Receipt],
        timeout: Duration,
    ) -> Vec<(usize, Rejection)> {
        let (command, failed) = self.q.decide_change_visibility(now, receipts, timeout);
        if let Some(command) = command {
            self.commit(command);
        }
        failed
    }

    pub(super) fn seqs(receipts: &[Receipt]) -> Vec<u64> {
        receipts.iter().map(|r| r.id.seq()).collect()
    }

    /// Rebuilds the state from the log and checks it equals the live one at `now`.
    pub(super) fn assert_replays(&mut self, now: Timestamp) {
        let mut replayed = QueueState::new(0, QueueConfig::default());
        for (command, blobs) in &self.log {
            replayed.apply(command, *blobs);
        }
        replayed.advance(now);
        self.q.advance(now);
        assert_eq!(replayed.stats(), self.q.stats(), "stats after replay");
        assert_eq!(
            replayed.peek(usize::MAX),
            self.q.peek(usize::MAX),
            "messages after replay"
        );
        assert_eq!(
            replayed.outbox(0, usize::MAX),
            self.q.outbox(0, usize::MAX),
            "releases after replay"
        );
    }
}

// docs/queues.md#leases
#[test]
fn receive_leases_and_ack_deletes() {
    let mut h = Harness::new(QueueConfig::default());
    h.send1(at(0), msg("a"));
    let r = h.receive(at(1), 10);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].receive_count, 1);
    assert!(
        h.receive(at(2), 10).is_empty(),
        "leased message is invisible"
    );
    assert!(h.ack(at(3), &r).is_empty());
    let s = h.q.stats();
    assert_eq!(
        (s.visible, s.in_flight, s.acked_total, s.delivered_total),
        (0, 0, 1, 1)
    );
    assert!(h.q.is_empty());
    h.assert_replays(at(4));
}

#[test]
fn a_receipt_repeated_in_one_ack_counts_once_in_any_order() {
    let mut h = Harness::new(QueueConfig::default());
    for body in ["a", "b", "c"] {
        h.send1(at(0), msg(body));
    }
    let r = h.receive(at(1), 10);
    assert_eq!(r.len(), 3);
    let (command, failed) = h.q.decide_ack(at(2), &[r[1], r[0], r[1], r[2], r[0], r[2]]);
    assert!(failed.is_empty());
    let Some(command) = command else {
        panic!("the receipts are good");
    };
    let Command::Ack { seqs, .. } = &command else {
        panic!("expected an ack, got {command:?}");
    };
    assert_eq!(seqs.len(), 3, "each message once: {seqs:?}");
    h.commit(command);
    assert_eq!(h.q.stats().acked_total, 3);
    h.assert_replays(at(3));
}

// docs/queues.md#leases
#[test]
fn expired_lease_redelivers_and_old_receipt_is_stale() {
    let mut h = Harness::new(QueueConfig {
        visibility_timeout_ms: 1_000,
        ..QueueConfig::default()
    });
    h.send1(at(0), msg("a"));
    let first = h.receive(at(0), 1);
    assert!(h.receive(at(999), 1).is_empty());
    let second = h.receive(at(1_000), 1);
    assert_eq!(second[0].receive_count, 2);
    assert_eq!(
        h.ack(at(1_001), &first),
        vec![(
            0,
            Rejection::StaleReceipt("the message was delivered again since")
        )]
    );
    assert_eq!(
        h.change_visibility(at(1_001), &first, ms(5_000)).len(),
        1,
        "stale receipt cannot extend"
    );
    assert!(h.ack(at(1_002), &second).is_empty());
    h.assert_replays(at(2_000));
}

// docs/queues.md#leases
#[test]
fn ack_after_lease_ran_out_but_before_redelivery_succeeds() {
    let mut h = Harness::new(QueueConfig {
        visibility_timeout_ms: 100,
        ..QueueConfig::default()
    });
    h.send1(at(0), msg("a"));
    let r = h.receive(at(0), 1);
    assert!(h.ack(at(500), &r).is_empty());
    assert!(h.q.is_empty());
}

// docs/queues.md#receipts
#[test]
fn foreign_and_garbage_receipts_are_invalid() {
    let mut h = Harness::new(QueueConfig::default());
    h.send1(at(0), msg("a"));
    let foreign = Receipt {
        id: MessageId::new(7, 1),
        receive_count: 1,
    };
    let future = Receipt {
        id: MessageId::new(42, 99),
        receive_count: 1,
    };
    let failed = h.ack(at(1), &[foreign, future]);
    assert_eq!(
        failed,
        vec![
            (0, Rejection::InvalidReceipt),
            (1, Rejection::InvalidReceipt)
        ]
    );
    assert_eq!(h.q.len(), 1);
}

// docs/queues.md#visibility
#[test]
fn change_visibility_extends_and_zero_releases() {
    let mut h = Harness::new(QueueConfig {
        visibility_timeout_ms: 1_000,
        ..QueueConfig::default()
    });
    h.send1(at(0), msg("a"));
    let r = h.receive(at(0), 1);
    assert!(h.change_visibility(at(900), &r, ms(5_000)).is_empty());
    assert!(h.receive(at(5_000), 1).is_empty(), "extended lease holds");
    assert!(
        h.change_visibility(at(5_000), &r, Duration::ZERO)
            .is_empty()
    );
    let again = h.receive(at(5_000), 1);
    assert_eq!(again[0].receive_count, 2, "released at once");
    h.assert_replays(at(6_000));
}

// docs/queues.md#retries
#[test]
fn nack_with_delay_and_with_backoff() {
    let config = QueueConfig {
        backoff_initial_ms: 100,
        backoff_multiplier: 2.0,
        backoff_max_ms: 10_000,
        ..QueueConfig::default()
    };
    let mut h = Harness::new(config);
    h.send1(at(0), msg("a"));
    let r = h.receive(at(0), 1);
    h.nack(at(10), &r, Some(ms(500)), None);
    assert!(h.receive(at(509), 1).is_empty());
    let r = h.receive(at(510), 1);
    assert_eq!(r[0].receive_count, 2);
    h.nack(at(510), &r, None, Some("db down"));
    // 2nd failure: 100 × 2 = 200 ms backoff.
    assert!(h.receive(at(709), 1).is_empty());
    let r = h.receive(at(710), 1);
    assert_eq!(r[0].receive_count, 3);
    assert_eq!(h.q.stats().nacked_total, 2);
    h.assert_replays(at(800));
}

// docs/queues.md#retries
#[test]
fn expired_lease_also_backs_off() {
    let config = QueueConfig {
        visibility_timeout_ms: 1_000,
        backoff_initial_ms: 300,
        ..QueueConfig::default()
    };
    let mut h = Harness::new(config);
    h.send1(at(0), msg("a"));
    h.receive(at(0), 1);
    assert!(
        h.receive(at(1_299), 1).is_empty(),
        "lease ended at 1000, backoff 300"
    );
    assert_eq!(h.receive(at(1_300), 1).len(), 1);
}

// docs/queues.md#dead-letters
#[test]
fn max_receives_dead_letters_with_history() {
    let config = QueueConfig {
        max_receives: Some(2),
        dead_letter_queue: Some("dlq".into()),
        visibility_timeout_ms: 100,
        ..QueueConfig::default()
    };
    let mut h = Harness::new(config);
    let seq = h.send1(at(0), msg("a"));
    let r = h.receive(at(0), 1);
    h.nack(at(5), &r, None, Some("first"));
    h.receive(at(6), 1);
    // Second delivery's lease runs out at 106: that is the second failure.
    h.q.advance(at(200));
    assert!(h.q.is_dead_lettering(seq, DeadLetterCause::MaxReceives));
    assert_eq!(h.q.dead_lettering().collect::<Vec<_>>(), vec![seq]);
    let meta =
        h.q.dead_letter_meta(seq)
            .unwrap_or_else(|| panic!("no meta"));
    assert_eq!(meta.info.receive_count, 2);
    assert_eq!(meta.info.first_failure_at, Some(at(5)));
    assert_eq!(meta.info.last_failure_at, Some(at(106)));
    assert_eq!(meta.info.reasons, vec!["first".to_string()]);
    assert!(
        h.receive(at(300), 1).is_empty(),
        "dead-lettering message is not delivered"
    );
    assert_eq!(h.q.stats().dead_lettered, 1);
    h.assert_replays(at(300));
    h.commit(Command::Remove {
        now: at(301),
        seqs: vec![seq],
        cause: RemoveCause::DeadLettered,
    });
    assert!(h.q.is_empty());
}

// docs/queues.md#dead-letters
#[test]
fn max_receives_without_dlq_discards() {
    let mut h = Harness::new(QueueConfig {
        max_receives: Some(1),
        ..QueueConfig::default()
    });
    h.send1(at(0), msg("a"));
    let r = h.receive(at(0), 1);
    h.nack(at(1), &r, None, None);
    assert!(h.q.is_empty());
    assert_eq!(h.q.stats().dead_lettered, 1);
}

// docs/queues.md#dead-letters
#[test]
fn only_the_last_reasons_are_kept() {
    let config = QueueConfig {
        max_receives: Some(5),
        dead_letter_queue: Some("dlq".into()),
        ..QueueConfig::default()
    };
    let mut h = Harness::new(config);
    let seq = h.send1(at(0), msg("a"));
    for i in 0..5u64 {
        let r = h.receive(at(i * 10), 1);
        h.nack(
            at(i * 10 + 1),
            &r,
            Some(Duration::ZERO),
            Some(&format!("r{i}")),
        );
    }
    let meta =
        h.q.dead_letter_meta(seq)
            .unwrap_or_else(|| panic!("not dead-lettering"));
    assert_eq!(meta.info.reasons, vec!["r2", "r3", "r4"]);
}

// docs/queues.md#delays
#[test]
fn per_message_delay_queue_delay_and_deliver_at() {
    let mut h = Harness::new(QueueConfig {
        delay_ms: 50,
        ..QueueConfig::default()
    });
    let days = Duration::from_secs(3 * 24 * 3600);
    h.send1(at(0), msg("queue-delay"));
    h.send1(
        at(0),
        NewMessage {
            delay: Some(days),
            ..msg("three-days")
        },
    );
    h.send1(
        at(0),
        NewMessage {
            deliver_at: Some(at(70)),
            ..msg("at-70")
        },
    );
    assert_eq!(h.q.stats().delayed, 3);
    assert!(h.receive(at(49), 10).is_empty());
    let r = h.receive(at(50), 10);
    assert_eq!(r.len(), 1);
    assert!(h.ack(at(50), &r).is_empty());
    let r = h.receive(at(70), 10);
    assert_eq!(r.len(), 1);
    assert!(h.ack(at(70), &r).is_empty());
    assert!(h.receive(at(days.as_millis() as u64 - 1), 10).is_empty());
    assert_eq!(h.receive(at(days.as_millis() as u64), 10).len(), 1);
    h.assert_replays(at(days.as_millis() as u64));
}

// docs/queues.md#ttl
#[test]
fn ttl_drops_or_dead_letters() {
    let mut h = Harness::new(QueueConfig {
        retention_ms: 10_000,
        ..QueueConfig::default()
    });
    h.send1(
        at(0),
        NewMessage {
            ttl: Some(ms(100)),
            ..msg("short")
        },
    );
    h.send1(at(0), msg("long"));
    h.q.advance(at(100));
    assert_eq!((h.q.len(), h.q.stats().expired_total), (1, 1));
    h.q.advance(at(10_000));
    assert!(h.q.is_empty());

    let config = QueueConfig {
        on_expire: ExpireAction::DeadLetter,
        dead_letter_queue: Some("dlq".into()),
        ..QueueConfig::default()
    };
    let mut h = Harness::new(config);
    let seq = h.send1(
        at(0),
        NewMessage {
            ttl: Some(ms(100)),
            ..msg("x")
        },
    );
    h.q.advance(at(100));
    assert!(h.q.is_dead_lettering(seq, DeadLetterCause::Expired));
}

/// A message that lives 100 ms.
fn short_lived(body: &str) -> NewMessage {
    NewMessage {
        ttl: Some(ms(100)),
        ..msg(body)
    }
}

/// A queue whose leases last a second.
fn one_second_leases() -> Harness {
    Harness::new(QueueConfig {
        visibility_timeout_ms: 1_000,
        ..QueueConfig::default()
    })
}

// docs/queues.md#ttl
#[test]
fn a_nacked_message_whose_ttl_passed_expires_instead_of_being_redelivered() {
    let mut h = one_second_leases();
    h.send1(at(0), short_lived("x"));
    let leased = h.receive(at(0), 1);
    assert!(
        h.nack(at(500), &leased, Some(Duration::ZERO), None)
            .is_empty()
    );
    // In the same millisecond as the nack: nothing to deliver, and the message is gone.
    assert!(h.receive(at(500), 1).is_empty());
    assert_eq!((h.q.len(), h.q.stats().expired_total), (0, 1));
    h.assert_replays(at(500));
}

// docs/queues.md#ttl
#[test]
fn leased_message_expires_when_its_lease_ends() {
    let mut h = one_second_leases();
    h.send1(at(0), short_lived("x"));
    let r = h.receive(at(0), 1);
    h.q.advance(at(500));
    assert_eq!(h.q.len(), 1, "not expired under a live lease");
    assert!(h.ack(at(600), &r).is_empty(), "and can still be acked");
    h.send1(at(700), short_lived("y"));
    h.receive(at(700), 1);
    h.q.advance(at(1_700));
    assert!(h.q.is_empty(), "expired once the lease ran out");
}

// docs/queues.md#dedup
#[test]
fn dedup_id_returns_the_original_within_the_window() {
    let mut h = Harness::new(QueueConfig {
        dedup_window_ms: 1_000,
        ..QueueConfig::default()
    });
    let with_id = |id: &str| NewMessage {
        dedup_id: Some(id.into()),
        ..msg("body")
    };
    let first = h
        .send(at(0), vec![with_id("a"), with_id("a"), with_id("b")])
        .unwrap_or_default();
    assert_eq!(first, vec![(1, false), (1, true), (2, false)]);
    let r = h.receive(at(1), 10);
    h.ack(at(2), &r);
    assert_eq!(
        h.send(at(999), vec![with_id("a")]).unwrap_or_default(),
        vec![(1, true)],
        "even after ack"
    );
    assert_eq!(
        h.send(at(1_000), vec![with_id("a")]).unwrap_or_default(),
        vec![(3, false)],
        "window over"
    );
    assert_eq!(h.q.stats().deduplicated_total, 2);
    h.assert_replays(at(1_001));
}

// docs/queues.md#dedup
#[test]
fn group_scoped_dedup_ids_are_unique_per_group() {
    let config = QueueConfig {
        dedup_scope: DedupScope::Group,
        ..QueueConfig::default()
    };
    let mut h = Harness::new(config);
    let m = |group: &str| NewMessage {
        dedup_id: Some("same".into()),
        group: Some(group.into()),
        ..msg("x")
    };
    let r = h
        .send(at(0), vec![m("a"), m("b"), m("a")])
        .unwrap_or_default();
    assert_eq!(r, vec![(1, false), (2, false), (1, true)]);
    let mut h = Harness::new(QueueConfig::default());
    let r = h.send(at(0), vec![m("a"), m("b")]).unwrap_or_default();
    assert_eq!(
        r,
        vec![(1, false), (1, true)],
        "queue scope: one id, one message"
    );
}

// docs/queues.md#dedup
#[test]
fn content_dedup_hashes_the_body() {
    let mut h = Harness::new(QueueConfig {
        content_dedup: true,
        ..QueueConfig::default()
    });
    let r = h
        .send(at(0), vec![msg("x"), msg("y"), msg("x")])
        .unwrap_or_default();
    assert_eq!(r, vec![(1, false), (2, false), (1, true)]);
}

// docs/queues.md#fifo
#[test]
fn fifo_orders_by_group_and_blocks_a_group_in_flight() {
    let mut h = Harness::new(QueueConfig {
        fifo: true,
        visibility_timeout_ms: 1_000,
        ..QueueConfig::default()
    });
    let g = |group: &str, body: &str| NewMessage {
        group: Some(group.into()),
        ..msg(body)
    };
    h.send(
        at(0),
        vec![g("a", "a1"), g("b", "b1"), g("a", "a2"), g("b", "b2")],
    )
    .unwrap_or_default();
    let r1 = h.receive(at(1), 1);
    assert_eq!(Harness::seqs(&r1), vec![1]);
    let r2 = h.receive(at(1), 1);
    assert_eq!(Harness::seqs(&r2), vec![2], "group b proceeds in parallel");
    assert!(
        h.receive(at(1), 10).is_empty(),
        "a2 and b2 wait for their groups"
    );
    h.nack(at(2), &r1, Some(Duration::ZERO), None);
    let again = h.receive(at(2), 10);
    assert_eq!(
        Harness::seqs(&again),
        vec![1, 3],
        "a1 again first, then a2 in the same receive"
    );
    h.ack(at(3), &again);
    h.ack(at(3), &r2);
    assert_eq!(Harness::seqs(&h.receive(at(4), 10)), vec![4]);
    h.assert_replays(at(5));
}

// docs/queues.md#fifo
#[test]
fn fifo_lease_expiry_keeps_order() {
    let mut h = Harness::new(QueueConfig {
        fifo: true,
        visibility_timeout_ms: 100,
        ..QueueConfig::default()
    });
    h.send(at(0), vec![msg("1"), msg("2")]).unwrap_or_default();
    assert_eq!(Harness::seqs(&h.receive(at(0), 1)), vec![1]);
    assert!(h.receive(at(50), 1).is_empty());
    assert_eq!(
        Harness::seqs(&h.receive(at(100), 1)),
        vec![1],
        "the expired head comes back before 2"
    );
}

// docs/queues.md#priorities
#[test]
fn higher_priority_first_fifo_within_a_priority() {
    let mut h = Harness::new(QueueConfig::default());
    let p = |n: u8, body: &str| NewMessage {
        priority: n,
        ..msg(body)
    };
    h.send(
        at(0),
        vec![
            p(0, "low1"),
            p(9, "high1"),
            p(5, "mid"),
            p(9, "high2"),
            p(0, "low2"),
        ],
    )
    .unwrap_or_default();
    assert_eq!(Harness::seqs(&h.receive(at(1), 10)), vec![2, 4, 3, 1, 5]);
    assert!(h.send(at(1), vec![p(10, "x")]).is_err());
}

// docs/queues.md#limits
#[test]
fn max_in_flight_caps_leases() {
    let mut h = Harness::new(QueueConfig {
        max_in_flight: Some(2),
        ..QueueConfig::default()
    });
    h.send(at(0), (0..5).map(|i| msg(&i.to_string())).collect())
        .unwrap_or_default();
    let r = h.receive(at(1), 10);
    assert_eq!(r.len(), 2);
    assert!(h.receive(at(1), 10).is_empty());
    h.ack(at(2), &r[..1]);
    assert_eq!(h.receive(at(2), 10).len(), 1);
}

// docs/queues.md#limits
#[test]
fn rate_limit_spreads_deliveries() {
    let mut h = Harness::new(QueueConfig {
        rate_limit_per_s: Some(10.0),
        ..QueueConfig::default()
    });
    h.send(at(0), (0..30).map(|i| msg(&i.to_string())).collect())
        .unwrap_or_default();
    assert_eq!(h.receive(at(0), 100).len(), 10, "one-second burst");
    assert!(h.receive(at(50), 100).is_empty());
    assert_eq!(h.q.next_wake(), Some(at(100)));
    assert_eq!(h.receive(at(100), 100).len(), 1);
    assert_eq!(h.receive(at(1_100), 100).len(), 10);
    h.assert_replays(at(1_100));
}

// docs/queues.md#limits
#[test]
fn max_length_rejects_or_drops_oldest() {
    let mut h = Harness::new(QueueConfig {
        max_length: Some(2),
        ..QueueConfig::default()
    });
    h.send(at(0), vec![msg("1"), msg("2")]).unwrap_or_default();
    assert!(matches!(
        h.send(at(1), vec![msg("3")]),
        Err(Rejection::QueueFull(_))
    ));
    assert_eq!(h.q.len(), 2, "nothing written");

    let config = QueueConfig {
        max_length: Some(2),
        overflow: Overflow::DropOldest,
        ..QueueConfig::default()
    };
    let mut h = Harness::new(config);
    h.send(at(0), vec![msg("1"), msg("2")]).unwrap_or_default();
    let leased = h.receive(at(0), 1);
    h.send(at(1), vec![msg("3")]).unwrap_or_default();
    assert_eq!(
        h.q.peek(10).iter().map(|p| p.seq).collect::<Vec<_>>(),
        vec![1, 3],
        "in-flight 1 kept, 2 dropped"
    );
    assert!(h.ack(at(2), &leased).is_empty());
    assert!(
        matches!(
            h.send(at(3), vec![msg("a"), msg("b"), msg("c")]),
            Err(Rejection::QueueFull(_))
        ),
        "batch larger than the queue"
    );
    h.assert_replays(at(3));
}

// docs/queues.md#limits
#[test]
fn dead_letters_on_their_way_out_do_not_count_against_the_limits() {
    let dlq = || Some("dlq".to_owned());
    // Under drop_oldest, each message pushed out waits for the dead-letter queue; the next
    // send must still push out only what it needs to.
    let mut h = Harness::new(QueueConfig {
        max_length: Some(2),
        overflow: Overflow::DropOldest,
        dead_letter_queue: dlq(),
        ..QueueConfig::default()
    });
    for (t, body) in ["A", "B", "C", "D"].into_iter().enumerate() {
        h.send1(at(t as u64), msg(body));
    }
    let live: Vec<u64> =
        h.q.peek(10)
            .iter()
            .filter(|p| p.state != MessageState::DeadLettering)
            .map(|p| p.seq)
            .collect();
    assert_eq!(live, vec![3, 4]);
    // Under reject, a message on its way to the dead-letter queue leaves room.
    let mut h = Harness::new(QueueConfig {
        max_length: Some(1),
        max_receives: Some(1),
        dead_letter_queue: dlq(),
        ..QueueConfig::default()
    });
    h.send1(at(0), msg("a"));
    let leased = h.receive(at(0), 1);
    assert!(h.nack(at(1), &leased, None, None).is_empty());
    assert_eq!(h.q.dead_lettering().count(), 1);
    assert!(h.send(at(2), vec![msg("b")]).is_ok());
    h.assert_replays(at(2));
}

// docs/queues.md#limits
#[test]
fn max_bytes_counts_bodies() {
    let mut h = Harness::new(QueueConfig {
        max_bytes: Some(10),
        ..QueueConfig::default()
    });
    h.send(at(0), vec![msg("12345"), msg("12345")])
        .unwrap_or_default();
    assert!(h.send(at(0), vec![msg("1")]).is_err());
    assert_eq!(h.q.stats().bytes, 10);
}

// docs/queues.md#bad-input
#[test]
fn bad_messages_reject_the_whole_batch() {
    let mut h = Harness::new(QueueConfig {
        max_message_bytes: 4,
        ..QueueConfig::default()
    });
    assert!(matches!(
        h.send(at(0), vec![msg("ok"), msg("12345")]),
        Err(Rejection::MessageTooLarge {
            index: 1,
            bytes: 5,
            max: 4
        })
    ));
    assert!(matches!(
        h.send(at(0), vec![msg("")]),
        Err(Rejection::InvalidMessage { index: 0, .. })
    ));
    let bad_utf8 = NewMessage {
        body: Body {
            bytes: vec![0xff],
            encoding: BodyEncoding::Text,
        },
        ..NewMessage::default()
    };
    assert!(h.send(at(0), vec![bad_utf8]).is_err());
    assert!(
        h.send(
            at(0),
            vec![NewMessage {
                ttl: Some(Duration::ZERO),
                ..msg("x")
            }]
        )
        .is_err()
    );
    assert!(h.q.is_empty());
    assert_eq!(h.log.len(), 1, "only the Configure record");
}

// docs/queues.md#cancel
#[test]
fn cancel_and_purge() {
    let mut h = Harness::new(QueueConfig::default());
    let a = h.send1(
        at(0),
        NewMessage {
            delay: Some(ms(1_000)),
            ..msg("a")
        },
    );
    let b = h.send1(at(0), msg("b"));
    let cmd =
        h.q.decide_cancel(at(1), MessageId::new(42, a))
            .unwrap_or_else(|e| panic!("{e}"));
    h.commit(cmd);
    let r = h.receive(at(2), 1);
    assert_eq!(Harness::seqs(&r), vec![b]);
    assert_eq!(
        h.q.decide_cancel(at(3), MessageId::new(42, b)),
        Err(Rejection::InFlight(MessageId::new(42, b)))
    );
    assert_eq!(
        h.q.decide_cancel(at(3), MessageId::new(42, a)),
        Err(Rejection::MessageNotFound(MessageId::new(42, a)))
    );
    h.send1(at(4), msg("c"));
    h.commit(Command::Purge { now: at(5) });
    assert!(h.q.is_empty());
    assert_eq!(h.q.stats().removed_total, 3);
    h.assert_replays(at(6));
}

// docs/queues.md#delivery-modes
#[test]
fn auto_ack_removes_on_delivery() {
    let mut h = Harness::new(QueueConfig::default());
    h.send1(at(0), msg("a"));
    assert_eq!(h.receive_as(at(1), 5, "c", true).len(), 1);
    assert!(h.q.is_empty());
    assert_eq!(h.q.stats().acked_total, 1);
}

// docs/architecture.md#durability
#[test]
fn messages_are_not_delivered_before_they_are_durable() {
    let mut q = QueueState::new(42, QueueConfig::default());
    let d = q
        .decide_enqueue(at(0), &[msg("a")], &[1])
        .unwrap_or_else(|e| panic!("{e}"));
    q.apply(
        &d.command.unwrap_or_else(|| panic!("no command")),
        BlobsAt::default(),
    );
    assert!(q.decide_receive(at(1), 1, ms(1_000), "c", false).is_none());
    q.mark_durable(2);
    assert!(q.decide_receive(at(1), 1, ms(1_000), "c", false).is_some());
}

// docs/queues.md#stats
#[test]
fn stats_report_oldest_age() {
    let mut h = Harness::new(QueueConfig::default());
    h.send1(at(0), msg("a"));
    h.send1(at(500), msg("b"));
    h.q.advance(at(2_000));
    let s = h.q.stats();
    assert_eq!(
        (s.visible, s.oldest_age_ms, s.enqueued_total),
        (2, 2_000, 2)
    );
}

//! Property tests of the queue state machine's invariants over random operation sequences:
//! no message leased twice at once, nothing lost, FIFO order per group, replay = live.

use super::tests::{Harness, at, msg};
use super::*;
use crate::ids::Receipt;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[derive(Clone, Debug)]
enum Op {
    Send {
        count: usize,
        group: u8,
        delay_ms: u64,
    },
    Receive {
        max: u32,
    },
    Ack {
        pick: usize,
    },
    Nack {
        pick: usize,
        delay_ms: Option<u64>,
    },
    Extend {
        pick: usize,
        timeout_ms: u64,
    },
    Cancel {
        seq: u64,
    },
    Advance {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1..4usize, 0..3u8, prop_oneof![Just(0u64), 1..300u64]).prop_map(|(count, group, delay_ms)| Op::Send { count, group, delay_ms }),
        4 => (1..4u32).prop_map(|max| Op::Receive { max }),
        3 => any::<usize>().prop_map(|pick| Op::Ack { pick }),
        2 => (any::<usize>(), proptest::option::of(0..200u64)).prop_map(|(pick, delay_ms)| Op::Nack { pick, delay_ms }),
        1 => (any::<usize>(), 0..500u64).prop_map(|(pick, timeout_ms)| Op::Extend { pick, timeout_ms }),
        1 => (1..20u64).prop_map(|seq| Op::Cancel { seq }),
        3 => (1..400u64).prop_map(|ms| Op::Advance { ms }),
    ]
}

/// What the test knows from outside: the leases it was handed and when each ends.
#[derive(Default)]
struct Model {
    leases: BTreeMap<u64, (Receipt, crate::Timestamp)>,
    acked: BTreeSet<u64>,
}

fn run(config: QueueConfig, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let fifo = config.fifo;
    let mut h = Harness::new(config);
    let mut m = Model::default();
    let mut clock = 0u64;
    for op in ops {
        let now = at(clock);
        match op {
            Op::Send {
                count,
                group,
                delay_ms,
            } => {
                let group = Some(format!("g{group}"));
                let delay = (!fifo && delay_ms > 0).then(|| Duration::from_millis(delay_ms));
                let batch = (0..count)
                    .map(|i| NewMessage {
                        group: group.clone(),
                        delay,
                        ..msg(&format!("m{i}"))
                    })
                    .collect();
                h.send(now, batch)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            Op::Receive { max } => {
                h.q.advance(now);
                let before: Vec<PeekMeta> = h.q.peek(usize::MAX);
                let got = h.receive(now, max);
                for (i, r) in got.iter().enumerate() {
                    let seq = r.id.seq();
                    if let Some((_, until)) = m.leases.get(&seq) {
                        prop_assert!(
                            *until <= now,
                            "seq {seq} leased twice while its lease is live"
                        );
                    }
                    m.leases
                        .insert(seq, (*r, now.plus(h.q.config().visibility_timeout())));
                    if fifo {
                        let group = before
                            .iter()
                            .find(|p| p.seq == seq)
                            .and_then(|p| p.group.clone());
                        let batch: BTreeSet<u64> = got[..i].iter().map(|r| r.id.seq()).collect();
                        for p in before.iter().filter(|p| p.group == group && p.seq < seq) {
                            prop_assert!(
                                batch.contains(&p.seq),
                                "FIFO: {seq} delivered while earlier {} of its group is pending",
                                p.seq
                            );
                        }
                    }
                }
            }
            Op::Ack { pick } | Op::Nack { pick, .. } | Op::Extend { pick, .. }
                if m.leases.is_empty() =>
            {
                let _ = pick;
            }
            Op::Ack { pick } => {
                let (&seq, &(receipt, _)) = m
                    .leases
                    .iter()
                    .nth(pick % m.leases.len())
                    .unwrap_or_else(|| unreachable!());
                if h.ack(now, &[receipt]).is_empty() {
                    m.acked.insert(seq);
                    m.leases.remove(&seq);
                }
            }
            Op::Nack { pick, delay_ms } => {
                let (&seq, &(receipt, _)) = m
                    .leases
                    .iter()
                    .nth(pick % m.leases.len())
                    .unwrap_or_else(|| unreachable!());
                if h.nack(
                    now,
                    &[receipt],
                    delay_ms.map(Duration::from_millis),
                    Some("p"),
                )
                .is_empty()
                {
                    m.leases.remove(&seq);
                }
            }
            Op::Extend { pick, timeout_ms } => {
                let (&seq, &(receipt, _)) = m
                    .leases
                    .iter()
                    .nth(pick % m.leases.len())
                    .unwrap_or_else(|| unreachable!());
                if h.change_visibility(now, &[receipt], Duration::from_millis(timeout_ms))
                    .is_empty()
                {
                    if timeout_ms == 0 {
                        m.leases.remove(&seq);
                    } else if let Some(lease) = m.leases.get_mut(&seq) {
                        lease.1 = now.plus(Duration::from_millis(timeout_ms));
                    }
                }
            }
            Op::Cancel { seq } => {
                if let Ok(command) = h.q.decide_cancel(now, crate::MessageId::new(42, seq)) {
                    h.log.push((command.clone(), BlobsAt::default()));
                    h.q.apply(&command, BlobsAt::default());
                }
            }
            Op::Advance { ms } => clock += ms,
        }
        let s = h.q.stats();
        let accounted =
            s.acked_total + s.removed_total + s.expired_total + s.dead_lettered + h.q.len() as u64;
        prop_assert_eq!(
            s.enqueued_total,
            accounted,
            "every message is acked, removed, expired, dead-lettered or present"
        );
        prop_assert_eq!(s.acked_total, m.acked.len() as u64);
        prop_assert_eq!(
            s.visible + s.delayed + s.in_flight,
            h.q.len() as u64,
            "every stored message is in exactly one index"
        );
    }
    h.assert_replays(at(clock + 1));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn standard_queue_invariants(ops in proptest::collection::vec(op(), 1..80)) {
        let config = QueueConfig {
            visibility_timeout_ms: 250,
            max_receives: Some(3),
            backoff_initial_ms: 20,
            backoff_jitter: 0.5,
            retention_ms: 5_000,
            ..QueueConfig::default()
        };
        run(config, ops)?;
    }

    #[test]
    fn fifo_queue_invariants(ops in proptest::collection::vec(op(), 1..80)) {
        let config = QueueConfig { fifo: true, visibility_timeout_ms: 250, max_receives: Some(4), retention_ms: 5_000, ..QueueConfig::default() };
        run(config, ops)?;
    }
}

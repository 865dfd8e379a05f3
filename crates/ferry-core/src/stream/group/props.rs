//! Property tests of the group coordinator against a reference model, over random joins,
//! rejoins, heartbeats, leaves, expiries, partition changes, commits and time advances.
//!
//! Invariants checked after every step: with at least one member every partition has exactly
//! one owner (disjoint, complete, range-assigned over members sorted by id); the generation goes
//! up by one on each change of the member set or partition count and never otherwise; a member
//! that left or whose session ended can never commit; `next_deadline` is the earliest session end.

use super::*;
use proptest::prelude::*;

const T0: Timestamp = Timestamp(1_000_000);

#[derive(Clone, Debug)]
enum Op {
    Join {
        tag: u8,
        timeout_ms: u64,
    },
    Rejoin {
        pick: usize,
        timeout_ms: u64,
    },
    Heartbeat {
        pick: usize,
        lag: u8,
    },
    Leave {
        pick: usize,
    },
    Expire,
    Advance {
        ms: u64,
    },
    /// The wall clock stepping back.
    StepBack {
        ms: u64,
    },
    SetPartitions {
        partitions: u32,
    },
    Commit {
        pick: usize,
        partition: u32,
        lag: u8,
    },
}

fn timeout_ms() -> impl Strategy<Value = u64> {
    prop_oneof![
        // Multiples of the clock step, so that sessions often end exactly on a step.
        8 => (2..=60u64).prop_map(|k| k * 500),
        1 => 1_000..=30_000u64,
        1 => 0..1_000u64,
        1 => 600_001..700_000u64,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4u8, timeout_ms()).prop_map(|(tag, timeout_ms)| Op::Join { tag, timeout_ms }),
        2 => (any::<usize>(), timeout_ms()).prop_map(|(pick, timeout_ms)| Op::Rejoin { pick, timeout_ms }),
        5 => (any::<usize>(), 0..3u8).prop_map(|(pick, lag)| Op::Heartbeat { pick, lag }),
        2 => any::<usize>().prop_map(|pick| Op::Leave { pick }),
        2 => Just(Op::Expire),
        4 => prop_oneof![(1..30u64).prop_map(|k| k * 500), 1..15_000u64].prop_map(|ms| Op::Advance { ms }),
        1 => (1..3_000u64).prop_map(|ms| Op::StepBack { ms }),
        1 => (0..10u32).prop_map(|partitions| Op::SetPartitions { partitions }),
        5 => (any::<usize>(), 0..11u32, 0..3u8).prop_map(|(pick, partition, lag)| Op::Commit { pick, partition, lag }),
    ]
}

/// What the test knows from outside: who is in, when each was last seen, and the generation.
struct Model {
    partitions: u32,
    generation: u32,
    members: BTreeMap<MemberId, (Timestamp, Duration)>,
    /// Every id ever handed out, plus one never handed out, for picking.
    known: Vec<MemberId>,
}

impl Model {
    fn deadline(&self, member: &MemberId) -> Option<Timestamp> {
        self.members.get(member).map(|(seen, t)| seen.plus(*t))
    }

    fn is_live(&self, member: &MemberId, now: Timestamp) -> bool {
        self.deadline(member).is_some_and(|d| now < d)
    }

    /// The range assignor, written independently: hand out partitions in order, `n / m` each
    /// plus one for the first `n % m` members.
    fn assignment(&self) -> BTreeMap<MemberId, Vec<u32>> {
        let m = self.members.len() as u32;
        let mut next = 0;
        let mut out = BTreeMap::new();
        for (i, id) in (0u32..).zip(self.members.keys()) {
            let count = self.partitions / m + u32::from(i < self.partitions % m);
            out.insert(id.clone(), (next..next + count).collect());
            next += count;
        }
        out
    }

    fn rebalance(&mut self) {
        self.generation += 1;
    }

    fn pick(&self, pick: usize) -> MemberId {
        self.known[pick % self.known.len()].clone()
    }
}

fn valid(timeout: Duration) -> bool {
    (MIN_SESSION_TIMEOUT..=MAX_SESSION_TIMEOUT).contains(&timeout)
}

/// A generation `lag` steps from the current one: 0 = current, 1 = previous, 2 = next.
fn with_lag(current: u32, lag: u8) -> u32 {
    match lag {
        0 => current,
        1 => current.saturating_sub(1),
        _ => current + 1,
    }
}

fn step(g: &mut GroupState, m: &mut Model, op: Op, now: Timestamp) -> Result<(), TestCaseError> {
    match op {
        Op::Join { tag, timeout_ms } => {
            let timeout = Duration::from_millis(timeout_ms);
            let got = g.join(&format!("t{tag}"), u64::from(tag), timeout, now);
            if !valid(timeout) {
                prop_assert_eq!(
                    got,
                    Err(GroupError::InvalidSessionTimeout {
                        session_timeout_ms: timeout_ms
                    })
                );
                return Ok(());
            }
            let joined = got.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(!m.known.contains(&joined.member_id), "id minted twice");
            m.known.push(joined.member_id.clone());
            m.members.insert(joined.member_id.clone(), (now, timeout));
            m.rebalance();
            prop_assert_eq!(joined.generation, m.generation);
            prop_assert_eq!(
                Some(joined.assignment),
                m.assignment().remove(&joined.member_id)
            );
        }
        Op::Rejoin { pick, timeout_ms } => {
            let id = m.pick(pick);
            let timeout = Duration::from_millis(timeout_ms);
            let got = g.rejoin(&id, timeout, now);
            if !valid(timeout) {
                let refused = matches!(got, Err(GroupError::InvalidSessionTimeout { .. }));
                prop_assert!(refused, "{:?}", got);
            } else if m.is_live(&id, now) {
                let assignment = m.assignment().remove(&id).unwrap_or_default();
                let generation = m.generation;
                prop_assert_eq!(
                    got,
                    Ok(Joined {
                        member_id: id.clone(),
                        generation,
                        assignment
                    })
                );
                if let Some(entry) = m.members.get_mut(&id) {
                    *entry = (entry.0.max(now), timeout);
                }
            } else {
                prop_assert_eq!(got, Err(unknown(&id)));
            }
        }
        Op::Heartbeat { pick, lag } => {
            let id = m.pick(pick);
            let generation = with_lag(m.generation, lag);
            let got = g.heartbeat(&id, generation, now);
            if m.is_live(&id, now) {
                let assignment = m.assignment().remove(&id).unwrap_or_default();
                prop_assert_eq!(
                    got,
                    Ok(Heartbeat {
                        generation: m.generation,
                        assignment,
                        rebalanced: generation != m.generation
                    })
                );
                if let Some(entry) = m.members.get_mut(&id) {
                    entry.0 = entry.0.max(now);
                }
            } else {
                prop_assert_eq!(got, Err(unknown(&id)));
            }
        }
        Op::Leave { pick } => {
            let id = m.pick(pick);
            let got = g.leave(&id);
            if m.members.remove(&id).is_some() {
                prop_assert_eq!(got, Ok(()));
                m.rebalance();
            } else {
                prop_assert_eq!(got, Err(unknown(&id)));
            }
        }
        Op::Expire => {
            let due: Vec<MemberId> = m
                .members
                .keys()
                .filter(|id| !m.is_live(id, now))
                .cloned()
                .collect();
            prop_assert_eq!(g.expire(now), due.clone());
            for id in &due {
                m.members.remove(id);
            }
            if !due.is_empty() {
                m.rebalance();
            }
        }
        Op::Advance { .. } | Op::StepBack { .. } => {}
        Op::SetPartitions { partitions } => {
            g.set_partitions(partitions);
            if partitions != m.partitions {
                m.partitions = partitions;
                m.rebalance();
            }
        }
        Op::Commit {
            pick,
            partition,
            lag,
        } => {
            let id = m.pick(pick);
            let generation = with_lag(m.generation, lag);
            let got = g.check_commit(&id, generation, partition, now);
            let owned = m
                .assignment()
                .get(&id)
                .is_some_and(|a| a.contains(&partition));
            let expected = if !m.is_live(&id, now) {
                Err(unknown(&id))
            } else if generation != m.generation {
                Err(GroupError::StaleGeneration {
                    member: id.clone(),
                    generation,
                    current: m.generation,
                })
            } else if !owned {
                Err(GroupError::NotAssigned {
                    member: id.clone(),
                    partition,
                    generation,
                })
            } else {
                Ok(())
            };
            prop_assert_eq!(got, expected);
        }
    }
    Ok(())
}

/// The invariants, checked against the model after every step.
fn check(g: &GroupState, m: &Model, now: Timestamp) -> Result<(), TestCaseError> {
    prop_assert_eq!(g.check_invariants(), Ok(()));
    prop_assert_eq!(
        g.generation(),
        m.generation,
        "generation moved without a change"
    );
    prop_assert_eq!(g.partitions(), m.partitions);
    prop_assert_eq!(g.is_empty(), m.members.is_empty());
    let listed: Vec<(MemberId, Timestamp, Duration)> = g
        .members()
        .map(|i| (i.id, i.last_seen, i.session_timeout))
        .collect();
    let modelled: Vec<(MemberId, Timestamp, Duration)> = m
        .members
        .iter()
        .map(|(id, (seen, t))| (id.clone(), *seen, *t))
        .collect();
    prop_assert_eq!(listed, modelled);
    // Complete and disjoint, and exactly the range assignor's answer.
    let expected = m.assignment();
    let mut owners = vec![0u32; m.partitions as usize];
    for info in g.members() {
        prop_assert_eq!(Some(&info.assignment), expected.get(&info.id));
        for p in info.assignment {
            owners[p as usize] += 1;
        }
    }
    if !m.members.is_empty() {
        prop_assert!(
            owners.iter().all(|&n| n == 1),
            "owners per partition: {owners:?}"
        );
    }
    let earliest = m.members.values().map(|(seen, t)| seen.plus(*t)).min();
    prop_assert_eq!(g.next_deadline(), earliest);
    // Nobody gone or dead commits anything, whatever generation it names.
    for id in m.known.iter().filter(|id| !m.is_live(id, now)) {
        for partition in 0..m.partitions {
            for generation in [m.generation.saturating_sub(1), m.generation] {
                prop_assert_eq!(
                    g.check_commit(id, generation, partition, now),
                    Err(GroupError::UnknownMember { member: id.clone() })
                );
            }
        }
    }
    Ok(())
}

fn run(partitions: u32, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut g = GroupState::new(partitions);
    let mut m = Model {
        partitions,
        generation: 0,
        members: BTreeMap::new(),
        known: vec![MemberId::new("never-joined").map_err(|e| TestCaseError::fail(e.to_string()))?],
    };
    let mut now = T0;
    for op in ops {
        match op {
            Op::Advance { ms } => now = now.plus(Duration::from_millis(ms)),
            Op::StepBack { ms } => now = Timestamp(now.as_millis().saturating_sub(ms)),
            _ => {}
        }
        step(&mut g, &mut m, op, now)?;
        check(&g, &m, now)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn group_invariants_hold(partitions in 0..8u32, ops in proptest::collection::vec(op(), 1..120)) {
        run(partitions, ops)?;
    }
}

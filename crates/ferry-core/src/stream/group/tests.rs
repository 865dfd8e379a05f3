//! State-machine tests of the group coordinator: explicit `now`, exact outcomes. Each names the
//! doc rule it enforces (the module docs of `stream::group`, copied into docs/streams.md).

use super::*;

const T0: Timestamp = Timestamp(1_000_000);
const SESSION: Duration = Duration::from_secs(10);

fn at(offset_ms: u64) -> Timestamp {
    T0.plus(Duration::from_millis(offset_ms))
}

/// Joins a member tagged `tag` (tags order the members: the assignor sorts by id).
fn join(g: &mut GroupState, tag: &str, now: Timestamp) -> Joined {
    g.join(tag, 0xfeed, SESSION, now)
        .unwrap_or_else(|e| panic!("join {tag}: {e}"))
}

fn assignments(g: &GroupState) -> Vec<Vec<u32>> {
    g.members().map(|m| m.assignment).collect()
}

fn id(s: &str) -> MemberId {
    MemberId::new(s).unwrap_or_else(|e| panic!("{e}"))
}

// Member ids ---------------------------------------------------------------------------------

// docs/streams.md#member-ids
#[test]
fn member_ids_are_validated() {
    for ok in [
        "a",
        "orders-worker-3-9f86d081884c7d65",
        "~!#{}",
        &"x".repeat(255),
    ] {
        assert!(MemberId::new(ok).is_ok(), "{ok}");
    }
    for (bad, reason) in [
        ("", "empty"),
        (
            "a b",
            "only printable ASCII characters without spaces are allowed",
        ),
        (
            "é",
            "only printable ASCII characters without spaces are allowed",
        ),
        (
            "a\n",
            "only printable ASCII characters without spaces are allowed",
        ),
        (&"x".repeat(256), "longer than 255 characters"),
    ] {
        assert_eq!(
            MemberId::new(bad).map_err(|e| e.reason),
            Err(reason),
            "{bad}"
        );
    }
    assert_eq!(
        MemberId::new("a b").map_err(|e| e.to_string()),
        Err(r#"invalid member id "a b": only printable ASCII characters without spaces are allowed"#.to_owned())
    );
}

// docs/streams.md#member-ids
#[test]
fn invalid_member_ids_convert_into_group_errors() {
    let e = MemberId::new("").map_err(GroupError::from);
    assert_eq!(
        e.map_err(|e| e.to_string()),
        Err(r#"invalid member id "": empty"#.to_owned())
    );
}

// docs/streams.md#member-ids
#[test]
fn member_ids_serialize_as_strings() {
    let m = id("worker-1-00000000000000ff");
    let json = serde_json::to_string(&m).unwrap_or_default();
    assert_eq!(json, r#""worker-1-00000000000000ff""#);
    assert_eq!(serde_json::from_str::<MemberId>(&json).ok(), Some(m));
    assert!(serde_json::from_str::<MemberId>(r#""""#).is_err());
    assert!(serde_json::from_str::<MemberId>(r#""a b""#).is_err());
}

// docs/streams.md#member-ids
#[test]
fn minted_ids_carry_tag_counter_and_nonce() {
    let mut g = GroupState::new(1);
    let a = g.join("orders worker", 0x9f86_d081_884c_7d65, SESSION, T0);
    assert_eq!(
        a.map(|j| j.member_id.to_string()),
        Ok("orders_worker-1-9f86d081884c7d65".to_owned())
    );
    let b = join(&mut g, "", T0);
    assert_eq!(b.member_id.as_str(), "member-2-000000000000feed");
    let c = join(&mut g, &"é".repeat(300), T0);
    assert_eq!(
        c.member_id.as_str(),
        format!("{}-3-000000000000feed", "_".repeat(64))
    );
    // The same tag and nonce still give distinct ids, by the counter.
    let d = g.join("orders_worker", 0x9f86_d081_884c_7d65, SESSION, T0);
    assert_eq!(
        d.map(|j| j.member_id.to_string()),
        Ok("orders_worker-4-9f86d081884c7d65".to_owned())
    );
    assert_eq!(g.len(), 4);
}

// Assignment ---------------------------------------------------------------------------------

// docs/streams.md#assignment
#[test]
fn range_assignor_matches_kafka() {
    let cases: &[(u32, usize, &[&[u32]])] = &[
        (1, 1, &[&[0]]),
        (1, 2, &[&[0], &[]]),
        (1, 3, &[&[0], &[], &[]]),
        (3, 1, &[&[0, 1, 2]]),
        (3, 2, &[&[0, 1], &[2]]),
        (3, 3, &[&[0], &[1], &[2]]),
        (4, 1, &[&[0, 1, 2, 3]]),
        (4, 2, &[&[0, 1], &[2, 3]]),
        (4, 3, &[&[0, 1], &[2], &[3]]),
        (7, 1, &[&[0, 1, 2, 3, 4, 5, 6]]),
        (7, 2, &[&[0, 1, 2, 3], &[4, 5, 6]]),
        (7, 3, &[&[0, 1, 2], &[3, 4], &[5, 6]]),
        (0, 2, &[&[], &[]]),
    ];
    for &(partitions, members, expected) in cases {
        let mut g = GroupState::new(partitions);
        for (i, tag) in ["a", "b", "c"].iter().enumerate().take(members) {
            let joined = join(&mut g, tag, T0);
            assert_eq!(joined.generation, i as u32 + 1);
        }
        let expected: Vec<Vec<u32>> = expected.iter().map(|a| a.to_vec()).collect();
        assert_eq!(
            assignments(&g),
            expected,
            "{partitions} partitions, {members} members"
        );
        assert_eq!(g.generation(), members as u32);
    }
}

// docs/streams.md#assignment
#[test]
fn joins_rebalance_and_members_sort_by_id() {
    let mut g = GroupState::new(7);
    assert_eq!((g.generation(), g.is_empty()), (0, true));
    let c = join(&mut g, "c", T0);
    assert_eq!(
        (c.generation, c.assignment.clone()),
        (1, vec![0, 1, 2, 3, 4, 5, 6])
    );
    let a = join(&mut g, "a", at(1));
    assert_eq!((a.generation, a.assignment), (2, vec![0, 1, 2, 3]));
    assert_eq!(g.assignment_of(&c.member_id), Some(&[4, 5, 6][..]));
    let b = join(&mut g, "b", at(2));
    assert_eq!((b.generation, b.assignment), (3, vec![3, 4]));
    assert_eq!(assignments(&g), vec![vec![0, 1, 2], vec![3, 4], vec![5, 6]]);
    let listed: Vec<(String, Timestamp, Duration)> = g
        .members()
        .map(|m| (m.id.to_string(), m.last_seen, m.session_timeout))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("a-2-000000000000feed".to_owned(), at(1), SESSION),
            ("b-3-000000000000feed".to_owned(), at(2), SESSION),
            ("c-1-000000000000feed".to_owned(), T0, SESSION),
        ]
    );
}

// docs/streams.md#joining
#[test]
fn rejoin_keeps_id_and_does_not_rebalance() {
    let mut g = GroupState::new(4);
    let a = join(&mut g, "a", T0);
    let b = join(&mut g, "b", T0);
    let before = g.clone();
    let again = g.rejoin(&a.member_id, SESSION, at(500));
    assert_eq!(
        again,
        Ok(Joined {
            member_id: a.member_id.clone(),
            generation: 2,
            assignment: vec![0, 1],
        })
    );
    assert_eq!(g.generation(), before.generation());
    assert_eq!(assignments(&g), assignments(&before));
    // Rejoining refreshes the session and may change its length.
    let longer = Duration::from_secs(60);
    assert!(g.rejoin(&b.member_id, longer, at(700)).is_ok());
    assert_eq!(g.next_deadline(), Some(at(500).plus(SESSION)));
    assert_eq!(g.expire(at(500).plus(SESSION)), vec![a.member_id.clone()]);
    assert_eq!(g.next_deadline(), Some(at(700).plus(longer)));
    // A member that is gone cannot rejoin under its old id.
    assert_eq!(
        g.rejoin(&a.member_id, SESSION, at(20_000)),
        Err(GroupError::UnknownMember {
            member: a.member_id.clone()
        })
    );
    assert_eq!(
        g.rejoin(&id("never-joined"), SESSION, T0)
            .map_err(|e| e.to_string()),
        Err("member never-joined is not in the group: join again without a member id".to_owned())
    );
}

// docs/streams.md#liveness
#[test]
fn session_timeout_is_bounded() {
    let mut g = GroupState::new(1);
    for bad in [
        Duration::from_millis(999),
        Duration::from_millis(600_001),
        Duration::ZERO,
    ] {
        assert_eq!(
            g.join("a", 1, bad, T0),
            Err(GroupError::InvalidSessionTimeout {
                session_timeout_ms: u64::try_from(bad.as_millis()).unwrap_or(u64::MAX)
            })
        );
    }
    assert_eq!(
        g.join("a", 1, Duration::from_millis(999), T0)
            .map_err(|e| e.to_string()),
        Err("session timeout of 999 ms is outside 1000..=600000 ms".to_owned())
    );
    assert_eq!((g.generation(), g.is_empty()), (0, true));
    let a = g.join("a", 1, MIN_SESSION_TIMEOUT, T0);
    let b = g.join("b", 1, MAX_SESSION_TIMEOUT, T0);
    assert!(a.is_ok() && b.is_ok());
    if let Ok(a) = a {
        assert_eq!(
            g.rejoin(&a.member_id, Duration::from_secs(601), T0)
                .map_err(|e| e.to_string()),
            Err("session timeout of 601000 ms is outside 1000..=600000 ms".to_owned())
        );
    }
}

// docs/streams.md#bounds
#[test]
fn group_is_bounded() {
    let mut g = GroupState::new(3);
    for i in 0..MAX_MEMBERS {
        assert!(g.join("m", i as u64, SESSION, T0).is_ok());
    }
    let generation = g.generation();
    assert_eq!(
        g.join("m", 0, SESSION, T0),
        Err(GroupError::GroupFull { max: MAX_MEMBERS })
    );
    assert_eq!(
        GroupError::GroupFull { max: MAX_MEMBERS }.to_string(),
        "group is full: it has 1000 members, the most allowed"
    );
    assert_eq!(g.generation(), generation);
}

// Heartbeats, leaving, expiry ----------------------------------------------------------------

// docs/streams.md#heartbeats
#[test]
fn heartbeat_tells_a_stale_member_its_new_assignment() {
    let mut g = GroupState::new(3);
    let a = join(&mut g, "a", T0);
    assert_eq!(
        g.heartbeat(&a.member_id, 1, at(100)),
        Ok(Heartbeat {
            generation: 1,
            assignment: vec![0, 1, 2],
            rebalanced: false
        })
    );
    join(&mut g, "b", at(200));
    assert_eq!(
        g.heartbeat(&a.member_id, 1, at(300)),
        Ok(Heartbeat {
            generation: 2,
            assignment: vec![0, 1],
            rebalanced: true
        })
    );
    assert_eq!(
        g.heartbeat(&a.member_id, 2, at(400)).map(|h| h.rebalanced),
        Ok(false)
    );
    assert_eq!(
        g.heartbeat(&id("ghost"), 2, at(400)),
        Err(GroupError::UnknownMember {
            member: id("ghost")
        })
    );
    assert_eq!(g.generation(), 2, "heartbeats never bump the generation");
}

// docs/streams.md#liveness
#[test]
fn heartbeats_extend_the_session_and_a_clock_step_back_does_not_shorten_it() {
    let mut g = GroupState::new(1);
    let a = join(&mut g, "a", T0);
    assert_eq!(g.next_deadline(), Some(T0.plus(SESSION)));
    assert!(g.heartbeat(&a.member_id, 1, at(4_000)).is_ok());
    assert_eq!(g.next_deadline(), Some(at(4_000).plus(SESSION)));
    assert!(g.heartbeat(&a.member_id, 1, at(1_000)).is_ok());
    assert_eq!(g.next_deadline(), Some(at(4_000).plus(SESSION)));
    assert_eq!(g.expire(at(13_999)), Vec::<MemberId>::new());
    assert_eq!(g.generation(), 1);
}

// docs/streams.md#joining
#[test]
fn leave_moves_partitions_and_bumps_generation() {
    let mut g = GroupState::new(4);
    let a = join(&mut g, "a", T0);
    let b = join(&mut g, "b", T0);
    let c = join(&mut g, "c", T0);
    assert_eq!(assignments(&g), vec![vec![0, 1], vec![2], vec![3]]);
    assert_eq!(g.leave(&b.member_id), Ok(()));
    assert_eq!(g.generation(), 4);
    assert_eq!(g.assignment_of(&a.member_id), Some(&[0, 1][..]));
    assert_eq!(g.assignment_of(&c.member_id), Some(&[2, 3][..]));
    assert_eq!(g.assignment_of(&b.member_id), None);
    assert_eq!(
        g.leave(&b.member_id),
        Err(GroupError::UnknownMember {
            member: b.member_id.clone()
        })
    );
    assert_eq!(g.generation(), 4);
    assert!(g.leave(&a.member_id).is_ok() && g.leave(&c.member_id).is_ok());
    assert_eq!(
        (g.generation(), g.is_empty(), g.next_deadline()),
        (6, true, None)
    );
}

// docs/streams.md#liveness
#[test]
fn expiry_moves_partitions_to_the_survivors() {
    let mut g = GroupState::new(7);
    let a = join(&mut g, "a", T0);
    let b = join(&mut g, "b", T0);
    let c = join(&mut g, "c", T0);
    assert!(g.heartbeat(&c.member_id, 3, at(5_000)).is_ok());
    assert_eq!(g.next_deadline(), Some(T0.plus(SESSION)));
    // Nothing is due a millisecond early; nothing changes.
    assert_eq!(g.expire(at(9_999)), Vec::<MemberId>::new());
    assert_eq!(g.generation(), 3);
    // a and b are due at the same instant: one rebalance for both, at the deadline itself.
    assert_eq!(
        g.expire(T0.plus(SESSION)),
        vec![a.member_id.clone(), b.member_id.clone()]
    );
    assert_eq!(g.generation(), 4);
    assert_eq!(
        g.assignment_of(&c.member_id),
        Some(&[0, 1, 2, 3, 4, 5, 6][..])
    );
    assert_eq!(g.next_deadline(), Some(at(5_000).plus(SESSION)));
    assert_eq!(
        g.heartbeat(&c.member_id, 3, at(6_000)),
        Ok(Heartbeat {
            generation: 4,
            assignment: vec![0, 1, 2, 3, 4, 5, 6],
            rebalanced: true
        })
    );
    assert_eq!(g.expire(at(16_000)), vec![c.member_id.clone()]);
    assert_eq!((g.generation(), g.is_empty()), (5, true));
}

// docs/streams.md#liveness
#[test]
fn a_dead_member_is_gone_before_expire_runs() {
    let mut g = GroupState::new(2);
    let a = join(&mut g, "a", T0);
    let deadline = T0.plus(SESSION);
    assert_eq!(g.check_commit(&a.member_id, 1, 0, at(9_999)), Ok(()));
    let gone = Err(GroupError::UnknownMember {
        member: a.member_id.clone(),
    });
    assert_eq!(g.check_commit(&a.member_id, 1, 0, deadline), gone);
    assert_eq!(g.heartbeat(&a.member_id, 1, deadline).map(|_| ()), gone);
    assert_eq!(g.rejoin(&a.member_id, SESSION, deadline).map(|_| ()), gone);
    // Still listed (and still holding its partitions) until the broker's timer expires it.
    assert_eq!(g.len(), 1);
    assert_eq!(g.expire(deadline), vec![a.member_id]);
}

// Commits ------------------------------------------------------------------------------------

// docs/streams.md#commits
#[test]
fn a_fenced_member_cannot_commit() {
    let mut g = GroupState::new(3);
    let a = join(&mut g, "a", T0);
    assert_eq!(g.check_commit(&a.member_id, 1, 2, at(1)), Ok(()));
    join(&mut g, "b", at(2));
    // Partition 0 is still a's, but a has not seen generation 2 yet.
    let stale = g.check_commit(&a.member_id, 1, 0, at(3));
    assert_eq!(
        stale,
        Err(GroupError::StaleGeneration {
            member: a.member_id.clone(),
            generation: 1,
            current: 2
        })
    );
    assert_eq!(
        stale.map_err(|e| e.to_string()),
        Err(format!(
            "member {} is fenced: generation 1 is stale, the group is at generation 2",
            a.member_id
        ))
    );
    let h = g.heartbeat(&a.member_id, 1, at(4));
    assert_eq!(h.map(|h| h.generation), Ok(2));
    assert_eq!(g.check_commit(&a.member_id, 2, 0, at(5)), Ok(()));
    // A generation from the future is just as stale.
    assert_eq!(
        g.check_commit(&a.member_id, 3, 0, at(5))
            .map_err(|e| e.to_string()),
        Err(format!(
            "member {} is fenced: generation 3 is stale, the group is at generation 2",
            a.member_id
        ))
    );
}

// docs/streams.md#commits
#[test]
fn a_member_commits_only_its_partitions() {
    let mut g = GroupState::new(3);
    let a = join(&mut g, "a", T0);
    let b = join(&mut g, "b", T0);
    assert_eq!(g.check_commit(&a.member_id, 2, 1, T0), Ok(()));
    assert_eq!(g.check_commit(&b.member_id, 2, 2, T0), Ok(()));
    for (member, partition) in [(&a.member_id, 2), (&b.member_id, 0), (&a.member_id, 3)] {
        assert_eq!(
            g.check_commit(member, 2, partition, T0),
            Err(GroupError::NotAssigned {
                member: member.clone(),
                partition,
                generation: 2
            })
        );
    }
    assert_eq!(
        g.check_commit(&a.member_id, 2, 2, T0)
            .map_err(|e| e.to_string()),
        Err(format!(
            "partition 2 is not assigned to member {} in generation 2",
            a.member_id
        ))
    );
    assert_eq!(
        g.check_commit(&id("ghost"), 2, 0, T0),
        Err(GroupError::UnknownMember {
            member: id("ghost")
        })
    );
}

// Partition count ----------------------------------------------------------------------------

// docs/streams.md#generations
#[test]
fn set_partitions_reassigns_when_the_count_changes() {
    let mut g = GroupState::new(4);
    let a = join(&mut g, "a", T0);
    let b = join(&mut g, "b", T0);
    g.set_partitions(4);
    assert_eq!(g.generation(), 2, "same count: no new generation");
    g.set_partitions(7);
    assert_eq!((g.generation(), g.partitions()), (3, 7));
    assert_eq!(g.assignment_of(&a.member_id), Some(&[0, 1, 2, 3][..]));
    assert_eq!(g.assignment_of(&b.member_id), Some(&[4, 5, 6][..]));
    assert!(matches!(
        g.check_commit(&b.member_id, 2, 4, T0),
        Err(GroupError::StaleGeneration { current: 3, .. })
    ));
    assert_eq!(g.check_commit(&b.member_id, 3, 6, T0), Ok(()));
    // An empty group also counts the change, so a member that joins later sees a new generation.
    let mut empty = GroupState::new(1);
    empty.set_partitions(2);
    assert_eq!(empty.generation(), 1);
    assert_eq!(join(&mut empty, "a", T0).assignment, vec![0, 1]);
}

#[test]
fn invariant_checker_catches_broken_states() {
    let mut g = GroupState::new(3);
    let a = join(&mut g, "a", T0);
    let b = join(&mut g, "b", T0);
    assert_eq!(g.check_invariants(), Ok(()));
    let mut overlap = g.clone();
    if let Some(m) = overlap.members.get_mut(&b.member_id) {
        m.assignment = vec![1, 2];
    }
    assert_eq!(
        overlap.check_invariants(),
        Err("partition 1 has 2 owners with 2 members".to_owned())
    );
    let mut out_of_range = g.clone();
    if let Some(m) = out_of_range.members.get_mut(&a.member_id) {
        m.assignment = vec![0, 1, 3];
    }
    assert!(out_of_range.check_invariants().is_err());
}

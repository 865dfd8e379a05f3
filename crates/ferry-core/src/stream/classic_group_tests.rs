//! State-machine tests of the classic group: explicit `now`, exact outcomes, a manual clock.
//! Each names the rule of the module docs it enforces (`// docs: <rule>`). The property test at
//! the end drives random sequences and checks the invariants after every step.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

const T0: Timestamp = Timestamp(1_000_000);
const SESSION: Duration = Duration::from_secs(10);
const REBALANCE: Duration = Duration::from_secs(30);
const NONCE: u64 = 0x0123_4567_89ab_cdef;

fn at(ms: u64) -> Timestamp {
    T0.plus(Duration::from_millis(ms))
}

/// No initial delay: a join phase completes as soon as everyone joined.
fn group() -> ClassicGroup {
    ClassicGroup::new(ClassicGroupConfig {
        initial_rebalance_delay: Duration::ZERO,
        ..ClassicGroupConfig::default()
    })
}

fn protocols(list: &[(&str, &str)]) -> Vec<Protocol> {
    list.iter()
        .map(|(name, metadata)| Protocol {
            name: (*name).to_owned(),
            metadata: metadata.as_bytes().to_vec(),
        })
        .collect()
}

fn request(member_id: &str, list: &[(&str, &str)]) -> JoinRequest {
    JoinRequest {
        member_id: member_id.to_owned(),
        group_instance_id: None,
        client_id: "client".to_owned(),
        client_host: "/10.0.0.1".to_owned(),
        session_timeout: SESSION,
        rebalance_timeout: REBALANCE,
        protocol_type: "consumer".to_owned(),
        protocols: protocols(list),
        member_id_policy: MemberIdPolicy::RequireKnown,
    }
}

/// The KIP-394 two-step join of a new member offering `list`: its id and the second reply.
fn join_new(
    g: &mut ClassicGroup,
    list: &[(&str, &str)],
    now: Timestamp,
) -> (String, Outcome<Reply<JoinResponse>>) {
    let first = g.on_join(request("", list), NONCE, now);
    assert!(first.released.is_empty());
    let Reply::Now(Err(ClassicGroupError::MemberIdRequired { member_id })) = first.reply else {
        panic!("expected MEMBER_ID_REQUIRED, got {:?}", first.reply);
    };
    let second = g.on_join(request(&member_id, list), NONCE, now);
    (member_id, second)
}

fn rejoin(
    g: &mut ClassicGroup,
    id: &str,
    list: &[(&str, &str)],
    now: Timestamp,
) -> Outcome<Reply<JoinResponse>> {
    g.on_join(request(id, list), NONCE, now)
}

fn now_joined(reply: Reply<JoinResponse>) -> Joined {
    match reply {
        Reply::Now(Ok(joined)) => joined,
        other => panic!("expected a join answered now, got {other:?}"),
    }
}

fn assert_held(reply: &Reply<JoinResponse>, id: &str) {
    assert_eq!(
        reply,
        &Reply::Held {
            member_id: id.to_owned()
        }
    );
}

fn released_join<'a>(released: &'a Released, id: &str) -> &'a Joined {
    let found = released.joins.iter().find(|(m, _)| m == id);
    match found {
        Some((_, Ok(joined))) => joined,
        other => panic!("no successful join released for {id}: {other:?}"),
    }
}

fn sync(
    g: &mut ClassicGroup,
    id: &str,
    generation: i32,
    assignments: &[(&str, &str)],
    now: Timestamp,
) -> Outcome<Reply<SyncResponse>> {
    let request = SyncRequest {
        member_id: id.to_owned(),
        generation,
        protocol_type: Some("consumer".to_owned()),
        protocol_name: None,
        assignments: assignments
            .iter()
            .map(|(m, a)| ((*m).to_owned(), a.as_bytes().to_vec()))
            .collect(),
    };
    g.on_sync(request, now)
}

fn synced(assignment: &str) -> SyncResponse {
    Ok(Synced {
        protocol_type: "consumer".to_owned(),
        protocol_name: "range".to_owned(),
        assignment: assignment.as_bytes().to_vec(),
    })
}

fn heartbeat(
    g: &mut ClassicGroup,
    id: &str,
    generation: i32,
    now: Timestamp,
) -> Result<(), ClassicGroupError> {
    let outcome = g.on_heartbeat(id, generation, now);
    outcome.reply
}

fn unknown_member(id: &str) -> ClassicGroupError {
    ClassicGroupError::UnknownMemberId {
        member_id: id.to_owned(),
    }
}

const RANGE_A: &[(&str, &str)] = &[("range", "meta-a")];
const RANGE_B: &[(&str, &str)] = &[("range", "meta-b")];
const RANGE_C: &[(&str, &str)] = &[("range", "meta-c")];

/// A `Stable` group at generation 2 with leader `a` and follower `b` (no initial delay), all
/// done at `T0`. Returns (a, b).
fn stable_pair(g: &mut ClassicGroup) -> (String, String) {
    let (a, first) = join_new(g, RANGE_A, T0);
    assert_eq!(
        now_joined(first.reply).generation,
        1,
        "a alone completes at once"
    );
    assert_eq!(
        sync(g, &a, 1, &[(&a, "a1")], T0).reply,
        Reply::Now(synced("a1"))
    );
    let (b, joined_b) = join_new(g, RANGE_B, T0);
    assert_held(&joined_b.reply, &b);
    assert_eq!(
        heartbeat(g, &a, 1, T0),
        Err(ClassicGroupError::RebalanceInProgress)
    );
    let a_again = rejoin(g, &a, RANGE_A, T0);
    assert_eq!(now_joined(a_again.reply).generation, 2);
    assert_eq!(released_join(&a_again.released, &b).generation, 2);
    assert_eq!(
        sync(g, &b, 2, &[], T0).reply,
        Reply::Held {
            member_id: b.clone()
        }
    );
    let leader_sync = sync(g, &a, 2, &[(&a, "a2"), (&b, "b2")], T0);
    assert_eq!(leader_sync.reply, Reply::Now(synced("a2")));
    assert_eq!(leader_sync.released.syncs, vec![(b.clone(), synced("b2"))]);
    assert_eq!(g.state(), ClassicGroupState::Stable);
    (a, b)
}

/// [`stable_pair`], then a third member `c` joins at 100 ms and `a` and `b` rejoin, completing
/// the join phase of generation 3. Returns (a, b, c).
fn stable_pair_and_a_third(g: &mut ClassicGroup) -> (String, String, String) {
    let (a, b) = stable_pair(g);
    let (c, _) = join_new(g, RANGE_C, at(100));
    rejoin(g, &a, RANGE_A, at(100));
    rejoin(g, &b, RANGE_B, at(100));
    (a, b, c)
}

/// [`stable_pair_and_a_third`], then the followers `b` and `c` sync at 200 ms and are held
/// until the leader `a` syncs. Returns (a, b, c).
fn followers_held_in_sync(g: &mut ClassicGroup) -> (String, String, String) {
    let (a, b, c) = stable_pair_and_a_third(g);
    for follower in [&b, &c] {
        assert_eq!(
            sync(g, follower, 3, &[], at(200)).reply,
            Reply::Held {
                member_id: follower.clone()
            }
        );
    }
    (a, b, c)
}

// Join phase, sync phase -------------------------------------------------------------------------

// docs: join phase (initial delay), completion, sync phase
#[test]
fn two_members_join_in_one_rebalance_and_the_follower_waits_for_the_leader() {
    let mut g = ClassicGroup::new(ClassicGroupConfig::default()); // 3 s initial delay
    let (a, ja) = join_new(&mut g, RANGE_A, T0);
    assert_held(&ja.reply, &a);
    assert_eq!(g.state(), ClassicGroupState::PreparingRebalance);
    let (b, jb) = join_new(&mut g, RANGE_B, at(1_000));
    assert_held(&jb.reply, &b);
    assert!(g.tick(at(2_999)).is_empty());
    // A member came during the delay: wait another 3 s.
    assert!(g.tick(at(3_000)).is_empty());
    assert_eq!(g.next_deadline(), Some(at(6_000)));
    let released = g.tick(at(6_000));
    assert_eq!(released.joins.len(), 2);
    assert_eq!(g.generation(), 1);
    assert_eq!(g.state(), ClassicGroupState::CompletingRebalance);
    let leader = released_join(&released, &a);
    assert_eq!(leader.leader, a);
    assert_eq!(
        (leader.protocol_type.as_str(), leader.protocol_name.as_str()),
        ("consumer", "range")
    );
    let mut seen: Vec<(String, Vec<u8>)> = leader
        .members
        .iter()
        .map(|m| (m.member_id.clone(), m.metadata.clone()))
        .collect();
    seen.sort();
    let mut expected = vec![
        (a.clone(), b"meta-a".to_vec()),
        (b.clone(), b"meta-b".to_vec()),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    let follower = released_join(&released, &b);
    assert_eq!(
        (follower.leader.as_str(), follower.members.len()),
        (a.as_str(), 0)
    );

    let follower_sync = sync(&mut g, &b, 1, &[], at(6_100));
    assert_eq!(
        follower_sync.reply,
        Reply::Held {
            member_id: b.clone()
        }
    );
    let leader_sync = sync(
        &mut g,
        &a,
        1,
        &[(&a, "pa"), (&b, "pb"), ("stranger", "x")],
        at(6_200),
    );
    assert_eq!(leader_sync.reply, Reply::Now(synced("pa")));
    assert_eq!(leader_sync.released.syncs, vec![(b.clone(), synced("pb"))]);
    assert_eq!(g.state(), ClassicGroupState::Stable);
    // In Stable a sync is answered at once with the stored assignment.
    assert_eq!(
        sync(&mut g, &b, 1, &[], at(6_300)).reply,
        Reply::Now(synced("pb"))
    );
}

// docs: join phase (initial delay only waits again at generation 0)
#[test]
fn the_initial_delay_is_not_extended_after_generation_zero() {
    let mut g = ClassicGroup::new(ClassicGroupConfig::default());
    let (a, _) = join_new(&mut g, RANGE_A, T0);
    let done = g.tick(at(3_000));
    assert_eq!(released_join(&done, &a).generation, 1);
    assert_eq!(
        g.on_leave(
            &[LeavingMember {
                member_id: a,
                group_instance_id: None
            }],
            at(3_100)
        )
        .reply,
        vec![Ok(())]
    );
    assert_eq!((g.state(), g.generation()), (ClassicGroupState::Empty, 2));
    let (c, _) = join_new(&mut g, RANGE_C, at(4_000));
    let (d, _) = join_new(&mut g, RANGE_B, at(5_000));
    let released = g.tick(at(7_000));
    assert_eq!(released.joins.len(), 2, "{released:?}");
    assert_eq!(released_join(&released, &c).generation, 3);
    assert_eq!(released_join(&released, &d).leader, c);
}

// docs: rebalances (adding a member), heartbeat REBALANCE_IN_PROGRESS, completion
#[test]
fn a_third_member_makes_the_others_rejoin_and_the_generation_go_up() {
    let mut g = group();
    let (a, b) = stable_pair(&mut g);
    let (c, jc) = join_new(&mut g, RANGE_C, at(1_000));
    assert_held(&jc.reply, &c);
    assert_eq!(g.state(), ClassicGroupState::PreparingRebalance);
    assert_eq!(
        heartbeat(&mut g, &a, 2, at(1_100)),
        Err(ClassicGroupError::RebalanceInProgress)
    );
    assert_eq!(
        heartbeat(&mut g, &b, 2, at(1_100)),
        Err(ClassicGroupError::RebalanceInProgress)
    );
    // A commit made before rejoining is still allowed.
    assert_eq!(g.check_commit(&b, 2, at(1_150)).reply, Ok(()));
    assert_held(&rejoin(&mut g, &a, RANGE_A, at(1_200)).reply, &a);
    let last = rejoin(&mut g, &b, RANGE_B, at(1_300));
    let joined_b = now_joined(last.reply);
    assert_eq!(
        (joined_b.generation, joined_b.leader.as_str()),
        (3, a.as_str())
    );
    assert_eq!(last.released.joins.len(), 2);
    assert_eq!(released_join(&last.released, &a).members.len(), 3);
    assert!(released_join(&last.released, &c).members.is_empty());
    assert_eq!(g.generation(), 3);
    assert_eq!(
        heartbeat(&mut g, &a, 2, at(1_400)),
        Err(ClassicGroupError::IllegalGeneration {
            generation: 2,
            current: 3
        })
    );
    assert_eq!(
        heartbeat(&mut g, &a, 3, at(1_400)),
        Ok(()),
        "heartbeats are fine while syncing"
    );
}

// docs: join phase (deadline drops members that did not rejoin), sessions (held joins exempt)
#[test]
fn a_member_that_does_not_rejoin_is_dropped_at_the_rebalance_deadline() {
    let mut g = group();
    let (a, b) = stable_pair(&mut g);
    let (c, _) = join_new(&mut g, RANGE_C, at(1_000));
    let deadline = at(1_000).plus(REBALANCE);
    assert_eq!(
        g.next_deadline(),
        Some(T0.plus(SESSION)),
        "a's and b's sessions come first"
    );
    assert_held(&rejoin(&mut g, &a, RANGE_A, at(2_000)).reply, &a);
    // b keeps heartbeating but never rejoins; a's held join outlives its 10 s session.
    for ms in (6_000..31_000).step_by(5_000) {
        assert_eq!(
            heartbeat(&mut g, &b, 2, at(ms)),
            Err(ClassicGroupError::RebalanceInProgress)
        );
    }
    assert!(g.tick(at(30_999)).is_empty());
    assert!(
        g.members.contains_key(&a),
        "a held join is not expired by its session"
    );
    assert_eq!(g.next_deadline(), Some(deadline));
    let released = g.tick(deadline);
    assert_eq!(released.joins.len(), 2);
    let joined_a = released_join(&released, &a);
    assert_eq!((joined_a.generation, joined_a.members.len()), (3, 2));
    assert!(!g.members.contains_key(&b));
    assert_eq!(heartbeat(&mut g, &b, 2, deadline), Err(unknown_member(&b)));
    assert_eq!(released_join(&released, &c).leader, a);
}

// docs: completion (a leader that did not rejoin is replaced)
#[test]
fn a_leader_that_does_not_rejoin_is_replaced() {
    let mut g = group();
    let (a, b) = stable_pair(&mut g);
    // b changes its subscription; a stays silent except for heartbeats.
    assert_held(
        &rejoin(&mut g, &b, &[("range", "meta-b2")], at(1_000)).reply,
        &b,
    );
    for ms in (5_000..31_000).step_by(5_000) {
        let _ = heartbeat(&mut g, &a, 2, at(ms));
    }
    let released = g.tick(at(1_000).plus(REBALANCE));
    let joined_b = released_join(&released, &b);
    assert_eq!(
        (joined_b.leader.as_str(), joined_b.members.len()),
        (b.as_str(), 1)
    );
    assert_eq!(
        joined_b.members.first().map(|m| m.metadata.clone()),
        Some(b"meta-b2".to_vec())
    );
    assert_eq!(g.leader(), Some(b.as_str()));
}

// docs: sessions
#[test]
fn a_silent_member_is_removed_when_its_session_ends() {
    let mut g = group();
    let (a, b) = stable_pair(&mut g);
    assert_eq!(heartbeat(&mut g, &a, 2, at(5_000)), Ok(()));
    assert_eq!(g.next_deadline(), Some(T0.plus(SESSION)), "b's session");
    assert!(g.tick(at(9_999)).is_empty());
    assert_eq!(g.state(), ClassicGroupState::Stable);
    assert!(g.tick(at(10_000)).is_empty());
    assert_eq!(g.state(), ClassicGroupState::PreparingRebalance);
    assert!(!g.members.contains_key(&b));
    assert_eq!(
        heartbeat(&mut g, &a, 2, at(10_100)),
        Err(ClassicGroupError::RebalanceInProgress)
    );
    let joined = now_joined(rejoin(&mut g, &a, RANGE_A, at(10_200)).reply);
    assert_eq!((joined.generation, joined.members.len()), (3, 1));
}

// docs: time never runs backwards
#[test]
fn a_clock_stepping_back_never_shortens_a_session() {
    let mut g = group();
    let (a, _b) = stable_pair(&mut g);
    assert_eq!(heartbeat(&mut g, &a, 2, at(8_000)), Ok(()));
    assert_eq!(heartbeat(&mut g, &a, 2, at(1_000)), Ok(()));
    assert_eq!(
        g.members.get(&a).map(Member::session_deadline),
        Some(at(18_000))
    );
}

// docs: rebalances (known members answered at once, leader and changed protocols rebalance)
#[test]
fn known_members_rejoining_in_stable() {
    let mut g = group();
    let (a, b) = stable_pair(&mut g);
    let same = now_joined(rejoin(&mut g, &b, RANGE_B, at(100)).reply);
    assert_eq!(
        (same.generation, same.leader.as_str(), same.members.len()),
        (2, a.as_str(), 0)
    );
    assert_eq!(g.state(), ClassicGroupState::Stable);
    // Same names, other metadata: a change.
    assert_held(
        &rejoin(&mut g, &b, &[("range", "meta-b2")], at(200)).reply,
        &b,
    );
    assert_eq!(g.state(), ClassicGroupState::PreparingRebalance);

    let mut g = group();
    let (a, _) = stable_pair(&mut g);
    assert_held(&rejoin(&mut g, &a, RANGE_A, at(100)).reply, &a);
    assert_eq!(
        g.state(),
        ClassicGroupState::PreparingRebalance,
        "the leader's join rebalances"
    );
}

// docs: rebalances (a known member that missed its response in CompletingRebalance)
#[test]
fn rejoining_with_the_same_protocols_while_completing_answers_at_once() {
    let mut g = group();
    let (a, _, c) = stable_pair_and_a_third(&mut g);
    assert_eq!(g.state(), ClassicGroupState::CompletingRebalance);
    let leader = now_joined(rejoin(&mut g, &a, RANGE_A, at(200)).reply);
    assert_eq!((leader.generation, leader.members.len()), (3, 3));
    let follower = now_joined(rejoin(&mut g, &c, RANGE_C, at(200)).reply);
    assert_eq!((follower.generation, follower.members.len()), (3, 0));
    assert_eq!(g.state(), ClassicGroupState::CompletingRebalance);
}

// docs: held requests (a retried join replaces the held one)
#[test]
fn a_repeated_join_answers_the_held_one() {
    let mut g = group();
    let (a, b) = stable_pair(&mut g);
    assert_held(&rejoin(&mut g, &a, RANGE_A, at(100)).reply, &a);
    let again = rejoin(&mut g, &a, RANGE_A, at(200));
    assert_held(&again.reply, &a);
    assert_eq!(
        again.released.joins,
        vec![(a.clone(), Err(ClassicGroupError::RebalanceInProgress))]
    );
    let last = rejoin(&mut g, &b, RANGE_B, at(300));
    assert_eq!(now_joined(last.reply).generation, 3);
    assert_eq!(last.released.joins.len(), 1, "a's join is answered once");
}

// docs: held requests (a join phase answers held syncs)
#[test]
fn a_rebalance_during_the_sync_phase_answers_the_held_syncs() {
    let mut g = group();
    let (a, b, c) = followers_held_in_sync(&mut g);
    let (d, jd) = join_new(&mut g, RANGE_A, at(300));
    assert_held(&jd.reply, &d);
    let mut syncs = jd.released.syncs;
    syncs.sort_by(|x, y| x.0.cmp(&y.0));
    let mut expected = vec![
        (b.clone(), Err(ClassicGroupError::RebalanceInProgress)),
        (c.clone(), Err(ClassicGroupError::RebalanceInProgress)),
    ];
    expected.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(syncs, expected);
    assert_eq!(
        sync(&mut g, &a, 3, &[], at(400)).reply,
        Reply::Now(Err(ClassicGroupError::RebalanceInProgress))
    );
}

// docs: sync phase (pending-sync timeout)
#[test]
fn a_leader_that_never_syncs_is_removed_at_the_sync_deadline() {
    let mut g = group();
    let (a, b, _) = followers_held_in_sync(&mut g);
    for ms in (5_000..30_100).step_by(5_000) {
        assert_eq!(heartbeat(&mut g, &a, 3, at(ms)), Ok(()));
    }
    let deadline = at(100).plus(REBALANCE);
    assert_eq!(g.next_deadline(), Some(deadline));
    assert!(g.tick(at(30_099)).is_empty());
    let released = g.tick(deadline);
    assert_eq!(released.syncs.len(), 2);
    assert!(
        released
            .syncs
            .iter()
            .all(|(_, r)| *r == Err(ClassicGroupError::RebalanceInProgress))
    );
    assert!(!g.members.contains_key(&a));
    assert_eq!(g.state(), ClassicGroupState::PreparingRebalance);
    assert_eq!(
        g.leader(),
        Some(b.as_str()),
        "the earliest-added remaining member"
    );
}

// docs: errors (SyncGroup)
#[test]
fn sync_errors() {
    let mut g = group();
    let (a, b) = stable_pair(&mut g);
    assert_eq!(
        sync(&mut g, "nobody", 2, &[], at(1)).reply,
        Reply::Now(Err(unknown_member("nobody")))
    );
    assert_eq!(
        sync(&mut g, &b, 1, &[], at(1)).reply,
        Reply::Now(Err(ClassicGroupError::IllegalGeneration {
            generation: 1,
            current: 2
        }))
    );
    let wrong_name = SyncRequest {
        member_id: b.clone(),
        generation: 2,
        protocol_type: None,
        protocol_name: Some("roundrobin".to_owned()),
        assignments: vec![],
    };
    assert_eq!(
        g.on_sync(wrong_name, at(1)).reply,
        Reply::Now(Err(ClassicGroupError::InconsistentGroupProtocol))
    );
    rejoin(&mut g, &a, RANGE_A, at(2));
    assert_eq!(
        sync(&mut g, &b, 2, &[], at(3)).reply,
        Reply::Now(Err(ClassicGroupError::RebalanceInProgress))
    );
}

// docs: errors (JoinGroup: protocol type, common protocol)
#[test]
fn inconsistent_protocols_are_refused() {
    let mut g = group();
    let (_a, _b) = stable_pair(&mut g);
    let mut other_type = request("", &[("range", "x")]);
    other_type.protocol_type = "connect".to_owned();
    let refused = Reply::Now(Err(ClassicGroupError::InconsistentGroupProtocol));
    assert_eq!(g.on_join(other_type, NONCE, at(1)).reply, refused);
    assert_eq!(
        g.on_join(request("", &[("roundrobin", "x")]), NONCE, at(1))
            .reply,
        refused
    );
    assert_eq!(g.on_join(request("", &[]), NONCE, at(1)).reply, refused);
    let mut empty_type = request("", &[("range", "x")]);
    empty_type.protocol_type = String::new();
    assert_eq!(g.on_join(empty_type, NONCE, at(1)).reply, refused);
    assert_eq!(
        g.state(),
        ClassicGroupState::Stable,
        "refusals change nothing"
    );
    let (c, jc) = join_new(&mut g, &[("roundrobin", "x"), ("range", "y")], at(2));
    assert_held(&jc.reply, &c);
    // An empty group takes any protocol type.
    let mut g = group();
    let mut connect = request("", &[("sticky", "s")]);
    connect.protocol_type = "connect".to_owned();
    connect.member_id_policy = MemberIdPolicy::AssignOnJoin;
    let joined = now_joined(g.on_join(connect, NONCE, T0).reply);
    assert_eq!(
        (joined.protocol_type.as_str(), joined.protocol_name.as_str()),
        ("connect", "sticky")
    );
}

// docs: completion (protocol vote)
#[test]
fn the_protocol_is_chosen_by_vote_among_common_protocols() {
    let mut g = group();
    let (a, first) = join_new(&mut g, &[("roundrobin", "a"), ("range", "a")], T0);
    now_joined(first.reply);
    let (b, _) = join_new(
        &mut g,
        &[("sticky", "b"), ("range", "b"), ("roundrobin", "b")],
        T0,
    );
    let (c, _) = join_new(&mut g, &[("range", "c"), ("roundrobin", "c")], T0);
    rejoin(
        &mut g,
        &b,
        &[("sticky", "b"), ("range", "b"), ("roundrobin", "b")],
        T0,
    );
    let last = rejoin(&mut g, &a, &[("roundrobin", "a"), ("range", "a")], T0);
    // a votes roundrobin, b (sticky is not common) range, c range.
    assert_eq!(released_join(&last.released, &c).protocol_name, "range");
    assert_eq!(g.protocol_name(), Some("range"));

    let mut g = group();
    let (a, _) = join_new(&mut g, &[("roundrobin", "a"), ("range", "a")], T0);
    let (b, _) = join_new(&mut g, &[("range", "b"), ("roundrobin", "b")], T0);
    let last = rejoin(&mut g, &a, &[("roundrobin", "a"), ("range", "a")], T0);
    assert_eq!(
        released_join(&last.released, &b).protocol_name,
        "roundrobin",
        "a tie goes to the leader's order"
    );
}

// docs: errors (JoinGroup: session timeout, group size, bounds)
#[test]
fn session_timeouts_group_size_and_bounds() {
    let mut g = ClassicGroup::new(ClassicGroupConfig {
        max_members: 2,
        initial_rebalance_delay: Duration::ZERO,
        ..ClassicGroupConfig::default()
    });
    for (ms, ok) in [
        (999, false),
        (1_000, true),
        (1_800_000, true),
        (1_800_001, false),
    ] {
        let mut r = request("", RANGE_A);
        r.session_timeout = Duration::from_millis(ms);
        let reply = g.on_join(r, NONCE, T0).reply;
        let expected_err = ClassicGroupError::InvalidSessionTimeout {
            session_timeout_ms: ms,
            min_ms: 1_000,
            max_ms: 1_800_000,
        };
        assert_eq!(
            reply == Reply::Now(Err(expected_err)),
            !ok,
            "{ms} ms: {reply:?}"
        );
    }
    let mut g = ClassicGroup::new(ClassicGroupConfig {
        max_members: 2,
        initial_rebalance_delay: Duration::ZERO,
        ..ClassicGroupConfig::default()
    });
    let (a, _) = join_new(&mut g, RANGE_A, T0);
    let minted = g.on_join(request("", RANGE_B), NONCE, T0).reply;
    let (b, _) = join_new(&mut g, RANGE_B, T0);
    let full = Reply::Now(Err(ClassicGroupError::GroupMaxSizeReached { max: 2 }));
    assert_eq!(g.on_join(request("", RANGE_C), NONCE, T0).reply, full);
    // A pending id minted before the group filled up is refused too when it comes back.
    let Reply::Now(Err(ClassicGroupError::MemberIdRequired { member_id: late })) = minted else {
        panic!("{minted:?}");
    };
    assert_eq!(g.on_join(request(&late, RANGE_C), NONCE, T0).reply, full);
    // Members already in may always rejoin; the refused pending id still holds the phase back
    // until it expires.
    assert!(matches!(
        rejoin(&mut g, &a, RANGE_A, T0).reply,
        Reply::Held { .. }
    ));
    assert!(matches!(
        rejoin(&mut g, &b, RANGE_B, T0).reply,
        Reply::Held { .. }
    ));
    let released = g.tick(T0.plus(SESSION));
    assert_eq!(released_join(&released, &a).members.len(), 2);

    let invalid = |r: JoinRequest, g: &mut ClassicGroup| match g.on_join(r, NONCE, T0).reply {
        Reply::Now(Err(ClassicGroupError::InvalidRequest { .. })) => {}
        other => panic!("expected INVALID_REQUEST, got {other:?}"),
    };
    let mut g = group();
    let many: Vec<(String, String)> = (0..=MAX_PROTOCOLS)
        .map(|i| (format!("p{i}"), String::new()))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, m)| (n.as_str(), m.as_str())).collect();
    invalid(request("", &many), &mut g);
    let mut big = request("", RANGE_A);
    big.protocols = vec![Protocol {
        name: "range".into(),
        metadata: vec![0; MAX_MEMBER_METADATA_BYTES + 1],
    }];
    invalid(big, &mut g);
    let mut long_name = request("", RANGE_A);
    long_name.protocol_type = "c".repeat(MAX_PROTOCOL_NAME_BYTES + 1);
    invalid(long_name, &mut g);
    assert_eq!(g.state(), ClassicGroupState::Empty);
}

// docs: member ids, new members (KIP-394)
#[test]
fn member_id_required_flow_and_pending_expiry() {
    let mut g = group();
    let reply = g.on_join(request("", RANGE_A), NONCE, T0).reply;
    assert_eq!(
        reply,
        Reply::Now(Err(ClassicGroupError::MemberIdRequired {
            member_id: "client-01234567-89ab-cdef-0000-000000000001".to_owned()
        }))
    );
    assert_eq!(
        (g.state(), g.len(), g.generation()),
        (ClassicGroupState::Empty, 0, 0)
    );
    assert_eq!(
        g.next_deadline(),
        Some(T0.plus(SESSION)),
        "the pending id's expiry"
    );
    assert!(g.tick(T0.plus(SESSION)).is_empty());
    assert_eq!(g.next_deadline(), None);
    let late = "client-01234567-89ab-cdef-0000-000000000001";
    assert_eq!(
        rejoin(&mut g, late, RANGE_A, at(10_001)).reply,
        Reply::Now(Err(unknown_member(late)))
    );
    // Ids are unique: the counter goes on.
    let (a, ja) = join_new(&mut g, RANGE_A, at(11_000));
    assert_eq!(a, "client-01234567-89ab-cdef-0000-000000000002");
    assert_eq!(now_joined(ja.reply).member_id, a);
    // Long client ids are cut on a character boundary.
    let mut long = request("", RANGE_B);
    long.client_id = format!("{}é", "x".repeat(MAX_CLIENT_ID_BYTES - 1));
    let Reply::Now(Err(ClassicGroupError::MemberIdRequired { member_id })) =
        g.on_join(long, 7, at(11_000)).reply
    else {
        panic!("expected MEMBER_ID_REQUIRED");
    };
    assert_eq!(
        member_id,
        format!(
            "{}-00000000-0000-0007-0000-000000000003",
            "x".repeat(MAX_CLIENT_ID_BYTES - 1)
        )
    );
}

// docs: join phase (a pending id holds back completion), leave (pending ids)
#[test]
fn an_outstanding_pending_id_holds_back_the_join_phase() {
    let mut g = group();
    let (a, b) = stable_pair(&mut g);
    let Reply::Now(Err(ClassicGroupError::MemberIdRequired { member_id: c })) =
        g.on_join(request("", RANGE_C), NONCE, at(100)).reply
    else {
        panic!("expected MEMBER_ID_REQUIRED");
    };
    assert_eq!(
        g.state(),
        ClassicGroupState::Stable,
        "minting an id changes nothing"
    );
    rejoin(&mut g, &a, RANGE_A, at(200));
    assert_held(&rejoin(&mut g, &b, RANGE_B, at(300)).reply, &b);
    let last = rejoin(&mut g, &c, RANGE_C, at(400));
    assert_eq!(now_joined(last.reply).generation, 3);
    assert_eq!(last.released.joins.len(), 2);

    // A pending id that leaves lets the phase complete.
    let mut g = group();
    let (a, b) = stable_pair(&mut g);
    let Reply::Now(Err(ClassicGroupError::MemberIdRequired { member_id: c })) =
        g.on_join(request("", RANGE_C), NONCE, at(100)).reply
    else {
        panic!("expected MEMBER_ID_REQUIRED");
    };
    let (d, _) = join_new(&mut g, RANGE_B, at(150));
    rejoin(&mut g, &a, RANGE_A, at(200));
    let left = g.on_leave(
        &[LeavingMember {
            member_id: b,
            group_instance_id: None,
        }],
        at(250),
    );
    assert!(left.released.is_empty());
    let gone = g.on_leave(
        &[LeavingMember {
            member_id: c,
            group_instance_id: None,
        }],
        at(300),
    );
    assert_eq!(gone.reply, vec![Ok(())]);
    assert_eq!(released_join(&gone.released, &d).generation, 3);
}

// docs: new members (AssignOnJoin, v0 to v3)
#[test]
fn old_clients_are_added_at_once() {
    let mut g = group();
    let mut r = request("", RANGE_A);
    r.member_id_policy = MemberIdPolicy::AssignOnJoin;
    let joined = now_joined(g.on_join(r.clone(), NONCE, T0).reply);
    assert_eq!(
        (
            joined.generation,
            joined.leader.clone(),
            joined.members.len()
        ),
        (1, joined.member_id.clone(), 1)
    );
    let second = g.on_join(r, NONCE, T0).reply;
    let Reply::Held { member_id } = second else {
        panic!("{second:?}")
    };
    assert!(g.members.contains_key(&member_id));
}

// docs: leave, held requests (removed members get UNKNOWN_MEMBER_ID)
#[test]
fn leaving_members() {
    let mut g = group();
    let (a, b) = stable_pair(&mut g);
    let out = g.on_leave(
        &[
            LeavingMember {
                member_id: b.clone(),
                group_instance_id: None,
            },
            LeavingMember {
                member_id: "nobody".into(),
                group_instance_id: None,
            },
        ],
        at(100),
    );
    assert_eq!(out.reply, vec![Ok(()), Err(unknown_member("nobody"))]);
    assert_eq!(g.state(), ClassicGroupState::PreparingRebalance);
    // a is now everyone, so its join completes the phase at once.
    let joined = now_joined(rejoin(&mut g, &a, RANGE_A, at(200)).reply);
    assert_eq!((joined.generation, joined.members.len()), (3, 1));
    assert_eq!(g.state(), ClassicGroupState::CompletingRebalance);
}

// docs: held requests (removed members get UNKNOWN_MEMBER_ID)
#[test]
fn held_requests_of_leaving_members_are_answered() {
    let mut g = group();
    let (a, b) = stable_pair(&mut g);
    let (c, _) = join_new(&mut g, RANGE_C, at(100));
    assert_held(&rejoin(&mut g, &a, RANGE_A, at(100)).reply, &a);
    let out = g.on_leave(
        &[LeavingMember {
            member_id: a.clone(),
            group_instance_id: None,
        }],
        at(200),
    );
    assert_eq!(
        out.released.joins,
        vec![(a.clone(), Err(unknown_member(&a)))]
    );
    rejoin(&mut g, &b, RANGE_B, at(300));
    assert_eq!(g.state(), ClassicGroupState::CompletingRebalance);
    assert_eq!(
        sync(&mut g, &c, 3, &[], at(400)).reply,
        Reply::Held {
            member_id: c.clone()
        }
    );
    let out = g.on_leave(
        &[LeavingMember {
            member_id: c.clone(),
            group_instance_id: None,
        }],
        at(500),
    );
    assert_eq!(
        out.released.syncs,
        vec![(c.clone(), Err(unknown_member(&c)))]
    );
    assert_eq!(g.state(), ClassicGroupState::PreparingRebalance);
    // The last member leaving empties the group, which completes a generation.
    let out = g.on_leave(
        &[LeavingMember {
            member_id: b.clone(),
            group_instance_id: None,
        }],
        at(600),
    );
    assert_eq!(out.reply, vec![Ok(())]);
    assert_eq!(
        (g.state(), g.generation(), g.leader()),
        (ClassicGroupState::Empty, 4, None)
    );
}

// docs: leave (by instance id), static membership treated as dynamic
#[test]
fn leaving_by_instance_id() {
    let mut g = group();
    let mut r = request("", RANGE_A);
    r.group_instance_id = Some("host-1".to_owned());
    r.member_id_policy = MemberIdPolicy::AssignOnJoin;
    let joined = now_joined(g.on_join(r, NONCE, T0).reply);
    assert_eq!(
        joined
            .members
            .first()
            .and_then(|m| m.group_instance_id.clone()),
        Some("host-1".to_owned())
    );
    let out = g.on_leave(
        &[LeavingMember {
            member_id: String::new(),
            group_instance_id: Some("host-1".into()),
        }],
        at(1),
    );
    assert_eq!(out.reply, vec![Ok(())]);
    assert!(g.is_empty());
}

// docs: offset commits
#[test]
fn commits_are_fenced_by_member_and_generation() {
    let mut g = group();
    assert_eq!(
        g.check_commit("", -1, T0).reply,
        Ok(()),
        "standalone consumer on an empty group"
    );
    assert_eq!(g.check_commit("x", 0, T0).reply, Err(unknown_member("x")));
    let (a, b) = stable_pair(&mut g);
    assert_eq!(g.check_commit("", -1, at(1)).reply, Err(unknown_member("")));
    assert_eq!(g.check_commit(&a, 2, at(1)).reply, Ok(()));
    assert_eq!(
        g.check_commit(&a, 1, at(1)).reply,
        Err(ClassicGroupError::IllegalGeneration {
            generation: 1,
            current: 2
        })
    );
    assert_eq!(
        g.check_commit("zed", 2, at(1)).reply,
        Err(unknown_member("zed"))
    );
    rejoin(&mut g, &a, RANGE_A, at(2));
    assert_eq!(
        g.check_commit(&b, 2, at(3)).reply,
        Ok(()),
        "PreparingRebalance, right generation"
    );
    rejoin(&mut g, &b, RANGE_B, at(4));
    assert_eq!(
        g.check_commit(&b, 3, at(5)).reply,
        Err(ClassicGroupError::RebalanceInProgress)
    );
    assert_eq!(
        g.check_commit(&b, 2, at(5)).reply,
        Err(ClassicGroupError::IllegalGeneration {
            generation: 2,
            current: 3
        })
    );
    // An allowed commit refreshes the session.
    let mut g = group();
    let (a, _) = stable_pair(&mut g);
    assert_eq!(g.check_commit(&a, 2, at(9_000)).reply, Ok(()));
    assert_eq!(
        g.members.get(&a).map(Member::session_deadline),
        Some(at(19_000))
    );
}

// docs: states, DescribeGroups
#[test]
fn describe_shows_metadata_only_when_stable() {
    assert_eq!(
        [
            ClassicGroupState::Empty,
            ClassicGroupState::PreparingRebalance,
            ClassicGroupState::CompletingRebalance,
            ClassicGroupState::Stable,
            ClassicGroupState::Dead,
        ]
        .map(ClassicGroupState::as_str),
        [
            "Empty",
            "PreparingRebalance",
            "CompletingRebalance",
            "Stable",
            "Dead"
        ]
    );
    let mut g = group();
    let empty = g.describe();
    assert_eq!(
        (
            empty.state,
            empty.protocol_type.as_str(),
            empty.members.len()
        ),
        (ClassicGroupState::Empty, "", 0)
    );
    let (a, b) = stable_pair(&mut g);
    let d = g.describe();
    assert_eq!(
        (
            d.state.as_str(),
            d.protocol_type.as_str(),
            d.protocol_name.as_str()
        ),
        ("Stable", "consumer", "range")
    );
    let member_a = d.members.iter().find(|m| m.member_id == a).cloned();
    assert_eq!(
        member_a,
        Some(MemberDescription {
            member_id: a.clone(),
            group_instance_id: None,
            client_id: "client".into(),
            client_host: "/10.0.0.1".into(),
            metadata: b"meta-a".to_vec(),
            assignment: b"a2".to_vec(),
        })
    );
    rejoin(&mut g, &b, &[("range", "meta-b2")], at(1));
    let d = g.describe();
    assert_eq!(
        (d.state.to_string().as_str(), d.protocol_name.as_str()),
        ("PreparingRebalance", "")
    );
    assert!(
        d.members
            .iter()
            .all(|m| m.metadata.is_empty() && m.assignment.is_empty())
    );
}

// docs: states (Dead), DeleteGroups
#[test]
fn delete_only_an_empty_group() {
    let mut g = group();
    let (a, _b) = stable_pair(&mut g);
    assert_eq!(g.delete(), Err(ClassicGroupError::NonEmptyGroup));
    let mut g = group();
    g.on_join(request("", RANGE_A), NONCE, T0);
    assert_eq!(g.delete(), Ok(()));
    assert_eq!(g.state(), ClassicGroupState::Dead);
    assert_eq!(g.delete(), Err(ClassicGroupError::GroupIdNotFound));
    let dead = Reply::Now(Err(ClassicGroupError::CoordinatorNotAvailable));
    assert_eq!(g.on_join(request("", RANGE_A), NONCE, T0).reply, dead);
    assert_eq!(
        sync(&mut g, &a, 2, &[], T0).reply,
        Reply::Now(Err(ClassicGroupError::CoordinatorNotAvailable))
    );
    assert_eq!(
        heartbeat(&mut g, &a, 2, T0),
        Err(ClassicGroupError::CoordinatorNotAvailable)
    );
    assert_eq!(
        g.check_commit("", -1, T0).reply,
        Err(ClassicGroupError::CoordinatorNotAvailable)
    );
    assert_eq!(
        g.on_leave(
            &[LeavingMember {
                member_id: a,
                group_instance_id: None
            }],
            T0
        )
        .reply,
        vec![Err(ClassicGroupError::CoordinatorNotAvailable)]
    );
    assert_eq!(g.next_deadline(), None);
}

// docs: join phase (a zero rebalance timeout completes at the next tick)
#[test]
fn a_zero_rebalance_timeout_completes_at_the_next_tick() {
    let mut g = group();
    let (a, b) = stable_pair(&mut g);
    let mut ra = request(&a, RANGE_A);
    ra.rebalance_timeout = Duration::ZERO;
    let mut rb = request(&b, RANGE_B);
    rb.rebalance_timeout = Duration::ZERO;
    assert_held(&g.on_join(ra, NONCE, at(1)).reply, &a);
    // a's new timeout is 0, b's is still 30 s: the phase waits for b.
    let phase_deadline = g.join_phase.as_ref().map(|p| p.deadline);
    assert_eq!(phase_deadline, Some(at(1).plus(REBALANCE)));
    assert_eq!(now_joined(g.on_join(rb, NONCE, at(2)).reply).generation, 3);
    assert_eq!(g.state(), ClassicGroupState::CompletingRebalance);
    assert_eq!(
        g.next_deadline(),
        Some(at(2)),
        "sync deadline with zero timeouts"
    );
    let released = g.tick(at(2));
    assert!(released.is_empty());
    assert_eq!((g.state(), g.generation()), (ClassicGroupState::Empty, 4));
}

// Property test ----------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Join,
    Sync,
}

const PROTOCOL_SETS: [&[(&str, &str)]; 4] = [
    &[("range", "r1")],
    &[("range", "r2"), ("roundrobin", "x")],
    &[("roundrobin", "y")],
    &[("sticky", "s"), ("range", "r3")],
];

#[derive(Clone, Debug)]
enum Op {
    JoinNew {
        set: usize,
        known: bool,
        session_ms: u64,
        rebalance_ms: u64,
        other_type: bool,
    },
    Rejoin {
        pick: usize,
        set: usize,
        session_ms: u64,
        rebalance_ms: u64,
    },
    Sync {
        pick: usize,
        lag: i32,
        skip_first: bool,
    },
    Heartbeat {
        pick: usize,
        lag: i32,
    },
    /// Every member heartbeats, keeping the group alive across clock advances.
    HeartbeatAll,
    /// Every member sends SyncGroup at the current generation, in id order.
    SyncAll,
    Leave {
        pick: usize,
        other: Option<usize>,
    },
    Commit {
        pick: usize,
        lag: i32,
    },
    Advance {
        ms: u64,
    },
    StepBack {
        ms: u64,
    },
    Tick,
}

fn session_ms() -> impl Strategy<Value = u64> {
    prop_oneof![8 => (2..=30u64).prop_map(|k| k * 500), 1 => Just(500u64), 1 => 1_000..20_000u64]
}

fn rebalance_ms() -> impl Strategy<Value = u64> {
    prop_oneof![6 => (1..=40u64).prop_map(|k| k * 500), 1 => Just(0u64), 1 => 0..25_000u64]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize, any::<bool>(), session_ms(), rebalance_ms(), prop::bool::weighted(0.05))
            .prop_map(|(set, known, session_ms, rebalance_ms, other_type)| Op::JoinNew { set, known, session_ms, rebalance_ms, other_type }),
        5 => (any::<usize>(), prop_oneof![6 => Just(0usize), 1 => 0..4usize], session_ms(), rebalance_ms())
            .prop_map(|(pick, set, session_ms, rebalance_ms)| Op::Rejoin { pick, set, session_ms, rebalance_ms }),
        5 => (any::<usize>(), prop_oneof![4 => Just(0), 1 => 1..3i32], prop::bool::weighted(0.2))
            .prop_map(|(pick, lag, skip_first)| Op::Sync { pick, lag, skip_first }),
        5 => (any::<usize>(), prop_oneof![4 => Just(0), 1 => 1..3i32]).prop_map(|(pick, lag)| Op::Heartbeat { pick, lag }),
        3 => Just(Op::HeartbeatAll),
        2 => Just(Op::SyncAll),
        1 => (any::<usize>(), prop::option::of(any::<usize>())).prop_map(|(pick, other)| Op::Leave { pick, other }),
        2 => (any::<usize>(), -1..2i32).prop_map(|(pick, lag)| Op::Commit { pick, lag }),
        4 => prop_oneof![(1..20u64).prop_map(|k| k * 500), 1..12_000u64].prop_map(|ms| Op::Advance { ms }),
        1 => (1..2_000u64).prop_map(|ms| Op::StepBack { ms }),
        2 => Just(Op::Tick),
    ]
}

/// The front end's view: what is held, which ids exist.
struct Harness {
    g: ClassicGroup,
    now: Timestamp,
    held: BTreeSet<(String, Kind)>,
    /// Every id ever seen, plus one never minted.
    ids: Vec<String>,
    last_generation: i32,
}

impl Harness {
    /// Mostly a member (the leader when `pick % 4 == 1`), else any id ever seen.
    fn pick(&self, pick: usize) -> String {
        let members: Vec<&String> = self.g.members.keys().collect();
        let id = match (pick % 4, members.len()) {
            (0, _) | (_, 0) => self.ids.get(pick % self.ids.len()),
            (1, _) => self.g.leader.as_ref(),
            (_, n) => members.get(pick / 4 % n).copied(),
        };
        id.cloned().unwrap_or_default()
    }

    fn learn(&mut self, id: &str) {
        if !self.ids.iter().any(|known| known == id) {
            self.ids.push(id.to_owned());
        }
    }

    /// Delivers released answers: each must match exactly one held request.
    fn deliver(&mut self, released: Released) -> Result<(), TestCaseError> {
        for (id, response) in &released.joins {
            prop_assert!(
                self.held.remove(&(id.clone(), Kind::Join)),
                "join of {} released but not held",
                id
            );
            if let Ok(joined) = response {
                prop_assert_eq!(&joined.member_id, id);
                prop_assert!(joined.generation >= 1 && joined.generation <= self.g.generation());
            }
        }
        for (id, _) in &released.syncs {
            prop_assert!(
                self.held.remove(&(id.clone(), Kind::Sync)),
                "sync of {} released but not held",
                id
            );
        }
        Ok(())
    }

    fn hold<R: fmt::Debug>(&mut self, reply: &Reply<R>, kind: Kind) -> Result<(), TestCaseError> {
        if let Reply::Held { member_id } = reply {
            prop_assert!(
                self.held.insert((member_id.clone(), kind)),
                "{} held twice",
                member_id
            );
            self.learn(&member_id.clone());
        }
        Ok(())
    }

    fn join_request(
        &self,
        member_id: String,
        set: usize,
        session_ms: u64,
        rebalance_ms: u64,
    ) -> JoinRequest {
        let list = PROTOCOL_SETS.get(set).copied().unwrap_or_default();
        JoinRequest {
            session_timeout: Duration::from_millis(session_ms),
            rebalance_timeout: Duration::from_millis(rebalance_ms),
            ..request(&member_id, list)
        }
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        let generation = self.g.generation();
        match op {
            Op::JoinNew {
                set,
                known,
                session_ms,
                rebalance_ms,
                other_type,
            } => {
                let mut r = self.join_request(String::new(), set, session_ms, rebalance_ms);
                r.member_id_policy = if known {
                    MemberIdPolicy::RequireKnown
                } else {
                    MemberIdPolicy::AssignOnJoin
                };
                if other_type {
                    r.protocol_type = "connect".to_owned();
                }
                let out = self.g.on_join(r, self.ids.len() as u64, self.now);
                self.joined(out)?;
            }
            Op::Rejoin {
                pick,
                set,
                session_ms,
                rebalance_ms,
            } => {
                let r = self.join_request(self.pick(pick), set, session_ms, rebalance_ms);
                let out = self.g.on_join(r, 0, self.now);
                self.joined(out)?;
            }
            Op::SyncAll => {
                let ids: Vec<String> = self.g.members.keys().cloned().collect();
                for id in ids {
                    self.sync(id, generation, false)?;
                }
            }
            Op::Sync {
                pick,
                lag,
                skip_first,
            } => self.sync(self.pick(pick), generation - lag, skip_first)?,
            Op::Heartbeat { pick, lag } => {
                let out = self
                    .g
                    .on_heartbeat(&self.pick(pick), generation - lag, self.now);
                self.deliver(out.released)?;
            }
            Op::Leave { pick, other } => {
                let mut leaving = vec![LeavingMember {
                    member_id: self.pick(pick),
                    group_instance_id: None,
                }];
                leaving.extend(other.map(|o| LeavingMember {
                    member_id: self.pick(o),
                    group_instance_id: None,
                }));
                let out = self.g.on_leave(&leaving, self.now);
                prop_assert_eq!(out.reply.len(), leaving.len());
                self.deliver(out.released)?;
            }
            Op::HeartbeatAll => {
                let ids: Vec<String> = self.g.members.keys().cloned().collect();
                for id in ids {
                    let out = self.g.on_heartbeat(&id, generation, self.now);
                    self.deliver(out.released)?;
                }
            }
            Op::Commit { pick, lag } => {
                let out = self
                    .g
                    .check_commit(&self.pick(pick), generation - lag, self.now);
                self.deliver(out.released)?;
            }
            Op::Advance { ms } => self.now = self.now.plus(Duration::from_millis(ms)),
            Op::StepBack { ms } => self.now = Timestamp(self.now.0.saturating_sub(ms)),
            Op::Tick => {
                let released = self.g.tick(self.now);
                self.deliver(released)?;
            }
        }
        self.check()
    }

    /// A SyncGroup from `member_id`; as leader it assigns every member (but the first, if
    /// `skip_first`) its own id's bytes.
    fn sync(
        &mut self,
        member_id: String,
        generation: i32,
        skip_first: bool,
    ) -> Result<(), TestCaseError> {
        let assignments = self
            .g
            .members
            .keys()
            .skip(usize::from(skip_first))
            .map(|id| (id.clone(), id.as_bytes().to_vec()))
            .collect();
        let r = SyncRequest {
            member_id: member_id.clone(),
            generation,
            protocol_type: None,
            protocol_name: None,
            assignments,
        };
        let leader_completing = self.g.state() == ClassicGroupState::CompletingRebalance
            && self.g.leader() == Some(member_id.as_str());
        let out = self.g.on_sync(r, self.now);
        self.deliver(out.released)?;
        self.hold(&out.reply, Kind::Sync)?;
        if let Reply::Now(Ok(synced)) = &out.reply {
            prop_assert_eq!(self.g.state(), ClassicGroupState::Stable);
            prop_assert_eq!(Some(synced.protocol_name.as_str()), self.g.protocol_name());
            let stored = self
                .g
                .members
                .get(&member_id)
                .and_then(|m| m.assignment.clone());
            prop_assert_eq!(Some(&synced.assignment), stored.as_ref());
        }
        if leader_completing && self.g.state() == ClassicGroupState::Stable {
            // The leader's assignments were stored; a member it left out got empty bytes.
            for (i, (id, m)) in self.g.members.iter().enumerate() {
                let expected = if skip_first && i == 0 {
                    Vec::new()
                } else {
                    id.as_bytes().to_vec()
                };
                prop_assert_eq!(m.assignment.as_ref(), Some(&expected));
            }
        }
        Ok(())
    }

    fn joined(&mut self, out: Outcome<Reply<JoinResponse>>) -> Result<(), TestCaseError> {
        self.deliver(out.released)?;
        self.hold(&out.reply, Kind::Join)?;
        match &out.reply {
            Reply::Now(Ok(joined)) => {
                self.learn(&joined.member_id.clone());
                prop_assert_eq!(joined.generation, self.g.generation());
                prop_assert_eq!(
                    joined.members.is_empty(),
                    joined.leader != joined.member_id
                        || self.g.state() != ClassicGroupState::CompletingRebalance
                );
            }
            Reply::Now(Err(ClassicGroupError::MemberIdRequired { member_id })) => {
                self.learn(&member_id.clone())
            }
            _ => {}
        }
        Ok(())
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        let g = &self.g;
        prop_assert_eq!(g.check_invariants(), Ok(()));
        prop_assert!(
            g.generation() >= self.last_generation,
            "generation went down"
        );
        self.last_generation = g.generation();
        let actually_held: BTreeSet<(String, Kind)> = g
            .members
            .iter()
            .filter_map(|(id, m)| match m.held {
                Held::Join => Some((id.clone(), Kind::Join)),
                Held::Sync => Some((id.clone(), Kind::Sync)),
                Held::Nothing => None,
            })
            .collect();
        prop_assert_eq!(&actually_held, &self.held);
        if g.state() == ClassicGroupState::Stable {
            prop_assert!(g.members.values().all(|m| m.assignment.is_some()));
        }
        match g.leader() {
            Some(leader) => prop_assert!(g.members.contains_key(leader)),
            None => prop_assert!(g.is_empty()),
        }
        Ok(())
    }

    /// Runs the clock past every deadline, with no more requests: everything held is answered
    /// and every member's session ends.
    fn drain(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..10_000 {
            let Some(deadline) = self.g.next_deadline() else {
                break;
            };
            self.now = self.now.max(deadline);
            let released = self.g.tick(self.now);
            self.deliver(released)?;
            self.check()?;
        }
        prop_assert_eq!(self.g.next_deadline(), None);
        prop_assert!(self.held.is_empty(), "never answered: {:?}", self.held);
        prop_assert_eq!(self.g.state(), ClassicGroupState::Empty);
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    // docs: every rule; the invariants of check_invariants, held requests answered exactly once
    #[test]
    fn random_sequences_keep_the_invariants(
        ops in prop::collection::vec(op(), 1..150),
        delay_ms in prop_oneof![Just(0u64), Just(3_000u64)],
        max_members in 2..6usize,
    ) {
        let g = ClassicGroup::new(ClassicGroupConfig {
            max_members,
            initial_rebalance_delay: Duration::from_millis(delay_ms),
            ..ClassicGroupConfig::default()
        });
        let mut h = Harness { g, now: T0, held: BTreeSet::new(), ids: vec!["never-minted".to_owned()], last_generation: 0 };
        for op in ops {
            h.apply(op)?;
        }
        h.drain()?;
    }
}

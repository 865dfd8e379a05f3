//! Consumer groups through the real binary: members sharing partitions, a member that dies and
//! whose partitions move to the survivors, fencing, resets, offsets across a restart, and group
//! consumption over server-sent events.

mod common;

use common::{DataDir, Server, SseReader, runtime};
use ferry_client::Client;
use ferry_client::api::{
    AppendRecord, AppendRequest, CommitOffset, CommitRequest, GroupDetails, JoinRequest,
    OffsetReset, PollRequest, ReadRecord, ResetOffset, ResetRequest, StreamConfig,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How long a test waits for something that should happen soon.
const PATIENCE: Duration = Duration::from_secs(15);
/// The shortest session timeout the broker accepts.
const SESSION_TIMEOUT_MS: u64 = 1_000;
/// Records the group consumes before the dying member dies (of the 600 appended).
const DIE_AFTER_RECORDS: u64 = 200;

fn partitions(n: u32) -> StreamConfig {
    StreamConfig {
        partitions: n,
        ..StreamConfig::default()
    }
}

fn earliest() -> JoinRequest {
    JoinRequest {
        session_timeout_ms: Some(SESSION_TIMEOUT_MS),
        auto_offset_reset: Some(OffsetReset::Earliest),
        ..JoinRequest::default()
    }
}

fn poll(member_id: &str, generation: u64, wait_ms: u64) -> PollRequest {
    PollRequest {
        member_id: member_id.to_owned(),
        generation,
        max_records: Some(50),
        max_bytes: None,
        wait_ms: Some(wait_ms),
    }
}

fn commit(member_id: &str, generation: u64, offsets: &BTreeMap<u32, u64>) -> CommitRequest {
    CommitRequest {
        member_id: Some(member_id.to_owned()),
        generation: Some(generation),
        offsets: offsets
            .iter()
            .map(|(&partition, &offset)| CommitOffset {
                partition,
                offset,
                metadata: None,
            })
            .collect(),
    }
}

async fn group(client: &Client, stream: &str, name: &str) -> GroupDetails {
    client
        .group_info(stream, name)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// One record a member consumed; `seq` orders consumption across members.
#[derive(Clone, Copy, Debug)]
struct Consumed {
    member: usize,
    partition: u32,
    offset: u64,
    seq: u64,
}

/// What the members of the big test share.
#[derive(Default)]
struct Ledger {
    consumed: Mutex<Vec<Consumed>>,
    seq: AtomicU64,
    stop: AtomicBool,
}

impl Ledger {
    fn record(&self, member: usize, partition: u32, offset: u64) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        self.lock().push(Consumed {
            member,
            partition,
            offset,
            seq,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Consumed>> {
        self.consumed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn covered(&self) -> BTreeSet<(u32, u64)> {
        self.lock()
            .iter()
            .map(|c| (c.partition, c.offset))
            .collect()
    }
}

/// How a member ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Consumes until told to stop, then leaves.
    Survive,
    /// Once the group has all three members, it committed a batch and the group consumed
    /// [`DIE_AFTER_RECORDS`], polls one more batch without committing it and goes silent (no
    /// leave): a crash.
    Die,
}

/// What a dying member leaves behind: its partitions, and the sequence number at its death.
#[derive(Clone, Debug, Default)]
struct Death {
    assignment: Vec<u32>,
    seq: u64,
}

/// A member: join, poll with a wait, commit after each batch; rejoin if dropped.
async fn member(client: Client, id: usize, fate: Fate, ledger: Arc<Ledger>) -> Option<Death> {
    let joined = client
        .join_group("orders", "billing", &earliest())
        .await
        .unwrap_or_else(|e| panic!("member {id}: join: {e}"));
    let (mut member_id, mut generation) = (joined.member_id, joined.generation);
    let mut committed_batches = 0;
    while !ledger.stop.load(Ordering::SeqCst) {
        let polled = match client
            .poll_group("orders", "billing", &poll(&member_id, generation, 100))
            .await
        {
            Ok(polled) => polled,
            Err(e) if e.code() == "unknown_member" => {
                let joined = client
                    .join_group("orders", "billing", &earliest())
                    .await
                    .unwrap_or_else(|e| panic!("member {id}: rejoin: {e}"));
                (member_id, generation) = (joined.member_id, joined.generation);
                continue;
            }
            Err(e) => panic!("member {id}: poll: {e}"),
        };
        generation = polled.generation;
        let mut next: BTreeMap<u32, u64> = BTreeMap::new();
        for record in &polled.records {
            let partition = record.partition.unwrap_or_else(|| panic!("no partition"));
            ledger.record(id, partition, record.offset);
            next.insert(partition, record.offset + 1);
        }
        let stable = polled.assignment.len() == 2;
        let midway = ledger.seq.load(Ordering::SeqCst) >= DIE_AFTER_RECORDS;
        if fate == Fate::Die && stable && midway && committed_batches > 0 && !next.is_empty() {
            // Dies holding this batch uncommitted, without leaving.
            let seq = ledger.seq.fetch_add(1, Ordering::SeqCst);
            return Some(Death {
                assignment: polled.assignment,
                seq,
            });
        }
        if next.is_empty() {
            continue;
        }
        match client
            .commit_offsets("orders", "billing", &commit(&member_id, generation, &next))
            .await
        {
            Ok(_) => committed_batches += 1,
            // A rebalance since the poll: the new owner starts from the last commit.
            Err(e) if e.code() == "stale_generation" || e.code() == "unknown_member" => {}
            Err(e) => panic!("member {id}: commit: {e}"),
        }
    }
    let _ = client.leave_group("orders", "billing", &member_id).await;
    None
}

// docs/streams.md#consumer-groups
#[test]
fn survivors_take_over_a_dead_members_partitions_from_its_last_commit() {
    const RECORDS: u64 = 600;
    const BATCH: u64 = 20;
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        client
            .put_stream("orders", &partitions(6))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let ledger = Arc::new(Ledger::default());
        let fates = [Fate::Survive, Fate::Die, Fate::Survive];
        let members: Vec<_> = fates
            .iter()
            .enumerate()
            .map(|(id, fate)| tokio::spawn(member(server.client(), id, *fate, Arc::clone(&ledger))))
            .collect();
        let producer = {
            let client = server.client();
            tokio::spawn(async move {
                let mut appended = Vec::new();
                for batch in 0..RECORDS / BATCH {
                    let records = (0..BATCH)
                        .map(|i| {
                            let n = batch * BATCH + i;
                            AppendRecord::text(format!("order-{n}"))
                                .with_key(format!("customer-{}", n % 37))
                        })
                        .collect();
                    let request = AppendRequest {
                        records,
                        expected_offset: None,
                    };
                    let placed = client
                        .append("orders", &request)
                        .await
                        .unwrap_or_else(|e| panic!("append: {e}"));
                    appended.extend(placed.iter().map(|p| (p.partition, p.offset)));
                    tokio::time::sleep(Duration::from_millis(40)).await;
                }
                appended
            })
        };
        let [first, dying, third] = <[_; 3]>::try_from(members).unwrap_or_else(|_| panic!("3"));
        let death = tokio::time::timeout(PATIENCE, dying)
            .await
            .unwrap_or_else(|_| panic!("the dying member never died"))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no death"));
        // Nobody else can commit its partitions until its session expires.
        let at_death = group(&client, "orders", "billing").await;
        let committed_at_death: BTreeMap<u32, u64> = at_death
            .partitions
            .iter()
            .map(|p| (p.partition, p.committed_offset.unwrap_or(0)))
            .collect();

        let appended: BTreeSet<(u32, u64)> = producer
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .collect();
        assert_eq!(appended.len() as u64, RECORDS);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let missing = appended.difference(&ledger.covered()).count();
            if missing == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{missing} records never consumed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The survivors own every partition between them.
        let now = group(&client, "orders", "billing").await;
        assert_eq!(now.members.len(), 2, "{now:?}");
        let mut owned: Vec<u32> = now
            .members
            .iter()
            .flat_map(|m| m.assignment.clone())
            .collect();
        owned.sort_unstable();
        assert_eq!(owned, vec![0, 1, 2, 3, 4, 5]);
        ledger.stop.store(true, Ordering::SeqCst);
        for survivor in [first, third] {
            survivor.await.unwrap_or_else(|e| panic!("{e}"));
        }

        let consumed = ledger.lock().clone();
        for partition in death.assignment {
            let from = committed_at_death.get(&partition).copied().unwrap_or(0);
            let after: Vec<&Consumed> = consumed
                .iter()
                .filter(|c| c.partition == partition && c.seq > death.seq)
                .collect();
            assert!(after.iter().all(|c| c.member != 1));
            // The survivor resumed exactly at the dead member's last commit ...
            let first_offset = after.iter().map(|c| c.offset).min();
            let last_appended = appended
                .iter()
                .filter(|(p, _)| *p == partition)
                .map(|(_, o)| *o)
                .max();
            if last_appended.is_some_and(|last| last >= from) {
                assert_eq!(first_offset, Some(from), "partition {partition}");
            }
            // ... and consumed everything from there, including what the dead member had
            // polled but not committed.
            let by_survivors: BTreeSet<u64> = after.iter().map(|c| c.offset).collect();
            for (_, offset) in appended
                .iter()
                .filter(|(p, o)| *p == partition && *o >= from)
            {
                assert!(
                    by_survivors.contains(offset),
                    "partition {partition} offset {offset}"
                );
            }
        }
    });
}

#[test]
fn a_fenced_member_cannot_commit_and_resets_need_an_empty_group() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        common::seeded_stream(&client, "s", 2, "", 4).await;
        let a = client
            .join_group("s", "g", &earliest())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.assignment, vec![0, 1]);
        let both: BTreeMap<u32, u64> = [(0, 1), (1, 1)].into_iter().collect();
        let ok = client
            .commit_offsets("s", "g", &commit(&a.member_id, a.generation, &both))
            .await;
        assert_eq!(ok.ok(), Some(2));

        // A second member joins: the group rebalances and a's generation is stale.
        let b = client
            .join_group("s", "g", &earliest())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.generation, a.generation + 1);
        let fenced = client
            .commit_offsets("s", "g", &commit(&a.member_id, a.generation, &both))
            .await
            .err()
            .unwrap_or_else(|| panic!("a fenced member committed"));
        assert_eq!(
            (fenced.status(), fenced.code()),
            (Some(409), "stale_generation")
        );
        // Nor may a member commit a partition it does not own, nor anyone without membership.
        let not_mine: BTreeMap<u32, u64> = b.assignment.iter().map(|p| (1 - *p, 2)).collect();
        let conflict = client
            .commit_offsets("s", "g", &commit(&b.member_id, b.generation, &not_mine))
            .await
            .err()
            .map(|e| (e.status(), e.code().to_owned()));
        assert_eq!(conflict, Some((Some(409), "conflict".to_owned())));
        let memberless = CommitRequest {
            offsets: vec![CommitOffset::default()],
            ..CommitRequest::default()
        };
        let busy = client
            .commit_offsets("s", "g", &memberless)
            .await
            .err()
            .map(|e| e.code().to_owned());
        assert_eq!(busy.as_deref(), Some("conflict"));
        let heartbeat = client
            .heartbeat(
                "s",
                "g",
                &ferry_client::api::HeartbeatRequest {
                    member_id: a.member_id.clone(),
                    generation: a.generation,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(heartbeat.rebalanced);

        // Resets only while the group is empty.
        let active = client
            .reset_offsets("s", "g", &ResetRequest::ToEarliest)
            .await
            .err()
            .map(|e| (e.status(), e.code().to_owned()));
        assert_eq!(active, Some((Some(409), "conflict".to_owned())));
        let deleting = client
            .delete_group("s", "g")
            .await
            .err()
            .map(|e| e.code().to_owned());
        assert_eq!(deleting.as_deref(), Some("conflict"));
        for member in [&a.member_id, &b.member_id] {
            client
                .leave_group("s", "g", member)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let gone = client
            .leave_group("s", "g", &a.member_id)
            .await
            .err()
            .map(|e| e.code().to_owned());
        assert_eq!(gone.as_deref(), Some("unknown_member"));

        let reset = client
            .reset_offsets("s", "g", &ResetRequest::ToEarliest)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let offsets: Vec<(u32, u64)> = reset.iter().map(|o| (o.partition, o.offset)).collect();
        assert_eq!(offsets, vec![(0, 0), (1, 0)]);
        let one = ResetRequest::ToOffsets(vec![ResetOffset {
            partition: 1,
            offset: 2,
        }]);
        let reset = client
            .reset_offsets("s", "g", &one)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let offsets: Vec<(u32, u64)> = reset.iter().map(|o| (o.partition, o.offset)).collect();
        assert_eq!(offsets, vec![(0, 0), (1, 2)]);
        let details = group(&client, "s", "g").await;
        let lag: Vec<u64> = details.partitions.iter().map(|p| p.lag_records).collect();
        assert_eq!(lag, vec![2, 0]);
        // A memberless commit works on an empty group, and the group can then be deleted.
        let done = CommitRequest {
            offsets: vec![CommitOffset {
                partition: 0,
                offset: 2,
                metadata: Some("by hand".into()),
            }],
            ..CommitRequest::default()
        };
        assert_eq!(client.commit_offsets("s", "g", &done).await.ok(), Some(1));
        let listed = client
            .list_groups("s")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            listed.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            vec!["g"]
        );
        client
            .delete_group("s", "g")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let missing = client
            .group_info("s", "g")
            .await
            .err()
            .map(|e| (e.status(), e.code().to_owned()));
        assert_eq!(missing, Some((Some(404), "group_not_found".to_owned())));
    });
}

#[test]
fn committed_offsets_survive_a_restart() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let rt = runtime();
    rt.block_on(async {
        let client = server.client();
        client
            .put_stream("s", &partitions(2))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let records = (0..6)
            .map(|i| AppendRecord::text(format!("r{i}")).with_partition(i % 2))
            .collect();
        client
            .append(
                "s",
                &AppendRequest {
                    records,
                    expected_offset: None,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let m = client
            .join_group("s", "g", &earliest())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let polled = client
            .poll_group("s", "g", &poll(&m.member_id, m.generation, 0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(polled.records.len(), 6);
        let offsets: BTreeMap<u32, u64> = [(0, 2), (1, 1)].into_iter().collect();
        let mut request = commit(&m.member_id, m.generation, &offsets);
        request.offsets[0].metadata = Some("checkpoint".into());
        client
            .commit_offsets("s", "g", &request)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    });
    let server = server.restart();
    rt.block_on(async {
        let client = server.client();
        let details = group(&client, "s", "g").await;
        assert!(
            details.members.is_empty(),
            "members do not survive a restart"
        );
        let committed: Vec<(Option<u64>, Option<&str>)> = details
            .partitions
            .iter()
            .map(|p| (p.committed_offset, p.metadata.as_deref()))
            .collect();
        assert_eq!(
            committed,
            vec![(Some(2), Some("checkpoint")), (Some(1), None)]
        );
        // A new member resumes from them.
        let m = client
            .join_group("s", "g", &earliest())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let polled = client
            .poll_group("s", "g", &poll(&m.member_id, m.generation, 0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(Option<u32>, u64)> = polled
            .records
            .iter()
            .map(|r| (r.partition, r.offset))
            .collect();
        assert_eq!(got, vec![(Some(0), 2), (Some(1), 1), (Some(1), 2)]);
    });
}

#[test]
fn group_events_deliver_records_leave_on_disconnect_and_resume_from_the_last_event_id() {
    let dir = DataDir::new();
    let server = Server::start(&dir, &[]);
    let client = server.client();
    runtime().block_on(async {
        common::seeded_stream(&client, "s", 2, "r", 4).await;
        let path =
            "/v1/streams/s/groups/g/events?auto_offset_reset=earliest&session_timeout_ms=5000";
        let mut events = SseReader::open(&server, path, &[]).await;
        let assignment = events
            .next_of("assignment", PATIENCE)
            .await
            .unwrap_or_else(|| panic!("ended"));
        assert!(
            assignment.data.contains("\"assignment\":[0,1]"),
            "{assignment:?}"
        );
        let mut ids = Vec::new();
        for _ in 0..3 {
            let event = events
                .next_of("record", PATIENCE)
                .await
                .unwrap_or_else(|| panic!("ended"));
            let record: ReadRecord =
                serde_json::from_str(&event.data).unwrap_or_else(|e| panic!("{e}"));
            ids.push((
                record.partition,
                record.offset,
                event.id.unwrap_or_default(),
            ));
        }
        // Records of a partition in order; the id is the position after each one.
        assert_eq!(
            ids,
            vec![
                (Some(0), 0, "0:1".to_owned()),
                (Some(0), 1, "0:2".to_owned()),
                (Some(1), 0, "0:2,1:1".to_owned())
            ]
        );
        assert_eq!(group(&client, "s", "g").await.members.len(), 1);
        drop(events);
        // The member leaves when the client goes away, long before its session would expire.
        let deadline = Instant::now() + Duration::from_secs(4);
        while !group(&client, "s", "g").await.members.is_empty() {
            assert!(
                Instant::now() < deadline,
                "the member did not leave on disconnect"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Nothing was committed by sending.
        let details = group(&client, "s", "g").await;
        assert!(
            details
                .partitions
                .iter()
                .all(|p| p.committed_offset.is_none()),
            "{details:?}"
        );

        // Reconnecting with the last id commits it, then resumes after it.
        let mut resumed = SseReader::open(&server, path, &[("Last-Event-ID", "0:2,1:1")]).await;
        let next = resumed
            .next_of("record", PATIENCE)
            .await
            .unwrap_or_else(|| panic!("ended"));
        let record: ReadRecord = serde_json::from_str(&next.data).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((record.partition, record.offset), (Some(1), 1));
        assert_eq!(next.id.as_deref(), Some("0:2,1:2"));
        let details = group(&client, "s", "g").await;
        let committed: Vec<Option<u64>> = details
            .partitions
            .iter()
            .map(|p| p.committed_offset)
            .collect();
        assert_eq!(committed, vec![Some(2), Some(1)]);
        // New records arrive live.
        let live = AppendRequest {
            records: vec![AppendRecord::text("live").with_partition(0)],
            expected_offset: None,
        };
        client
            .append("s", &live)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let next = resumed
            .next_of("record", PATIENCE)
            .await
            .unwrap_or_else(|| panic!("ended"));
        assert_eq!(next.id.as_deref(), Some("0:3,1:2"));

        let bad = common::raw()
            .get(format!("{}{path}", server.url()))
            .header("Last-Event-ID", "0:1;1:2")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bad.status().as_u16(), 400);
        // A resume past the ends is refused before joining: the member in the group is left
        // alone, with no rebalance.
        let generation = group(&client, "s", "g").await.generation;
        let past = common::raw()
            .get(format!("{}{path}", server.url()))
            .header("Last-Event-ID", "0:999999,1:999999")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(past.status().as_u16(), 400);
        let body = past.text().await.unwrap_or_default();
        assert!(body.contains("offset_out_of_range"), "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let details = group(&client, "s", "g").await;
        assert_eq!(details.generation, generation, "{details:?}");
        assert_eq!(details.members.len(), 1);
    });
}

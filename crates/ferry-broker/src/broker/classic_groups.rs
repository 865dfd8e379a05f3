//! Consumer groups of the Kafka protocol ("classic" groups: JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, with client-side assignors). Each group is a pure
//! [`ClassicGroup`](ferry_core::stream::classic_group::ClassicGroup); this module holds its
//! waiting JoinGroup and SyncGroup requests and answers them when the group releases them.
//!
//! A Kafka group may subscribe to several streams, so it lives beside the streams rather than
//! in one. Its committed offsets go to the same catalog table as the native groups' (keyed by
//! stream, group and partition), so the native API shows a Kafka group's lag too. Membership
//! is in memory: after a restart members get `UNKNOWN_MEMBER_ID` and join again, as they do
//! when a Kafka coordinator moves.

use super::Broker;
use crate::catalog::CommittedOffset;
use crate::clock::wall_now;
use crate::error::{Error, ErrorKind, Result};
use ferry_core::stream::classic_group::{
    ClassicGroup, ClassicGroupConfig, ClassicGroupError, GroupDescription, JoinRequest,
    JoinResponse, LeavingMember, Released, Reply, SyncRequest, SyncResponse,
};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// One group and the requests it holds.
struct Slot {
    group: ClassicGroup,
    joins: HashMap<String, oneshot::Sender<JoinResponse>>,
    syncs: HashMap<String, oneshot::Sender<SyncResponse>>,
}

impl Slot {
    /// Answers the held requests the group released.
    fn deliver(&mut self, released: Released) {
        for (member, response) in released.joins {
            if let Some(tx) = self.joins.remove(&member) {
                let _ = tx.send(response);
            }
        }
        for (member, response) in released.syncs {
            if let Some(tx) = self.syncs.remove(&member) {
                let _ = tx.send(response);
            }
        }
    }
}

/// Every classic group, by name. `groups` is a plain lock, never held across an `.await`;
/// `commits` is held across a commit's catalog write, on purpose (see there).
pub(super) struct ClassicGroups {
    groups: Mutex<HashMap<String, Slot>>,
    config: ClassicGroupConfig,
    /// Commits are checked and written one at a time, in the order they arrive (the lock is
    /// fair): a consumer pipelining commits on one connection must never see an older one
    /// land last. The catalog writes one transaction at a time anyway.
    commits: tokio::sync::Mutex<()>,
}

/// A group as ListGroups shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassicGroupSummary {
    /// The group id.
    pub name: String,
    /// Kafka's state name (`Empty` for a group known only by its committed offsets).
    pub state: String,
    /// The protocol type (`consumer` for consumers), empty if none.
    pub protocol_type: String,
}

/// One offset to commit for a Kafka group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupCommit {
    /// The stream (topic).
    pub stream: String,
    /// The partition.
    pub partition: u32,
    /// The next offset to read.
    pub offset: u64,
    /// The committer's note, handed back verbatim.
    pub metadata: Option<String>,
}

impl ClassicGroups {
    pub(super) fn new(config: ClassicGroupConfig) -> ClassicGroups {
        ClassicGroups {
            groups: Mutex::new(HashMap::new()),
            config,
            commits: tokio::sync::Mutex::new(()),
        }
    }

    /// Runs `f` on the group `name`, created if `create`; `None` if it does not exist.
    fn with<T>(&self, name: &str, create: bool, f: impl FnOnce(&mut Slot) -> T) -> Option<T> {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if !groups.contains_key(name) {
            if !create {
                return None;
            }
            groups.insert(
                name.to_owned(),
                Slot {
                    group: ClassicGroup::new(self.config.clone()),
                    joins: HashMap::new(),
                    syncs: HashMap::new(),
                },
            );
        }
        groups.get_mut(name).map(f)
    }

    /// Processes every group's deadlines (the sweeper's round).
    pub(super) fn tick(&self) {
        let now = wall_now();
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        for slot in groups.values_mut() {
            if slot.group.next_deadline().is_some_and(|d| d <= now) {
                let released = slot.group.tick(now);
                slot.deliver(released);
            }
        }
        // Forget empty groups with nothing held or pending (a minted member id awaiting its
        // rejoin has a deadline): their offsets stay in the catalog.
        groups.retain(|_, s| {
            !s.group.is_empty()
                || !s.joins.is_empty()
                || !s.syncs.is_empty()
                || s.group.next_deadline().is_some()
        });
    }
}

/// The answer to give now, or `None` with `tx` held under the member id the group named.
fn answer_or_hold<R>(
    reply: Reply<R>,
    held: &mut HashMap<String, oneshot::Sender<R>>,
    tx: oneshot::Sender<R>,
) -> Option<R> {
    match reply {
        Reply::Now(response) => Some(response),
        Reply::Held { member_id } => {
            held.insert(member_id, tx);
            None
        }
    }
}

/// The answer to a JoinGroup or SyncGroup: given at once, or awaited while held (a held
/// request whose group went away is told to rejoin); `absent` when there is no group.
async fn settle<T>(
    answer: Option<Option<std::result::Result<T, ClassicGroupError>>>,
    held: oneshot::Receiver<std::result::Result<T, ClassicGroupError>>,
    absent: ClassicGroupError,
) -> std::result::Result<T, ClassicGroupError> {
    match answer {
        Some(Some(response)) => response,
        Some(None) => held
            .await
            .unwrap_or(Err(ClassicGroupError::RebalanceInProgress)),
        None => Err(absent),
    }
}

fn unknown(member_id: &str) -> ClassicGroupError {
    ClassicGroupError::UnknownMemberId {
        member_id: member_id.to_owned(),
    }
}

impl Broker {
    /// Handles a Kafka JoinGroup; waits while the group holds the request (until the join
    /// phase completes).
    pub async fn classic_join(&self, group: &str, request: JoinRequest) -> JoinResponse {
        let (tx, rx) = oneshot::channel();
        let answer = self.inner.classic_groups.with(group, true, |slot| {
            let outcome = slot.group.on_join(request, rand::random(), wall_now());
            let reply = answer_or_hold(outcome.reply, &mut slot.joins, tx);
            slot.deliver(outcome.released);
            reply
        });
        settle(answer, rx, ClassicGroupError::CoordinatorNotAvailable).await
    }

    /// Handles a Kafka SyncGroup; a follower waits for the leader's assignment.
    pub async fn classic_sync(&self, group: &str, request: SyncRequest) -> SyncResponse {
        let absent = unknown(&request.member_id);
        let (tx, rx) = oneshot::channel();
        let answer = self.inner.classic_groups.with(group, false, |slot| {
            let outcome = slot.group.on_sync(request, wall_now());
            let reply = answer_or_hold(outcome.reply, &mut slot.syncs, tx);
            slot.deliver(outcome.released);
            reply
        });
        settle(answer, rx, absent).await
    }

    /// Handles a Kafka Heartbeat.
    pub fn classic_heartbeat(
        &self,
        group: &str,
        member_id: &str,
        generation: i32,
    ) -> std::result::Result<(), ClassicGroupError> {
        self.inner
            .classic_groups
            .with(group, false, |slot| {
                let outcome = slot.group.on_heartbeat(member_id, generation, wall_now());
                slot.deliver(outcome.released);
                outcome.reply
            })
            .unwrap_or_else(|| Err(unknown(member_id)))
    }

    /// Handles a Kafka LeaveGroup: one result per member.
    pub fn classic_leave(
        &self,
        group: &str,
        members: &[LeavingMember],
    ) -> Vec<std::result::Result<(), ClassicGroupError>> {
        self.inner
            .classic_groups
            .with(group, false, |slot| {
                let outcome = slot.group.on_leave(members, wall_now());
                slot.deliver(outcome.released);
                outcome.reply
            })
            .unwrap_or_else(|| members.iter().map(|m| Err(unknown(&m.member_id))).collect())
    }

    /// A Kafka group's state and members, if it has any.
    pub fn classic_describe(&self, group: &str) -> Option<GroupDescription> {
        self.inner
            .classic_groups
            .with(group, false, |slot| slot.group.describe())
    }

    /// Every Kafka group with members, and every group with committed offsets (as `Empty`).
    ///
    /// # Errors
    /// `internal` when the catalog cannot be read.
    pub fn classic_groups(&self) -> Result<Vec<ClassicGroupSummary>> {
        let mut out: Vec<ClassicGroupSummary> = {
            let groups = self
                .inner
                .classic_groups
                .groups
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            groups
                .iter()
                .map(|(name, slot)| ClassicGroupSummary {
                    name: name.clone(),
                    state: slot.group.state().as_str().to_owned(),
                    protocol_type: slot.group.protocol_type().unwrap_or_default().to_owned(),
                })
                .collect()
        };
        for name in self.inner.catalog.groups_with_any_offsets()? {
            if !out.iter().any(|g| g.name == name) {
                out.push(ClassicGroupSummary {
                    name,
                    state: "Empty".to_owned(),
                    protocol_type: "consumer".to_owned(),
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Commits offsets for a Kafka group, all or nothing, durably: from a member of the
    /// current generation, or (generation −1, no member id) from outside any group while
    /// the group has no members. The outer error is a fencing or storage failure; the inner
    /// results say, per offset, whether its stream and partition exist.
    ///
    /// # Errors
    /// The group's refusal (`UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION`,
    /// `REBALANCE_IN_PROGRESS`) as [`CommitError::Group`]; storage failures as
    /// [`CommitError::Broker`].
    pub async fn classic_commit(
        &self,
        group: &str,
        member_id: &str,
        generation: i32,
        commits: Vec<GroupCommit>,
    ) -> std::result::Result<Vec<Result<()>>, CommitError> {
        let _in_order = self.inner.classic_groups.commits.lock().await;
        let allowed = self
            .inner
            .classic_groups
            .with(group, false, |slot| {
                let outcome = slot.group.check_commit(member_id, generation, wall_now());
                slot.deliver(outcome.released);
                outcome.reply
            })
            .unwrap_or_else(|| {
                if member_id.is_empty() && generation < 0 {
                    Ok(())
                } else {
                    Err(unknown(member_id))
                }
            });
        allowed.map_err(CommitError::Group)?;
        let now = wall_now();
        let mut results = Vec::with_capacity(commits.len());
        let mut rows = Vec::with_capacity(commits.len());
        for c in commits {
            let checked = self.check_commit_target(&c);
            if checked.is_ok() {
                rows.push((
                    c.stream,
                    c.partition,
                    CommittedOffset {
                        offset: c.offset,
                        metadata: c.metadata,
                        committed_at: now,
                    },
                ));
            }
            results.push(checked);
        }
        let broker = self.clone();
        let group = group.to_owned();
        tokio::task::spawn_blocking(move || {
            broker.inner.catalog.commit_group_offsets(&group, &rows)
        })
        .await
        .map_err(|e| CommitError::Broker(Error::new(ErrorKind::Internal, format!("commit: {e}"))))?
        .map_err(CommitError::Broker)?;
        Ok(results)
    }

    fn check_commit_target(&self, commit: &GroupCommit) -> Result<()> {
        self.stream(&commit.stream)?.partition(commit.partition)?;
        if commit
            .metadata
            .as_ref()
            .is_some_and(|m| m.len() > super::MAX_COMMIT_METADATA_BYTES)
        {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "metadata is longer than {} bytes",
                    super::MAX_COMMIT_METADATA_BYTES
                ),
            ));
        }
        Ok(())
    }

    /// A group's committed offsets across streams: `(stream, partition, committed)`.
    ///
    /// # Errors
    /// `internal` when the catalog cannot be read.
    pub fn group_offsets_everywhere(
        &self,
        group: &str,
    ) -> Result<Vec<(String, u32, CommittedOffset)>> {
        self.inner.catalog.offsets_of_group(group)
    }
}

/// Why a Kafka group commit was refused as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitError {
    /// The group fenced the committer.
    Group(ClassicGroupError),
    /// The broker could not store it.
    Broker(Error),
}

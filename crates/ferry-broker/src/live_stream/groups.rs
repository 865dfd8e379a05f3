//! The consumer groups of one stream: membership and assignment (the pure
//! [`GroupState`] of each group), and each owned partition's read position. Committed offsets
//! live in the catalog; positions do not survive a restart (members then start from the
//! committed offsets, as after any rebalance).
//!
//! One plain lock guards all of a stream's groups; it is never held across an `.await`.

use crate::error::{Error, ErrorKind, Result};
use crate::stream_types::{MemberInfo, Membership, OffsetReset};
use ferry_core::Timestamp;
use ferry_core::stream::group::{GroupError, GroupState, MemberId};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

/// The tag member ids start with (ids look like `member-9f86d081884c7d65`).
const JOIN_TAG: &str = "member";

/// One group's live state.
struct Group {
    state: GroupState,
    /// Where members start in partitions without a committed offset.
    offset_reset: OffsetReset,
    /// Read position per partition, valid only for the member that owns it now.
    positions: HashMap<u32, (MemberId, u64)>,
    /// The generation, for long polls to notice a rebalance.
    generation: watch::Sender<u32>,
}

impl Group {
    fn new(partitions: u32, offset_reset: OffsetReset) -> Group {
        Group {
            state: GroupState::new(partitions),
            offset_reset,
            positions: HashMap::new(),
            generation: watch::channel(0).0,
        }
    }

    fn membership(&self, member: &MemberId, called_with: Option<u32>) -> Membership {
        let generation = self.state.generation();
        Membership {
            member_id: member.to_string(),
            generation,
            assignment: self
                .state
                .assignment_of(member)
                .unwrap_or_default()
                .to_vec(),
            rebalanced: called_with.is_some_and(|g| g != generation),
        }
    }

    /// After any membership change: publish the generation, forget positions whose owner
    /// changed.
    fn after_change(&mut self) {
        let state = &self.state;
        self.positions.retain(|partition, (owner, _)| {
            state
                .assignment_of(owner)
                .is_some_and(|a| a.contains(partition))
        });
        let generation = state.generation();
        self.generation.send_if_modified(|g| {
            let changed = *g != generation;
            *g = generation;
            changed
        });
    }
}

/// What a member needs to poll: its place, and where to read each of its partitions.
pub(crate) struct PollPlan {
    pub(crate) membership: Membership,
    /// Each assigned partition and the member's position in it (`None`: start from the
    /// committed offset or the reset policy).
    pub(crate) positions: Vec<(u32, Option<u64>)>,
    pub(crate) offset_reset: OffsetReset,
    /// Changes when the group rebalances.
    pub(crate) generation: watch::Receiver<u32>,
}

/// The consumer groups of one stream.
pub(crate) struct Groups {
    inner: Mutex<Inner>,
}

struct Inner {
    partitions: u32,
    groups: BTreeMap<String, Group>,
}

fn group_error(stream: &str, group: &str, e: GroupError) -> Error {
    let kind = match e {
        GroupError::UnknownMember { .. } => ErrorKind::UnknownMember,
        GroupError::StaleGeneration { .. } => ErrorKind::StaleGeneration,
        GroupError::NotAssigned { .. } => ErrorKind::Conflict,
        _ => ErrorKind::InvalidRequest,
    };
    Error::new(kind, format!("stream {stream:?} group {group:?}: {e}"))
}

fn unknown_member(stream: &str, group: &str, member: &str) -> Error {
    Error::new(
        ErrorKind::UnknownMember,
        format!("stream {stream:?} group {group:?} has no member {member:?}; join again"),
    )
}

impl Groups {
    pub(crate) fn new(partitions: u32) -> Groups {
        Groups {
            inner: Mutex::new(Inner {
                partitions,
                groups: BTreeMap::new(),
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// The stream now has `partitions` partitions: every group rebalances.
    pub(crate) fn set_partitions(&self, partitions: u32) {
        self.with(|inner| {
            if inner.partitions == partitions {
                return;
            }
            inner.partitions = partitions;
            for group in inner.groups.values_mut() {
                group.state.set_partitions(partitions);
                group.after_change();
            }
        });
    }

    /// Adds a member (or refreshes a known one).
    pub(crate) fn join(
        &self,
        stream: &str,
        group: &str,
        member_id: Option<&str>,
        session_timeout: Duration,
        offset_reset: OffsetReset,
        now: Timestamp,
    ) -> Result<Membership> {
        let member = member_id
            .map(MemberId::new)
            .transpose()
            .map_err(|e| group_error(stream, group, e.into()))?;
        self.with(|inner| {
            let partitions = inner.partitions;
            let entry = inner
                .groups
                .entry(group.to_owned())
                .or_insert_with(|| Group::new(partitions, offset_reset));
            if entry.state.is_empty() {
                entry.offset_reset = offset_reset;
            }
            let joined = match &member {
                Some(id) => entry.state.rejoin(id, session_timeout, now),
                None => entry
                    .state
                    .join(JOIN_TAG, rand::random(), session_timeout, now),
            }
            .map_err(|e| group_error(stream, group, e))?;
            entry.after_change();
            Ok(entry.membership(&joined.member_id, None))
        })
    }

    /// A heartbeat: refreshes the member's session and tells it its place.
    pub(crate) fn heartbeat(
        &self,
        stream: &str,
        group: &str,
        member_id: &str,
        generation: u32,
        now: Timestamp,
    ) -> Result<Membership> {
        self.with_member(stream, group, member_id, |entry, member| {
            entry
                .state
                .heartbeat(member, generation, now)
                .map_err(|e| group_error(stream, group, e))?;
            Ok(entry.membership(member, Some(generation)))
        })
    }

    fn with_member<T>(
        &self,
        stream: &str,
        group: &str,
        member_id: &str,
        f: impl FnOnce(&mut Group, &MemberId) -> Result<T>,
    ) -> Result<T> {
        let member =
            MemberId::new(member_id).map_err(|_| unknown_member(stream, group, member_id))?;
        self.with(|inner| {
            let entry = inner
                .groups
                .get_mut(group)
                .ok_or_else(|| unknown_member(stream, group, member_id))?;
            f(entry, &member)
        })
    }

    /// Heartbeat plus where to read: the start of a poll.
    pub(crate) fn plan_poll(
        &self,
        stream: &str,
        group: &str,
        member_id: &str,
        generation: u32,
        now: Timestamp,
    ) -> Result<PollPlan> {
        self.with_member(stream, group, member_id, |entry, member| {
            entry
                .state
                .heartbeat(member, generation, now)
                .map_err(|e| group_error(stream, group, e))?;
            let membership = entry.membership(member, Some(generation));
            let positions = membership
                .assignment
                .iter()
                .map(|p| {
                    let position = entry
                        .positions
                        .get(p)
                        .filter(|(owner, _)| owner == member)
                        .map(|(_, offset)| *offset);
                    (*p, position)
                })
                .collect();
            Ok(PollPlan {
                membership,
                positions,
                offset_reset: entry.offset_reset,
                generation: entry.generation.subscribe(),
            })
        })
    }

    /// Records where a member's next poll of `partition` starts, if it still owns it in
    /// `generation`.
    pub(crate) fn advance(
        &self,
        group: &str,
        member_id: &str,
        generation: u32,
        partition: u32,
        next_offset: u64,
    ) {
        let Ok(member) = MemberId::new(member_id) else {
            return;
        };
        self.with(|inner| {
            let Some(entry) = inner.groups.get_mut(group) else {
                return;
            };
            let owns = entry.state.generation() == generation
                && entry
                    .state
                    .assignment_of(&member)
                    .is_some_and(|a| a.contains(&partition));
            if owns {
                entry.positions.insert(partition, (member, next_offset));
            }
        });
    }

    /// Whether `member` may commit offsets of `partitions` now.
    pub(crate) fn check_commit(
        &self,
        stream: &str,
        group: &str,
        member_id: &str,
        generation: u32,
        partitions: &[u32],
        now: Timestamp,
    ) -> Result<()> {
        self.with_member(stream, group, member_id, |entry, member| {
            partitions.iter().try_for_each(|&p| {
                entry
                    .state
                    .check_commit(member, generation, p, now)
                    .map_err(|e| group_error(stream, group, e))
            })
        })
    }

    /// Removes a member; its partitions go to the others.
    pub(crate) fn leave(&self, stream: &str, group: &str, member_id: &str) -> Result<()> {
        self.with_member(stream, group, member_id, |entry, member| {
            entry
                .state
                .leave(member)
                .map_err(|e| group_error(stream, group, e))?;
            entry.after_change();
            Ok(())
        })
    }

    /// Removes members whose session ran out; returns how many.
    pub(crate) fn expire(&self, now: Timestamp) -> Vec<(String, String)> {
        self.with(|inner| {
            let mut expired = Vec::new();
            for (name, group) in &mut inner.groups {
                let gone = group.state.expire(now);
                if !gone.is_empty() {
                    group.after_change();
                    expired.extend(gone.into_iter().map(|m| (name.clone(), m.to_string())));
                }
            }
            expired
        })
    }

    /// Whether the group has members now.
    pub(crate) fn is_active(&self, group: &str) -> bool {
        self.with(|inner| inner.groups.get(group).is_some_and(|g| !g.state.is_empty()))
    }

    /// Drops the group's live state (it must have no members) and its positions.
    pub(crate) fn forget(&self, group: &str) {
        self.with(|inner| {
            if inner.groups.get(group).is_some_and(|g| g.state.is_empty()) {
                inner.groups.remove(group);
            }
        });
    }

    /// Forgets the read positions of a group (after its offsets were reset).
    pub(crate) fn clear_positions(&self, group: &str) {
        self.with(|inner| {
            if let Some(g) = inner.groups.get_mut(group) {
                g.positions.clear();
            }
        });
    }

    /// Every group with live state: name, generation, members.
    pub(crate) fn list(&self) -> Vec<(String, u32, Vec<MemberInfo>)> {
        self.with(|inner| {
            inner
                .groups
                .iter()
                .map(|(name, g)| (name.clone(), g.state.generation(), members(&g.state)))
                .collect()
        })
    }
}

fn members(state: &GroupState) -> Vec<MemberInfo> {
    state
        .members()
        .map(|m| MemberInfo {
            member_id: m.id.to_string(),
            assignment: m.assignment.clone(),
            last_seen_at: m.last_seen,
        })
        .collect()
}

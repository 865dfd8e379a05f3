//! The consumer-group coordinator of a stream: who is in a group, which partitions each member
//! reads, and whether a member may commit an offset.
//!
//! [`GroupState`] is a pure state machine: no I/O, no clock (`now` is an argument). It does not
//! store committed offsets, the broker does; it only decides whether a commit is allowed.
//!
//! # Semantics
//!
//! - **Joining.** A consumer without a member id calls [`GroupState::join`] and gets a fresh
//!   [`MemberId`], the group's new generation and its assignment. A consumer that has an id
//!   calls [`GroupState::rejoin`]: it keeps its id, and if it is still a member nothing is
//!   rebalanced (only its liveness and session timeout are refreshed). An id the group does not
//!   know (the member left, its session expired, or the broker restarted) gets
//!   [`GroupError::UnknownMember`]; the consumer then joins again without an id. The coordinator
//!   never adopts an id it did not mint, so an old consumer can never share an id with a new one.
//! - **Member ids** are minted as `{client_tag}-{counter}-{nonce}`: the tag the consumer gave
//!   (kept to 64 characters of `[A-Za-z0-9._-]`, others become `_`, empty becomes `member`), a
//!   counter of the ids this group has minted (unique within a group's lifetime), and a `u64`
//!   nonce from the broker as 16 hex digits. The broker passes a fresh random nonce per join,
//!   which keeps ids unique across broker restarts and across a group deleted and created again,
//!   when the counter starts over. Example: `orders-worker-3-9f86d081884c7d65`. A member id is 1
//!   to 255 printable ASCII characters without spaces.
//! - **Generations.** The generation goes up by exactly one on every change of the member set
//!   (join of a new member, leave, expiry: one bump however many expire at once) or of the
//!   partition count, and at no other time. An empty group is at generation 0 until something
//!   changes. Every assignment belongs to one generation. (A generation is a `u32`, as in Kafka,
//!   and wraps after 2^32 changes; fencing compares for equality, so that could only let in a
//!   member that missed 2^32 rebalances while its session never ended.)
//! - **Assignment** is Kafka's range assignor: members sorted by id, partitions `0..n` cut into
//!   contiguous ranges in that order, and the first `n % m` members get one partition more.
//!   With 7 partitions and 3 members: `[0, 1, 2]`, `[3, 4]`, `[5, 6]`. With more members than
//!   partitions the last members get none. Whenever the group has a member, every partition is
//!   assigned to exactly one member.
//! - **Liveness.** A member's session ends `session_timeout` after its last join, rejoin or
//!   heartbeat (a poll counts as a heartbeat), with the timeout between 1 s and 10 min. From
//!   that instant the member is dead: heartbeats, rejoins and commits get `UnknownMember`, even
//!   before [`GroupState::expire`] has removed it. `expire(now)`, called by the broker at
//!   [`GroupState::next_deadline`], removes the dead and rebalances the rest.
//! - **Heartbeats** with the current generation just refresh liveness. With any other
//!   generation they are not an error: the reply carries the current generation and assignment
//!   with `rebalanced: true`, and the member switches to them.
//! - **Commits** ([`GroupState::check_commit`]) are allowed only from a live member, in the
//!   current generation, for a partition assigned to it in that generation. A member that
//!   missed a rebalance is fenced with [`GroupError::StaleGeneration`] until it heartbeats and
//!   learns the new generation. Commits from outside any group are the broker's business.
//! - **Bounds.** A group has at most [`MAX_MEMBERS`] members.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::time::Duration;

/// Shortest session timeout a member may ask for.
pub const MIN_SESSION_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest session timeout a member may ask for.
pub const MAX_SESSION_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Most members one group may have.
pub const MAX_MEMBERS: usize = 1_000;
/// Longest member id accepted.
pub const MAX_MEMBER_ID_CHARS: usize = 255;
/// How much of a consumer's client tag goes into a minted member id.
pub const MAX_CLIENT_TAG_CHARS: usize = 64;

/// What a minted id starts with when the consumer gave no usable tag.
const DEFAULT_CLIENT_TAG: &str = "member";

/// Why a member id was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid member id {id:?}: {reason}")]
pub struct InvalidMemberId {
    /// The id as given (cut to a readable length).
    pub id: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A group member's identity: 1 to 255 printable ASCII characters without spaces. Minted by
/// [`GroupState::join`]; parsed with [`MemberId::new`] when a consumer sends it back.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MemberId(String);

impl MemberId {
    /// Validates `id`.
    ///
    /// # Errors
    /// [`InvalidMemberId`] when it is empty, longer than [`MAX_MEMBER_ID_CHARS`], or has a
    /// character that is not printable ASCII (spaces included).
    pub fn new(id: &str) -> Result<MemberId, InvalidMemberId> {
        let refuse = |reason| InvalidMemberId {
            id: id.chars().take(100).collect(),
            reason,
        };
        if id.is_empty() {
            return Err(refuse("empty"));
        }
        if !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(refuse(
                "only printable ASCII characters without spaces are allowed",
            ));
        }
        if id.len() > MAX_MEMBER_ID_CHARS {
            return Err(refuse("longer than 255 characters"));
        }
        Ok(MemberId(id.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of the `counter`th member minted by a group, for a consumer that gave `client_tag`,
    /// with the broker's `nonce` (see the module docs).
    fn mint(client_tag: &str, counter: u64, nonce: u64) -> MemberId {
        let mut tag: String = client_tag
            .chars()
            .take(MAX_CLIENT_TAG_CHARS)
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if tag.is_empty() {
            tag.push_str(DEFAULT_CLIENT_TAG);
        }
        let id = MemberId(format!("{tag}-{counter}-{nonce:016x}"));
        debug_assert_eq!(MemberId::new(id.as_str()).as_ref(), Ok(&id));
        id
    }
}

impl TryFrom<String> for MemberId {
    type Error = InvalidMemberId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        MemberId::new(&s)
    }
}

impl From<MemberId> for String {
    fn from(id: MemberId) -> String {
        id.0
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why the coordinator refused a request. Nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// The member left, its session expired, or it never joined: it must join again without an id.
    #[error("member {member} is not in the group: join again without a member id")]
    UnknownMember {
        /// The id given.
        member: MemberId,
    },
    /// The member missed a rebalance and is fenced until it heartbeats.
    #[error(
        "member {member} is fenced: generation {generation} is stale, the group is at generation {current}"
    )]
    StaleGeneration {
        /// The member.
        member: MemberId,
        /// The generation it gave.
        generation: u32,
        /// The group's generation, which it learns by heartbeating.
        current: u32,
    },
    /// The partition belongs to another member, or does not exist.
    #[error("partition {partition} is not assigned to member {member} in generation {generation}")]
    NotAssigned {
        /// The member.
        member: MemberId,
        /// The partition it tried to commit.
        partition: u32,
        /// The current generation.
        generation: u32,
    },
    /// A session timeout outside [`MIN_SESSION_TIMEOUT`]..=[`MAX_SESSION_TIMEOUT`].
    #[error(
        "session timeout of {session_timeout_ms} ms is outside {}..={} ms",
        MIN_SESSION_TIMEOUT.as_millis(),
        MAX_SESSION_TIMEOUT.as_millis()
    )]
    InvalidSessionTimeout {
        /// The timeout asked for.
        session_timeout_ms: u64,
    },
    /// A member id that is not well-formed (from [`MemberId::new`], via `?` or `From`).
    #[error(transparent)]
    InvalidMemberId(#[from] InvalidMemberId),
    /// The group already has [`MAX_MEMBERS`] members.
    #[error("group is full: it has {max} members, the most allowed")]
    GroupFull {
        /// The limit.
        max: usize,
    },
}

/// The reply to a join or rejoin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Joined {
    /// The member's id, to send with every later request.
    pub member_id: MemberId,
    /// The group's current generation, to send with heartbeats and commits.
    pub generation: u32,
    /// The partitions the member reads in this generation, ascending.
    pub assignment: Vec<u32>,
}

/// The reply to a heartbeat (or a poll).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Heartbeat {
    /// The group's current generation.
    pub generation: u32,
    /// The partitions the member reads in that generation, ascending.
    pub assignment: Vec<u32>,
    /// Whether the member gave another generation: it must switch to this one and its
    /// assignment before it commits again.
    pub rebalanced: bool,
}

/// One member, as listed by [`GroupState::members`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    /// Its id.
    pub id: MemberId,
    /// The partitions it reads in the current generation, ascending.
    pub assignment: Vec<u32>,
    /// Its last join, rejoin or heartbeat: its session runs from here.
    pub last_seen: Timestamp,
    /// How long it may stay silent before it is removed.
    pub session_timeout: Duration,
}

impl MemberInfo {
    /// When its session ends, unless it heartbeats first.
    pub fn deadline(&self) -> Timestamp {
        self.last_seen.plus(self.session_timeout)
    }
}

/// What the coordinator keeps per member.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    /// Its partitions in the current generation, ascending.
    assignment: Vec<u32>,
    /// Its last join, rejoin or heartbeat.
    last_seen: Timestamp,
    /// How long its session lasts after `last_seen`.
    session_timeout: Duration,
}

impl Member {
    fn deadline(&self) -> Timestamp {
        self.last_seen.plus(self.session_timeout)
    }

    /// Whether its session is still running at `now` (it ends *at* the deadline).
    fn is_live(&self, now: Timestamp) -> bool {
        now < self.deadline()
    }

    /// Refreshes liveness; a clock stepping back never shortens a session.
    fn touch(&mut self, now: Timestamp) {
        self.last_seen = self.last_seen.max(now);
    }
}

/// One consumer group of a stream: its members, their assignments and the generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupState {
    /// The stream's partition count: the group assigns `0..partitions`.
    partitions: u32,
    /// Bumped on every change of the member set or partition count; fences stale members.
    generation: u32,
    /// How many member ids this group has minted: the counter part of the next one.
    minted: u64,
    /// By id, which is also the range assignor's order.
    members: BTreeMap<MemberId, Member>,
}

impl GroupState {
    /// An empty group, at generation 0, over a stream of `partitions` partitions.
    pub fn new(partitions: u32) -> GroupState {
        GroupState {
            partitions,
            generation: 0,
            minted: 0,
            members: BTreeMap::new(),
        }
    }

    /// Adds a new member with a fresh id minted from `client_tag` and `nonce` (see the module
    /// docs: the broker passes a fresh random nonce), bumps the generation and reassigns.
    ///
    /// # Errors
    /// [`GroupError::InvalidSessionTimeout`] or [`GroupError::GroupFull`].
    pub fn join(
        &mut self,
        client_tag: &str,
        nonce: u64,
        session_timeout: Duration,
        now: Timestamp,
    ) -> Result<Joined, GroupError> {
        check_session_timeout(session_timeout)?;
        if self.members.len() >= MAX_MEMBERS {
            return Err(GroupError::GroupFull { max: MAX_MEMBERS });
        }
        self.minted += 1;
        let id = MemberId::mint(client_tag, self.minted, nonce);
        let member = Member {
            assignment: Vec::new(),
            last_seen: now,
            session_timeout,
        };
        let previous = self.members.insert(id.clone(), member);
        debug_assert!(previous.is_none(), "minted id {id} twice");
        self.rebalance();
        let assignment = self.assignment_of(&id).map(<[u32]>::to_vec);
        Ok(Joined {
            member_id: id,
            generation: self.generation,
            assignment: assignment.unwrap_or_default(),
        })
    }

    /// A live member joining again: it keeps its id, its session restarts with
    /// `session_timeout`, and it gets the current generation and assignment. Nothing is
    /// rebalanced.
    ///
    /// # Errors
    /// [`GroupError::InvalidSessionTimeout`], or [`GroupError::UnknownMember`] if `member` is
    /// not a live member.
    pub fn rejoin(
        &mut self,
        member: &MemberId,
        session_timeout: Duration,
        now: Timestamp,
    ) -> Result<Joined, GroupError> {
        check_session_timeout(session_timeout)?;
        let generation = self.generation;
        let m = self.live_member_mut(member, now)?;
        m.touch(now);
        m.session_timeout = session_timeout;
        Ok(Joined {
            member_id: member.clone(),
            generation,
            assignment: m.assignment.clone(),
        })
    }

    /// Refreshes a live member's session and tells it the current generation and assignment,
    /// with `rebalanced` set if `generation` is not the current one.
    ///
    /// # Errors
    /// [`GroupError::UnknownMember`] if `member` is not a live member.
    pub fn heartbeat(
        &mut self,
        member: &MemberId,
        generation: u32,
        now: Timestamp,
    ) -> Result<Heartbeat, GroupError> {
        let current = self.generation;
        let m = self.live_member_mut(member, now)?;
        m.touch(now);
        Ok(Heartbeat {
            generation: current,
            assignment: m.assignment.clone(),
            rebalanced: generation != current,
        })
    }

    /// Removes a member (live, or dead but not yet expired), bumps the generation and reassigns.
    ///
    /// # Errors
    /// [`GroupError::UnknownMember`] if it is not in the group.
    pub fn leave(&mut self, member: &MemberId) -> Result<(), GroupError> {
        if self.members.remove(member).is_none() {
            return Err(unknown(member));
        }
        self.rebalance();
        Ok(())
    }

    /// Removes every member whose session has ended by `now` (deadline ≤ `now`), bumping the
    /// generation once and reassigning if there was any. Returns them, by id.
    pub fn expire(&mut self, now: Timestamp) -> Vec<MemberId> {
        let mut expired = Vec::new();
        self.members.retain(|id, m| {
            let live = m.is_live(now);
            if !live {
                expired.push(id.clone());
            }
            live
        });
        if !expired.is_empty() {
            self.rebalance();
        }
        expired
    }

    /// When the next session ends, for the broker's timer to call [`GroupState::expire`];
    /// `None` when the group is empty.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.members.values().map(Member::deadline).min()
    }

    /// Whether `member` may commit an offset of `partition` at `now`.
    ///
    /// # Errors
    /// [`GroupError::UnknownMember`] if it is not a live member, [`GroupError::StaleGeneration`]
    /// if `generation` is not the current one, [`GroupError::NotAssigned`] if the partition is
    /// not assigned to it (or does not exist).
    pub fn check_commit(
        &self,
        member: &MemberId,
        generation: u32,
        partition: u32,
        now: Timestamp,
    ) -> Result<(), GroupError> {
        let m = match self.members.get(member) {
            Some(m) if m.is_live(now) => m,
            _ => return Err(unknown(member)),
        };
        if generation != self.generation {
            return Err(GroupError::StaleGeneration {
                member: member.clone(),
                generation,
                current: self.generation,
            });
        }
        if m.assignment.binary_search(&partition).is_err() {
            return Err(GroupError::NotAssigned {
                member: member.clone(),
                partition,
                generation,
            });
        }
        Ok(())
    }

    /// Changes the partition count (when the stream grows); if it differs, bumps the
    /// generation and reassigns.
    pub fn set_partitions(&mut self, partitions: u32) {
        if partitions != self.partitions {
            self.partitions = partitions;
            self.rebalance();
        }
    }

    /// The partition count the group assigns.
    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// The current generation.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Whether the group has no members (the broker may then forget it).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// How many members the group has, dead but not yet expired ones included.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// The partitions `member` reads in the current generation, ascending; `None` if it is not in
    /// the group.
    pub fn assignment_of(&self, member: &MemberId) -> Option<&[u32]> {
        self.members.get(member).map(|m| m.assignment.as_slice())
    }

    /// Every member, by id (dead but not yet expired ones included), for listing.
    pub fn members(&self) -> impl Iterator<Item = MemberInfo> + '_ {
        self.members.iter().map(|(id, m)| MemberInfo {
            id: id.clone(),
            assignment: m.assignment.clone(),
            last_seen: m.last_seen,
            session_timeout: m.session_timeout,
        })
    }

    /// A member whose session is running at `now`.
    fn live_member_mut(
        &mut self,
        member: &MemberId,
        now: Timestamp,
    ) -> Result<&mut Member, GroupError> {
        match self.members.get_mut(member) {
            Some(m) if m.is_live(now) => Ok(m),
            _ => Err(unknown(member)),
        }
    }

    /// Starts a new generation and gives each member its range.
    fn rebalance(&mut self) {
        // Fencing compares generations for equality, so wrapping after 2^32 rebalances could
        // only let in a member that missed all of them without its session ending.
        self.generation = self.generation.wrapping_add(1);
        let ranges = range_assignment(self.partitions, self.members.len());
        for (member, range) in self.members.values_mut().zip(ranges) {
            member.assignment = range.collect();
        }
        debug_assert_eq!(self.check_invariants(), Ok(()));
    }

    /// Checks that, when there is a member, every partition is assigned to exactly one member.
    fn check_invariants(&self) -> Result<(), String> {
        let mut owners = vec![0u32; usize::try_from(self.partitions).unwrap_or(usize::MAX)];
        for (id, m) in &self.members {
            if !m.assignment.is_sorted() {
                return Err(format!("assignment of {id} is not ascending"));
            }
            for &p in &m.assignment {
                match owners.get_mut(usize::try_from(p).unwrap_or(usize::MAX)) {
                    Some(count) => *count += 1,
                    None => return Err(format!("{id} is assigned partition {p}, out of range")),
                }
            }
        }
        let expected = u32::from(!self.members.is_empty());
        match owners.iter().position(|&count| count != expected) {
            Some(p) => Err(format!(
                "partition {p} has {} owners with {} members",
                owners.get(p).copied().unwrap_or_default(),
                self.members.len()
            )),
            None => Ok(()),
        }
    }
}

/// The range assignor: for each of `members` (in id order), its contiguous range of
/// `0..partitions`; the first `partitions % members` get one more.
fn range_assignment(partitions: u32, members: usize) -> impl Iterator<Item = Range<u32>> {
    let count = u32::try_from(members).unwrap_or(u32::MAX).max(1);
    let (each, extra) = (partitions / count, partitions % count);
    (0..count).take(members).map(move |i| {
        let start = i * each + i.min(extra);
        let len = each + u32::from(i < extra);
        start..start + len
    })
}

fn check_session_timeout(session_timeout: Duration) -> Result<(), GroupError> {
    if (MIN_SESSION_TIMEOUT..=MAX_SESSION_TIMEOUT).contains(&session_timeout) {
        Ok(())
    } else {
        Err(GroupError::InvalidSessionTimeout {
            session_timeout_ms: u64::try_from(session_timeout.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

fn unknown(member: &MemberId) -> GroupError {
    GroupError::UnknownMember {
        member: member.clone(),
    }
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

//! One Kafka consumer group under the *classic* group protocol (JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, with the assignment computed by the group's leader on the client side), so that
//! librdkafka, the Java client, kafkajs and kafka-python consumer groups work against Ferry.
//!
//! [`ClassicGroup`] is a pure state machine: no I/O, no clock (`now` is an argument), no
//! knowledge of topics or offsets. The Kafka front end decodes requests, calls the `on_*` methods
//! and delivers what they return. A JoinGroup or SyncGroup may have to wait for other members;
//! the group then answers [`Reply::Held`] and the front end keeps the request in a oneshot keyed
//! by member id (one join and one sync per member at most). Every method that can answer held
//! requests returns them in [`Released`]: the front end delivers those *first*, then handles the
//! method's own reply (holding it if it is `Held`). [`ClassicGroup::next_deadline`] tells the
//! front end when to call [`ClassicGroup::tick`]; every method also processes the deadlines that
//! have passed by its `now` before it acts. Time never runs backwards: a `now` earlier than one
//! already seen counts as that one.
//!
//! # Semantics (those of Kafka's classic group coordinator)
//!
//! - **States**: `Empty` (no members), `PreparingRebalance` (the join phase: members must send
//!   JoinGroup), `CompletingRebalance` (the sync phase: waiting for the leader's assignment),
//!   `Stable`, and `Dead` (deleted; every request gets `COORDINATOR_NOT_AVAILABLE`, so the client
//!   rediscovers the coordinator and the broker makes a new group). [`ClassicGroupState::as_str`]
//!   gives Kafka's names for DescribeGroups and ListGroups.
//! - **Generation**: an `i32` that starts at 0 and goes up by one each time a join phase
//!   completes, also when it completes with no members (the group then becomes `Empty`). It is
//!   never changed otherwise. After `i32::MAX` it wraps to 1 (never in practice).
//! - **Member ids** are minted as `{client_id}-{8}-{4}-{4}-{4}-{12}` (hex, like a UUID, as Kafka
//!   does): the caller's `nonce` makes the first 64 bits and a per-group counter the last 64, so
//!   ids are unique within a group's life and, with a random nonce per join, across restarts.
//!   The client id part is cut to [`MAX_CLIENT_ID_BYTES`].
//! - **New members** (empty member id). With [`MemberIdPolicy::RequireKnown`] (JoinGroup v4+,
//!   KIP-394) the group mints an id, remembers it as *pending* and answers `MEMBER_ID_REQUIRED`
//!   carrying it; nothing else changes. The client joins again with that id and is then added. A
//!   pending id that does not come back within the session timeout it asked for is forgotten.
//!   With [`MemberIdPolicy::AssignOnJoin`] (v0 to v3) the member is added at once.
//! - **Rebalances.** Adding a member, a join from the leader while `Stable`, and a join whose
//!   protocols (names, order or metadata bytes) changed while `Stable` or `CompletingRebalance`
//!   start a join phase. A join from any member during the join phase updates its protocols and
//!   timeouts and is held. A known member that joins with unchanged protocols while
//!   `CompletingRebalance` (it missed its response), or while `Stable` and it is not the leader,
//!   is answered at once with the current generation (the leader, in `CompletingRebalance`, gets
//!   the member list again). Removing a member (leave, session expiry) also starts a join phase,
//!   or lets a running one complete.
//! - **Join phase.** The deadline is the start plus the largest rebalance timeout among the
//!   members then. The phase completes as soon as every member has a held join and no pending id
//!   is outstanding, or at the deadline, when the members without a held join are removed. When
//!   the phase starts from `Empty` and [`ClassicGroupConfig::initial_rebalance_delay`] is not
//!   zero, Kafka's initial delay applies instead: the phase waits that long (without completing
//!   early); if a member was added meanwhile and the group is at generation 0, it waits again
//!   (the delay, at most what is left of the rebalance timeout), and so on; then it completes.
//! - **Completion.** The leader stays if it rejoined, else the earliest-added member that did
//!   becomes leader. The protocol is chosen by vote: among the protocols every member supports,
//!   each member votes for the first in its own order; most votes wins, a tie goes to the one the
//!   leader lists first. The generation goes up, the state becomes `CompletingRebalance` (or
//!   `Empty`) and every member gets its JoinGroup response: generation, protocol type and name,
//!   leader id, its member id and, for the leader only, every member's id, instance id and
//!   metadata for the chosen protocol (in member id order). Every session restarts, and a sync
//!   deadline is set at now plus the largest rebalance timeout.
//! - **Sync phase.** A follower's SyncGroup is held until the leader's arrives. The leader's
//!   stores the assignments (members it leaves out get empty bytes, unknown ids are ignored, the
//!   last of duplicates wins), makes the group `Stable` and answers every held SyncGroup with its
//!   member's bytes. In `Stable`, SyncGroup is answered at once. When the sync deadline passes
//!   and some members of the generation have not sent SyncGroup, they are removed and a join
//!   phase starts (Kafka's pending-sync timeout).
//! - **Errors, in the order checked.** JoinGroup: `COORDINATOR_NOT_AVAILABLE` (`Dead`),
//!   `INVALID_SESSION_TIMEOUT` (outside the configured bounds), `INCONSISTENT_GROUP_PROTOCOL`
//!   (empty protocol type or list) or `INVALID_REQUEST` (over a bound); then for a new or pending
//!   member `GROUP_MAX_SIZE_REACHED`, and for new, pending and known members alike
//!   `INCONSISTENT_GROUP_PROTOCOL` (another protocol type, or no protocol that every *other*
//!   member supports; a group without members accepts anything); an unknown non-empty id gets
//!   `UNKNOWN_MEMBER_ID`. SyncGroup: `COORDINATOR_NOT_AVAILABLE`, `UNKNOWN_MEMBER_ID`,
//!   `ILLEGAL_GENERATION`, `INCONSISTENT_GROUP_PROTOCOL` (a protocol type or name given that is
//!   not the group's), `REBALANCE_IN_PROGRESS` (join phase), `INVALID_REQUEST` (the leader sent an
//!   assignment over the bound; nothing is stored). Heartbeat: `COORDINATOR_NOT_AVAILABLE`,
//!   `UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION`, then `REBALANCE_IN_PROGRESS` during the join phase
//!   (how members learn to rejoin) and OK otherwise (`CompletingRebalance` included).
//! - **Sessions.** A member's session ends `session_timeout` after the latest of: its last
//!   JoinGroup; its last SyncGroup, Heartbeat or allowed offset commit that passed the member and
//!   generation checks; the completion or release that answered a request it had held. At that instant it is removed, unless it has a held JoinGroup
//!   or SyncGroup (the join-phase and sync deadlines govern those), as in Kafka.
//! - **Held requests** are answered exactly once: by completion or release, with
//!   `REBALANCE_IN_PROGRESS` for held syncs when a join phase starts, with `UNKNOWN_MEMBER_ID`
//!   when their member is removed, and with `REBALANCE_IN_PROGRESS` when the same member sends
//!   the same request again (the new one replaces it).
//! - **LeaveGroup** takes a list: a pending id is forgotten, a member (by id, or by instance id
//!   when the id is empty) is removed, anything else gets `UNKNOWN_MEMBER_ID`, each on its own.
//! - **Offset commits** ([`ClassicGroup::check_commit`]): a negative generation is allowed while
//!   the group is `Empty` (standalone consumers, admin tools); otherwise the member must be known
//!   (`UNKNOWN_MEMBER_ID`) and at the current generation (`ILLEGAL_GENERATION`); during
//!   `CompletingRebalance` the commit gets `REBALANCE_IN_PROGRESS`; in `Stable` and
//!   `PreparingRebalance` it is allowed (the commit a member makes before it rejoins).
//! - **DescribeGroups** ([`ClassicGroup::describe`]) shows the protocol name, the metadata and
//!   the assignments only when `Stable`, as Kafka does.
//! - **Static membership** (`group.instance.id`, KIP-345) is not implemented: a member with an
//!   instance id is treated as a dynamic member that carries the id (shown to the leader and in
//!   DescribeGroups, usable in LeaveGroup). A restarted static consumer therefore causes a
//!   rebalance, and its old member leaves when its session ends.
//! - **Bounds**: at most [`ClassicGroupConfig::max_members`] (≤ [`MAX_MEMBERS`]) members and as
//!   many pending ids, [`MAX_PROTOCOLS`] protocols per member, [`MAX_PROTOCOL_NAME_BYTES`] per
//!   protocol type or name and instance id, [`MAX_MEMBER_METADATA_BYTES`] of metadata per member
//!   and [`MAX_ASSIGNMENT_BYTES`] per assignment. Client ids and hosts are cut to
//!   [`MAX_CLIENT_ID_BYTES`].

use crate::time::Timestamp;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Most members a group may have (its [`ClassicGroupConfig::max_members`] is capped to this).
pub const MAX_MEMBERS: usize = 1_000;
/// Most protocols (assignors) one member may offer in a JoinGroup.
pub const MAX_PROTOCOLS: usize = 16;
/// Longest protocol type, protocol name or group instance id accepted, in bytes.
pub const MAX_PROTOCOL_NAME_BYTES: usize = 255;
/// Most protocol metadata one member may send, summed over its protocols, in bytes.
pub const MAX_MEMBER_METADATA_BYTES: usize = 256 * 1024;
/// Largest assignment the leader may give one member, in bytes.
pub const MAX_ASSIGNMENT_BYTES: usize = 256 * 1024;
/// How much of a client id or client host the group keeps (and puts in minted ids), in bytes.
pub const MAX_CLIENT_ID_BYTES: usize = 255;

/// A group's state; [`as_str`](ClassicGroupState::as_str) gives Kafka's name for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClassicGroupState {
    /// No members (there may be pending ids).
    Empty,
    /// The join phase: members must send JoinGroup.
    PreparingRebalance,
    /// The sync phase: join responses are out, waiting for the leader's SyncGroup.
    CompletingRebalance,
    /// Every member has its assignment for the current generation.
    Stable,
    /// Deleted: every request gets `COORDINATOR_NOT_AVAILABLE`.
    Dead,
}

impl ClassicGroupState {
    /// The state's name as Kafka writes it in DescribeGroups and ListGroups.
    pub fn as_str(self) -> &'static str {
        match self {
            ClassicGroupState::Empty => "Empty",
            ClassicGroupState::PreparingRebalance => "PreparingRebalance",
            ClassicGroupState::CompletingRebalance => "CompletingRebalance",
            ClassicGroupState::Stable => "Stable",
            ClassicGroupState::Dead => "Dead",
        }
    }
}

impl fmt::Display for ClassicGroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A group's limits and timing (Kafka's `group.*` broker settings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassicGroupConfig {
    /// Shortest session timeout a member may ask for (`group.min.session.timeout.ms`).
    pub min_session_timeout: Duration,
    /// Longest session timeout a member may ask for (`group.max.session.timeout.ms`).
    pub max_session_timeout: Duration,
    /// Most members, and most pending ids (`group.max.size`); capped to 1..=[`MAX_MEMBERS`].
    pub max_members: usize,
    /// How long the first join phase of an empty group waits for more members
    /// (`group.initial.rebalance.delay.ms`); zero completes it as soon as everyone joined.
    pub initial_rebalance_delay: Duration,
}

impl Default for ClassicGroupConfig {
    /// Ferry's defaults: sessions of 1 s to 30 min, [`MAX_MEMBERS`] members, Kafka's 3 s
    /// initial delay.
    fn default() -> Self {
        ClassicGroupConfig {
            min_session_timeout: Duration::from_secs(1),
            max_session_timeout: Duration::from_secs(30 * 60),
            max_members: MAX_MEMBERS,
            initial_rebalance_delay: Duration::from_secs(3),
        }
    }
}

/// What to do with a JoinGroup that has an empty member id: depends on the request version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberIdPolicy {
    /// JoinGroup v4+ (KIP-394): answer `MEMBER_ID_REQUIRED` with a minted id to join again with.
    RequireKnown,
    /// JoinGroup v0 to v3: add the member at once under a minted id.
    AssignOnJoin,
}

/// One protocol (assignor) a member offers, with its metadata (for consumers, the
/// subscription).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protocol {
    /// The protocol's name, e.g. `range` or `cooperative-sticky`.
    pub name: String,
    /// Opaque to the broker; handed to the leader.
    pub metadata: Vec<u8>,
}

/// A decoded JoinGroup request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinRequest {
    /// Empty for a new member, else the id the group gave it.
    pub member_id: String,
    /// The static-membership id (KIP-345), if the client sent one; treated as a label only.
    pub group_instance_id: Option<String>,
    /// The client's `client.id`: the prefix of a minted member id.
    pub client_id: String,
    /// The client's address, for DescribeGroups.
    pub client_host: String,
    /// How long the member may stay silent before it is removed.
    pub session_timeout: Duration,
    /// How long a rebalance may wait for this member (v0 has none: pass the session timeout).
    pub rebalance_timeout: Duration,
    /// The protocol type, e.g. `consumer`; the same for every member.
    pub protocol_type: String,
    /// The protocols the member supports, most preferred first; later duplicates are ignored.
    pub protocols: Vec<Protocol>,
    /// What an empty member id means for this request version.
    pub member_id_policy: MemberIdPolicy,
}

/// One member in the leader's JoinGroup response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinedMember {
    /// Its member id.
    pub member_id: String,
    /// Its group instance id, if it gave one.
    pub group_instance_id: Option<String>,
    /// Its metadata for the chosen protocol: the leader's assignor input.
    pub metadata: Vec<u8>,
}

/// A successful JoinGroup response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Joined {
    /// The generation the member now belongs to.
    pub generation: i32,
    /// The group's protocol type.
    pub protocol_type: String,
    /// The chosen protocol.
    pub protocol_name: String,
    /// The leader's member id: the member whose id equals it runs the assignor.
    pub leader: String,
    /// The member's own id.
    pub member_id: String,
    /// Every member, for the leader; empty for the others.
    pub members: Vec<JoinedMember>,
}

/// A JoinGroup response. Kafka encodes an error with generation −1, no protocol and an empty
/// leader; the member id is the one in [`ClassicGroupError::MemberIdRequired`], else the
/// request's.
pub type JoinResponse = Result<Joined, ClassicGroupError>;

/// A decoded SyncGroup request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRequest {
    /// The member's id.
    pub member_id: String,
    /// The generation its JoinGroup response gave.
    pub generation: i32,
    /// The protocol type, if the request version carries it (v5+).
    pub protocol_type: Option<String>,
    /// The protocol name, if the request version carries it (v5+).
    pub protocol_name: Option<String>,
    /// From the leader: each member's assignment. Ignored from others.
    pub assignments: Vec<(String, Vec<u8>)>,
}

/// A successful SyncGroup response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Synced {
    /// The group's protocol type.
    pub protocol_type: String,
    /// The group's protocol.
    pub protocol_name: String,
    /// The member's assignment, as the leader wrote it.
    pub assignment: Vec<u8>,
}

/// A SyncGroup response.
pub type SyncResponse = Result<Synced, ClassicGroupError>;

/// One entry of a LeaveGroup request (v3+ carries several; older versions one, without an
/// instance id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeavingMember {
    /// The member's id; may be empty when `group_instance_id` names the member.
    pub member_id: String,
    /// The member's group instance id, if given.
    pub group_instance_id: Option<String>,
}

/// How a JoinGroup or SyncGroup is answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply<R> {
    /// Answer now with this.
    Now(R),
    /// Hold the request under `member_id`; it comes back in a later [`Released`].
    Held {
        /// The key to hold it under (for a new member, its freshly minted id).
        member_id: String,
    },
}

/// Answers to requests held before: deliver each to the request held under its member id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Released {
    /// Held JoinGroups, by member id.
    pub joins: Vec<(String, JoinResponse)>,
    /// Held SyncGroups, by member id.
    pub syncs: Vec<(String, SyncResponse)>,
}

impl Released {
    /// Whether nothing was released.
    pub fn is_empty(&self) -> bool {
        self.joins.is_empty() && self.syncs.is_empty()
    }
}

/// A method's own reply plus the held requests it answered: deliver `released` first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome<R> {
    /// The answer to the request itself.
    pub reply: R,
    /// Answers to requests held earlier.
    pub released: Released,
}

/// The group as DescribeGroups shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDescription {
    /// The state; Kafka's string is `state.as_str()`.
    pub state: ClassicGroupState,
    /// The protocol type, empty if no member ever joined.
    pub protocol_type: String,
    /// The chosen protocol when `Stable`, else empty.
    pub protocol_name: String,
    /// The members, by id.
    pub members: Vec<MemberDescription>,
}

/// One member as DescribeGroups shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberDescription {
    /// Its member id.
    pub member_id: String,
    /// Its group instance id, if it gave one.
    pub group_instance_id: Option<String>,
    /// Its client id.
    pub client_id: String,
    /// Its client host.
    pub client_host: String,
    /// Its metadata for the chosen protocol when `Stable`, else empty.
    pub metadata: Vec<u8>,
    /// Its assignment when `Stable`, else empty.
    pub assignment: Vec<u8>,
}

/// Why a request was refused; one variant per Kafka error code (named in each variant's doc),
/// which the front end maps to the numeric code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClassicGroupError {
    /// `UNKNOWN_MEMBER_ID` (25): not a member (left, expired, removed, or never joined); the
    /// client joins again with an empty member id.
    #[error("member {member_id:?} is not in the group: join again with an empty member id")]
    UnknownMemberId {
        /// The id given.
        member_id: String,
    },
    /// `ILLEGAL_GENERATION` (22): the member missed a rebalance.
    #[error("generation {generation} is not the group's generation {current}")]
    IllegalGeneration {
        /// The generation given.
        generation: i32,
        /// The group's generation.
        current: i32,
    },
    /// `REBALANCE_IN_PROGRESS` (27): the member must send JoinGroup.
    #[error("the group is rebalancing: join again")]
    RebalanceInProgress,
    /// `INCONSISTENT_GROUP_PROTOCOL` (23): another protocol type, or no protocol in common.
    #[error("the protocol type or protocols are inconsistent with the group's")]
    InconsistentGroupProtocol,
    /// `INVALID_SESSION_TIMEOUT` (26).
    #[error("session timeout of {session_timeout_ms} ms is outside {min_ms}..={max_ms} ms")]
    InvalidSessionTimeout {
        /// The timeout asked for.
        session_timeout_ms: u64,
        /// The shortest allowed.
        min_ms: u64,
        /// The longest allowed.
        max_ms: u64,
    },
    /// `GROUP_MAX_SIZE_REACHED` (81).
    #[error("the group is full: it has {max} members, the most allowed")]
    GroupMaxSizeReached {
        /// The limit.
        max: usize,
    },
    /// `MEMBER_ID_REQUIRED` (79): join again with this id (its response carries it).
    #[error("join again with member id {member_id:?}")]
    MemberIdRequired {
        /// The id minted for the member.
        member_id: String,
    },
    /// `COORDINATOR_NOT_AVAILABLE` (15): the group was deleted; the client looks up the
    /// coordinator again.
    #[error("the group was deleted")]
    CoordinatorNotAvailable,
    /// `NON_EMPTY_GROUP` (68): only an `Empty` group can be deleted.
    #[error("the group has members")]
    NonEmptyGroup,
    /// `GROUP_ID_NOT_FOUND` (69): the group was deleted already.
    #[error("the group does not exist")]
    GroupIdNotFound,
    /// `INVALID_REQUEST` (42): a field over one of this module's bounds.
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// Which bound.
        reason: &'static str,
    },
}

/// Which request of a member is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    Nothing,
    /// A JoinGroup; only in `PreparingRebalance`.
    Join,
    /// A SyncGroup; only in `CompletingRebalance`.
    Sync,
}

/// What the group keeps per member.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    /// Most preferred first, names unique.
    protocols: Vec<Protocol>,
    /// Its bytes from the leader's SyncGroup; `None` until then in each generation.
    assignment: Option<Vec<u8>>,
    /// Its session runs from here.
    last_seen: Timestamp,
    held: Held,
    /// In the current generation's sync phase and has not sent SyncGroup yet.
    sync_pending: bool,
    /// The order members were added in: the earliest becomes leader when one is needed.
    seq: u64,
}

impl Member {
    fn session_deadline(&self) -> Timestamp {
        self.last_seen.plus(self.session_timeout)
    }

    fn metadata_for(&self, protocol: &str) -> Option<&[u8]> {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| p.metadata.as_slice())
    }

    fn supports(&self, protocol: &str) -> bool {
        self.metadata_for(protocol).is_some()
    }
}

/// The join phase's timing.
#[derive(Clone, Debug, PartialEq, Eq)]
struct JoinPhase {
    /// When members that have not rejoined are dropped and the phase completes.
    deadline: Timestamp,
    /// Kafka's initial delay, when the phase started from `Empty`; replaces `deadline`.
    initial: Option<InitialDelay>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct InitialDelay {
    /// When the phase completes or waits again.
    until: Timestamp,
    /// What is left of the rebalance timeout for waiting again.
    remaining: Duration,
    /// Whether a member was added during this wait.
    new_member_added: bool,
}

/// How a JoinGroup went before the reply is known.
enum JoinStep {
    Answered(Joined),
    /// The member's join is held, or was answered by a completion inside this call.
    Waiting(String),
}

/// One Kafka consumer group under the classic protocol (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassicGroup {
    config: ClassicGroupConfig,
    state: ClassicGroupState,
    generation: i32,
    /// Set by the first member joining an empty group; kept when the group empties.
    protocol_type: Option<String>,
    /// Chosen at each completion; `None` when `Empty`.
    protocol_name: Option<String>,
    /// A member whenever there are members.
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// KIP-394 ids handed out with `MEMBER_ID_REQUIRED`, with when they are forgotten.
    pending: BTreeMap<String, Timestamp>,
    /// `Some` exactly in `PreparingRebalance`.
    join_phase: Option<JoinPhase>,
    /// When members that have not sent SyncGroup are removed.
    sync_deadline: Option<Timestamp>,
    /// How many ids this group has minted.
    minted: u64,
    /// How many members were ever added: the next member's `seq`.
    added: u64,
    /// The latest `now` seen.
    clock: Timestamp,
}

impl ClassicGroup {
    /// An `Empty` group at generation 0.
    pub fn new(config: ClassicGroupConfig) -> ClassicGroup {
        let max_members = config.max_members.clamp(1, MAX_MEMBERS);
        ClassicGroup {
            config: ClassicGroupConfig {
                max_members,
                ..config
            },
            state: ClassicGroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            pending: BTreeMap::new(),
            join_phase: None,
            sync_deadline: None,
            minted: 0,
            added: 0,
            clock: Timestamp::ZERO,
        }
    }

    /// Handles a JoinGroup. `nonce` goes into the member id if one is minted (pass a fresh
    /// random one).
    pub fn on_join(
        &mut self,
        request: JoinRequest,
        nonce: u64,
        now: Timestamp,
    ) -> Outcome<Reply<JoinResponse>> {
        let mut released = self.tick(now);
        let now = self.clock;
        let mark = released.joins.len();
        let reply = match self.join(request, nonce, now, &mut released) {
            Ok(JoinStep::Answered(joined)) => Reply::Now(Ok(joined)),
            Ok(JoinStep::Waiting(member_id)) => self.join_reply(member_id, mark, &mut released),
            Err(error) => Reply::Now(Err(error)),
        };
        self.debug_check();
        Outcome { reply, released }
    }

    /// Handles a SyncGroup.
    pub fn on_sync(
        &mut self,
        request: SyncRequest,
        now: Timestamp,
    ) -> Outcome<Reply<SyncResponse>> {
        let mut released = self.tick(now);
        let now = self.clock;
        let reply = match self.check_sync(&request) {
            Ok(()) => self.sync(request, now, &mut released),
            Err(error) => Reply::Now(Err(error)),
        };
        self.debug_check();
        Outcome { reply, released }
    }

    /// Handles a Heartbeat: OK, or the error that tells the member what to do.
    pub fn on_heartbeat(
        &mut self,
        member_id: &str,
        generation: i32,
        now: Timestamp,
    ) -> Outcome<Result<(), ClassicGroupError>> {
        let released = self.tick(now);
        let now = self.clock;
        let reply = self.check_member(member_id, generation).and_then(|()| {
            let state = self.state;
            let member = self.member_mut(member_id)?;
            member.last_seen = now;
            match state {
                ClassicGroupState::PreparingRebalance => {
                    Err(ClassicGroupError::RebalanceInProgress)
                }
                ClassicGroupState::CompletingRebalance | ClassicGroupState::Stable => Ok(()),
                ClassicGroupState::Empty | ClassicGroupState::Dead => Err(unknown(member_id)),
            }
        });
        Outcome { reply, released }
    }

    /// Handles a LeaveGroup: one result per entry, in order. In a `Dead` group every entry gets
    /// `COORDINATOR_NOT_AVAILABLE` (Kafka's top-level error).
    pub fn on_leave(
        &mut self,
        members: &[LeavingMember],
        now: Timestamp,
    ) -> Outcome<Vec<Result<(), ClassicGroupError>>> {
        let mut released = self.tick(now);
        let now = self.clock;
        let reply = members
            .iter()
            .map(|leaving| self.leave(leaving, now, &mut released))
            .collect();
        self.debug_check();
        Outcome { reply, released }
    }

    /// Whether an OffsetCommit from `member_id` at `generation` is allowed (see the module
    /// docs); an allowed one from a member refreshes its session.
    pub fn check_commit(
        &mut self,
        member_id: &str,
        generation: i32,
        now: Timestamp,
    ) -> Outcome<Result<(), ClassicGroupError>> {
        let released = self.tick(now);
        let now = self.clock;
        let reply = self.commit_allowed(member_id, generation, now);
        Outcome { reply, released }
    }

    /// Processes every deadline that has passed by `now` (join phase, sync phase, sessions,
    /// pending ids) and returns the held requests that answered.
    pub fn tick(&mut self, now: Timestamp) -> Released {
        self.clock = self.clock.max(now);
        let now = self.clock;
        let mut out = Released::default();
        if self.state == ClassicGroupState::Dead {
            return out;
        }
        // Each round that does something removes a member or pending id, or moves the join
        // phase on, so this ends well before the bound; anything left waits for the next tick.
        let rounds = 4 + 4 * (self.members.len() + self.pending.len());
        for _ in 0..rounds {
            let progressed = self.tick_pending(now, &mut out)
                | self.tick_join_phase(now, &mut out)
                | self.tick_sync(now, &mut out)
                | self.tick_sessions(now, &mut out);
            if !progressed {
                break;
            }
        }
        self.debug_check();
        out
    }

    /// When [`tick`](ClassicGroup::tick) next has something to do; `None` when nothing is
    /// scheduled. It may be in the past (a zero timeout): then tick at once.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        if self.state == ClassicGroupState::Dead {
            return None;
        }
        let sessions = self
            .members
            .values()
            .filter(|m| m.held == Held::Nothing)
            .map(Member::session_deadline);
        let phase = self
            .join_phase
            .as_ref()
            .map(|p| p.initial.as_ref().map_or(p.deadline, |i| i.until));
        let sync = self
            .sync_deadline
            .filter(|_| self.members.values().any(|m| m.sync_pending));
        sessions
            .chain(self.pending.values().copied())
            .chain(phase)
            .chain(sync)
            .min()
    }

    /// Handles DeleteGroups: an `Empty` group becomes `Dead` (its pending ids are forgotten).
    ///
    /// # Errors
    /// [`ClassicGroupError::NonEmptyGroup`] if it has members,
    /// [`ClassicGroupError::GroupIdNotFound`] if it is `Dead` already.
    pub fn delete(&mut self) -> Result<(), ClassicGroupError> {
        match self.state {
            ClassicGroupState::Dead => Err(ClassicGroupError::GroupIdNotFound),
            ClassicGroupState::Empty => {
                self.state = ClassicGroupState::Dead;
                self.pending.clear();
                Ok(())
            }
            _ => Err(ClassicGroupError::NonEmptyGroup),
        }
    }

    /// The group as DescribeGroups shows it.
    pub fn describe(&self) -> GroupDescription {
        let stable = match (self.state, &self.protocol_name) {
            (ClassicGroupState::Stable, Some(protocol)) => Some(protocol.as_str()),
            _ => None,
        };
        let members = self.members.iter().map(|(id, m)| MemberDescription {
            member_id: id.clone(),
            group_instance_id: m.instance_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            metadata: stable
                .and_then(|p| m.metadata_for(p))
                .map(<[u8]>::to_vec)
                .unwrap_or_default(),
            assignment: stable.and(m.assignment.clone()).unwrap_or_default(),
        });
        GroupDescription {
            state: self.state,
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            protocol_name: stable.unwrap_or_default().to_owned(),
            members: members.collect(),
        }
    }

    /// The current state.
    pub fn state(&self) -> ClassicGroupState {
        self.state
    }

    /// The current generation.
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// The leader's member id; `None` when there are no members.
    pub fn leader(&self) -> Option<&str> {
        self.leader.as_deref()
    }

    /// The protocol type, once a member has joined.
    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    /// The chosen protocol; `None` when `Empty` or before the first completion.
    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    /// How many members the group has (pending ids not counted).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the group has no members (the broker may then forget it, offsets aside).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    // JoinGroup ------------------------------------------------------------------------------

    fn join(
        &mut self,
        mut request: JoinRequest,
        nonce: u64,
        now: Timestamp,
        out: &mut Released,
    ) -> Result<JoinStep, ClassicGroupError> {
        if self.state == ClassicGroupState::Dead {
            return Err(ClassicGroupError::CoordinatorNotAvailable);
        }
        self.check_session_timeout(request.session_timeout)?;
        let offered = std::mem::take(&mut request.protocols);
        let protocols = check_protocols(&request, offered)?;
        if request.member_id.is_empty() {
            self.check_room()?;
            self.check_compatible(None, &request.protocol_type, &protocols)?;
            if request.member_id_policy == MemberIdPolicy::RequireKnown {
                if self.pending.len() >= self.config.max_members {
                    return Err(self.full());
                }
                let member_id = self.mint(&request.client_id, nonce);
                self.pending
                    .insert(member_id.clone(), now.plus(request.session_timeout));
                return Err(ClassicGroupError::MemberIdRequired { member_id });
            }
            let member_id = self.mint(&request.client_id, nonce);
            self.add_member(member_id.clone(), &request, protocols, now, out);
            Ok(JoinStep::Waiting(member_id))
        } else if self.pending.contains_key(&request.member_id) {
            self.check_room()?;
            self.check_compatible(None, &request.protocol_type, &protocols)?;
            let member_id = request.member_id.clone();
            self.add_member(member_id.clone(), &request, protocols, now, out);
            Ok(JoinStep::Waiting(member_id))
        } else if self.members.contains_key(&request.member_id) {
            self.join_known(&request, protocols, now, out)
        } else {
            Err(unknown(&request.member_id))
        }
    }

    /// A JoinGroup from a member: answered at once, or updates it and (re)starts the join phase.
    fn join_known(
        &mut self,
        request: &JoinRequest,
        protocols: Vec<Protocol>,
        now: Timestamp,
        out: &mut Released,
    ) -> Result<JoinStep, ClassicGroupError> {
        let id = request.member_id.as_str();
        self.check_compatible(Some(id), &request.protocol_type, &protocols)?;
        let is_leader = self.leader.as_deref() == Some(id);
        let member = self.member_mut(id)?;
        member.last_seen = now;
        let unchanged = member.protocols == protocols;
        match self.state {
            ClassicGroupState::CompletingRebalance if unchanged => {
                Ok(JoinStep::Answered(self.joined(id, is_leader)))
            }
            ClassicGroupState::Stable if unchanged && !is_leader => {
                Ok(JoinStep::Answered(self.joined(id, false)))
            }
            ClassicGroupState::PreparingRebalance
            | ClassicGroupState::CompletingRebalance
            | ClassicGroupState::Stable => {
                self.update_member(request, protocols, now, out);
                Ok(JoinStep::Waiting(id.to_owned()))
            }
            ClassicGroupState::Empty | ClassicGroupState::Dead => Err(unknown(id)),
        }
    }

    /// The reply to a join that went to the join phase: held, or answered by a completion
    /// inside this call (its response is then the member's last one released after `mark`).
    fn join_reply(
        &mut self,
        member_id: String,
        mark: usize,
        released: &mut Released,
    ) -> Reply<JoinResponse> {
        if self.members.get(&member_id).map(|m| m.held) == Some(Held::Join) {
            return Reply::Held { member_id };
        }
        let own = released
            .joins
            .iter()
            .enumerate()
            .skip(mark)
            .rev()
            .find(|(_, (id, _))| *id == member_id)
            .map(|(i, _)| i);
        match own {
            Some(i) => Reply::Now(released.joins.remove(i).1),
            None => {
                debug_assert!(false, "join of {member_id} neither held nor answered");
                Reply::Now(Err(unknown(&member_id)))
            }
        }
    }

    fn add_member(
        &mut self,
        id: String,
        request: &JoinRequest,
        protocols: Vec<Protocol>,
        now: Timestamp,
        out: &mut Released,
    ) {
        self.pending.remove(&id);
        if self.members.is_empty() {
            self.protocol_type = Some(request.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(id.clone());
        }
        self.added = self.added.wrapping_add(1);
        let member = Member {
            instance_id: request.group_instance_id.clone(),
            client_id: cut(&request.client_id, MAX_CLIENT_ID_BYTES),
            client_host: cut(&request.client_host, MAX_CLIENT_ID_BYTES),
            session_timeout: request.session_timeout,
            rebalance_timeout: request.rebalance_timeout,
            protocols,
            assignment: None,
            last_seen: now,
            held: Held::Join,
            sync_pending: false,
            seq: self.added,
        };
        let previous = self.members.insert(id, member);
        debug_assert!(previous.is_none(), "member added twice");
        match self.state {
            ClassicGroupState::PreparingRebalance => {
                if self.generation == 0 {
                    let initial = self.join_phase.as_mut().and_then(|p| p.initial.as_mut());
                    if let Some(initial) = initial {
                        initial.new_member_added = true;
                    }
                }
                self.try_complete_join(now, out);
            }
            ClassicGroupState::Empty
            | ClassicGroupState::CompletingRebalance
            | ClassicGroupState::Stable => self.prepare_rebalance(now, out),
            ClassicGroupState::Dead => {}
        }
    }

    /// A member's new JoinGroup: replaces its protocols and timeouts and holds the request.
    fn update_member(
        &mut self,
        request: &JoinRequest,
        protocols: Vec<Protocol>,
        now: Timestamp,
        out: &mut Released,
    ) {
        let id = request.member_id.as_str();
        if let Some(member) = self.members.get_mut(id) {
            // The request it replaces (a retry) or its sync of a generation now ending.
            match std::mem::replace(&mut member.held, Held::Join) {
                Held::Join => out
                    .joins
                    .push((id.to_owned(), Err(ClassicGroupError::RebalanceInProgress))),
                Held::Sync => out
                    .syncs
                    .push((id.to_owned(), Err(ClassicGroupError::RebalanceInProgress))),
                Held::Nothing => {}
            }
            member.protocols = protocols;
            member.session_timeout = request.session_timeout;
            member.rebalance_timeout = request.rebalance_timeout;
            member.last_seen = now;
        }
        match self.state {
            ClassicGroupState::CompletingRebalance | ClassicGroupState::Stable => {
                self.prepare_rebalance(now, out);
            }
            ClassicGroupState::PreparingRebalance => self.try_complete_join(now, out),
            ClassicGroupState::Empty | ClassicGroupState::Dead => {}
        }
    }

    /// The current generation's JoinGroup response for `id`.
    fn joined(&self, id: &str, with_members: bool) -> Joined {
        let protocol_name = self.protocol_name.clone().unwrap_or_default();
        Joined {
            generation: self.generation,
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            members: if with_members {
                self.joined_members(&protocol_name)
            } else {
                Vec::new()
            },
            protocol_name,
            leader: self.leader.clone().unwrap_or_default(),
            member_id: id.to_owned(),
        }
    }

    fn joined_members(&self, protocol: &str) -> Vec<JoinedMember> {
        self.members
            .iter()
            .map(|(id, m)| JoinedMember {
                member_id: id.clone(),
                group_instance_id: m.instance_id.clone(),
                metadata: m
                    .metadata_for(protocol)
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default(),
            })
            .collect()
    }

    fn check_session_timeout(&self, session_timeout: Duration) -> Result<(), ClassicGroupError> {
        let (min, max) = (
            self.config.min_session_timeout,
            self.config.max_session_timeout,
        );
        if (min..=max).contains(&session_timeout) {
            return Ok(());
        }
        Err(ClassicGroupError::InvalidSessionTimeout {
            session_timeout_ms: millis(session_timeout),
            min_ms: millis(min),
            max_ms: millis(max),
        })
    }

    /// Whether a member may be added.
    fn check_room(&self) -> Result<(), ClassicGroupError> {
        if self.members.len() < self.config.max_members {
            Ok(())
        } else {
            Err(self.full())
        }
    }

    fn full(&self) -> ClassicGroupError {
        ClassicGroupError::GroupMaxSizeReached {
            max: self.config.max_members,
        }
    }

    /// Whether a member offering `protocols` of `protocol_type` fits with the others (all but
    /// `joining`): same type, and a protocol every one of them supports.
    fn check_compatible(
        &self,
        joining: Option<&str>,
        protocol_type: &str,
        protocols: &[Protocol],
    ) -> Result<(), ClassicGroupError> {
        if self.members.is_empty() {
            return Ok(());
        }
        let others: Vec<&Member> = self
            .members
            .iter()
            .filter(|(id, _)| Some(id.as_str()) != joining)
            .map(|(_, m)| m)
            .collect();
        let common = protocols
            .iter()
            .any(|p| others.iter().all(|m| m.supports(&p.name)));
        if self.protocol_type.as_deref() == Some(protocol_type) && common {
            Ok(())
        } else {
            Err(ClassicGroupError::InconsistentGroupProtocol)
        }
    }

    fn mint(&mut self, client_id: &str, nonce: u64) -> String {
        self.minted = self.minted.wrapping_add(1);
        let unique = (u128::from(nonce) << 64) | u128::from(self.minted);
        let id = format!(
            "{}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            cut(client_id, MAX_CLIENT_ID_BYTES),
            unique >> 96,
            (unique >> 80) & 0xffff,
            (unique >> 64) & 0xffff,
            (unique >> 48) & 0xffff,
            unique & 0xffff_ffff_ffff,
        );
        debug_assert!(!self.members.contains_key(&id) && !self.pending.contains_key(&id));
        id
    }

    // Join phase -----------------------------------------------------------------------------

    /// Starts a join phase (from `Empty`, `CompletingRebalance` or `Stable`): held syncs get
    /// `REBALANCE_IN_PROGRESS`, and the phase completes at once if it can.
    fn prepare_rebalance(&mut self, now: Timestamp, out: &mut Released) {
        for (id, member) in &mut self.members {
            if member.held == Held::Sync {
                out.syncs
                    .push((id.clone(), Err(ClassicGroupError::RebalanceInProgress)));
                member.held = Held::Nothing;
                member.last_seen = now;
            }
            member.sync_pending = false;
            member.assignment = None;
        }
        self.sync_deadline = None;
        let rebalance_timeout = self.max_rebalance_timeout();
        let delay = self.config.initial_rebalance_delay;
        let initial =
            (self.state == ClassicGroupState::Empty && !delay.is_zero()).then(|| InitialDelay {
                until: now.plus(delay),
                remaining: rebalance_timeout.saturating_sub(delay),
                new_member_added: false,
            });
        self.join_phase = Some(JoinPhase {
            deadline: now.plus(rebalance_timeout),
            initial,
        });
        self.state = ClassicGroupState::PreparingRebalance;
        self.try_complete_join(now, out);
    }

    /// Completes the join phase if every member has joined and no pending id is outstanding
    /// (during an initial delay, only if no member is left).
    fn try_complete_join(&mut self, now: Timestamp, out: &mut Released) {
        let Some(phase) = &self.join_phase else {
            return;
        };
        let ready = if self.members.is_empty() {
            true
        } else if phase.initial.is_some() {
            false
        } else {
            self.pending.is_empty() && self.members.values().all(|m| m.held == Held::Join)
        };
        if ready {
            self.complete_join(now, out);
        }
    }

    /// Ends the join phase: drops members that did not rejoin, elects, votes, answers the joins.
    fn complete_join(&mut self, now: Timestamp, out: &mut Released) {
        // Nobody without a held join holds anything during the join phase.
        self.members.retain(|_, m| m.held == Held::Join);
        self.join_phase = None;
        self.generation = if self.generation == i32::MAX {
            1
        } else {
            self.generation + 1
        };
        self.elect_leader();
        if self.members.is_empty() {
            self.state = ClassicGroupState::Empty;
            self.protocol_name = None;
            self.sync_deadline = None;
            return;
        }
        let protocol = self.select_protocol();
        self.protocol_name = Some(protocol.clone());
        self.state = ClassicGroupState::CompletingRebalance;
        self.sync_deadline = Some(now.plus(self.max_rebalance_timeout()));
        let leader = self.leader.clone().unwrap_or_default();
        let mut leader_list = self.joined_members(&protocol);
        let protocol_type = self.protocol_type.clone().unwrap_or_default();
        for (id, member) in &mut self.members {
            member.held = Held::Nothing;
            member.sync_pending = true;
            member.assignment = None;
            member.last_seen = now;
            let members = if *id == leader {
                std::mem::take(&mut leader_list)
            } else {
                Vec::new()
            };
            let joined = Joined {
                generation: self.generation,
                protocol_type: protocol_type.clone(),
                protocol_name: protocol.clone(),
                leader: leader.clone(),
                member_id: id.clone(),
                members,
            };
            out.joins.push((id.clone(), Ok(joined)));
        }
    }

    /// Keeps the leader if it is a member, else picks the earliest-added member.
    fn elect_leader(&mut self) {
        if self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            return;
        }
        self.leader = self
            .members
            .iter()
            .min_by_key(|(_, m)| m.seq)
            .map(|(id, _)| id.clone());
    }

    /// Kafka's vote: each member votes for its first protocol that every member supports; most
    /// votes wins, ties go to the leader's order.
    fn select_protocol(&self) -> String {
        let Some(leader) = self.leader.as_ref().and_then(|l| self.members.get(l)) else {
            return String::new();
        };
        let candidates: Vec<&str> = leader
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| self.members.values().all(|m| m.supports(name)))
            .collect();
        let mut votes = vec![0usize; candidates.len()];
        for member in self.members.values() {
            let choice = member
                .protocols
                .iter()
                .find_map(|p| candidates.iter().position(|c| *c == p.name));
            if let Some(count) = choice.and_then(|i| votes.get_mut(i)) {
                *count += 1;
            }
        }
        let best = votes
            .iter()
            .enumerate()
            .max_by(|(i, a), (j, b)| a.cmp(b).then(j.cmp(i)))
            .and_then(|(i, _)| candidates.get(i));
        debug_assert!(best.is_some(), "no protocol common to all members");
        best.map(|name| (*name).to_owned()).unwrap_or_default()
    }

    fn max_rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    // SyncGroup ------------------------------------------------------------------------------

    fn check_sync(&self, request: &SyncRequest) -> Result<(), ClassicGroupError> {
        self.check_member(&request.member_id, request.generation)?;
        // Kafka checks a given type or name only against one the group has.
        let differs = |given: &Option<String>, ours: &Option<String>| {
            given
                .as_ref()
                .zip(ours.as_ref())
                .is_some_and(|(g, o)| g != o)
        };
        if differs(&request.protocol_type, &self.protocol_type)
            || differs(&request.protocol_name, &self.protocol_name)
        {
            return Err(ClassicGroupError::InconsistentGroupProtocol);
        }
        Ok(())
    }

    /// A SyncGroup that passed [`check_sync`](ClassicGroup::check_sync).
    fn sync(
        &mut self,
        request: SyncRequest,
        now: Timestamp,
        out: &mut Released,
    ) -> Reply<SyncResponse> {
        let id = request.member_id.as_str();
        let is_leader = self.leader.as_deref() == Some(id);
        match self.state {
            ClassicGroupState::PreparingRebalance => {
                Reply::Now(Err(ClassicGroupError::RebalanceInProgress))
            }
            ClassicGroupState::CompletingRebalance if is_leader => {
                Reply::Now(self.sync_leader(request, now, out))
            }
            ClassicGroupState::CompletingRebalance => {
                if let Some(member) = self.members.get_mut(id) {
                    if member.held == Held::Sync {
                        out.syncs
                            .push((id.to_owned(), Err(ClassicGroupError::RebalanceInProgress)));
                    }
                    member.held = Held::Sync;
                    member.sync_pending = false;
                    member.last_seen = now;
                }
                self.clear_sync_deadline_if_done();
                Reply::Held {
                    member_id: request.member_id,
                }
            }
            ClassicGroupState::Stable => {
                let reply = self.member_mut(id).map(|member| {
                    member.sync_pending = false;
                    member.last_seen = now;
                    member.assignment.clone().unwrap_or_default()
                });
                self.clear_sync_deadline_if_done();
                Reply::Now(reply.map(|assignment| self.synced(assignment)))
            }
            ClassicGroupState::Empty | ClassicGroupState::Dead => Reply::Now(Err(unknown(id))),
        }
    }

    /// The leader's SyncGroup: stores the assignments, makes the group `Stable`, releases the
    /// held syncs.
    fn sync_leader(
        &mut self,
        request: SyncRequest,
        now: Timestamp,
        out: &mut Released,
    ) -> SyncResponse {
        if request
            .assignments
            .iter()
            .any(|(_, bytes)| bytes.len() > MAX_ASSIGNMENT_BYTES)
        {
            return Err(ClassicGroupError::InvalidRequest {
                reason: "an assignment is over 262144 bytes",
            });
        }
        let mut assignments: BTreeMap<String, Vec<u8>> = request
            .assignments
            .into_iter()
            .filter(|(id, _)| self.members.contains_key(id))
            .collect();
        self.state = ClassicGroupState::Stable;
        let (protocol_type, protocol_name) = (
            self.protocol_type.clone().unwrap_or_default(),
            self.protocol_name.clone().unwrap_or_default(),
        );
        let mut own = Vec::new();
        for (id, member) in &mut self.members {
            let assignment = assignments.remove(id).unwrap_or_default();
            if *id == request.member_id {
                member.sync_pending = false;
                member.last_seen = now;
                own.clone_from(&assignment);
            }
            if member.held == Held::Sync {
                member.held = Held::Nothing;
                member.last_seen = now;
                let synced = Synced {
                    protocol_type: protocol_type.clone(),
                    protocol_name: protocol_name.clone(),
                    assignment: assignment.clone(),
                };
                out.syncs.push((id.clone(), Ok(synced)));
            }
            member.assignment = Some(assignment);
        }
        self.clear_sync_deadline_if_done();
        Ok(self.synced(own))
    }

    fn synced(&self, assignment: Vec<u8>) -> Synced {
        Synced {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            protocol_name: self.protocol_name.clone().unwrap_or_default(),
            assignment,
        }
    }

    fn clear_sync_deadline_if_done(&mut self) {
        if !self.members.values().any(|m| m.sync_pending) {
            self.sync_deadline = None;
        }
    }

    // Leave, commit, removal -------------------------------------------------------------------

    fn leave(
        &mut self,
        leaving: &LeavingMember,
        now: Timestamp,
        out: &mut Released,
    ) -> Result<(), ClassicGroupError> {
        if self.state == ClassicGroupState::Dead {
            return Err(ClassicGroupError::CoordinatorNotAvailable);
        }
        if self.pending.remove(&leaving.member_id).is_some() {
            self.try_complete_join(now, out);
            return Ok(());
        }
        let id = if leaving.member_id.is_empty() {
            leaving.group_instance_id.as_deref().and_then(|instance| {
                self.members
                    .iter()
                    .filter(|(_, m)| m.instance_id.as_deref() == Some(instance))
                    .min_by_key(|(_, m)| m.seq)
                    .map(|(id, _)| id.clone())
            })
        } else {
            Some(leaving.member_id.clone())
        };
        match id {
            Some(id) if self.members.contains_key(&id) => {
                self.remove_member(&id, now, out);
                Ok(())
            }
            _ => Err(unknown(&leaving.member_id)),
        }
    }

    fn commit_allowed(
        &mut self,
        member_id: &str,
        generation: i32,
        now: Timestamp,
    ) -> Result<(), ClassicGroupError> {
        match self.state {
            ClassicGroupState::Dead => return Err(ClassicGroupError::CoordinatorNotAvailable),
            ClassicGroupState::Empty if generation < 0 => return Ok(()),
            _ if generation < 0 && member_id.is_empty() => return Err(unknown(member_id)),
            _ => {}
        }
        self.check_member(member_id, generation)?;
        let state = self.state;
        let member = self.member_mut(member_id)?;
        match state {
            ClassicGroupState::Stable | ClassicGroupState::PreparingRebalance => {
                member.last_seen = now;
                Ok(())
            }
            ClassicGroupState::CompletingRebalance => Err(ClassicGroupError::RebalanceInProgress),
            ClassicGroupState::Empty | ClassicGroupState::Dead => Err(unknown(member_id)),
        }
    }

    /// Removes a member (leave, session end): its held requests get `UNKNOWN_MEMBER_ID`, and a
    /// join phase starts, or the running one may complete.
    fn remove_member(&mut self, id: &str, now: Timestamp, out: &mut Released) {
        let Some(member) = self.members.remove(id) else {
            return;
        };
        match member.held {
            Held::Join => out.joins.push((id.to_owned(), Err(unknown(id)))),
            Held::Sync => out.syncs.push((id.to_owned(), Err(unknown(id)))),
            Held::Nothing => {}
        }
        self.elect_leader();
        match self.state {
            ClassicGroupState::CompletingRebalance | ClassicGroupState::Stable => {
                self.prepare_rebalance(now, out);
            }
            ClassicGroupState::PreparingRebalance => self.try_complete_join(now, out),
            ClassicGroupState::Empty | ClassicGroupState::Dead => {}
        }
    }

    /// The checks Heartbeat, SyncGroup and OffsetCommit share.
    fn check_member(&self, member_id: &str, generation: i32) -> Result<(), ClassicGroupError> {
        if self.state == ClassicGroupState::Dead {
            return Err(ClassicGroupError::CoordinatorNotAvailable);
        }
        if !self.members.contains_key(member_id) {
            return Err(unknown(member_id));
        }
        if generation != self.generation {
            return Err(ClassicGroupError::IllegalGeneration {
                generation,
                current: self.generation,
            });
        }
        Ok(())
    }

    fn member_mut(&mut self, member_id: &str) -> Result<&mut Member, ClassicGroupError> {
        self.members
            .get_mut(member_id)
            .ok_or_else(|| unknown(member_id))
    }

    // Deadlines --------------------------------------------------------------------------------

    /// Forgets pending ids whose time is up.
    fn tick_pending(&mut self, now: Timestamp, out: &mut Released) -> bool {
        let before = self.pending.len();
        self.pending.retain(|_, until| *until > now);
        if self.pending.len() == before {
            return false;
        }
        self.try_complete_join(now, out);
        true
    }

    /// The join phase's deadline or initial delay.
    fn tick_join_phase(&mut self, now: Timestamp, out: &mut Released) -> bool {
        let step = self.config.initial_rebalance_delay;
        let Some(phase) = self.join_phase.as_mut() else {
            return false;
        };
        match phase.initial.as_mut() {
            Some(initial) if initial.until <= now => {
                if initial.new_member_added && !initial.remaining.is_zero() {
                    let delay = step.min(initial.remaining);
                    initial.until = now.plus(delay);
                    initial.remaining = initial.remaining.saturating_sub(delay);
                    initial.new_member_added = false;
                } else {
                    self.complete_join(now, out);
                }
                true
            }
            None if phase.deadline <= now => {
                self.complete_join(now, out);
                true
            }
            Some(_) | None => false,
        }
    }

    /// Removes the members that have not sent SyncGroup by the sync deadline, and rebalances.
    fn tick_sync(&mut self, now: Timestamp, out: &mut Released) -> bool {
        if !matches!(self.sync_deadline, Some(deadline) if deadline <= now) {
            return false;
        }
        self.sync_deadline = None;
        let before = self.members.len();
        // Members that have not synced hold nothing: a held sync clears `sync_pending`.
        self.members.retain(|_, m| !m.sync_pending);
        if self.members.len() == before {
            return false;
        }
        self.elect_leader();
        self.prepare_rebalance(now, out);
        true
    }

    /// Removes members whose session has ended (those holding a request are exempt).
    fn tick_sessions(&mut self, now: Timestamp, out: &mut Released) -> bool {
        let ended: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.held == Held::Nothing && m.session_deadline() <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &ended {
            self.remove_member(id, now, out);
        }
        !ended.is_empty()
    }

    // Invariants -------------------------------------------------------------------------------

    fn debug_check(&self) {
        debug_assert_eq!(self.check_invariants(), Ok(()));
    }

    /// Checks the state's invariants (see the module docs); tests call it after every step.
    fn check_invariants(&self) -> Result<(), String> {
        use ClassicGroupState as S;
        let state = self.state;
        if self.members.len() > self.config.max_members
            || self.pending.len() > self.config.max_members
        {
            return Err("over max_members".into());
        }
        if let Some(id) = self
            .pending
            .keys()
            .find(|id| self.members.contains_key(*id))
        {
            return Err(format!("{id} is both pending and a member"));
        }
        match &self.leader {
            Some(l) if !self.members.contains_key(l) => {
                return Err(format!("leader {l} is not a member"));
            }
            None if !self.members.is_empty() => return Err("members but no leader".into()),
            _ => {}
        }
        let has_members = !self.members.is_empty();
        let members_ok = match state {
            S::Empty | S::Dead => !has_members,
            S::CompletingRebalance | S::Stable => has_members,
            S::PreparingRebalance => true,
        };
        if !members_ok || (state == S::Dead && !self.pending.is_empty()) {
            return Err(format!("{state} with {} members", self.members.len()));
        }
        if self.join_phase.is_some() != (state == S::PreparingRebalance) {
            return Err(format!("join phase set wrongly in {state}"));
        }
        if has_members && self.protocol_type.is_none() {
            return Err("members but no protocol type".into());
        }
        if matches!(state, S::CompletingRebalance | S::Stable) {
            let Some(protocol) = &self.protocol_name else {
                return Err(format!("{state} without a protocol"));
            };
            if let Some((id, _)) = self.members.iter().find(|(_, m)| !m.supports(protocol)) {
                return Err(format!("{id} does not support the chosen {protocol}"));
            }
        }
        self.check_member_invariants()
    }

    fn check_member_invariants(&self) -> Result<(), String> {
        use ClassicGroupState as S;
        let state = self.state;
        for (id, m) in &self.members {
            let held_ok = match m.held {
                Held::Nothing => true,
                Held::Join => state == S::PreparingRebalance,
                Held::Sync => state == S::CompletingRebalance && !m.sync_pending,
            };
            if !held_ok {
                return Err(format!("{id} holds {:?} in {state}", m.held));
            }
            if m.sync_pending && !matches!(state, S::CompletingRebalance | S::Stable) {
                return Err(format!("{id} pending sync in {state}"));
            }
            if state == S::Stable && m.assignment.is_none() {
                return Err(format!("{id} has no assignment in Stable"));
            }
            if m.protocols.is_empty() {
                return Err(format!("{id} has no protocols"));
            }
        }
        Ok(())
    }
}

/// Checks a JoinGroup's protocols against the bounds and drops later duplicates.
fn check_protocols(
    request: &JoinRequest,
    mut protocols: Vec<Protocol>,
) -> Result<Vec<Protocol>, ClassicGroupError> {
    if request.protocol_type.is_empty() || protocols.is_empty() {
        return Err(ClassicGroupError::InconsistentGroupProtocol);
    }
    let invalid = |reason| Err(ClassicGroupError::InvalidRequest { reason });
    if request.protocol_type.len() > MAX_PROTOCOL_NAME_BYTES
        || protocols
            .iter()
            .any(|p| p.name.len() > MAX_PROTOCOL_NAME_BYTES)
    {
        return invalid("a protocol type or name is over 255 bytes");
    }
    if protocols.len() > MAX_PROTOCOLS {
        return invalid("more than 16 protocols");
    }
    if protocols.iter().map(|p| p.metadata.len()).sum::<usize>() > MAX_MEMBER_METADATA_BYTES {
        return invalid("protocol metadata is over 262144 bytes");
    }
    if request
        .group_instance_id
        .as_ref()
        .is_some_and(|id| id.len() > MAX_PROTOCOL_NAME_BYTES)
    {
        return invalid("the group instance id is over 255 bytes");
    }
    let mut seen: Vec<String> = Vec::with_capacity(protocols.len());
    protocols.retain(|p| {
        let first = !seen.contains(&p.name);
        if first {
            seen.push(p.name.clone());
        }
        first
    });
    Ok(protocols)
}

/// `s` cut to at most `max_bytes` bytes, on a character boundary.
fn cut(s: &str, max_bytes: usize) -> String {
    let mut end = s.len().min(max_bytes);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_owned()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn unknown(member_id: &str) -> ClassicGroupError {
    ClassicGroupError::UnknownMemberId {
        member_id: member_id.to_owned(),
    }
}

#[cfg(test)]
#[path = "classic_group_tests.rs"]
mod tests;

//! The values that go in and out of the stream calls of [`crate::Broker`].

use crate::catalog::CommittedOffset;
use ferry_core::Timestamp;
use ferry_core::stream::{StreamConfig, StreamRecord};
use std::time::Duration;

/// A stream as listed: its name and config.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamSummary {
    /// The stream's name.
    pub name: String,
    /// Its configuration.
    pub config: StreamConfig,
}

/// Everything about one stream.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamInfo {
    /// The stream's name.
    pub name: String,
    /// Its configuration.
    pub config: StreamConfig,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its config last changed.
    pub updated_at: Timestamp,
    /// Each partition's extent, by partition number.
    pub partitions: Vec<PartitionInfo>,
    /// The consumer groups that have members or committed offsets.
    pub groups: Vec<String>,
}

/// The extent of one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The partition number.
    pub partition: u32,
    /// The first offset still stored (earlier ones were removed by retention).
    pub start_offset: u64,
    /// The offset the next record will get; only durable records lie below it.
    pub end_offset: u64,
    /// Bytes its segment files take on disk.
    pub bytes: u64,
    /// How many segment files it has.
    pub segments: u32,
}

/// One record to append.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewRecord {
    /// The partition to append to; if `None`, chosen by the key's murmur2 hash as the Kafka
    /// Java client does, or, for a keyless record, the partition the request sticks to.
    pub partition: Option<u32>,
    /// The producer's time; the broker's clock if `None`.
    pub timestamp: Option<Timestamp>,
    /// The record's key: what compaction keeps the latest value of, and what partitions by.
    pub key: Option<Vec<u8>>,
    /// The record's value; `None` is a tombstone (on a compacted stream, deletes the key).
    pub value: Option<Vec<u8>>,
    /// Ordered headers, names need not be unique.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Where an appended record went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendedRecord {
    /// Its partition.
    pub partition: u32,
    /// Its offset there.
    pub offset: u64,
}

/// Where a read starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartOffset {
    /// The first record still stored.
    Earliest,
    /// The end: only records appended from now on.
    Latest,
    /// This offset (or the next one still stored, if it is gone).
    At(u64),
}

/// How to read a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Where to start.
    pub from: StartOffset,
    /// Most records to return.
    pub max_records: u32,
    /// Rough bound on the bytes of the records returned; at least one record is returned
    /// whatever its size.
    pub max_bytes: u32,
    /// Long poll: how long to wait for a record when the read starts at the end.
    pub wait: Duration,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            from: StartOffset::Earliest,
            max_records: 1000,
            max_bytes: 1024 * 1024,
            wait: Duration::ZERO,
        }
    }
}

/// A record read back, with its offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// Its offset in its partition.
    pub offset: u64,
    /// The record.
    pub record: StreamRecord,
}

/// What a read returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOutcome {
    /// The records, in offset order.
    pub records: Vec<StoredRecord>,
    /// Where the next read should start.
    pub next_offset: u64,
    /// The partition's first stored offset.
    pub start_offset: u64,
    /// The partition's end (the offset the next append gets).
    pub end_offset: u64,
    /// Set when the requested offset no longer exists (removed by retention or compaction):
    /// the read started at this later offset instead.
    pub skipped_to: Option<u64>,
}

/// Where a new member of a group starts in a partition that has no committed offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OffsetReset {
    /// At the first stored record.
    Earliest,
    /// At the end: only new records (Kafka's default).
    #[default]
    Latest,
}

/// How a member joins a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinOptions {
    /// A member id from an earlier join, to rejoin as the same member.
    pub member_id: Option<String>,
    /// How long the member may stay silent (no poll or heartbeat) before it is removed and
    /// its partitions move to others.
    pub session_timeout: Duration,
    /// Where to start in partitions the group has not committed an offset for.
    pub offset_reset: OffsetReset,
}

impl Default for JoinOptions {
    fn default() -> Self {
        JoinOptions {
            member_id: None,
            session_timeout: Duration::from_secs(10),
            offset_reset: OffsetReset::Latest,
        }
    }
}

/// A member's place in its group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The member's id: give it on every later call.
    pub member_id: String,
    /// The group's generation: changes on every rebalance.
    pub generation: u32,
    /// The partitions this member owns in this generation.
    pub assignment: Vec<u32>,
    /// Whether the generation changed since the one the member called with.
    pub rebalanced: bool,
}

/// How a member polls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollOptions {
    /// Most records to return, over all partitions.
    pub max_records: u32,
    /// Rough bound on bytes returned.
    pub max_bytes: u32,
    /// Long poll: how long to wait when none of the member's partitions has new records.
    pub wait: Duration,
}

impl Default for PollOptions {
    fn default() -> Self {
        PollOptions {
            max_records: 1000,
            max_bytes: 1024 * 1024,
            wait: Duration::ZERO,
        }
    }
}

/// A record a member polled, with its partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolledRecord {
    /// The record's partition.
    pub partition: u32,
    /// The record and its offset.
    pub stored: StoredRecord,
}

/// What a poll returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollOutcome {
    /// The member's place now (after any rebalance).
    pub membership: Membership,
    /// Records of the member's partitions, partition by partition, each in offset order.
    pub records: Vec<PolledRecord>,
}

/// An offset to commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetCommit {
    /// The partition.
    pub partition: u32,
    /// The next offset to read: one past the last record processed.
    pub offset: u64,
    /// Free text stored with the offset and handed back.
    pub metadata: Option<String>,
}

/// Who commits: a member of the group, or (for a group without members) nobody.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committer {
    /// The member id.
    pub member_id: String,
    /// The generation the member believes current; a stale one is fenced.
    pub generation: u32,
}

/// Where a reset moves a group's offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResetTo {
    /// Every partition to its first stored offset.
    Earliest,
    /// Every partition to its end.
    Latest,
    /// Every partition to its first record at or after this time (its end if none).
    Timestamp(Timestamp),
    /// These partitions to these offsets.
    Offsets(Vec<(u32, u64)>),
}

/// A group as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSummary {
    /// The group's name.
    pub name: String,
    /// Its generation (0 if it never had members since the broker started).
    pub generation: u32,
    /// How many members it has.
    pub members: u32,
}

/// One member, as described.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    /// Its id.
    pub member_id: String,
    /// Its partitions.
    pub assignment: Vec<u32>,
    /// When it last joined, polled or sent a heartbeat.
    pub last_seen_at: Timestamp,
}

/// One partition of a group, as described: position and lag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupPartition {
    /// The partition.
    pub partition: u32,
    /// What the group committed, if anything.
    pub committed: Option<CommittedOffset>,
    /// The partition's end offset.
    pub end_offset: u64,
    /// Records between the committed offset (or the start, if none) and the end.
    pub lag_records: u64,
    /// How long ago the first unconsumed record was appended (0 if none).
    pub lag: Duration,
}

/// Everything about one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    /// Its name.
    pub name: String,
    /// Its generation.
    pub generation: u32,
    /// Its members.
    pub members: Vec<MemberInfo>,
    /// Its position and lag in every partition.
    pub partitions: Vec<GroupPartition>,
}

/// What a compaction run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompactionOutcome {
    /// Segments rewritten.
    pub segments_rewritten: u32,
    /// Records removed (superseded values and expired tombstones).
    pub records_removed: u64,
}

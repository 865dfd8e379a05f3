//! Consumer groups of a stream: `/v1/streams/{s}/groups` and `/v1/streams/{s}/groups/{g}/…`.
//!
//! A group shares a stream's partitions among its members; each partition is read by one
//! member at a time. A member joins (`join`), then polls (`poll`, which is also a heartbeat),
//! commits what it has processed (`commit`) and leaves (`leave`). Whenever members come or go the
//! group *rebalances*: its `generation` goes up and partitions move, and a member learns it
//! from the next poll or heartbeat (`rebalanced: true`). Commits carry the generation they were
//! made in, so a member that lost a partition cannot overwrite its new owner's progress.
//!
//! Committed offsets follow Kafka: the committed offset of a partition is the *next* offset to
//! read, one past the last record processed.

use crate::streams::ReadRecord;
use crate::time::rfc3339;
use ferry_core::Timestamp;
use serde::{Deserialize, Serialize};

/// The reply to `GET /v1/streams/{s}/groups`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupList {
    /// Every group of the stream, by name.
    pub groups: Vec<GroupSummary>,
}

/// A group in the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// The group's name.
    pub name: String,
    /// Its current generation (goes up with every rebalance).
    pub generation: u64,
    /// How many members it has now.
    pub members: u32,
}

/// The reply to `GET /v1/streams/{s}/groups/{g}`: members, committed offsets and lag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDetails {
    /// The group's name.
    pub name: String,
    /// Its current generation.
    pub generation: u64,
    /// Its live members.
    pub members: Vec<GroupMember>,
    /// Every partition of the stream, with the group's progress on it.
    pub partitions: Vec<GroupPartition>,
}

/// A live member of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    /// The member's id (from `join`).
    pub member_id: String,
    /// The partitions it owns in the current generation.
    pub assignment: Vec<u32>,
    /// Its last poll or heartbeat; it is dropped once its session timeout passes without one.
    #[serde(with = "rfc3339")]
    pub last_seen_at: Timestamp,
}

/// A group's progress on one partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPartition {
    /// The partition.
    pub partition: u32,
    /// The next offset the group will read, if it ever committed one here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_offset: Option<u64>,
    /// What the committer stored with that offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    /// The partition's end (the next offset to be written).
    pub end_offset: u64,
    /// Records between the committed offset and the end.
    pub lag_records: u64,
    /// Age of the oldest record not yet committed (0 when caught up).
    pub lag_ms: u64,
}

/// Where a group starts on a partition that has no committed offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetReset {
    /// At the first stored record.
    Earliest,
    /// At the end: only records appended from now on.
    Latest,
}

/// The body of `POST …/groups/{g}/join`; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// Rejoin as this member (after a restart); a new id is made when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// How long the member may go without a poll or heartbeat before it is dropped and its
    /// partitions move to others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timeout_ms: Option<u64>,
    /// Where to start on partitions the group has not committed on (server default when
    /// absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_offset_reset: Option<OffsetReset>,
}

/// The reply to a join.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinResponse {
    /// The member's id, to give in every later call.
    pub member_id: String,
    /// The generation the member joined in.
    pub generation: u64,
    /// The partitions it owns.
    pub assignment: Vec<u32>,
}

/// The body of `POST …/groups/{g}/poll`: fetch records of the member's partitions, starting at
/// the group's positions. A poll is also a heartbeat.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollRequest {
    /// The member polling.
    pub member_id: String,
    /// The generation it last saw.
    pub generation: u64,
    /// Most records to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_records: Option<u32>,
    /// Most bytes of records to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// Long poll: how long to wait when nothing is there yet (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
}

/// The reply to a poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollResponse {
    /// The group's generation now.
    pub generation: u64,
    /// The member's partitions in that generation.
    pub assignment: Vec<u32>,
    /// Whether the group rebalanced since the generation the member gave. If so the member
    /// must drop uncommitted work on partitions it no longer owns (their new owner starts from
    /// the last commit); the records below belong to the new assignment.
    pub rebalanced: bool,
    /// The records, each with its `partition`, in offset order within a partition.
    pub records: Vec<ReadRecord>,
}

/// The body of `POST …/groups/{g}/heartbeat`: keeps the member alive without fetching.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// The member.
    pub member_id: String,
    /// The generation it last saw.
    pub generation: u64,
}

/// The reply to a heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// The group's generation now.
    pub generation: u64,
    /// The member's partitions in that generation.
    pub assignment: Vec<u32>,
    /// Whether the group rebalanced since the generation the member gave (see
    /// [`PollResponse::rebalanced`]).
    pub rebalanced: bool,
}

/// The body of `POST …/groups/{g}/commit`. A member commits with its id and generation (a
/// stale generation gets 409 `stale_generation`, an unknown member 404 `unknown_member`); an
/// outside tool may commit with neither while the group has no members.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    /// The committing member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// The generation it last saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// The offsets to commit.
    pub offsets: Vec<CommitOffset>,
}

/// One offset to commit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitOffset {
    /// The partition.
    pub partition: u32,
    /// The next offset to read there: one past the last record processed.
    pub offset: u64,
    /// Free text kept with the offset (shown by `GET …/groups/{g}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// The reply to a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitResponse {
    /// How many offsets were committed.
    pub committed: u32,
}

/// The body of `POST …/groups/{g}/leave`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveRequest {
    /// The member leaving; its partitions move to the others at once.
    pub member_id: String,
}

/// The body of `POST …/groups/{g}/reset`: move the group's committed offsets, only while it has
/// no members (409 otherwise). On the wire it is exactly one of `{"to": "earliest"}`,
/// `{"to": "latest"}`, `{"timestamp": "…"}` or `{"offsets": [{"partition", "offset"}]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ResetWire", into = "ResetWire")]
pub enum ResetRequest {
    /// Every partition to its first stored offset (`{"to": "earliest"}`).
    ToEarliest,
    /// Every partition to its end (`{"to": "latest"}`).
    ToLatest,
    /// Every partition to its first record at or after this time, or its end if none
    /// (`{"timestamp": "…"}`).
    ToTime(Timestamp),
    /// The listed partitions to the listed offsets (`{"offsets": […]}`); others stay.
    ToOffsets(Vec<ResetOffset>),
}

/// A partition and the offset to move a group to there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetOffset {
    /// The partition.
    pub partition: u32,
    /// The next offset the group will read there.
    pub offset: u64,
}

/// The wire form of [`ResetRequest`]: one of three optional keys.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<OffsetReset>,
    #[serde(
        default,
        with = "rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    timestamp: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    offsets: Option<Vec<ResetOffset>>,
}

impl TryFrom<ResetWire> for ResetRequest {
    type Error = String;

    fn try_from(wire: ResetWire) -> Result<ResetRequest, String> {
        match (wire.to, wire.timestamp, wire.offsets) {
            (Some(OffsetReset::Earliest), None, None) => Ok(ResetRequest::ToEarliest),
            (Some(OffsetReset::Latest), None, None) => Ok(ResetRequest::ToLatest),
            (None, Some(t), None) => Ok(ResetRequest::ToTime(t)),
            (None, None, Some(offsets)) => Ok(ResetRequest::ToOffsets(offsets)),
            _ => Err("give exactly one of to, timestamp or offsets".to_owned()),
        }
    }
}

impl From<ResetRequest> for ResetWire {
    fn from(request: ResetRequest) -> ResetWire {
        match request {
            ResetRequest::ToEarliest => ResetWire {
                to: Some(OffsetReset::Earliest),
                ..ResetWire::default()
            },
            ResetRequest::ToLatest => ResetWire {
                to: Some(OffsetReset::Latest),
                ..ResetWire::default()
            },
            ResetRequest::ToTime(t) => ResetWire {
                timestamp: Some(t),
                ..ResetWire::default()
            },
            ResetRequest::ToOffsets(offsets) => ResetWire {
                offsets: Some(offsets),
                ..ResetWire::default()
            },
        }
    }
}

/// The reply to a reset: the group's committed offsets afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetResponse {
    /// One entry per partition that has a committed offset.
    pub offsets: Vec<PartitionOffset>,
}

/// A partition and an offset in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOffset {
    /// The partition.
    pub partition: u32,
    /// The offset.
    pub offset: u64,
}

/// The query of `GET …/groups/{g}/events` (server-sent events): the connection is a member of
/// the group while it lasts. Each `record` event's id is the member's position after it, as
/// `partition:next_offset` pairs joined by commas (e.g. `0:15,1:22`); reconnecting with that id
/// as `Last-Event-ID` commits it and resumes from there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupEventsQuery {
    /// The member's session timeout (see [`JoinRequest::session_timeout_ms`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timeout_ms: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reset(v: serde_json::Value) -> Result<ResetRequest, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn reset_is_exactly_one_of_four_shapes() {
        assert_eq!(
            reset(json!({"to": "earliest"})),
            Ok(ResetRequest::ToEarliest)
        );
        assert_eq!(reset(json!({"to": "latest"})), Ok(ResetRequest::ToLatest));
        assert_eq!(
            reset(json!({"timestamp": "2025-01-31T09:30:00.250Z"})),
            Ok(ResetRequest::ToTime(Timestamp(1_738_315_800_250)))
        );
        assert_eq!(
            reset(json!({"offsets": [{"partition": 1, "offset": 7}]})),
            Ok(ResetRequest::ToOffsets(vec![ResetOffset {
                partition: 1,
                offset: 7
            }]))
        );
        for bad in [
            json!({}),
            json!({"to": "earliest", "timestamp": "2025-01-31T09:30:00Z"}),
            json!({"to": "middle"}),
            json!({"to": "latest", "colour": 1}),
            json!({"offsets": [{"partition": 1, "offset": 7, "metadata": "x"}]}),
        ] {
            assert!(reset(bad.clone()).is_err(), "{bad}");
        }
        let err = reset(json!({})).err().unwrap_or_default();
        assert!(err.contains("exactly one of"), "{err}");
    }

    #[test]
    fn reset_round_trips() {
        for r in [
            ResetRequest::ToEarliest,
            ResetRequest::ToLatest,
            ResetRequest::ToTime(Timestamp(1_000)),
            ResetRequest::ToOffsets(vec![ResetOffset {
                partition: 0,
                offset: 3,
            }]),
        ] {
            let json = serde_json::to_value(&r).unwrap_or_default();
            assert_eq!(json.as_object().map(|o| o.len()), Some(1), "{json}");
            assert_eq!(reset(json), Ok(r));
        }
        assert_eq!(
            serde_json::to_value(ResetRequest::ToTime(Timestamp(0))).unwrap_or_default(),
            json!({"timestamp": "1970-01-01T00:00:00.000Z"})
        );
    }

    #[test]
    fn commit_and_poll_requests_refuse_unknown_fields() {
        let commit: Result<CommitRequest, _> =
            serde_json::from_value(json!({"offsets": [{"partition": 0, "offset": 5}]}));
        assert_eq!(commit.map(|c| c.offsets.len()).ok(), Some(1));
        let bad: Result<CommitRequest, _> = serde_json::from_value(
            json!({"offsets": [{"partition": 0, "offset": 5, "offest": 6}]}),
        );
        assert!(bad.is_err());
        let poll: Result<PollRequest, _> =
            serde_json::from_value(json!({"member_id": "m", "generation": 2, "wait": 5}));
        assert!(poll.is_err());
        let join: Result<JoinRequest, _> = serde_json::from_value(json!({}));
        assert_eq!(join.ok(), Some(JoinRequest::default()));
        assert_eq!(
            serde_json::to_value(JoinRequest {
                auto_offset_reset: Some(OffsetReset::Earliest),
                ..JoinRequest::default()
            })
            .unwrap_or_default(),
            json!({"auto_offset_reset": "earliest"})
        );
    }

    #[test]
    fn replies_accept_unknown_fields() {
        let details: Result<GroupDetails, _> = serde_json::from_value(json!({
            "name": "g", "generation": 3, "state": "stable",
            "members": [{"member_id": "m", "assignment": [0, 1], "last_seen_at": "2025-01-31T09:30:00.250Z", "host": "h"}],
            "partitions": [{"partition": 0, "end_offset": 9, "lag_records": 9, "lag_ms": 100}]
        }));
        let details = details.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            details.partitions.first().and_then(|p| p.committed_offset),
            None
        );
        assert_eq!(
            details.members.first().map(|m| m.last_seen_at),
            Some(Timestamp(1_738_315_800_250))
        );
        let poll: Result<PollResponse, _> = serde_json::from_value(json!({
            "generation": 4, "assignment": [1], "rebalanced": true,
            "records": [{"partition": 1, "offset": 0, "value": "v", "headers": [], "timestamp": "1970-01-01T00:00:00.000Z"}]
        }));
        let poll = poll.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(poll.records.first().and_then(|r| r.partition), Some(1));
    }
}

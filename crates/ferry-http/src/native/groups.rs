//! Consumer groups: `GET /v1/streams/{s}/groups`, `GET`/`DELETE /v1/streams/{s}/groups/{g}` and
//! `POST /v1/streams/{s}/groups/{g}/{join,poll,heartbeat,commit,leave,reset}`.

use crate::error::ApiError;
use crate::extract::{JsonBody, OptionalJsonBody, PathParams};
use crate::native::records::{max_bytes, max_records, record_encode};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_api::{
    CommitRequest, CommitResponse, GroupDetails, GroupList, GroupMember, GroupPartition,
    GroupSummary, HeartbeatRequest, HeartbeatResponse, JoinRequest, JoinResponse, LeaveRequest,
    OffsetReset, PartitionOffset, PollRequest, PollResponse, ReadEncoding, ResetRequest,
    ResetResponse,
};
use ferry_broker::{
    Committer, GroupInfo, JoinOptions, Membership, OffsetCommit, PollOptions, ResetTo,
};
use std::time::Duration;

/// The stream's groups: those with members or committed offsets.
pub(crate) async fn list_groups(
    State(state): State<AppState>,
    PathParams(stream): PathParams<String>,
) -> Result<Json<GroupList>, ApiError> {
    let groups = state.broker.list_groups(&stream)?;
    Ok(Json(GroupList {
        groups: groups
            .into_iter()
            .map(|g| GroupSummary {
                name: g.name,
                generation: u64::from(g.generation),
                members: g.members,
            })
            .collect(),
    }))
}

/// A group's members, committed offsets and lag.
pub(crate) async fn get_group(
    State(state): State<AppState>,
    PathParams((stream, group)): PathParams<(String, String)>,
) -> Result<Json<GroupDetails>, ApiError> {
    let info = state.broker.describe_group(&stream, &group).await?;
    Ok(Json(group_encode(info)))
}

/// Deletes a group's committed offsets; only while it has no members.
pub(crate) async fn delete_group(
    State(state): State<AppState>,
    PathParams((stream, group)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.broker.delete_group(&stream, &group).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Joins a group as a new member (or rejoins as `member_id`); the group rebalances. An empty
/// body means the defaults.
pub(crate) async fn join(
    State(state): State<AppState>,
    PathParams((stream, group)): PathParams<(String, String)>,
    OptionalJsonBody(request): OptionalJsonBody<JoinRequest>,
) -> Result<Json<JoinResponse>, ApiError> {
    let options = join_options(
        request.member_id,
        request.session_timeout_ms,
        request.auto_offset_reset,
    );
    let joined = state.broker.join_group(&stream, &group, options).await?;
    Ok(Json(join_encode(joined)))
}

/// Polls records of the member's partitions from its positions; also a heartbeat.
pub(crate) async fn poll(
    State(state): State<AppState>,
    PathParams((stream, group)): PathParams<(String, String)>,
    JsonBody(request): JsonBody<PollRequest>,
) -> Result<Json<PollResponse>, ApiError> {
    let generation = generation_param(request.generation)?;
    let options = PollOptions {
        max_records: max_records(request.max_records)?,
        max_bytes: max_bytes(request.max_bytes)?,
        wait: Duration::from_millis(request.wait_ms.unwrap_or(0)),
    };
    let polled = state
        .broker
        .poll_group(&stream, &group, &request.member_id, generation, options)
        .await?;
    let membership = polled.membership;
    Ok(Json(PollResponse {
        generation: u64::from(membership.generation),
        assignment: membership.assignment,
        rebalanced: membership.rebalanced,
        records: polled
            .records
            .into_iter()
            .map(|r| record_encode(r.stored, Some(r.partition), ReadEncoding::Auto))
            .collect(),
    }))
}

/// Keeps a member alive and tells it its generation and partitions.
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    PathParams((stream, group)): PathParams<(String, String)>,
    JsonBody(request): JsonBody<HeartbeatRequest>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    let generation = generation_param(request.generation)?;
    let membership = state
        .broker
        .heartbeat(&stream, &group, &request.member_id, generation)
        .await?;
    Ok(Json(HeartbeatResponse {
        generation: u64::from(membership.generation),
        assignment: membership.assignment,
        rebalanced: membership.rebalanced,
    }))
}

/// Commits offsets: as a member (fenced by its generation), or with neither `member_id` nor
/// `generation` while the group has no members.
pub(crate) async fn commit(
    State(state): State<AppState>,
    PathParams((stream, group)): PathParams<(String, String)>,
    JsonBody(request): JsonBody<CommitRequest>,
) -> Result<Json<CommitResponse>, ApiError> {
    let committer = match (request.member_id, request.generation) {
        (Some(member_id), Some(generation)) => Some(Committer {
            member_id,
            generation: generation_param(generation)?,
        }),
        (None, None) => None,
        _ => {
            return Err(ApiError::invalid_request(
                "give both member_id and generation (a member's commit) or neither",
            ));
        }
    };
    let offsets = request
        .offsets
        .into_iter()
        .map(|o| OffsetCommit {
            partition: o.partition,
            offset: o.offset,
            metadata: o.metadata,
        })
        .collect();
    let committed = state
        .broker
        .commit_offsets(&stream, &group, committer, offsets)
        .await?;
    Ok(Json(CommitResponse { committed }))
}

/// Leaves the group; the member's partitions go to the others at once.
pub(crate) async fn leave(
    State(state): State<AppState>,
    PathParams((stream, group)): PathParams<(String, String)>,
    JsonBody(request): JsonBody<LeaveRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .broker
        .leave_group(&stream, &group, &request.member_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Moves a group's committed offsets while it has no members; answers with every committed
/// offset of the group afterwards.
pub(crate) async fn reset(
    State(state): State<AppState>,
    PathParams((stream, group)): PathParams<(String, String)>,
    JsonBody(request): JsonBody<ResetRequest>,
) -> Result<Json<ResetResponse>, ApiError> {
    let to = match request {
        ResetRequest::ToEarliest => ResetTo::Earliest,
        ResetRequest::ToLatest => ResetTo::Latest,
        ResetRequest::ToTime(t) => ResetTo::Timestamp(t),
        ResetRequest::ToOffsets(offsets) => {
            ResetTo::Offsets(offsets.iter().map(|o| (o.partition, o.offset)).collect())
        }
    };
    state
        .broker
        .reset_group_offsets(&stream, &group, to)
        .await?;
    let info = state.broker.describe_group(&stream, &group).await?;
    Ok(Json(ResetResponse {
        offsets: info
            .partitions
            .iter()
            .filter_map(|p| {
                p.committed.as_ref().map(|c| PartitionOffset {
                    partition: p.partition,
                    offset: c.offset,
                })
            })
            .collect(),
    }))
}

/// The broker's join options; absent fields take the broker's defaults.
pub(crate) fn join_options(
    member_id: Option<String>,
    session_timeout_ms: Option<u64>,
    offset_reset: Option<OffsetReset>,
) -> JoinOptions {
    let defaults = JoinOptions::default();
    JoinOptions {
        member_id,
        session_timeout: session_timeout_ms.map_or(defaults.session_timeout, Duration::from_millis),
        offset_reset: match offset_reset {
            None => defaults.offset_reset,
            Some(OffsetReset::Earliest) => ferry_broker::OffsetReset::Earliest,
            Some(OffsetReset::Latest) => ferry_broker::OffsetReset::Latest,
        },
    }
}

/// A generation from the wire; the broker's are 32-bit, so a larger one was never issued.
fn generation_param(generation: u64) -> Result<u32, ApiError> {
    u32::try_from(generation).map_err(|_| {
        ApiError::invalid_request(format!(
            "generation {generation} was never issued (generations are below 2^32)"
        ))
    })
}

/// A join's reply.
pub(crate) fn join_encode(m: Membership) -> JoinResponse {
    JoinResponse {
        member_id: m.member_id,
        generation: u64::from(m.generation),
        assignment: m.assignment,
    }
}

fn group_encode(info: GroupInfo) -> GroupDetails {
    GroupDetails {
        name: info.name,
        generation: u64::from(info.generation),
        members: info
            .members
            .into_iter()
            .map(|m| GroupMember {
                member_id: m.member_id,
                assignment: m.assignment,
                last_seen_at: m.last_seen_at,
            })
            .collect(),
        partitions: info
            .partitions
            .into_iter()
            .map(|p| {
                let (committed_offset, metadata) = p
                    .committed
                    .map_or((None, None), |c| (Some(c.offset), c.metadata));
                GroupPartition {
                    partition: p.partition,
                    committed_offset,
                    metadata,
                    end_offset: p.end_offset,
                    lag_records: p.lag_records,
                    lag_ms: u64::try_from(p.lag.as_millis()).unwrap_or(u64::MAX),
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_defaults_are_the_brokers() {
        assert_eq!(join_options(None, None, None), JoinOptions::default());
        let custom = join_options(Some("m".into()), Some(1_500), Some(OffsetReset::Earliest));
        assert_eq!(
            (
                custom.member_id.as_deref(),
                custom.session_timeout,
                custom.offset_reset
            ),
            (
                Some("m"),
                Duration::from_millis(1_500),
                ferry_broker::OffsetReset::Earliest
            )
        );
    }

    #[test]
    fn generations_fit_in_32_bits() {
        assert!(matches!(generation_param(7), Ok(7)));
        assert!(generation_param(u64::from(u32::MAX) + 1).is_err());
    }
}

//! JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups and ListGroups: the classic
//! group protocol. The group logic is the broker's; this maps requests and errors.

use crate::Context;
use crate::errors::code;
use crate::handlers::text;
use bytes::Bytes;
use ferry_core::stream::classic_group::{
    ClassicGroupError, JoinRequest, LeavingMember, MemberIdPolicy, Protocol, SyncRequest,
};
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    DescribeGroupsRequest, DescribeGroupsResponse, GroupId, HeartbeatRequest, HeartbeatResponse,
    JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, ListGroupsRequest,
    ListGroupsResponse, RequestHeader, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;
use std::net::SocketAddr;
use std::time::Duration;

/// The Kafka error code of a group refusal.
pub(crate) fn group_code(e: &ClassicGroupError) -> i16 {
    match e {
        ClassicGroupError::UnknownMemberId { .. } => code::UNKNOWN_MEMBER_ID,
        ClassicGroupError::IllegalGeneration { .. } => code::ILLEGAL_GENERATION,
        ClassicGroupError::RebalanceInProgress => code::REBALANCE_IN_PROGRESS,
        ClassicGroupError::InconsistentGroupProtocol => code::INCONSISTENT_GROUP_PROTOCOL,
        ClassicGroupError::InvalidSessionTimeout { .. } => code::INVALID_SESSION_TIMEOUT,
        ClassicGroupError::GroupMaxSizeReached { .. } => code::GROUP_MAX_SIZE_REACHED,
        ClassicGroupError::MemberIdRequired { .. } => code::MEMBER_ID_REQUIRED,
        ClassicGroupError::CoordinatorNotAvailable => code::COORDINATOR_NOT_AVAILABLE,
        ClassicGroupError::NonEmptyGroup => code::NON_EMPTY_GROUP,
        ClassicGroupError::GroupIdNotFound => code::GROUP_ID_NOT_FOUND,
        _ => code::INVALID_REQUEST,
    }
}

fn millis(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn group_name(id: &GroupId) -> Option<&str> {
    Some(id.0.as_str()).filter(|g| !g.is_empty())
}

pub(crate) async fn join(
    context: &Context,
    peer: SocketAddr,
    header: &RequestHeader,
    request: JoinGroupRequest,
) -> JoinGroupResponse {
    let version = header.request_api_version;
    let mut response = JoinGroupResponse::default();
    response.generation_id = -1;
    response.member_id = request.member_id.clone();
    let Some(group) = group_name(&request.group_id) else {
        response.error_code = code::INVALID_GROUP_ID;
        return response;
    };
    let session_timeout = millis(request.session_timeout_ms);
    let join = JoinRequest {
        member_id: request.member_id.as_str().to_owned(),
        group_instance_id: request
            .group_instance_id
            .as_ref()
            .map(|s| s.as_str().to_owned()),
        client_id: header
            .client_id
            .as_ref()
            .map_or_else(String::new, |c| c.as_str().to_owned()),
        client_host: format!("/{}", peer.ip()),
        session_timeout,
        rebalance_timeout: if version >= 1 {
            millis(request.rebalance_timeout_ms)
        } else {
            session_timeout
        },
        protocol_type: request.protocol_type.as_str().to_owned(),
        protocols: request
            .protocols
            .iter()
            .map(|p| Protocol {
                name: p.name.as_str().to_owned(),
                metadata: p.metadata.to_vec(),
            })
            .collect(),
        member_id_policy: if version >= 4 {
            MemberIdPolicy::RequireKnown
        } else {
            MemberIdPolicy::AssignOnJoin
        },
    };
    match context.broker.classic_join(group, join).await {
        Ok(joined) => {
            response.generation_id = joined.generation;
            response.protocol_type = Some(text(joined.protocol_type));
            response.protocol_name = Some(text(joined.protocol_name));
            response.leader = text(joined.leader);
            response.member_id = text(joined.member_id);
            response.members = joined
                .members
                .into_iter()
                .map(|m| {
                    let mut member = JoinGroupResponseMember::default();
                    member.member_id = text(m.member_id);
                    member.group_instance_id = m.group_instance_id.map(text);
                    member.metadata = Bytes::from(m.metadata);
                    member
                })
                .collect();
        }
        Err(e) => {
            response.error_code = group_code(&e);
            if let ClassicGroupError::MemberIdRequired { member_id } = e {
                response.member_id = text(member_id);
            }
        }
    }
    response
}

pub(crate) async fn sync(context: &Context, request: SyncGroupRequest) -> SyncGroupResponse {
    let mut response = SyncGroupResponse::default();
    let Some(group) = group_name(&request.group_id) else {
        response.error_code = code::INVALID_GROUP_ID;
        return response;
    };
    let sync = SyncRequest {
        member_id: request.member_id.as_str().to_owned(),
        generation: request.generation_id,
        protocol_type: request
            .protocol_type
            .as_ref()
            .map(|s| s.as_str().to_owned()),
        protocol_name: request
            .protocol_name
            .as_ref()
            .map(|s| s.as_str().to_owned()),
        assignments: request
            .assignments
            .iter()
            .map(|a| (a.member_id.as_str().to_owned(), a.assignment.to_vec()))
            .collect(),
    };
    match context.broker.classic_sync(group, sync).await {
        Ok(synced) => {
            response.protocol_type = Some(text(synced.protocol_type));
            response.protocol_name = Some(text(synced.protocol_name));
            response.assignment = Bytes::from(synced.assignment);
        }
        Err(e) => response.error_code = group_code(&e),
    }
    response
}

pub(crate) fn heartbeat(context: &Context, request: HeartbeatRequest) -> HeartbeatResponse {
    let mut response = HeartbeatResponse::default();
    let Some(group) = group_name(&request.group_id) else {
        response.error_code = code::INVALID_GROUP_ID;
        return response;
    };
    if let Err(e) =
        context
            .broker
            .classic_heartbeat(group, request.member_id.as_str(), request.generation_id)
    {
        response.error_code = group_code(&e);
    }
    response
}

pub(crate) fn leave(
    context: &Context,
    version: i16,
    request: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let mut response = LeaveGroupResponse::default();
    let Some(group) = group_name(&request.group_id) else {
        response.error_code = code::INVALID_GROUP_ID;
        return response;
    };
    let leaving: Vec<LeavingMember> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| LeavingMember {
                member_id: m.member_id.as_str().to_owned(),
                group_instance_id: m.group_instance_id.as_ref().map(|s| s.as_str().to_owned()),
            })
            .collect()
    } else {
        vec![LeavingMember {
            member_id: request.member_id.as_str().to_owned(),
            group_instance_id: None,
        }]
    };
    let results = context.broker.classic_leave(group, &leaving);
    if version >= 3 {
        response.members = leaving
            .into_iter()
            .zip(&results)
            .map(|(m, result)| {
                let mut r = MemberResponse::default();
                r.member_id = text(m.member_id);
                r.group_instance_id = m.group_instance_id.map(text);
                r.error_code = result.as_ref().err().map_or(code::NONE, group_code);
                r
            })
            .collect();
        // The request as a whole fails only when the group itself is gone.
        if let Some(Err(e @ ClassicGroupError::CoordinatorNotAvailable)) = results.first() {
            response.error_code = group_code(e);
        }
    } else if let Some(Err(e)) = results.first() {
        response.error_code = group_code(e);
    }
    response
}

pub(crate) fn describe(
    context: &Context,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let mut response = DescribeGroupsResponse::default();
    for id in request.groups {
        let mut described = DescribedGroup::default();
        described.authorized_operations = i32::MIN;
        match context.broker.classic_describe(id.0.as_str()) {
            Some(group) => {
                described.group_state = text(group.state.as_str());
                described.protocol_type = text(group.protocol_type);
                described.protocol_data = text(group.protocol_name);
                described.members = group
                    .members
                    .into_iter()
                    .map(|m| {
                        let mut member = DescribedGroupMember::default();
                        member.member_id = text(m.member_id);
                        member.group_instance_id = m.group_instance_id.map(text);
                        member.client_id = text(m.client_id);
                        member.client_host = text(m.client_host);
                        member.member_metadata = Bytes::from(m.metadata);
                        member.member_assignment = Bytes::from(m.assignment);
                        member
                    })
                    .collect();
            }
            // A group without members: Kafka describes it as Dead (or Empty, with offsets).
            None => {
                let has_offsets = context
                    .broker
                    .group_offsets_everywhere(id.0.as_str())
                    .is_ok_and(|o| !o.is_empty());
                described.group_state = text(if has_offsets { "Empty" } else { "Dead" });
                described.protocol_type = StrBytes::default();
            }
        }
        described.group_id = id;
        response.groups.push(described);
    }
    response
}

pub(crate) fn list(context: &Context, request: ListGroupsRequest) -> ListGroupsResponse {
    let mut response = ListGroupsResponse::default();
    match context.broker.classic_groups() {
        Ok(groups) => {
            response.groups = groups
                .into_iter()
                .filter(|g| {
                    request.states_filter.is_empty()
                        || request
                            .states_filter
                            .iter()
                            .any(|s| s.as_str().eq_ignore_ascii_case(&g.state))
                })
                .map(|g| {
                    let mut listed = ListedGroup::default();
                    listed.group_id = GroupId(text(g.name));
                    listed.protocol_type = text(g.protocol_type);
                    listed.group_state = text(g.state);
                    listed.group_type = text("classic");
                    listed
                })
                .collect();
        }
        Err(e) => {
            tracing::warn!(error = %e, "kafka: cannot list groups");
            response.error_code = code::COORDINATOR_NOT_AVAILABLE;
        }
    }
    response
}

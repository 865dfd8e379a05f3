//! One handler per Kafka API: each turns a decoded request into broker calls and a response.
//! A handler never fails as a whole: errors go into the response's error codes.

pub(crate) mod api_versions;
mod configs;
mod coordinator;
mod fetch;
mod groups;
mod list_offsets;
mod metadata;
mod offsets;
mod produce;
mod producer_id;
mod records;
mod topics;

use crate::Context;
use kafka_protocol::messages::{RequestHeader, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use std::net::SocketAddr;

/// Answers one request; `None` for a request that gets no response (Produce with `acks=0`).
pub(crate) async fn dispatch(
    context: &Context,
    peer: SocketAddr,
    header: &RequestHeader,
    request: RequestKind,
) -> Option<ResponseKind> {
    let version = header.request_api_version;
    let response = match request {
        RequestKind::ApiVersions(r) => api_versions::handle(&r).into(),
        RequestKind::Metadata(r) => metadata::handle(context, version, r).await.into(),
        RequestKind::Produce(r) => return produce::handle(context, r).await.map(Into::into),
        RequestKind::Fetch(r) => fetch::handle(context, r).await.into(),
        RequestKind::ListOffsets(r) => list_offsets::handle(context, version, r).await.into(),
        RequestKind::FindCoordinator(r) => coordinator::handle(context, version, r).into(),
        RequestKind::InitProducerId(r) => producer_id::handle(context, r).await.into(),
        RequestKind::CreateTopics(r) => topics::create(context, r).await.into(),
        RequestKind::DeleteTopics(r) => topics::delete(context, version, r).await.into(),
        RequestKind::CreatePartitions(r) => topics::create_partitions(context, r).await.into(),
        RequestKind::DeleteRecords(r) => records::delete(context, r).await.into(),
        RequestKind::DescribeConfigs(r) => configs::describe(context, r).await.into(),
        RequestKind::AlterConfigs(r) => configs::alter(context, r).await.into(),
        RequestKind::IncrementalAlterConfigs(r) => {
            configs::alter_incremental(context, r).await.into()
        }
        RequestKind::JoinGroup(r) => groups::join(context, peer, header, r).await.into(),
        RequestKind::SyncGroup(r) => groups::sync(context, r).await.into(),
        RequestKind::Heartbeat(r) => groups::heartbeat(context, r).into(),
        RequestKind::LeaveGroup(r) => groups::leave(context, version, r).into(),
        RequestKind::DescribeGroups(r) => groups::describe(context, r).into(),
        RequestKind::ListGroups(r) => groups::list(context, r).into(),
        RequestKind::OffsetCommit(r) => offsets::commit(context, r).await.into(),
        RequestKind::OffsetFetch(r) => offsets::fetch(context, r).await.into(),
        other => {
            // `conn` refuses every API `versions` does not list, so this is a bug.
            tracing::error!(request = ?other, "kafka: no handler");
            return None;
        }
    };
    Some(response)
}

/// A string for a response field.
pub(crate) fn text(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// A broker error's message for a response's `error_message`.
pub(crate) fn message(e: &ferry_broker::Error) -> Option<StrBytes> {
    Some(text(e.message.clone()))
}

/// A partition number from the wire, or `None` if negative.
pub(crate) fn partition(index: i32) -> Option<u32> {
    u32::try_from(index).ok()
}

/// An offset for the wire.
pub(crate) fn wire_offset(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

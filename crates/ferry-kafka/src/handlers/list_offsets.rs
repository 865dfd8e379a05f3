//! ListOffsets: a partition's first or next offset, or the first offset at or after a time.

use crate::Context;
use crate::errors::{self, code};
use crate::handlers::{partition, wire_offset};
use ferry_broker::Timestamp;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

/// The query for the next offset (the end).
const LATEST: i64 = -1;
/// The query for the first offset.
const EARLIEST: i64 = -2;

pub(crate) async fn handle(
    context: &Context,
    version: i16,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let mut response = ListOffsetsResponse::default();
    for topic in request.topics {
        let name = topic.name.0.as_str();
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for wanted in topic.partitions {
            let mut p = ListOffsetsPartitionResponse::default();
            p.partition_index = wanted.partition_index;
            p.timestamp = -1;
            p.offset = -1;
            let Some(number) = partition(wanted.partition_index) else {
                p.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
                partitions.push(p);
                continue;
            };
            let found = match wanted.timestamp {
                LATEST => context
                    .broker
                    .partition_extent(name, number)
                    .map(|(_, end)| Some((end, None))),
                EARLIEST => context
                    .broker
                    .partition_extent(name, number)
                    .map(|(start, _)| Some((start, None))),
                t if t >= 0 => context
                    .broker
                    .record_at_time(name, number, Timestamp(t.unsigned_abs()))
                    .await
                    .map(|found| found.map(|(offset, time)| (offset, Some(time)))),
                other => {
                    p.error_code = code::INVALID_REQUEST;
                    tracing::debug!(timestamp = other, "kafka: unsupported ListOffsets query");
                    partitions.push(p);
                    continue;
                }
            };
            match found {
                Ok(Some((offset, time))) => {
                    p.offset = wire_offset(offset);
                    p.timestamp =
                        time.map_or(-1, |t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX));
                    // The field exists from v4; earlier versions cannot carry a value.
                    if version >= 4 {
                        p.leader_epoch = 0;
                    }
                }
                Ok(None) => {}
                Err(e) => p.error_code = errors::of(&e),
            }
            partitions.push(p);
        }
        let mut t = ListOffsetsTopicResponse::default();
        t.name = topic.name;
        t.partitions = partitions;
        response.topics.push(t);
    }
    response
}

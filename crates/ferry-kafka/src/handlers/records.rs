//! DeleteRecords: moves a partition's start forward (Kafka's log start offset).

use crate::Context;
use crate::errors::{self, code};
use crate::handlers::{partition, wire_offset};
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

/// "Up to the end", as a DeleteRecords offset.
const TO_END: i64 = -1;

pub(crate) async fn delete(
    context: &Context,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let mut response = DeleteRecordsResponse::default();
    for topic in request.topics {
        let name = topic.name.0.as_str();
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for wanted in topic.partitions {
            let mut p = DeleteRecordsPartitionResult::default();
            p.partition_index = wanted.partition_index;
            p.low_watermark = -1;
            let before = match (partition(wanted.partition_index), wanted.offset) {
                (Some(number), TO_END) => context
                    .broker
                    .partition_extent(name, number)
                    .map(|(_, end)| (number, end)),
                (Some(number), offset) if offset >= 0 => Ok((number, offset.unsigned_abs())),
                (Some(_), _) => {
                    p.error_code = code::OFFSET_OUT_OF_RANGE;
                    partitions.push(p);
                    continue;
                }
                (None, _) => {
                    p.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
                    partitions.push(p);
                    continue;
                }
            };
            let deleted = match before {
                Ok((number, before)) => context.broker.delete_records(name, number, before).await,
                Err(e) => Err(e),
            };
            match deleted {
                Ok(start) => p.low_watermark = wire_offset(start),
                Err(e) => p.error_code = errors::of(&e),
            }
            partitions.push(p);
        }
        let mut t = DeleteRecordsTopicResult::default();
        t.name = topic.name;
        t.partitions = partitions;
        response.topics.push(t);
    }
    response
}

//! Produce: each partition's record batches are checked whole and appended as sent; the
//! answer goes out once they are durable. `acks=0` gets no answer at all.

use crate::Context;
use crate::errors::{self, code};
use crate::handlers::{message, partition, text, wire_offset};
use bytes::Bytes;
use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;

/// Batch header bytes before `batch_length` ends: base offset (8) and length (4).
const LENGTH_PREFIX_BYTES: usize = 12;

pub(crate) async fn handle(context: &Context, request: ProduceRequest) -> Option<ProduceResponse> {
    let acks = request.acks;
    let refused = if !matches!(acks, -1..=1) {
        Some((
            code::INVALID_REQUIRED_ACKS,
            format!("acks must be -1, 0 or 1, not {acks}"),
        ))
    } else if request.transactional_id.is_some() {
        Some((
            code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            "Ferry does not serve transactions".to_owned(),
        ))
    } else {
        None
    };
    // Every partition of every topic at once: each waits for its own durability.
    let topics = request.topic_data.into_iter().map(|topic| {
        let refused = refused.clone();
        async move {
            let name = topic.name.0.as_str().to_owned();
            let appends = topic.partition_data.into_iter().map(|data| {
                let refused = refused.clone();
                let name = &name;
                async move {
                    match refused {
                        Some((error_code, reason)) => {
                            failed(data.index, error_code, Some(text(reason)))
                        }
                        None => append(context, name, data).await,
                    }
                }
            });
            let mut response = TopicProduceResponse::default();
            response.partition_responses = futures_util::future::join_all(appends).await;
            response.name = topic.name;
            response
        }
    });
    let topics = futures_util::future::join_all(topics).await;
    if acks == 0 {
        return None;
    }
    let mut response = ProduceResponse::default();
    response.responses = topics;
    Some(response)
}

/// Appends every batch of one partition, in order.
async fn append(
    context: &Context,
    topic: &str,
    data: PartitionProduceData,
) -> PartitionProduceResponse {
    let Some(number) = partition(data.index) else {
        return failed(data.index, code::UNKNOWN_TOPIC_OR_PARTITION, None);
    };
    let records = data.records.unwrap_or_default();
    let batches = match split_batches(&records) {
        Ok(batches) if !batches.is_empty() => batches,
        Ok(_) => {
            return failed(
                data.index,
                code::CORRUPT_MESSAGE,
                Some(text("no record batch")),
            );
        }
        Err(reason) => return failed(data.index, code::CORRUPT_MESSAGE, Some(text(reason))),
    };
    let batches = batches.iter().map(|b| b.to_vec()).collect();
    let appended = match context.broker.append_batches(topic, number, batches).await {
        Ok(appended) => appended,
        Err(e) => {
            tracing::debug!(topic, partition = number, error = %e, "kafka: produce refused");
            return failed(data.index, errors::of(&e), message(&e));
        }
    };
    let mut response = PartitionProduceResponse::default();
    response.index = data.index;
    response.base_offset = wire_offset(appended.base_offset);
    response.log_append_time_ms = -1;
    response.log_start_offset = wire_offset(appended.start_offset);
    response
}

fn failed(
    index: i32,
    error_code: i16,
    error_message: Option<StrBytes>,
) -> PartitionProduceResponse {
    let mut response = PartitionProduceResponse::default();
    response.index = index;
    response.error_code = error_code;
    response.base_offset = -1;
    response.log_append_time_ms = -1;
    response.log_start_offset = -1;
    response.error_message = error_message;
    response
}

/// Cuts a partition's records into whole batches by their `batch_length` fields.
fn split_batches(records: &Bytes) -> Result<Vec<Bytes>, String> {
    let mut batches = Vec::new();
    let mut at = 0;
    while at < records.len() {
        let Some(length) = records.get(at + 8..at + LENGTH_PREFIX_BYTES) else {
            return Err(format!("a record batch is cut short at byte {at}"));
        };
        let length = i32::from_be_bytes([length[0], length[1], length[2], length[3]]);
        let length = usize::try_from(length)
            .map_err(|_| format!("a record batch has a negative length ({length})"))?;
        let end = at + LENGTH_PREFIX_BYTES + length;
        if end > records.len() {
            return Err(format!(
                "a record batch of {} bytes overruns the {} bytes sent",
                LENGTH_PREFIX_BYTES + length,
                records.len()
            ));
        }
        batches.push(records.slice(at..end));
        at = end;
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_cut_by_their_lengths_and_overruns_are_refused() {
        let mut two = Vec::new();
        for len in [49u32, 60] {
            two.extend_from_slice(&[0; 8]);
            two.extend_from_slice(&len.to_be_bytes());
            two.extend(std::iter::repeat_n(7u8, len as usize));
        }
        let batches = split_batches(&Bytes::from(two.clone())).unwrap_or_default();
        assert_eq!(batches.iter().map(Bytes::len).collect::<Vec<_>>(), [61, 72]);
        two.pop();
        assert!(split_batches(&Bytes::from(two)).is_err());
        assert!(split_batches(&Bytes::from(vec![0u8; 5])).is_err());
        let negative = [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        assert!(split_batches(&Bytes::from(negative.to_vec())).is_err());
    }
}

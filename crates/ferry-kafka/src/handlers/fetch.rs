//! Fetch: stored record batches as they are, from the batch holding the asked-for offset
//! (the client skips the records before it), waiting up to `max_wait_ms` for `min_bytes`.
//! Fetch sessions (KIP-227) are declined with session id 0, so clients send full fetches.

use crate::Context;
use crate::errors::{self, code};
use crate::handlers::{partition, wire_offset};
use bytes::Bytes;
use ferry_broker::WaitTarget;
use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use std::time::Duration;
use tokio::time::Instant;

/// Longest a fetch waits, whatever the client asks.
const MAX_WAIT: Duration = Duration::from_secs(30);

pub(crate) async fn handle(context: &Context, request: FetchRequest) -> FetchResponse {
    let wait = Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0)).min(MAX_WAIT);
    let deadline = Instant::now() + wait;
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let max_bytes = usize::try_from(request.max_bytes)
        .ok()
        .filter(|&m| m > 0)
        .unwrap_or(usize::MAX);
    loop {
        let round = read_all(context, &request.topics, max_bytes).await;
        let now = Instant::now();
        if round.bytes >= min_bytes.max(1)
            || round.failed
            || now >= deadline
            || *context.stopping.borrow()
        {
            let mut response = FetchResponse::default();
            response.responses = round.topics;
            return response;
        }
        // Then read again: what arrived, or (past the deadline) what there is.
        context
            .broker
            .wait_for_records(&round.waits, deadline - now)
            .await;
    }
}

/// One pass over every requested partition.
struct Round {
    topics: Vec<FetchableTopicResponse>,
    bytes: usize,
    /// Whether a partition answered with an error (a fetch then returns at once).
    failed: bool,
    /// The partitions to wait on if there is too little to return.
    waits: Vec<WaitTarget>,
}

async fn read_all(context: &Context, topics: &[FetchTopic], max_bytes: usize) -> Round {
    let mut round = Round {
        topics: Vec::with_capacity(topics.len()),
        bytes: 0,
        failed: false,
        waits: Vec::new(),
    };
    for topic in topics {
        let name = topic.topic.0.as_str();
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for wanted in &topic.partitions {
            let mut data = PartitionData::default();
            data.partition_index = wanted.partition;
            data.records = Some(Bytes::new());
            let (Some(number), Ok(offset)) = (
                partition(wanted.partition),
                u64::try_from(wanted.fetch_offset),
            ) else {
                data.error_code = code::OFFSET_OUT_OF_RANGE;
                round.failed = true;
                partitions.push(data);
                continue;
            };
            let partition_max = usize::try_from(wanted.partition_max_bytes).unwrap_or(0);
            let room = max_bytes.saturating_sub(round.bytes).min(partition_max);
            match context
                .broker
                .read_batches(name, number, offset, room.max(1))
                .await
            {
                Ok(read) => {
                    data.high_watermark = wire_offset(read.end_offset);
                    data.last_stable_offset = data.high_watermark;
                    data.log_start_offset = wire_offset(read.start_offset);
                    // Past the first, a batch that does not fit waits for the next fetch.
                    let fits = round.bytes == 0 || read.bytes.len() <= room;
                    if fits && !read.bytes.is_empty() {
                        round.bytes += read.bytes.len();
                        data.records = Some(Bytes::from(read.bytes));
                    }
                    // Wake on records beyond what this pass saw.
                    round.waits.push(WaitTarget {
                        stream: name.to_owned(),
                        partition: number,
                        offset: read.end_offset,
                    });
                }
                Err(e) => {
                    data.error_code = errors::of(&e);
                    if let Ok((start, end)) = context.broker.partition_extent(name, number) {
                        data.high_watermark = wire_offset(end);
                        data.last_stable_offset = data.high_watermark;
                        data.log_start_offset = wire_offset(start);
                    } else {
                        data.high_watermark = -1;
                    }
                    round.failed = true;
                }
            }
            partitions.push(data);
        }
        let mut response = FetchableTopicResponse::default();
        response.topic = topic.topic.clone();
        response.partitions = partitions;
        round.topics.push(response);
    }
    round
}

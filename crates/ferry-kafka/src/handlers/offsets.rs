//! OffsetCommit and OffsetFetch: a Kafka group's committed offsets, in the catalog beside the
//! native groups' (so either API sees them).

use crate::Context;
use crate::errors::{self, code};
use crate::handlers::groups::group_code;
use crate::handlers::{partition, text, wire_offset};
use ferry_broker::{CommitError, GroupCommit};
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use std::collections::BTreeMap;

pub(crate) async fn commit(
    context: &Context,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let group = request.group_id.0.as_str();
    // Which entries can be committed at all, and each one's error otherwise.
    let mut errors: Vec<Vec<i16>> = Vec::with_capacity(request.topics.len());
    let mut commits = Vec::new();
    for topic in &request.topics {
        let mut topic_errors = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            match (
                partition(p.partition_index),
                u64::try_from(p.committed_offset),
            ) {
                (Some(number), Ok(offset)) => {
                    topic_errors.push(code::NONE);
                    commits.push(GroupCommit {
                        stream: topic.name.0.as_str().to_owned(),
                        partition: number,
                        offset,
                        metadata: p.committed_metadata.as_ref().map(|m| m.as_str().to_owned()),
                    });
                }
                (None, _) => topic_errors.push(code::UNKNOWN_TOPIC_OR_PARTITION),
                (_, Err(_)) => topic_errors.push(code::OFFSET_OUT_OF_RANGE),
            }
        }
        errors.push(topic_errors);
    }
    let outcome = if group.is_empty() {
        Err(code::INVALID_GROUP_ID)
    } else {
        context
            .broker
            .classic_commit(
                group,
                request.member_id.as_str(),
                request.generation_id_or_member_epoch,
                commits,
            )
            .await
            .map_err(|e| match e {
                CommitError::Group(e) => group_code(&e),
                CommitError::Broker(e) => errors::of(&e),
            })
    };
    let mut results = match &outcome {
        Ok(results) => results
            .iter()
            .map(|r| r.as_ref().err().map_or(code::NONE, commit_code))
            .collect(),
        Err(_) => Vec::new(),
    }
    .into_iter();
    let mut response = OffsetCommitResponse::default();
    for (topic, topic_errors) in request.topics.into_iter().zip(errors) {
        let mut t = OffsetCommitResponseTopic::default();
        t.partitions = topic
            .partitions
            .iter()
            .zip(topic_errors)
            .map(|(p, error)| {
                let mut r = OffsetCommitResponsePartition::default();
                r.partition_index = p.partition_index;
                r.error_code = match (&outcome, error) {
                    (Err(group_error), _) => *group_error,
                    (Ok(_), code::NONE) => results.next().unwrap_or(code::UNKNOWN_SERVER_ERROR),
                    (Ok(_), error) => error,
                };
                r
            })
            .collect();
        t.name = topic.name;
        response.topics.push(t);
    }
    response
}

fn commit_code(e: &ferry_broker::Error) -> i16 {
    match e.kind {
        ferry_broker::ErrorKind::InvalidRequest => code::OFFSET_METADATA_TOO_LARGE,
        _ => errors::of(e),
    }
}

pub(crate) async fn fetch(context: &Context, request: OffsetFetchRequest) -> OffsetFetchResponse {
    let group = request.group_id.0.as_str();
    let mut response = OffsetFetchResponse::default();
    let committed = match context.broker.group_offsets_everywhere(group) {
        Ok(committed) => committed,
        Err(e) => {
            tracing::warn!(error = %e, "kafka: cannot read committed offsets");
            response.error_code = code::COORDINATOR_NOT_AVAILABLE;
            return response;
        }
    };
    let mut by_topic: BTreeMap<&str, Vec<(u32, &ferry_broker::CommittedOffset)>> = BTreeMap::new();
    for (stream, p, c) in &committed {
        by_topic.entry(stream.as_str()).or_default().push((*p, c));
    }
    let entry = |index: i32, found: Option<&ferry_broker::CommittedOffset>| {
        let mut p = OffsetFetchResponsePartition::default();
        p.partition_index = index;
        p.committed_leader_epoch = -1;
        match found {
            Some(c) => {
                p.committed_offset = wire_offset(c.offset);
                p.metadata = Some(text(c.metadata.clone().unwrap_or_default()));
            }
            None => {
                p.committed_offset = -1;
                p.metadata = Some(text(""));
            }
        }
        p
    };
    response.topics = match request.topics {
        // Every topic the group committed to (v2+).
        None => by_topic
            .iter()
            .map(|(name, partitions)| {
                let mut t = OffsetFetchResponseTopic::default();
                t.name = TopicName(text(*name));
                t.partitions = partitions
                    .iter()
                    .map(|(p, c)| entry(i32::try_from(*p).unwrap_or(i32::MAX), Some(c)))
                    .collect();
                t
            })
            .collect(),
        Some(topics) => topics
            .into_iter()
            .map(|topic| {
                let known = by_topic.get(topic.name.0.as_str());
                let mut t = OffsetFetchResponseTopic::default();
                t.partitions = topic
                    .partition_indexes
                    .iter()
                    .map(|&index| {
                        let found = partition(index).and_then(|n| {
                            known.and_then(|k| k.iter().find(|(p, _)| *p == n).map(|(_, c)| *c))
                        });
                        entry(index, found)
                    })
                    .collect();
                t.name = topic.name;
                t
            })
            .collect(),
    };
    response
}

//! Metadata: the one broker, and each topic's partitions (all led by it). Creates unknown
//! topics when the client allows it and the listener is configured to.

use crate::Context;
use crate::errors::{self, code};
use crate::handlers::text;
use ferry_broker::{ErrorKind, StreamConfig};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use uuid::Uuid;

/// The cluster id Metadata reports (one node, no cluster).
const CLUSTER_ID: &str = "ferry";
/// "Authorized operations not requested", as Kafka encodes it.
const OPERATIONS_OMITTED: i32 = i32::MIN;

pub(crate) async fn handle(
    context: &Context,
    version: i16,
    request: MetadataRequest,
) -> MetadataResponse {
    let mut response = MetadataResponse::default();
    let mut broker = MetadataResponseBroker::default();
    broker.node_id = BrokerId(0);
    broker.host = text(context.config.advertised_host.clone());
    broker.port = i32::from(context.config.advertised_port);
    response.brokers = vec![broker];
    response.cluster_id = Some(text(CLUSTER_ID));
    response.controller_id = BrokerId(0);
    response.cluster_authorized_operations = OPERATIONS_OMITTED;
    let names: Option<Vec<String>> = request.topics.map(|topics| {
        topics
            .into_iter()
            .filter_map(|t| t.name.map(|n| n.0.as_str().to_owned()))
            .collect()
    });
    // In v0 an empty list means every topic.
    let names = names.filter(|n| version > 0 || !n.is_empty());
    let allow_create = version < 4 || request.allow_auto_topic_creation;
    response.topics = match names {
        None => match context.broker.list_streams() {
            Ok(streams) => streams
                .into_iter()
                .map(|s| describe(&s.name, s.config.partitions))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "kafka: metadata cannot list streams");
                Vec::new()
            }
        },
        Some(names) => {
            let mut topics = Vec::with_capacity(names.len());
            for name in names {
                topics.push(topic(context, &name, allow_create).await);
            }
            topics
        }
    };
    response
}

/// One requested topic: described, created, or an error.
async fn topic(context: &Context, name: &str, allow_create: bool) -> MetadataResponseTopic {
    let broker = &context.broker;
    if let Ok(info) = broker.stream_summary(name) {
        return describe(name, info.config.partitions);
    }
    if !(allow_create && context.config.auto_create_topics) {
        return failed(name, code::UNKNOWN_TOPIC_OR_PARTITION);
    }
    let config = StreamConfig {
        partitions: context.config.default_partitions,
        ..StreamConfig::default()
    };
    match broker.create_stream(name, config).await {
        Ok(()) => tracing::info!(topic = name, "kafka: topic created by metadata request"),
        Err(e) if e.kind == ErrorKind::Conflict => {}
        Err(e) => return failed(name, errors::of(&e)),
    }
    match broker.stream_summary(name) {
        Ok(info) => describe(name, info.config.partitions),
        Err(e) => failed(name, errors::of(&e)),
    }
}

fn failed(name: &str, error_code: i16) -> MetadataResponseTopic {
    let mut topic = MetadataResponseTopic::default();
    topic.error_code = error_code;
    topic.name = Some(TopicName(text(name)));
    topic.topic_authorized_operations = OPERATIONS_OMITTED;
    topic
}

/// A topic with `partitions` partitions, every one led by node 0.
fn describe(name: &str, partitions: u32) -> MetadataResponseTopic {
    let mut topic = MetadataResponseTopic::default();
    topic.name = Some(TopicName(text(name)));
    topic.topic_id = topic_id(name);
    topic.topic_authorized_operations = OPERATIONS_OMITTED;
    topic.partitions = (0..partitions)
        .map(|p| {
            let mut partition = MetadataResponsePartition::default();
            partition.partition_index = i32::try_from(p).unwrap_or(i32::MAX);
            partition.leader_id = BrokerId(0);
            partition.leader_epoch = 0;
            partition.replica_nodes = vec![BrokerId(0)];
            partition.isr_nodes = vec![BrokerId(0)];
            partition
        })
        .collect();
    topic
}

/// A stable, non-zero topic id derived from the name (Ferry does not name topics by id; the
/// APIs that would need one are not advertised).
pub(crate) fn topic_id(name: &str) -> Uuid {
    let mut high: u64 = 0xcbf2_9ce4_8422_2325;
    let mut low: u64 = 0x8422_2325_cbf2_9ce4;
    for &b in name.as_bytes() {
        high = (high ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        low = (low ^ u64::from(b))
            .wrapping_mul(0x0000_0100_0000_01b3)
            .rotate_left(7);
    }
    Uuid::from_u64_pair(high, low | 1)
}

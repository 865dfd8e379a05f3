//! CreateTopics, DeleteTopics and CreatePartitions: a topic is a stream.

use crate::Context;
use crate::errors::{self, code};
use crate::handlers::metadata::topic_id;
use crate::handlers::text;
use crate::topic_config::{self, NAMES};
use ferry_broker::{Error, ErrorKind, StreamConfig};
use ferry_core::stream::InvalidStreamConfig;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

/// The config a CreateTopics entry asks for.
fn requested_config(
    context: &Context,
    topic: &CreatableTopic,
) -> Result<StreamConfig, (i16, String)> {
    if !topic.assignments.is_empty() {
        return Err((
            code::INVALID_REPLICA_ASSIGNMENT,
            "Ferry is one node: replica assignments do not apply".to_owned(),
        ));
    }
    if topic.replication_factor > 1 {
        return Err((
            code::INVALID_REPLICATION_FACTOR,
            format!(
                "replication factor {} is larger than the 1 node Ferry has",
                topic.replication_factor
            ),
        ));
    }
    let partitions = match topic.num_partitions {
        -1 => context.config.default_partitions,
        n => u32::try_from(n).ok().filter(|&n| n > 0).ok_or((
            code::INVALID_PARTITIONS,
            format!("a topic needs at least 1 partition, not {n}"),
        ))?,
    };
    let mut config = StreamConfig {
        partitions,
        ..StreamConfig::default()
    };
    for c in &topic.configs {
        topic_config::set(
            &mut config,
            c.name.as_str(),
            c.value.as_ref().map(StrBytes::as_str),
        )
        .map_err(|reason| (code::INVALID_CONFIG, reason))?;
    }
    config.validate().map_err(|e| {
        let error_code = match e {
            InvalidStreamConfig::OutOfRange {
                key: "partitions", ..
            } => code::INVALID_PARTITIONS,
            _ => code::INVALID_CONFIG,
        };
        (error_code, e.to_string())
    })?;
    Ok(config)
}

pub(crate) async fn create(
    context: &Context,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut response = CreateTopicsResponse::default();
    for topic in request.topics {
        let name = topic.name.0.as_str().to_owned();
        let mut result = CreatableTopicResult::default();
        result.name = topic.name.clone();
        result.topic_id = topic_id(&name);
        let created = match requested_config(context, &topic) {
            Err(refusal) => Err(refusal),
            Ok(config) if request.validate_only => match context.broker.stream_summary(&name) {
                Ok(_) => Err((
                    code::TOPIC_ALREADY_EXISTS,
                    format!("topic {name:?} already exists"),
                )),
                Err(_) => ferry_core_name_check(&name).map(|()| config),
            },
            Ok(config) => match context.broker.create_stream(&name, config.clone()).await {
                Ok(()) => Ok(config),
                Err(e) if e.kind == ErrorKind::Conflict => Err((
                    code::TOPIC_ALREADY_EXISTS,
                    format!("topic {name:?} already exists"),
                )),
                Err(e) => Err((errors::of(&e), e.message)),
            },
        };
        match created {
            Ok(config) => {
                let shown =
                    topic_config::effective(&config, context.broker.default_segment_bytes());
                result.num_partitions = i32::try_from(config.partitions).unwrap_or(i32::MAX);
                result.replication_factor = 1;
                result.configs = Some(
                    NAMES
                        .iter()
                        .map(|&n| {
                            let mut c = CreatableTopicConfigs::default();
                            c.name = text(n);
                            c.value = topic_config::value(&shown, n).map(text);
                            c.config_source = if topic_config::is_default(&config, n) {
                                5
                            } else {
                                1
                            };
                            c
                        })
                        .collect(),
                );
            }
            Err((error_code, reason)) => {
                result.error_code = error_code;
                result.error_message = Some(text(reason));
                result.num_partitions = -1;
                result.replication_factor = -1;
            }
        }
        response.topics.push(result);
    }
    response
}

/// Checks a topic name without creating anything (for `validate_only`).
fn ferry_core_name_check(name: &str) -> Result<(), (i16, String)> {
    ferry_core::StreamName::new(name)
        .map(|_| ())
        .map_err(|e| (code::INVALID_TOPIC_EXCEPTION, e.to_string()))
}

pub(crate) async fn delete(
    context: &Context,
    version: i16,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let names: Vec<TopicName> = if version >= 6 {
        request.topics.into_iter().filter_map(|t| t.name).collect()
    } else {
        request.topic_names
    };
    let mut response = DeleteTopicsResponse::default();
    for name in names {
        let mut result = DeletableTopicResult::default();
        result.topic_id = topic_id(name.0.as_str());
        if let Err(e) = context.broker.delete_stream(name.0.as_str()).await {
            result.error_code = errors::of(&e);
            result.error_message = Some(text(e.message));
        }
        result.name = Some(name);
        response.responses.push(result);
    }
    response
}

pub(crate) async fn create_partitions(
    context: &Context,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut response = CreatePartitionsResponse::default();
    for topic in request.topics {
        let name = topic.name.0.as_str().to_owned();
        let count = topic.count;
        let grow = |current: &StreamConfig| -> ferry_broker::Result<StreamConfig> {
            let wanted = u32::try_from(count).unwrap_or(0);
            if wanted <= current.partitions {
                return Err(Error::new(
                    ErrorKind::InvalidConfig,
                    format!(
                        "topic {name:?} has {} partitions; it can only grow, and {count} is not more",
                        current.partitions
                    ),
                ));
            }
            Ok(StreamConfig {
                partitions: wanted,
                ..current.clone()
            })
        };
        let result = if topic.assignments.as_ref().is_some_and(|a| !a.is_empty()) {
            Err((
                code::INVALID_REPLICA_ASSIGNMENT,
                "Ferry is one node: replica assignments do not apply".to_owned(),
            ))
        } else if request.validate_only {
            context
                .broker
                .stream_summary(&name)
                .and_then(|s| grow(&s.config))
                .map(|_| ())
                .map_err(|e| (partitions_code(&e), e.message))
        } else {
            context
                .broker
                .update_stream(&name, grow)
                .await
                .map(|_| ())
                .map_err(|e| (partitions_code(&e), e.message))
        };
        let mut r = CreatePartitionsTopicResult::default();
        r.name = topic.name;
        if let Err((error_code, reason)) = result {
            r.error_code = error_code;
            r.error_message = Some(text(reason));
        }
        response.results.push(r);
    }
    response
}

fn partitions_code(e: &Error) -> i16 {
    match e.kind {
        ErrorKind::InvalidConfig => code::INVALID_PARTITIONS,
        _ => errors::of(e),
    }
}

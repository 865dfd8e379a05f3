//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics (the configs a
//! stream has) and, read-only, for the broker.

use crate::Context;
use crate::errors::{self, code};
use crate::handlers::text;
use crate::topic_config::{self, NAMES};
use ferry_broker::{Error, ErrorKind, StreamConfig};
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, alter_configs_response,
    incremental_alter_configs_response,
};
use kafka_protocol::protocol::StrBytes;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const SOURCE_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;
const TYPE_BOOLEAN: i8 = 1;
const TYPE_INT: i8 = 3;
const TYPE_LONG: i8 = 5;
const TYPE_LIST: i8 = 7;
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;

fn config_type(name: &str) -> i8 {
    match name {
        "cleanup.policy" => TYPE_LIST,
        "max.message.bytes" | "segment.bytes" => TYPE_INT,
        _ => TYPE_LONG,
    }
}

fn entry(
    name: &str,
    value: Option<String>,
    source: i8,
    read_only: bool,
    kind: i8,
) -> DescribeConfigsResourceResult {
    let mut e = DescribeConfigsResourceResult::default();
    e.name = text(name);
    e.value = value.map(text);
    e.config_source = source;
    e.read_only = read_only;
    e.config_type = kind;
    e
}

pub(crate) async fn describe(
    context: &Context,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let mut response = DescribeConfigsResponse::default();
    for resource in request.resources {
        // No keys, or an empty list (kafkajs sends one), means every config, as in Kafka.
        let wanted = |name: &str| {
            resource
                .configuration_keys
                .as_ref()
                .is_none_or(|keys| keys.is_empty() || keys.iter().any(|k| k.as_str() == name))
        };
        let mut result = DescribeConfigsResult::default();
        result.resource_type = resource.resource_type;
        result.resource_name = resource.resource_name.clone();
        match resource.resource_type {
            TOPIC => match context
                .broker
                .stream_summary(resource.resource_name.as_str())
            {
                Ok(summary) => {
                    let shown = topic_config::effective(
                        &summary.config,
                        context.broker.default_segment_bytes(),
                    );
                    result.configs = NAMES
                        .iter()
                        .filter(|n| wanted(n))
                        .map(|&name| {
                            let source = if topic_config::is_default(&summary.config, name) {
                                SOURCE_DEFAULT
                            } else {
                                SOURCE_TOPIC
                            };
                            entry(
                                name,
                                topic_config::value(&shown, name),
                                source,
                                false,
                                config_type(name),
                            )
                        })
                        .collect();
                }
                Err(e) => {
                    result.error_code = errors::of(&e);
                    result.error_message = Some(text(e.message));
                }
            },
            BROKER => {
                let c = &context.config;
                let defaults = StreamConfig::default();
                result.configs = [
                    (
                        "auto.create.topics.enable",
                        c.auto_create_topics.to_string(),
                        TYPE_BOOLEAN,
                    ),
                    ("num.partitions", c.default_partitions.to_string(), TYPE_INT),
                    (
                        "message.max.bytes",
                        defaults.max_record_bytes.to_string(),
                        TYPE_INT,
                    ),
                    (
                        "socket.request.max.bytes",
                        c.max_request_bytes.to_string(),
                        TYPE_INT,
                    ),
                ]
                .into_iter()
                .filter(|(name, _, _)| wanted(name))
                .map(|(name, value, kind)| {
                    entry(name, Some(value), SOURCE_STATIC_BROKER, true, kind)
                })
                .collect();
            }
            other => {
                result.error_code = code::INVALID_REQUEST;
                result.error_message = Some(text(format!(
                    "resource type {other} has no configs in Ferry"
                )));
            }
        }
        response.results.push(result);
    }
    response
}

/// Applies `changes` to a topic's config (or only checks them, with `validate_only`).
async fn alter_topic(
    context: &Context,
    topic: &str,
    validate_only: bool,
    changes: impl FnOnce(&StreamConfig) -> Result<StreamConfig, String>,
) -> Result<(), Error> {
    let change = |current: &StreamConfig| {
        changes(current).map_err(|reason| Error::new(ErrorKind::InvalidConfig, reason))
    };
    if validate_only {
        let summary = context.broker.stream_summary(topic)?;
        let config = change(&summary.config)?;
        summary
            .config
            .check_update(&config)
            .and_then(|()| config.validate())
            .map_err(|e| Error::new(ErrorKind::InvalidConfig, e.to_string()))?;
        return Ok(());
    }
    context
        .broker
        .update_stream(topic, change)
        .await
        .map(|_| ())
}

/// The error code and message of a resource that cannot be altered, if it cannot.
fn check_resource(resource_type: i8, name: &StrBytes) -> Option<(i16, String)> {
    match resource_type {
        TOPIC => None,
        BROKER => Some((
            code::INVALID_REQUEST,
            "broker configs are read-only in Ferry; set them in its config file".to_owned(),
        )),
        other => Some((
            code::INVALID_REQUEST,
            format!(
                "resource type {other} ({}) has no configs in Ferry",
                name.as_str()
            ),
        )),
    }
}

fn outcome(result: Result<(), Error>) -> (i16, Option<StrBytes>) {
    match result {
        Ok(()) => (code::NONE, None),
        Err(e) => (errors::of(&e), Some(text(e.message))),
    }
}

/// Alters one resource: refused unless it is a topic, else `change` applied to its config.
async fn alter_resource(
    context: &Context,
    resource_type: i8,
    name: &StrBytes,
    validate_only: bool,
    change: impl FnOnce(&StreamConfig) -> Result<StreamConfig, String>,
) -> (i16, Option<StrBytes>) {
    match check_resource(resource_type, name) {
        Some((error_code, reason)) => (error_code, Some(text(reason))),
        None => outcome(alter_topic(context, name.as_str(), validate_only, change).await),
    }
}

pub(crate) async fn alter(context: &Context, request: AlterConfigsRequest) -> AlterConfigsResponse {
    let mut response = AlterConfigsResponse::default();
    for resource in request.resources {
        let configs = resource.configs;
        // The legacy API replaces the whole set: what is not named goes back to its default.
        let (error_code, error_message) = alter_resource(
            context,
            resource.resource_type,
            &resource.resource_name,
            request.validate_only,
            |current| {
                let mut config = StreamConfig {
                    partitions: current.partitions,
                    ..StreamConfig::default()
                };
                for c in &configs {
                    topic_config::set(
                        &mut config,
                        c.name.as_str(),
                        c.value.as_ref().map(StrBytes::as_str),
                    )?;
                }
                Ok(config)
            },
        )
        .await;
        let mut r = alter_configs_response::AlterConfigsResourceResponse::default();
        r.error_code = error_code;
        r.error_message = error_message;
        r.resource_type = resource.resource_type;
        r.resource_name = resource.resource_name;
        response.responses.push(r);
    }
    response
}

pub(crate) async fn alter_incremental(
    context: &Context,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut response = IncrementalAlterConfigsResponse::default();
    for resource in request.resources {
        let configs = resource.configs;
        let (error_code, error_message) = alter_resource(
            context,
            resource.resource_type,
            &resource.resource_name,
            request.validate_only,
            |current| {
                let mut config = current.clone();
                for c in &configs {
                    let name = c.name.as_str();
                    match c.config_operation {
                        OP_SET => topic_config::set(&mut config, name, c.value.as_ref().map(StrBytes::as_str))?,
                        OP_DELETE => topic_config::set(&mut config, name, None)?,
                        op => return Err(format!("operation {op} on {name:?} is not supported (only SET and DELETE: Ferry has no list-valued topic configs to append to)")),
                    }
                }
                Ok(config)
            },
        )
        .await;
        let mut r = incremental_alter_configs_response::AlterConfigsResourceResponse::default();
        r.error_code = error_code;
        r.error_message = error_message;
        r.resource_type = resource.resource_type;
        r.resource_name = resource.resource_name;
        response.responses.push(r);
    }
    response
}

//! Queue actions: create, find, list, delete, attributes, purge, dead-letter sources, tags and
//! message move tasks.

use super::attributes::{self, queue_of_arn};
use super::errors::SqsError;
use super::{Context, Output, output};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferry_broker::{Broker, MoveTask, MoveTaskOptions, MoveTaskStatus, QueueConfig, Upsert};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `CreateQueue` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateQueue {
    queue_name: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default, alias = "tags")]
    tags: BTreeMap<String, String>,
}

/// An input naming only a queue.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct QueueOnly {
    #[serde(default)]
    queue_url: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct QueueUrlOutput {
    queue_url: String,
}

fn check_queue_name(name: &str) -> Result<(), SqsError> {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    let ok = !base.is_empty()
        && name.chars().count() <= 80
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(SqsError::invalid(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ));
    }
    Ok(())
}

/// `CreateQueue`: creates the queue, or answers the URL of an existing one with the same
/// attributes.
pub(crate) async fn create_queue(cx: &Context, input: CreateQueue) -> Result<Output, SqsError> {
    let name = input.queue_name;
    check_queue_name(&name)?;
    let fifo_asked = input
        .attributes
        .get("FifoQueue")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if fifo_asked != name.ends_with(".fifo") {
        return Err(SqsError::invalid(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix. A queue with a .fifo suffix must have FifoQueue set to true.",
        ));
    }
    let broker = &cx.state.broker;
    if let Ok(info) = broker.queue_info(&name).await {
        // The same settings, however written (JSON spacing, "5" or 5, "True"), are the same
        // queue: compare what the attributes mean, not their text.
        let stored = broker.queue_attributes(&name).await?;
        let mut asked = info.config.clone();
        let asked_stored = attributes::apply(&mut asked, &input.attributes)?;
        let differs = asked != info.config
            || asked_stored
                .iter()
                .any(|(k, v)| !same_setting(stored.get(k).map_or("", String::as_str), v));
        if differs {
            return Err(SqsError::new(
                "QueueNameExists",
                "A queue already exists with the same name and a different value for attribute(s).",
            ));
        }
        return output(&QueueUrlOutput {
            queue_url: cx.queue_url(&name),
        });
    }
    let mut config = attributes::new_config(&name);
    let stored = attributes::apply(&mut config, &input.attributes)?;
    redrive_check(cx, &name, &config).await?;
    // Everything is checked before the queue exists: a refusal must leave nothing behind.
    let none = BTreeMap::new();
    Broker::check_queue_attributes(&none, &stored)?;
    Broker::check_tags(&none, &input.tags)?;
    if broker.put_queue(&name, config).await? == Upsert::Updated {
        tracing::debug!(queue = %name, "CreateQueue raced with another creation");
    }
    if !stored.is_empty() {
        broker.set_queue_attributes(&name, stored).await?;
    }
    if !input.tags.is_empty() {
        broker.tag_queue(&name, input.tags).await?;
    }
    output(&QueueUrlOutput {
        queue_url: cx.queue_url(&name),
    })
}

/// Whether two stored attribute values say the same: equal as JSON if both are JSON (a
/// policy), else equal as text.
fn same_setting(stored: &str, asked: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(stored),
        serde_json::from_str::<serde_json::Value>(asked),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => stored == asked,
    }
}

/// `GetQueueUrl` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetQueueUrl {
    queue_name: String,
}

/// `GetQueueUrl`.
pub(crate) async fn get_queue_url(cx: &Context, input: GetQueueUrl) -> Result<Output, SqsError> {
    cx.state.broker.queue_config(&input.queue_name).await?;
    output(&QueueUrlOutput {
        queue_url: cx.queue_url(&input.queue_name),
    })
}

/// `ListQueues` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListQueues {
    #[serde(default)]
    queue_name_prefix: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListQueuesOutput {
    queue_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// Pages through sorted names: up to `max` names after the one `token` encodes.
fn page(
    mut names: Vec<String>,
    max: Option<i64>,
    token: Option<&str>,
) -> Result<(Vec<String>, Option<String>), SqsError> {
    names.sort();
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        let after = URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| SqsError::invalid("Invalid NextToken value."))?;
        names.retain(|n| *n > after);
    }
    let Some(max) = max else {
        names.truncate(1000);
        return Ok((names, None));
    };
    if !(1..=1000).contains(&max) {
        return Err(SqsError::invalid(
            "Value for parameter MaxResults is invalid. Reason: must be between 1 and 1000.",
        ));
    }
    let max = usize::try_from(max).unwrap_or(1000);
    let next = (names.len() > max)
        .then(|| names.get(max - 1).map(|n| URL_SAFE_NO_PAD.encode(n)))
        .flatten();
    names.truncate(max);
    Ok((names, next))
}

/// `ListQueues`: by prefix, with pagination when `MaxResults` is given.
pub(crate) async fn list_queues(cx: &Context, input: ListQueues) -> Result<Output, SqsError> {
    let prefix = input.queue_name_prefix.unwrap_or_default();
    let names: Vec<String> = cx
        .state
        .broker
        .list_queues()
        .await?
        .into_iter()
        .map(|q| q.name)
        .filter(|n| n.starts_with(&prefix))
        .collect();
    let (names, next_token) = page(names, input.max_results, input.next_token.as_deref())?;
    output(&ListQueuesOutput {
        queue_urls: names.iter().map(|n| cx.queue_url(n)).collect(),
        next_token,
    })
}

/// `DeleteQueue`.
pub(crate) async fn delete_queue(cx: &Context, input: QueueOnly) -> Result<Output, SqsError> {
    let name = cx.queue_name(input.queue_url.as_deref())?;
    cx.state.broker.delete_queue(&name).await?;
    Ok(Output::Empty)
}

/// `GetQueueAttributes` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetQueueAttributes {
    #[serde(default)]
    queue_url: Option<String>,
    #[serde(default)]
    attribute_names: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AttributesOutput {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<String, String>,
}

/// `GetQueueAttributes`.
pub(crate) async fn get_queue_attributes(
    cx: &Context,
    input: GetQueueAttributes,
) -> Result<Output, SqsError> {
    let name = cx.queue_name(input.queue_url.as_deref())?;
    let info = cx.state.broker.queue_info(&name).await?;
    let stored = cx.state.broker.queue_attributes(&name).await?;
    let names = attributes::requested(&input.attribute_names, info.config.fifo)?;
    let attributes = names
        .into_iter()
        .filter_map(|n| {
            Some((
                n.to_owned(),
                attributes::value(n, &info, &stored, &cx.scope)?,
            ))
        })
        .collect();
    output(&AttributesOutput { attributes })
}

/// `SetQueueAttributes` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SetQueueAttributes {
    #[serde(default)]
    queue_url: Option<String>,
    attributes: BTreeMap<String, String>,
}

/// `SetQueueAttributes`: config changes through `put_queue`, the rest stored.
pub(crate) async fn set_queue_attributes(
    cx: &Context,
    input: SetQueueAttributes,
) -> Result<Output, SqsError> {
    let name = cx.queue_name(input.queue_url.as_deref())?;
    let broker = &cx.state.broker;
    let mut config = broker.queue_config(&name).await?;
    let before = config.clone();
    let stored = attributes::apply(&mut config, &input.attributes)?;
    if config.dead_letter_queue != before.dead_letter_queue {
        redrive_check(cx, &name, &config).await?;
    }
    Broker::check_queue_attributes(&broker.queue_attributes(&name).await?, &stored)?;
    if config != before {
        broker.put_queue(&name, config).await?;
    }
    if !stored.is_empty() {
        broker.set_queue_attributes(&name, stored).await?;
    }
    Ok(Output::Empty)
}

/// Refuses a `RedrivePolicy` whose dead-letter queue's `RedriveAllowPolicy` does not admit
/// `source`. (A dead-letter queue that does not exist is refused by the broker itself.)
async fn redrive_check(cx: &Context, source: &str, config: &QueueConfig) -> Result<(), SqsError> {
    let Some(dlq) = config.dead_letter_queue.as_deref() else {
        return Ok(());
    };
    let Ok(stored) = cx.state.broker.queue_attributes(dlq).await else {
        return Ok(());
    };
    let source_arn = cx.scope.arn(source);
    match stored.get("RedriveAllowPolicy") {
        Some(policy) if !attributes::redrive_allowed(policy, &source_arn) => {
            Err(SqsError::invalid(format!(
                "Value for parameter RedrivePolicy is invalid. Reason: the RedriveAllowPolicy of {} does not allow {source_arn} to use it as a dead-letter queue.",
                cx.scope.arn(dlq)
            )))
        }
        _ => Ok(()),
    }
}

/// `PurgeQueue`.
pub(crate) async fn purge_queue(cx: &Context, input: QueueOnly) -> Result<Output, SqsError> {
    let name = cx.queue_name(input.queue_url.as_deref())?;
    cx.state.broker.purge(&name).await?;
    Ok(Output::Empty)
}

/// `ListDeadLetterSourceQueues` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListDeadLetterSourceQueues {
    #[serde(default)]
    queue_url: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Serialize)]
struct SourceQueuesOutput {
    #[serde(rename = "queueUrls")]
    queue_urls: Vec<String>,
    #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// `ListDeadLetterSourceQueues`.
pub(crate) async fn list_dead_letter_source_queues(
    cx: &Context,
    input: ListDeadLetterSourceQueues,
) -> Result<Output, SqsError> {
    let name = cx.queue_name(input.queue_url.as_deref())?;
    let info = cx.state.broker.queue_info(&name).await?;
    let (names, next_token) = page(
        info.dead_letter_sources,
        input.max_results,
        input.next_token.as_deref(),
    )?;
    output(&SourceQueuesOutput {
        queue_urls: names.iter().map(|n| cx.queue_url(n)).collect(),
        next_token,
    })
}

/// `TagQueue` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagQueue {
    #[serde(default)]
    queue_url: Option<String>,
    tags: BTreeMap<String, String>,
}

/// `TagQueue`.
pub(crate) async fn tag_queue(cx: &Context, input: TagQueue) -> Result<Output, SqsError> {
    let name = cx.queue_name(input.queue_url.as_deref())?;
    cx.state.broker.tag_queue(&name, input.tags).await?;
    Ok(Output::Empty)
}

/// `UntagQueue` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UntagQueue {
    #[serde(default)]
    queue_url: Option<String>,
    tag_keys: Vec<String>,
}

/// `UntagQueue`.
pub(crate) async fn untag_queue(cx: &Context, input: UntagQueue) -> Result<Output, SqsError> {
    let name = cx.queue_name(input.queue_url.as_deref())?;
    cx.state.broker.untag_queue(&name, &input.tag_keys).await?;
    Ok(Output::Empty)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TagsOutput {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

/// `ListQueueTags`.
pub(crate) async fn list_queue_tags(cx: &Context, input: QueueOnly) -> Result<Output, SqsError> {
    let name = cx.queue_name(input.queue_url.as_deref())?;
    let tags = cx.state.broker.queue_tags(&name).await?;
    output(&TagsOutput { tags })
}

/// `StartMessageMoveTask` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StartMessageMoveTask {
    source_arn: String,
    #[serde(default)]
    destination_arn: Option<String>,
    #[serde(default)]
    max_number_of_messages_per_second: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TaskHandleOutput {
    task_handle: String,
}

fn resource_error(e: SqsError) -> SqsError {
    if e.name == "QueueDoesNotExist" {
        return SqsError::new("ResourceNotFoundException", e.message);
    }
    e
}

/// `StartMessageMoveTask`: a background redrive of a dead-letter queue.
pub(crate) async fn start_message_move_task(
    cx: &Context,
    input: StartMessageMoveTask,
) -> Result<Output, SqsError> {
    let source = queue_of_arn(&input.source_arn)?;
    let destination = input
        .destination_arn
        .as_deref()
        .map(queue_of_arn)
        .transpose()?;
    let rate_per_s = input
        .max_number_of_messages_per_second
        .map(|r| u32::try_from(r).unwrap_or(0));
    let options = MoveTaskOptions {
        destination,
        rate_per_s,
    };
    let task_handle = cx
        .state
        .broker
        .start_move_task(&source, options)
        .await
        .map_err(|e| resource_error(e.into()))?;
    output(&TaskHandleOutput { task_handle })
}

/// `ListMessageMoveTasks` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListMessageMoveTasks {
    source_arn: String,
    #[serde(default)]
    max_results: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TaskEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    task_handle: Option<String>,
    status: &'static str,
    source_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_number_of_messages_per_second: Option<u32>,
    approximate_number_of_messages_moved: u64,
    approximate_number_of_messages_to_move: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    started_timestamp: u64,
}

fn task_entry(cx: &Context, t: MoveTask) -> TaskEntry {
    let status = match t.status {
        MoveTaskStatus::Running => "RUNNING",
        MoveTaskStatus::Completed => "COMPLETED",
        MoveTaskStatus::Cancelling => "CANCELLING",
        MoveTaskStatus::Cancelled => "CANCELLED",
        _ => "FAILED",
    };
    TaskEntry {
        task_handle: (t.status == MoveTaskStatus::Running).then_some(t.handle),
        status,
        source_arn: cx.scope.arn(&t.source),
        destination_arn: t.destination.map(|d| cx.scope.arn(&d)),
        max_number_of_messages_per_second: t.rate_per_s,
        approximate_number_of_messages_moved: t.moved,
        approximate_number_of_messages_to_move: t.to_move,
        failure_reason: t.failure,
        started_timestamp: t.started_at.0,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TasksOutput {
    results: Vec<TaskEntry>,
}

/// `ListMessageMoveTasks`: the newest first, at most `MaxResults` (1 to 10, default 1).
pub(crate) async fn list_message_move_tasks(
    cx: &Context,
    input: ListMessageMoveTasks,
) -> Result<Output, SqsError> {
    let source = queue_of_arn(&input.source_arn)?;
    let max = input.max_results.unwrap_or(1);
    if !(1..=10).contains(&max) {
        return Err(SqsError::invalid(
            "Value for parameter MaxResults is invalid. Reason: must be between 1 and 10.",
        ));
    }
    let tasks = cx
        .state
        .broker
        .move_tasks(&source)
        .await
        .map_err(|e| resource_error(e.into()))?;
    let results = tasks
        .into_iter()
        .take(usize::try_from(max).unwrap_or(1))
        .map(|t| task_entry(cx, t))
        .collect();
    output(&TasksOutput { results })
}

/// `CancelMessageMoveTask` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CancelMessageMoveTask {
    task_handle: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CancelOutput {
    approximate_number_of_messages_moved: u64,
}

/// `CancelMessageMoveTask`.
pub(crate) async fn cancel_message_move_task(
    cx: &Context,
    input: CancelMessageMoveTask,
) -> Result<Output, SqsError> {
    let task = cx
        .state
        .broker
        .cancel_move_task(&input.task_handle)
        .await
        .map_err(|e| resource_error(e.into()))?;
    output(&CancelOutput {
        approximate_number_of_messages_moved: task.moved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn pages_follow_tokens() {
        let all = names(&["c", "a", "b"]);
        let (first, token) = page(all.clone(), Some(2), None).unwrap_or_default();
        assert_eq!(first, names(&["a", "b"]));
        let (second, end) = page(all.clone(), Some(2), token.as_deref()).unwrap_or_default();
        assert_eq!((second, end), (names(&["c"]), None));
        assert_eq!(page(all.clone(), None, None).unwrap_or_default().0.len(), 3);
        assert!(page(all.clone(), Some(0), None).is_err());
        assert!(page(all, None, Some("!!")).is_err());
    }

    #[test]
    fn queue_names_follow_sqs_rules() {
        assert!(check_queue_name("a-b_c.fifo").is_ok());
        assert!(check_queue_name(".fifo").is_err());
        assert!(check_queue_name("a b").is_err());
        assert!(check_queue_name(&"x".repeat(81)).is_err());
    }
}

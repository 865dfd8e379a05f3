//! Message actions: send (one or a batch), receive, delete and change visibility (one or a
//! batch). Every SQS rule here is a check of the request's shape; queue behaviour (leases,
//! FIFO groups, dedup windows, dead letters) is the broker's.

use super::batch::{self, Failed, Succeeded};
use super::errors::SqsError;
use super::md5::{md5_hex, md5_of_attributes};
use super::message_attributes::{self as attrs, WireValue, valid_contents};
use super::{Context, Output, output};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferry_broker::{
    AckMode, Body, BodyEncoding, Delivery, ErrorKind, NewMessage, QueueConfig, ReceiveOptions, Sent,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Largest message (body and attributes) and batch SQS accepts, whatever the queue allows.
const MAX_SQS_MESSAGE_BYTES: usize = 1024 * 1024;
/// Smallest `MaximumMessageSize` a queue can have: a message no larger fits any queue.
const MIN_QUEUE_MESSAGE_BYTES: usize = 1024;
/// Longest per-message delay.
const MAX_DELAY_S: i64 = 900;
/// Longest lease.
const MAX_VISIBILITY_S: i64 = 43_200;
/// Longest long poll.
const MAX_WAIT_S: i64 = 20;

/// One message to send (`SendMessage` input, and a `SendMessageBatch` entry).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SendEntry {
    #[serde(default)]
    id: String,
    #[serde(default)]
    queue_url: Option<String>,
    message_body: String,
    #[serde(default)]
    delay_seconds: Option<i64>,
    #[serde(default)]
    message_attributes: BTreeMap<String, WireValue>,
    #[serde(default)]
    message_system_attributes: BTreeMap<String, WireValue>,
    #[serde(default)]
    message_deduplication_id: Option<String>,
    #[serde(default)]
    message_group_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SendResult {
    #[serde(skip_serializing_if = "String::is_empty")]
    id: String,
    message_id: String,
    #[serde(rename = "MD5OfMessageBody")]
    md5_of_message_body: String,
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    md5_of_message_attributes: Option<String>,
    #[serde(
        rename = "MD5OfMessageSystemAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    md5_of_message_system_attributes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
}

/// The queue's config, read at most once per request and only when a check needs it.
struct LazyConfig<'a> {
    cx: &'a Context,
    queue: &'a str,
    config: Option<QueueConfig>,
}

impl LazyConfig<'_> {
    async fn get(&mut self) -> Result<&QueueConfig, SqsError> {
        if self.config.is_none() {
            self.config = Some(self.cx.state.broker.queue_config(self.queue).await?);
        }
        self.config
            .as_ref()
            .ok_or_else(|| SqsError::new("InternalFailure", "queue config unavailable"))
    }
}

fn check_token(what: &str, value: &str) -> Result<(), SqsError> {
    let ok = !value.is_empty()
        && value.chars().count() <= 128
        && value.chars().all(|c| c.is_ascii_graphic());
    if !ok {
        return Err(SqsError::invalid(format!(
            "Value {value} for parameter {what} is invalid. Reason: must be 1 to 128 alphanumeric or punctuation characters."
        )));
    }
    Ok(())
}

/// Checks one message and converts it, with the digests its reply carries and its size as SQS
/// counts it (body and attributes).
async fn send_decode(
    entry: SendEntry,
    fifo: bool,
    config: &mut LazyConfig<'_>,
) -> Result<(NewMessage, SendResult, usize), SqsError> {
    if entry.message_body.is_empty() {
        return Err(SqsError::missing("MessageBody"));
    }
    if !valid_contents(&entry.message_body) {
        return Err(SqsError::new(
            "InvalidMessageContents",
            "Invalid binary character in the message body.",
        ));
    }
    let decoded = attrs::decode(&entry.message_attributes, &entry.message_system_attributes)?;
    let size = entry.message_body.len() + decoded.size;
    if size > MIN_QUEUE_MESSAGE_BYTES {
        let max = (config.get().await?.max_message_bytes as usize).min(MAX_SQS_MESSAGE_BYTES);
        if size > max {
            return Err(SqsError::invalid(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {max} bytes."
            )));
        }
    }
    let delay = match entry.delay_seconds {
        None => None,
        Some(_) if fifo => {
            return Err(SqsError::invalid(
                "Value for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.",
            ));
        }
        Some(d) if (0..=MAX_DELAY_S).contains(&d) => {
            Some(Duration::from_secs(u64::try_from(d).unwrap_or(0)))
        }
        Some(d) => {
            return Err(SqsError::invalid(format!(
                "Value {d} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= {MAX_DELAY_S}."
            )));
        }
    };
    if let Some(group) = &entry.message_group_id {
        check_token("MessageGroupId", group)?;
    }
    if let Some(id) = &entry.message_deduplication_id {
        check_token("MessageDeduplicationId", id)?;
    }
    if fifo {
        if entry.message_group_id.is_none() {
            return Err(SqsError::missing("MessageGroupId"));
        }
        if entry.message_deduplication_id.is_none() && !config.get().await?.content_dedup {
            return Err(SqsError::invalid(
                "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
            ));
        }
    } else if entry.message_deduplication_id.is_some() {
        return Err(SqsError::invalid(
            "The request includes a MessageDeduplicationId parameter, which is only valid for FIFO queues.",
        ));
    }
    let all = |_: &str| true;
    let result = SendResult {
        id: entry.id,
        message_id: String::new(),
        md5_of_message_body: md5_hex(entry.message_body.as_bytes()),
        md5_of_message_attributes: md5_of_attributes(&attrs::refs(
            &decoded.plain,
            &decoded.typed,
            &all,
        )),
        md5_of_message_system_attributes: md5_of_attributes(&attrs::system_refs(&decoded.typed)),
        sequence_number: None,
    };
    let message = NewMessage {
        body: Body::text(entry.message_body),
        attributes: decoded.plain,
        typed_attributes: decoded.typed,
        delay,
        dedup_id: entry.message_deduplication_id,
        group: entry.message_group_id,
        ..NewMessage::default()
    };
    Ok((message, result, size))
}

fn sent_into(result: &mut SendResult, sent: Sent, fifo: bool) {
    result.message_id = sent.id.to_string();
    if fifo {
        result.sequence_number = Some(format!("{:020}", sent.seq));
    }
}

/// `SendMessage`.
pub(crate) async fn send_message(cx: &Context, input: SendEntry) -> Result<Output, SqsError> {
    let name = cx.queue_name(input.queue_url.as_deref())?;
    let fifo = name.ends_with(".fifo");
    let mut config = LazyConfig {
        cx,
        queue: &name,
        config: None,
    };
    let (message, mut result, _) = send_decode(input, fifo, &mut config).await?;
    let sent = cx.state.broker.send(&name, vec![message]).await?;
    let first = sent
        .into_iter()
        .next()
        .ok_or_else(|| SqsError::new("InternalFailure", "the broker answered no message"))?;
    sent_into(&mut result, first, fifo);
    output(&result)
}

/// `SendMessageBatch` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SendBatch {
    #[serde(default)]
    queue_url: Option<String>,
    #[serde(default)]
    entries: Vec<SendEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchOutput<T: Serialize> {
    successful: Vec<T>,
    failed: Vec<Failed>,
}

/// `SendMessageBatch`: entries that fail the checks are reported as failed, the others are
/// sent together as one durable batch.
pub(crate) async fn send_message_batch(cx: &Context, input: SendBatch) -> Result<Output, SqsError> {
    let name = cx.queue_name(input.queue_url.as_deref())?;
    batch::check_ids(input.entries.iter().map(|e| e.id.as_str()))?;
    let fifo = name.ends_with(".fifo");
    let mut config = LazyConfig {
        cx,
        queue: &name,
        config: None,
    };
    let mut messages = Vec::with_capacity(input.entries.len());
    let mut results = Vec::with_capacity(input.entries.len());
    let mut failed = Vec::new();
    // Bodies and attributes count against the batch's limit (a failed entry's body only).
    let mut total = 0usize;
    for entry in input.entries {
        let id = entry.id.clone();
        let body_bytes = entry.message_body.len();
        match send_decode(entry, fifo, &mut config).await {
            Ok((m, r, size)) => {
                messages.push(m);
                results.push(r);
                total += size;
            }
            Err(e) if e.name == "QueueDoesNotExist" => return Err(e),
            Err(e) => {
                failed.push(Failed::new(&id, &e));
                total += body_bytes;
            }
        }
    }
    if total > MAX_SQS_MESSAGE_BYTES {
        return Err(SqsError::new(
            "BatchRequestTooLong",
            format!("Batch requests cannot be longer than {MAX_SQS_MESSAGE_BYTES} bytes."),
        ));
    }
    if messages.is_empty() {
        return output(&BatchOutput::<SendResult> {
            successful: Vec::new(),
            failed,
        });
    }
    match cx.state.broker.send(&name, messages).await {
        Ok(sent) => {
            for (result, s) in results.iter_mut().zip(sent) {
                sent_into(result, s, fifo);
            }
        }
        Err(e) if e.kind == ErrorKind::QueueNotFound => return Err(e.into()),
        Err(e) => {
            let e = SqsError::from(e);
            failed.extend(results.drain(..).map(|r| Failed::new(&r.id, &e)));
        }
    }
    output(&BatchOutput {
        successful: results,
        failed,
    })
}

/// `ReceiveMessage` input.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Receive {
    #[serde(default)]
    queue_url: Option<String>,
    #[serde(default)]
    attribute_names: Vec<String>,
    #[serde(default)]
    message_system_attribute_names: Vec<String>,
    #[serde(default)]
    message_attribute_names: Vec<String>,
    #[serde(default)]
    max_number_of_messages: Option<i64>,
    #[serde(default)]
    visibility_timeout: Option<i64>,
    #[serde(default)]
    wait_time_seconds: Option<i64>,
    #[serde(default)]
    receive_request_attempt_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReceivedMessage {
    message_id: String,
    receipt_handle: String,
    #[serde(rename = "MD5OfBody")]
    md5_of_body: String,
    body: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<String, String>,
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    md5_of_message_attributes: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    message_attributes: BTreeMap<String, WireValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReceiveOutput {
    messages: Vec<ReceivedMessage>,
}

fn in_range(name: &str, value: Option<i64>, min: i64, max: i64) -> Result<Option<u64>, SqsError> {
    match value {
        None => Ok(None),
        Some(v) if (min..=max).contains(&v) => Ok(u64::try_from(v).ok()),
        Some(v) => Err(SqsError::invalid(format!(
            "Value {v} for parameter {name} is invalid. Reason: Must be between {min} and {max}, if provided."
        ))),
    }
}

/// The system attributes SQS can return.
const SYSTEM_ATTRIBUTES: &[&str] = &[
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
];

fn system_attributes(
    cx: &Context,
    d: &Delivery,
    names: &[String],
    fifo: bool,
) -> BTreeMap<String, String> {
    let all = names.iter().any(|n| n == "All");
    let mut out = BTreeMap::new();
    for &name in SYSTEM_ATTRIBUTES {
        if !all && !names.iter().any(|n| n == name) {
            continue;
        }
        let value = match name {
            "SenderId" => Some(cx.scope.account.clone()),
            "SentTimestamp" => Some(d.enqueued_at.0.to_string()),
            "ApproximateReceiveCount" => Some(d.receive_count.to_string()),
            "ApproximateFirstReceiveTimestamp" => Some(d.first_received_at.0.to_string()),
            // FIFO queues only: a standard queue's group (fair queues) has no sequence.
            "SequenceNumber" => fifo.then(|| format!("{:020}", d.seq)),
            "MessageDeduplicationId" => d.dedup_id.clone(),
            "MessageGroupId" => d.group.clone(),
            "AWSTraceHeader" => d
                .typed_attributes
                .system
                .get(name)
                .map(|a| String::from_utf8_lossy(a.value.as_bytes()).into_owned()),
            _ => d
                .dead_letter
                .as_ref()
                .map(|i| cx.scope.arn(&i.source_queue)),
        };
        if let Some(v) = value {
            out.insert(name.to_owned(), v);
        }
    }
    out
}

fn received(cx: &Context, d: Delivery, input: &Receive, fifo: bool) -> ReceivedMessage {
    let mut names = input.attribute_names.clone();
    names.extend(input.message_system_attribute_names.iter().cloned());
    let attributes = system_attributes(cx, &d, &names, fifo);
    let patterns = &input.message_attribute_names;
    let keep = |n: &str| attrs::selected(patterns, n);
    let md5_of_message_attributes =
        md5_of_attributes(&attrs::refs(&d.attributes, &d.typed_attributes, &keep));
    let message_attributes = attrs::encode(&d.attributes, &d.typed_attributes, &keep);
    let body = match d.body.encoding {
        BodyEncoding::Text => String::from_utf8_lossy(&d.body.bytes).into_owned(),
        _ => STANDARD.encode(&d.body.bytes),
    };
    ReceivedMessage {
        message_id: d.id.to_string(),
        receipt_handle: d.receipt,
        md5_of_body: md5_hex(body.as_bytes()),
        body,
        attributes,
        md5_of_message_attributes,
        message_attributes,
    }
}

/// `ReceiveMessage`: up to 10 messages, long-polling up to 20 s (the queue's
/// `ReceiveMessageWaitTimeSeconds` when the request gives no wait).
pub(crate) async fn receive_message(cx: &Context, input: Receive) -> Result<Output, SqsError> {
    let name = cx.queue_name(input.queue_url.as_deref())?;
    let fifo = name.ends_with(".fifo");
    let max = in_range("MaxNumberOfMessages", input.max_number_of_messages, 1, 10)?.unwrap_or(1);
    let visibility = in_range(
        "VisibilityTimeout",
        input.visibility_timeout,
        0,
        MAX_VISIBILITY_S,
    )?;
    let wait = match in_range("WaitTimeSeconds", input.wait_time_seconds, 0, MAX_WAIT_S)? {
        Some(w) => w,
        None => cx
            .state
            .broker
            .queue_attributes(&name)
            .await?
            .get("ReceiveMessageWaitTimeSeconds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    };
    if let Some(attempt) = &input.receive_request_attempt_id {
        check_token("ReceiveRequestAttemptId", attempt)?;
    }
    let options = ReceiveOptions {
        max: u32::try_from(max).unwrap_or(1),
        wait: Duration::from_secs(wait),
        visibility_timeout: visibility.map(Duration::from_secs),
        ack_mode: AckMode::Manual,
        consumer: Some("sqs".into()),
        // SQS honours an attempt id on FIFO queues only.
        attempt_id: input.receive_request_attempt_id.clone().filter(|_| fifo),
    };
    let deliveries = cx.state.broker.receive(&name, options).await?;
    let messages = deliveries
        .into_iter()
        .map(|d| received(cx, d, &input, fifo))
        .collect();
    output(&ReceiveOutput { messages })
}

/// One receipt to act on (`DeleteMessage`/`ChangeMessageVisibility` input and batch entries).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReceiptEntry {
    #[serde(default)]
    id: String,
    #[serde(default)]
    queue_url: Option<String>,
    receipt_handle: String,
    #[serde(default)]
    visibility_timeout: Option<i64>,
}

/// A batch of receipts.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReceiptBatch {
    #[serde(default)]
    queue_url: Option<String>,
    #[serde(default)]
    entries: Vec<ReceiptEntry>,
}

/// Which receipt action a batch runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReceiptAction {
    Delete,
    ChangeVisibility,
}

/// Runs a receipt action; returns, per entry, `None` for success or its error.
async fn on_receipts(
    cx: &Context,
    name: &str,
    action: ReceiptAction,
    entries: &[ReceiptEntry],
) -> Result<Vec<Option<SqsError>>, SqsError> {
    let mut outcome: Vec<Option<SqsError>> = vec![None; entries.len()];
    let mut by_timeout: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, entry) in entries.iter().enumerate() {
        if action == ReceiptAction::Delete {
            by_timeout.entry(0).or_default().push(i);
            continue;
        }
        let Some(timeout) = entry.visibility_timeout else {
            if let Some(slot) = outcome.get_mut(i) {
                *slot = Some(SqsError::missing("VisibilityTimeout"));
            }
            continue;
        };
        match in_range("VisibilityTimeout", Some(timeout), 0, MAX_VISIBILITY_S) {
            Ok(t) => by_timeout.entry(t.unwrap_or(0)).or_default().push(i),
            Err(e) => {
                if let Some(slot) = outcome.get_mut(i) {
                    *slot = Some(e);
                }
            }
        }
    }
    for (timeout, indexes) in by_timeout {
        let receipts: Vec<String> = indexes
            .iter()
            .filter_map(|&i| entries.get(i).map(|e| e.receipt_handle.clone()))
            .collect();
        let result = match action {
            ReceiptAction::Delete => cx.state.broker.ack(name, receipts).await?,
            ReceiptAction::ChangeVisibility => {
                let timeout = Duration::from_secs(timeout);
                cx.state
                    .broker
                    .change_visibility(name, receipts, timeout)
                    .await?
            }
        };
        for failure in result.failed {
            // SQS answers a delete with an outdated receipt as a success (the message stays).
            if action == ReceiptAction::Delete && failure.error.kind == ErrorKind::StaleReceipt {
                continue;
            }
            let i = indexes.iter().copied().find(|&i| {
                entries
                    .get(i)
                    .is_some_and(|e| e.receipt_handle == failure.receipt)
            });
            if let Some(slot) = i.and_then(|i| outcome.get_mut(i)) {
                *slot = Some(receipt_error(failure.error));
            }
        }
    }
    Ok(outcome)
}

fn receipt_error(e: ferry_broker::Error) -> SqsError {
    match e.kind {
        ErrorKind::InvalidReceipt | ErrorKind::InvalidRequest => SqsError::new(
            "ReceiptHandleIsInvalid",
            format!("The input receipt handle is invalid: {}", e.message),
        ),
        _ => e.into(),
    }
}

async fn one_receipt(
    cx: &Context,
    action: ReceiptAction,
    entry: ReceiptEntry,
) -> Result<Output, SqsError> {
    let name = cx.queue_name(entry.queue_url.as_deref())?;
    if entry.receipt_handle.is_empty() {
        return Err(SqsError::missing("ReceiptHandle"));
    }
    let entries = [entry];
    let outcome = on_receipts(cx, &name, action, &entries).await?;
    match outcome.into_iter().next().flatten() {
        Some(e) => Err(e),
        None => Ok(Output::Empty),
    }
}

async fn batch_receipts(
    cx: &Context,
    action: ReceiptAction,
    input: ReceiptBatch,
) -> Result<Output, SqsError> {
    let name = cx.queue_name(input.queue_url.as_deref())?;
    batch::check_ids(input.entries.iter().map(|e| e.id.as_str()))?;
    let outcome = on_receipts(cx, &name, action, &input.entries).await?;
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for (entry, result) in input.entries.iter().zip(outcome) {
        match result {
            None => successful.push(Succeeded {
                id: entry.id.clone(),
            }),
            Some(e) => failed.push(Failed::new(&entry.id, &e)),
        }
    }
    output(&BatchOutput { successful, failed })
}

/// `DeleteMessage`.
pub(crate) async fn delete_message(cx: &Context, input: ReceiptEntry) -> Result<Output, SqsError> {
    one_receipt(cx, ReceiptAction::Delete, input).await
}

/// `DeleteMessageBatch`.
pub(crate) async fn delete_message_batch(
    cx: &Context,
    input: ReceiptBatch,
) -> Result<Output, SqsError> {
    batch_receipts(cx, ReceiptAction::Delete, input).await
}

/// `ChangeMessageVisibility`.
pub(crate) async fn change_message_visibility(
    cx: &Context,
    input: ReceiptEntry,
) -> Result<Output, SqsError> {
    one_receipt(cx, ReceiptAction::ChangeVisibility, input).await
}

/// `ChangeMessageVisibilityBatch`.
pub(crate) async fn change_message_visibility_batch(
    cx: &Context,
    input: ReceiptBatch,
) -> Result<Output, SqsError> {
    batch_receipts(cx, ReceiptAction::ChangeVisibility, input).await
}

//! Publishing and consuming: `POST /v1/queues/{q}/messages` and `POST /v1/queues/{q}/receive`.

use crate::body::{BodyError, decode_body, to_base64};
use crate::time::rfc3339;
use ferry_core::queue::{Body, DeadLetterCause};
use ferry_core::{MessageId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The body of `POST /v1/queues/{q}/messages`: a non-empty batch, enqueued all or nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The messages, in order.
    pub messages: Vec<SendEntry>,
}

/// One message to enqueue. Exactly one of `body` and `body_base64` must be set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendEntry {
    /// A UTF-8 text body; it is handed back as `body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A binary body in standard base64; it is handed back as `body_base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// Free-form string attributes, handed back with the message.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Delay before the message becomes visible (overrides the queue's `delay_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Absolute time before which the message is not delivered (wins over `delay_ms`).
    #[serde(
        default,
        with = "rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub deliver_at: Option<Timestamp>,
    /// Producer dedup id: a repeat within the queue's dedup window is dropped and answered with
    /// the first message's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_id: Option<String>,
    /// FIFO group (ordering key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// 0 (default) to 9; higher is delivered first on standard queues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// Time to live (overrides the queue's `retention_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
}

impl SendEntry {
    /// A message with a text body and nothing else set.
    pub fn text(body: impl Into<String>) -> SendEntry {
        SendEntry {
            body: Some(body.into()),
            ..SendEntry::default()
        }
    }

    /// A message with a binary body and nothing else set.
    pub fn binary(bytes: &[u8]) -> SendEntry {
        SendEntry {
            body_base64: Some(to_base64(bytes)),
            ..SendEntry::default()
        }
    }

    /// The body this entry carries.
    ///
    /// # Errors
    /// [`BodyError`] unless exactly one of `body`/`body_base64` is set and valid.
    pub fn decode_body(&self) -> Result<Body, BodyError> {
        decode_body(self.body.clone(), self.body_base64.clone())
    }
}

/// The reply to a send: one entry per message, in the batch's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    /// What became of each message.
    pub messages: Vec<SentEntry>,
}

/// What became of one sent message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentEntry {
    /// Its id (the original's, for a duplicate).
    #[serde(with = "crate::ids")]
    pub id: MessageId,
    /// Its sequence number in the queue (the original's, for a duplicate).
    pub seq: u64,
    /// Whether it was dropped as a duplicate within the dedup window.
    pub duplicate: bool,
}

/// The body of `POST /v1/queues/{q}/receive`; every field is optional and an empty body is
/// allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiveRequest {
    /// Most messages to return (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    /// Long poll: how long to wait for a message when none is visible (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
    /// Lease length (default: the queue's `visibility_timeout_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility_timeout_ms: Option<u64>,
    /// Remove messages on delivery instead of leasing them (at-most-once; default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_ack: Option<bool>,
    /// Who is receiving; shown on the lease by peek.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
    /// Retry token: repeating a receive with the same attempt id (within 5 minutes, while its
    /// messages are still leased by it) returns the same messages and receipts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_id: Option<String>,
}

/// The reply to a receive (possibly no messages, after the long poll ran out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiveResponse {
    /// The delivered messages.
    pub messages: Vec<ReceivedMessage>,
}

/// A message handed to a consumer. Exactly one of `body` and `body_base64` is set: the one it
/// was sent with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedMessage {
    /// The message's id.
    #[serde(with = "crate::ids")]
    pub id: MessageId,
    /// Its position in the queue.
    pub seq: u64,
    /// A text body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A binary body, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// Its attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The receipt to ack, nack or extend this lease with (empty when auto-acked).
    pub receipt: String,
    /// Deliveries so far, this one included.
    pub receive_count: u32,
    /// When it was enqueued.
    #[serde(with = "rfc3339")]
    pub enqueued_at: Timestamp,
    /// When it was first delivered.
    #[serde(with = "rfc3339")]
    pub first_received_at: Timestamp,
    /// Its FIFO group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Its producer dedup id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_id: Option<String>,
    /// Its priority.
    #[serde(default)]
    pub priority: u8,
    /// Its history, if it came through a dead-letter move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<DeadLetter>,
}

impl ReceivedMessage {
    /// The message's body, decoded.
    ///
    /// # Errors
    /// [`BodyError`] if the server sent neither or both fields, or invalid base64.
    pub fn decode_body(&self) -> Result<Body, BodyError> {
        decode_body(self.body.clone(), self.body_base64.clone())
    }
}

/// What a dead-lettered message remembers of its first life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The queue it failed in (redrive sends it back there).
    pub source_queue: String,
    /// Its id in that queue.
    #[serde(with = "crate::ids")]
    pub original_id: MessageId,
    /// When it was first enqueued there.
    #[serde(with = "rfc3339")]
    pub original_enqueued_at: Timestamp,
    /// How often it was delivered there.
    pub receive_count: u32,
    /// Why it was moved: `max_receives`, `expired` or `overflow`.
    pub cause: DeadLetterCause,
    /// When its first delivery failed, if any did.
    #[serde(
        default,
        with = "rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub first_failure_at: Option<Timestamp>,
    /// When its last delivery failed, if any did.
    #[serde(
        default,
        with = "rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_failure_at: Option<Timestamp>,
    /// The most recent nack reasons, oldest first.
    #[serde(default)]
    pub reasons: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn send(v: serde_json::Value) -> Result<SendRequest, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn send_entries_decode_with_all_fields() {
        let req = send(json!({"messages": [{
            "body": "hi", "attributes": {"k": "v"}, "delay_ms": 5, "deliver_at": "2025-01-31T09:30:00.250Z",
            "dedup_id": "d", "group": "g", "priority": 9, "ttl_ms": 60000
        }]}));
        let entry = req
            .map(|r| r.messages)
            .unwrap_or_default()
            .pop()
            .unwrap_or_default();
        assert_eq!(entry.deliver_at, Some(Timestamp(1_738_315_800_250)));
        assert_eq!(
            (entry.priority, entry.ttl_ms, entry.delay_ms),
            (Some(9), Some(60_000), Some(5))
        );
        assert_eq!(entry.decode_body(), Ok(Body::text("hi")));
    }

    #[test]
    fn send_refuses_unknown_fields_wrong_types_and_bad_times() {
        let unknown = send(json!({"messages": [{"body": "x", "colour": "red"}]}))
            .err()
            .unwrap_or_default();
        assert!(unknown.contains("unknown field `colour`"), "{unknown}");
        let top = send(json!({"messages": [], "extra": 1}))
            .err()
            .unwrap_or_default();
        assert!(top.contains("unknown field `extra`"), "{top}");
        let typed = send(json!({"messages": [{"body": "x", "priority": 300}]}))
            .err()
            .unwrap_or_default();
        assert!(typed.contains("300"), "{typed}");
        let time = send(json!({"messages": [{"body": "x", "deliver_at": "tomorrow"}]}))
            .err()
            .unwrap_or_default();
        assert!(time.contains("invalid RFC 3339 time"), "{time}");
        assert!(send(json!({})).is_err(), "messages is required");
    }

    #[test]
    fn receive_request_fields_are_all_optional() {
        let empty: Result<ReceiveRequest, _> = serde_json::from_str("{}");
        assert_eq!(empty.ok(), Some(ReceiveRequest::default()));
        let bad: Result<ReceiveRequest, _> = serde_json::from_str(r#"{"wait_ms": -1}"#);
        assert!(bad.is_err());
        assert_eq!(
            serde_json::to_string(&ReceiveRequest::default())
                .ok()
                .as_deref(),
            Some("{}")
        );
    }

    #[test]
    fn received_message_shape() {
        let m = ReceivedMessage {
            id: MessageId::new(1, 2),
            seq: 2,
            body: None,
            body_base64: Some("AP8=".into()),
            attributes: BTreeMap::new(),
            receipt: "r".into(),
            receive_count: 1,
            enqueued_at: Timestamp(0),
            first_received_at: Timestamp(1),
            group: None,
            dedup_id: None,
            priority: 0,
            dead_letter: None,
        };
        let json = serde_json::to_value(&m).unwrap_or_default();
        assert_eq!(json["id"], "00000000-0000-0001-0000-000000000002");
        assert_eq!(json["first_received_at"], "1970-01-01T00:00:00.001Z");
        assert!(
            json.get("body").is_none()
                && json.get("group").is_none()
                && json.get("dead_letter").is_none()
        );
        assert_eq!(m.decode_body(), Ok(Body::binary(vec![0, 255])));
    }
}

//! Messages as producers hand them in and consumers get them out.

use super::attribute::TypedAttributes;
use crate::ids::MessageId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Highest priority a message may carry (0 is the lowest and the default).
pub const MAX_PRIORITY: u8 = 9;

/// How a body was handed in, so that it is handed out the same way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyEncoding {
    /// UTF-8 text (`body` in the JSON API).
    #[default]
    Text,
    /// Arbitrary bytes (`body_base64` in the JSON API).
    Binary,
}

/// A message body and how it was sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    /// The bytes; valid UTF-8 when `encoding` is `Text`.
    pub bytes: Vec<u8>,
    /// How to return them.
    pub encoding: BodyEncoding,
}

impl Body {
    /// A text body.
    pub fn text(s: impl Into<String>) -> Body {
        Body {
            bytes: s.into().into_bytes(),
            encoding: BodyEncoding::Text,
        }
    }

    /// A binary body.
    pub fn binary(bytes: impl Into<Vec<u8>>) -> Body {
        Body {
            bytes: bytes.into(),
            encoding: BodyEncoding::Binary,
        }
    }
}

/// A message to enqueue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewMessage {
    /// The payload.
    pub body: Body,
    /// Free-form string attributes, returned with the message.
    pub attributes: BTreeMap<String, String>,
    /// Attributes with a data type other than plain string, and system attributes, returned
    /// exactly as sent (the SQS adapter's message attributes).
    pub typed_attributes: TypedAttributes,
    /// Delay before the message becomes visible (overrides the queue's `delay_ms`).
    pub delay: Option<Duration>,
    /// Absolute time before which the message is not delivered (wins over `delay`).
    pub deliver_at: Option<Timestamp>,
    /// Producer-chosen id: a second message with the same id within the dedup window is dropped
    /// and answered with the first one's id.
    pub dedup_id: Option<String>,
    /// FIFO group (ordering key); on standard queues it is only stored and returned.
    pub group: Option<String>,
    /// 0 (default) to 9; higher is delivered first on standard queues.
    pub priority: u8,
    /// Time to live (overrides the queue's `retention_ms`).
    pub ttl: Option<Duration>,
}

/// Why a message was moved to a dead-letter queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterCause {
    /// It failed `max_receives` times.
    MaxReceives,
    /// Its TTL ran out and the queue's `on_expire` is `dead_letter`.
    Expired,
    /// It was pushed out by `overflow = drop_oldest`.
    Overflow,
}

/// What a dead-lettered message remembers of its first life, shown when browsing the DLQ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterInfo {
    /// The queue it failed in (redrive sends it back there).
    pub source_queue: String,
    /// Its id in that queue.
    pub original_id: MessageId,
    /// When it was first enqueued there.
    pub original_enqueued_at: Timestamp,
    /// How often it was delivered there.
    pub receive_count: u32,
    /// Why it was moved.
    pub cause: DeadLetterCause,
    /// When its first delivery failed (nack or lease expiry), if any did.
    pub first_failure_at: Option<Timestamp>,
    /// When its last delivery failed, if any did.
    pub last_failure_at: Option<Timestamp>,
    /// The most recent nack reasons, oldest first (at most [`MAX_REASONS`]).
    pub reasons: Vec<String>,
}

/// How many nack reasons a message keeps.
pub const MAX_REASONS: usize = 3;
/// Longest nack reason kept, in bytes (longer ones are cut at a char boundary).
pub const MAX_REASON_BYTES: usize = 512;

/// A message handed to a consumer under a lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The message's id.
    pub id: MessageId,
    /// Its position in the queue (FIFO queues: the SQS `SequenceNumber`).
    pub seq: u64,
    /// The payload.
    pub body: Body,
    /// Its attributes.
    pub attributes: BTreeMap<String, String>,
    /// Its typed and system attributes.
    pub typed_attributes: TypedAttributes,
    /// The opaque receipt to ack, nack or extend this lease with (empty for auto-ack).
    pub receipt: String,
    /// How often the message has been delivered, this time included.
    pub receive_count: u32,
    /// When it was enqueued.
    pub enqueued_at: Timestamp,
    /// When it was first delivered.
    pub first_received_at: Timestamp,
    /// Its FIFO group.
    pub group: Option<String>,
    /// Its producer dedup id, if it had one.
    pub dedup_id: Option<String>,
    /// Its priority.
    pub priority: u8,
    /// Its history, if it came through a dead-letter move.
    pub dead_letter: Option<DeadLetterInfo>,
}

/// Where a message stands, as shown by peek.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Can be received now.
    Visible,
    /// Waiting for its delay, or for a retry backoff, to pass.
    Delayed,
    /// Leased to a consumer.
    InFlight,
    /// On its way to the dead-letter queue.
    DeadLettering,
}

/// A lease as shown by peek: who holds it and since when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInfo {
    /// The consumer id given with the receive (empty if none was).
    pub consumer: String,
    /// When the lease began.
    pub since: Timestamp,
    /// When it runs out.
    pub until: Timestamp,
}

/// A message as shown by peek (browse without leasing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeekedMessage {
    /// The message's id.
    pub id: MessageId,
    /// Its position in the queue.
    pub seq: u64,
    /// Where it stands.
    pub state: MessageState,
    /// The payload.
    pub body: Body,
    /// Its attributes.
    pub attributes: BTreeMap<String, String>,
    /// Its typed and system attributes.
    pub typed_attributes: TypedAttributes,
    /// Deliveries so far.
    pub receive_count: u32,
    /// When it was enqueued.
    pub enqueued_at: Timestamp,
    /// When it is (or was) due to become visible.
    pub visible_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
    /// Its FIFO group.
    pub group: Option<String>,
    /// Its priority.
    pub priority: u8,
    /// The current lease, if in flight.
    pub lease: Option<LeaseInfo>,
    /// Its history, if it came through a dead-letter move.
    pub dead_letter: Option<DeadLetterInfo>,
}

/// A queue's numbers at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    /// Messages that can be received now.
    pub visible: u64,
    /// Messages waiting for a delay or a retry backoff.
    pub delayed: u64,
    /// Messages leased to consumers.
    pub in_flight: u64,
    /// Messages moved from this queue to its dead-letter queue, in all.
    pub dead_lettered: u64,
    /// Age of the oldest message stored, 0 if none.
    pub oldest_age_ms: u64,
    /// Body bytes stored.
    pub bytes: u64,
    /// Messages accepted, in all (duplicates not counted).
    pub enqueued_total: u64,
    /// Deliveries, in all (redeliveries counted).
    pub delivered_total: u64,
    /// Acks, in all.
    pub acked_total: u64,
    /// Nacks, in all.
    pub nacked_total: u64,
    /// Messages expired by TTL or retention, in all.
    pub expired_total: u64,
    /// Publishes dropped as duplicates, in all.
    pub deduplicated_total: u64,
    /// Messages removed by overflow, purge or cancel, in all.
    pub removed_total: u64,
    /// Resequencing queues: held-back results, releases and gaps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resequence: Option<super::resequence::ResequenceStats>,
}

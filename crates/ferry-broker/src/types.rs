//! The values that go in and out of [`crate::Broker`] calls.

use ferry_core::Timestamp;
use ferry_core::queue::{QueueConfig, QueueStats};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::error::Error;

/// Whether a `put_queue` made a new queue or changed an existing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upsert {
    /// The queue did not exist and was created.
    Created,
    /// The queue existed and its config was replaced.
    Updated,
}

/// A queue as listed: its name and config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueSummary {
    /// The queue's name.
    pub name: String,
    /// Its configuration.
    pub config: QueueConfig,
}

/// Everything about one queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueInfo {
    /// The queue's name.
    pub name: String,
    /// Its configuration.
    pub config: QueueConfig,
    /// Its live numbers.
    pub stats: QueueStats,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its config last changed.
    pub updated_at: Timestamp,
    /// Queues whose `dead_letter_queue` is this one.
    pub dead_letter_sources: Vec<String>,
}

/// The answer to one message of a send batch, in the batch's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The message's id (the original's, for a duplicate).
    pub id: ferry_core::MessageId,
    /// Its sequence number in the queue (the original's, for a duplicate).
    pub seq: u64,
    /// Whether it was dropped as a duplicate within the dedup window.
    pub duplicate: bool,
}

/// Whether a receive leases messages or removes them on delivery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AckMode {
    /// Lease (at-least-once): the consumer acks, or the message comes back.
    #[default]
    Manual,
    /// Remove on delivery (at-most-once); answered only once the removal is durable.
    Auto,
}

/// How to receive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiveOptions {
    /// Most messages to return (1 to the broker's `max_receive_messages`).
    pub max: u32,
    /// Long poll: how long to wait for the first message when none is visible.
    pub wait: Duration,
    /// Lease length; the queue's `visibility_timeout_ms` if `None`.
    pub visibility_timeout: Option<Duration>,
    /// Lease or remove.
    pub ack_mode: AckMode,
    /// Who receives, shown on the lease by peek.
    pub consumer: Option<String>,
    /// Retry token: a receive repeated with the same attempt id within 5 minutes, while every
    /// message it returned is still leased by it, returns the same messages and receipts
    /// (leases extended) instead of new ones (SQS `ReceiveRequestAttemptId`).
    pub attempt_id: Option<String>,
}

impl Default for ReceiveOptions {
    fn default() -> Self {
        ReceiveOptions {
            max: 1,
            wait: Duration::ZERO,
            visibility_timeout: None,
            ack_mode: AckMode::Manual,
            consumer: None,
            attempt_id: None,
        }
    }
}

/// One failed entry of a batch of receipts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The receipt as given.
    pub receipt: String,
    /// Why it failed.
    pub error: Error,
}

/// The answer to a batch of receipts (ack, nack, change visibility).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// How many receipts succeeded.
    pub ok: u32,
    /// The ones that did not, each with its reason.
    pub failed: Vec<Failure>,
}

/// How to redrive a dead-letter queue.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RedriveOptions {
    /// Most messages to move; all visible ones if `None`.
    pub max: Option<u64>,
    /// Most messages moved per second; unlimited if `None`.
    pub rate_per_s: Option<f64>,
}

/// A worker's completion of a message on a resequencing queue: its receipt and its result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    /// The receipt of a delivery of the message (any delivery: the first completion wins).
    pub receipt: String,
    /// The result's body.
    pub body: ferry_core::queue::Body,
    /// The result's attributes (stream output: record headers).
    pub attributes: std::collections::BTreeMap<String, String>,
}

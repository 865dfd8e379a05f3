//! `POST /v1/transactions`: ack leased messages and publish messages and records as one
//! durable command, all or nothing.

use crate::messages::SendEntry;
use crate::streams::AppendRecord;
use serde::{Deserialize, Serialize};

/// The body of `POST /v1/transactions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransactionRequest {
    /// Leases to ack, all of one queue (at least one).
    #[serde(default)]
    pub ack: Vec<TransactionAckEntry>,
    /// What to publish, per target.
    #[serde(default)]
    pub publish: Vec<PublishEntry>,
}

/// One lease a transaction acks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransactionAckEntry {
    /// The queue the message was received from.
    pub queue: String,
    /// The receipt of its lease.
    pub receipt: String,
}

/// What a transaction publishes to one target: `queue` with `messages`, or `stream` with
/// `records`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishEntry {
    /// A target queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The messages for it, as `POST /v1/queues/{q}/messages` takes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<SendEntry>>,
    /// A target stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// The records for it, as `POST /v1/streams/{s}/records` takes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<Vec<AppendRecord>>,
}

/// The reply of `POST /v1/transactions`, once the transaction is durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionResponse {
    /// Messages acked.
    pub acked: u32,
    /// Messages and records published; their targets store them right after this reply.
    pub published: u32,
}

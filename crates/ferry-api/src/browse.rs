//! Browsing and cancelling: `GET /v1/queues/{q}/messages` and
//! `DELETE /v1/queues/{q}/messages/{id}`.

use crate::body::{BodyError, decode_body};
use crate::messages::DeadLetter;
use crate::time::rfc3339;
use ferry_core::queue::{Body, MessageState};
use ferry_core::{MessageId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default number of messages a peek returns.
pub const DEFAULT_PEEK_LIMIT: usize = 100;
/// Most messages one peek may return.
pub const MAX_PEEK_LIMIT: usize = 1000;

/// The query of `GET /v1/queues/{q}/messages`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeekQuery {
    /// Most messages to return: 1 to [`MAX_PEEK_LIMIT`], default [`DEFAULT_PEEK_LIMIT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// The reply to a peek: messages in queue order, none of them leased by it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeekResponse {
    /// The messages.
    pub messages: Vec<PeekedEntry>,
}

/// A message as browsed. Exactly one of `body` and `body_base64` is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeekedEntry {
    /// The message's id (what `DELETE .../messages/{id}` takes).
    #[serde(with = "crate::ids")]
    pub id: MessageId,
    /// Its position in the queue.
    pub seq: u64,
    /// `visible`, `delayed`, `in_flight` or `dead_lettering`.
    pub state: MessageState,
    /// A text body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A binary body, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// Its attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Deliveries so far.
    pub receive_count: u32,
    /// When it was enqueued.
    #[serde(with = "rfc3339")]
    pub enqueued_at: Timestamp,
    /// When it is (or was) due to become visible.
    #[serde(with = "rfc3339")]
    pub visible_at: Timestamp,
    /// When it expires.
    #[serde(with = "rfc3339")]
    pub expires_at: Timestamp,
    /// Its FIFO group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Its priority.
    #[serde(default)]
    pub priority: u8,
    /// The current lease, if it is in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// Its history, if it came through a dead-letter move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<DeadLetter>,
}

impl PeekedEntry {
    /// The message's body, decoded.
    ///
    /// # Errors
    /// [`BodyError`] if the server sent neither or both fields, or invalid base64.
    pub fn decode_body(&self) -> Result<Body, BodyError> {
        decode_body(self.body.clone(), self.body_base64.clone())
    }
}

/// Who holds a message's lease, and for how long.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The consumer named in the receive (empty if none was).
    pub consumer: String,
    /// When the lease began.
    #[serde(with = "rfc3339")]
    pub since: Timestamp,
    /// When it runs out.
    #[serde(with = "rfc3339")]
    pub until: Timestamp,
}

//! Bulk operations and health: purge, redrive, `/health/*`.

use serde::{Deserialize, Serialize};

/// The reply to `POST /v1/queues/{q}/purge`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeResponse {
    /// How many messages were removed.
    pub purged: u64,
}

/// The body of `POST /v1/queues/{q}/redrive` (on a dead-letter queue); empty means "all, as
/// fast as possible".
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedriveRequest {
    /// Most messages to move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// Most messages moved per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<f64>,
}

/// The reply to a redrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedriveResponse {
    /// How many messages went back to their source queues.
    pub moved: u64,
}

/// The reply to `GET /health/live` and `GET /health/ready`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `live`, `ready`, or `shutting_down`.
    pub status: String,
}

//! Queue management: `PUT`/`GET`/`DELETE /v1/queues/{q}` and `GET /v1/queues`.
//!
//! The request body of `PUT /v1/queues/{q}` is a [`QueueConfig`] itself (every key optional,
//! unknown keys refused); an empty body means all defaults.

use crate::time::rfc3339;
use ferry_core::Timestamp;
use ferry_core::queue::{QueueConfig, QueueStats};
use serde::{Deserialize, Serialize};

/// A queue's name and config: the reply to `PUT /v1/queues/{q}` and an entry of the list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// The queue's name.
    pub name: String,
    /// Its full configuration, defaults filled in.
    pub config: QueueConfig,
}

/// The reply to `GET /v1/queues`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueList {
    /// Every queue, by name.
    pub queues: Vec<QueueEntry>,
}

/// The reply to `GET /v1/queues/{q}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueDetails {
    /// The queue's name.
    pub name: String,
    /// Its full configuration.
    pub config: QueueConfig,
    /// Its live numbers (depths, ages and running totals).
    pub stats: QueueStats,
    /// When the queue was created.
    #[serde(with = "rfc3339")]
    pub created_at: Timestamp,
    /// When its config last changed.
    #[serde(with = "rfc3339")]
    pub updated_at: Timestamp,
    /// Queues that use this one as their dead-letter queue (redrive sends messages back there).
    #[serde(default)]
    pub dead_letter_sources: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_carry_rfc3339_times() {
        let d = QueueDetails {
            name: "jobs".into(),
            config: QueueConfig::default(),
            stats: QueueStats::default(),
            created_at: Timestamp(1_738_315_800_250),
            updated_at: Timestamp(0),
            dead_letter_sources: vec!["a".into()],
        };
        let json = serde_json::to_value(&d).unwrap_or_default();
        assert_eq!(json["created_at"], "2025-01-31T09:30:00.250Z");
        assert_eq!(json["updated_at"], "1970-01-01T00:00:00.000Z");
        assert_eq!(json["stats"]["in_flight"], 0);
        assert_eq!(json["config"]["visibility_timeout_ms"], 30_000);
        let back: Result<QueueDetails, _> = serde_json::from_value(json);
        assert_eq!(back.ok(), Some(d));
    }
}

//! A queue's configuration: every key has a default and a validation rule.

use super::resequence::{Output, ResequenceConfig};
use crate::ids::{QueueName, StreamName};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const SECOND_MS: u64 = 1_000;
const MINUTE_MS: u64 = 60 * SECOND_MS;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;

/// Longest lease a receive may ask for (as in SQS).
pub const MAX_VISIBILITY_TIMEOUT_MS: u64 = 12 * HOUR_MS;
/// Longest retention / TTL.
pub const MAX_RETENTION_MS: u64 = 365 * DAY_MS;
/// Longest dedup window.
pub const MAX_DEDUP_WINDOW_MS: u64 = 7 * DAY_MS;
/// Largest per-message body a queue may be configured to accept.
pub const MAX_MESSAGE_BYTES_LIMIT: u32 = 16 * 1024 * 1024;

/// What happens to a publish that would take a queue past `max_length` or `max_bytes`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Refuse the whole batch with a `queue_full` error; nothing is written.
    #[default]
    Reject,
    /// Make room by removing the oldest visible messages (to the dead-letter queue if one is set).
    DropOldest,
}

/// Where a dedup id (or content hash) must be unique.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupScope {
    /// Across the whole queue.
    #[default]
    Queue,
    /// Within the message's group: the same id in two groups is two messages (SQS
    /// `DeduplicationScope = messageGroup`).
    Group,
}

/// What happens to a message whose TTL (or the queue's retention) runs out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpireAction {
    /// Delete it.
    #[default]
    Drop,
    /// Move it to the dead-letter queue (dropped if none is configured).
    DeadLetter,
}

/// A queue's settings. Durations are milliseconds (`_ms`); `None` means "no limit".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Order by `group`, one group's message in flight at a time. Needs a `.fifo` name.
    pub fifo: bool,
    /// How long a received message stays invisible to others before it is redelivered.
    pub visibility_timeout_ms: u64,
    /// Default delay before a new message becomes visible.
    pub delay_ms: u64,
    /// How long a message lives when it carries no TTL of its own.
    pub retention_ms: u64,
    /// Largest accepted body, in bytes.
    pub max_message_bytes: u32,
    /// Deliveries after which a failed message goes to the dead-letter queue (or is dropped).
    pub max_receives: Option<u32>,
    /// Where messages go after `max_receives` failed deliveries; must exist and not be this queue.
    pub dead_letter_queue: Option<String>,
    /// First retry delay after a nack without delay or an expired lease; 0 = retry at once.
    pub backoff_initial_ms: u64,
    /// Factor applied to the retry delay on each further failure (≥ 1).
    pub backoff_multiplier: f64,
    /// Ceiling of the retry delay.
    pub backoff_max_ms: u64,
    /// Fraction of the retry delay randomised away (0 = none, 1 = "full jitter").
    pub backoff_jitter: f64,
    /// Deduplicate by a hash of the body when a message has no `dedup_id`.
    pub content_dedup: bool,
    /// How long a dedup id (or content hash) suppresses duplicates.
    pub dedup_window_ms: u64,
    /// Whether dedup ids are unique per queue or per group.
    pub dedup_scope: DedupScope,
    /// Most messages leased at once across all consumers.
    pub max_in_flight: Option<u32>,
    /// Most deliveries per second (token bucket with a one-second burst).
    pub rate_limit_per_s: Option<f64>,
    /// Most messages stored (visible, delayed and in flight).
    pub max_length: Option<u64>,
    /// Most body bytes stored.
    pub max_bytes: Option<u64>,
    /// What a publish past `max_length`/`max_bytes` does.
    pub overflow: Overflow,
    /// What happens to expired messages.
    pub on_expire: ExpireAction,
    /// Release completed results to an output in arrival order per order key (see
    /// [`super::resequence`]).
    pub resequence: Option<ResequenceConfig>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            fifo: false,
            visibility_timeout_ms: 30 * SECOND_MS,
            delay_ms: 0,
            retention_ms: 4 * DAY_MS,
            max_message_bytes: 1024 * 1024,
            max_receives: None,
            dead_letter_queue: None,
            backoff_initial_ms: 0,
            backoff_multiplier: 2.0,
            backoff_max_ms: 15 * MINUTE_MS,
            backoff_jitter: 0.0,
            content_dedup: false,
            dedup_window_ms: 5 * MINUTE_MS,
            dedup_scope: DedupScope::Queue,
            max_in_flight: None,
            rate_limit_per_s: None,
            max_length: None,
            max_bytes: None,
            overflow: Overflow::Reject,
            on_expire: ExpireAction::Drop,
            resequence: None,
        }
    }
}

/// Why a configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid config: {key}: {reason}")]
pub struct ConfigError {
    /// The offending key.
    pub key: &'static str,
    /// What is wrong with its value.
    pub reason: String,
}

fn refuse(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key,
        reason: reason.into(),
    }
}

impl QueueConfig {
    /// Checks every key, and that the config fits the queue's name.
    ///
    /// Whether `dead_letter_queue` exists is the broker's check, not this one.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn validate(&self, name: &QueueName) -> Result<(), ConfigError> {
        if self.fifo != name.has_fifo_suffix() {
            let why = if self.fifo {
                "a FIFO queue's name must end in .fifo"
            } else {
                "a name ending in .fifo needs fifo = true"
            };
            return Err(refuse("fifo", why));
        }
        let within = |key, v: u64, max: u64| {
            if v > max {
                Err(refuse(key, format!("{v} is more than the maximum {max}")))
            } else {
                Ok(())
            }
        };
        within(
            "visibility_timeout_ms",
            self.visibility_timeout_ms,
            MAX_VISIBILITY_TIMEOUT_MS,
        )?;
        within("delay_ms", self.delay_ms, MAX_RETENTION_MS)?;
        within("retention_ms", self.retention_ms, MAX_RETENTION_MS)?;
        if self.retention_ms < SECOND_MS {
            return Err(refuse("retention_ms", "must be at least 1000"));
        }
        within("dedup_window_ms", self.dedup_window_ms, MAX_DEDUP_WINDOW_MS)?;
        within(
            "backoff_initial_ms",
            self.backoff_initial_ms,
            MAX_VISIBILITY_TIMEOUT_MS,
        )?;
        within(
            "backoff_max_ms",
            self.backoff_max_ms,
            MAX_VISIBILITY_TIMEOUT_MS,
        )?;
        if self.max_message_bytes == 0 || self.max_message_bytes > MAX_MESSAGE_BYTES_LIMIT {
            return Err(refuse(
                "max_message_bytes",
                format!("must be between 1 and {MAX_MESSAGE_BYTES_LIMIT}"),
            ));
        }
        if !(self.backoff_multiplier.is_finite()
            && (1.0..=100.0).contains(&self.backoff_multiplier))
        {
            return Err(refuse("backoff_multiplier", "must be between 1 and 100"));
        }
        if !(self.backoff_jitter.is_finite() && (0.0..=1.0).contains(&self.backoff_jitter)) {
            return Err(refuse("backoff_jitter", "must be between 0 and 1"));
        }
        if self.max_receives == Some(0) {
            return Err(refuse("max_receives", "must be at least 1"));
        }
        if self.max_in_flight == Some(0) {
            return Err(refuse("max_in_flight", "must be at least 1"));
        }
        if let Some(rate) = self.rate_limit_per_s
            && !(rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0)
        {
            return Err(refuse(
                "rate_limit_per_s",
                "must be a positive number of at most 10000000",
            ));
        }
        if self.max_length == Some(0) {
            return Err(refuse("max_length", "must be at least 1"));
        }
        if self.max_bytes == Some(0) {
            return Err(refuse("max_bytes", "must be at least 1"));
        }
        if let Some(resequence) = &self.resequence {
            if self.fifo {
                return Err(refuse(
                    "resequence",
                    "a resequencing queue delivers one key's messages in parallel; it cannot be FIFO",
                ));
            }
            match &resequence.output {
                Output::Queue(output) => {
                    let output = QueueName::new(output)
                        .map_err(|e| refuse("resequence", format!("output queue: {e}")))?;
                    if &output == name {
                        return Err(refuse(
                            "resequence",
                            "a queue cannot be its own resequence output",
                        ));
                    }
                }
                Output::Stream(output) => {
                    StreamName::new(output)
                        .map_err(|e| refuse("resequence", format!("output stream: {e}")))?;
                }
            }
        }
        if let Some(dlq) = &self.dead_letter_queue {
            let dlq =
                QueueName::new(dlq).map_err(|e| refuse("dead_letter_queue", e.to_string()))?;
            if &dlq == name {
                return Err(refuse(
                    "dead_letter_queue",
                    "a queue cannot be its own dead-letter queue",
                ));
            }
            if dlq.has_fifo_suffix() != self.fifo {
                return Err(refuse(
                    "dead_letter_queue",
                    "a FIFO queue needs a FIFO dead-letter queue and a standard queue a standard one",
                ));
            }
        }
        Ok(())
    }

    /// Checks that `new` may replace `self` on a live queue.
    ///
    /// # Errors
    /// [`ConfigError`] when a key that cannot change (`fifo`) differs.
    pub fn check_update(&self, new: &QueueConfig) -> Result<(), ConfigError> {
        if self.fifo != new.fifo {
            return Err(refuse(
                "fifo",
                "cannot be changed after the queue is created",
            ));
        }
        Ok(())
    }

    /// The default lease length.
    pub fn visibility_timeout(&self) -> Duration {
        Duration::from_millis(self.visibility_timeout_ms)
    }

    /// The dead-letter queue's name, if one is configured and valid.
    pub fn dead_letter_queue_name(&self) -> Option<QueueName> {
        self.dead_letter_queue
            .as_deref()
            .and_then(|n| QueueName::new(n).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> QueueName {
        QueueName::new(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(QueueConfig::default().validate(&name("jobs")), Ok(()));
        let fifo = QueueConfig {
            fifo: true,
            ..QueueConfig::default()
        };
        assert_eq!(fifo.validate(&name("jobs.fifo")), Ok(()));
    }

    #[test]
    fn invalid_configs_name_their_key() {
        let cases: Vec<(QueueConfig, &str, &str)> = vec![
            (
                QueueConfig {
                    fifo: true,
                    ..Default::default()
                },
                "jobs",
                "fifo",
            ),
            (QueueConfig::default(), "jobs.fifo", "fifo"),
            (
                QueueConfig {
                    visibility_timeout_ms: 13 * HOUR_MS,
                    ..Default::default()
                },
                "jobs",
                "visibility_timeout_ms",
            ),
            (
                QueueConfig {
                    backoff_jitter: 1.5,
                    ..Default::default()
                },
                "jobs",
                "backoff_jitter",
            ),
            (
                QueueConfig {
                    backoff_multiplier: 0.5,
                    ..Default::default()
                },
                "jobs",
                "backoff_multiplier",
            ),
            (
                QueueConfig {
                    max_receives: Some(0),
                    ..Default::default()
                },
                "jobs",
                "max_receives",
            ),
            (
                QueueConfig {
                    dead_letter_queue: Some("jobs".into()),
                    ..Default::default()
                },
                "jobs",
                "dead_letter_queue",
            ),
            (
                QueueConfig {
                    dead_letter_queue: Some("bad name".into()),
                    ..Default::default()
                },
                "jobs",
                "dead_letter_queue",
            ),
            (
                QueueConfig {
                    rate_limit_per_s: Some(-1.0),
                    ..Default::default()
                },
                "jobs",
                "rate_limit_per_s",
            ),
            (
                QueueConfig {
                    retention_ms: 10,
                    ..Default::default()
                },
                "jobs",
                "retention_ms",
            ),
            (
                QueueConfig {
                    max_message_bytes: 0,
                    ..Default::default()
                },
                "jobs",
                "max_message_bytes",
            ),
        ];
        for (config, queue, key) in cases {
            assert_eq!(
                config.validate(&name(queue)).map_err(|e| e.key),
                Err(key),
                "{config:?}"
            );
        }
    }

    #[test]
    fn json_rejects_unknown_keys_and_negative_durations() {
        assert!(serde_json::from_str::<QueueConfig>(r#"{"visibility_timeout_ms": -1}"#).is_err());
        assert!(serde_json::from_str::<QueueConfig>(r#"{"visiblity_timeout_ms": 5}"#).is_err());
        let c: QueueConfig =
            serde_json::from_str(r#"{"max_receives": 3, "overflow": "drop_oldest"}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (c.max_receives, c.overflow),
            (Some(3), Overflow::DropOldest)
        );
    }
}

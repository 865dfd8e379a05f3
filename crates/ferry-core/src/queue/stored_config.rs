//! How a queue config is written into the queue's log and snapshots.
//!
//! Logs and snapshots are postcard, which has no field names: a struct that gains a field no
//! longer reads the bytes written before. So a config is stored as its JSON text (a string in
//! postcard), which reads back whatever keys later versions add (every key has a default).
//! Configs written before this form existed are read by [`LegacyConfig`], the layout they were
//! written in.

use super::config::{DedupScope, ExpireAction, Overflow, QueueConfig};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `#[serde(with = "as_json")]`: a [`QueueConfig`] as JSON text.
pub(crate) mod as_json {
    use super::*;

    /// Writes the config as a JSON string.
    pub(crate) fn serialize<S: Serializer>(
        config: &QueueConfig,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(config).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }

    /// Reads a config written by [`serialize`].
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<QueueConfig, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        serde_json::from_str(&text).map_err(serde::de::Error::custom)
    }
}

/// A queue config in the postcard layout of the first log format (before `resequence`).
/// Only read, never written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LegacyConfig {
    fifo: bool,
    visibility_timeout_ms: u64,
    delay_ms: u64,
    retention_ms: u64,
    max_message_bytes: u32,
    max_receives: Option<u32>,
    dead_letter_queue: Option<String>,
    backoff_initial_ms: u64,
    backoff_multiplier: f64,
    backoff_max_ms: u64,
    backoff_jitter: f64,
    content_dedup: bool,
    dedup_window_ms: u64,
    dedup_scope: DedupScope,
    max_in_flight: Option<u32>,
    rate_limit_per_s: Option<f64>,
    max_length: Option<u64>,
    max_bytes: Option<u64>,
    overflow: Overflow,
    on_expire: ExpireAction,
}

impl From<LegacyConfig> for QueueConfig {
    fn from(c: LegacyConfig) -> QueueConfig {
        QueueConfig {
            fifo: c.fifo,
            visibility_timeout_ms: c.visibility_timeout_ms,
            delay_ms: c.delay_ms,
            retention_ms: c.retention_ms,
            max_message_bytes: c.max_message_bytes,
            max_receives: c.max_receives,
            dead_letter_queue: c.dead_letter_queue,
            backoff_initial_ms: c.backoff_initial_ms,
            backoff_multiplier: c.backoff_multiplier,
            backoff_max_ms: c.backoff_max_ms,
            backoff_jitter: c.backoff_jitter,
            content_dedup: c.content_dedup,
            dedup_window_ms: c.dedup_window_ms,
            dedup_scope: c.dedup_scope,
            max_in_flight: c.max_in_flight,
            rate_limit_per_s: c.rate_limit_per_s,
            max_length: c.max_length,
            max_bytes: c.max_bytes,
            overflow: c.overflow,
            on_expire: c.on_expire,
            resequence: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::resequence::{GapPolicy, Output, ResequenceConfig};

    #[test]
    fn a_configure_record_of_the_first_format_still_reads() {
        // Written by the first format (commit 86c24bc): `Command::Configure` as it was then,
        // with a config of non-default values, through `encode_record`.
        const RECORD: &str = "520000000080d095ffbc3100c8df020080e0e5a401808040010301086a6f62732d\
            646c71000000000000000c40a0f736000000000000000000e0a712010001000000000000294001e80700\
            0101f0bdf3d589cf959a12";
        let bytes: Vec<u8> = (0..RECORD.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(RECORD.get(i..i + 2)?, 16).ok())
            .collect();
        let (command, _) = crate::queue::decode_record(&bytes).unwrap_or_else(|e| panic!("{e}"));
        let crate::queue::Command::LegacyConfigure { now, config, uid } = command else {
            panic!("read as {command:?}");
        };
        assert_eq!(
            (now.as_millis(), uid),
            (1_700_000_000_000, 0x1234_5678_9abc_def0)
        );
        let expected = QueueConfig {
            visibility_timeout_ms: 45_000,
            max_receives: Some(3),
            dead_letter_queue: Some("jobs-dlq".into()),
            backoff_multiplier: 3.5,
            rate_limit_per_s: Some(12.5),
            max_length: Some(1000),
            overflow: Overflow::DropOldest,
            on_expire: ExpireAction::DeadLetter,
            dedup_scope: DedupScope::Group,
            ..QueueConfig::default()
        };
        assert_eq!(QueueConfig::from(config), expected);
    }

    #[test]
    fn json_form_round_trips_new_keys() {
        #[derive(Serialize, Deserialize)]
        struct Holder(#[serde(with = "as_json")] QueueConfig);
        let config = QueueConfig {
            resequence: Some(ResequenceConfig {
                output: Output::Stream("out".into()),
                gap_policy: GapPolicy::Block,
                gap_markers: true,
            }),
            ..QueueConfig::default()
        };
        let bytes = postcard::to_allocvec(&Holder(config.clone())).unwrap_or_default();
        let back: Holder = postcard::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.0, config);
    }
}

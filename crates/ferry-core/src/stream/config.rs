//! A stream's configuration: every key has a default and a validation rule.

use serde::{Deserialize, Serialize};
use std::fmt;

const SECOND_MS: u64 = 1_000;
const DAY_MS: u64 = 24 * 60 * 60 * SECOND_MS;
const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// Most partitions a stream may have.
pub const MAX_PARTITIONS: u32 = 1024;
/// Shortest `retention_ms`: one second.
pub const MIN_STREAM_RETENTION_MS: u64 = SECOND_MS;
/// Longest finite `retention_ms`, and the bound of the other durations: 100 years.
pub const MAX_STREAM_RETENTION_MS: u64 = 100 * 365 * DAY_MS;
/// Smallest `retention_bytes`: 1 MiB.
pub const MIN_RETENTION_BYTES: u64 = MIB;
/// Largest `retention_bytes`: 1 PiB.
pub const MAX_RETENTION_BYTES: u64 = 1 << 50;
/// Smallest `max_record_bytes`: 1 KiB.
pub const MIN_MAX_RECORD_BYTES: u32 = 1024;
/// Largest `max_record_bytes`: a 64 MiB log record less 1 KiB for the batch and log headers.
pub const MAX_MAX_RECORD_BYTES: u32 = 64 * 1024 * 1024 - 1024;
/// Smallest `segment_bytes`: 1 MiB.
pub const MIN_SEGMENT_BYTES: u64 = MIB;
/// Largest `segment_bytes`: 1 GiB (Kafka's default segment size).
pub const MAX_SEGMENT_BYTES: u64 = 1024 * MIB;

/// What happens to old records: Kafka's `cleanup.policy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cleanup {
    /// Delete whole segments past `retention_ms` or `retention_bytes`.
    #[default]
    #[serde(rename = "delete")]
    Delete,
    /// Keep the latest record per key; drop tombstones after `delete_retention_ms`.
    #[serde(rename = "compact")]
    Compact,
    /// Both: compact, and also delete segments past retention.
    #[serde(rename = "compact,delete", alias = "delete,compact")]
    CompactDelete,
}

impl Cleanup {
    /// Whether records are compacted by key.
    pub fn compacts(self) -> bool {
        matches!(self, Cleanup::Compact | Cleanup::CompactDelete)
    }

    /// Whether segments are deleted by time and size retention.
    pub fn deletes(self) -> bool {
        matches!(self, Cleanup::Delete | Cleanup::CompactDelete)
    }

    /// The policy as written in config and in Kafka's `cleanup.policy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cleanup::Delete => "delete",
            Cleanup::Compact => "compact",
            Cleanup::CompactDelete => "compact,delete",
        }
    }
}

impl fmt::Display for Cleanup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stream's settings. Durations are milliseconds (`_ms`), sizes bytes (`_bytes`).
///
/// Durability (fsync) is not here: the broker owns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamConfig {
    /// Partitions: the unit of ordering and of consumer parallelism. Can grow, never shrink,
    /// because shrinking would move keys between partitions and lose records.
    pub partitions: u32,
    /// How long records are kept before their segment may be deleted; `None` keeps them for
    /// ever. Only applies when `cleanup` deletes.
    pub retention_ms: Option<u64>,
    /// Most bytes kept per partition before the oldest segments are deleted; `None` for no
    /// limit. Only applies when `cleanup` deletes.
    pub retention_bytes: Option<u64>,
    /// Delete by retention, compact by key, or both.
    pub cleanup: Cleanup,
    /// Largest accepted record, as measured by the encoded size of the record in its batch
    /// (key, value, headers and a few bytes of framing).
    pub max_record_bytes: u32,
    /// How long a tombstone survives compaction, so consumers that are behind still see the
    /// delete.
    pub delete_retention_ms: u64,
    /// How old a record must be before compaction may remove it, so consumers get a window in
    /// which they see every update.
    pub min_compaction_lag_ms: u64,
    /// Size at which a partition's active segment is rolled; `None` uses the broker's default.
    /// Retention and compaction work on whole closed segments, so this is their granularity.
    pub segment_bytes: Option<u64>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            partitions: 1,
            retention_ms: Some(7 * DAY_MS),
            retention_bytes: None,
            cleanup: Cleanup::Delete,
            max_record_bytes: 1024 * 1024,
            delete_retention_ms: DAY_MS,
            min_compaction_lag_ms: 0,
            segment_bytes: None,
        }
    }
}

/// Why a stream configuration, or a change to one, was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidStreamConfig {
    /// A value outside its allowed range.
    #[error("invalid stream config: {key} = {value} is outside the allowed range {min}..={max}")]
    OutOfRange {
        /// The offending key.
        key: &'static str,
        /// Its value.
        value: u64,
        /// The smallest allowed value.
        min: u64,
        /// The largest allowed value.
        max: u64,
    },
    /// An update that would remove partitions.
    #[error("invalid stream config: partitions can be increased, never decreased: {old} → {new}")]
    PartitionsDecreased {
        /// The current partition count.
        old: u32,
        /// The requested one.
        new: u32,
    },
}

impl InvalidStreamConfig {
    /// The config key at fault.
    pub fn key(&self) -> &'static str {
        match self {
            InvalidStreamConfig::OutOfRange { key, .. } => key,
            InvalidStreamConfig::PartitionsDecreased { .. } => "partitions",
        }
    }
}

/// Checks `min <= value <= max`.
fn within(key: &'static str, value: u64, min: u64, max: u64) -> Result<(), InvalidStreamConfig> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(InvalidStreamConfig::OutOfRange {
            key,
            value,
            min,
            max,
        })
    }
}

impl StreamConfig {
    /// Checks every key against its range.
    ///
    /// # Errors
    /// The first [`InvalidStreamConfig::OutOfRange`] found.
    pub fn validate(&self) -> Result<(), InvalidStreamConfig> {
        within(
            "partitions",
            u64::from(self.partitions),
            1,
            u64::from(MAX_PARTITIONS),
        )?;
        if let Some(ms) = self.retention_ms {
            within(
                "retention_ms",
                ms,
                MIN_STREAM_RETENTION_MS,
                MAX_STREAM_RETENTION_MS,
            )?;
        }
        if let Some(bytes) = self.retention_bytes {
            within(
                "retention_bytes",
                bytes,
                MIN_RETENTION_BYTES,
                MAX_RETENTION_BYTES,
            )?;
        }
        within(
            "max_record_bytes",
            u64::from(self.max_record_bytes),
            u64::from(MIN_MAX_RECORD_BYTES),
            u64::from(MAX_MAX_RECORD_BYTES),
        )?;
        within(
            "delete_retention_ms",
            self.delete_retention_ms,
            0,
            MAX_STREAM_RETENTION_MS,
        )?;
        within(
            "min_compaction_lag_ms",
            self.min_compaction_lag_ms,
            0,
            MAX_STREAM_RETENTION_MS,
        )?;
        if let Some(bytes) = self.segment_bytes {
            within("segment_bytes", bytes, MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES)?;
        }
        Ok(())
    }

    /// Checks that `new` is valid and may replace `self` on a live stream: every key may
    /// change except that `partitions` may only grow.
    ///
    /// # Errors
    /// What [`StreamConfig::validate`] finds in `new`, or
    /// [`InvalidStreamConfig::PartitionsDecreased`].
    pub fn check_update(&self, new: &StreamConfig) -> Result<(), InvalidStreamConfig> {
        new.validate()?;
        if new.partitions < self.partitions {
            return Err(InvalidStreamConfig::PartitionsDecreased {
                old: self.partitions,
                new: new.partitions,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_as_documented() {
        let c = StreamConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.partitions, 1);
        assert_eq!(c.retention_ms, Some(604_800_000));
        assert_eq!(c.delete_retention_ms, 86_400_000);
        assert_eq!(c.max_record_bytes, 1_048_576);
        assert_eq!(MAX_MAX_RECORD_BYTES, 67_107_840);
        assert!(c.cleanup.deletes() && !c.cleanup.compacts());
    }

    #[test]
    fn out_of_range_values_name_their_key_and_range() {
        let cases = [
            (
                StreamConfig {
                    partitions: 0,
                    ..Default::default()
                },
                "partitions",
            ),
            (
                StreamConfig {
                    partitions: 1025,
                    ..Default::default()
                },
                "partitions",
            ),
            (
                StreamConfig {
                    retention_ms: Some(999),
                    ..Default::default()
                },
                "retention_ms",
            ),
            (
                StreamConfig {
                    retention_ms: Some(MAX_STREAM_RETENTION_MS + 1),
                    ..Default::default()
                },
                "retention_ms",
            ),
            (
                StreamConfig {
                    retention_bytes: Some(1),
                    ..Default::default()
                },
                "retention_bytes",
            ),
            (
                StreamConfig {
                    max_record_bytes: 0,
                    ..Default::default()
                },
                "max_record_bytes",
            ),
            (
                StreamConfig {
                    max_record_bytes: MAX_MAX_RECORD_BYTES + 1,
                    ..Default::default()
                },
                "max_record_bytes",
            ),
            (
                StreamConfig {
                    delete_retention_ms: u64::MAX,
                    ..Default::default()
                },
                "delete_retention_ms",
            ),
            (
                StreamConfig {
                    min_compaction_lag_ms: u64::MAX,
                    ..Default::default()
                },
                "min_compaction_lag_ms",
            ),
            (
                StreamConfig {
                    segment_bytes: Some(4096),
                    ..Default::default()
                },
                "segment_bytes",
            ),
            (
                StreamConfig {
                    segment_bytes: Some(MAX_SEGMENT_BYTES + 1),
                    ..Default::default()
                },
                "segment_bytes",
            ),
        ];
        for (config, key) in cases {
            assert_eq!(
                config.validate().map_err(|e| e.key()),
                Err(key),
                "{config:?}"
            );
        }
        let e = StreamConfig {
            partitions: 2000,
            ..Default::default()
        }
        .validate();
        assert_eq!(
            e.map_err(|e| e.to_string()),
            Err(
                "invalid stream config: partitions = 2000 is outside the allowed range 1..=1024"
                    .into()
            )
        );
        let edges = StreamConfig {
            partitions: MAX_PARTITIONS,
            retention_ms: None,
            retention_bytes: Some(MIN_RETENTION_BYTES),
            cleanup: Cleanup::CompactDelete,
            max_record_bytes: MAX_MAX_RECORD_BYTES,
            delete_retention_ms: 0,
            min_compaction_lag_ms: MAX_STREAM_RETENTION_MS,
            segment_bytes: Some(MIN_SEGMENT_BYTES),
        };
        assert_eq!(edges.validate(), Ok(()));
    }

    #[test]
    fn partitions_only_grow() {
        let four = StreamConfig {
            partitions: 4,
            ..Default::default()
        };
        let two = StreamConfig {
            partitions: 2,
            ..Default::default()
        };
        assert_eq!(two.check_update(&four), Ok(()));
        assert_eq!(four.check_update(&four), Ok(()));
        let e = four.check_update(&two);
        assert_eq!(
            e,
            Err(InvalidStreamConfig::PartitionsDecreased { old: 4, new: 2 })
        );
        assert_eq!(
            e.map_err(|e| e.to_string()),
            Err(
                "invalid stream config: partitions can be increased, never decreased: 4 → 2".into()
            )
        );
        let invalid = StreamConfig {
            partitions: 0,
            ..Default::default()
        };
        assert_eq!(
            four.check_update(&invalid).map_err(|e| e.key()),
            Err("partitions")
        );
    }

    #[test]
    fn cleanup_policies_serialise_as_kafka_writes_them() {
        for (policy, text, compacts, deletes) in [
            (Cleanup::Delete, "delete", false, true),
            (Cleanup::Compact, "compact", true, false),
            (Cleanup::CompactDelete, "compact,delete", true, true),
        ] {
            let json = format!("\"{text}\"");
            assert_eq!(serde_json::to_string(&policy).ok(), Some(json.clone()));
            assert_eq!(serde_json::from_str::<Cleanup>(&json).ok(), Some(policy));
            assert_eq!(policy.to_string(), text);
            assert_eq!((policy.compacts(), policy.deletes()), (compacts, deletes));
        }
        assert_eq!(
            serde_json::from_str::<Cleanup>(r#""delete,compact""#).ok(),
            Some(Cleanup::CompactDelete)
        );
        assert!(serde_json::from_str::<Cleanup>(r#""purge""#).is_err());
    }

    #[test]
    fn json_fills_defaults_and_rejects_unknown_keys() {
        let c: StreamConfig = serde_json::from_str(
            r#"{"partitions": 8, "cleanup": "compact", "retention_ms": null}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c,
            StreamConfig {
                partitions: 8,
                cleanup: Cleanup::Compact,
                retention_ms: None,
                ..Default::default()
            }
        );
        assert!(serde_json::from_str::<StreamConfig>(r#"{"partitons": 8}"#).is_err());
        assert!(serde_json::from_str::<StreamConfig>(r#"{"fsync": "always"}"#).is_err());
        assert!(serde_json::from_str::<StreamConfig>(r#"{"partitions": -1}"#).is_err());
    }
}

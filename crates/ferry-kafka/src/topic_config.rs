//! Kafka topic config names ↔ a stream's config. Only what a stream has is offered;
//! any other name is refused as INVALID_CONFIG, so a client never believes a setting took
//! effect when it did not.

use ferry_broker::{Cleanup, StreamConfig};

/// The topic configs Ferry supports, with what each means on a stream.
pub(crate) const NAMES: &[&str] = &[
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "max.message.bytes",
    "delete.retention.ms",
    "min.compaction.lag.ms",
    "segment.bytes",
];

/// The value of config `name` in `config`, as Kafka writes it (`-1` for "no limit").
pub(crate) fn value(config: &StreamConfig, name: &str) -> Option<String> {
    let limit = |v: Option<u64>| v.map_or("-1".to_owned(), |v| v.to_string());
    Some(match name {
        "cleanup.policy" => match config.cleanup {
            Cleanup::Delete => "delete".to_owned(),
            Cleanup::Compact => "compact".to_owned(),
            Cleanup::CompactDelete => "compact,delete".to_owned(),
        },
        "retention.ms" => limit(config.retention_ms),
        "retention.bytes" => limit(config.retention_bytes),
        "max.message.bytes" => config.max_record_bytes.to_string(),
        "delete.retention.ms" => config.delete_retention_ms.to_string(),
        "min.compaction.lag.ms" => config.min_compaction_lag_ms.to_string(),
        "segment.bytes" => config
            .segment_bytes
            .map_or_else(String::new, |v| v.to_string()),
        _ => return None,
    })
}

/// `config` with the broker's segment size filled in where the stream sets none: what to show.
pub(crate) fn effective(config: &StreamConfig, default_segment_bytes: u64) -> StreamConfig {
    StreamConfig {
        segment_bytes: Some(config.segment_bytes.unwrap_or(default_segment_bytes)),
        ..config.clone()
    }
}

/// Whether `name` has its default value in `config`.
pub(crate) fn is_default(config: &StreamConfig, name: &str) -> bool {
    value(config, name) == value(&StreamConfig::default(), name)
}

/// Sets config `name` to `value` (`None`: back to the default).
///
/// # Errors
/// An unknown name or a value that does not parse; ranges are checked by the broker.
pub(crate) fn set(
    config: &mut StreamConfig,
    name: &str,
    value: Option<&str>,
) -> Result<(), String> {
    let defaults = StreamConfig::default();
    let number = |v: &str| -> Result<i64, String> {
        v.trim()
            .parse::<i64>()
            .map_err(|_| format!("{name} must be a whole number, not {v:?}"))
    };
    let limit = |v: &str| -> Result<Option<u64>, String> {
        let n = number(v)?;
        if n < 0 {
            Ok(None)
        } else {
            Ok(u64::try_from(n).ok())
        }
    };
    let positive = |v: &str| -> Result<u64, String> {
        u64::try_from(number(v)?).map_err(|_| format!("{name} must not be negative"))
    };
    match (name, value) {
        ("cleanup.policy", None) => config.cleanup = defaults.cleanup,
        ("cleanup.policy", Some(v)) => {
            let mut parts: Vec<&str> = v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            parts.sort_unstable();
            parts.dedup();
            config.cleanup = match parts.as_slice() {
                ["delete"] => Cleanup::Delete,
                ["compact"] => Cleanup::Compact,
                ["compact", "delete"] => Cleanup::CompactDelete,
                _ => {
                    return Err(format!(
                        "cleanup.policy must be delete, compact or compact,delete, not {v:?}"
                    ));
                }
            };
        }
        ("retention.ms", v) => config.retention_ms = v.map_or(Ok(defaults.retention_ms), limit)?,
        ("retention.bytes", v) => {
            config.retention_bytes = v.map_or(Ok(defaults.retention_bytes), limit)?
        }
        ("max.message.bytes", v) => {
            config.max_record_bytes = match v {
                None => defaults.max_record_bytes,
                Some(v) => u32::try_from(positive(v)?)
                    .map_err(|_| format!("max.message.bytes {v} is too large"))?,
            };
        }
        ("delete.retention.ms", v) => {
            config.delete_retention_ms = v.map_or(Ok(defaults.delete_retention_ms), positive)?
        }
        ("min.compaction.lag.ms", v) => {
            config.min_compaction_lag_ms = v.map_or(Ok(defaults.min_compaction_lag_ms), positive)?
        }
        ("segment.bytes", v) => config.segment_bytes = v.map(positive).transpose()?,
        _ => {
            return Err(format!(
                "unknown or unsupported topic config {name:?}; Ferry supports {}",
                NAMES.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_and_resets_to_its_default() {
        for name in NAMES {
            let mut config = StreamConfig::default();
            let default = value(&config, name);
            assert!(default.is_some(), "{name}");
            let new = match *name {
                "cleanup.policy" => "compact",
                "segment.bytes" => "1048576",
                _ => "12345",
            };
            assert_eq!(set(&mut config, name, Some(new)), Ok(()), "{name}");
            assert_eq!(value(&config, name).as_deref(), Some(new), "{name}");
            assert!(!is_default(&config, name), "{name}");
            assert_eq!(set(&mut config, name, None), Ok(()), "{name}");
            assert!(is_default(&config, name), "{name}");
        }
    }

    #[test]
    fn kafka_spellings_of_no_limit_and_policies_parse() {
        let mut config = StreamConfig::default();
        assert_eq!(set(&mut config, "retention.ms", Some("-1")), Ok(()));
        assert_eq!(config.retention_ms, None);
        assert_eq!(
            set(&mut config, "cleanup.policy", Some("delete, compact")),
            Ok(())
        );
        assert_eq!(config.cleanup, Cleanup::CompactDelete);
        assert!(set(&mut config, "cleanup.policy", Some("forever")).is_err());
        assert!(set(&mut config, "retention.ms", Some("soon")).is_err());
        assert!(set(&mut config, "compression.type", Some("lz4")).is_err());
        assert!(set(&mut config, "max.message.bytes", Some("-5")).is_err());
    }
}

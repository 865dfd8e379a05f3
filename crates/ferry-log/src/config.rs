//! Per-log configuration: segment size and age, fsync policy, index granularity.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::LogError;

/// When appended records are made durable with `fdatasync`.
///
/// Written as `always`, `interval:<ms>` (e.g. `interval:50`) or `never`, in config files and
/// through serde.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FsyncPolicy {
    /// Every [`crate::Log::sync`] waits for the flusher's `fdatasync` of the files written.
    /// Nothing acknowledged is lost on a crash. The default.
    #[default]
    Always,
    /// The flusher syncs written files at least this often; [`crate::Log::sync`] does not wait,
    /// so a crash can lose up to about one interval of acknowledged records.
    Interval(Duration),
    /// Never fsync records; the operating system writes them back when it likes. Only a clean
    /// shutdown of the process, not of the machine, loses nothing.
    Never,
}

/// Why a string is not an [`FsyncPolicy`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "fsync policy {input:?} is invalid: expected \"always\", \"interval:<ms>\" with ms > 0, or \"never\""
)]
pub struct ParseFsyncPolicyError {
    /// The string that failed to parse.
    pub input: String,
}

impl FromStr for FsyncPolicy {
    type Err = ParseFsyncPolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || ParseFsyncPolicyError {
            input: s.to_owned(),
        };
        match s {
            "always" => Ok(FsyncPolicy::Always),
            "never" => Ok(FsyncPolicy::Never),
            _ => {
                let ms = s.strip_prefix("interval:").ok_or_else(invalid)?;
                let ms: u64 = ms.parse().map_err(|_| invalid())?;
                if ms == 0 {
                    return Err(invalid());
                }
                Ok(FsyncPolicy::Interval(Duration::from_millis(ms)))
            }
        }
    }
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsyncPolicy::Always => f.write_str("always"),
            FsyncPolicy::Interval(every) => write!(f, "interval:{}", every.as_millis()),
            FsyncPolicy::Never => f.write_str("never"),
        }
    }
}

impl serde::Serialize for FsyncPolicy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for FsyncPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How one [`crate::Log`] lays out and syncs its segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Roll to a new segment when an append would make the active one larger than this, so
    /// retention can free space in pieces of about this size. A record larger than this gets a
    /// segment of its own. At most 4 GiB − 1 (positions are stored as `u32`). Default 128 MiB.
    pub segment_bytes: u64,
    /// Roll when the record being appended is this much newer than the first record of the
    /// active segment (by the records' own `timestamp_ms`, so no clock is read), so time-based
    /// retention is not stuck behind a slow-growing segment. Default `None`.
    pub segment_age: Option<Duration>,
    /// When appends become durable. Default [`FsyncPolicy::Always`].
    pub fsync: FsyncPolicy,
    /// One sparse index entry per this many bytes of records: a read seeks to the nearest entry
    /// and scans at most about this much. Default 4096.
    pub index_interval_bytes: u32,
}

/// Default for [`LogConfig::segment_bytes`]: 128 MiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 128 * 1024 * 1024;
/// Default for [`LogConfig::index_interval_bytes`]: 4 KiB.
pub const DEFAULT_INDEX_INTERVAL_BYTES: u32 = 4096;

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            segment_age: None,
            fsync: FsyncPolicy::Always,
            index_interval_bytes: DEFAULT_INDEX_INTERVAL_BYTES,
        }
    }
}

impl LogConfig {
    /// Checks the values [`crate::Log::open`] relies on.
    ///
    /// # Errors
    ///
    /// [`LogError::InvalidConfig`] if `segment_bytes` is 0 or does not fit in a `u32`.
    pub fn validate(&self) -> Result<(), LogError> {
        if self.segment_bytes == 0 || u32::try_from(self.segment_bytes).is_err() {
            return Err(LogError::InvalidConfig {
                reason: format!(
                    "segment_bytes {} must be between 1 and {}",
                    self.segment_bytes,
                    u32::MAX
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_print() {
        for (text, policy) in [
            ("always", FsyncPolicy::Always),
            ("never", FsyncPolicy::Never),
            (
                "interval:50",
                FsyncPolicy::Interval(Duration::from_millis(50)),
            ),
        ] {
            assert_eq!(text.parse::<FsyncPolicy>().unwrap(), policy);
            assert_eq!(policy.to_string(), text);
        }
    }

    #[test]
    fn bad_policies_are_rejected() {
        for text in [
            "",
            "Always",
            "interval",
            "interval:",
            "interval:0",
            "interval:-1",
            "sometimes",
        ] {
            assert!(text.parse::<FsyncPolicy>().is_err(), "{text}");
        }
    }

    #[test]
    fn policies_serialize_as_strings() {
        let policy = FsyncPolicy::Interval(Duration::from_millis(20));
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(json, "\"interval:20\"");
        assert_eq!(serde_json::from_str::<FsyncPolicy>(&json).unwrap(), policy);
        assert!(serde_json::from_str::<FsyncPolicy>("\"fast\"").is_err());
    }

    #[test]
    fn default_is_always() {
        assert_eq!(FsyncPolicy::default(), FsyncPolicy::Always);
        let config = LogConfig::default();
        assert_eq!(config.segment_bytes, 128 * 1024 * 1024);
        assert_eq!(config.index_interval_bytes, 4096);
        assert!(config.segment_age.is_none());
        assert!(config.validate().is_ok());
    }

    #[test]
    fn segment_bytes_are_bounded() {
        let zero = LogConfig {
            segment_bytes: 0,
            ..LogConfig::default()
        };
        assert!(zero.validate().is_err());
        let huge = LogConfig {
            segment_bytes: 1 << 33,
            ..LogConfig::default()
        };
        assert!(huge.validate().is_err());
    }
}

//! `ferry serve` configuration: defaults < TOML file < `FERRY_*` environment < flags.
//!
//! Every layer is a [`Partial`] (all keys optional); [`Settings::default`] is the one source of
//! defaults; [`Settings::validate`] turns the merged settings into what the broker and the HTTP
//! server take, or a [`ConfigError`] that names the key and the rule.

use ferry_broker::{BrokerConfig, FsyncPolicy};
use ferry_http::HttpConfig;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Default data directory.
pub(crate) const DEFAULT_DATA_DIR: &str = "./ferry-data";
/// Default HTTP listen address: loopback only.
pub(crate) const DEFAULT_HTTP_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 7480);
/// Default Kafka listen address: loopback only, Kafka's port.
pub(crate) const DEFAULT_KAFKA_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9092);
/// Most partitions a topic created without a count may get.
const MAX_DEFAULT_PARTITIONS: u32 = 1024;
/// Default time in-flight requests get to finish after SIGINT/SIGTERM.
const DEFAULT_SHUTDOWN_TIMEOUT_MS: u64 = 30_000;
/// Smallest segment size accepted (smaller ones would roll on nearly every append).
const MIN_SEGMENT_BYTES: u64 = 4096;
/// Smallest request body limit accepted (a send of one small message must fit).
const MIN_REQUEST_BYTES: u64 = 1024;
/// Longest long poll the broker may be told to allow.
const MAX_WAIT_LIMIT_MS: u64 = 60 * 60 * 1000;

/// How log lines are written to stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("invalid log format {s:?}: expected text or json")),
        }
    }
}

/// The effective configuration, every key set. Serialized by `--print-config`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Settings {
    /// Where the catalog and the queue logs live.
    pub(crate) data_dir: PathBuf,
    /// When a publish counts as durable.
    pub(crate) fsync: FsyncPolicy,
    /// Size at which a queue's log starts a new segment.
    pub(crate) segment_bytes: u64,
    /// Most messages in one send batch.
    pub(crate) max_batch_messages: usize,
    /// Most records in one stream append.
    pub(crate) max_batch_records: usize,
    /// How often stream partitions apply retention.
    pub(crate) retention_check_ms: u64,
    /// Most messages one receive may return.
    pub(crate) max_receive_messages: u32,
    /// Longest long poll a receive may ask for.
    pub(crate) max_wait_ms: u64,
    /// How long in-flight requests may take to finish after SIGINT/SIGTERM.
    pub(crate) shutdown_timeout_ms: u64,
    /// The HTTP server.
    pub(crate) http: HttpSettings,
    /// The Kafka listener.
    pub(crate) kafka: KafkaSettings,
    /// Logging.
    pub(crate) log: LogSettings,
}

/// The `[kafka]` table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct KafkaSettings {
    /// Whether to serve the Kafka protocol at all.
    pub(crate) enabled: bool,
    /// Address to listen on (port 0 picks a free one).
    pub(crate) listen: SocketAddr,
    /// `host:port` that Metadata tells clients to connect to; empty: the bound address.
    pub(crate) advertised: String,
    /// Whether a Metadata request creates an unknown topic (when the client allows it).
    pub(crate) auto_create_topics: bool,
    /// Partitions of a topic created without a count.
    pub(crate) default_partitions: u32,
}

/// The `[http]` table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct HttpSettings {
    /// Address to listen on (port 0 picks a free one).
    pub(crate) listen: SocketAddr,
    /// Largest request body accepted.
    pub(crate) max_request_bytes: u64,
    /// Time between samples of the metrics history behind the dashboard's charts.
    pub(crate) metrics_sample_interval_ms: u64,
}

/// The `[log]` table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct LogSettings {
    /// `text` or `json`.
    pub(crate) format: LogFormat,
    /// A `tracing` filter such as `info` or `ferry_http=debug,info`.
    pub(crate) filter: String,
}

impl Default for Settings {
    fn default() -> Self {
        let broker = BrokerConfig::default();
        Settings {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            fsync: FsyncPolicy::Always,
            segment_bytes: broker.segment_bytes,
            max_batch_messages: broker.max_batch_messages,
            max_batch_records: broker.max_batch_records,
            retention_check_ms: u64::try_from(broker.retention_check_interval.as_millis())
                .unwrap_or(u64::MAX),
            max_receive_messages: broker.max_receive_messages,
            max_wait_ms: u64::try_from(broker.max_wait.as_millis()).unwrap_or(u64::MAX),
            shutdown_timeout_ms: DEFAULT_SHUTDOWN_TIMEOUT_MS,
            http: HttpSettings {
                listen: DEFAULT_HTTP_LISTEN,
                max_request_bytes: ferry_http::DEFAULT_MAX_REQUEST_BYTES as u64,
                metrics_sample_interval_ms: u64::try_from(
                    ferry_http::DEFAULT_HISTORY_INTERVAL.as_millis(),
                )
                .unwrap_or(u64::MAX),
            },
            kafka: KafkaSettings {
                enabled: true,
                listen: DEFAULT_KAFKA_LISTEN,
                advertised: String::new(),
                auto_create_topics: true,
                default_partitions: 1,
            },
            log: LogSettings {
                format: LogFormat::Text,
                filter: "info".to_owned(),
            },
        }
    }
}

/// One layer of configuration: a TOML file, the environment, or the flags.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Partial {
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) fsync: Option<FsyncPolicy>,
    pub(crate) segment_bytes: Option<u64>,
    pub(crate) max_batch_messages: Option<usize>,
    pub(crate) max_batch_records: Option<usize>,
    pub(crate) retention_check_ms: Option<u64>,
    pub(crate) max_receive_messages: Option<u32>,
    pub(crate) max_wait_ms: Option<u64>,
    pub(crate) shutdown_timeout_ms: Option<u64>,
    #[serde(default)]
    pub(crate) http: PartialHttp,
    #[serde(default)]
    pub(crate) kafka: PartialKafka,
    #[serde(default)]
    pub(crate) log: PartialLog,
}

/// The `[kafka]` table of a layer.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartialKafka {
    pub(crate) enabled: Option<bool>,
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) advertised: Option<String>,
    pub(crate) auto_create_topics: Option<bool>,
    pub(crate) default_partitions: Option<u32>,
}

/// The `[http]` table of a layer.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartialHttp {
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) max_request_bytes: Option<u64>,
    pub(crate) metrics_sample_interval_ms: Option<u64>,
}

/// The `[log]` table of a layer.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartialLog {
    pub(crate) format: Option<LogFormat>,
    pub(crate) filter: Option<String>,
}

/// Why the configuration was refused: where, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// The file, variable or key at fault.
    pub(crate) place: String,
    /// What is wrong with it.
    pub(crate) reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.reason)
    }
}

impl std::error::Error for ConfigError {}

fn refuse(place: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        place: place.into(),
        reason: reason.into(),
    }
}

impl Partial {
    /// Reads a TOML config file.
    ///
    /// # Errors
    /// When the file cannot be read, is not TOML, or has an unknown key or a bad value.
    pub(crate) fn from_file(path: &Path) -> Result<Partial, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| refuse(path.display().to_string(), e.to_string()))?;
        Partial::from_toml(&text).map_err(|reason| refuse(path.display().to_string(), reason))
    }

    /// Parses TOML text.
    pub(crate) fn from_toml(text: &str) -> Result<Partial, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
    }

    /// Reads the `FERRY_*` variables through `lookup` (the process environment in the binary, a
    /// map in tests).
    ///
    /// # Errors
    /// When a variable is set to a value its key does not accept.
    pub(crate) fn from_env(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Partial, ConfigError> {
        Ok(Partial {
            data_dir: lookup("FERRY_DATA_DIR").map(PathBuf::from),
            fsync: env_parse(lookup, "FERRY_FSYNC")?,
            segment_bytes: env_parse(lookup, "FERRY_SEGMENT_BYTES")?,
            max_batch_messages: env_parse(lookup, "FERRY_MAX_BATCH_MESSAGES")?,
            max_batch_records: env_parse(lookup, "FERRY_MAX_BATCH_RECORDS")?,
            retention_check_ms: env_parse(lookup, "FERRY_RETENTION_CHECK_MS")?,
            max_receive_messages: env_parse(lookup, "FERRY_MAX_RECEIVE_MESSAGES")?,
            max_wait_ms: env_parse(lookup, "FERRY_MAX_WAIT_MS")?,
            shutdown_timeout_ms: env_parse(lookup, "FERRY_SHUTDOWN_TIMEOUT_MS")?,
            http: PartialHttp {
                listen: env_parse(lookup, "FERRY_HTTP_LISTEN")?,
                max_request_bytes: env_parse(lookup, "FERRY_HTTP_MAX_REQUEST_BYTES")?,
                metrics_sample_interval_ms: env_parse(
                    lookup,
                    "FERRY_HTTP_METRICS_SAMPLE_INTERVAL_MS",
                )?,
            },
            kafka: PartialKafka {
                enabled: env_parse(lookup, "FERRY_KAFKA_ENABLED")?,
                listen: env_parse(lookup, "FERRY_KAFKA_LISTEN")?,
                advertised: lookup("FERRY_KAFKA_ADVERTISED"),
                auto_create_topics: env_parse(lookup, "FERRY_KAFKA_AUTO_CREATE_TOPICS")?,
                default_partitions: env_parse(lookup, "FERRY_KAFKA_DEFAULT_PARTITIONS")?,
            },
            log: PartialLog {
                format: env_parse(lookup, "FERRY_LOG_FORMAT")?,
                filter: lookup("FERRY_LOG_FILTER"),
            },
        })
    }
}

fn env_parse<T: FromStr>(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<T>, ConfigError>
where
    T::Err: fmt::Display,
{
    lookup(name)
        .map(|v| {
            v.trim()
                .parse::<T>()
                .map_err(|e| refuse(name, format!("{v:?}: {e}")))
        })
        .transpose()
}

impl Settings {
    /// These settings with every key that `layer` sets replaced.
    pub(crate) fn overlay(self, layer: Partial) -> Settings {
        Settings {
            data_dir: layer.data_dir.unwrap_or(self.data_dir),
            fsync: layer.fsync.unwrap_or(self.fsync),
            segment_bytes: layer.segment_bytes.unwrap_or(self.segment_bytes),
            max_batch_messages: layer.max_batch_messages.unwrap_or(self.max_batch_messages),
            max_batch_records: layer.max_batch_records.unwrap_or(self.max_batch_records),
            retention_check_ms: layer.retention_check_ms.unwrap_or(self.retention_check_ms),
            max_receive_messages: layer
                .max_receive_messages
                .unwrap_or(self.max_receive_messages),
            max_wait_ms: layer.max_wait_ms.unwrap_or(self.max_wait_ms),
            shutdown_timeout_ms: layer
                .shutdown_timeout_ms
                .unwrap_or(self.shutdown_timeout_ms),
            http: HttpSettings {
                listen: layer.http.listen.unwrap_or(self.http.listen),
                max_request_bytes: layer
                    .http
                    .max_request_bytes
                    .unwrap_or(self.http.max_request_bytes),
                metrics_sample_interval_ms: layer
                    .http
                    .metrics_sample_interval_ms
                    .unwrap_or(self.http.metrics_sample_interval_ms),
            },
            kafka: KafkaSettings {
                enabled: layer.kafka.enabled.unwrap_or(self.kafka.enabled),
                listen: layer.kafka.listen.unwrap_or(self.kafka.listen),
                advertised: layer.kafka.advertised.unwrap_or(self.kafka.advertised),
                auto_create_topics: layer
                    .kafka
                    .auto_create_topics
                    .unwrap_or(self.kafka.auto_create_topics),
                default_partitions: layer
                    .kafka
                    .default_partitions
                    .unwrap_or(self.kafka.default_partitions),
            },
            log: LogSettings {
                format: layer.log.format.unwrap_or(self.log.format),
                filter: layer.log.filter.unwrap_or(self.log.filter),
            },
        }
    }

    /// The settings as the TOML a config file would hold.
    pub(crate) fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot show the config: {e}\n"))
    }

    /// Checks every key and builds what the broker and the HTTP server take.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming the key.
    pub(crate) fn validate(self) -> Result<ValidConfig, ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(refuse("data_dir", "must not be empty"));
        }
        if !(MIN_SEGMENT_BYTES..=u64::from(u32::MAX)).contains(&self.segment_bytes) {
            return Err(refuse(
                "segment_bytes",
                format!(
                    "{} is not between {MIN_SEGMENT_BYTES} and {}",
                    self.segment_bytes,
                    u32::MAX
                ),
            ));
        }
        if self.max_batch_messages == 0 {
            return Err(refuse("max_batch_messages", "must be at least 1"));
        }
        if self.max_batch_records == 0 {
            return Err(refuse("max_batch_records", "must be at least 1"));
        }
        if self.retention_check_ms == 0 {
            return Err(refuse("retention_check_ms", "must be at least 1"));
        }
        if self.max_receive_messages == 0 {
            return Err(refuse("max_receive_messages", "must be at least 1"));
        }
        if self.max_wait_ms > MAX_WAIT_LIMIT_MS {
            return Err(refuse(
                "max_wait_ms",
                format!(
                    "{} is more than the maximum {MAX_WAIT_LIMIT_MS}",
                    self.max_wait_ms
                ),
            ));
        }
        let max_request_bytes = usize::try_from(self.http.max_request_bytes)
            .ok()
            .filter(|n| *n as u64 >= MIN_REQUEST_BYTES)
            .ok_or_else(|| {
                refuse(
                    "http.max_request_bytes",
                    format!(
                        "{} is less than {MIN_REQUEST_BYTES} or too large",
                        self.http.max_request_bytes
                    ),
                )
            })?;
        if !(1..=MAX_DEFAULT_PARTITIONS).contains(&self.kafka.default_partitions) {
            return Err(refuse(
                "kafka.default_partitions",
                format!(
                    "{} is not between 1 and {MAX_DEFAULT_PARTITIONS}",
                    self.kafka.default_partitions
                ),
            ));
        }
        let advertised = parse_advertised(&self.kafka.advertised)
            .map_err(|reason| refuse("kafka.advertised", reason))?;
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.filter) {
            return Err(refuse("log.filter", format!("{:?}: {e}", self.log.filter)));
        }
        let broker = BrokerConfig {
            data_dir: self.data_dir.clone(),
            fsync: self.fsync,
            segment_bytes: self.segment_bytes,
            max_batch_messages: self.max_batch_messages,
            max_receive_messages: self.max_receive_messages,
            max_wait: Duration::from_millis(self.max_wait_ms),
            max_batch_records: self.max_batch_records,
            retention_check_interval: Duration::from_millis(self.retention_check_ms),
            ..BrokerConfig::default()
        };
        Ok(ValidConfig {
            broker,
            http: HttpConfig::with_max_request_bytes(max_request_bytes)
                .with_history_interval(Duration::from_millis(self.http.metrics_sample_interval_ms)),
            listen: self.http.listen,
            kafka: self.kafka.enabled.then(|| KafkaListener {
                listen: self.kafka.listen,
                advertised: advertised.clone(),
                auto_create_topics: self.kafka.auto_create_topics,
                default_partitions: self.kafka.default_partitions,
            }),
            shutdown_timeout: Duration::from_millis(self.shutdown_timeout_ms),
            settings: self,
        })
    }
}

/// `host:port`, or nothing for an empty string.
fn parse_advertised(text: &str) -> Result<Option<(String, u16)>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?} is not host:port"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| format!("{text:?} has no valid port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{text:?} has no host"));
    }
    Ok(Some((host.to_owned(), port)))
}

/// The Kafka listener's settings, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KafkaListener {
    /// Where to listen.
    pub(crate) listen: SocketAddr,
    /// What to advertise, if not the bound address.
    pub(crate) advertised: Option<(String, u16)>,
    /// Create unknown topics on Metadata requests.
    pub(crate) auto_create_topics: bool,
    /// Partitions of topics created without a count.
    pub(crate) default_partitions: u32,
}

/// Settings that passed [`Settings::validate`], in the shapes their users take.
#[derive(Clone, Debug)]
pub(crate) struct ValidConfig {
    /// For `Broker::open`.
    pub(crate) broker: BrokerConfig,
    /// For `ferry_http::serve`.
    pub(crate) http: HttpConfig,
    /// Where to listen.
    pub(crate) listen: SocketAddr,
    /// The Kafka listener, unless disabled.
    pub(crate) kafka: Option<KafkaListener>,
    /// How long in-flight requests get after a shutdown signal.
    pub(crate) shutdown_timeout: Duration,
    /// The settings themselves (for logging).
    pub(crate) settings: Settings,
}

#[cfg(test)]
mod tests;

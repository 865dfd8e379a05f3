//! The command line: `ferry serve`, `ferry queue …` (and `ferry stream …`, whose flags live in
//! `crate::stream`).

use crate::config::{
    DEFAULT_DATA_DIR, DEFAULT_HTTP_LISTEN, DEFAULT_KAFKA_LISTEN, LogFormat, Partial, PartialHttp,
    PartialKafka, PartialLog,
};
use clap::{Args, Parser, Subcommand};
use ferry_broker::FsyncPolicy;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Default server URL of the client commands.
pub(crate) const DEFAULT_URL: &str = "http://127.0.0.1:7480";

/// Ferry: a message broker in one binary.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the broker and its HTTP API.
    Serve(ServeArgs),
    /// Manage queues and their messages through the native API of a running server.
    Queue(QueueArgs),
    /// Manage event streams, produce and consume records, and inspect consumer groups.
    Stream(crate::stream::StreamArgs),
    /// Measure a running server: load with latency percentiles, every message verified.
    Bench(BenchArgs),
    /// Ack leased messages and publish messages and records as one atomic, durable step.
    Txn(TxnArgs),
    /// Print every queue's and stream's numbers once, from a running server.
    Stats(StatsArgs),
    /// A live terminal view of every queue and stream, refreshed every second (q to quit).
    Top(TopArgs),
}

/// `ferry txn`: one transaction, all or nothing.
#[derive(Debug, Args)]
pub(crate) struct TxnArgs {
    /// Base URL of the Ferry server.
    #[arg(long, env = "FERRY_URL", default_value = DEFAULT_URL)]
    pub(crate) url: String,
    /// A lease to ack, as QUEUE=RECEIPT (repeatable; all of one queue).
    #[arg(long, value_name = "QUEUE=RECEIPT", required = true)]
    pub(crate) ack: Vec<String>,
    /// A text message to send, as QUEUE=BODY (repeatable).
    #[arg(long, value_name = "QUEUE=BODY")]
    pub(crate) send: Vec<String>,
    /// A text record to append, as STREAM=VALUE or STREAM=KEY=VALUE with --keyed (repeatable).
    #[arg(long, value_name = "STREAM=VALUE")]
    pub(crate) append: Vec<String>,
    /// Read --append as STREAM=KEY=VALUE.
    #[arg(long)]
    pub(crate) keyed: bool,
}

/// `ferry stats`.
#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Base URL of the Ferry server.
    #[arg(long, env = "FERRY_URL", default_value = DEFAULT_URL)]
    pub(crate) url: String,
    /// Print JSON (`{"queues": [...], "streams": [...]}`) instead of tables.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `ferry top`.
#[derive(Debug, Args)]
pub(crate) struct TopArgs {
    /// Base URL of the Ferry server.
    #[arg(long, env = "FERRY_URL", default_value = DEFAULT_URL)]
    pub(crate) url: String,
    /// Time between refreshes.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub(crate) interval_ms: u64,
}

/// `ferry serve`. Each flag overrides the `FERRY_*` variable, which overrides the config file.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// TOML config file (lowest precedence after the defaults).
    #[arg(long, value_name = "FILE", env = "FERRY_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Where the catalog and the queue logs live [env: FERRY_DATA_DIR].
    #[arg(long, value_name = "DIR", help = help_with_default("Where the catalog and the queue logs live [env: FERRY_DATA_DIR]", DEFAULT_DATA_DIR))]
    pub(crate) data_dir: Option<PathBuf>,
    /// HTTP listen address; port 0 picks a free port [env: FERRY_HTTP_LISTEN].
    #[arg(long, value_name = "ADDR", help = help_with_default("HTTP listen address; port 0 picks a free port [env: FERRY_HTTP_LISTEN]", &DEFAULT_HTTP_LISTEN.to_string()))]
    pub(crate) http_listen: Option<SocketAddr>,
    /// Kafka protocol listen address; port 0 picks a free port [env: FERRY_KAFKA_LISTEN].
    #[arg(long, value_name = "ADDR", help = help_with_default("Kafka protocol listen address; port 0 picks a free port [env: FERRY_KAFKA_LISTEN]", &DEFAULT_KAFKA_LISTEN.to_string()))]
    pub(crate) kafka_listen: Option<SocketAddr>,
    /// host:port Kafka clients are told to connect to (default: the bound address)
    /// [env: FERRY_KAFKA_ADVERTISED].
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) kafka_advertised: Option<String>,
    /// Do not serve the Kafka protocol [env: FERRY_KAFKA_ENABLED=false].
    #[arg(long)]
    pub(crate) no_kafka: bool,
    /// When a publish is durable: always, interval:<ms> or never [env: FERRY_FSYNC].
    #[arg(long, value_name = "POLICY", help = help_with_default("When a publish is durable: always, interval:<ms> or never [env: FERRY_FSYNC]", &FsyncPolicy::Always.to_string()))]
    pub(crate) fsync: Option<FsyncPolicy>,
    /// Size at which a queue's log starts a new segment [env: FERRY_SEGMENT_BYTES].
    #[arg(long, value_name = "N")]
    pub(crate) segment_bytes: Option<u64>,
    /// Largest HTTP request body; larger ones get 413 [env: FERRY_HTTP_MAX_REQUEST_BYTES].
    #[arg(long, value_name = "N")]
    pub(crate) max_request_bytes: Option<u64>,
    /// Log line format on stderr [env: FERRY_LOG_FORMAT].
    #[arg(long, value_name = "FORMAT")]
    pub(crate) log_format: Option<LogFormat>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    pub(crate) print_config: bool,
    /// Time between samples of the dashboard's metrics history (default 5000).
    #[arg(long, value_name = "MS")]
    pub(crate) metrics_sample_interval_ms: Option<u64>,
    /// Test hook: after recovery, wait while this file exists before turning ready.
    #[arg(long, value_name = "FILE", hide = true)]
    pub(crate) hold_ready_while: Option<PathBuf>,
}

fn help_with_default(text: &str, default: &str) -> String {
    format!("{text} [default: {default}]")
}

impl ServeArgs {
    /// The flags as a configuration layer.
    pub(crate) fn layer(&self) -> Partial {
        Partial {
            data_dir: self.data_dir.clone(),
            fsync: self.fsync,
            segment_bytes: self.segment_bytes,
            http: PartialHttp {
                listen: self.http_listen,
                max_request_bytes: self.max_request_bytes,
                metrics_sample_interval_ms: self.metrics_sample_interval_ms,
            },
            kafka: PartialKafka {
                enabled: self.no_kafka.then_some(false),
                listen: self.kafka_listen,
                advertised: self.kafka_advertised.clone(),
                ..PartialKafka::default()
            },
            log: PartialLog {
                format: self.log_format,
                filter: None,
            },
            ..Partial::default()
        }
    }
}

/// `ferry queue …`.
#[derive(Debug, Args)]
pub(crate) struct QueueArgs {
    /// Base URL of the Ferry server.
    #[arg(long, global = true, env = "FERRY_URL", default_value = DEFAULT_URL)]
    pub(crate) url: String,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: QueueCommand,
}

/// The queue subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum QueueCommand {
    /// Create a queue (fails if it exists).
    Create(ConfigArgs),
    /// Change some settings of an existing queue (the others stay).
    Update(ConfigArgs),
    /// List queues.
    List {
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a queue's config and stats.
    Info {
        /// Queue name.
        name: String,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a queue and its messages.
    Delete {
        /// Queue name.
        name: String,
    },
    /// Send messages: each BODY, or one per line of stdin when no BODY is given.
    Send(SendArgs),
    /// Receive messages (leased unless --ack).
    Recv(RecvArgs),
    /// Ack (delete) received messages by receipt.
    Ack {
        /// Queue name.
        name: String,
        /// Receipts from `recv`.
        #[arg(required = true)]
        receipts: Vec<String>,
    },
    /// Complete a received message of a resequencing queue with its result (released to the
    /// queue's output in arrival order per key).
    Complete {
        /// Queue name.
        name: String,
        /// Receipt from `recv`.
        receipt: String,
        /// The result (UTF-8 text).
        result: String,
    },
    /// Skip the blocked gaps of a resequencing queue (gap policy `block`).
    SkipGaps {
        /// Queue name.
        name: String,
        /// Only this order key (message group); every key if absent.
        #[arg(long)]
        key: Option<String>,
    },
    /// Give received messages back for redelivery.
    Nack {
        /// Queue name.
        name: String,
        /// Receipts from `recv`.
        #[arg(required = true)]
        receipts: Vec<String>,
        /// Delay before redelivery (default: the queue's backoff).
        #[arg(long, value_name = "MS")]
        delay_ms: Option<u64>,
        /// Why processing failed (kept with the message).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Show messages without leasing them.
    Peek {
        /// Queue name.
        name: String,
        /// Most messages to show (1 to 1000).
        #[arg(long, default_value_t = ferry_api::browse::DEFAULT_PEEK_LIMIT)]
        limit: usize,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove one message that is not in flight.
    Cancel {
        /// Queue name.
        name: String,
        /// Message id (from `send` or `peek`).
        id: String,
    },
    /// Remove every message of a queue.
    Purge {
        /// Queue name.
        name: String,
    },
    /// Move messages from a dead-letter queue back to their source queues.
    Redrive {
        /// Dead-letter queue name.
        name: String,
        /// Most messages to move (default: all).
        #[arg(long)]
        max: Option<u64>,
        /// Most messages moved per second (default: unlimited).
        #[arg(long, value_name = "N")]
        rate_per_s: Option<f64>,
    },
}

/// `--gap-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum GapPolicyArg {
    /// Release the next results as if the message had never been there.
    Skip,
    /// Hold the key until `ferry queue skip-gaps`.
    Block,
}

/// A queue name and the settings to set on it.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// Queue name (FIFO queues end in .fifo).
    pub(crate) name: String,
    /// Make it a FIFO queue (the name must end in .fifo).
    #[arg(long)]
    pub(crate) fifo: bool,
    /// Lease length of a received message.
    #[arg(long, value_name = "MS")]
    pub(crate) visibility_timeout_ms: Option<u64>,
    /// Queue that takes messages after --max-receives failed deliveries.
    #[arg(long, value_name = "QUEUE")]
    pub(crate) dead_letter_queue: Option<String>,
    /// Deliveries after which a message is dead-lettered.
    #[arg(long, value_name = "N")]
    pub(crate) max_receives: Option<u32>,
    /// Default delay before a new message is visible.
    #[arg(long, value_name = "MS")]
    pub(crate) delay_ms: Option<u64>,
    /// Resequence into this stream: completed results leave in arrival order per key.
    #[arg(long, value_name = "STREAM", conflicts_with = "resequence_queue")]
    pub(crate) resequence_stream: Option<String>,
    /// Resequence into this queue: completed results leave in arrival order per key.
    #[arg(long, value_name = "QUEUE")]
    pub(crate) resequence_queue: Option<String>,
    /// With --resequence-*: what a message that never completes does to its key.
    #[arg(long, value_enum, value_name = "POLICY")]
    pub(crate) gap_policy: Option<GapPolicyArg>,
    /// With --resequence-*: release a marker (attribute ferry-gap) where a gap was skipped.
    #[arg(long)]
    pub(crate) gap_markers: bool,
    /// Any other settings as a JSON object, e.g. '{"retention_ms": 60000}' (flags win).
    #[arg(long, value_name = "JSON")]
    pub(crate) config_json: Option<String>,
}

/// `ferry queue send`.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// Queue name.
    pub(crate) name: String,
    /// Message bodies (text); none means one message per line of stdin.
    pub(crate) bodies: Vec<String>,
    /// FIFO group of every message.
    #[arg(long)]
    pub(crate) group: Option<String>,
    /// Delay before the messages are visible.
    #[arg(long, value_name = "MS")]
    pub(crate) delay_ms: Option<u64>,
    /// Priority 0 to 9.
    #[arg(long)]
    pub(crate) priority: Option<u8>,
    /// An attribute KEY=VALUE (repeatable).
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    pub(crate) attributes: Vec<String>,
    /// Messages per request.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub(crate) batch: u16,
}

/// `ferry queue recv`.
#[derive(Debug, Args)]
pub(crate) struct RecvArgs {
    /// Queue name.
    pub(crate) name: String,
    /// Most messages to receive.
    #[arg(long, default_value_t = 1)]
    pub(crate) max: u32,
    /// Long poll: how long to wait when no message is visible.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub(crate) wait_ms: u64,
    /// Lease length (default: the queue's).
    #[arg(long, value_name = "MS")]
    pub(crate) visibility_timeout_ms: Option<u64>,
    /// Ack each message after printing it.
    #[arg(long)]
    pub(crate) ack: bool,
    /// Print the server's JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `ferry bench …`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Which workload.
    #[command(subcommand)]
    pub(crate) command: BenchCommand,
}

/// The workloads of `ferry bench`.
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Producers and consumers on a fresh queue: rates, publish and end-to-end latency, and
    /// counts of lost and duplicated messages.
    Queue(ferry_bench::QueueBench),
    /// Appends to a fresh stream, then reads it all back: append and read rates, append
    /// latency, and whether every record came back once, in offset order.
    Stream(ferry_bench::StreamBench),
    /// Workers complete a fresh resequencing queue's messages in parallel while a follower
    /// reads the results from its output stream: throughput, complete and end-to-end latency,
    /// and whether every result arrived once, in its key's order (`--plain`: the ack baseline).
    Resequence(ferry_bench::ResequenceBench),
}

//! The flags and arguments of `ferry stream …`.

use crate::cli::DEFAULT_URL;
use clap::{ArgGroup, Args, Subcommand};
use ferry_api::{OffsetSpec, ResetOffset, Timestamp};

/// Records per append request, by default.
pub(crate) const DEFAULT_BATCH: u16 = 1000;

/// `ferry stream …`.
#[derive(Debug, Args)]
pub(crate) struct StreamArgs {
    /// Base URL of the Ferry server.
    #[arg(long, global = true, env = "FERRY_URL", default_value = DEFAULT_URL)]
    pub(crate) url: String,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: StreamCommand,
}

/// The stream subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum StreamCommand {
    /// Create a stream, or change the given settings of an existing one (the others stay).
    Create(CreateArgs),
    /// List streams.
    List {
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a stream's config, partitions and groups.
    Info {
        /// Stream name.
        name: String,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a stream, its records and its groups.
    Delete {
        /// Stream name.
        name: String,
    },
    /// Run key compaction on a stream now.
    Compact {
        /// Stream name.
        name: String,
    },
    /// Append records: each VALUE, or one per line of stdin when no VALUE is given.
    Produce(ProduceArgs),
    /// Print records, from partitions directly or as a member of a consumer group.
    Consume(ConsumeArgs),
    /// Print new records as they arrive, like `tail -f` (Ctrl-C to stop).
    Tail(TailArgs),
    /// List a stream's consumer groups, or describe one: members, offsets and lag.
    Groups {
        /// Stream name.
        name: String,
        /// The group to describe.
        group: Option<String>,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move a consumer group's committed offsets (only while it has no members).
    ResetOffsets(ResetArgs),
}

/// `ferry stream create`: a stream name and the settings to set on it.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Stream name.
    pub(crate) name: String,
    /// Number of partitions (can grow, never shrink).
    #[arg(long, value_name = "N")]
    pub(crate) partitions: Option<u32>,
    /// Drop records older than this.
    #[arg(long, value_name = "MS", conflicts_with = "retention")]
    pub(crate) retention_ms: Option<u64>,
    /// Keep records regardless of age.
    #[arg(long, value_name = "forever", value_parser = ["forever"])]
    pub(crate) retention: Option<String>,
    /// Drop the oldest segments once a partition is larger than this ("unlimited" for no
    /// limit).
    #[arg(long, value_name = "B", value_parser = parse_limit)]
    pub(crate) retention_bytes: Option<Limit>,
    /// What retention does: drop old segments, keep the latest record per key, or both.
    #[arg(long, value_name = "POLICY", value_parser = ["delete", "compact", "compact,delete"])]
    pub(crate) cleanup: Option<String>,
    /// Largest record accepted.
    #[arg(long, value_name = "B")]
    pub(crate) max_record_bytes: Option<u32>,
    /// Size at which a partition's log starts a new segment.
    #[arg(long, value_name = "B")]
    pub(crate) segment_bytes: Option<u64>,
    /// Any other settings as a JSON object, e.g. '{"delete_retention_ms": 60000}' (flags win).
    #[arg(long, value_name = "JSON")]
    pub(crate) config_json: Option<String>,
}

/// A size limit: a number, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    /// At most this many.
    At(u64),
    /// No limit.
    Unlimited,
}

fn parse_limit(s: &str) -> Result<Limit, String> {
    match s {
        "unlimited" | "none" => Ok(Limit::Unlimited),
        n => n
            .parse()
            .map(Limit::At)
            .map_err(|_| format!("expected a number of bytes or \"unlimited\", not {n:?}")),
    }
}

/// `ferry stream produce`.
#[derive(Debug, Args)]
pub(crate) struct ProduceArgs {
    /// Stream name.
    pub(crate) name: String,
    /// Record values (text); none means one record per line of stdin.
    #[arg(conflicts_with = "tombstone")]
    pub(crate) values: Vec<String>,
    /// Key of every record.
    #[arg(long, conflicts_with = "key_separator")]
    pub(crate) key: Option<String>,
    /// Split each value at the first SEP into key and value (e.g. ':' for "user-1:hello").
    #[arg(long, value_name = "SEP", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub(crate) key_separator: Option<String>,
    /// Partition of every record (default: by key hash).
    #[arg(long, value_name = "P")]
    pub(crate) partition: Option<u32>,
    /// A header NAME=VALUE on every record (repeatable).
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub(crate) headers: Vec<String>,
    /// Append only if the first record gets this offset (later batches continue from there);
    /// all records must go to one partition.
    #[arg(long, value_name = "N")]
    pub(crate) expected_offset: Option<u64>,
    /// Send one tombstone (a record with no value) for --key, which compaction reads as
    /// "forget this key".
    #[arg(long, requires = "key")]
    pub(crate) tombstone: bool,
    /// Records per request.
    #[arg(long, default_value_t = DEFAULT_BATCH, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub(crate) batch: u16,
    /// Print one JSON object per record ({"partition", "offset"}).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `ferry stream consume`.
#[derive(Debug, Args)]
pub(crate) struct ConsumeArgs {
    /// Stream name.
    pub(crate) name: String,
    /// Consume as a member of this group: committed offsets, shared partitions.
    #[arg(long, conflicts_with = "partitions")]
    pub(crate) group: Option<String>,
    /// A partition to read (repeatable; default: all).
    #[arg(long = "partition", value_name = "P")]
    pub(crate) partitions: Vec<u32>,
    /// Where to start: earliest, latest or an offset (with --group: earliest or latest, for
    /// partitions the group never committed on).
    #[arg(long, value_name = "FROM", default_value = "earliest")]
    pub(crate) from: OffsetSpec,
    /// Stop after this many records.
    #[arg(long, value_name = "N")]
    pub(crate) max: Option<u64>,
    /// Keep waiting for new records (Ctrl-C to stop) instead of stopping at the end.
    #[arg(long)]
    pub(crate) follow: bool,
    /// Print one JSON object per record instead of `partition:offset key value`.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `ferry stream tail`.
#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    /// Stream name.
    pub(crate) name: String,
    /// A partition to follow (repeatable; default: all).
    #[arg(long = "partition", value_name = "P")]
    pub(crate) partitions: Vec<u32>,
    /// Print one JSON object per record.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `ferry stream reset-offsets`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).multiple(false)
    .args(["to_earliest", "to_latest", "to_time", "to_offset"])))]
pub(crate) struct ResetArgs {
    /// Stream name.
    pub(crate) name: String,
    /// Group name.
    pub(crate) group: String,
    /// Every partition to its first stored record.
    #[arg(long)]
    pub(crate) to_earliest: bool,
    /// Every partition to its end (skip everything there is now).
    #[arg(long)]
    pub(crate) to_latest: bool,
    /// Every partition to its first record at or after this time.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub(crate) to_time: Option<Timestamp>,
    /// One partition to an offset (repeatable; the other partitions stay).
    #[arg(long, value_name = "P:OFFSET", value_parser = parse_partition_offset)]
    pub(crate) to_offset: Vec<ResetOffset>,
    /// Print the server's JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    ferry_api::time::parse_rfc3339(s).map_err(|e| e.to_string())
}

/// Reads `P:OFFSET`, e.g. `0:42`.
pub(crate) fn parse_partition_offset(s: &str) -> Result<ResetOffset, String> {
    let refuse = || format!("expected PARTITION:OFFSET, e.g. 0:42, not {s:?}");
    let (partition, offset) = s.split_once(':').ok_or_else(refuse)?;
    Ok(ResetOffset {
        partition: partition.parse().map_err(|_| refuse())?,
        offset: offset.parse().map_err(|_| refuse())?,
    })
}

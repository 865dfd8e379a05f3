//! The options of `ferry bench queue`, as a `clap::Args` struct the binary flattens in.

use crate::header::HEADER_BYTES;
use crate::wire::Protocol;
use clap::Args;

/// The smallest body: the header alone.
const MIN_SIZE_BYTES: i64 = HEADER_BYTES as i64;
/// The largest body the broker accepts at all (a queue's `max_message_bytes` ceiling).
const MAX_SIZE_BYTES: i64 = 16 * 1024 * 1024;

/// The defaults, in one place: they feed both clap and [`Default`].
pub mod defaults {
    /// Server URL.
    pub const URL: &str = "http://127.0.0.1:7480";
    /// Producer tasks.
    pub const PRODUCERS: u32 = 1;
    /// Consumer tasks.
    pub const CONSUMERS: u32 = 1;
    /// Messages per run.
    pub const MESSAGES: u64 = 100_000;
    /// Body size in bytes.
    pub const SIZE_BYTES: u32 = 100;
    /// Messages per send request, and most messages per receive.
    pub const BATCH: u32 = 100;
    /// Send requests in flight per producer, as fast as possible: each waits for the last.
    pub const INFLIGHT: u32 = 1;
    /// Send requests in flight per producer at a fixed `--rate`: enough that sends go out on
    /// time even while earlier ones wait for their fsync (an open loop, bounded).
    pub const INFLIGHT_PACED: u32 = 256;
    /// How long a consumer's receive waits for messages.
    pub const WAIT_MS: u64 = 500;
    /// How long the run waits, after the last send, for every acknowledged message to arrive.
    pub const DRAIN_TIMEOUT_S: u64 = 10;
}

/// `ferry bench queue`: producers send numbered, timestamped messages to a fresh queue through
/// the native API while consumers receive and ack them; the report gives rates, latencies and
/// any lost or duplicated message.
///
/// Embed it with `#[command(flatten)]` and pass it to [`crate::run_queue`].
#[derive(Clone, Debug, PartialEq, Args)]
pub struct QueueBench {
    /// Base URL of the Ferry server.
    #[arg(long, env = "FERRY_URL", default_value = defaults::URL)]
    pub url: String,
    /// Queue to use; it must not exist yet [default: bench-RANDOM].
    #[arg(long, value_name = "NAME")]
    pub queue: Option<String>,
    /// Keep the queue afterwards instead of deleting it.
    #[arg(long)]
    pub keep: bool,
    /// Producer tasks, each with its own sequence numbers.
    #[arg(long, value_name = "N", default_value_t = defaults::PRODUCERS, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub producers: u32,
    /// Consumer tasks, each long-polling and acking what it receives.
    #[arg(long, value_name = "N", default_value_t = defaults::CONSUMERS, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub consumers: u32,
    /// Messages to send in all, across producers (warm-up included).
    #[arg(long, value_name = "N", default_value_t = defaults::MESSAGES, value_parser = clap::value_parser!(u64).range(1..))]
    pub messages: u64,
    /// Send for this many seconds after the warm-up instead of a fixed count.
    #[arg(long, value_name = "S", conflicts_with = "messages", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub duration_s: Option<u64>,
    /// Body size in bytes (at least the 24-byte header).
    #[arg(long, value_name = "BYTES", default_value_t = defaults::SIZE_BYTES, value_parser = clap::value_parser!(u32).range(MIN_SIZE_BYTES..=MAX_SIZE_BYTES))]
    pub size: u32,
    /// Messages per send request; also the most a receive asks for.
    #[arg(long, value_name = "N", default_value_t = defaults::BATCH, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
    /// Messages per second for the whole run, on a fixed timetable (latency counts from the
    /// scheduled time); 0 sends as fast as possible.
    #[arg(long, value_name = "PER_S", default_value_t = 0)]
    pub rate: u64,
    /// Most send requests in flight per producer [default: 1, or 256 with --rate].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub inflight: Option<u32>,
    /// Seconds at the start whose messages are left out of rates and latencies (but verified).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub warmup_s: u64,
    /// Seconds to wait after the last send for every acknowledged message to be received.
    #[arg(long, value_name = "S", default_value_t = defaults::DRAIN_TIMEOUT_S)]
    pub drain_timeout_s: u64,
    /// The API the producers and consumers use: Ferry's own, or its SQS endpoint (batches
    /// of at most 10 then, as in SQS).
    #[arg(long, value_enum, default_value_t = Protocol::Native)]
    pub protocol: Protocol,
    /// Print the report as JSON on stdout instead of a table (and no progress bar).
    #[arg(long)]
    pub json: bool,
}

impl Default for QueueBench {
    fn default() -> Self {
        QueueBench {
            url: defaults::URL.to_owned(),
            queue: None,
            keep: false,
            producers: defaults::PRODUCERS,
            consumers: defaults::CONSUMERS,
            messages: defaults::MESSAGES,
            duration_s: None,
            size: defaults::SIZE_BYTES,
            batch: defaults::BATCH,
            rate: 0,
            inflight: None,
            warmup_s: 0,
            drain_timeout_s: defaults::DRAIN_TIMEOUT_S,
            protocol: Protocol::Native,
            json: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: QueueBench,
    }

    fn parse(args: &[&str]) -> Result<QueueBench, String> {
        Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
            .map(|cli| cli.bench)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn no_flags_means_the_defaults() {
        // FERRY_URL from the environment would change `url`; compare the rest.
        let parsed = parse(&[]).map(|b| QueueBench {
            url: defaults::URL.to_owned(),
            ..b
        });
        assert_eq!(parsed, Ok(QueueBench::default()));
    }

    #[test]
    fn the_single_message_preset_parses() {
        let b = parse(&["--rate", "1000", "--batch", "1", "--messages", "10000"]);
        let b = b.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((b.rate, b.batch, b.messages), (1000, 1, 10_000));
    }

    #[test]
    fn bad_combinations_are_refused() {
        let both = parse(&["--messages", "5", "--duration-s", "3"])
            .err()
            .unwrap_or_default();
        assert!(both.contains("cannot be used with"), "{both}");
        assert!(
            parse(&["--duration-s", "3"]).is_ok(),
            "the default count does not conflict"
        );
        let small = parse(&["--size", "23"]).err().unwrap_or_default();
        assert!(small.contains("23"), "{small}");
        assert!(parse(&["--batch", "0"]).is_err());
        assert!(parse(&["--producers", "0"]).is_err());
    }
}

//! The options of `ferry bench resequence`, as a `clap::Args` struct the binary flattens in, and
//! their checked form.

use super::report::ResequenceMode;
use crate::error::BenchError;
use crate::header::HEADER_BYTES;
use clap::Args;
use std::num::NonZeroU64;
use std::time::Duration;

/// The smallest body: the header alone.
const MIN_SIZE_BYTES: i64 = HEADER_BYTES as i64;
/// The largest body the bench sends (a queue's `max_message_bytes` ceiling; the queue and the
/// output stream are created to admit it).
const MAX_SIZE_BYTES: i64 = 16 * 1024 * 1024;
/// The most messages the broker takes in one send, hands out in one receive or settles in one
/// complete or ack (its `max_batch_messages`).
const MAX_BATCH: i64 = 1000;
/// The most order keys: the ledger keeps a line per key.
const MAX_KEYS: i64 = 100_000;

/// The defaults, in one place: they feed both clap and [`Default`].
pub mod defaults {
    /// Messages per run.
    pub const MESSAGES: u64 = 20_000;
    /// Body size in bytes (results are the same size: workers echo the body).
    pub const SIZE_BYTES: u32 = 100;
    /// Worker tasks.
    pub const WORKERS: u32 = 4;
    /// Order keys (message groups) the messages are dealt over, round-robin.
    pub const KEYS: u32 = 10;
    /// Most messages per receive, and so per complete (or ack) call.
    pub const BATCH: u32 = 10;
    /// Messages per send request.
    pub const SEND_BATCH: u32 = 100;
    /// How long a worker's receive waits for messages.
    pub const WAIT_MS: u64 = 500;
    /// How long the run waits, after the last send, for every result to be readable (or, with
    /// `--plain`, every message to be acked).
    pub const DRAIN_TIMEOUT_S: u64 = 30;
}

/// `ferry bench resequence`: one producer sends numbered, timestamped messages dealt over
/// `--keys` order keys to a fresh resequencing queue; `--workers` workers receive them in
/// batches and complete each batch in one call, echoing the body as the result; a follower
/// reads the results from the queue's output stream and checks that each arrived once, in
/// its key's send order. With `--plain`, the same workers ack a plain queue instead: the
/// baseline. The workload is described on [`run_resequence`](crate::run_resequence).
///
/// Embed it with `#[command(flatten)]` and pass it to [`crate::run_resequence`].
#[derive(Clone, Debug, PartialEq, Args)]
pub struct ResequenceBench {
    /// Base URL of the Ferry server.
    #[arg(long, env = "FERRY_URL", default_value = crate::defaults::URL)]
    pub url: String,
    /// Queue to use; it must not exist yet, nor its output stream NAME-out [default:
    /// bench-RANDOM].
    #[arg(long, value_name = "NAME")]
    pub queue: Option<String>,
    /// Keep the queue and its output stream afterwards instead of deleting them.
    #[arg(long)]
    pub keep: bool,
    /// Ack a plain queue instead of completing a resequencing one: the baseline to compare
    /// with.
    #[arg(long)]
    pub plain: bool,
    /// Messages to send in all.
    #[arg(long, value_name = "N", default_value_t = defaults::MESSAGES, value_parser = clap::value_parser!(u64).range(1..))]
    pub messages: u64,
    /// Body size in bytes (at least the 24-byte header); each result is the body echoed.
    #[arg(long, value_name = "BYTES", default_value_t = defaults::SIZE_BYTES, value_parser = clap::value_parser!(u32).range(MIN_SIZE_BYTES..=MAX_SIZE_BYTES))]
    pub size: u32,
    /// Worker tasks, each receiving a batch and completing (or acking) it in one call.
    #[arg(long, value_name = "N", default_value_t = defaults::WORKERS, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub workers: u32,
    /// Order keys (message groups); message i goes to key i mod KEYS.
    #[arg(long, value_name = "N", default_value_t = defaults::KEYS, value_parser = clap::value_parser!(u32).range(1..=MAX_KEYS))]
    pub keys: u32,
    /// Most messages per receive, and so per complete (or ack) call.
    #[arg(long, value_name = "N", default_value_t = defaults::BATCH, value_parser = clap::value_parser!(u32).range(1..=MAX_BATCH))]
    pub batch: u32,
    /// Messages per send request; the producer waits for each reply before the next send, so
    /// that every key's messages arrive in the order they are numbered.
    #[arg(long, value_name = "N", default_value_t = defaults::SEND_BATCH, value_parser = clap::value_parser!(u32).range(1..=MAX_BATCH))]
    pub send_batch: u32,
    /// Messages per second on a fixed timetable (latency counts from the scheduled time); 0
    /// sends as fast as possible, which measures throughput, and end-to-end latency then
    /// includes the wait behind the backlog.
    #[arg(long, value_name = "PER_S", default_value_t = 0)]
    pub rate: u64,
    /// Seconds to wait after the last send for every result to be readable (or, with
    /// --plain, every message to be acked).
    #[arg(long, value_name = "S", default_value_t = defaults::DRAIN_TIMEOUT_S)]
    pub drain_timeout_s: u64,
    /// Print the report as JSON on stdout instead of a table (and no progress bar).
    #[arg(long)]
    pub json: bool,
}

impl Default for ResequenceBench {
    fn default() -> Self {
        ResequenceBench {
            url: crate::defaults::URL.to_owned(),
            queue: None,
            keep: false,
            plain: false,
            messages: defaults::MESSAGES,
            size: defaults::SIZE_BYTES,
            workers: defaults::WORKERS,
            keys: defaults::KEYS,
            batch: defaults::BATCH,
            send_batch: defaults::SEND_BATCH,
            rate: 0,
            drain_timeout_s: defaults::DRAIN_TIMEOUT_S,
            json: false,
        }
    }
}

/// The options, checked and in the types the run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) mode: ResequenceMode,
    pub(crate) messages: u64,
    pub(crate) size_bytes: usize,
    pub(crate) workers: u32,
    pub(crate) keys: u32,
    pub(crate) batch: u32,
    pub(crate) send_batch: NonZeroU64,
    pub(crate) rate_per_s: Option<NonZeroU64>,
    pub(crate) drain_timeout: Duration,
}

impl Settings {
    /// Refuses what clap would, for options built in code.
    pub(crate) fn check(o: &ResequenceBench) -> Result<Settings, BenchError> {
        let refuse = |option, reason: String| BenchError::InvalidOption { option, reason };
        let within = |option, n: u64, max: i64| {
            let max = u64::try_from(max).unwrap_or(u64::MAX);
            if (1..=max).contains(&n) {
                Ok(n)
            } else {
                Err(refuse(option, format!("{n} is outside 1..={max}")))
            }
        };
        if !(MIN_SIZE_BYTES..=MAX_SIZE_BYTES).contains(&i64::from(o.size)) {
            return Err(refuse(
                "size",
                format!(
                    "{} is outside {MIN_SIZE_BYTES}..={MAX_SIZE_BYTES} bytes",
                    o.size
                ),
            ));
        }
        within("messages", o.messages, i64::MAX)?;
        within("workers", u64::from(o.workers), 1024)?;
        within("keys", u64::from(o.keys), MAX_KEYS)?;
        within("batch", u64::from(o.batch), MAX_BATCH)?;
        let send_batch = within("send-batch", u64::from(o.send_batch), MAX_BATCH)?;
        Ok(Settings {
            mode: if o.plain {
                ResequenceMode::Plain
            } else {
                ResequenceMode::Resequence
            },
            messages: o.messages,
            size_bytes: usize::try_from(o.size).map_err(|e| refuse("size", e.to_string()))?,
            workers: o.workers,
            keys: o.keys,
            batch: o.batch,
            send_batch: NonZeroU64::new(send_batch).unwrap_or(NonZeroU64::MIN),
            rate_per_s: NonZeroU64::new(o.rate),
            drain_timeout: Duration::from_secs(o.drain_timeout_s),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: ResequenceBench,
    }

    fn parse(args: &[&str]) -> Result<ResequenceBench, String> {
        Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
            .map(|cli| cli.bench)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn no_flags_means_the_defaults() {
        // FERRY_URL from the environment would change `url`; compare the rest.
        let parsed = parse(&[]).map(|b| ResequenceBench {
            url: crate::defaults::URL.to_owned(),
            ..b
        });
        assert_eq!(parsed, Ok(ResequenceBench::default()));
        let d = ResequenceBench::default();
        assert_eq!(
            (d.messages, d.size, d.workers, d.keys, d.batch, d.send_batch),
            (20_000, 100, 4, 10, 10, 100)
        );
    }

    #[test]
    fn plain_is_the_baseline_mode() {
        let b = parse(&["--plain", "--keys", "1000", "--workers", "8"]);
        let b = b.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((b.keys, b.workers), (1000, 8));
        let mode = Settings::check(&b).map(|s| s.mode);
        assert_eq!(mode.ok(), Some(ResequenceMode::Plain));
        let mode = Settings::check(&ResequenceBench::default()).map(|s| s.mode);
        assert_eq!(mode.ok(), Some(ResequenceMode::Resequence));
    }

    #[test]
    fn bad_values_are_refused_by_clap_and_by_check() {
        let small = parse(&["--size", "23"]).err().unwrap_or_default();
        assert!(small.contains("23"), "{small}");
        for flag in [
            "--batch",
            "--send-batch",
            "--keys",
            "--workers",
            "--messages",
        ] {
            assert!(parse(&[flag, "0"]).is_err(), "{flag} 0");
        }
        assert!(parse(&["--batch", "1001"]).is_err());
        let check = |o: ResequenceBench| {
            Settings::check(&o)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let d = ResequenceBench::default;
        assert!(check(ResequenceBench { size: 10, ..d() }).contains("--size"));
        assert!(check(ResequenceBench { keys: 0, ..d() }).contains("--keys"));
        assert!(check(ResequenceBench { batch: 5000, ..d() }).contains("--batch"));
        assert!(
            check(ResequenceBench {
                send_batch: 0,
                ..d()
            })
            .contains("--send-batch")
        );
        assert!(check(ResequenceBench { messages: 0, ..d() }).contains("--messages"));
        assert!(Settings::check(&d()).is_ok());
    }
}

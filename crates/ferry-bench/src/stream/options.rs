//! The options of `ferry bench stream`, as a `clap::Args` struct the binary flattens in, and
//! their checked form.

use super::value::VALUE_PREFIX_BYTES;
use crate::error::BenchError;
use clap::Args;
use std::num::NonZeroU64;

/// The smallest record value: the prefix that carries the record's number.
const MIN_RECORD_BYTES: i64 = VALUE_PREFIX_BYTES as i64;
/// The largest record value the bench writes (as for queue bodies; the stream is created with
/// a `max_record_bytes` that admits it).
const MAX_RECORD_BYTES: i64 = 16 * 1024 * 1024;

/// The defaults, in one place: they feed both clap and [`Default`].
pub mod defaults {
    /// Records appended in all, across producers.
    pub const RECORDS: u64 = 1_000_000;
    /// Value size of every record, in bytes.
    pub const RECORD_BYTES: u32 = 100;
    /// Records per append request.
    pub const BATCH: u32 = 1000;
    /// Producer tasks.
    pub const PRODUCERS: u32 = 1;
    /// Append requests in flight per producer: enough that one batch is on the wire while
    /// earlier ones wait for the group commit.
    pub const IN_FLIGHT: u32 = 4;
    /// Partitions of the stream.
    pub const PARTITIONS: u32 = 1;
    /// Most records one read asks for.
    pub const READ_MAX_RECORDS: u32 = 10_000;
    /// Most record bytes one read asks for.
    pub const READ_MAX_BYTES: u64 = 4 * 1024 * 1024;
    /// Reads in flight: 2 lets the server prepare the next reply while the bench checks one.
    pub const READ_IN_FLIGHT: u32 = 2;
}

/// `ferry bench stream`: appends numbered records to a fresh stream as fast as the server
/// answers (phase 1), then reads every partition back from offset 0 (phase 2); the report gives
/// both rates, the append latency, and whether every record came back exactly once, in offset
/// order. The workload is described on [`run_stream`](crate::run_stream).
///
/// Embed it with `#[command(flatten)]` and pass it to [`crate::run_stream`].
#[derive(Clone, Debug, PartialEq, Args)]
pub struct StreamBench {
    /// Base URL of the Ferry server.
    #[arg(long, env = "FERRY_URL", default_value = crate::defaults::URL)]
    pub url: String,
    /// Stream to use; it must not exist yet [default: bench-RANDOM].
    #[arg(long, value_name = "NAME")]
    pub stream: Option<String>,
    /// Keep the stream afterwards instead of deleting it.
    #[arg(long)]
    pub keep: bool,
    /// Records to append in all, across producers.
    #[arg(long, value_name = "N", default_value_t = defaults::RECORDS, value_parser = clap::value_parser!(u64).range(1..))]
    pub records: u64,
    /// Value size of every record in bytes (at least the 20-byte prefix); values are text.
    #[arg(long, value_name = "BYTES", default_value_t = defaults::RECORD_BYTES, value_parser = clap::value_parser!(u32).range(MIN_RECORD_BYTES..=MAX_RECORD_BYTES))]
    pub record_bytes: u32,
    /// Records per append request (the broker takes at most 10,000).
    #[arg(long, value_name = "N", default_value_t = defaults::BATCH, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
    /// Producer tasks; batches are dealt to them round-robin.
    #[arg(long, value_name = "N", default_value_t = defaults::PRODUCERS, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub producers: u32,
    /// Most append requests in flight per producer.
    #[arg(long = "in-flight", alias = "inflight", value_name = "N", default_value_t = defaults::IN_FLIGHT, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub in_flight: u32,
    /// Partitions of the stream; keyless batches are spread over them by the server.
    #[arg(long, value_name = "N", default_value_t = defaults::PARTITIONS, value_parser = clap::value_parser!(u32).range(1..))]
    pub partitions: u32,
    /// Most records one read asks for.
    #[arg(long, value_name = "N", default_value_t = defaults::READ_MAX_RECORDS, value_parser = clap::value_parser!(u32).range(1..))]
    pub read_max_records: u32,
    /// Most record bytes one read asks for (the server returns at least one record).
    #[arg(long, value_name = "BYTES", default_value_t = defaults::READ_MAX_BYTES, value_parser = clap::value_parser!(u64).range(1..))]
    pub read_max_bytes: u64,
    /// Reads in flight in phase 2 (each covers its own range of offsets).
    #[arg(long, value_name = "N", default_value_t = defaults::READ_IN_FLIGHT, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub read_in_flight: u32,
    /// Print the report as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl Default for StreamBench {
    fn default() -> Self {
        StreamBench {
            url: crate::defaults::URL.to_owned(),
            stream: None,
            keep: false,
            records: defaults::RECORDS,
            record_bytes: defaults::RECORD_BYTES,
            batch: defaults::BATCH,
            producers: defaults::PRODUCERS,
            in_flight: defaults::IN_FLIGHT,
            partitions: defaults::PARTITIONS,
            read_max_records: defaults::READ_MAX_RECORDS,
            read_max_bytes: defaults::READ_MAX_BYTES,
            read_in_flight: defaults::READ_IN_FLIGHT,
            json: false,
        }
    }
}

/// The options, checked and in the types the run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) records: u64,
    pub(crate) record_bytes: usize,
    pub(crate) batch: NonZeroU64,
    pub(crate) producers: NonZeroU64,
    pub(crate) in_flight: usize,
    pub(crate) partitions: u32,
    pub(crate) read_max_records: u32,
    pub(crate) read_max_bytes: u64,
    pub(crate) read_in_flight: usize,
}

impl Settings {
    /// Refuses what clap would, for options built in code.
    pub(crate) fn check(o: &StreamBench) -> Result<Settings, BenchError> {
        let refuse = |option, reason: String| BenchError::InvalidOption { option, reason };
        let positive = |option, n: u64| {
            NonZeroU64::new(n).ok_or_else(|| refuse(option, "must be at least 1".into()))
        };
        let record_bytes = i64::from(o.record_bytes);
        if !(MIN_RECORD_BYTES..=MAX_RECORD_BYTES).contains(&record_bytes) {
            return Err(refuse(
                "record-bytes",
                format!(
                    "{} is outside {MIN_RECORD_BYTES}..={MAX_RECORD_BYTES} bytes",
                    o.record_bytes
                ),
            ));
        }
        let usize_of = |option, n: u32| {
            positive(option, u64::from(n))
                .and_then(|n| usize::try_from(n.get()).map_err(|e| refuse(option, e.to_string())))
        };
        Ok(Settings {
            records: positive("records", o.records)?.get(),
            record_bytes: usize_of("record-bytes", o.record_bytes)?,
            batch: positive("batch", u64::from(o.batch))?,
            producers: positive("producers", u64::from(o.producers))?,
            in_flight: usize_of("in-flight", o.in_flight)?,
            partitions: positive("partitions", u64::from(o.partitions)).map(|_| o.partitions)?,
            read_max_records: positive("read-max-records", u64::from(o.read_max_records))
                .map(|_| o.read_max_records)?,
            read_max_bytes: positive("read-max-bytes", o.read_max_bytes)?.get(),
            read_in_flight: usize_of("read-in-flight", o.read_in_flight)?,
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
        bench: StreamBench,
    }

    fn parse(args: &[&str]) -> Result<StreamBench, String> {
        Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
            .map(|cli| cli.bench)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn no_flags_means_the_issues_workload() {
        // FERRY_URL from the environment would change `url`; compare the rest.
        let parsed = parse(&[]).map(|b| StreamBench {
            url: crate::defaults::URL.to_owned(),
            ..b
        });
        assert_eq!(parsed, Ok(StreamBench::default()));
        let d = StreamBench::default();
        assert_eq!(
            (d.records, d.record_bytes, d.batch, d.producers, d.in_flight),
            (1_000_000, 100, 1000, 1, 4)
        );
        assert_eq!((d.partitions, d.read_max_bytes), (1, 4 * 1024 * 1024));
    }

    #[test]
    fn flags_parse_and_inflight_is_an_alias() {
        let b = parse(&[
            "--in-flight",
            "8",
            "--partitions",
            "3",
            "--record-bytes",
            "20",
        ]);
        let b = b.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((b.in_flight, b.partitions, b.record_bytes), (8, 3, 20));
        let alias = parse(&["--inflight", "2"]).map(|b| b.in_flight);
        assert_eq!(alias, Ok(2));
    }

    #[test]
    fn bad_values_are_refused_by_clap_and_by_check() {
        let small = parse(&["--record-bytes", "19"]).err().unwrap_or_default();
        assert!(small.contains("19"), "{small}");
        assert!(parse(&["--batch", "0"]).is_err());
        assert!(parse(&["--in-flight", "0"]).is_err());
        let check = |o: StreamBench| {
            Settings::check(&o)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let d = StreamBench::default;
        assert!(
            check(StreamBench {
                record_bytes: 19,
                ..d()
            })
            .contains("--record-bytes")
        );
        assert!(check(StreamBench { records: 0, ..d() }).contains("--records"));
        assert!(
            check(StreamBench {
                partitions: 0,
                ..d()
            })
            .contains("--partitions")
        );
        assert!(
            check(StreamBench {
                read_in_flight: 0,
                ..d()
            })
            .contains("--read-in-flight")
        );
        assert!(Settings::check(&d()).is_ok());
    }
}

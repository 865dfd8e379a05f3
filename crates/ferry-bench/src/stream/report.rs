//! The report of `ferry bench stream`, as a table for people or JSON for scripts.

use crate::error::BenchError;
use crate::report::{LatencySummary, per_second, pretty_json, write_latency_table};
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

/// What was run: the options that shape the load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StreamWorkload {
    /// Records appended in all.
    pub records: u64,
    /// Value size of every record (text; no key, no headers).
    pub record_bytes: u32,
    /// Records per append request.
    pub batch: u32,
    /// Producer tasks.
    pub producers: u32,
    /// Most append requests in flight per producer.
    pub in_flight: u32,
    /// Partitions of the stream.
    pub partitions: u32,
    /// Most records per read request.
    pub read_max_records: u32,
    /// Most record bytes per read request.
    pub read_max_bytes: u64,
    /// Read requests in flight.
    pub read_in_flight: u32,
}

/// The figures of one phase. MB are 10⁶ bytes of record value (JSON and HTTP not included).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PhaseFigures {
    /// Records appended (acknowledged) or read.
    pub records: u64,
    /// HTTP requests made.
    pub requests: u64,
    /// From the first request to the last reply.
    pub elapsed_s: f64,
    /// Records per second.
    pub records_per_s: f64,
    /// Value megabytes per second.
    pub mb_per_s: f64,
}

impl PhaseFigures {
    /// The figures of `records` records of `value_bytes` value bytes in all, in `requests`
    /// requests over `elapsed`.
    pub(crate) fn new(
        records: u64,
        value_bytes: u64,
        requests: u64,
        elapsed: Duration,
    ) -> PhaseFigures {
        PhaseFigures {
            records,
            requests,
            elapsed_s: elapsed.as_secs_f64(),
            records_per_s: per_second(records, elapsed),
            mb_per_s: per_second(value_bytes, elapsed) / 1e6,
        }
    }
}

/// Whether every appended record was read back exactly once, in offset order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Records the server acknowledged (durable, under its fsync policy).
    pub appended: u64,
    /// Records the reads returned.
    pub read: u64,
    /// Acknowledged but never read back: offsets no read returned, offsets the server gave
    /// twice, or partitions the stream does not have.
    pub lost: u64,
    /// Read at or below an offset already read: a repeat, or out of order.
    pub duplicated: u64,
    /// Read with another record's number than the one its append was told it got, or at an
    /// offset no append was given.
    pub misplaced: u64,
    /// Values this run did not write (bad size, magic, number or padding, or not text).
    pub malformed: u64,
    /// Records the partitions hold past the last offset any append was given.
    pub unexpected: u64,
}

impl Verification {
    /// Whether every appended record was read back exactly once, in offset order, and
    /// nothing else was.
    pub fn is_clean(&self) -> bool {
        self.read == self.appended
            && self.lost == 0
            && self.duplicated == 0
            && self.misplaced == 0
            && self.malformed == 0
            && self.unexpected == 0
    }
}

/// The report of `ferry bench stream`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StreamReport {
    /// The server's base URL. Its fsync policy is its own (`ferry serve --fsync`, default
    /// `always`) and is not visible through the API.
    pub url: String,
    /// The stream used.
    pub stream: String,
    /// Whether the bench deleted it at the end.
    pub stream_deleted: bool,
    /// What was run.
    pub workload: StreamWorkload,
    /// Whether Ctrl-C cut the run short (the figures cover the part that ran).
    pub interrupted: bool,
    /// Phase 1: appends, each answered once durable.
    pub append: PhaseFigures,
    /// Per append request: from just before it was sent to its reply.
    pub append_latency: LatencySummary,
    /// Phase 2: reads of every partition from offset 0.
    pub read: PhaseFigures,
    /// JSON bytes of the read replies, for the protocol's overhead over `read.mb_per_s`.
    pub read_reply_bytes: u64,
    /// The check of every record read.
    pub verification: Verification,
}

impl StreamReport {
    /// Whether verification passed.
    pub fn is_clean(&self) -> bool {
        self.verification.is_clean()
    }

    /// The report as a human-readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_table(&mut out);
        out
    }

    /// Prints [`StreamReport::table`] on stdout.
    pub fn print_table(&self) {
        print!("{}", self.table());
    }

    /// The report as pretty-printed JSON.
    ///
    /// # Errors
    /// [`BenchError::Output`] if serialisation fails (it does not for this type).
    pub fn to_json(&self) -> Result<String, BenchError> {
        pretty_json(self)
    }

    /// Prints [`StreamReport::to_json`] on stdout.
    ///
    /// # Errors
    /// As for [`StreamReport::to_json`].
    pub fn print_json(&self) -> Result<(), BenchError> {
        println!("{}", self.to_json()?);
        Ok(())
    }

    fn write_table(&self, out: &mut String) -> std::fmt::Result {
        let w = &self.workload;
        writeln!(
            out,
            "workload: {} records of {} B, batch {}, {} producer(s) x {} appends in flight, {} partition(s)",
            w.records, w.record_bytes, w.batch, w.producers, w.in_flight, w.partitions
        )?;
        writeln!(
            out,
            "          reads of up to {} records / {} B, {} in flight",
            w.read_max_records, w.read_max_bytes, w.read_in_flight
        )?;
        writeln!(
            out,
            "server:   {} (fsync: the server's own policy)",
            self.url
        )?;
        let fate = if self.stream_deleted {
            "deleted"
        } else {
            "kept"
        };
        writeln!(out, "stream:   {} ({fate})", self.stream)?;
        crate::report::interrupted_note(out, self.interrupted)?;
        writeln!(out)?;
        writeln!(
            out,
            "{:<12} {:>12} {:>12} {:>9} {:>9} {:>9}",
            "", "records", "records/s", "MB/s", "seconds", "requests"
        )?;
        for (name, p) in [("append", &self.append), ("read", &self.read)] {
            writeln!(
                out,
                "{name:<12} {:>12} {:>12.0} {:>9.2} {:>9.3} {:>9}",
                p.records, p.records_per_s, p.mb_per_s, p.elapsed_s, p.requests
            )?;
        }
        writeln!(out)?;
        write_latency_table(out, &[("append", &self.append_latency)])?;
        writeln!(out)?;
        let v = &self.verification;
        let verdict = if v.is_clean() { "OK" } else { "FAILED" };
        writeln!(
            out,
            "verification {verdict}: appended {}, read {}, lost {}, duplicated {}, misplaced {}, \
             malformed {}, unexpected {}",
            v.appended, v.read, v.lost, v.duplicated, v.misplaced, v.malformed, v.unexpected
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> StreamReport {
        StreamReport {
            url: "http://127.0.0.1:7480".into(),
            stream: "bench-1".into(),
            stream_deleted: true,
            workload: StreamWorkload {
                records: 1000,
                record_bytes: 100,
                batch: 100,
                producers: 1,
                in_flight: 4,
                partitions: 1,
                read_max_records: 10_000,
                read_max_bytes: 4 << 20,
                read_in_flight: 2,
            },
            interrupted: false,
            append: PhaseFigures::new(1000, 100_000, 10, Duration::from_millis(100)),
            append_latency: LatencySummary::default(),
            read: PhaseFigures::new(1000, 100_000, 1, Duration::from_millis(50)),
            read_reply_bytes: 170_000,
            verification: Verification {
                appended: 1000,
                read: 1000,
                ..Verification::default()
            },
        }
    }

    #[test]
    fn phase_rates_count_records_and_value_megabytes_per_second() {
        let r = report();
        assert!((r.append.records_per_s - 10_000.0).abs() < 1e-6, "{r:?}");
        assert!((r.append.mb_per_s - 1.0).abs() < 1e-9, "{r:?}");
        assert!((r.read.records_per_s - 20_000.0).abs() < 1e-6, "{r:?}");
        assert_eq!(
            PhaseFigures::new(5, 5, 1, Duration::ZERO).records_per_s,
            0.0
        );
    }

    #[test]
    fn json_names_carry_units() {
        let json = report().to_json().unwrap_or_default();
        for key in [
            "\"records_per_s\"",
            "\"mb_per_s\"",
            "\"in_flight\"",
            "\"p99_9_ms\"",
            "\"lost\"",
            "\"duplicated\"",
        ] {
            assert!(json.contains(key), "{key} missing from {json}");
        }
    }

    #[test]
    fn the_table_gives_the_verdict() {
        let table = report().table();
        assert!(
            table.contains("verification OK: appended 1000, read 1000"),
            "{table}"
        );
        assert!(table.contains("4 appends in flight"), "{table}");
        let bad = StreamReport {
            verification: Verification {
                read: 999,
                ..report().verification
            },
            ..report()
        };
        assert!(!bad.is_clean());
        assert!(
            bad.table().contains("verification FAILED"),
            "{}",
            bad.table()
        );
    }
}

//! The result of a run, as a table for people or JSON for scripts.

use crate::error::BenchError;
use crate::wire::Protocol;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

/// What was run: the options that shape the load.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Workload {
    /// Body size of every message.
    pub size_bytes: u32,
    /// Messages sent in all, for a counted run.
    pub messages: Option<u64>,
    /// Seconds of sending after the warm-up, for a timed run.
    pub duration_s: Option<u64>,
    /// Messages per send request (and most per receive).
    pub batch: u32,
    /// Producer tasks.
    pub producers: u32,
    /// Consumer tasks.
    pub consumers: u32,
    /// Target messages per second for the whole run; 0 means as fast as possible.
    pub rate_per_s: u64,
    /// Most send requests in flight per producer.
    pub inflight: u32,
    /// Seconds left out of the statistics at the start.
    pub warmup_s: u64,
    /// The API the producers and consumers used.
    pub protocol: Protocol,
}

/// Percentiles of one latency, in milliseconds (recorded in microseconds, 3 significant digits).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// How many values were recorded (requests for publish, messages for end to end).
    pub samples: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p99_9_ms: f64,
    /// Largest value.
    pub max_ms: f64,
}

impl LatencySummary {
    /// Summarises a histogram of microseconds.
    pub(crate) fn from_micros(histogram: &Histogram<u64>) -> LatencySummary {
        if histogram.is_empty() {
            return LatencySummary::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencySummary {
            samples: histogram.len(),
            mean_ms: histogram.mean() / 1000.0,
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p90_ms: ms(histogram.value_at_quantile(0.90)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p99_9_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        }
    }
}

/// `count` events over `window`, per second; 0 for an empty window.
pub(crate) fn per_second(count: u64, window: Duration) -> f64 {
    let seconds = window.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// `value` pretty-printed as JSON.
///
/// # Errors
/// [`BenchError::Output`] if serialisation fails (it does not for the report types).
pub(crate) fn pretty_json<T: Serialize>(value: &T) -> Result<String, BenchError> {
    serde_json::to_string_pretty(value).map_err(BenchError::Output)
}

/// A table of latency percentiles in milliseconds, one row per `(name, summary)`.
pub(crate) fn write_latency_table(
    out: &mut String,
    rows: &[(&str, &LatencySummary)],
) -> std::fmt::Result {
    writeln!(
        out,
        "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "latency ms", "p50", "p90", "p99", "p99.9", "max", "samples"
    )?;
    for (name, l) in rows {
        writeln!(
            out,
            "{name:<12} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9}",
            l.p50_ms, l.p90_ms, l.p99_ms, l.p99_9_ms, l.max_ms, l.samples
        )?;
    }
    Ok(())
}

/// The report of `ferry bench queue`.
///
/// Rates count only messages sent after the warm-up, over the time from the end of the warm-up
/// to the last such event (reply, receive or ack). Verification counts every message.
/// MB are 10⁶ bytes of message body (protocol overhead not included).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueReport {
    /// The queue used.
    pub queue: String,
    /// Whether the bench deleted it at the end.
    pub queue_deleted: bool,
    /// What was run.
    pub workload: Workload,
    /// Whether Ctrl-C cut the run short.
    pub interrupted: bool,
    /// Whether the drain timeout ran out with acknowledged messages still unreceived.
    pub drain_timed_out: bool,
    /// The whole run, from the first send to the end of the drain.
    pub elapsed_s: f64,
    /// Messages acknowledged by the broker (after the warm-up).
    pub sent_messages: u64,
    /// Messages received for the first time (after the warm-up).
    pub received_messages: u64,
    /// Deliveries acked by the consumers (after the warm-up).
    pub acked_messages: u64,
    /// Sent (broker-acknowledged) messages per second.
    pub sent_per_s: f64,
    /// Received messages per second.
    pub received_per_s: f64,
    /// Acked messages per second.
    pub acked_per_s: f64,
    /// Sent body megabytes per second.
    pub sent_mb_per_s: f64,
    /// Received body megabytes per second.
    pub received_mb_per_s: f64,
    /// Send request start (at a fixed rate: its scheduled time) to the durable reply.
    pub publish_latency: LatencySummary,
    /// Send time (at a fixed rate: the scheduled time) to the receive reply that carried it.
    pub end_to_end_latency: LatencySummary,
    /// Acknowledged by the broker, never received, and no longer in the queue.
    pub lost: u64,
    /// Acknowledged and not received when the drain timeout ran out, but still waiting in the
    /// queue: the consumers were too slow, nothing was lost.
    pub still_queued: u64,
    /// Received more than once.
    pub duplicated: u64,
    /// Messages the broker acknowledged, warm-up included.
    pub acknowledged_total: u64,
    /// Distinct messages received, warm-up included.
    pub received_total: u64,
    /// Deliveries beyond the first, summed.
    pub redeliveries: u64,
    /// Received although the broker never acknowledged their send.
    pub received_unacknowledged: u64,
    /// Received bodies this run did not write (a bad header or size).
    pub malformed: u64,
    /// Receipts the broker refused to ack (their messages will come again).
    pub ack_failures: u64,
}

impl QueueReport {
    /// Whether verification passed: nothing lost, nothing duplicated, nothing foreign.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.malformed == 0
    }

    /// The report as a human-readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_table(&mut out);
        out
    }

    /// Prints [`QueueReport::table`] on stdout.
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

    /// Prints [`QueueReport::to_json`] on stdout.
    ///
    /// # Errors
    /// As for [`QueueReport::to_json`].
    pub fn print_json(&self) -> Result<(), BenchError> {
        println!("{}", self.to_json()?);
        Ok(())
    }

    fn write_table(&self, out: &mut String) -> std::fmt::Result {
        let w = &self.workload;
        let amount = match (w.duration_s, w.messages) {
            (Some(s), _) => format!("{s} s"),
            (None, Some(n)) => format!("{n} msgs"),
            (None, None) => "?".to_owned(),
        };
        let rate = if w.rate_per_s == 0 {
            "max".to_owned()
        } else {
            format!("{} msgs/s", w.rate_per_s)
        };
        writeln!(
            out,
            "workload: {amount} of {} B, batch {}, {} producer(s), {} consumer(s), rate {rate}, inflight {}, warm-up {} s, {} API",
            w.size_bytes,
            w.batch,
            w.producers,
            w.consumers,
            w.inflight,
            w.warmup_s,
            match w.protocol {
                Protocol::Native => "native",
                Protocol::Sqs => "SQS",
            }
        )?;
        let fate = if self.queue_deleted {
            "deleted"
        } else {
            "kept"
        };
        writeln!(
            out,
            "queue:    {} ({fate}), run took {:.2} s",
            self.queue, self.elapsed_s
        )?;
        crate::report::interrupted_note(out, self.interrupted)?;
        writeln!(out)?;
        writeln!(
            out,
            "{:<12} {:>12} {:>12} {:>9}",
            "", "msgs", "msgs/s", "MB/s"
        )?;
        writeln!(
            out,
            "{:<12} {:>12} {:>12.0} {:>9.2}",
            "sent", self.sent_messages, self.sent_per_s, self.sent_mb_per_s
        )?;
        writeln!(
            out,
            "{:<12} {:>12} {:>12.0} {:>9.2}",
            "received", self.received_messages, self.received_per_s, self.received_mb_per_s
        )?;
        writeln!(
            out,
            "{:<12} {:>12} {:>12.0}",
            "acked", self.acked_messages, self.acked_per_s
        )?;
        writeln!(out)?;
        write_latency_table(
            out,
            &[
                ("publish", &self.publish_latency),
                ("end-to-end", &self.end_to_end_latency),
            ],
        )?;
        writeln!(out)?;
        let verdict = if self.is_clean() { "OK" } else { "FAILED" };
        writeln!(
            out,
            "verification {verdict}: lost {}, duplicated {} (acknowledged {}, received {}, redeliveries {}, \
             received unacknowledged {}, malformed {}, ack failures {})",
            self.lost,
            self.duplicated,
            self.acknowledged_total,
            self.received_total,
            self.redeliveries,
            self.received_unacknowledged,
            self.malformed,
            self.ack_failures
        )?;
        if self.drain_timed_out {
            writeln!(
                out,
                "             the drain timeout ran out before every acknowledged message arrived; \
                 {} were still waiting in the queue (not lost)",
                self.still_queued
            )?;
        }
        Ok(())
    }
}

/// The line a report carries when the run was cut short by Ctrl-C.
pub(crate) fn interrupted_note(out: &mut String, interrupted: bool) -> std::fmt::Result {
    use std::fmt::Write as _;
    if interrupted {
        writeln!(
            out,
            "          interrupted by Ctrl-C: figures cover the part that ran"
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> QueueReport {
        QueueReport {
            queue: "bench-1".into(),
            queue_deleted: true,
            workload: Workload {
                size_bytes: 100,
                messages: Some(1000),
                duration_s: None,
                batch: 100,
                producers: 1,
                consumers: 1,
                rate_per_s: 0,
                inflight: 1,
                warmup_s: 0,
                protocol: Protocol::Native,
            },
            interrupted: false,
            drain_timed_out: false,
            elapsed_s: 1.0,
            sent_messages: 1000,
            received_messages: 1000,
            acked_messages: 1000,
            sent_per_s: 1000.0,
            received_per_s: 1000.0,
            acked_per_s: 1000.0,
            sent_mb_per_s: 0.1,
            received_mb_per_s: 0.1,
            publish_latency: LatencySummary::default(),
            end_to_end_latency: LatencySummary::default(),
            lost: 0,
            still_queued: 0,
            duplicated: 0,
            acknowledged_total: 1000,
            received_total: 1000,
            redeliveries: 0,
            received_unacknowledged: 0,
            malformed: 0,
            ack_failures: 0,
        }
    }

    #[test]
    fn percentiles_come_out_in_milliseconds() {
        let mut h =
            Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|e| panic!("{e}"));
        for micros in 1..=1000 {
            h.saturating_record(micros);
        }
        let s = LatencySummary::from_micros(&h);
        assert_eq!(s.samples, 1000);
        assert!((s.p50_ms - 0.5).abs() < 0.001, "{s:?}");
        assert!((s.p99_ms - 0.99).abs() < 0.001, "{s:?}");
        assert!((s.max_ms - 1.0).abs() < 0.001, "{s:?}");
        assert_eq!(
            LatencySummary::from_micros(
                &Histogram::<u64>::new(3).unwrap_or_else(|e| panic!("{e}"))
            )
            .samples,
            0
        );
    }

    #[test]
    fn rates_are_per_second_and_an_empty_window_is_zero() {
        assert!((per_second(1_000, Duration::from_millis(500)) - 2_000.0).abs() < 1e-9);
        assert!((per_second(3, Duration::from_secs(2)) - 1.5).abs() < 1e-12);
        assert_eq!(per_second(5, Duration::ZERO), 0.0);
        assert_eq!(per_second(0, Duration::from_secs(1)), 0.0);
    }

    #[test]
    fn json_names_carry_units() {
        let json = report().to_json().unwrap_or_default();
        for key in [
            "\"sent_per_s\"",
            "\"acked_per_s\"",
            "\"sent_mb_per_s\"",
            "\"p99_9_ms\"",
            "\"lost\"",
            "\"duplicated\"",
        ] {
            assert!(json.contains(key), "{key} missing from {json}");
        }
    }

    #[test]
    fn the_table_flags_lost_and_duplicated_messages() {
        assert!(
            report()
                .table()
                .contains("verification OK: lost 0, duplicated 0")
        );
        let bad = QueueReport {
            lost: 3,
            duplicated: 2,
            ..report()
        };
        assert!(!bad.is_clean());
        assert!(
            bad.table()
                .contains("verification FAILED: lost 3, duplicated 2"),
            "{}",
            bad.table()
        );
    }
}

//! The report of `ferry bench resequence`, as a table for people or JSON for scripts.

use crate::error::BenchError;
use crate::report::{LatencySummary, pretty_json, write_latency_table};
use serde::Serialize;
use std::fmt::Write as _;

/// What the workers do with a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResequenceMode {
    /// Complete it on a resequencing queue, whose results go to an output stream in order.
    Resequence,
    /// Ack it on a plain queue (`--plain`): the baseline.
    Plain,
}

impl ResequenceMode {
    /// The name of the call that settles a batch.
    fn call(self) -> &'static str {
        match self {
            ResequenceMode::Resequence => "complete",
            ResequenceMode::Plain => "ack",
        }
    }

    /// What a settled message is called.
    fn settled(self) -> &'static str {
        match self {
            ResequenceMode::Resequence => "completed",
            ResequenceMode::Plain => "acked",
        }
    }
}

/// What was run: the options that shape the load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResequenceWorkload {
    /// Resequencing, or the plain-ack baseline.
    pub mode: ResequenceMode,
    /// Messages sent in all.
    pub messages: u64,
    /// Body size of every message, and so of every result.
    pub size_bytes: u32,
    /// Worker tasks.
    pub workers: u32,
    /// Order keys the messages are dealt over, round-robin.
    pub keys: u32,
    /// Most messages per receive, and so per complete (or ack) call.
    pub batch: u32,
    /// Messages per send request (one request in flight).
    pub send_batch: u32,
    /// Target messages per second; 0 means as fast as possible.
    pub rate_per_s: u64,
}

/// What became of every message on the queue side: deliveries to the workers and their
/// complete (or ack) calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryCheck {
    /// Messages the broker acknowledged as durable.
    pub acknowledged: u64,
    /// Distinct messages delivered to a worker.
    pub received: u64,
    /// Acknowledged but never delivered.
    pub lost: u64,
    /// Delivered more than once.
    pub duplicated: u64,
    /// Deliveries beyond the first, summed.
    pub redeliveries: u64,
    /// Deliveries this run did not send (bad body, or a group that is not their key).
    pub malformed: u64,
    /// Messages the broker accepted as completed (or acked).
    pub settled: u64,
    /// Receipts the broker refused to complete (or ack).
    pub settle_failures: u64,
    /// Acknowledged messages never completed (or acked).
    pub unsettled: u64,
}

impl DeliveryCheck {
    /// Whether every acknowledged message was delivered once and settled.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.malformed == 0 && self.unsettled == 0
    }
}

/// Whether every result arrived in the output stream exactly once and in its key's send order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResultCheck {
    /// Messages the broker acknowledged: each must have one result.
    pub acknowledged: u64,
    /// Records read from the output stream.
    pub read: u64,
    /// Distinct messages whose result was read.
    pub found: u64,
    /// Acknowledged messages whose result never arrived.
    pub lost: u64,
    /// Results beyond the first of their message.
    pub duplicated: u64,
    /// Results read after the result of a later message of the same key.
    pub out_of_order: u64,
    /// Results under another record key than their message's group, or whose
    /// `ferry-source-id` is not the id the broker gave their message.
    pub mismatched: u64,
    /// Records this run did not write (bad size, header or number).
    pub malformed: u64,
}

impl ResultCheck {
    /// Whether every acknowledged message has exactly one result, in order, and nothing else
    /// came.
    pub fn is_clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.out_of_order == 0
            && self.mismatched == 0
            && self.malformed == 0
    }
}

/// The report of `ferry bench resequence`.
///
/// Rates count from the first send. Latencies are recorded in microseconds (HDR histograms,
/// 3 significant digits) and reported in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResequenceReport {
    /// The server's base URL (its fsync policy is its own, and not visible through the API).
    pub url: String,
    /// The queue used.
    pub queue: String,
    /// Its output stream; `None` with `--plain`.
    pub stream: Option<String>,
    /// Whether the bench deleted the queue (and stream) at the end.
    pub deleted: bool,
    /// What was run.
    pub workload: ResequenceWorkload,
    /// Whether Ctrl-C cut the run short (the figures cover the part that ran).
    pub interrupted: bool,
    /// Whether the drain timeout ran out before every result arrived.
    pub drain_timed_out: bool,
    /// The whole run, from the first send to the end of the drain.
    pub elapsed_s: f64,
    /// Messages done: whose result was read from the output, or with `--plain` acked.
    pub done_messages: u64,
    /// From the first send to the last message done.
    pub throughput_window_s: f64,
    /// Done messages per second over that window: the throughput.
    pub throughput_per_s: f64,
    /// Messages the broker acknowledged.
    pub sent_messages: u64,
    /// Acknowledged messages per second, to the last send reply.
    pub sent_per_s: f64,
    /// Messages completed (or acked).
    pub settled_messages: u64,
    /// Completed (or acked) messages per second, to the last such reply.
    pub settled_per_s: f64,
    /// Per send request: start (at a fixed rate: its scheduled time) to the durable reply.
    pub send_latency: LatencySummary,
    /// Per complete (or ack) call, as a worker sees it: start to reply.
    pub call_latency: LatencySummary,
    /// Per message: send (or its scheduled time) to the reply of the call that completed (or
    /// acked) it.
    pub settled_latency: LatencySummary,
    /// Per message: send to its result being read from the output stream (resequencing only).
    pub visible_latency: Option<LatencySummary>,
    /// Per message: start of the complete call that carried its result to the result being
    /// read: the resequencer's own delay, held-back time included (resequencing only).
    pub release_latency: Option<LatencySummary>,
    /// The queue side: deliveries and complete (or ack) calls.
    pub deliveries: DeliveryCheck,
    /// The output side: every result once, in key order (resequencing only).
    pub results: Option<ResultCheck>,
}

impl ResequenceReport {
    /// Whether verification passed: every message delivered once and settled, and (when
    /// resequencing) every result arrived exactly once, in its key's send order.
    pub fn is_clean(&self) -> bool {
        let results_clean = match (self.workload.mode, &self.results) {
            (ResequenceMode::Resequence, Some(results)) => results.is_clean(),
            (ResequenceMode::Resequence, None) => false,
            (ResequenceMode::Plain, _) => true,
        };
        self.deliveries.is_clean() && results_clean
    }

    /// The report as a human-readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_table(&mut out);
        out
    }

    /// The report as pretty-printed JSON.
    ///
    /// # Errors
    /// [`BenchError::Output`] if serialisation fails (it does not for this type).
    pub fn to_json(&self) -> Result<String, BenchError> {
        pretty_json(self)
    }

    fn write_table(&self, out: &mut String) -> std::fmt::Result {
        let w = &self.workload;
        let call = w.mode.call();
        let mode = match w.mode {
            ResequenceMode::Resequence => "resequence",
            ResequenceMode::Plain => "plain (ack, the baseline)",
        };
        let rate = if w.rate_per_s == 0 {
            "max".to_owned()
        } else {
            format!("{} msgs/s", w.rate_per_s)
        };
        writeln!(
            out,
            "workload: {mode}: {} msgs of {} B over {} key(s), {} worker(s), receive/{call} batch {}, \
             send batch {}, rate {rate}",
            w.messages, w.size_bytes, w.keys, w.workers, w.batch, w.send_batch
        )?;
        let fate = if self.deleted { "deleted" } else { "kept" };
        let output = match &self.stream {
            Some(stream) => format!(" -> stream {stream}"),
            None => String::new(),
        };
        writeln!(
            out,
            "queue:    {}{output} ({fate}), server {}, run took {:.2} s",
            self.queue, self.url, self.elapsed_s
        )?;
        crate::report::interrupted_note(out, self.interrupted)?;
        writeln!(out)?;
        let done = match w.mode {
            ResequenceMode::Resequence => "results readable in the output stream",
            ResequenceMode::Plain => "messages acked",
        };
        writeln!(
            out,
            "throughput: {:.0} msgs/s ({} {done} {:.3} s after the first send)",
            self.throughput_per_s, self.done_messages, self.throughput_window_s
        )?;
        writeln!(
            out,
            "            sent {} ({:.0}/s), {} {} ({:.0}/s)",
            self.sent_messages,
            self.sent_per_s,
            w.mode.settled(),
            self.settled_messages,
            self.settled_per_s
        )?;
        writeln!(out)?;
        self.write_latencies(out)?;
        writeln!(out)?;
        self.write_verification(out)
    }

    fn write_latencies(&self, out: &mut String) -> std::fmt::Result {
        let call = self.workload.mode.call();
        let mut rows = vec![
            ("send", &self.send_latency),
            (call, &self.call_latency),
            ("settled", &self.settled_latency),
        ];
        if let Some(visible) = &self.visible_latency {
            rows.push(("visible", visible));
        }
        if let Some(release) = &self.release_latency {
            rows.push(("release", release));
        }
        write_latency_table(out, &rows)?;
        writeln!(
            out,
            "  send: per request, to its durable reply; {call}: per call, as a worker sees it"
        )?;
        writeln!(out, "  settled: per message, send to its {call} reply")?;
        if self.visible_latency.is_some() {
            writeln!(
                out,
                "  visible: per message, send to its result read from the output stream"
            )?;
            writeln!(
                out,
                "  release: per message, {call} call start to its result read (the resequencer's delay)"
            )?;
        }
        Ok(())
    }

    fn write_verification(&self, out: &mut String) -> std::fmt::Result {
        let verdict = if self.is_clean() { "OK" } else { "FAILED" };
        if let Some(r) = &self.results {
            writeln!(
                out,
                "verification {verdict}: results lost {}, duplicated {}, out of order {}, mismatched {}, \
                 malformed {} (acknowledged {}, read {}, distinct {})",
                r.lost,
                r.duplicated,
                r.out_of_order,
                r.mismatched,
                r.malformed,
                r.acknowledged,
                r.read,
                r.found
            )?;
        } else {
            writeln!(out, "verification {verdict}:")?;
        }
        let d = &self.deliveries;
        writeln!(
            out,
            "  deliveries: lost {}, duplicated {}, malformed {}, unsettled {} (acknowledged {}, received {}, \
             redeliveries {}, {} {}, refused {})",
            d.lost,
            d.duplicated,
            d.malformed,
            d.unsettled,
            d.acknowledged,
            d.received,
            d.redeliveries,
            self.workload.mode.settled(),
            d.settled,
            d.settle_failures
        )?;
        if self.drain_timed_out {
            writeln!(
                out,
                "  the drain timeout ran out before everything was done; see --drain-timeout-s"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ResequenceReport {
        ResequenceReport {
            url: "http://127.0.0.1:7480".into(),
            queue: "bench-1".into(),
            stream: Some("bench-1-out".into()),
            deleted: true,
            workload: ResequenceWorkload {
                mode: ResequenceMode::Resequence,
                messages: 1000,
                size_bytes: 100,
                workers: 4,
                keys: 10,
                batch: 10,
                send_batch: 100,
                rate_per_s: 0,
            },
            interrupted: false,
            drain_timed_out: false,
            elapsed_s: 1.5,
            done_messages: 1000,
            throughput_window_s: 1.0,
            throughput_per_s: 1000.0,
            sent_messages: 1000,
            sent_per_s: 4000.0,
            settled_messages: 1000,
            settled_per_s: 1100.0,
            send_latency: LatencySummary::default(),
            call_latency: LatencySummary::default(),
            settled_latency: LatencySummary::default(),
            visible_latency: Some(LatencySummary::default()),
            release_latency: Some(LatencySummary::default()),
            deliveries: DeliveryCheck {
                acknowledged: 1000,
                received: 1000,
                settled: 1000,
                ..DeliveryCheck::default()
            },
            results: Some(ResultCheck {
                acknowledged: 1000,
                read: 1000,
                found: 1000,
                ..ResultCheck::default()
            }),
        }
    }

    #[test]
    fn json_names_carry_units_and_the_checks() {
        let json = report().to_json().unwrap_or_default();
        for key in [
            "\"throughput_per_s\"",
            "\"mode\": \"resequence\"",
            "\"p99_ms\"",
            "\"release_latency\"",
            "\"out_of_order\"",
            "\"duplicated\"",
            "\"lost\"",
        ] {
            assert!(json.contains(key), "{key} missing from {json}");
        }
    }

    #[test]
    fn the_table_states_the_workload_and_the_verdict() {
        let table = report().table();
        for part in [
            "resequence: 1000 msgs of 100 B over 10 key(s), 4 worker(s), receive/complete batch 10",
            "throughput: 1000 msgs/s",
            "release",
            "verification OK: results lost 0, duplicated 0, out of order 0",
        ] {
            assert!(table.contains(part), "{part:?} missing from\n{table}");
        }
        let bad = ResequenceReport {
            results: report().results.map(|r| ResultCheck {
                out_of_order: 2,
                ..r
            }),
            ..report()
        };
        assert!(!bad.is_clean());
        assert!(
            bad.table().contains("verification FAILED"),
            "{}",
            bad.table()
        );
    }

    #[test]
    fn the_plain_baseline_has_no_output_side() {
        let plain = ResequenceReport {
            stream: None,
            workload: ResequenceWorkload {
                mode: ResequenceMode::Plain,
                ..report().workload
            },
            visible_latency: None,
            release_latency: None,
            results: None,
            ..report()
        };
        assert!(plain.is_clean());
        let table = plain.table();
        assert!(table.contains("receive/ack batch 10"), "{table}");
        assert!(!table.contains("release"), "{table}");
        let missing = ResequenceReport {
            results: None,
            ..report()
        };
        assert!(!missing.is_clean(), "resequencing without a result check");
        let unsettled = ResequenceReport {
            deliveries: DeliveryCheck {
                unsettled: 1,
                ..report().deliveries
            },
            ..report()
        };
        assert!(!unsettled.is_clean());
    }
}

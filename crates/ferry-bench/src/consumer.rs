//! A consumer task: long-polls, books every delivery in the ledger, records end-to-end latency
//! and acks each received batch in one call.

use crate::error::BenchError;
use crate::header::Header;
use crate::ledger::Arrival;
use crate::shared::{Counters, Shared, record_latency};
use crate::wire::Delivery;
use hdrhistogram::Histogram;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// What one consumer measured.
#[derive(Debug)]
pub(crate) struct ConsumerStats {
    /// End-to-end latency of measured first deliveries, microseconds.
    pub(crate) end_to_end: Histogram<u64>,
    /// Measured messages received for the first time.
    pub(crate) measured_received: u64,
    /// Measured deliveries acked.
    pub(crate) measured_acked: u64,
    /// When the last measured first delivery arrived, since the origin.
    pub(crate) last_received_at: Duration,
    /// When the last ack covering a measured delivery was answered, since the origin.
    pub(crate) last_acked_at: Duration,
    /// Bodies this run did not write.
    pub(crate) malformed: u64,
    /// Receipts the broker refused to ack.
    pub(crate) ack_failures: u64,
}

/// How a consumer receives: at most `max` messages a call, waiting up to `wait`, as `name`.
#[derive(Clone, Debug)]
pub(crate) struct Receiving {
    pub(crate) max: u32,
    pub(crate) wait: Duration,
    pub(crate) name: String,
}

/// Runs a consumer until the run stops it. A failed receive or ack stops the whole run
/// (through [`Shared::fail`]); the statistics so far are returned either way.
pub(crate) async fn consume(
    shared: Arc<Shared>,
    receiving: Receiving,
    histogram: Histogram<u64>,
) -> ConsumerStats {
    let mut stats = ConsumerStats {
        end_to_end: histogram,
        measured_received: 0,
        measured_acked: 0,
        last_received_at: Duration::ZERO,
        last_acked_at: Duration::ZERO,
        malformed: 0,
        ack_failures: 0,
    };
    let stop = shared.stop_receiving.subscribe();
    // The ack of batch N travels while batch N+1 is being received: two requests in flight.
    let mut unacked: Option<Unacked> = None;
    while !*stop.borrow() {
        let acking = async {
            match unacked.take() {
                Some(batch) => Some(ack(&shared, batch).await),
                None => None,
            }
        };
        let receive = shared.wire.receive(
            &shared.queue,
            receiving.max,
            receiving.wait,
            &receiving.name,
        );
        let (received, acked) = tokio::join!(receive, acking);
        let received_at = shared.now();
        if let Some(acked) = acked {
            match acked {
                Ok(done) => done.book(&mut stats),
                Err(e) => {
                    shared.fail(e);
                    return stats;
                }
            }
        }
        let messages = match received {
            Ok(messages) => messages,
            Err(e) => {
                shared.fail(shared.client_error("receive", e));
                return stats;
            }
        };
        if !messages.is_empty() {
            let measured = on_delivery(&shared, &mut stats, &messages, received_at);
            unacked = Some(Unacked {
                receipts: messages.into_iter().map(|m| m.receipt).collect(),
                measured,
            });
        }
    }
    if let Some(batch) = unacked {
        match ack(&shared, batch).await {
            Ok(done) => done.book(&mut stats),
            Err(e) => shared.fail(e),
        }
    }
    stats
}

/// A received batch waiting for its ack.
struct Unacked {
    receipts: Vec<String>,
    /// The receipts of the measured deliveries among them.
    measured: HashSet<String>,
}

/// What one ack call achieved.
struct Acked {
    failures: u64,
    measured_acked: u64,
    acked_at: Duration,
}

impl Acked {
    fn book(self, stats: &mut ConsumerStats) {
        stats.ack_failures += self.failures;
        if self.measured_acked > 0 {
            stats.measured_acked += self.measured_acked;
            stats.last_acked_at = self.acked_at;
        }
    }
}

/// Books a received batch; returns the receipts of the measured deliveries among it.
fn on_delivery(
    shared: &Shared,
    stats: &mut ConsumerStats,
    messages: &[Delivery],
    received_at: Duration,
) -> HashSet<String> {
    let headers: Vec<Option<Header>> = messages
        .iter()
        .map(|m| {
            let body = m.body.as_deref()?;
            let header = Header::decode(body).ok()?;
            (body.len() == shared.size_bytes).then_some(header)
        })
        .collect();
    let mut measured = HashSet::new();
    let mut first = 0;
    let mut ledger = shared.ledger();
    for (message, header) in messages.iter().zip(headers) {
        let Some(header) = header else {
            stats.malformed += 1;
            continue;
        };
        let arrival = ledger.receive(header.producer, header.seq);
        match arrival {
            Arrival::Unknown => {
                stats.malformed += 1;
                continue;
            }
            Arrival::First => first += 1,
            Arrival::Again => {}
        }
        if !shared.is_measured(header.sent_at) {
            continue;
        }
        measured.insert(message.receipt.clone());
        if arrival == Arrival::First {
            record_latency(
                &mut stats.end_to_end,
                received_at.saturating_sub(header.sent_at),
            );
            stats.measured_received += 1;
            stats.last_received_at = received_at;
        }
    }
    drop(ledger);
    Counters::add(&shared.counters.received, first);
    measured
}

/// Acks a whole batch in one call.
async fn ack(shared: &Shared, batch: Unacked) -> Result<Acked, BenchError> {
    let reply = shared
        .wire
        .ack(&shared.queue, batch.receipts)
        .await
        .map_err(|e| shared.client_error("ack", e))?;
    let acked_at = shared.now();
    let failed: HashSet<&str> = reply.failed.iter().map(String::as_str).collect();
    let measured_acked = batch
        .measured
        .iter()
        .filter(|r| !failed.contains(r.as_str()))
        .count() as u64;
    Counters::add(&shared.counters.acked, reply.ok);
    Ok(Acked {
        failures: reply.failed.len() as u64,
        measured_acked,
        acked_at,
    })
}

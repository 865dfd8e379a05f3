//! A worker: receives up to `--batch` messages, books each delivery in the ledger, and settles
//! the whole batch in one call: a complete whose results are the bodies themselves (with the
//! time the call started as an attribute, for the follower), or with `--plain` an ack.

use super::Keys;
use super::options::{Settings, defaults};
use super::report::ResequenceMode;
use crate::error::BenchError;
use crate::header::Header;
use crate::ledger::Arrival;
use crate::shared::{Counters, Shared, record_latency};
use ferry_client::api::{CompletionEntry, ReceiveRequest, ReceivedMessage};
use hdrhistogram::Histogram;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// The attribute of a completion (a header of its result record) that carries when the
/// complete call started, in nanoseconds since the run's origin.
pub(crate) const COMPLETING_AT_ATTRIBUTE: &str = "ferry-bench-completing-at-ns";

/// What one worker measured.
#[derive(Debug)]
pub(crate) struct WorkerStats {
    /// Per complete (or ack) call, from its start to its reply, microseconds.
    pub(crate) call: Histogram<u64>,
    /// Per message settled, from its send to the reply of the call that settled it.
    pub(crate) settled: Histogram<u64>,
    /// Messages the broker accepted as completed (or acked).
    pub(crate) settled_messages: u64,
    /// When the last call that settled something was answered, since the origin.
    pub(crate) last_settled_at: Duration,
    /// Deliveries this run did not send (bad body, or a group that is not their key).
    pub(crate) malformed: u64,
    /// Receipts the broker refused to complete (or ack).
    pub(crate) settle_failures: u64,
}

/// A received message, waiting to be settled.
struct Delivered {
    receipt: String,
    /// The body as it came (text or base64): the result echoes it unchanged.
    body: Option<String>,
    body_base64: Option<String>,
    /// When it was sent, if it is one of this run's messages.
    sent_at: Option<Duration>,
}

/// Runs worker `id` until the run stops it. A failed call stops the whole run (through
/// [`Shared::fail`]); the statistics so far are returned either way.
pub(crate) async fn work(
    shared: Arc<Shared>,
    id: u32,
    settings: Settings,
    histogram: Histogram<u64>,
) -> WorkerStats {
    let mut stats = WorkerStats {
        call: histogram.clone(),
        settled: histogram,
        settled_messages: 0,
        last_settled_at: Duration::ZERO,
        malformed: 0,
        settle_failures: 0,
    };
    let request = ReceiveRequest {
        max: Some(settings.batch),
        wait_ms: Some(defaults::WAIT_MS),
        consumer: Some(format!("ferry-bench-worker-{id}")),
        ..ReceiveRequest::default()
    };
    let mut stop = shared.stop_receiving.subscribe();
    loop {
        if *stop.borrow_and_update() {
            break;
        }
        // Stopping cancels a long poll, never a complete: its results are in flight.
        let received = tokio::select! {
            _ = stop.changed() => break,
            received = shared.client.receive(&shared.queue, &request) => received,
        };
        let messages = match received {
            Ok(messages) => messages,
            Err(e) => {
                shared.fail(shared.client_error("receive", e));
                break;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let batch = on_delivery(&shared, &mut stats, messages);
        if let Err(e) = settle(&shared, settings.mode, &mut stats, batch).await {
            shared.fail(e);
            break;
        }
    }
    stats
}

/// Books a received batch in the ledger.
fn on_delivery(
    shared: &Shared,
    stats: &mut WorkerStats,
    messages: Vec<ReceivedMessage>,
) -> Vec<Delivered> {
    let headers: Vec<Option<Header>> = messages
        .iter()
        .map(|m| {
            let body = m.decode_body().ok()?;
            let header = Header::decode(&body.bytes).ok()?;
            let group = m.group.as_deref().and_then(Keys::index_of);
            (body.bytes.len() == shared.size_bytes && group == Some(header.producer))
                .then_some(header)
        })
        .collect();
    let mut first = 0;
    let mut ledger = shared.ledger();
    let batch = messages
        .into_iter()
        .zip(headers)
        .map(|(m, header)| {
            let arrival = header.map_or(Arrival::Unknown, |h| ledger.receive(h.producer, h.seq));
            match arrival {
                Arrival::First => first += 1,
                Arrival::Again => {}
                Arrival::Unknown => stats.malformed += 1,
            }
            Delivered {
                receipt: m.receipt,
                body: m.body,
                body_base64: m.body_base64,
                sent_at: header
                    .filter(|_| arrival != Arrival::Unknown)
                    .map(|h| h.sent_at),
            }
        })
        .collect();
    drop(ledger);
    Counters::add(&shared.counters.received, first);
    batch
}

/// Completes (or acks) a whole batch in one call.
async fn settle(
    shared: &Shared,
    mode: ResequenceMode,
    stats: &mut WorkerStats,
    batch: Vec<Delivered>,
) -> Result<(), BenchError> {
    let receipts: Vec<String> = batch.iter().map(|d| d.receipt.clone()).collect();
    let sent_at: Vec<Option<Duration>> = batch.iter().map(|d| d.sent_at).collect();
    let started_at = shared.now();
    let reply = match mode {
        ResequenceMode::Resequence => {
            let nanos = u64::try_from(started_at.as_nanos()).unwrap_or(u64::MAX);
            let attributes =
                BTreeMap::from([(COMPLETING_AT_ATTRIBUTE.to_owned(), nanos.to_string())]);
            let completions = batch
                .into_iter()
                .map(|d| CompletionEntry {
                    receipt: d.receipt,
                    body: d.body,
                    body_base64: d.body_base64,
                    attributes: attributes.clone(),
                })
                .collect();
            let reply = shared.client.complete(&shared.queue, completions).await;
            reply.map_err(|e| shared.client_error("complete", e))?
        }
        ResequenceMode::Plain => {
            let reply = shared.client.ack(&shared.queue, receipts.clone()).await;
            reply.map_err(|e| shared.client_error("ack", e))?
        }
    };
    let replied_at = shared.now();
    record_latency(&mut stats.call, replied_at.saturating_sub(started_at));
    let failed: HashSet<&str> = reply.failed.iter().map(|f| f.receipt.as_str()).collect();
    for (receipt, sent_at) in receipts.iter().zip(sent_at) {
        if let (false, Some(sent_at)) = (failed.contains(receipt.as_str()), sent_at) {
            record_latency(&mut stats.settled, replied_at.saturating_sub(sent_at));
        }
    }
    let ok = u64::from(reply.ok);
    if ok > 0 {
        stats.settled_messages += ok;
        stats.last_settled_at = replied_at;
    }
    stats.settle_failures += reply.failed.len() as u64;
    Counters::add(&shared.counters.acked, ok);
    Ok(())
}

//! The producer: sends every message, one request at a time, so that each key's messages
//! arrive at the broker in the order they are numbered; books each acknowledged message in
//! the ledger and keeps the id the broker gave it, for the check of `ferry-source-id`.

use super::Keys;
use crate::error::BenchError;
use crate::header::Header;
use crate::producer::Slots;
use crate::schedule::{Schedule, Slot};
use crate::shared::{Counters, Shared, record_latency};
use ferry_client::api::{MessageId, SendEntry};
use hdrhistogram::Histogram;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

/// What the producer did.
#[derive(Debug)]
pub(crate) struct Produced {
    /// The id the broker gave each message, by message number: message `n` is `ids[n]`, and
    /// every message below `ids.len()` was acknowledged.
    pub(crate) ids: Vec<MessageId>,
    /// Messages the broker acknowledged.
    pub(crate) acknowledged: u64,
    /// Per send request, from its start (at a fixed rate: its scheduled time) to the durable
    /// reply, microseconds.
    pub(crate) latency: Histogram<u64>,
    /// When the first send started (or was due), since the origin.
    pub(crate) first_sent_at: Option<Duration>,
    /// When the last reply came, since the origin.
    pub(crate) last_reply_at: Duration,
}

/// Sends the batches `slots` hands out (numbered as `schedule` numbers them) until they run out
/// or the run is stopped. A failed send stops the whole run (through [`Shared::fail`]); what
/// was acknowledged so far is returned either way.
pub(crate) async fn produce(
    shared: Arc<Shared>,
    mut slots: Slots,
    schedule: Schedule,
    keys: Keys,
    histogram: Histogram<u64>,
) -> Produced {
    let mut produced = Produced {
        ids: Vec::new(),
        acknowledged: 0,
        latency: histogram,
        first_sent_at: None,
        last_reply_at: Duration::ZERO,
    };
    let mut stop = shared.stop_sending.subscribe();
    for k in 0u64.. {
        if *stop.borrow_and_update() {
            break;
        }
        let slot: Slot = match &mut slots {
            Slots::Unpaced { schedule, .. } => match schedule.slot(k) {
                Some(slot) => slot,
                None => break,
            },
            Slots::Paced(rx) => tokio::select! {
                _ = stop.changed() => break,
                slot = rx.recv() => match slot {
                    Some(slot) => slot,
                    None => break,
                },
            },
        };
        let Some(first) = schedule.first_message(k) else {
            break;
        };
        let numbers = first..first.saturating_add(slot.messages);
        if let Err(e) = send(&shared, keys, numbers, slot.due, &mut produced).await {
            shared.fail(e);
            break;
        }
    }
    produced
}

/// Sends messages `numbers` in one request, stamped with `due` (or now), and books the reply.
async fn send(
    shared: &Shared,
    keys: Keys,
    numbers: Range<u64>,
    due: Option<Duration>,
    produced: &mut Produced,
) -> Result<(), BenchError> {
    debug_assert_eq!(
        usize::try_from(numbers.start).ok(),
        Some(produced.ids.len()),
        "batches go out in order, one at a time"
    );
    let sent_at = due.unwrap_or_else(|| shared.now());
    let entries: Vec<SendEntry> = numbers
        .clone()
        .map(|number| {
            let (key, seq) = keys.place(number);
            let header = Header {
                producer: key,
                seq,
                sent_at,
            };
            SendEntry {
                group: Some(Keys::name(key)),
                ..SendEntry::binary(&header.encode(shared.size_bytes))
            }
        })
        .collect();
    // A worker may receive a message before its send's reply is booked.
    issue(shared, keys, numbers.clone());
    let reply = shared
        .client
        .send(&shared.queue, entries)
        .await
        .map_err(|e| shared.client_error("send", e))?;
    let replied_at = shared.now();
    let count = numbers.end - numbers.start;
    if u64::try_from(reply.len()).ok() != Some(count) {
        return Err(BenchError::Internal(format!(
            "{} entries in the reply to a batch of {count}",
            reply.len()
        )));
    }
    let mut ledger = shared.ledger();
    for (number, sent) in numbers.zip(&reply) {
        let (key, seq) = keys.place(number);
        ledger.acknowledge(key, seq..seq + 1);
        produced.ids.push(sent.id);
    }
    drop(ledger);
    Counters::add(&shared.counters.sent, count);
    record_latency(&mut produced.latency, replied_at.saturating_sub(sent_at));
    produced.acknowledged += count;
    produced.first_sent_at.get_or_insert(sent_at);
    produced.last_reply_at = replied_at;
    Ok(())
}

/// Enters messages `numbers` in the ledger as about to be sent.
fn issue(shared: &Shared, keys: Keys, numbers: Range<u64>) {
    let mut ledger = shared.ledger();
    for number in numbers {
        let (key, seq) = keys.place(number);
        ledger.issue(key, seq + 1);
    }
}

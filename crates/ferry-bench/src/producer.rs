//! A producer task: sends its share of the batches, up to `--inflight` requests at once, and
//! records each request's publish latency.
//!
//! At a fixed rate a pacing thread hands out the slots on time. It is an OS thread, not a Tokio
//! timer, because Tokio's timer rounds every wake-up up to the next millisecond, which at
//! 1,000 msgs/s would add up to a millisecond of lateness to every scheduled send.

use crate::error::BenchError;
use crate::header::Header;
use crate::schedule::{Schedule, Slot};
use crate::shared::{Counters, Shared, record_latency};
use hdrhistogram::Histogram;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};

/// Slots the pacing thread may queue ahead of a producer that has fallen behind.
const PACER_CHANNEL_SLOTS: usize = 1024;
/// Longest single sleep of the pacing thread, so that it notices a stopped producer.
const PACER_MAX_SLEEP: Duration = Duration::from_millis(50);

/// What one producer measured.
#[derive(Debug)]
pub(crate) struct ProducerStats {
    /// Publish latency of measured requests, microseconds.
    pub(crate) publish: Histogram<u64>,
    /// Messages in measured requests the broker acknowledged.
    pub(crate) measured_messages: u64,
    /// When the last measured reply came, since the origin.
    pub(crate) last_reply_at: Duration,
}

/// Where a producer's slots come from.
#[derive(Debug)]
pub(crate) enum Slots {
    /// As fast as possible: straight from the schedule, until `end` (since the origin) if set.
    Unpaced {
        /// This producer's schedule.
        schedule: Schedule,
        /// When a timed run stops sending.
        end: Option<Duration>,
    },
    /// At a fixed rate: from a pacing thread, each when due.
    Paced(mpsc::Receiver<Slot>),
}

/// The reply to one send request, with what it covered.
struct Sent {
    /// The sequence numbers it carried.
    seqs: Range<u64>,
    /// When it was sent or due, since the origin.
    stamped_at: Duration,
    /// When the reply came, since the origin.
    replied_at: Duration,
    /// The reply.
    /// How many the server took, or why not.
    result: Result<usize, ferry_client::Error>,
}

/// Starts the pacing thread of a producer that sends on `schedule`'s timetable.
///
/// # Errors
/// [`BenchError::Thread`] if the thread cannot be spawned.
pub(crate) fn start_pacer(schedule: Schedule, origin: Instant) -> Result<Slots, BenchError> {
    let (tx, rx) = mpsc::channel(PACER_CHANNEL_SLOTS);
    std::thread::Builder::new()
        .name(format!("ferry-bench-pacer-{}", schedule.producer))
        .spawn(move || pace(schedule, origin, &tx))
        .map_err(BenchError::Thread)?;
    Ok(Slots::Paced(rx))
}

/// The pacing thread: hands out every slot at its due time, until the schedule ends or the
/// producer drops its receiver.
fn pace(schedule: Schedule, origin: Instant, tx: &mpsc::Sender<Slot>) {
    for k in 0.. {
        let Some(slot) = schedule.slot(k) else { return };
        let due = origin + slot.due.unwrap_or_default();
        loop {
            let now = Instant::now();
            if now >= due {
                break;
            }
            if tx.is_closed() {
                return;
            }
            std::thread::sleep((due - now).min(PACER_MAX_SLEEP));
        }
        if tx.blocking_send(slot).is_err() {
            return;
        }
    }
}

/// Runs producer `id` until its slots run out or the run is stopped. A failed send stops the
/// whole run (through [`Shared::fail`]); the statistics so far are returned either way.
pub(crate) async fn produce(
    shared: Arc<Shared>,
    id: u32,
    mut slots: Slots,
    inflight: usize,
    histogram: Histogram<u64>,
) -> ProducerStats {
    let mut stats = ProducerStats {
        publish: histogram,
        measured_messages: 0,
        last_reply_at: Duration::ZERO,
    };
    let mut stop = shared.stop_sending.subscribe();
    let mut requests: JoinSet<Sent> = JoinSet::new();
    let mut next_seq = 0;
    let mut k = 0;
    loop {
        if *stop.borrow_and_update() {
            break;
        }
        while let Some(sent) = requests.try_join_next() {
            on_reply(&shared, id, &mut stats, sent);
        }
        let slot = match &mut slots {
            Slots::Unpaced { schedule, end } => {
                let on_time = end.is_none_or(|end| shared.now() < end);
                let Some(slot) = schedule.slot(k).filter(|_| on_time) else {
                    break;
                };
                k += 1;
                slot
            }
            // A due slot goes first; replies are booked while waiting for the next one.
            Slots::Paced(rx) => tokio::select! {
                biased;
                _ = stop.changed() => break,
                slot = rx.recv() => match slot {
                    Some(slot) => slot,
                    None => break,
                },
                Some(sent) = requests.join_next(), if !requests.is_empty() => {
                    on_reply(&shared, id, &mut stats, sent);
                    continue;
                }
            },
        };
        while requests.len() >= inflight {
            let Some(sent) = requests.join_next().await else {
                break;
            };
            on_reply(&shared, id, &mut stats, sent);
        }
        let stamped_at = slot.due.unwrap_or_else(|| shared.now());
        let seqs = next_seq..next_seq + slot.messages;
        next_seq = seqs.end;
        requests.spawn(send(Arc::clone(&shared), id, seqs, stamped_at));
    }
    drop(slots);
    while let Some(sent) = requests.join_next().await {
        on_reply(&shared, id, &mut stats, sent);
    }
    stats
}

/// Sends one batch carrying `seqs`, stamped with `stamped_at`.
async fn send(shared: Arc<Shared>, id: u32, seqs: Range<u64>, stamped_at: Duration) -> Sent {
    let bodies: Vec<Vec<u8>> = seqs
        .clone()
        .map(|seq| {
            Header {
                producer: id,
                seq,
                sent_at: stamped_at,
            }
            .encode(shared.size_bytes)
        })
        .collect();
    shared.ledger().issue(id, seqs.end);
    let result = shared.wire.send(&shared.queue, bodies).await;
    Sent {
        seqs,
        stamped_at,
        replied_at: shared.now(),
        result,
    }
}

/// Books one reply: acknowledged messages into the ledger, latency into the histogram.
fn on_reply(shared: &Shared, id: u32, stats: &mut ProducerStats, sent: Result<Sent, JoinError>) {
    let sent = match sent {
        Ok(sent) => sent,
        Err(e) => {
            return shared.fail(BenchError::Internal(format!(
                "producer {id}: send task: {e}"
            )));
        }
    };
    let taken = match sent.result {
        Ok(taken) => taken,
        Err(e) => return shared.fail(shared.client_error("send", e)),
    };
    let count = sent.seqs.end - sent.seqs.start;
    if u64::try_from(taken).ok() != Some(count) {
        let reason = format!("{taken} entries in the reply to a batch of {count}");
        return shared.fail(BenchError::Internal(format!("producer {id}: {reason}")));
    }
    shared.ledger().acknowledge(id, sent.seqs);
    Counters::add(&shared.counters.sent, count);
    if shared.is_measured(sent.stamped_at) {
        record_latency(
            &mut stats.publish,
            sent.replied_at.saturating_sub(sent.stamped_at),
        );
        stats.measured_messages += count;
        stats.last_reply_at = stats.last_reply_at.max(sent.replied_at);
    }
}

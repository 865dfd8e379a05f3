//! The work-queue workloads (W1–W3), written once against [`QueueSystem`].
//!
//! Producers publish numbered, timestamped bodies in calls of `batch` messages, with at most
//! `inflight` messages published and not yet confirmed each; a call returns only once the
//! system has confirmed every message in it under its durability setting. Consumers receive,
//! check every body off the [`Ledger`] and record its end-to-end latency, *then* ack each
//! message by its own id (no cumulative acks). The run ends when every message has been
//! received once, or the drain timeout runs out (the rest are lost).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::task::{JoinHandle, JoinSet};

use crate::clock;
use crate::error::{CompareError, Result};
use crate::ledger::{Ledger, Seen, Verification};
use crate::payload::{self, Header};
use crate::stats::{self, Latency};

/// An ack sent in the background while a consumer's next receive is under way.
#[derive(Debug, Default)]
pub(crate) struct PendingAck(Option<JoinHandle<Result<()>>>);

impl PendingAck {
    /// Waits for the ack under way, if any: its error, or the task's.
    pub(crate) async fn settle(&mut self) -> Result<()> {
        if let Some(handle) = self.0.take() {
            handle
                .await
                .map_err(|e| CompareError::Run(format!("ack task: {e}")))??;
        }
        Ok(())
    }

    /// Waits for the ack under way, then starts `ack` in its place.
    pub(crate) async fn start(
        &mut self,
        ack: impl Future<Output = Result<()>> + Send + 'static,
    ) -> Result<()> {
        self.settle().await?;
        self.0 = Some(tokio::spawn(ack));
        Ok(())
    }
}

/// One system's handle for a queue workload: creates the queue and connects clients.
pub trait QueueSystem: Send + Sync + 'static {
    /// A producer's connection.
    type Publisher: Publisher;
    /// A consumer's connection.
    type Consumer: Consumer;

    /// Creates the (durable) queue `queue`, empty.
    fn create(&self, queue: &str) -> impl Future<Output = Result<()>> + Send;
    /// Connects a producer to `queue`.
    fn publisher(&self, queue: &str) -> impl Future<Output = Result<Self::Publisher>> + Send;
    /// Connects a consumer to `queue` that takes up to `prefetch` messages at a time.
    fn consumer(
        &self,
        queue: &str,
        prefetch: u32,
    ) -> impl Future<Output = Result<Self::Consumer>> + Send;
    /// Removes `queue` where the system allows it (best effort).
    fn delete(&self, queue: &str) -> impl Future<Output = Result<()>> + Send;
}

/// A producer connection; clones share it, so several calls can be in flight.
pub trait Publisher: Clone + Send + Sync + 'static {
    /// Publishes `bodies` and returns once the system has confirmed all of them.
    fn publish(&self, bodies: Vec<Vec<u8>>) -> impl Future<Output = Result<()>> + Send;
}

/// A consumer connection.
pub trait Consumer: Send + 'static {
    /// What acks a received batch, one id per message.
    type Acks: Send + 'static;

    /// Receives up to the prefetch count, waiting at most `wait` for the first message;
    /// empty when none came.
    fn receive(
        &mut self,
        wait: Duration,
    ) -> impl Future<Output = Result<(Vec<Vec<u8>>, Self::Acks)>> + Send;
    /// Acks a received batch, message by message; it may still be completing on return.
    fn ack(&mut self, acks: Self::Acks) -> impl Future<Output = Result<()>> + Send;
    /// Waits for every ack still completing.
    fn finish(&mut self) -> impl Future<Output = Result<()>> + Send;
}

/// The shape of a queue run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSpec {
    /// Producers (each its own connection).
    pub producers: u16,
    /// Consumers (each its own connection).
    pub consumers: u16,
    /// Messages in all, split evenly across producers.
    pub messages: u64,
    /// Body bytes.
    pub size: usize,
    /// Messages per publish call.
    pub batch: usize,
    /// Most messages published and not yet confirmed, per producer.
    pub inflight: usize,
    /// Messages a consumer takes at a time (AMQP prefetch, receive `max`, `COUNT`, pull batch).
    pub prefetch: u32,
    /// A fixed rate in msgs/s across producers, one message per publish; 0: as fast as possible.
    pub rate: u64,
    /// How long to wait for the last messages after the last publish.
    pub drain_timeout_ms: u64,
}

/// What a queue run measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueOutcome {
    /// Confirmed publishes per second (first publish to last confirm).
    pub published_per_s: f64,
    /// Messages received for the first time per second (first publish to last first receipt):
    /// the end-to-end throughput.
    pub received_per_s: f64,
    /// Wall time of the run, seconds.
    pub elapsed_s: f64,
    /// End-to-end latency per message: send time (or due time) to receipt.
    pub e2e: Latency,
    /// Lost, duplicated, foreign.
    pub verification: Verification,
}

/// What the consumers have seen so far.
struct Tally {
    ledger: Ledger,
    /// End-to-end latency of first deliveries, µs.
    e2e: Histogram<u64>,
    /// When the last message was received for the first time.
    last_first: Option<Instant>,
}

/// State shared by the consumers.
struct Shared {
    tally: Mutex<Tally>,
    done: AtomicBool,
}

/// Runs one queue workload against `system` on a fresh queue named `queue`.
///
/// # Errors
/// A failed create, connect, publish, receive or ack ends the run.
pub async fn run_queue<S: QueueSystem>(
    system: &S,
    queue: &str,
    spec: &QueueSpec,
) -> Result<QueueOutcome> {
    if spec.producers == 0 || spec.consumers == 0 || spec.batch == 0 || spec.inflight == 0 {
        return Err(CompareError::Run(
            "producers, consumers, batch and inflight must be positive".into(),
        ));
    }
    system.create(queue).await?;
    let per_producer = split(spec.messages, spec.producers);
    let shared = Arc::new(Shared {
        tally: Mutex::new(Tally {
            ledger: Ledger::new(&per_producer),
            e2e: stats::histogram()?,
            last_first: None,
        }),
        done: AtomicBool::new(false),
    });
    let mut consumers = JoinSet::new();
    for _ in 0..spec.consumers {
        let consumer = system.consumer(queue, spec.prefetch).await?;
        consumers.spawn(consume(consumer, Arc::clone(&shared)));
    }
    let mut publishers = Vec::new();
    for _ in 0..spec.producers {
        publishers.push(system.publisher(queue).await?);
    }
    let start = Instant::now();
    let mut producers = JoinSet::new();
    for (id, (publisher, count)) in publishers.into_iter().zip(per_producer).enumerate() {
        let id = u16::try_from(id).map_err(|_| CompareError::Run("too many producers".into()))?;
        producers.spawn(produce(publisher, id, count, spec.clone(), start));
    }
    let mut last_confirm = start;
    while let Some(joined) = producers.join_next().await {
        let ended = joined.map_err(|e| CompareError::Run(format!("producer: {e}")))??;
        last_confirm = last_confirm.max(ended);
    }
    let deadline = Instant::now() + Duration::from_millis(spec.drain_timeout_ms);
    loop {
        let complete = {
            let tally = lock(&shared)?;
            tally.ledger.unique() == tally.ledger.expected()
        };
        if complete || Instant::now() >= deadline || consumers.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shared.done.store(true, Ordering::Release);
    while let Some(joined) = consumers.join_next().await {
        joined.map_err(|e| CompareError::Run(format!("consumer: {e}")))??;
    }
    let elapsed = start.elapsed();
    let outcome = {
        let tally = lock(&shared)?;
        let verification = tally.ledger.verify();
        let delivered = verification.sent - verification.lost;
        let per_s = |n: u64, until: Instant| {
            let secs = until.saturating_duration_since(start).as_secs_f64();
            if secs > 0.0 { n as f64 / secs } else { 0.0 }
        };
        QueueOutcome {
            published_per_s: per_s(verification.sent, last_confirm),
            received_per_s: per_s(delivered, tally.last_first.unwrap_or(start)),
            elapsed_s: elapsed.as_secs_f64(),
            e2e: Latency::of(&tally.e2e),
            verification,
        }
    };
    if let Err(error) = system.delete(queue).await {
        eprintln!("warning: could not delete {queue}: {error}");
    }
    Ok(outcome)
}

fn lock(shared: &Shared) -> Result<std::sync::MutexGuard<'_, Tally>> {
    shared
        .tally
        .lock()
        .map_err(|_| CompareError::Run("a consumer panicked".into()))
}

/// `total` split across `parts` as evenly as possible.
pub fn split(total: u64, parts: u16) -> Vec<u64> {
    let parts64 = u64::from(parts.max(1));
    (0..parts64)
        .map(|i| total / parts64 + u64::from(i < total % parts64))
        .collect()
}

/// One producer: returns when its last publish was confirmed.
async fn produce<P: Publisher>(
    publisher: P,
    id: u16,
    count: u64,
    spec: QueueSpec,
    start: Instant,
) -> Result<Instant> {
    let paced = spec.rate > 0;
    let batch = if paced { 1 } else { spec.batch };
    let calls_in_flight = (spec.inflight / batch).max(1);
    // On a timetable, producer `id` of `n` sends global messages id, id + n, …
    let interval_ns = if paced {
        1_000_000_000 / spec.rate.max(1)
    } else {
        0
    };
    let start_ns = clock::to_ns(start.saturating_duration_since(clock::origin()));
    let mut calls = JoinSet::new();
    let mut seq = 0u64;
    while seq < count {
        while calls.len() >= calls_in_flight {
            join_one(&mut calls).await?;
        }
        let n = (count - seq).min(batch as u64);
        let sent_ns = if paced {
            let global = seq * u64::from(spec.producers) + u64::from(id);
            let due_ns = start_ns + global * interval_ns;
            tokio::time::sleep_until(clock::at_ns(due_ns).into()).await;
            due_ns
        } else {
            clock::now_ns()
        };
        let bodies = (seq..seq + n)
            .map(|s| {
                let header = Header {
                    producer: id,
                    seq: s,
                    sent_ns,
                };
                payload::encode(header, spec.size)
            })
            .collect();
        let publisher = publisher.clone();
        calls.spawn(async move { publisher.publish(bodies).await });
        seq += n;
    }
    while !calls.is_empty() {
        join_one(&mut calls).await?;
    }
    Ok(Instant::now())
}

async fn join_one(calls: &mut JoinSet<Result<()>>) -> Result<()> {
    match calls.join_next().await {
        Some(joined) => joined.map_err(|e| CompareError::Run(format!("publish task: {e}")))?,
        None => Ok(()),
    }
}

/// One consumer: receives until the run is over.
async fn consume<C: Consumer>(mut consumer: C, shared: Arc<Shared>) -> Result<()> {
    while !shared.done.load(Ordering::Acquire) {
        let (bodies, acks) = consumer.receive(Duration::from_millis(200)).await?;
        if bodies.is_empty() {
            continue;
        }
        let now_ns = clock::now_ns();
        {
            let mut tally = lock(&shared)?;
            let mut firsts = 0;
            for body in &bodies {
                let header = payload::decode(body);
                if tally.ledger.record(header) == Seen::First {
                    firsts += 1;
                    if let Some(h) = header {
                        stats::record_ns(&mut tally.e2e, now_ns.saturating_sub(h.sent_ns));
                    }
                }
            }
            if firsts > 0 {
                tally.last_first = Some(Instant::now());
            }
        }
        consumer.ack(acks).await?;
    }
    consumer.finish().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_evenly() {
        assert_eq!(split(10, 4), vec![3, 3, 2, 2]);
        assert_eq!(split(100_000, 1), vec![100_000]);
        assert_eq!(split(3, 0), vec![3]);
    }
}

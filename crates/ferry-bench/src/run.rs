//! [`run_queue`]: creates the queue, runs the producers and consumers, drains, verifies, reports
//! and deletes the queue.

use crate::consumer::{ConsumerStats, Receiving, consume};
use crate::error::BenchError;
use crate::header::HEADER_BYTES;
use crate::options::{QueueBench, defaults};
use crate::producer::{ProducerStats, Slots, produce, start_pacer};
use crate::progress::{Display, Progress};
use crate::report::{LatencySummary, QueueReport, Workload, per_second};
use crate::schedule::{Plan, Schedule};
use crate::shared::{Shared, latency_histogram, random_name};
use crate::wire::{Protocol, SQS_MAX_BATCH, Wire};
use ferry_client::Client;
use ferry_client::api::QueueConfig;
use hdrhistogram::Histogram;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Largest body the broker accepts (its ceiling on a queue's `max_message_bytes`).
const MAX_SIZE_BYTES: u32 = 16 * 1024 * 1024;
/// How often the drain phase checks whether everything has arrived.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// The options, checked and in the types the run uses.
#[derive(Clone, Copy, Debug)]
struct Settings {
    size_bytes: usize,
    batch: NonZeroU64,
    producers: NonZeroU64,
    consumers: u32,
    plan: Plan,
    rate_per_s: Option<NonZeroU64>,
    inflight: u32,
    warmup: Duration,
    drain_timeout: Duration,
}

impl Settings {
    fn check(o: &QueueBench) -> Result<Settings, BenchError> {
        let refuse = |option, reason: String| BenchError::InvalidOption { option, reason };
        if o.size < HEADER_BYTES as u32 || o.size > MAX_SIZE_BYTES {
            return Err(refuse(
                "size",
                format!(
                    "{} is outside {HEADER_BYTES}..={MAX_SIZE_BYTES} bytes",
                    o.size
                ),
            ));
        }
        let positive = |option, n: u64| {
            NonZeroU64::new(n).ok_or_else(|| refuse(option, "must be at least 1".into()))
        };
        let batch = positive("batch", u64::from(o.batch))?;
        if o.protocol == Protocol::Sqs && o.batch > SQS_MAX_BATCH {
            return Err(refuse(
                "batch",
                format!("SQS batches hold at most {SQS_MAX_BATCH} messages"),
            ));
        }
        let producers = positive("producers", u64::from(o.producers))?;
        positive("consumers", u64::from(o.consumers))?;
        let default_inflight = if o.rate == 0 {
            defaults::INFLIGHT
        } else {
            defaults::INFLIGHT_PACED
        };
        let inflight = positive(
            "inflight",
            u64::from(o.inflight.unwrap_or(default_inflight)),
        )?;
        let warmup = Duration::from_secs(o.warmup_s);
        let plan = match o.duration_s {
            Some(0) => return Err(refuse("duration-s", "must be at least 1".into())),
            Some(s) => Plan::Until {
                end: warmup + Duration::from_secs(s),
            },
            None => Plan::Count {
                messages: positive("messages", o.messages)?.get(),
            },
        };
        Ok(Settings {
            size_bytes: usize::try_from(o.size).map_err(|e| refuse("size", e.to_string()))?,
            batch,
            producers,
            consumers: o.consumers,
            plan,
            rate_per_s: NonZeroU64::new(o.rate),
            inflight: u32::try_from(inflight.get()).unwrap_or(u32::MAX),
            warmup,
            drain_timeout: Duration::from_secs(o.drain_timeout_s),
        })
    }
}

/// Runs `ferry bench queue` against the server at `options.url` and returns the report.
///
/// Creates the queue (a fresh `bench-<random>` unless `--queue` is given, which must not exist),
/// starts the consumers and producers, stops sending when the count or duration is reached (or
/// on Ctrl-C), waits up to the drain timeout for every acknowledged message to be received,
/// then deletes the queue unless `--keep`. The progress line goes to stderr; the report is
/// returned, not printed (see [`QueueReport::print_table`] and [`QueueReport::print_json`]).
/// Lost or duplicated messages are reported, not returned as errors: see
/// [`QueueReport::is_clean`].
///
/// # Errors
/// [`BenchError::InvalidOption`] before anything is sent; [`BenchError::Url`] for a bad URL;
/// [`BenchError::QueueExists`] if `--queue` names an existing queue; [`BenchError::Client`] at
/// the first failed call to the server (the run stops there, and the queue is still deleted).
pub async fn run_queue(options: &QueueBench) -> Result<QueueReport, BenchError> {
    let settings = Settings::check(options)?;
    let client = Client::new(&options.url).map_err(BenchError::Url)?;
    let queue = options.queue.clone().unwrap_or_else(random_name);
    create_queue(&client, &queue, options).await?;
    let mut outcome = match Wire::open(options.protocol, &client, &options.url, &queue).await {
        Ok(wire) => drive(client.clone(), wire, queue.clone(), options, settings).await,
        Err(source) => Err(BenchError::Client {
            action: "look up the SQS URL of",
            queue: queue.clone(),
            source,
        }),
    };
    if let Ok(report) = &mut outcome {
        account_still_queued(&client, &queue, report).await;
    }
    let deleted = !options.keep && delete_queue(&client, &queue).await;
    let mut report = outcome?;
    report.queue_deleted = deleted;
    Ok(report)
}

/// When the drain timed out, tells messages that are still waiting in the queue (slow
/// consumers, not loss) from messages that are gone: only the latter are lost.
async fn account_still_queued(client: &Client, queue: &str, report: &mut QueueReport) {
    if !report.drain_timed_out || report.lost == 0 {
        return;
    }
    // This run's queue holds only this run's messages; the never-delivered ones are visible or
    // delayed (in-flight ones were received already).
    if let Ok(info) = client.queue_info(queue).await {
        let waiting = info.stats.visible + info.stats.delayed;
        report.still_queued = waiting.min(report.lost);
        report.lost -= report.still_queued;
    }
}

async fn create_queue(
    client: &Client,
    queue: &str,
    options: &QueueBench,
) -> Result<(), BenchError> {
    let client_error = |action, source| BenchError::Client {
        action,
        queue: queue.to_owned(),
        source,
    };
    let exists = || BenchError::QueueExists {
        queue: queue.to_owned(),
    };
    match client.queue_info(queue).await {
        Ok(_) => return Err(exists()),
        Err(e) if e.code() == "queue_not_found" => {}
        Err(e) => return Err(client_error("look up", e)),
    }
    // Over SQS a body travels as base64, a third larger.
    let wire_bytes = match options.protocol {
        Protocol::Native => options.size,
        Protocol::Sqs => options.size.div_ceil(3).saturating_mul(4),
    };
    let defaults = QueueConfig::default();
    let config = QueueConfig {
        max_message_bytes: defaults.max_message_bytes.max(wire_bytes),
        ..defaults
    };
    let outcome = client
        .put_queue(queue, &config)
        .await
        .map_err(|e| client_error("create", e))?;
    if outcome.created {
        Ok(())
    } else {
        Err(exists())
    }
}

/// Deletes the queue; a failure is only worth a warning, since the report is still valid.
async fn delete_queue(client: &Client, queue: &str) -> bool {
    match client.delete_queue(queue).await {
        Ok(()) => true,
        Err(e) => {
            eprintln!("warning: could not delete bench queue {queue:?}: {e}");
            false
        }
    }
}

/// How the wait for outstanding messages ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DrainEnd {
    /// Every acknowledged message arrived.
    Drained,
    /// The drain timeout ran out first.
    TimedOut,
    /// Ctrl-C, or a task failed.
    Stopped,
}

async fn drive(
    client: Client,
    wire: Wire,
    queue: String,
    options: &QueueBench,
    settings: Settings,
) -> Result<QueueReport, BenchError> {
    let histogram = latency_histogram()?;
    let producers = usize::try_from(settings.producers.get()).unwrap_or(usize::MAX);
    let shared = Arc::new(Shared::new(
        client,
        wire,
        queue,
        producers,
        settings.size_bytes,
        settings.warmup,
    ));
    let total = match settings.plan {
        Plan::Count { messages } => Some(messages),
        Plan::Until { .. } => None,
    };
    let progress = Progress::start(Arc::clone(&shared), total, Display::for_options(options));
    let consumers = spawn_consumers(&shared, options, settings.consumers, &histogram);
    let producers = spawn_producers(&shared, settings, &histogram);

    let ctrl_c = interrupt();
    tokio::pin!(ctrl_c);
    let all_producers = join_all(producers);
    tokio::pin!(all_producers);
    let mut interrupted = false;
    let producer_stats = tokio::select! {
        stats = &mut all_producers => stats,
        () = &mut ctrl_c => {
            interrupted = true;
            shared.stop_sending.send_replace(true);
            all_producers.await
        }
    };
    // A fresh future: the first may have fired already, and a (second) Ctrl-C ends the drain.
    let drain_end = tokio::select! {
        end = drain(&shared, settings.drain_timeout) => end,
        () = interrupt() => {
            interrupted = true;
            DrainEnd::Stopped
        }
    };
    shared.stop_receiving.send_replace(true);
    let consumer_stats = join_all(consumers).await;
    let elapsed = shared.now();
    progress.finish();
    if let Some(failure) = shared.take_failure() {
        return Err(failure);
    }
    let outcome = Outcome {
        interrupted,
        drain_timed_out: drain_end == DrainEnd::TimedOut,
        elapsed,
    };
    build_report(
        &shared,
        options,
        settings,
        outcome,
        producer_stats?,
        consumer_stats?,
        histogram,
    )
}

fn spawn_consumers(
    shared: &Arc<Shared>,
    options: &QueueBench,
    consumers: u32,
    histogram: &Histogram<u64>,
) -> Vec<JoinHandle<ConsumerStats>> {
    (0..consumers)
        .map(|id| {
            let receiving = Receiving {
                max: options.batch,
                wait: Duration::from_millis(defaults::WAIT_MS),
                name: format!("ferry-bench-{id}"),
            };
            tokio::spawn(consume(Arc::clone(shared), receiving, histogram.clone()))
        })
        .collect()
}

fn spawn_producers(
    shared: &Arc<Shared>,
    settings: Settings,
    histogram: &Histogram<u64>,
) -> Vec<JoinHandle<ProducerStats>> {
    let mut handles = Vec::new();
    for producer in 0..settings.producers.get() {
        let schedule = Schedule {
            batch: settings.batch,
            producers: settings.producers,
            producer,
            plan: settings.plan,
            rate_per_s: settings.rate_per_s,
        };
        let slots = match (settings.rate_per_s, settings.plan) {
            (Some(_), _) => match start_pacer(schedule, shared.origin) {
                Ok(slots) => slots,
                Err(e) => {
                    shared.fail(e);
                    break;
                }
            },
            (None, Plan::Until { end }) => Slots::Unpaced {
                schedule,
                end: Some(end),
            },
            (None, Plan::Count { .. }) => Slots::Unpaced {
                schedule,
                end: None,
            },
        };
        let id = u32::try_from(producer).unwrap_or(u32::MAX);
        let inflight = usize::try_from(settings.inflight).unwrap_or(usize::MAX);
        handles.push(tokio::spawn(produce(
            Arc::clone(shared),
            id,
            slots,
            inflight,
            histogram.clone(),
        )));
    }
    handles
}

/// Completes on Ctrl-C; never, if the signal cannot be watched.
pub(crate) async fn interrupt() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Waits until every acknowledged message has been received, the timeout runs out, or a task
/// fails.
async fn drain(shared: &Shared, timeout: Duration) -> DrainEnd {
    let deadline = Instant::now() + timeout;
    loop {
        if shared.has_failed() {
            return DrainEnd::Stopped;
        }
        if shared.ledger().pending() == 0 {
            return DrainEnd::Drained;
        }
        if Instant::now() >= deadline {
            return DrainEnd::TimedOut;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
}

/// Awaits every task; a task that panicked or was cancelled is [`BenchError::Internal`].
pub(crate) async fn join_all<T>(handles: Vec<JoinHandle<T>>) -> Result<Vec<T>, BenchError> {
    let mut results = Vec::with_capacity(handles.len());
    let mut failure = None;
    for handle in handles {
        match handle.await {
            Ok(result) => results.push(result),
            Err(e) => {
                failure.get_or_insert(BenchError::Internal(format!(
                    "a bench task ended abnormally: {e}"
                )));
            }
        }
    }
    failure.map_or(Ok(results), Err)
}

/// How the run as a whole went.
struct Outcome {
    interrupted: bool,
    drain_timed_out: bool,
    elapsed: Duration,
}

fn build_report(
    shared: &Shared,
    options: &QueueBench,
    settings: Settings,
    outcome: Outcome,
    producers: Vec<ProducerStats>,
    consumers: Vec<ConsumerStats>,
    empty: Histogram<u64>,
) -> Result<QueueReport, BenchError> {
    let merge_error = |e| BenchError::Internal(format!("cannot merge histograms: {e}"));
    let (mut publish, mut end_to_end) = (empty.clone(), empty);
    let (mut sent, mut last_reply_at) = (0, Duration::ZERO);
    for p in &producers {
        publish.add(&p.publish).map_err(merge_error)?;
        sent += p.measured_messages;
        last_reply_at = last_reply_at.max(p.last_reply_at);
    }
    let (mut received, mut acked, mut malformed, mut ack_failures) = (0, 0, 0, 0);
    let (mut last_received_at, mut last_acked_at) = (Duration::ZERO, Duration::ZERO);
    for c in &consumers {
        end_to_end.add(&c.end_to_end).map_err(merge_error)?;
        received += c.measured_received;
        acked += c.measured_acked;
        malformed += c.malformed;
        ack_failures += c.ack_failures;
        last_received_at = last_received_at.max(c.last_received_at);
        last_acked_at = last_acked_at.max(c.last_acked_at);
    }
    let per_s =
        |count: u64, until: Duration| per_second(count, until.saturating_sub(shared.warmup));
    let mb = |per_s: f64| per_s * options.size as f64 / 1e6;
    let verdict = shared.ledger().verdict();
    let (sent_per_s, received_per_s) = (
        per_s(sent, last_reply_at),
        per_s(received, last_received_at),
    );
    Ok(QueueReport {
        queue: shared.queue.clone(),
        queue_deleted: false,
        workload: workload(options, settings.inflight),
        interrupted: outcome.interrupted,
        drain_timed_out: outcome.drain_timed_out,
        elapsed_s: outcome.elapsed.as_secs_f64(),
        sent_messages: sent,
        received_messages: received,
        acked_messages: acked,
        sent_per_s,
        received_per_s,
        acked_per_s: per_s(acked, last_acked_at),
        sent_mb_per_s: mb(sent_per_s),
        received_mb_per_s: mb(received_per_s),
        publish_latency: LatencySummary::from_micros(&publish),
        end_to_end_latency: LatencySummary::from_micros(&end_to_end),
        lost: verdict.lost,
        still_queued: 0,
        duplicated: verdict.duplicated,
        acknowledged_total: verdict.acknowledged,
        received_total: verdict.received,
        redeliveries: verdict.redeliveries,
        received_unacknowledged: verdict.received_unacknowledged,
        malformed,
        ack_failures,
    })
}

fn workload(o: &QueueBench, inflight: u32) -> Workload {
    Workload {
        size_bytes: o.size,
        messages: o.duration_s.is_none().then_some(o.messages),
        duration_s: o.duration_s,
        batch: o.batch,
        producers: o.producers,
        consumers: o.consumers,
        rate_per_s: o.rate,
        inflight,
        warmup_s: o.warmup_s,
        protocol: o.protocol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_refuse_what_clap_would_but_code_can_build() {
        let check = |o: QueueBench| {
            Settings::check(&o)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(
            check(QueueBench {
                size: 10,
                ..QueueBench::default()
            })
            .contains("--size")
        );
        assert!(
            check(QueueBench {
                batch: 0,
                ..QueueBench::default()
            })
            .contains("--batch")
        );
        assert!(
            check(QueueBench {
                consumers: 0,
                ..QueueBench::default()
            })
            .contains("--consumers")
        );
        assert!(
            check(QueueBench {
                duration_s: Some(0),
                ..QueueBench::default()
            })
            .contains("--duration-s")
        );
        assert!(
            check(QueueBench {
                messages: 0,
                ..QueueBench::default()
            })
            .contains("--messages")
        );
        assert!(
            Settings::check(&QueueBench {
                messages: 0,
                duration_s: Some(5),
                ..QueueBench::default()
            })
            .is_ok()
        );
    }

    #[test]
    fn a_timed_run_ends_after_warmup_plus_duration() {
        let o = QueueBench {
            duration_s: Some(5),
            warmup_s: 2,
            rate: 1000,
            ..QueueBench::default()
        };
        let s = Settings::check(&o).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.plan,
            Plan::Until {
                end: Duration::from_secs(7)
            }
        );
        assert_eq!(s.rate_per_s.map(NonZeroU64::get), Some(1000));
        assert_eq!(
            s.inflight,
            defaults::INFLIGHT_PACED,
            "an open loop at a fixed rate"
        );
        let unpaced = Settings::check(&QueueBench::default())
            .map(|s| s.inflight)
            .ok();
        assert_eq!(unpaced, Some(defaults::INFLIGHT));
        let chosen = Settings::check(&QueueBench {
            rate: 5,
            inflight: Some(3),
            ..QueueBench::default()
        });
        assert_eq!(chosen.map(|s| s.inflight).ok(), Some(3));
    }
}

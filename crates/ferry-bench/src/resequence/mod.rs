//! `ferry bench resequence`: the throughput and added latency of a resequencing queue, whose
//! workers complete one key's messages in parallel while the results leave in arrival order.
//! The workload is described on [`run_resequence`].
//!
//! `produce` sends, `work` receives and completes (or acks), `output` follows the output
//! stream and checks every result, `report` is the result. The run's shared state, the ledger of
//! deliveries, the send timetable, the pacing thread, the progress line and the latency
//! histograms are the queue bench's.

mod options;
mod output;
mod produce;
mod report;
mod work;

pub use options::{ResequenceBench, defaults};
pub use report::{
    DeliveryCheck, ResequenceMode, ResequenceReport, ResequenceWorkload, ResultCheck,
};

use crate::error::BenchError;
use crate::producer::{Slots, start_pacer};
use crate::progress::{Display, Progress};
use crate::report::{LatencySummary, per_second};
use crate::run::{interrupt, join_all};
use crate::schedule::{Plan, Schedule};
use crate::shared::{Counters, Shared, latency_histogram, random_name};
use crate::wire::Wire;
use ferry_client::Client;
use ferry_client::api::{GapPolicy, Output, QueueConfig, ResequenceConfig, StreamConfig};
use hdrhistogram::Histogram;
use options::Settings;
use output::{Checker, Followed};
use produce::Produced;
use std::io::IsTerminal as _;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use work::WorkerStats;

/// Room for a result's framing (key and headers) in the output stream's `max_record_bytes`,
/// above the result itself.
const RECORD_FRAMING_BYTES: u32 = 1024;
/// How often the drain phase checks whether everything is done.
const DRAIN_POLL: Duration = Duration::from_millis(10);
/// What an order key's name starts with; the rest is its index.
const KEY_PREFIX: &str = "key-";

/// Runs `ferry bench resequence` against the server at `options.url` and returns the report.
///
/// The workload (defaults in [`resequence_defaults`](crate::resequence_defaults)):
///
/// 1. **Setup.** Create a fresh stream `bench-<8 hex digits>-out` (one partition) and a fresh
///    queue `bench-<8 hex digits>` (or `--queue NAME` and `NAME-out`, which must not exist)
///    with `{"resequence": {"output": {"stream": …}}}`, gap policy `skip`.
/// 2. **Send.** One producer sends `--messages` messages of `--size` bytes in batches of
///    `--send-batch`, one request at a time (so each key's messages arrive in the order they
///    are numbered), as fast as the server answers or on a fixed `--rate` timetable. Message
///    `n` goes to order key (group) `key-<n mod K>` for `K = --keys`; its body starts with the
///    bench header (key, number within the key, send time).
/// 3. **Work.** `--workers` workers each receive up to `--batch` messages and complete them
///    in one `POST /v1/queues/{q}/complete`, the result being the body itself (so results are
///    `--size` bytes), with the time the call started as an attribute. Workers run in
///    parallel, so one key's messages complete out of order.
/// 4. **Follow.** A follower long-polls the output stream and checks every result: that it
///    is a result of this run, under its key, with `ferry-source-id` the id the send was
///    given, the first for its message, and after every earlier message of its key.
/// 5. **Drain.** After the last send, wait up to `--drain-timeout-s` for every acknowledged
///    message's result to be readable, then delete the queue and the stream (the queue first:
///    an output cannot be deleted while its queue exists), unless `--keep`.
///
/// With `--plain` the queue is a plain one, with no output, and the same workers ack each
/// batch instead: the baseline.
///
/// Reported: **throughput** (messages whose results became readable, or with `--plain` were
/// acked, per second from the first send to the last of them), latency percentiles per send
/// request, per complete (or ack) call, per message from send to its complete (ack) reply,
/// and (resequencing) from send to its result being read, and from its complete call to its
/// result being read: the resequencer's own delay. Results lost, repeated, out of key order or
/// misattributed are reported, not returned as errors: see [`ResequenceReport::is_clean`].
///
/// ```no_run
/// # async fn run() -> Result<(), ferry_bench::BenchError> {
/// use ferry_bench::{ResequenceBench, run_resequence};
///
/// let options = ResequenceBench { keys: 1, workers: 4, ..ResequenceBench::default() };
/// let report = run_resequence(&options).await?;
/// print!("{}", report.table());
/// assert!(report.is_clean(), "results lost, repeated or out of order");
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`BenchError::InvalidOption`] before anything is sent; [`BenchError::Url`] for a bad URL;
/// [`BenchError::QueueExists`] or [`BenchError::StreamExists`] if the queue or its output
/// stream exists; [`BenchError::Client`] or [`BenchError::StreamClient`] at the first failed
/// call to the server (the run stops there, and what it created is still deleted).
pub async fn run_resequence(options: &ResequenceBench) -> Result<ResequenceReport, BenchError> {
    let settings = Settings::check(options)?;
    let client = Client::new(&options.url).map_err(BenchError::Url)?;
    let queue = options.queue.clone().unwrap_or_else(random_name);
    let stream = match settings.mode {
        ResequenceMode::Resequence => Some(format!("{queue}-out")),
        ResequenceMode::Plain => None,
    };
    let target = Target {
        client,
        queue,
        stream,
    };
    target.create(options.size).await?;
    let outcome = drive(&target, options, settings).await;
    let deleted = !options.keep && target.delete().await;
    let mut report = outcome?;
    report.deleted = deleted;
    Ok(report)
}

/// How messages are dealt over the order keys: message `n` is message `n / K` of key
/// `n mod K`, whose name (the message's group, and its result's record key) is `key-<index>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Keys {
    count: NonZeroU64,
}

impl Keys {
    /// `count` keys (at least one).
    pub(crate) fn new(count: u32) -> Keys {
        Keys {
            count: NonZeroU64::new(u64::from(count)).unwrap_or(NonZeroU64::MIN),
        }
    }

    /// How many keys there are.
    pub(crate) fn count(self) -> usize {
        usize::try_from(self.count.get()).unwrap_or(usize::MAX)
    }

    /// The key of message `number`, and the message's number within that key.
    pub(crate) fn place(self, number: u64) -> (u32, u64) {
        let key = u32::try_from(number % self.count).unwrap_or(u32::MAX);
        (key, number / self.count)
    }

    /// The number of message `seq` of `key`; `None` for a key out of range or an overflow.
    pub(crate) fn number(self, key: u32, seq: u64) -> Option<u64> {
        let key = u64::from(key);
        if key >= self.count.get() {
            return None;
        }
        seq.checked_mul(self.count.get())?.checked_add(key)
    }

    /// The name of key `index`.
    pub(crate) fn name(index: u32) -> String {
        format!("{KEY_PREFIX}{index}")
    }

    /// The index of the key named `name`, if it is one of the names [`Keys::name`] makes.
    pub(crate) fn index_of(name: &str) -> Option<u32> {
        let index = name.strip_prefix(KEY_PREFIX)?.parse().ok()?;
        (Keys::name(index) == name).then_some(index)
    }
}

/// The queue under test and its output stream.
#[derive(Debug)]
struct Target {
    client: Client,
    queue: String,
    /// The output stream; `None` with `--plain`.
    stream: Option<String>,
}

impl Target {
    fn queue_error(&self, action: &'static str, source: ferry_client::Error) -> BenchError {
        BenchError::Client {
            action,
            queue: self.queue.clone(),
            source,
        }
    }

    fn stream_error(stream: &str, action: &'static str, source: ferry_client::Error) -> BenchError {
        BenchError::StreamClient {
            action,
            stream: stream.to_owned(),
            source,
        }
    }

    /// Creates the output stream, then the queue; refuses either if it exists, and deletes the
    /// stream again if the queue cannot be created.
    async fn create(&self, size_bytes: u32) -> Result<(), BenchError> {
        let queue_exists = || BenchError::QueueExists {
            queue: self.queue.clone(),
        };
        match self.client.queue_info(&self.queue).await {
            Ok(_) => return Err(queue_exists()),
            Err(e) if e.code() == "queue_not_found" => {}
            Err(e) => return Err(self.queue_error("look up", e)),
        }
        if let Some(stream) = &self.stream {
            self.create_stream(stream, size_bytes).await?;
        }
        let defaults = QueueConfig::default();
        let config = QueueConfig {
            max_message_bytes: defaults.max_message_bytes.max(size_bytes),
            resequence: self.stream.as_ref().map(|stream| ResequenceConfig {
                output: Output::Stream(stream.clone()),
                gap_policy: GapPolicy::Skip,
                gap_markers: false,
            }),
            ..defaults
        };
        let created = match self.client.put_queue(&self.queue, &config).await {
            Ok(outcome) if outcome.created => Ok(()),
            Ok(_) => Err(queue_exists()),
            Err(e) => Err(self.queue_error("create", e)),
        };
        if let (Err(_), Some(stream)) = (&created, &self.stream) {
            let _ = self.client.delete_stream(stream).await;
        }
        created
    }

    async fn create_stream(&self, stream: &str, size_bytes: u32) -> Result<(), BenchError> {
        let exists = || BenchError::StreamExists {
            stream: stream.to_owned(),
        };
        match self.client.stream_info(stream).await {
            Ok(_) => return Err(exists()),
            Err(e) if e.code() == "stream_not_found" => {}
            Err(e) => return Err(Target::stream_error(stream, "look up", e)),
        }
        let defaults = StreamConfig::default();
        let config = StreamConfig {
            partitions: 1,
            max_record_bytes: defaults
                .max_record_bytes
                .max(size_bytes.saturating_add(RECORD_FRAMING_BYTES)),
            ..defaults
        };
        match self.client.put_stream(stream, &config).await {
            Ok(outcome) if outcome.created => Ok(()),
            Ok(_) => Err(exists()),
            Err(e) => Err(Target::stream_error(stream, "create", e)),
        }
    }

    /// Deletes the queue, then its output stream (which cannot go while the queue exists);
    /// a failure is only worth a warning, since the report is still valid.
    async fn delete(&self) -> bool {
        let mut deleted = true;
        if let Err(e) = self.client.delete_queue(&self.queue).await {
            eprintln!(
                "warning: could not delete bench queue {:?}: {e}",
                self.queue
            );
            deleted = false;
        }
        if let Some(stream) = &self.stream {
            if let Err(e) = self.client.delete_stream(stream).await {
                eprintln!("warning: could not delete bench stream {stream:?}: {e}");
                deleted = false;
            }
        }
        deleted
    }
}

/// How the wait for outstanding results ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DrainEnd {
    /// Everything acknowledged is done.
    Drained,
    /// The drain timeout ran out first.
    TimedOut,
    /// Ctrl-C, or a task failed.
    Stopped,
}

/// What every task returned.
struct Finished {
    produced: Produced,
    workers: Vec<WorkerStats>,
    followed: Option<Followed>,
    interrupted: bool,
    drain_end: DrainEnd,
    elapsed: Duration,
}

/// Runs the producer, the workers and the follower until every result is in (or the run is
/// stopped), and builds the report.
async fn drive(
    target: &Target,
    options: &ResequenceBench,
    settings: Settings,
) -> Result<ResequenceReport, BenchError> {
    let histogram = latency_histogram()?;
    let keys = Keys::new(settings.keys);
    let shared = Arc::new(Shared::new(
        target.client.clone(),
        Wire::Native(target.client.clone()),
        target.queue.clone(),
        keys.count(),
        settings.size_bytes,
        Duration::ZERO,
    ));
    let schedule = Schedule {
        batch: settings.send_batch,
        producers: NonZeroU64::MIN,
        producer: 0,
        plan: Plan::Count {
            messages: settings.messages,
        },
        rate_per_s: settings.rate_per_s,
    };
    let slots = match settings.rate_per_s {
        Some(_) => start_pacer(schedule, shared.origin)?,
        None => Slots::Unpaced {
            schedule,
            end: None,
        },
    };
    let display = if options.json || !std::io::stderr().is_terminal() {
        Display::Hidden
    } else {
        Display::Stderr
    };
    let progress = Progress::start(Arc::clone(&shared), Some(settings.messages), display);
    let tasks = Tasks::spawn(&shared, target, settings, (schedule, slots), &histogram);
    let finished = tasks.finish(&shared, settings).await;
    progress.finish();
    build_report(&shared, target, options, settings, finished?, histogram)
}

/// The running tasks of a run.
struct Tasks {
    producer: JoinHandle<Produced>,
    workers: Vec<JoinHandle<WorkerStats>>,
    /// The follower of the output stream; `None` with `--plain`.
    follower: Option<JoinHandle<Followed>>,
    /// Distinct results the follower has read so far.
    found: Arc<AtomicU64>,
}

impl Tasks {
    /// Starts the follower, the workers, then the producer, which sends `schedule`'s batches
    /// as `slots` hands them out.
    fn spawn(
        shared: &Arc<Shared>,
        target: &Target,
        settings: Settings,
        (schedule, slots): (Schedule, Slots),
        histogram: &Histogram<u64>,
    ) -> Tasks {
        let keys = Keys::new(settings.keys);
        let found = Arc::new(AtomicU64::new(0));
        let follower = target.stream.clone().map(|stream| {
            let checker = Checker::new(keys, settings.messages, settings.size_bytes);
            let found = Arc::clone(&found);
            let follow = output::follow(
                Arc::clone(shared),
                stream,
                checker,
                found,
                histogram.clone(),
            );
            tokio::spawn(follow)
        });
        let workers = (0..settings.workers)
            .map(|id| {
                tokio::spawn(work::work(
                    Arc::clone(shared),
                    id,
                    settings,
                    histogram.clone(),
                ))
            })
            .collect();
        let produce =
            produce::produce(Arc::clone(shared), slots, schedule, keys, histogram.clone());
        Tasks {
            producer: tokio::spawn(produce),
            workers,
            follower,
            found,
        }
    }

    /// Waits for the producer (or Ctrl-C), then until everything acknowledged is done (or the
    /// drain timeout, a failure or Ctrl-C), stops the workers and the follower and collects
    /// what they measured.
    async fn finish(mut self, shared: &Shared, settings: Settings) -> Result<Finished, BenchError> {
        let ctrl_c = interrupt();
        tokio::pin!(ctrl_c);
        let mut interrupted = false;
        let produced = tokio::select! {
            produced = &mut self.producer => produced,
            () = &mut ctrl_c => {
                interrupted = true;
                shared.stop_sending.send_replace(true);
                (&mut self.producer).await
            }
        };
        let done = || {
            let done = match settings.mode {
                ResequenceMode::Resequence => self.found.load(Ordering::Relaxed),
                ResequenceMode::Plain => Counters::get(&shared.counters.acked),
            };
            done >= Counters::get(&shared.counters.sent)
        };
        let drain_end = tokio::select! {
            end = drain(shared, settings.drain_timeout, done) => end,
            () = interrupt() => {
                interrupted = true;
                DrainEnd::Stopped
            }
        };
        shared.stop_receiving.send_replace(true);
        let workers = join_all(self.workers).await;
        let followed = match self.follower {
            Some(handle) => join_all(vec![handle]).await?.pop(),
            None => None,
        };
        let elapsed = shared.now();
        if let Some(failure) = shared.take_failure() {
            return Err(failure);
        }
        let produced = produced
            .map_err(|e| BenchError::Internal(format!("the producer ended abnormally: {e}")))?;
        Ok(Finished {
            produced,
            workers: workers?,
            followed,
            interrupted,
            drain_end,
            elapsed,
        })
    }
}

/// Waits until `done`, the timeout runs out, or a task fails.
async fn drain(shared: &Shared, timeout: Duration, done: impl Fn() -> bool) -> DrainEnd {
    let deadline = Instant::now() + timeout;
    loop {
        if shared.has_failed() {
            return DrainEnd::Stopped;
        }
        if done() {
            return DrainEnd::Drained;
        }
        if Instant::now() >= deadline {
            return DrainEnd::TimedOut;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
}

fn build_report(
    shared: &Shared,
    target: &Target,
    options: &ResequenceBench,
    settings: Settings,
    finished: Finished,
    empty: Histogram<u64>,
) -> Result<ResequenceReport, BenchError> {
    let merge_error = |e| BenchError::Internal(format!("cannot merge histograms: {e}"));
    let (mut call, mut settled) = (empty.clone(), empty);
    let (mut settled_messages, mut last_settled_at) = (0, Duration::ZERO);
    let (mut malformed, mut settle_failures) = (0, 0);
    for w in &finished.workers {
        call.add(&w.call).map_err(merge_error)?;
        settled.add(&w.settled).map_err(merge_error)?;
        settled_messages += w.settled_messages;
        last_settled_at = last_settled_at.max(w.last_settled_at);
        malformed += w.malformed;
        settle_failures += w.settle_failures;
    }
    let produced = &finished.produced;
    let start = produced.first_sent_at.unwrap_or_default();
    let rate = |count: u64, until: Duration| per_second(count, until.saturating_sub(start));
    let verdict = shared.ledger().verdict();
    let deliveries = DeliveryCheck {
        acknowledged: verdict.acknowledged,
        received: verdict.received,
        lost: verdict.lost,
        duplicated: verdict.duplicated,
        redeliveries: verdict.redeliveries,
        malformed,
        settled: settled_messages,
        settle_failures,
        unsettled: verdict.acknowledged.saturating_sub(settled_messages),
    };
    let results = finished
        .followed
        .as_ref()
        .map(|f| f.checker.verdict(&produced.ids));
    let (done_messages, last_done_at) = match &finished.followed {
        Some(f) => (f.checker.found(), f.last_found_at),
        None => (settled_messages, last_settled_at),
    };
    Ok(ResequenceReport {
        url: options.url.clone(),
        queue: target.queue.clone(),
        stream: target.stream.clone(),
        deleted: false,
        workload: workload(options, settings.mode),
        interrupted: finished.interrupted,
        drain_timed_out: finished.drain_end == DrainEnd::TimedOut,
        elapsed_s: finished.elapsed.as_secs_f64(),
        done_messages,
        throughput_window_s: last_done_at.saturating_sub(start).as_secs_f64(),
        throughput_per_s: rate(done_messages, last_done_at),
        sent_messages: produced.acknowledged,
        sent_per_s: rate(produced.acknowledged, produced.last_reply_at),
        settled_messages,
        settled_per_s: rate(settled_messages, last_settled_at),
        send_latency: LatencySummary::from_micros(&produced.latency),
        call_latency: LatencySummary::from_micros(&call),
        settled_latency: LatencySummary::from_micros(&settled),
        visible_latency: (finished.followed.as_ref())
            .map(|f| LatencySummary::from_micros(&f.visible)),
        release_latency: (finished.followed.as_ref())
            .map(|f| LatencySummary::from_micros(&f.release)),
        deliveries,
        results,
    })
}

fn workload(o: &ResequenceBench, mode: ResequenceMode) -> ResequenceWorkload {
    ResequenceWorkload {
        mode,
        messages: o.messages,
        size_bytes: o.size,
        workers: o.workers,
        keys: o.keys,
        batch: o.batch,
        send_batch: o.send_batch,
        rate_per_s: o.rate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_dealt_round_robin_over_the_keys() {
        let keys = Keys::new(3);
        let placed: Vec<_> = (0..7).map(|n| keys.place(n)).collect();
        assert_eq!(
            placed,
            vec![(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1), (0, 2)]
        );
        for n in 0..100 {
            let (key, seq) = keys.place(n);
            assert_eq!(keys.number(key, seq), Some(n));
        }
        assert_eq!(keys.number(3, 0), None, "a key out of range");
        assert_eq!(keys.number(0, u64::MAX), None, "an overflow");
        assert_eq!(Keys::new(0).count(), 1, "at least one key");
    }

    #[test]
    fn key_names_round_trip_and_nothing_else_parses() {
        assert_eq!(Keys::name(42), "key-42");
        assert_eq!(Keys::index_of("key-42"), Some(42));
        assert_eq!(Keys::index_of("key-0"), Some(0));
        for foreign in ["key-", "key-042", "key--1", "key-1x", "k-1", ""] {
            assert_eq!(Keys::index_of(foreign), None, "{foreign:?}");
        }
    }
}

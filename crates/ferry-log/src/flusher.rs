//! Group commit: one background thread per data directory turns the sync requests of all its
//! logs into one `fdatasync` per dirty file per round.
//!
//! A round takes everything queued, syncs each distinct file once, and completes every waiter
//! whose files all synced. Requests that arrive during a round wait for the next one, so the
//! more publishers are waiting, the more each fsync serves. A failed fsync poisons the log that
//! owns the file (see [`crate::LogError::Poisoned`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crate::segment::SegmentFile;
use crate::ticket::{Completion, Failure};

/// The group-commit flusher of one data directory. Cheap to clone; every clone is a handle to
/// the same background thread.
///
/// Logs keep only a link to the flusher's queue, not the thread: the thread stops when
/// [`Flusher::shutdown`] is called or the last `Flusher` clone is dropped, after syncing
/// everything outstanding. Syncs requested after that are done inline, on the caller's thread.
#[derive(Clone, Debug)]
pub struct Flusher {
    handle: Arc<Handle>,
}

/// Counters of a [`Flusher`], for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlusherStats {
    /// Sync requests served (one per [`crate::Log::sync`] that had to wait).
    pub requests: u64,
    /// Rounds run.
    pub rounds: u64,
    /// `fdatasync` calls made, failed ones included.
    pub syncs: u64,
    /// How long those `fdatasync` calls took.
    pub sync_latency: SyncLatency,
}

/// Upper bounds (inclusive, in microseconds) of the [`SyncLatency`] buckets; a last bucket
/// takes everything slower.
pub const SYNC_LATENCY_BOUNDS_US: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000,
];

/// A histogram of `fdatasync` durations: one count per bucket of [`SYNC_LATENCY_BOUNDS_US`]
/// (not cumulative), plus the overflow bucket last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncLatency {
    /// Calls per bucket; `counts[i]` took at most `SYNC_LATENCY_BOUNDS_US[i]` and more than the
    /// bound before it, the last entry more than every bound.
    pub counts: [u64; SYNC_LATENCY_BOUNDS_US.len() + 1],
    /// Total time of all calls, in microseconds.
    pub sum_us: u64,
}

#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The flusher's queue, shared by the thread and every log linked to it.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    requests: AtomicU64,
    rounds: AtomicU64,
    syncs: AtomicU64,
    /// Per-bucket counts of fsync durations (see [`SYNC_LATENCY_BOUNDS_US`]).
    sync_buckets: [AtomicU64; SYNC_LATENCY_BOUNDS_US.len() + 1],
    sync_sum_us: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    requests: Vec<SyncRequest>,
    deferred: Vec<Deferred>,
    /// Shutdown asked: the thread runs one last round with everything and exits.
    stopping: bool,
    /// The thread took its last round (or never ran): requests are now served inline.
    stopped: bool,
}

/// Files to sync and the waiter to complete once they are durable.
#[derive(Debug)]
pub(crate) struct SyncRequest {
    files: Vec<Arc<SegmentFile>>,
    /// The same log's sync asked for just before this one, if still in flight: this one
    /// succeeds only if that one did, since it promises everything appended before it.
    after: Option<Arc<Completion>>,
    completion: Arc<Completion>,
}

impl Drop for SyncRequest {
    fn drop(&mut self) {
        // Served requests are complete already; this only fires if the thread died. Whether
        // the files are durable is then unknown, so their logs are poisoned.
        if !self.completion.is_complete() {
            for file in &self.files {
                file.poison();
            }
            self.completion.complete(Err(Failure::FlusherStopped));
        }
    }
}

/// A sync that no one waits for, due at a deadline (the interval policy).
#[derive(Debug)]
struct Deferred {
    file: Arc<SegmentFile>,
    due: Instant,
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Flusher {
    /// Spawns the flusher thread.
    ///
    /// If the thread cannot be spawned, an error is logged and every sync is done inline on
    /// the caller's thread instead: slower, but just as durable.
    pub fn start() -> Flusher {
        let shared = Arc::new(Shared::default());
        let for_thread = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("ferry-flusher".into())
            .spawn(move || run(&for_thread));
        let thread = match spawned {
            Ok(thread) => Some(thread),
            Err(error) => {
                tracing::error!(%error, "could not start the log flusher thread; syncing inline");
                lock(&shared).stopped = true;
                None
            }
        };
        Flusher {
            handle: Arc::new(Handle {
                shared,
                thread: Mutex::new(thread),
            }),
        }
    }

    /// Syncs everything outstanding, completes all waiters and stops the thread. Returns once
    /// the thread has exited. Idempotent; also done when the last clone is dropped.
    pub fn shutdown(&self) {
        self.handle.stop();
    }

    /// Counters since start.
    pub fn stats(&self) -> FlusherStats {
        let shared = &self.handle.shared;
        FlusherStats {
            requests: shared.requests.load(Ordering::Relaxed),
            rounds: shared.rounds.load(Ordering::Relaxed),
            syncs: shared.syncs.load(Ordering::Relaxed),
            sync_latency: SyncLatency {
                counts: std::array::from_fn(|i| {
                    shared
                        .sync_buckets
                        .get(i)
                        .map_or(0, |c| c.load(Ordering::Relaxed))
                }),
                sum_us: shared.sync_sum_us.load(Ordering::Relaxed),
            },
        }
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.handle.shared)
    }
}

impl Handle {
    fn stop(&self) {
        // Holding the lock while joining makes concurrent callers wait for the thread too.
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        lock(&self.shared).stopping = true;
        self.shared.wake.notify_all();
        if let Some(thread) = thread.take()
            && thread.join().is_err()
        {
            tracing::error!("log flusher thread panicked");
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    /// Queues a sync of `files`, to succeed only if `after` (the same log's previous sync, if
    /// still in flight) does too, and returns its completion. Once the flusher has stopped,
    /// the sync is done right here instead, and the completion is already complete.
    pub(crate) fn sync(
        &self,
        files: Vec<Arc<SegmentFile>>,
        after: Option<Arc<Completion>>,
    ) -> Arc<Completion> {
        let completion = Arc::new(Completion::default());
        let request = SyncRequest {
            files,
            after,
            completion: Arc::clone(&completion),
        };
        let mut state = lock(self);
        if state.stopped {
            drop(state);
            self.run_round(vec![request], Vec::new());
        } else {
            state.requests.push(request);
            drop(state);
            self.wake.notify_one();
        }
        completion
    }

    /// Asks for `file` to be synced by `due`, with no one waiting. The caller has marked the
    /// file scheduled. Dropped silently once the flusher has stopped.
    pub(crate) fn sync_by(&self, file: Arc<SegmentFile>, due: Instant) {
        let mut state = lock(self);
        if !state.stopped {
            state.deferred.push(Deferred { file, due });
            drop(state);
            self.wake.notify_one();
        }
    }

    /// Waits for work; returns the next round's requests and due deferred files, and whether
    /// this is the last round.
    fn next_round(&self) -> (Vec<SyncRequest>, Vec<Arc<SegmentFile>>, bool) {
        let mut state = lock(self);
        loop {
            if state.stopping {
                state.stopped = true;
                let files = state.deferred.drain(..).map(|d| d.file).collect();
                return (std::mem::take(&mut state.requests), files, true);
            }
            let now = Instant::now();
            let (due, later): (Vec<_>, Vec<_>) =
                state.deferred.drain(..).partition(|d| d.due <= now);
            state.deferred = later;
            if !state.requests.is_empty() || !due.is_empty() {
                let files = due.into_iter().map(|d| d.file).collect();
                return (std::mem::take(&mut state.requests), files, false);
            }
            state = match state.deferred.iter().map(|d| d.due).min() {
                None => self
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(due) => {
                    let timeout = due.saturating_duration_since(now);
                    let waited = self.wake.wait_timeout(state, timeout);
                    waited.unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
    }

    /// Syncs each distinct file once, then completes every request.
    fn run_round(&self, requests: Vec<SyncRequest>, deferred: Vec<Arc<SegmentFile>>) {
        self.rounds.fetch_add(1, Ordering::Relaxed);
        self.requests
            .fetch_add(requests.len() as u64, Ordering::Relaxed);
        for file in &deferred {
            file.clear_scheduled();
        }
        let all_files = requests
            .iter()
            .flat_map(|r| r.files.iter())
            .chain(&deferred);
        let mut results: HashMap<*const SegmentFile, Outcome> = HashMap::new();
        for file in all_files {
            let key = Arc::as_ptr(file);
            if let Entry::Vacant(slot) = results.entry(key) {
                slot.insert(self.sync_file(file));
            }
        }
        for request in requests {
            let failed = request
                .files
                .iter()
                .find_map(|f| results.get(&Arc::as_ptr(f)).and_then(|r| r.clone().err()))
                // Requests complete in the order they were queued, so the one before is
                // complete already (or, after a stop, about to be in the last round).
                .or_else(|| request.after.as_ref().and_then(|a| a.wait().err()));
            request.completion.complete(failed.map_or(Ok(()), Err));
        }
    }

    fn sync_file(&self, file: &SegmentFile) -> Outcome {
        if file.is_poisoned() {
            // A later fsync may "succeed" on pages the kernel already dropped: never retry.
            return Err(Failure::Poisoned);
        }
        self.syncs.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = file.sync();
        self.sync_record(started.elapsed());
        result.map_err(|error| {
            let path = file.path().display();
            tracing::error!(path = %path, %error, "fdatasync failed; log poisoned");
            Failure::Io {
                path: file.path().to_path_buf(),
                error: Arc::new(error),
            }
        })
    }
}

impl Shared {
    /// Counts one fsync of `took` in its latency bucket.
    fn sync_record(&self, took: std::time::Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = SYNC_LATENCY_BOUNDS_US.partition_point(|&bound| bound < us);
        if let Some(count) = self.sync_buckets.get(bucket) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        self.sync_sum_us.fetch_add(us, Ordering::Relaxed);
    }
}

type Outcome = crate::ticket::Outcome;

fn run(shared: &Shared) {
    loop {
        let (requests, deferred, last) = shared.next_round();
        if !requests.is_empty() || !deferred.is_empty() {
            shared.run_round(requests, deferred);
        }
        if last {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fsync_durations_land_in_their_buckets() {
        let shared = Shared::default();
        shared.sync_record(Duration::from_micros(100));
        shared.sync_record(Duration::from_micros(101));
        shared.sync_record(Duration::from_secs(10));
        let flusher = Flusher {
            handle: Arc::new(Handle {
                shared: Arc::new(shared),
                thread: Mutex::new(None),
            }),
        };
        let latency = flusher.stats().sync_latency;
        assert_eq!(latency.counts[0], 1, "100 us is within the first bound");
        assert_eq!(latency.counts[1], 1, "101 us goes to the next bucket");
        assert_eq!(latency.counts[SYNC_LATENCY_BOUNDS_US.len()], 1, "overflow");
        assert_eq!(latency.sum_us, 100 + 101 + 10_000_000);
    }
}

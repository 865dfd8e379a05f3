//! Group commit, fsync policies, poisoning after failed I/O, and flusher shutdown.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use ferry_log::io::FaultyStorage;
use ferry_log::record::HEADER_BYTES;
use ferry_log::{Flusher, FsyncPolicy, LogConfig, LogError};

use crate::*;

/// Polls `until` with tiny sleeps (waiting for the flusher thread) for at most 10 s.
fn eventually(mut until: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !until() {
        assert!(Instant::now() < deadline, "condition not reached in time");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs a future to completion on this thread (a minimal executor: park until woken).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

#[test]
fn group_commit_serves_many_waiters_with_fewer_fsyncs() {
    const LOGS: usize = 4;
    const THREADS: usize = 8;
    const PER_THREAD: u64 = 25;
    let storage = FaultyStorage::new();
    storage.set_sync_delay(Duration::from_millis(1)); // a disk slow enough for waiters to pile up
    let flusher = Flusher::start();
    let dirs: Vec<_> = (0..LOGS).map(|_| tempfile::tempdir().unwrap()).collect();
    let logs: Vec<_> = dirs
        .iter()
        .map(|d| {
            Arc::new(Mutex::new(open_faulty(
                d.path(),
                always(),
                &flusher,
                &storage,
            )))
        })
        .collect();

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let log = Arc::clone(&logs[t % LOGS]);
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let ticket = {
                        let mut log = log.lock().unwrap();
                        log.append(i, 0, format!("thread {t} message {i}").as_bytes())
                            .unwrap();
                        log.sync()
                    };
                    ticket.wait().unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }

    let tickets = THREADS as u64 * PER_THREAD;
    let stats = flusher.stats();
    eprintln!("{tickets} tickets: {stats:?}");
    assert_eq!(stats.syncs, storage.syncs());
    assert!(stats.requests <= tickets);
    assert!(
        storage.syncs() < tickets,
        "{} fdatasyncs for {tickets} tickets",
        storage.syncs()
    );
    for log in &logs {
        let log = log.lock().unwrap();
        assert_eq!(log.next_offset(), (THREADS / LOGS) as u64 * PER_THREAD);
        assert!(!log.is_poisoned());
    }
}

#[test]
fn ticket_is_a_future() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut log = open(dir.path(), always(), &flusher);
    assert!(log.sync().is_ready(), "nothing to sync");
    fill(&mut log, 3);
    block_on(log.sync()).unwrap();
    assert!(log.sync().is_ready());
}

#[test]
fn failed_fsync_poisons_the_log_for_good() {
    let storage = FaultyStorage::new();
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let mut log = open_faulty(dir.path(), always(), &flusher, &storage);
    fill(&mut log, 3);
    log.sync().wait().unwrap();

    fill(&mut log, 5);
    storage.fail_next_sync();
    let err = log.sync().wait().unwrap_err();
    assert!(matches!(err, LogError::Io { .. }), "{err}");
    assert!(log.is_poisoned());

    // The next fsync would succeed, but the page cache state is unknown: refuse everything.
    assert!(matches!(log.append(0, 0, b"x"), Err(LogError::Poisoned)));
    assert!(matches!(log.sync().wait(), Err(LogError::Poisoned)));
    assert!(matches!(log.roll(), Err(LogError::Poisoned)));
    assert_records(&log.read(0, usize::MAX).unwrap(), 0, 5);

    // Other logs of the same flusher are unaffected.
    let mut other = open_faulty(other_dir.path(), always(), &flusher, &storage);
    fill(&mut other, 2);
    other.sync().wait().unwrap();

    // Reopening re-validates the files and clears the poison.
    drop(log);
    let mut log = open_faulty(dir.path(), always(), &flusher, &storage);
    assert!(!log.is_poisoned());
    fill(&mut log, 6);
    log.sync().wait().unwrap();
    assert_records(&all_records(&log), 0, 6);
}

#[test]
fn a_sync_with_nothing_new_fails_when_the_sync_in_flight_fails() {
    let storage = FaultyStorage::new();
    storage.set_sync_delay(Duration::from_millis(30));
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let mut log = open_faulty(dir.path(), always(), &flusher, &storage);
    fill(&mut log, 3);
    storage.fail_next_sync();
    let first = log.sync();
    // Nothing was appended since, but this ticket still vouches for offsets 0..3.
    let second = log.sync();
    assert!(matches!(first.wait(), Err(LogError::Io { .. })));
    let err = second.wait().unwrap_err();
    assert!(
        matches!(err, LogError::Io { .. } | LogError::Poisoned),
        "{err}"
    );
}

#[test]
fn sync_all_syncs_under_every_policy() {
    for fsync in [
        FsyncPolicy::Never,
        FsyncPolicy::Interval(Duration::from_secs(3600)),
    ] {
        let storage = FaultyStorage::new();
        let flusher = Flusher::start();
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            fsync,
            ..LogConfig::default()
        };
        let mut log = open_faulty(dir.path(), config, &flusher, &storage);
        fill(&mut log, 4);
        log.sync().wait().unwrap();
        let before = storage.syncs();
        log.sync_all().wait().unwrap();
        assert_eq!(storage.syncs(), before + 1, "{fsync:?}");

        storage.fail_next_sync();
        fill(&mut log, 5);
        assert!(matches!(log.sync_all().wait(), Err(LogError::Io { .. })));
        assert!(log.is_poisoned());
    }
}

#[test]
fn a_power_cut_keeps_what_was_synced_and_nothing_after() {
    let storage = FaultyStorage::new();
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let mut log = open_faulty(dir.path(), always(), &flusher, &storage);
    fill(&mut log, 3);
    log.sync().wait().unwrap();
    fill(&mut log, 5);
    storage.cut_power();
    assert!(log.append(timestamp(5), 1, &payload(5)).is_err());
    drop(log);
    flusher.shutdown();
    storage.restore_power().unwrap();

    let flusher = Flusher::start();
    let log = open_faulty(dir.path(), always(), &flusher, &storage);
    assert_records(&all_records(&log), 0, 3);
}

#[test]
fn a_new_log_makes_every_directory_it_created_durable() {
    let storage = FaultyStorage::new();
    let flusher = Flusher::start();
    let root = tempfile::tempdir().unwrap();
    let before = storage.dir_syncs();
    // As a stream's first partition: `streams/<s>/<p>` below an existing `streams`.
    let log = open_faulty(
        &root.path().join("s").join("0"),
        always(),
        &flusher,
        &storage,
    );
    drop(log);
    // The log's own directory (its first segment), then `s` in the root and `0` in `s`.
    assert_eq!(storage.dir_syncs() - before, 3);
    let before = storage.dir_syncs();
    let log = open_faulty(
        &root.path().join("s").join("1"),
        always(),
        &flusher,
        &storage,
    );
    drop(log);
    assert_eq!(storage.dir_syncs() - before, 2, "only `1` was new");
}

#[test]
fn a_roll_takes_over_an_empty_file_left_by_a_failed_one() {
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), always(), &flusher);
    fill(&mut log, 3);
    // A roll that created the next file, then failed to sync the directory, left it empty.
    let next = segment_file(dir.path(), 3, "log");
    std::fs::write(&next, b"").unwrap();
    log.roll().unwrap();
    fill(&mut log, 5);
    log.sync().wait().unwrap();
    assert_records(&all_records(&log), 0, 5);
    assert!(file_len(&next) > 0);

    // A file with something in it is never taken over.
    std::fs::write(segment_file(dir.path(), 5, "log"), b"x").unwrap();
    assert!(matches!(log.roll(), Err(LogError::Io { .. })));
}

#[test]
fn failed_write_poisons_the_log_and_changes_nothing_in_memory() {
    let storage = FaultyStorage::new();
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let mut log = open_faulty(dir.path(), always(), &flusher, &storage);
    fill(&mut log, 5);
    let segments = log.segments();

    storage.fail_next_write();
    let err = log.append(timestamp(5), 1, &payload(5)).unwrap_err();
    assert!(matches!(err, LogError::Io { .. }), "{err}");
    assert!(log.is_poisoned());
    assert_eq!(log.next_offset(), 5);
    assert_eq!(log.segments(), segments);
    assert_records(&all_records(&log), 0, 5);
    assert!(matches!(log.append(0, 0, b"x"), Err(LogError::Poisoned)));

    // Half of the record reached the file; reopening cuts it off.
    drop(log);
    let mut log = open_faulty(dir.path(), always(), &flusher, &storage);
    let framed = (HEADER_BYTES + payload(5).len()) as u64;
    assert_eq!(log.recovery().truncated_bytes, framed / 2);
    fill(&mut log, 7);
    assert_records(&all_records(&log), 0, 7);
}

#[test]
fn rolling_syncs_the_closed_segment_and_a_failure_poisons() {
    let storage = FaultyStorage::new();
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let mut log = open_faulty(dir.path(), small_segments(300), &flusher, &storage);
    fill(&mut log, 3);
    let before = storage.syncs();
    log.roll().unwrap();
    assert_eq!(
        storage.syncs(),
        before + 1,
        "the closed segment is synced by the roll"
    );
    fill(&mut log, 5);
    log.sync().wait().unwrap();
    assert_eq!(
        storage.syncs(),
        before + 2,
        "only the new active segment is left to sync"
    );

    fill(&mut log, 8);
    storage.fail_next_sync();
    assert!(matches!(log.roll(), Err(LogError::Io { .. })));
    assert!(log.is_poisoned());
}

#[test]
fn interval_policy_syncs_in_the_background_without_waiting() {
    let storage = FaultyStorage::new();
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        fsync: FsyncPolicy::Interval(Duration::from_millis(5)),
        ..LogConfig::default()
    };
    let mut log = open_faulty(dir.path(), config, &flusher, &storage);
    fill(&mut log, 3);
    let ticket = log.sync();
    assert!(ticket.is_ready());
    ticket.wait().unwrap();
    eventually(|| storage.syncs() >= 1);
    fill(&mut log, 6);
    eventually(|| storage.syncs() >= 2);
}

#[test]
fn never_policy_does_not_fsync_records() {
    let storage = FaultyStorage::new();
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        fsync: FsyncPolicy::Never,
        ..LogConfig::default()
    };
    let mut log = open_faulty(dir.path(), config, &flusher, &storage);
    fill(&mut log, 10);
    log.sync().wait().unwrap();
    flusher.shutdown();
    assert_eq!(storage.syncs(), 0);
}

#[test]
fn shutdown_syncs_everything_outstanding_then_syncs_run_inline() {
    let storage = FaultyStorage::new();
    storage.set_sync_delay(Duration::from_millis(20));
    let flusher = Flusher::start();
    let dir = tempfile::tempdir().unwrap();
    let interval_dir = tempfile::tempdir().unwrap();
    let mut log = open_faulty(dir.path(), always(), &flusher, &storage);
    let hourly = LogConfig {
        fsync: FsyncPolicy::Interval(Duration::from_secs(3600)),
        ..LogConfig::default()
    };
    let mut lazy = open_faulty(interval_dir.path(), hourly, &flusher, &storage);
    fill(&mut lazy, 2);
    fill(&mut log, 2);
    let ticket = log.sync();

    flusher.shutdown();
    assert!(ticket.is_ready());
    ticket.wait().unwrap();
    assert_eq!(
        storage.syncs(),
        2,
        "the waiting log and the interval log were both synced"
    );
    flusher.shutdown(); // idempotent

    fill(&mut log, 4);
    let ticket = log.sync();
    assert!(ticket.is_ready(), "synced inline once the flusher is gone");
    ticket.wait().unwrap();
    assert_eq!(storage.syncs(), 3);
}

#[test]
fn dropping_the_last_flusher_handle_stops_it_and_completes_waiters() {
    let storage = FaultyStorage::new();
    storage.set_sync_delay(Duration::from_millis(10));
    let flusher = Flusher::start();
    let clone = flusher.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut log = open_faulty(dir.path(), always(), &flusher, &storage);
    fill(&mut log, 2);
    let ticket = log.sync();
    drop(flusher);
    drop(clone);
    assert!(ticket.is_ready());
    ticket.wait().unwrap();
    fill(&mut log, 3);
    log.sync().wait().unwrap();
    assert_records(&all_records(&log), 0, 3);
}

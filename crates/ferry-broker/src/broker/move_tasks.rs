//! Message move tasks: a redrive that runs in the background, reports its progress and can be
//! cancelled (what SQS calls `StartMessageMoveTask`, `ListMessageMoveTasks` and
//! `CancelMessageMoveTask`).
//!
//! A task moves messages out of a dead-letter queue in rounds, each round exactly as
//! [`Broker::redrive`] does it (lease, enqueue durably in the target, ack), so a crash leaves a
//! message in both queues, never in neither. Tasks live in memory: after a restart the list is
//! empty, and a task that was running has stopped where it was.

use super::{Broker, invalid};
use crate::clock::wall_now;
use crate::error::{Error, ErrorKind, Result};
use crate::redrive::{BATCH, move_batch};
use ferry_core::Timestamp;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Finished tasks kept per source queue for listing (the running one is always kept).
const KEPT_PER_SOURCE: usize = 10;
/// Highest rate a task may be given, in messages per second (as in SQS).
pub const MAX_MOVE_RATE_PER_S: u32 = 500;

/// How to start a move task.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MoveTaskOptions {
    /// Where to move messages; each message's own source queue if `None`.
    pub destination: Option<String>,
    /// Most messages moved per second (1 to [`MAX_MOVE_RATE_PER_S`]); as fast as possible if
    /// `None`.
    pub rate_per_s: Option<u32>,
}

/// Where a move task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MoveTaskStatus {
    /// Moving messages.
    Running,
    /// Every message that was visible has been moved (or could not be and stayed).
    Completed,
    /// Asked to stop; stops after the current round.
    Cancelling,
    /// Stopped on request.
    Cancelled,
    /// Stopped by an error (see `failure`).
    Failed,
}

/// A move task's description and progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveTask {
    /// The opaque id to cancel it with.
    pub handle: String,
    /// The dead-letter queue it moves messages out of.
    pub source: String,
    /// Where it moves them (`None`: each message's source queue).
    pub destination: Option<String>,
    /// Its rate limit.
    pub rate_per_s: Option<u32>,
    /// Where it stands.
    pub status: MoveTaskStatus,
    /// Messages moved so far.
    pub moved: u64,
    /// Messages visible in the source when it started.
    pub to_move: u64,
    /// When it started.
    pub started_at: Timestamp,
    /// Why it failed, if it did.
    pub failure: Option<String>,
}

struct Entry {
    task: Arc<Mutex<MoveTask>>,
    cancel: Arc<AtomicBool>,
}

/// The broker's move tasks, newest last.
#[derive(Default)]
pub(crate) struct MoveTasks {
    entries: Mutex<Vec<Entry>>,
}

fn snapshot(task: &Mutex<MoveTask>) -> Option<MoveTask> {
    task.lock().ok().map(|t| t.clone())
}

fn not_found(handle: &str) -> Error {
    Error::new(
        ErrorKind::TaskNotFound,
        format!("move task {handle:?} does not exist"),
    )
}

impl Broker {
    /// Starts moving messages out of dead-letter queue `source` in the background; returns the
    /// task's handle.
    ///
    /// # Errors
    /// `queue_not_found` for the source or destination; `invalid_request` if `source` is no
    /// queue's dead-letter queue or the rate is out of range; `conflict` if a task already runs
    /// on `source`.
    pub async fn start_move_task(&self, source: &str, options: MoveTaskOptions) -> Result<String> {
        let info = self.queue_info(source).await?;
        if info.dead_letter_sources.is_empty() {
            return Err(invalid(format!(
                "queue {source:?} is not the dead-letter queue of any queue"
            )));
        }
        if let Some(destination) = &options.destination {
            self.handle(destination)?;
        }
        if options
            .rate_per_s
            .is_some_and(|r| r == 0 || r > MAX_MOVE_RATE_PER_S)
        {
            return Err(invalid(format!(
                "the rate must be 1 to {MAX_MOVE_RATE_PER_S} messages per second"
            )));
        }
        let handle = format!("{:032x}", rand::random::<u128>());
        let task = MoveTask {
            handle: handle.clone(),
            source: source.to_owned(),
            destination: options.destination,
            rate_per_s: options.rate_per_s,
            status: MoveTaskStatus::Running,
            moved: 0,
            to_move: info.stats.visible,
            started_at: wall_now(),
            failure: None,
        };
        let entry = Entry {
            task: Arc::new(Mutex::new(task)),
            cancel: Arc::new(AtomicBool::new(false)),
        };
        let (task, cancel) = (Arc::clone(&entry.task), Arc::clone(&entry.cancel));
        {
            let mut entries = self
                .inner
                .move_tasks
                .entries
                .lock()
                .map_err(|_| Error::new(ErrorKind::Internal, "move task list poisoned"))?;
            let running = entries.iter().any(|e| {
                snapshot(&e.task).is_some_and(|t| {
                    t.source == source
                        && matches!(
                            t.status,
                            MoveTaskStatus::Running | MoveTaskStatus::Cancelling
                        )
                })
            });
            if running {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("a move task is already running on queue {source:?}"),
                ));
            }
            entries.push(entry);
            prune(&mut entries, source);
        }
        let broker = self.clone();
        tokio::spawn(async move { broker.move_task_run(task, cancel).await });
        Ok(handle)
    }

    async fn move_task_run(&self, task: Arc<Mutex<MoveTask>>, cancel: Arc<AtomicBool>) {
        let Some(start) = snapshot(&task) else {
            return;
        };
        let result = self.move_task_rounds(&start, &task, &cancel).await;
        if let Ok(mut t) = task.lock() {
            t.status = match result {
                Ok(()) if cancel.load(Ordering::Acquire) => MoveTaskStatus::Cancelled,
                Ok(()) => MoveTaskStatus::Completed,
                Err(e) => {
                    t.failure = Some(e.to_string());
                    MoveTaskStatus::Failed
                }
            };
        }
    }

    async fn move_task_rounds(
        &self,
        start: &MoveTask,
        task: &Mutex<MoveTask>,
        cancel: &AtomicBool,
    ) -> Result<()> {
        let dlq = self.handle(&start.source)?;
        let began = tokio::time::Instant::now();
        let want = start.rate_per_s.map_or(BATCH, |r| r.min(BATCH));
        let mut skipped = Vec::new();
        let mut moved = 0u64;
        while !cancel.load(Ordering::Acquire) {
            let destination = start.destination.as_deref();
            let Some(count) = move_batch(self, &dlq, want, destination, &mut skipped).await? else {
                break;
            };
            moved += count;
            if let Ok(mut t) = task.lock() {
                t.moved = moved;
            }
            if let Some(rate) = start.rate_per_s {
                let due = began + Duration::from_secs_f64(moved as f64 / f64::from(rate));
                tokio::time::sleep_until(due).await;
            }
        }
        if !skipped.is_empty() {
            dlq.change_visibility(skipped, Duration::ZERO).await?;
        }
        Ok(())
    }

    /// The move tasks of dead-letter queue `source`, newest first (the running one, if any, and
    /// the last few finished ones).
    ///
    /// # Errors
    /// `queue_not_found`.
    pub async fn move_tasks(&self, source: &str) -> Result<Vec<MoveTask>> {
        self.handle(source)?;
        let entries = self
            .inner
            .move_tasks
            .entries
            .lock()
            .map_err(|_| Error::new(ErrorKind::Internal, "move task list poisoned"))?;
        Ok(entries
            .iter()
            .rev()
            .filter_map(|e| snapshot(&e.task))
            .filter(|t| t.source == source)
            .collect())
    }

    /// Asks a running move task to stop after its current round; answers its state then.
    ///
    /// # Errors
    /// `task_not_found`; `conflict` if it is not running.
    pub async fn cancel_move_task(&self, handle: &str) -> Result<MoveTask> {
        let entries = self
            .inner
            .move_tasks
            .entries
            .lock()
            .map_err(|_| Error::new(ErrorKind::Internal, "move task list poisoned"))?;
        let entry = entries
            .iter()
            .find(|e| snapshot(&e.task).is_some_and(|t| t.handle == handle))
            .ok_or_else(|| not_found(handle))?;
        let mut task = entry
            .task
            .lock()
            .map_err(|_| Error::new(ErrorKind::Internal, "move task poisoned"))?;
        if task.status != MoveTaskStatus::Running {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("move task {handle:?} is not running"),
            ));
        }
        entry.cancel.store(true, Ordering::Release);
        task.status = MoveTaskStatus::Cancelling;
        Ok(task.clone())
    }
}

/// Drops the oldest finished tasks of `source` beyond [`KEPT_PER_SOURCE`].
fn prune(entries: &mut Vec<Entry>, source: &str) {
    let mut seen = 0usize;
    let mut keep = vec![true; entries.len()];
    for (i, e) in entries.iter().enumerate().rev() {
        if snapshot(&e.task).is_some_and(|t| t.source == source) {
            seen += 1;
            if let Some(k) = keep.get_mut(i) {
                *k = seen <= KEPT_PER_SOURCE;
            }
        }
    }
    let mut flags = keep.into_iter();
    entries.retain(|_| flags.next().unwrap_or(true));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BrokerConfig, NewMessage, QueueConfig, ReceiveOptions};
    use ferry_core::queue::Body;

    async fn setup(dir: &std::path::Path) -> Result<Broker> {
        let b = Broker::open(BrokerConfig {
            data_dir: dir.to_path_buf(),
            ..BrokerConfig::default()
        })
        .await?;
        b.put_queue("dlq", QueueConfig::default()).await?;
        b.put_queue("other", QueueConfig::default()).await?;
        let source = QueueConfig {
            max_receives: Some(1),
            dead_letter_queue: Some("dlq".into()),
            ..QueueConfig::default()
        };
        b.put_queue("src", source).await?;
        Ok(b)
    }

    /// Sends `n` messages to `src` and fails everything there; waits for `expect` in the DLQ.
    async fn dead_letter(b: &Broker, n: usize, expect: u64) -> Result<()> {
        let messages = (0..n)
            .map(|i| NewMessage {
                body: Body::text(format!("m{i}")),
                ..NewMessage::default()
            })
            .collect();
        b.send("src", messages).await?;
        let got = b
            .receive(
                "src",
                ReceiveOptions {
                    max: 100,
                    ..ReceiveOptions::default()
                },
            )
            .await?;
        let receipts = got.into_iter().map(|d| d.receipt).collect();
        b.nack("src", receipts, Some(Duration::ZERO), None).await?;
        for _ in 0..200 {
            // Once the source has let go of them, the dead-letter queue holds them durably.
            let moved = b.peek("src", 1).await?.is_empty();
            if moved && b.queue_info("dlq").await?.stats.visible == expect {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(invalid("messages did not reach the dead-letter queue"))
    }

    async fn finished(b: &Broker) -> Result<MoveTask> {
        for _ in 0..500 {
            let tasks = b.move_tasks("dlq").await?;
            if let Some(t) = tasks.first()
                && !matches!(
                    t.status,
                    MoveTaskStatus::Running | MoveTaskStatus::Cancelling
                )
            {
                return Ok(t.clone());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(invalid("the task did not finish"))
    }

    #[tokio::test]
    async fn a_task_moves_to_the_sources_or_to_a_destination() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| invalid(e.to_string()))?;
        let b = setup(dir.path()).await?;
        dead_letter(&b, 3, 3).await?;
        b.start_move_task("dlq", MoveTaskOptions::default()).await?;
        let t = finished(&b).await?;
        assert_eq!(
            (t.status, t.moved, t.to_move),
            (MoveTaskStatus::Completed, 3, 3)
        );
        assert_eq!(b.queue_info("src").await?.stats.visible, 3);
        dead_letter(&b, 1, 4).await?;
        let options = MoveTaskOptions {
            destination: Some("other".into()),
            rate_per_s: Some(500),
        };
        b.start_move_task("dlq", options).await?;
        assert_eq!(finished(&b).await?.moved, 4);
        assert_eq!(b.queue_info("other").await?.stats.visible, 4);
        assert_eq!(b.move_tasks("dlq").await?.len(), 2);
        b.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn bad_starts_and_cancels_are_refused() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| invalid(e.to_string()))?;
        let b = setup(dir.path()).await?;
        let kind = |r: Result<String>| r.err().map(|e| e.kind);
        let start = |q: &'static str, o: MoveTaskOptions| {
            let b = b.clone();
            async move { b.start_move_task(q, o).await }
        };
        assert_eq!(
            kind(start("src", MoveTaskOptions::default()).await),
            Some(ErrorKind::InvalidRequest)
        );
        assert_eq!(
            kind(start("nope", MoveTaskOptions::default()).await),
            Some(ErrorKind::QueueNotFound)
        );
        let fast = MoveTaskOptions {
            rate_per_s: Some(MAX_MOVE_RATE_PER_S + 1),
            ..MoveTaskOptions::default()
        };
        assert_eq!(
            kind(start("dlq", fast).await),
            Some(ErrorKind::InvalidRequest)
        );
        assert_eq!(
            b.cancel_move_task("nope").await.err().map(|e| e.kind),
            Some(ErrorKind::TaskNotFound)
        );
        b.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn a_slow_task_can_be_cancelled_once() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| invalid(e.to_string()))?;
        let b = setup(dir.path()).await?;
        dead_letter(&b, 20, 20).await?;
        let slow = MoveTaskOptions {
            rate_per_s: Some(5),
            ..MoveTaskOptions::default()
        };
        let handle = b.start_move_task("dlq", slow.clone()).await?;
        assert_eq!(
            b.start_move_task("dlq", slow).await.err().map(|e| e.kind),
            Some(ErrorKind::Conflict)
        );
        let cancelling = b.cancel_move_task(&handle).await?;
        assert_eq!(cancelling.status, MoveTaskStatus::Cancelling);
        let t = finished(&b).await?;
        assert_eq!(t.status, MoveTaskStatus::Cancelled);
        assert!(t.moved < 20);
        assert_eq!(
            b.cancel_move_task(&handle).await.err().map(|e| e.kind),
            Some(ErrorKind::Conflict)
        );
        let left = b.queue_info("dlq").await?.stats;
        assert_eq!(left.visible + left.in_flight + t.moved, 20);
        b.shutdown().await;
        Ok(())
    }
}

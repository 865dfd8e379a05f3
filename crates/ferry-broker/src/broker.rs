//! The one API every front end calls.

mod batches;
mod classic_groups;
mod groups;
mod meta;
mod move_tasks;
mod resequence;
mod stream_metrics;
mod streams;
mod transactions;

pub use batches::{BatchAppend, BatchRead, WaitTarget};
pub use classic_groups::{ClassicGroupSummary, CommitError, GroupCommit};
pub use groups::MAX_COMMIT_METADATA_BYTES;

pub use meta::MAX_TAGS;
pub use move_tasks::{MAX_MOVE_RATE_PER_S, MoveTask, MoveTaskOptions, MoveTaskStatus};
pub(crate) use resequence::ResultCheck;
pub use transactions::{
    MAX_TRANSACTION_ENTRIES, Transaction, TransactionAck, TransactionOutcome, TransactionPublish,
};

use crate::catalog::{Catalog, QueueRecord};
use crate::clock::wall_now;
use crate::config::BrokerConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::live_queue::{self, Incoming, MAX_ATTEMPT_ID_BYTES, QueueHandle};
use crate::registry::Registry;
use crate::types::*;
use ferry_core::queue::{
    Delivery, MAX_VISIBILITY_TIMEOUT_MS, NewMessage, Output, PeekedMessage, QueueConfig,
};
use ferry_core::stream::classic_group::ClassicGroupConfig;
use ferry_core::{MessageId, QueueName};
use ferry_log::io::{StdStorage, Storage};
use ferry_log::{Flusher, LogConfig};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A running broker: cheap to clone, safe to share between tasks.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

struct Inner {
    config: BrokerConfig,
    catalog: Catalog,
    registry: Arc<Registry>,
    flusher: Flusher,
    /// Where the logs' files live: the real file system, or a fault-injecting one in tests.
    storage: Arc<dyn Storage>,
    /// Serialises queue creation, update and deletion.
    admin: tokio::sync::Mutex<()>,
    closed: AtomicBool,
    /// Message move tasks (SQS `StartMessageMoveTask`), running and recent.
    move_tasks: move_tasks::MoveTasks,
    /// The live streams.
    streams: streams::Streams,
    /// The Kafka protocol's consumer groups.
    classic_groups: classic_groups::ClassicGroups,
    /// Set when the server stops: stream long polls end at once.
    stopping: tokio::sync::watch::Sender<bool>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidRequest, message)
}

fn io_error(what: &str, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Internal, format!("{what}: {e}"))
}

/// Removes what a deletion that failed half-way left at `dir`, where a new queue or stream is
/// about to be created (no catalog record names it), so that it starts empty.
///
/// # Errors
/// `internal` if it cannot be removed (the new one is then not created).
fn remove_leftovers(dir: &std::path::Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {
            tracing::warn!(dir = %dir.display(), "removed what a failed deletion left behind");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("remove a deleted one's leftovers", e)),
    }
}

impl Broker {
    /// Opens the data directory, recovers every queue, and starts their tasks.
    ///
    /// # Errors
    /// When the data directory or a queue's storage cannot be opened or recovered.
    pub async fn open(config: BrokerConfig) -> Result<Broker> {
        Broker::open_with_storage(config, Arc::new(StdStorage)).await
    }

    /// [`Broker::open`] with the queue logs' file operations going through `storage`: the
    /// seam for fault-injection tests (slow or failing fsyncs, torn writes).
    ///
    /// # Errors
    /// As for [`Broker::open`].
    pub async fn open_with_storage(
        config: BrokerConfig,
        storage: Arc<dyn Storage>,
    ) -> Result<Broker> {
        std::fs::create_dir_all(config.data_dir.join("queues"))
            .map_err(|e| io_error("create data dir", e))?;
        let catalog = Catalog::open(&config.data_dir.join("catalog.redb"))?;
        let classic_groups = classic_groups::ClassicGroups::new(ClassicGroupConfig {
            initial_rebalance_delay: config.group_initial_rebalance_delay,
            ..ClassicGroupConfig::default()
        });
        let inner = Inner {
            catalog,
            registry: Arc::new(Registry::default()),
            flusher: Flusher::start(),
            storage,
            admin: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
            move_tasks: move_tasks::MoveTasks::default(),
            streams: streams::Streams::default(),
            classic_groups,
            stopping: tokio::sync::watch::channel(false).0,
            config,
        };
        let broker = Broker {
            inner: Arc::new(inner),
        };
        let records = broker.inner.catalog.queues()?;
        for (name, record) in &records {
            broker.open_queue(name, record).await?;
        }
        broker.remove_orphan_dirs(&records);
        let streams = broker.open_streams()?;
        for (name, handle) in broker.inner.registry.all() {
            broker.start_releaser(&name, handle);
        }
        broker.start_stream_timers();
        tracing::info!(data_dir = %broker.inner.config.data_dir.display(), queues = records.len(), streams, "broker open");
        Ok(broker)
    }

    /// Starts the background rounds of streams: member session expiry and compaction. They
    /// hold only a weak reference, so they end with the broker.
    fn start_stream_timers(&self) {
        let weak = Arc::downgrade(&self.inner);
        let sweep = self.inner.config.group_sweep_interval;
        let compaction = self.inner.config.compaction_interval;
        tokio::spawn(async move {
            let mut sweep_tick = tokio::time::interval(sweep);
            let mut compaction_tick = tokio::time::interval(compaction);
            compaction_tick.tick().await;
            loop {
                let run_compaction = tokio::select! {
                    _ = sweep_tick.tick() => false,
                    _ = compaction_tick.tick() => true,
                };
                let Some(inner) = weak.upgrade() else { return };
                let broker = Broker { inner };
                if broker.inner.closed.load(Ordering::Acquire) {
                    return;
                }
                if run_compaction {
                    broker.compact_all().await;
                } else {
                    broker.expire_members();
                    broker.inner.classic_groups.tick();
                }
            }
        });
    }

    fn queue_dir(&self, name: &str) -> PathBuf {
        self.inner.config.data_dir.join("queues").join(name)
    }

    fn log_config(&self) -> LogConfig {
        LogConfig {
            segment_bytes: self.inner.config.segment_bytes,
            fsync: self.inner.config.fsync,
            ..LogConfig::default()
        }
    }

    async fn open_queue(&self, name: &str, record: &QueueRecord) -> Result<()> {
        let dir = self.queue_dir(name);
        let registry = Arc::clone(&self.inner.registry);
        let (handle, config) = live_queue::open(
            name,
            &dir,
            record,
            self.log_config(),
            &self.inner.flusher,
            Arc::clone(&self.inner.storage),
            registry,
        )
        .await?;
        if config != record.config {
            tracing::warn!(
                queue = name,
                "catalog config lagged the queue log; repairing the catalog"
            );
            self.inner.catalog.put(
                name,
                &QueueRecord {
                    config,
                    ..record.clone()
                },
            )?;
        }
        self.inner.registry.insert(name, handle);
        Ok(())
    }

    /// Deletes queue directories left by a deletion that crashed half-way.
    fn remove_orphan_dirs(&self, records: &[(String, QueueRecord)]) {
        let Ok(dirs) = std::fs::read_dir(self.inner.config.data_dir.join("queues")) else {
            return;
        };
        for dir in dirs.flatten() {
            let name = dir.file_name().to_string_lossy().into_owned();
            if !records.iter().any(|(n, _)| *n == name) {
                tracing::warn!(queue = %name, "removing the directory of a deleted queue");
                let _ = std::fs::remove_dir_all(dir.path());
            }
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::new(
                ErrorKind::Unavailable,
                "the broker is shutting down",
            ));
        }
        Ok(())
    }

    fn queue(&self, name: &str) -> Result<QueueHandle> {
        self.check_open()?;
        self.inner
            .registry
            .get(name)
            .ok_or_else(|| Error::queue_not_found(name))
    }

    /// Answers every waiting long poll empty now, and makes later receives return at once
    /// instead of waiting: the first step of a graceful shutdown, so that requests in flight
    /// finish promptly.
    pub async fn end_long_polls(&self) {
        self.inner.stopping.send_replace(true);
        for (_, handle) in self.inner.registry.all() {
            handle.end_waits().await;
        }
    }

    /// Flushes and stops every queue; later calls fail with `unavailable`.
    pub async fn shutdown(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        for (name, handle) in self.inner.registry.all() {
            if let Err(e) = handle.shutdown().await {
                tracing::error!(queue = %name, error = %e, "queue did not shut down cleanly");
            }
        }
        self.inner.stopping.send_replace(true);
        for stream in self.inner.streams.all() {
            for partition in stream.partitions() {
                if let Err(e) = partition.shutdown().await {
                    tracing::error!(stream = %stream.name, error = %e, "partition did not shut down cleanly");
                }
            }
        }
        self.inner.flusher.shutdown();
        tracing::info!("broker stopped");
    }

    /// Creates the queue, or replaces the config of an existing one.
    ///
    /// # Errors
    /// `invalid_name`, `invalid_config` (including a dead-letter queue that does not exist).
    pub async fn put_queue(&self, name: &str, config: QueueConfig) -> Result<Upsert> {
        self.check_open()?;
        let queue_name = QueueName::new(name)?;
        config.validate(&queue_name)?;
        let _admin = self.inner.admin.lock().await;
        if let Some(dlq) = &config.dead_letter_queue
            && self.inner.registry.get(dlq).is_none()
        {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                format!("invalid config: dead_letter_queue: queue {dlq:?} does not exist"),
            ));
        }
        self.check_resequence_output(&config)?;
        let now = wall_now();
        let existing = self
            .inner
            .catalog
            .queues()?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r);
        if let Some(record) = existing {
            record.config.check_update(&config)?;
            self.queue(name)?.configure(config.clone()).await?;
            self.inner.catalog.put(
                name,
                &QueueRecord {
                    config,
                    updated_at: now,
                    ..record
                },
            )?;
            return Ok(Upsert::Updated);
        }
        let record = QueueRecord {
            uid: rand::random(),
            config,
            created_at: now,
            updated_at: now,
            tags: Default::default(),
            attributes: Default::default(),
        };
        remove_leftovers(&self.queue_dir(name))?;
        self.inner.catalog.put(name, &record)?;
        self.open_queue(name, &record).await?;
        self.start_releaser(name, self.queue(name)?);
        tracing::info!(queue = name, "queue created");
        Ok(Upsert::Created)
    }

    /// Every queue, by name.
    ///
    /// # Errors
    /// `internal` when the catalog cannot be read (never an empty list instead).
    pub async fn list_queues(&self) -> Result<Vec<QueueSummary>> {
        let records = self.inner.catalog.queues()?;
        Ok(records
            .into_iter()
            .map(|(name, r)| QueueSummary {
                name,
                config: r.config,
            })
            .collect())
    }

    /// One queue's config and stats.
    ///
    /// # Errors
    /// `queue_not_found`.
    pub async fn queue_info(&self, name: &str) -> Result<QueueInfo> {
        let stats = self.queue(name)?.stats().await?;
        let records = self.inner.catalog.queues()?;
        let sources = records
            .iter()
            .filter(|(_, r)| r.config.dead_letter_queue.as_deref() == Some(name))
            .map(|(n, _)| n.clone())
            .collect();
        let (_, record) = records
            .into_iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| Error::queue_not_found(name))?;
        Ok(QueueInfo {
            name: name.to_owned(),
            config: record.config,
            stats,
            created_at: record.created_at,
            updated_at: record.updated_at,
            dead_letter_sources: sources,
        })
    }

    /// Deletes the queue and its messages.
    ///
    /// # Errors
    /// `queue_not_found`; `conflict` if another queue uses it as its dead-letter queue.
    pub async fn delete_queue(&self, name: &str) -> Result<()> {
        self.check_open()?;
        let _admin = self.inner.admin.lock().await;
        let handle = self.queue(name)?;
        let records = self.inner.catalog.queues()?;
        if let Some((source, _)) = records
            .iter()
            .find(|(_, r)| r.config.dead_letter_queue.as_deref() == Some(name))
        {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("queue {name:?} is the dead-letter queue of {source:?}"),
            ));
        }
        if let Some(source) = self.resequence_source_of(&Output::Queue(name.to_owned()))? {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("queue {name:?} is the resequence output of {source:?}"),
            ));
        }
        self.inner.registry.remove(name);
        handle.stop().await?;
        self.inner.catalog.remove(name)?;
        std::fs::remove_dir_all(self.queue_dir(name))
            .map_err(|e| io_error("remove queue dir", e))?;
        tracing::info!(queue = name, "queue deleted");
        Ok(())
    }

    /// Enqueues a batch; answers once it is durable.
    ///
    /// # Errors
    /// `queue_not_found`, `invalid_request` (empty batch, bad message), `batch_too_large`,
    /// `message_too_large`, `queue_full`; nothing is stored then.
    pub async fn send(&self, name: &str, messages: Vec<NewMessage>) -> Result<Vec<Sent>> {
        let queue = self.queue(name)?;
        self.check_batch(messages.len(), "messages")?;
        queue
            .send(
                messages
                    .into_iter()
                    .map(|message| Incoming {
                        message,
                        dead_letter: None,
                    })
                    .collect(),
            )
            .await
    }

    fn check_batch(&self, len: usize, what: &str) -> Result<()> {
        check_batch_len(len, self.inner.config.max_batch_messages, what)
    }

    /// Refuses a long-poll wait longer than the broker allows.
    fn check_wait(&self, wait: Duration) -> Result<()> {
        if wait > self.inner.config.max_wait {
            return Err(invalid(format!(
                "wait_ms must be at most {}",
                self.inner.config.max_wait.as_millis()
            )));
        }
        Ok(())
    }
}

/// Refuses an empty batch or one of more than `max` entries.
fn check_batch_len(len: usize, max: usize, what: &str) -> Result<()> {
    if len == 0 {
        return Err(invalid(format!("{what}: the batch is empty")));
    }
    if len > max {
        return Err(Error::new(
            ErrorKind::BatchTooLarge,
            format!("{what}: {len} entries is more than the maximum of {max}"),
        ));
    }
    Ok(())
}

impl Broker {
    /// Receives up to `options.max` messages, waiting up to `options.wait` for the first.
    ///
    /// # Errors
    /// `queue_not_found`, `invalid_request` for out-of-range options.
    pub async fn receive(&self, name: &str, options: ReceiveOptions) -> Result<Vec<Delivery>> {
        let queue = self.queue(name)?;
        let max = self.inner.config.max_receive_messages;
        if options.max == 0 || options.max > max {
            return Err(invalid(format!("max must be 1 to {max}")));
        }
        self.check_wait(options.wait)?;
        if options
            .visibility_timeout
            .is_some_and(|v| v > Duration::from_millis(MAX_VISIBILITY_TIMEOUT_MS))
        {
            return Err(invalid(format!(
                "visibility_timeout_ms must be at most {MAX_VISIBILITY_TIMEOUT_MS}"
            )));
        }
        if options
            .attempt_id
            .as_ref()
            .is_some_and(|id| id.is_empty() || id.len() > MAX_ATTEMPT_ID_BYTES)
        {
            return Err(invalid(format!(
                "attempt_id must be 1 to {MAX_ATTEMPT_ID_BYTES} bytes"
            )));
        }
        queue.receive(options).await
    }

    /// Acks (deletes) leased messages.
    ///
    /// # Errors
    /// `queue_not_found`, `invalid_request`/`batch_too_large` for the batch itself; bad receipts
    /// are reported per entry in the outcome.
    pub async fn ack(&self, name: &str, receipts: Vec<String>) -> Result<BatchOutcome> {
        let queue = self.queue(name)?;
        self.check_batch(receipts.len(), "receipts")?;
        queue.ack(receipts).await
    }

    /// Gives leased messages back, after `delay` or the queue's backoff.
    ///
    /// # Errors
    /// As for [`Broker::ack`].
    pub async fn nack(
        &self,
        name: &str,
        receipts: Vec<String>,
        delay: Option<Duration>,
        reason: Option<String>,
    ) -> Result<BatchOutcome> {
        let queue = self.queue(name)?;
        self.check_batch(receipts.len(), "receipts")?;
        if delay.is_some_and(|d| d > Duration::from_millis(MAX_VISIBILITY_TIMEOUT_MS)) {
            return Err(invalid(format!(
                "delay_ms must be at most {MAX_VISIBILITY_TIMEOUT_MS}"
            )));
        }
        queue.nack(receipts, delay, reason).await
    }

    /// Sets the remaining lease of leased messages to `timeout` from now (0 releases them).
    ///
    /// # Errors
    /// As for [`Broker::ack`].
    pub async fn change_visibility(
        &self,
        name: &str,
        receipts: Vec<String>,
        timeout: Duration,
    ) -> Result<BatchOutcome> {
        let queue = self.queue(name)?;
        self.check_batch(receipts.len(), "receipts")?;
        if timeout > Duration::from_millis(MAX_VISIBILITY_TIMEOUT_MS) {
            return Err(invalid(format!(
                "visibility_timeout_ms must be at most {MAX_VISIBILITY_TIMEOUT_MS}"
            )));
        }
        queue.change_visibility(receipts, timeout).await
    }

    /// Browses messages in queue order without leasing them.
    ///
    /// # Errors
    /// `queue_not_found`.
    pub async fn peek(&self, name: &str, limit: usize) -> Result<Vec<PeekedMessage>> {
        self.queue(name)?.peek(limit).await
    }

    /// Removes one message that is not in flight.
    ///
    /// # Errors
    /// `queue_not_found`, `message_not_found`, `conflict` if it is in flight.
    pub async fn cancel(&self, name: &str, id: MessageId) -> Result<()> {
        self.queue(name)?.cancel(id).await
    }

    /// Removes every message; returns how many.
    ///
    /// # Errors
    /// `queue_not_found`.
    pub async fn purge(&self, name: &str) -> Result<u64> {
        self.queue(name)?.purge().await
    }

    /// Moves messages from a dead-letter queue back to their source queues; returns how many.
    ///
    /// # Errors
    /// `queue_not_found`; `invalid_request` for a bad rate.
    pub async fn redrive(&self, name: &str, options: RedriveOptions) -> Result<u64> {
        let moved = crate::redrive::run(self, name, options).await?;
        tracing::info!(queue = name, moved, "redrive finished");
        Ok(moved)
    }

    /// Every live queue's and stream's numbers and the storage's, as of now (see
    /// [`crate::metrics`]). Queues and streams that are shutting down are left out.
    pub async fn metrics(&self, detail: crate::metrics::Detail) -> crate::metrics::MetricsSnapshot {
        let mut queues = Vec::new();
        for (_, handle) in self.inner.registry.all() {
            if let Ok(q) = handle.metrics(detail).await {
                queues.push(q);
            }
        }
        queues.sort_by(|a, b| a.name.cmp(&b.name));
        let streams = self.stream_metrics(detail).await;
        crate::metrics::MetricsSnapshot {
            taken_at: wall_now(),
            queues,
            streams,
            flusher: self.inner.flusher.stats(),
        }
    }

    /// The handle of a live queue (for crate-internal workflows such as redrive).
    pub(crate) fn handle(&self, name: &str) -> Result<QueueHandle> {
        self.queue(name)
    }
}

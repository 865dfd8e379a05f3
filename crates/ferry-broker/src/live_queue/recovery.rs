//! Opening a queue: load the latest snapshot, replay the log written since, start the task.

use super::task::LiveQueue;
use super::{CHANNEL_CAPACITY, KIND_QUEUE_COMMAND, QueueHandle};
use crate::catalog::QueueRecord;
use crate::error::{Error, ErrorKind, Result};
use crate::registry::Registry;
use crate::snapshot::{self, Found};
use ferry_core::queue::{BlobsAt, Command, QueueConfig, QueueState, decode_record};
use ferry_log::io::Storage;
use ferry_log::{Flusher, Log, LogConfig};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Rebuilds the queue's state from its snapshot and log.
fn replay(log: &Log, dir: &Path, record: &QueueRecord) -> Result<(Option<QueueState>, u64)> {
    let (mut state, from) = match snapshot::read(dir) {
        Found::State(state, offset)
            if (log.start_offset()..=log.next_offset()).contains(&offset) =>
        {
            (Some(*state), offset)
        }
        Found::State(_, offset) if log.start_offset() == 0 => {
            tracing::error!(dir = %dir.display(), offset, "snapshot does not match the log; replaying the whole log");
            (None, 0)
        }
        Found::State(_, offset) => {
            // Replaying what is left would rebuild the queue without the messages of the
            // reclaimed segments: refuse rather than lose them silently.
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "queue {}: its snapshot covers the log to offset {offset}, but the log on \
                     disk holds offsets {} to {} and the log before {} was reclaimed, so the \
                     queue cannot be rebuilt; the log or the snapshot was damaged or lost",
                    dir.display(),
                    log.start_offset(),
                    log.next_offset(),
                    log.start_offset()
                ),
            ));
        }
        Found::Outdated(_) if log.start_offset() == 0 => {
            tracing::info!(dir = %dir.display(), "snapshot from an older version; replaying the whole log instead");
            (None, 0)
        }
        Found::Outdated(offset) => {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "queue {}: its snapshot (covering the log to offset {offset}) was written by an \
                     older Ferry in a format this version cannot read, and the log before offset {} \
                     was reclaimed, so this version cannot rebuild the queue",
                    dir.display(),
                    log.start_offset()
                ),
            ));
        }
        Found::Nothing => (None, log.start_offset()),
    };
    let mut replayed = 0u64;
    for record_read in log.replay(from)? {
        let rec = record_read?;
        if rec.kind != KIND_QUEUE_COMMAND {
            continue;
        }
        let (command, blobs_offset) = decode_record(&rec.payload).map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("queue log {} offset {}: {e}", dir.display(), rec.offset),
            )
        })?;
        let state = state.get_or_insert_with(|| QueueState::new(record.uid, record.config.clone()));
        let blobs = BlobsAt {
            segment: rec.location.segment,
            position: rec.location.position + blobs_offset as u64,
        };
        state.apply(&command, blobs);
        replayed += 1;
    }
    Ok((state, replayed))
}

/// Opens (or creates) the queue `name` in `dir` and starts its task. Returns its handle and the
/// config its log says it has (which wins over the catalog's if they differ).
pub(crate) async fn open(
    name: &str,
    dir: &Path,
    record: &QueueRecord,
    log_config: LogConfig,
    flusher: &Flusher,
    storage: Arc<dyn Storage>,
    registry: Arc<Registry>,
) -> Result<(QueueHandle, QueueConfig)> {
    let mut log = Log::open_with_storage(dir, log_config, flusher, storage)?;
    let report = log.recovery().clone();
    let (state, replayed) = replay(&log, dir, record)?;
    let fresh = state.is_none();
    let mut state = state.unwrap_or_else(|| QueueState::new(record.uid, record.config.clone()));
    state.mark_all_durable();
    tracing::info!(queue = name, messages = state.len(), replayed, recovery = ?report, "queue opened");
    if fresh {
        let command = Command::Configure {
            now: crate::clock::wall_now(),
            config: record.config.clone(),
            uid: record.uid,
        };
        let payload = ferry_core::queue::encode_record(&command, &[])
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        log.append(command.now().as_millis(), KIND_QUEUE_COMMAND, &payload)?;
        log.sync().await?;
        state.apply(&command, BlobsAt::default());
    }
    let config = state.config().clone();
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (releases_tx, releases) = tokio::sync::watch::channel(0);
    let handle = QueueHandle {
        name: Arc::from(name),
        tx: tx.clone(),
        releases,
    };
    let mut queue = LiveQueue::new(
        name.to_owned(),
        state,
        log,
        registry,
        tx.downgrade(),
        releases_tx,
    );
    queue.set_recovery(crate::metrics::RecoveryMetrics::new(&report, replayed));
    tokio::spawn(queue.run(rx));
    Ok((handle, config))
}

//! A live partition: one tokio task owns a partition's log. Appends are answered once
//! durable, reads see only durable records (a crash can never take back a record a consumer
//! saw, nor give its offset to another record), and retention runs on a timer.

use crate::clock::wall_now;
use crate::error::{Error, ErrorKind, Result};
use crate::stream_types::PartitionInfo;
use ferry_core::Timestamp;
use ferry_core::stream::{
    OffsetError, PartitionState, ProducerBatch, ProducerError, ProducerStates, StreamConfig,
    Verdict, decode_header, origin_of, retention_cutoff, set_base_offset,
};
use ferry_log::{Log, RewrittenSegment, SegmentSource, SyncTicket};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// The log record kind of a stream batch (a Kafka v2 record batch).
pub(crate) const KIND_STREAM_BATCH: u8 = 2;

/// How many requests may wait in a partition's channel before senders wait too.
const CHANNEL_CAPACITY: usize = 1024;

type Reply<T> = oneshot::Sender<Result<T>>;

/// A batch encoded by the caller (with base offset 0); the task only stamps its offset.
pub(crate) struct EncodedBatch {
    /// The v2 record batch.
    pub(crate) bytes: Vec<u8>,
    /// How many offsets it takes (its record count).
    pub(crate) span: u32,
    /// Its largest record timestamp: what the log's time index sees.
    pub(crate) max_timestamp: Timestamp,
    /// Its idempotent producer's fields, checked against the partition's producer state
    /// (`None` for batches Ferry encoded itself).
    pub(crate) producer: Option<ProducerBatch>,
    /// For a resequencer's batch: the releasing queue's origin id and the batch's last release
    /// number (also marked in the header, see `ferry_core::stream::mark_origin`).
    pub(crate) origin: Option<(i64, u64)>,
}

/// Stored batches read from a partition, only durable ones.
pub(crate) struct Chunk {
    /// Whole batches: the first may start before the offset asked for.
    pub(crate) batches: Vec<ferry_log::Record>,
    /// The partition's extent when read.
    pub(crate) ends: Ends,
}

/// A partition's extent: what readers may see.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ends {
    /// First stored offset.
    pub(crate) start: u64,
    /// End of the durable records: the next offset to be appended once all in flight are.
    pub(crate) end: u64,
}

/// What a partition task is asked to do.
pub(crate) enum Request {
    Append {
        batch: EncodedBatch,
        expected_offset: Option<u64>,
        reply: Reply<u64>,
    },
    Read {
        from: u64,
        max_bytes: usize,
        reply: Reply<Chunk>,
    },
    Info {
        reply: Reply<PartitionInfo>,
    },
    OffsetForTimestamp {
        timestamp: Timestamp,
        reply: Reply<Option<u64>>,
    },
    Configure {
        config: Arc<StreamConfig>,
    },
    /// Hand out the closed segments for a compaction run.
    ClosedSegments {
        reply: Reply<Vec<SegmentSource>>,
    },
    /// Swap in a compacted segment.
    Replace {
        segment: RewrittenSegment,
        reply: Reply<bool>,
    },
    /// Move the start forward to `offset` (Kafka's DeleteRecords); answers the new start.
    DeleteBefore {
        offset: u64,
        reply: Reply<u64>,
    },
    /// The last release of a resequencing queue (by origin id) this partition holds.
    OriginMark {
        origin: i64,
        reply: Reply<u64>,
    },
    /// Wait for what is in flight and stop.
    Shutdown {
        reply: Reply<()>,
    },
}

/// The way to a partition's task. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct PartitionHandle {
    tx: mpsc::Sender<Request>,
    ends: watch::Receiver<Ends>,
}

impl PartitionHandle {
    fn gone() -> Error {
        Error::new(ErrorKind::Unavailable, "the partition is shutting down")
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| Self::gone())?;
        rx.await.map_err(|_| Self::gone())?
    }

    /// Appends a batch; answers its base offset once durable.
    pub(crate) async fn append(
        &self,
        batch: EncodedBatch,
        expected_offset: Option<u64>,
    ) -> Result<u64> {
        self.call(|reply| Request::Append {
            batch,
            expected_offset,
            reply,
        })
        .await
    }

    /// The last release of resequencing queue `origin` this partition holds (0 if none).
    pub(crate) async fn origin_mark(&self, origin: i64) -> Result<u64> {
        self.call(|reply| Request::OriginMark { origin, reply })
            .await
    }

    /// Reads whole durable batches from the one holding `from` (or the next one stored).
    pub(crate) async fn read(&self, from: u64, max_bytes: usize) -> Result<Chunk> {
        self.call(|reply| Request::Read {
            from,
            max_bytes,
            reply,
        })
        .await
    }

    pub(crate) async fn info(&self) -> Result<PartitionInfo> {
        self.call(|reply| Request::Info { reply }).await
    }

    pub(crate) async fn offset_for_timestamp(&self, timestamp: Timestamp) -> Result<Option<u64>> {
        self.call(|reply| Request::OffsetForTimestamp { timestamp, reply })
            .await
    }

    pub(crate) async fn configure(&self, config: Arc<StreamConfig>) {
        let _ = self.tx.send(Request::Configure { config }).await;
    }

    pub(crate) async fn closed_segments(&self) -> Result<Vec<SegmentSource>> {
        self.call(|reply| Request::ClosedSegments { reply }).await
    }

    pub(crate) async fn replace(&self, segment: RewrittenSegment) -> Result<bool> {
        self.call(|reply| Request::Replace { segment, reply }).await
    }

    /// Moves the partition's start forward to `offset` (at most its end); answers the new
    /// start. The caller has made the new start durable.
    pub(crate) async fn delete_before(&self, offset: u64) -> Result<u64> {
        self.call(|reply| Request::DeleteBefore { offset, reply })
            .await
    }

    pub(crate) async fn shutdown(&self) -> Result<()> {
        self.call(|reply| Request::Shutdown { reply }).await
    }

    /// The extent readers may see now.
    pub(crate) fn ends(&self) -> Ends {
        *self.ends.borrow()
    }

    /// A receiver that changes whenever the extent does: for long polls.
    pub(crate) fn watch(&self) -> watch::Receiver<Ends> {
        self.ends.clone()
    }
}

/// An append written but not yet durable.
struct Pending {
    ticket: SyncTicket,
    base_offset: u64,
    end: u64,
    reply: Reply<u64>,
}

/// The state owned by a partition's task.
struct LivePartition {
    label: String,
    log: Log,
    /// The offset marks: next, durable end, start.
    state: PartitionState,
    config: Arc<StreamConfig>,
    ends: watch::Sender<Ends>,
    pending: VecDeque<Pending>,
    /// Idempotent producers' sequences: what drops retried batches.
    producers: ProducerStates,
    /// Resequencing queues' last releases stored here, by origin id.
    origins: HashMap<i64, u64>,
    /// Set once storage failed: every later request gets this error.
    failed: Option<Error>,
}

/// Starts the task of a recovered partition log. Records below `start_floor` count as
/// deleted even if the log still holds them (a client moved the start there).
pub(crate) fn start(
    label: String,
    log: Log,
    config: Arc<StreamConfig>,
    retention_interval: Duration,
    start_floor: u64,
) -> PartitionHandle {
    let mut state = PartitionState::recovered(log.start_offset(), log.next_offset());
    state.retained(start_floor);
    let (mut producers, origins) = rebuild_producers(&label, &log);
    // As the live state does when the start moves: producers whose batches all lie below it
    // are forgotten.
    producers.retained(state.start());
    let initial = Ends {
        start: state.start(),
        end: state.durable_end(),
    };
    let (ends_tx, ends_rx) = watch::channel(initial);
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let partition = LivePartition {
        label,
        log,
        state,
        config,
        ends: ends_tx,
        pending: VecDeque::new(),
        producers,
        origins,
        failed: None,
    };
    tokio::spawn(partition.run(rx, retention_interval));
    PartitionHandle { tx, ends: ends_rx }
}

async fn next_durable(
    pending: &mut VecDeque<Pending>,
) -> std::result::Result<(), ferry_log::LogError> {
    match pending.front_mut() {
        Some(p) => (&mut p.ticket).await,
        None => std::future::pending().await,
    }
}

impl LivePartition {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>, retention_interval: Duration) {
        let mut retention = tokio::time::interval(retention_interval);
        retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                durable = next_durable(&mut self.pending) => self.on_durable(durable),
                request = rx.recv() => match request {
                    Some(Request::Shutdown { reply }) => {
                        let _ = reply.send(self.shutdown().await);
                        return;
                    }
                    Some(request) => self.on_request(request),
                    None => {
                        let _ = self.shutdown().await;
                        return;
                    }
                },
                _ = retention.tick() => self.on_retention(),
            }
        }
    }

    fn on_request(&mut self, request: Request) {
        match request {
            Request::Append {
                batch,
                expected_offset,
                reply,
            } => self.on_append(batch, expected_offset, reply),
            Request::Read {
                from,
                max_bytes,
                reply,
            } => {
                let _ = reply.send(self.on_read(from, max_bytes));
            }
            Request::Info { reply } => {
                let _ = reply.send(Ok(self.info()));
            }
            Request::OffsetForTimestamp { timestamp, reply } => {
                let ends = *self.ends.borrow();
                // A batch straddling the start (DeleteRecords) may answer below it.
                let found = self
                    .log
                    .offset_for_timestamp(timestamp.as_millis())
                    .map(|o| o.map(|o| o.max(ends.start)).filter(|&o| o < ends.end))
                    .map_err(Error::from);
                let _ = reply.send(found);
            }
            Request::Configure { config } => self.config = config,
            Request::ClosedSegments { reply } => {
                let _ = reply.send(self.closed_segments());
            }
            Request::Replace { segment, reply } => {
                let replaced = self.log.replace_segment(segment).map_err(Error::from);
                self.publish_ends();
                let _ = reply.send(replaced);
            }
            Request::DeleteBefore { offset, reply } => {
                let _ = reply.send(self.delete_before(offset));
            }
            Request::OriginMark { origin, reply } => {
                let _ = reply.send(Ok(self.origins.get(&origin).copied().unwrap_or(0)));
            }
            Request::Shutdown { .. } => {}
        }
    }

    fn check_failed(&self) -> Result<()> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn on_append(&mut self, mut batch: EncodedBatch, expected: Option<u64>, reply: Reply<u64>) {
        if let Err(e) = self.check_failed() {
            let _ = reply.send(Err(e));
            return;
        }
        let next = match self.state.check_append(expected) {
            Ok(next) => next,
            Err(rejection) => {
                let _ = reply.send(Err(self.offset_error(rejection)));
                return;
            }
        };
        let producer = batch.producer.filter(ProducerBatch::is_idempotent);
        if let Some((origin, release)) = batch.origin {
            if self
                .origins
                .get(&origin)
                .is_some_and(|&mark| release <= mark)
            {
                // A repeated hand-over: already stored; answer once what is written is durable.
                self.pending.push_back(Pending {
                    ticket: self.log.sync(),
                    base_offset: self.state.next(),
                    end: self.state.next(),
                    reply,
                });
                return;
            }
        } else if let Some(producer) = &producer {
            match self.producers.check(producer) {
                Ok(Verdict::Append) => {}
                Ok(Verdict::Duplicate { base_offset, .. }) => {
                    // A retry: answer with the original offsets once they are durable.
                    self.pending.push_back(Pending {
                        ticket: self.log.sync(),
                        base_offset,
                        end: self.state.next(),
                        reply,
                    });
                    return;
                }
                Err(e) => {
                    let _ = reply.send(Err(producer_error(&self.label, e)));
                    return;
                }
            }
        }
        debug_assert_eq!(next, self.log.next_offset());
        if let Err(e) = set_base_offset(&mut batch.bytes, next) {
            let _ = reply.send(Err(Error::new(ErrorKind::Internal, e.to_string())));
            return;
        }
        let appended = self.log.append_span(
            batch.max_timestamp.as_millis(),
            KIND_STREAM_BATCH,
            &batch.bytes,
            batch.span,
        );
        match appended {
            Ok(appended) => {
                if let Some((origin, release)) = batch.origin {
                    self.origins.insert(origin, release);
                } else if let Some(producer) = &producer {
                    self.producers.record(producer, appended.offset);
                }
                self.pending.push_back(Pending {
                    ticket: self.log.sync(),
                    base_offset: appended.offset,
                    end: self.state.appended(batch.span),
                    reply,
                });
            }
            Err(e) => {
                let e = Error::from(e);
                if self.log.is_poisoned() {
                    self.failed = Some(e.clone());
                }
                let _ = reply.send(Err(e));
            }
        }
    }

    fn on_durable(&mut self, result: std::result::Result<(), ferry_log::LogError>) {
        match result {
            Ok(()) => {
                if let Some(p) = self.pending.pop_front() {
                    self.state.durable(p.end);
                    self.publish_ends();
                    let _ = p.reply.send(Ok(p.base_offset));
                }
            }
            Err(e) => {
                let e = Error::from(e);
                tracing::error!(partition = %self.label, error = %e, "sync failed; the partition refuses writes");
                self.failed = Some(e.clone());
                for p in self.pending.drain(..) {
                    let _ = p.reply.send(Err(e.clone()));
                }
            }
        }
    }

    fn offset_error(&self, e: OffsetError) -> Error {
        let kind = match e {
            OffsetError::Mismatch { .. } => ErrorKind::OffsetMismatch,
            _ => ErrorKind::OffsetOutOfRange,
        };
        let mut error = Error::new(kind, format!("{}: {e}", self.label));
        if let OffsetError::Mismatch { next, .. } = e {
            error.next_offset = Some(next);
        }
        error
    }

    fn on_read(&self, from: u64, max_bytes: usize) -> Result<Chunk> {
        let ends = *self.ends.borrow();
        let from = self
            .state
            .read_start(from)
            .map_err(|e| self.offset_error(e))?
            .offset;
        if from >= ends.end {
            return Ok(Chunk {
                batches: Vec::new(),
                ends,
            });
        }
        let mut batches = self.log.read(from, max_bytes)?;
        batches.retain(|b| b.offset < ends.end);
        Ok(Chunk { batches, ends })
    }

    fn info(&self) -> PartitionInfo {
        let segments = self.log.segments();
        let ends = *self.ends.borrow();
        PartitionInfo {
            partition: 0,
            start_offset: ends.start,
            end_offset: ends.end,
            bytes: segments.iter().map(|s| s.bytes).sum(),
            segments: u32::try_from(segments.len()).unwrap_or(u32::MAX),
        }
    }

    fn closed_segments(&self) -> Result<Vec<SegmentSource>> {
        self.log
            .segments()
            .iter()
            .filter(|s| !s.is_active)
            .map(|s| self.log.segment_source(s.base_offset).map_err(Error::from))
            .collect()
    }

    fn delete_before(&mut self, offset: u64) -> Result<u64> {
        self.check_failed()?;
        let end = self.state.durable_end();
        if offset > end {
            return Err(Error::new(
                ErrorKind::OffsetOutOfRange,
                format!("{}: offset {offset} is past the end ({end})", self.label),
            ));
        }
        self.state.retained(offset);
        let start = self.state.start();
        match self.log.delete_segments_before(start) {
            Ok(n) if n > 0 => {
                tracing::info!(partition = %self.label, segments = n, start_offset = start, "records deleted")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(partition = %self.label, error = %e, "cannot remove deleted segments yet")
            }
        }
        self.producers.retained(start);
        self.publish_ends();
        Ok(start)
    }

    /// Deletes the closed segments retention no longer keeps.
    fn on_retention(&mut self) {
        if self.failed.is_some() {
            return;
        }
        let segments = self.log.segments();
        let Some(cutoff) = retention_cutoff(&segments_view(&segments), &self.config, wall_now())
        else {
            return;
        };
        match self.log.delete_segments_before(cutoff) {
            Ok(0) => {}
            Ok(n) => {
                self.state.retained(self.log.start_offset());
                self.producers.retained(self.log.start_offset());
                tracing::info!(partition = %self.label, segments = n, start_offset = self.state.start(), "retention removed segments");
                self.publish_ends();
            }
            Err(e) => tracing::warn!(partition = %self.label, error = %e, "retention failed"),
        }
    }

    /// Tells readers the current extent, if it changed.
    fn publish_ends(&self) {
        let now = Ends {
            start: self.state.start(),
            end: self.state.durable_end(),
        };
        self.ends.send_if_modified(|ends| {
            let changed = *ends != now;
            *ends = now;
            changed
        });
    }

    async fn shutdown(&mut self) -> Result<()> {
        while !self.pending.is_empty() {
            let result = next_durable(&mut self.pending).await;
            self.on_durable(result);
        }
        self.check_failed()
    }
}

/// How many of the newest segments are scanned for producer state at startup. A producer
/// whose last batch is older than these is unknown after a restart, and may then start at any
/// sequence (see `ferry_core::stream::producer`); scanning every segment would make startup
/// time grow with the data kept.
const PRODUCER_SCAN_SEGMENTS: usize = 2;

/// The idempotent producers' state and the resequencers' last releases, rebuilt from the
/// headers of the newest stored batches.
fn rebuild_producers(label: &str, log: &Log) -> (ProducerStates, HashMap<i64, u64>) {
    let mut producers = ProducerStates::new();
    let mut origins = HashMap::new();
    let segments = log.segments();
    let Some(first) = segments.get(segments.len().saturating_sub(PRODUCER_SCAN_SEGMENTS)) else {
        return (producers, origins);
    };
    let mut from = first.base_offset;
    let end = log.next_offset();
    while from < end {
        let records = match log.read(from, 4 * 1024 * 1024) {
            Ok(records) if !records.is_empty() => records,
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(partition = %label, error = %e, "cannot read producer state; producers start afresh");
                break;
            }
        };
        for record in &records {
            if record.kind == KIND_STREAM_BATCH
                && let Ok(header) = decode_header(&record.payload)
            {
                match origin_of(&header) {
                    Some((origin, release)) => {
                        origins.insert(origin, release);
                    }
                    None => {
                        producers.observe(&header);
                    }
                }
            }
            from = from.max(record.offset + u64::from(record.span));
        }
    }
    (producers, origins)
}

/// A producer-state refusal as a broker error.
fn producer_error(label: &str, e: ProducerError) -> Error {
    let kind = match e {
        ProducerError::InvalidProducerEpoch { .. } => ErrorKind::ProducerFenced,
        ProducerError::OutOfOrderSequence { .. } => ErrorKind::OutOfOrderSequence,
        _ => ErrorKind::InvalidRecord,
    };
    Error::new(kind, format!("{label}: {e}"))
}

/// The segments as the pure retention rule sees them.
fn segments_view(segments: &[ferry_log::SegmentInfo]) -> Vec<ferry_core::stream::SegmentExtent> {
    segments
        .iter()
        .map(|s| ferry_core::stream::SegmentExtent {
            base_offset: s.base_offset,
            next_offset: s.next_offset,
            bytes: s.bytes,
            max_timestamp: s.max_timestamp_ms.map(Timestamp),
            is_active: s.is_active,
        })
        .collect()
}

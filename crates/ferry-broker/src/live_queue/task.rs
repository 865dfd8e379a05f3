//! The queue task: decide → append → apply for every request, replies once durable where the
//! reply promises durability, long polls, and timers.

use super::attempts::Attempts;
use super::read::{FreshBlobs, Leased};
use super::{Incoming, KIND_QUEUE_COMMAND, Reply, Request};
use crate::clock::MonotonicClock;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::{Detail, QueueEvents, QueueMetrics, RecoveryMetrics, StorageMetrics};
use crate::registry::Registry;
use crate::types::{AckMode, BatchOutcome, ReceiveOptions, Sent};
use ferry_core::queue::{
    BlobParts, BlobsAt, Command, NewMessage, Rejection, encode_blob_parts, encode_record,
};
use ferry_core::{MessageId, Receipt};
use ferry_log::{Log, SyncTicket};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Encoded blobs by batch position, taken out as they are stored.
pub(super) type Blobs = Vec<Option<Vec<u8>>>;

/// A reply held back until the log is durable up to its record.
pub(super) struct Pending {
    ticket: SyncTicket,
    /// Messages below this seq become deliverable once the ticket completes.
    durable_below: u64,
    /// Releases up to this number may be handed to the output once the ticket completes.
    release_end: u64,
    done: Box<dyn FnOnce(Result<()>) + Send>,
}

/// A long-polling receive.
struct Waiter {
    options: ReceiveOptions,
    deadline: Instant,
    reply: Reply<Vec<Leased>>,
}

/// The state owned by a queue's task.
pub(crate) struct LiveQueue {
    pub(super) name: String,
    pub(super) state: ferry_core::queue::QueueState,
    pub(super) log: Log,
    pub(super) clock: MonotonicClock,
    pub(super) registry: Arc<Registry>,
    pub(super) self_tx: mpsc::WeakSender<Request>,
    pub(super) pending: VecDeque<Pending>,
    waiters: VecDeque<Waiter>,
    /// Blobs of recently enqueued messages, so a prompt delivery needs no read.
    pub(super) fresh: FreshBlobs,
    /// Recent receive attempts, for repeating one whose reply was lost.
    pub(super) attempts: Attempts,
    /// The server is stopping: receives no longer wait.
    ending: bool,
    /// Dead-lettering messages handed to the dead-letter queue and not yet confirmed.
    pub(super) forwarding: HashSet<u64>,
    pub(super) records_since_snapshot: u64,
    /// Base offset of the segment the last append went to.
    pub(super) active_segment: u64,
    /// Whether the log started a new segment since the last snapshot.
    pub(super) rolled_since_snapshot: bool,
    /// Set once storage failed: every later request gets this error.
    failed: Option<Error>,
    /// What the state does not remember: latencies, redeliveries, rejections.
    pub(super) events: QueueEvents,
    /// Log counters since the task started (segments and bytes are filled in when asked).
    pub(super) storage: StorageMetrics,
    /// Releases up to this number are durable: the releaser may hand them out.
    pub(super) durable_release: u64,
    /// The latest release a sync was asked for.
    sync_asked_release: u64,
    /// Tells the releaser how far releases are durable.
    outbox_tx: tokio::sync::watch::Sender<u64>,
}

pub(crate) fn rejection(queue: &str, r: Rejection) -> Error {
    let kind = match r {
        Rejection::MessageTooLarge { .. } => ErrorKind::MessageTooLarge,
        Rejection::QueueFull(_) => ErrorKind::QueueFull,
        Rejection::InvalidReceipt => ErrorKind::InvalidReceipt,
        Rejection::StaleReceipt(_) => ErrorKind::StaleReceipt,
        Rejection::MessageNotFound(_) => ErrorKind::MessageNotFound,
        Rejection::InFlight(_) | Rejection::Conflict(_) => ErrorKind::Conflict,
        Rejection::AlreadyCompleted(_) => ErrorKind::AlreadyCompleted,
        _ => ErrorKind::InvalidRequest,
    };
    Error::new(kind, format!("queue {queue:?}: {r}"))
}

/// Encodes each message's blob: what an enqueue stores, by batch position. Senders call it
/// before their request reaches the queue's task, which runs one request at a time.
pub(super) fn encode_incoming(messages: Vec<Incoming>) -> Result<(Blobs, Vec<NewMessage>)> {
    let mut blobs = Vec::with_capacity(messages.len());
    let mut news = Vec::with_capacity(messages.len());
    for incoming in messages {
        let m = incoming.message;
        let parts = BlobParts {
            body: &m.body,
            attributes: &m.attributes,
            typed_attributes: &m.typed_attributes,
            dedup_id: m.dedup_id.as_deref(),
            dead_letter: incoming.dead_letter.as_ref(),
        };
        blobs.push(Some(encode_blob_parts(parts).map_err(internal)?));
        news.push(m);
    }
    Ok((blobs, news))
}

pub(super) fn internal(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, e.to_string())
}

async fn next_durable(pending: &mut VecDeque<Pending>) -> Result<()> {
    match pending.front_mut() {
        Some(p) => (&mut p.ticket).await.map_err(Error::from),
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl LiveQueue {
    pub(super) fn new(
        name: String,
        state: ferry_core::queue::QueueState,
        log: Log,
        registry: Arc<Registry>,
        self_tx: mpsc::WeakSender<Request>,
        outbox_tx: tokio::sync::watch::Sender<u64>,
    ) -> LiveQueue {
        let active_segment = log.segments().last().map_or(0, |s| s.base_offset);
        let durable_release = state.last_release();
        outbox_tx.send_replace(durable_release);
        LiveQueue {
            name,
            clock: MonotonicClock::starting_at(state.now()),
            state,
            log,
            registry,
            self_tx,
            pending: VecDeque::new(),
            waiters: VecDeque::new(),
            fresh: FreshBlobs::default(),
            attempts: Attempts::default(),
            ending: false,
            forwarding: HashSet::new(),
            records_since_snapshot: 0,
            active_segment,
            rolled_since_snapshot: false,
            failed: None,
            events: QueueEvents::default(),
            storage: StorageMetrics::default(),
            durable_release,
            sync_asked_release: durable_release,
            outbox_tx,
        }
    }

    /// The task's loop: requests, durability completions and timers, one at a time.
    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        loop {
            let wake = self.next_wake();
            tokio::select! {
                biased;
                durable = next_durable(&mut self.pending) => self.on_durable(durable),
                request = rx.recv() => match request {
                    Some(Request::Shutdown { reply }) => {
                        let _ = reply.send(self.shutdown().await);
                        return;
                    }
                    Some(Request::Stop { reply }) => {
                        self.fail_all(Error::new(ErrorKind::QueueNotFound, format!("queue {:?} was deleted", self.name)));
                        let _ = reply.send(Ok(()));
                        return;
                    }
                    Some(request) => self.on_request(request),
                    None => return,
                },
                () = sleep_until(wake) => self.on_timer(),
            }
            self.after_event().await;
        }
    }

    fn on_request(&mut self, request: Request) {
        if let Some(e) = &self.failed {
            let e = e.clone();
            reply_error(request, e);
            return;
        }
        match request {
            Request::Send {
                blobs,
                messages,
                reply,
            } => self.on_send(blobs, messages, reply),
            Request::Receive { options, reply } => self.on_receive(options, reply),
            Request::Ack { receipts, reply } => self.on_receipts(receipts, reply, ReceiptOp::Ack),
            Request::Nack {
                receipts,
                delay,
                reason,
                reply,
            } => self.on_receipts(receipts, reply, ReceiptOp::Nack(delay, reason)),
            Request::ChangeVisibility {
                receipts,
                timeout,
                reply,
            } => {
                self.on_receipts(receipts, reply, ReceiptOp::ChangeVisibility(timeout));
            }
            Request::Peek { limit, reply } => {
                let _ = reply.send(self.on_peek(limit));
            }
            Request::Cancel { id, reply } => self.on_cancel(id, reply),
            Request::Purge { reply } => self.on_purge(reply),
            Request::Stats { reply } => {
                let now = self.clock.now();
                self.state.advance(now);
                let _ = reply.send(Ok(self.state.stats()));
            }
            Request::Metrics { detail, reply } => {
                let _ = reply.send(Ok(self.on_metrics(detail)));
            }
            Request::Configure { config, reply } => self.on_configure(config, reply),
            Request::Complete {
                completions,
                check,
                reply,
            } => self.on_complete(completions, &check, reply),
            Request::Outbox { max, reply } => {
                let _ = reply.send(self.on_outbox(max));
            }
            Request::Released { through, reply } => {
                let _ = reply.send(self.on_released(through));
            }
            Request::SkipGaps { key, reply } => self.on_skip_gaps(key, reply),
            Request::Import {
                origin,
                releases,
                blobs,
                messages,
                reply,
            } => self.on_import(origin, &releases, blobs, &messages, reply),
            Request::Transact {
                receipts,
                parcels,
                reply,
            } => self.on_transact(receipts, parcels, reply),
            Request::DeadLettered { seqs } => self.on_dead_lettered(seqs),
            Request::DeadLetterFailed { seqs } => {
                for seq in seqs {
                    self.forwarding.remove(&seq);
                }
            }
            Request::EndWaits => {
                self.ending = true;
                for w in self.waiters.drain(..) {
                    let _ = w.reply.send(Ok(Vec::new()));
                }
            }
            Request::Shutdown { .. } | Request::Stop { .. } => {}
        }
    }

    /// Appends `command` (with `blobs` after it) and applies it.
    pub(super) fn append_apply(&mut self, command: &Command, blobs: &[Vec<u8>]) -> Result<()> {
        let payload = encode_record(command, blobs).map_err(internal)?;
        let blobs_len: usize = blobs.iter().map(Vec::len).sum();
        let appended =
            match self
                .log
                .append(command.now().as_millis(), KIND_QUEUE_COMMAND, &payload)
            {
                Ok(appended) => appended,
                Err(e) => return Err(self.storage_failed(e.into())),
            };
        if appended.location.segment != self.active_segment {
            self.active_segment = appended.location.segment;
            self.rolled_since_snapshot = true;
        }
        let blobs_at = appended.payload.advance((payload.len() - blobs_len) as u64);
        self.state.apply(
            command,
            BlobsAt {
                segment: blobs_at.segment,
                position: blobs_at.position,
            },
        );
        self.records_since_snapshot += 1;
        self.storage.appended_records += 1;
        self.storage.written_bytes += ferry_log::record::framed_bytes(payload.len()) as u64;
        Ok(())
    }

    /// This queue's numbers now (see [`crate::metrics`]).
    fn on_metrics(&mut self, detail: Detail) -> QueueMetrics {
        let now = self.clock.now();
        self.state.advance(now);
        let segments = self.log.segments();
        let storage = StorageMetrics {
            segments: segments.len() as u64,
            bytes: segments.iter().map(|s| s.bytes).sum(),
            ..self.storage.clone()
        };
        let config = self.state.config();
        QueueMetrics {
            name: self.name.clone(),
            fifo: config.fifo,
            dead_letter_queue: config.dead_letter_queue.clone(),
            stats: self.state.stats(),
            breakdown: (detail == Detail::Full)
                .then(|| self.state.breakdown(crate::metrics::BUSIEST_GROUPS)),
            events: self.events.clone(),
            storage,
        }
    }

    /// Remembers what recovery did, for metrics.
    pub(super) fn set_recovery(&mut self, recovery: RecoveryMetrics) {
        self.storage.recovery = recovery;
    }

    fn storage_failed(&mut self, e: Error) -> Error {
        if self.log.is_poisoned() || e.kind == ErrorKind::Unavailable {
            tracing::error!(queue = %self.name, error = %e, "queue storage failed; refusing further requests");
            self.failed = Some(Error::new(
                ErrorKind::Unavailable,
                format!("queue {:?}: storage failed: {}", self.name, e.message),
            ));
        }
        e
    }

    /// Replies through `done` once everything appended so far is durable.
    pub(super) fn after_sync(&mut self, done: Box<dyn FnOnce(Result<()>) + Send>) {
        let ticket = self.log.sync();
        let release_end = self.state.last_release();
        // This sync covers the releases made so far: none needs a sync of its own.
        self.sync_asked_release = self.sync_asked_release.max(release_end);
        self.pending.push_back(Pending {
            ticket,
            durable_below: self.state.next_seq(),
            release_end,
            done,
        });
    }

    fn on_durable(&mut self, result: Result<()>) {
        let Some(first) = self.pending.pop_front() else {
            return;
        };
        if let Err(e) = result {
            let e = self.storage_failed(e);
            (first.done)(Err(e.clone()));
            self.fail_all(e);
            return;
        }
        self.state.mark_durable(first.durable_below);
        self.mark_release_durable(first.release_end);
        (first.done)(Ok(()));
        while self.pending.front().is_some_and(|p| p.ticket.is_ready()) {
            if let Some(p) = self.pending.pop_front() {
                match p.ticket.wait() {
                    Ok(()) => {
                        self.state.mark_durable(p.durable_below);
                        self.mark_release_durable(p.release_end);
                        (p.done)(Ok(()));
                    }
                    Err(e) => {
                        let e = self.storage_failed(e.into());
                        (p.done)(Err(e.clone()));
                        self.fail_all(e);
                        return;
                    }
                }
            }
        }
    }

    fn mark_release_durable(&mut self, end: u64) {
        if end > self.durable_release {
            self.durable_release = end;
            self.outbox_tx.send_replace(end);
        }
    }

    /// Asks for a sync when releases were made since the last one asked for, so that the
    /// releaser gets them even when the record that made them did not need one (an ack that
    /// opened a gap, a lease that ran out).
    fn sync_new_releases(&mut self) {
        if self.state.last_release() > self.sync_asked_release {
            self.after_sync(Box::new(|_| {}));
        }
    }

    fn fail_all(&mut self, e: Error) {
        for p in self.pending.drain(..) {
            (p.done)(Err(e.clone()));
        }
        for w in self.waiters.drain(..) {
            let _ = w.reply.send(Err(e.clone()));
        }
    }

    fn on_send(&mut self, blobs: Blobs, messages: Vec<NewMessage>, reply: Reply<Vec<Sent>>) {
        let count = messages.len() as u64;
        match self.enqueue(blobs, &messages) {
            Ok(sent) => self.after_sync(Box::new(move |r| {
                let _ = reply.send(r.map(|()| sent));
            })),
            Err(e) => {
                self.events.on_rejected(e.kind, count);
                let _ = reply.send(Err(e));
            }
        }
    }

    fn enqueue(&mut self, mut blobs: Blobs, news: &[NewMessage]) -> Result<Vec<Sent>> {
        let now = self.clock.now();
        let lens: Vec<u32> = blobs
            .iter()
            .map(|b| u32::try_from(b.as_ref().map_or(0, Vec::len)).unwrap_or(u32::MAX))
            .collect();
        let decision = self
            .state
            .decide_enqueue(now, news, &lens)
            .map_err(|r| rejection(&self.name, r))?;
        if let Some(command) = &decision.command {
            let stored: Vec<Vec<u8>> = decision
                .stored
                .iter()
                .filter_map(|&i| blobs.get_mut(i).and_then(Option::take))
                .collect();
            self.append_apply(command, &stored)?;
            let seqs = decision
                .stored
                .iter()
                .filter_map(|&i| decision.results.get(i).map(|r| r.0));
            self.fresh.keep(seqs.zip(stored));
        }
        let uid = self.state.uid();
        Ok(decision
            .results
            .iter()
            .map(|&(seq, duplicate)| Sent {
                id: MessageId::new(uid, seq),
                seq,
                duplicate,
            })
            .collect())
    }

    fn on_receive(&mut self, options: ReceiveOptions, reply: Reply<Vec<Leased>>) {
        match self.try_receive(&options) {
            Ok(Some(deliveries)) => self.deliver(&options, deliveries, reply),
            Ok(None) if !options.wait.is_zero() && !self.ending => {
                let deadline = Instant::now() + options.wait;
                self.waiters.push_back(Waiter {
                    options,
                    deadline,
                    reply,
                });
            }
            Ok(None) => {
                let _ = reply.send(Ok(Vec::new()));
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    fn deliver(
        &mut self,
        options: &ReceiveOptions,
        deliveries: Vec<Leased>,
        reply: Reply<Vec<Leased>>,
    ) {
        if options.ack_mode == AckMode::Auto {
            // At-most-once promises the removal is durable before anyone sees the message.
            self.after_sync(Box::new(move |r| {
                let _ = reply.send(r.map(|()| deliveries));
            }));
        } else {
            let _ = reply.send(Ok(deliveries));
        }
    }

    fn try_receive(&mut self, options: &ReceiveOptions) -> Result<Option<Vec<Leased>>> {
        let now = self.clock.now();
        let visibility = options
            .visibility_timeout
            .unwrap_or_else(|| self.state.config().visibility_timeout());
        let consumer = options.consumer.as_deref().unwrap_or_default();
        let auto_ack = options.ack_mode == AckMode::Auto;
        if auto_ack && self.state.config().resequence.is_some() {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "queue {:?} resequences: receive with leases and complete each message (auto_ack would leave only gaps)",
                    self.name
                ),
            ));
        }
        let attempt = options.attempt_id.as_deref().filter(|_| !auto_ack);
        if let Some(id) = attempt
            && let Some(deliveries) = self.repeat_attempt(id, now, visibility)?
        {
            return Ok(Some(deliveries));
        }
        let Some((command, metas)) =
            self.state
                .decide_receive(now, options.max, visibility, consumer, auto_ack)
        else {
            return Ok(None);
        };
        self.append_apply(&command, &[])?;
        let uid = self.state.uid();
        for meta in &metas {
            self.events
                .on_delivery(now, meta.enqueued_at, meta.receive_count);
            if auto_ack {
                self.events.on_ack(now, meta.enqueued_at);
            }
        }
        if let Some(id) = attempt {
            let receipts: Vec<Receipt> = metas
                .iter()
                .map(|m| Receipt {
                    id: MessageId::new(uid, m.seq),
                    receive_count: m.receive_count,
                })
                .collect();
            self.remember_attempt(id, &receipts);
        }
        self.leased(uid, metas, auto_ack).map(Some)
    }

    fn on_receipts(&mut self, receipts: Vec<String>, reply: Reply<BatchOutcome>, op: ReceiptOp) {
        let now = self.clock.now();
        let (parsed, positions, mut failed) = self.parse_receipts(&receipts);
        let durable = matches!(op, ReceiptOp::Ack) && self.state.config().fifo;
        let (command, rejected) = match op {
            ReceiptOp::Ack => self.state.decide_ack(now, &parsed),
            ReceiptOp::Nack(delay, reason) => {
                self.state
                    .decide_nack(now, &parsed, delay, reason.map(truncate_reason))
            }
            ReceiptOp::ChangeVisibility(timeout) => {
                self.state.decide_change_visibility(now, &parsed, timeout)
            }
        };
        if let Some(Command::Ack { seqs, .. }) = &command {
            for &seq in seqs {
                if let Some(at) = self.state.enqueued_at(seq) {
                    self.events.on_ack(now, at);
                }
            }
        }
        failed.extend(self.failures(&receipts, &positions, rejected));
        if let Some(command) = command
            && let Err(e) = self.append_apply(&command, &[])
        {
            let _ = reply.send(Err(e));
            return;
        }
        for f in &failed {
            self.events.on_rejected(f.error.kind, 1);
        }
        let ok = u32::try_from(receipts.len() - failed.len()).unwrap_or(u32::MAX);
        let outcome = BatchOutcome { ok, failed };
        if durable {
            self.after_sync(Box::new(move |r| {
                let _ = reply.send(r.map(|()| outcome));
            }));
        } else {
            let _ = reply.send(Ok(outcome));
        }
    }

    /// Runs a command that needs no blob and answers `value` once it is durable.
    fn durable_command<T: Send + 'static>(
        &mut self,
        command: Result<Command>,
        value: T,
        reply: Reply<T>,
    ) {
        match command.and_then(|c| self.append_apply(&c, &[])) {
            Ok(()) => self.after_sync(Box::new(move |r| {
                let _ = reply.send(r.map(|()| value));
            })),
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    fn on_cancel(&mut self, id: MessageId, reply: Reply<()>) {
        let now = self.clock.now();
        let command = self
            .state
            .decide_cancel(now, id)
            .map_err(|r| rejection(&self.name, r));
        self.durable_command(command, (), reply);
    }

    fn on_purge(&mut self, reply: Reply<u64>) {
        let count = self.state.len() as u64;
        let command = Command::Purge {
            now: self.clock.now(),
        };
        self.durable_command(Ok(command), count, reply);
    }

    fn on_configure(&mut self, config: ferry_core::queue::QueueConfig, reply: Reply<()>) {
        if let Err(r) = self.state.check_config_change(&config) {
            let _ = reply.send(Err(rejection(&self.name, r)));
            return;
        }
        let command = Command::Configure {
            now: self.clock.now(),
            config,
            uid: self.state.uid(),
        };
        self.durable_command(Ok(command), (), reply);
    }

    fn on_timer(&mut self) {
        let now = self.clock.now();
        self.state.advance(now);
        let instant = Instant::now();
        let mut i = 0;
        while i < self.waiters.len() {
            if self.waiters.get(i).is_some_and(|w| w.deadline <= instant) {
                if let Some(w) = self.waiters.remove(i) {
                    let _ = w.reply.send(Ok(Vec::new()));
                }
            } else {
                i += 1;
            }
        }
    }

    /// When the loop must wake without a request: a waiter's deadline, or the state's next
    /// time-driven change.
    fn next_wake(&mut self) -> Option<Instant> {
        let waiter = self.waiters.iter().map(|w| w.deadline).min();
        let state = self.state.next_wake().map(|at| {
            let now = self.clock.now();
            Instant::now() + Duration::from_millis(at.as_millis().saturating_sub(now.as_millis()))
        });
        [waiter, state].into_iter().flatten().min()
    }

    /// Work every event may have made possible: serve long polls, forward dead letters, maintain.
    async fn after_event(&mut self) {
        self.serve_waiters();
        self.forward_dead_letters();
        self.sync_new_releases();
        self.maybe_maintain().await;
    }

    fn serve_waiters(&mut self) {
        while let Some(w) = self.waiters.front() {
            if w.reply.is_closed() {
                self.waiters.pop_front();
                continue;
            }
            let options = w.options.clone();
            match self.try_receive(&options) {
                Ok(None) => break,
                Ok(Some(deliveries)) => {
                    if let Some(w) = self.waiters.pop_front() {
                        self.deliver(&options, deliveries, w.reply);
                    }
                }
                Err(e) => {
                    if let Some(w) = self.waiters.pop_front() {
                        let _ = w.reply.send(Err(e));
                    }
                }
            }
        }
    }

    async fn shutdown(&mut self) -> Result<()> {
        // Each reply held back for durability gets its own sync's outcome.
        while !self.pending.is_empty() {
            let durable = next_durable(&mut self.pending).await;
            self.on_durable(durable);
        }
        // The rest (leases, acks) is on disk before the snapshot covers it, whatever the
        // fsync policy; after a failed sync the log is poisoned and no snapshot is written.
        let result = self.log.sync_all().await.map_err(Error::from);
        for w in self.waiters.drain(..) {
            let _ = w.reply.send(Ok(Vec::new()));
        }
        result?;
        self.snapshot()
    }
}

enum ReceiptOp {
    Ack,
    Nack(Option<Duration>, Option<String>),
    ChangeVisibility(Duration),
}

fn truncate_reason(mut reason: String) -> String {
    let max = ferry_core::queue::MAX_REASON_BYTES;
    if reason.len() > max {
        let mut cut = max;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    reason
}

fn reply_error(request: Request, e: Error) {
    match request {
        Request::Send { reply, .. } => drop(reply.send(Err(e))),
        Request::Receive { reply, .. } => drop(reply.send(Err(e))),
        Request::Ack { reply, .. }
        | Request::Nack { reply, .. }
        | Request::ChangeVisibility { reply, .. } => drop(reply.send(Err(e))),
        Request::Peek { reply, .. } => drop(reply.send(Err(e))),
        Request::Complete { reply, .. } => drop(reply.send(Err(e))),
        Request::Outbox { reply, .. } => drop(reply.send(Err(e))),
        Request::SkipGaps { reply, .. } => drop(reply.send(Err(e))),
        Request::Transact { reply, .. } => drop(reply.send(Err(e))),
        Request::Cancel { reply, .. }
        | Request::Configure { reply, .. }
        | Request::Released { reply, .. }
        | Request::Import { reply, .. }
        | Request::Shutdown { reply }
        | Request::Stop { reply } => {
            drop(reply.send(Err(e)));
        }
        Request::Purge { reply } => drop(reply.send(Err(e))),
        Request::Stats { reply } => drop(reply.send(Err(e))),
        Request::Metrics { reply, .. } => drop(reply.send(Err(e))),
        Request::DeadLettered { .. } | Request::DeadLetterFailed { .. } | Request::EndWaits => {}
    }
}

//! A live queue: one tokio task owns a queue's state machine and its log; everything else talks
//! to it through a bounded channel, so no lock guards queue state and nothing waits on I/O
//! while holding one.

mod attempts;
mod maintenance;
mod read;
mod recovery;
mod resequence;
mod task;

use crate::error::{Error, ErrorKind, Result};
use crate::metrics::{Detail, QueueMetrics};
use crate::types::{BatchOutcome, Completion, ReceiveOptions, Sent};
use ferry_core::MessageId;
use ferry_core::queue::{
    DeadLetterInfo, Delivery, NewMessage, PeekedMessage, QueueConfig, QueueStats,
};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub(crate) use attempts::MAX_ATTEMPT_ID_BYTES;
pub(crate) use recovery::open;
pub(crate) use resequence::{Outbox, Outgoing};
pub(crate) use task::rejection;

/// The log record kind of a queue command.
pub(crate) const KIND_QUEUE_COMMAND: u8 = 1;

/// How many requests may wait in a queue's channel before senders wait too.
const CHANNEL_CAPACITY: usize = 1024;

/// A message to enqueue, with its dead-letter history when it comes from another queue.
#[derive(Clone, Debug)]
pub(crate) struct Incoming {
    pub(crate) message: NewMessage,
    pub(crate) dead_letter: Option<DeadLetterInfo>,
}

type Reply<T> = oneshot::Sender<Result<T>>;

/// What a queue task is asked to do.
pub(crate) enum Request {
    /// Messages to enqueue, their blobs encoded by the sender.
    Send {
        blobs: task::Blobs,
        messages: Vec<NewMessage>,
        reply: Reply<Vec<Sent>>,
    },
    /// Leases, handed back with their blobs still encoded.
    Receive {
        options: ReceiveOptions,
        reply: Reply<Vec<read::Leased>>,
    },
    Ack {
        receipts: Vec<String>,
        reply: Reply<BatchOutcome>,
    },
    Nack {
        receipts: Vec<String>,
        delay: Option<Duration>,
        reason: Option<String>,
        reply: Reply<BatchOutcome>,
    },
    ChangeVisibility {
        receipts: Vec<String>,
        timeout: Duration,
        reply: Reply<BatchOutcome>,
    },
    Peek {
        limit: usize,
        reply: Reply<Vec<PeekedMessage>>,
    },
    Cancel {
        id: MessageId,
        reply: Reply<()>,
    },
    Purge {
        reply: Reply<u64>,
    },
    Stats {
        reply: Reply<QueueStats>,
    },
    Metrics {
        detail: Detail,
        reply: Reply<QueueMetrics>,
    },
    Configure {
        config: QueueConfig,
        reply: Reply<()>,
    },
    Complete {
        completions: Vec<Completion>,
        check: crate::broker::ResultCheck,
        reply: Reply<BatchOutcome>,
    },
    /// Durable releases for the output (resequencing queues).
    Outbox {
        max: usize,
        reply: Reply<Outbox>,
    },
    /// The output stored every release up to `through`.
    Released {
        through: u64,
        reply: Reply<()>,
    },
    /// Skip the blocked gaps of a key (`None`: every key); answers how many.
    SkipGaps {
        key: Option<String>,
        reply: Reply<u64>,
    },
    /// A transaction: ack every receipt and post the parcels, or nothing.
    Transact {
        receipts: Vec<String>,
        parcels: Vec<ferry_core::queue::Parcel>,
        reply: Reply<u32>,
    },
    /// Another queue's releases (each with its release number), to enqueue once.
    Import {
        origin: u64,
        /// Each message's release number in `origin`.
        releases: Vec<u64>,
        blobs: task::Blobs,
        messages: Vec<NewMessage>,
        reply: Reply<()>,
    },
    /// The dead-letter queue stored these durably: remove them here.
    DeadLettered {
        seqs: Vec<u64>,
    },
    /// Forwarding these to the dead-letter queue failed: try again.
    DeadLetterFailed {
        seqs: Vec<u64>,
    },
    /// Sync, snapshot and stop.
    Shutdown {
        reply: Reply<()>,
    },
    /// Answer every waiting long poll empty now, and wait no more (the server is stopping).
    EndWaits,
    /// Stop without a snapshot (the queue is being deleted).
    Stop {
        reply: Reply<()>,
    },
}

/// The way to a queue's task. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct QueueHandle {
    name: std::sync::Arc<str>,
    tx: mpsc::Sender<Request>,
    /// How far the queue's releases are durable (resequencing queues); closed when the
    /// queue's task ends.
    releases: tokio::sync::watch::Receiver<u64>,
}

impl QueueHandle {
    fn gone(&self) -> Error {
        Error::new(
            ErrorKind::Unavailable,
            format!("queue {:?} is shutting down", self.name),
        )
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| self.gone())?;
        rx.await.map_err(|_| self.gone())?
    }

    /// Enqueues `messages`; their blobs are encoded here, outside the queue's task.
    pub(crate) async fn send(&self, messages: Vec<Incoming>) -> Result<Vec<Sent>> {
        let (blobs, messages) = task::encode_incoming(messages)?;
        self.call(|reply| Request::Send {
            blobs,
            messages,
            reply,
        })
        .await
    }

    /// Leases messages; their blobs are decoded here, outside the queue's task.
    pub(crate) async fn receive(&self, options: ReceiveOptions) -> Result<Vec<Delivery>> {
        let leased = self
            .call(|reply| Request::Receive { options, reply })
            .await?;
        leased.into_iter().map(|l| l.decode(&self.name)).collect()
    }

    pub(crate) async fn ack(&self, receipts: Vec<String>) -> Result<BatchOutcome> {
        self.call(|reply| Request::Ack { receipts, reply }).await
    }

    pub(crate) async fn nack(
        &self,
        receipts: Vec<String>,
        delay: Option<Duration>,
        reason: Option<String>,
    ) -> Result<BatchOutcome> {
        self.call(|reply| Request::Nack {
            receipts,
            delay,
            reason,
            reply,
        })
        .await
    }

    pub(crate) async fn change_visibility(
        &self,
        receipts: Vec<String>,
        timeout: Duration,
    ) -> Result<BatchOutcome> {
        self.call(|reply| Request::ChangeVisibility {
            receipts,
            timeout,
            reply,
        })
        .await
    }

    pub(crate) async fn peek(&self, limit: usize) -> Result<Vec<PeekedMessage>> {
        self.call(|reply| Request::Peek { limit, reply }).await
    }

    pub(crate) async fn cancel(&self, id: MessageId) -> Result<()> {
        self.call(|reply| Request::Cancel { id, reply }).await
    }

    pub(crate) async fn purge(&self) -> Result<u64> {
        self.call(|reply| Request::Purge { reply }).await
    }

    pub(crate) async fn stats(&self) -> Result<QueueStats> {
        self.call(|reply| Request::Stats { reply }).await
    }

    pub(crate) async fn metrics(&self, detail: Detail) -> Result<QueueMetrics> {
        self.call(|reply| Request::Metrics { detail, reply }).await
    }

    pub(crate) async fn configure(&self, config: QueueConfig) -> Result<()> {
        self.call(|reply| Request::Configure { config, reply })
            .await
    }

    pub(crate) async fn complete(
        &self,
        completions: Vec<Completion>,
        check: crate::broker::ResultCheck,
    ) -> Result<BatchOutcome> {
        self.call(|reply| Request::Complete {
            completions,
            check,
            reply,
        })
        .await
    }

    pub(crate) async fn outbox(&self, max: usize) -> Result<Outbox> {
        self.call(|reply| Request::Outbox { max, reply }).await
    }

    pub(crate) async fn released(&self, through: u64) -> Result<()> {
        self.call(|reply| Request::Released { through, reply })
            .await
    }

    pub(crate) async fn skip_gaps(&self, key: Option<String>) -> Result<u64> {
        self.call(|reply| Request::SkipGaps { key, reply }).await
    }

    /// Enqueues another queue's releases; their blobs are encoded here, as a send's are.
    pub(crate) async fn import(&self, origin: u64, messages: Vec<(u64, Incoming)>) -> Result<()> {
        let (releases, incoming): (Vec<u64>, Vec<Incoming>) = messages.into_iter().unzip();
        let (blobs, messages) = task::encode_incoming(incoming)?;
        self.call(|reply| Request::Import {
            origin,
            releases,
            blobs,
            messages,
            reply,
        })
        .await
    }

    pub(crate) async fn transact(
        &self,
        receipts: Vec<String>,
        parcels: Vec<ferry_core::queue::Parcel>,
    ) -> Result<u32> {
        self.call(|reply| Request::Transact {
            receipts,
            parcels,
            reply,
        })
        .await
    }

    /// Watches how far the queue's releases are durable.
    pub(crate) fn releases(&self) -> tokio::sync::watch::Receiver<u64> {
        self.releases.clone()
    }

    pub(crate) async fn shutdown(&self) -> Result<()> {
        self.call(|reply| Request::Shutdown { reply }).await
    }

    /// Asks the queue to answer its long polls empty and stop waiting (no reply).
    pub(crate) async fn end_waits(&self) {
        let _ = self.tx.send(Request::EndWaits).await;
    }

    pub(crate) async fn stop(&self) -> Result<()> {
        self.call(|reply| Request::Stop { reply }).await
    }
}

//! Resequencing queues: completions, the operator's gap skip, and the releaser that hands each
//! queue's in-order results to its output exactly once.
//!
//! One releaser task runs per queue. It waits until the queue says releases are durable, takes
//! a batch from the outbox, stores it in the output and then tells the queue how far the output
//! holds it. A crash between the two leaves the queue believing less was stored than was; the
//! output recognises the repeat by the queue's origin id and release numbers (a queue keeps the
//! last release per origin in its state, a stream partition in its batch headers) and stores
//! nothing twice.

use super::{Broker, Inner};
use crate::error::{Error, ErrorKind, Result};
use crate::live_queue::{Incoming, Outgoing, QueueHandle, rejection};
use crate::live_stream::check_record;
use crate::stream_types::NewRecord;
use crate::types::{BatchOutcome, Completion};
use ferry_core::queue::{
    NewMessage, Output, Parcel, QueueConfig, SOURCE_ID_ATTRIBUTE, check_new_message,
};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Most results handed to the output in one go.
const RELEASE_BATCH: usize = 1_000;
/// First pause after the output refused a batch; doubled up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_millis(50);
/// Longest pause between attempts.
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Checks completion `index` (with its message's order key) against the output.
pub(crate) type ResultCheck =
    Arc<dyn Fn(usize, Option<&str>, &Completion) -> Result<()> + Send + Sync>;

/// The id a stream partition remembers a queue's releases by (never negative).
fn stream_origin(uid: u64) -> i64 {
    i64::try_from(uid >> 1).unwrap_or(i64::MAX)
}

impl Broker {
    /// Completes messages of a resequencing queue: each is acked and its result held back
    /// until every earlier message of its order key is released. Answers once the results
    /// are durable.
    ///
    /// # Errors
    /// `queue_not_found`; `invalid_request` if the queue does not resequence. Per completion
    /// (in the outcome): `invalid_receipt`, `already_completed`, `stale_receipt`, and what the
    /// output would refuse the result for (`message_too_large`, `invalid_request`).
    pub async fn complete(
        &self,
        queue: &str,
        completions: Vec<Completion>,
    ) -> Result<BatchOutcome> {
        let handle = self.queue(queue)?;
        let check = self.result_check(queue)?;
        handle.complete(completions, check).await
    }

    /// Skips the blocked gaps of a resequencing queue's order key (`None`: every key), so
    /// that results held behind them are released. Answers how many gaps were skipped.
    ///
    /// # Errors
    /// `queue_not_found`; `invalid_request` if the queue does not resequence.
    pub async fn skip_gaps(&self, queue: &str, key: Option<String>) -> Result<u64> {
        self.queue(queue)?.skip_gaps(key).await
    }

    /// How a result is checked against the queue's output, as the output will see it: a
    /// message (body, attributes, the order key as group) or a record (the order key as key,
    /// attributes as headers), `ferry-source-id` included. A result the output would refuse
    /// is refused at completion, so that it never holds up the releases behind it.
    fn result_check(&self, queue: &str) -> Result<ResultCheck> {
        let Some(resequence) = self.record(queue)?.config.resequence else {
            return Ok(Arc::new(|_, _, _| Ok(())));
        };
        let source_id = ferry_core::MessageId::new(0, 0).to_string();
        let with_source = move |c: &Completion| {
            let mut attributes = c.attributes.clone();
            attributes.insert(SOURCE_ID_ATTRIBUTE.to_owned(), source_id.clone());
            attributes
        };
        Ok(match resequence.output {
            Output::Queue(name) => {
                let config = self.record(&name)?.config;
                Arc::new(move |index, key, c| {
                    let message = NewMessage {
                        body: c.body.clone(),
                        attributes: with_source(c),
                        group: key.map(str::to_owned),
                        ..NewMessage::default()
                    };
                    check_new_message(&config, index, &message).map_err(|r| rejection(&name, r))
                })
            }
            Output::Stream(name) => {
                let config = self.stream(&name)?.config();
                Arc::new(move |index, key, c| {
                    let record = NewRecord {
                        key: key.map(|k| k.as_bytes().to_vec()),
                        value: Some(c.body.bytes.clone()),
                        headers: with_source(c)
                            .into_iter()
                            .map(|(k, v)| (k, Some(v.into_bytes())))
                            .collect(),
                        ..NewRecord::default()
                    };
                    check_record(&name, index, &record, &config)
                })
            }
        })
    }

    /// Checks that a resequence output exists.
    pub(super) fn check_resequence_output(&self, config: &QueueConfig) -> Result<()> {
        let Some(resequence) = &config.resequence else {
            return Ok(());
        };
        let missing = match &resequence.output {
            Output::Queue(name) => self
                .inner
                .registry
                .get(name)
                .is_none()
                .then(|| format!("queue {name:?}")),
            Output::Stream(name) => self
                .inner
                .streams
                .get(name)
                .is_none()
                .then(|| format!("stream {name:?}")),
        };
        match missing {
            Some(what) => Err(Error::new(
                ErrorKind::InvalidConfig,
                format!("invalid config: resequence: output {what} does not exist"),
            )),
            None => Ok(()),
        }
    }

    /// The queue whose resequence output is `output`, if any (it cannot be deleted then).
    pub(super) fn resequence_source_of(&self, output: &Output) -> Result<Option<String>> {
        Ok(self
            .inner
            .catalog
            .queues()?
            .into_iter()
            .find(|(_, r)| r.config.resequence.as_ref().map(|r| &r.output) == Some(output))
            .map(|(name, _)| name))
    }

    /// Starts the releaser of a queue; it ends with the queue's task.
    pub(super) fn start_releaser(&self, name: &str, queue: QueueHandle) {
        let broker = Arc::downgrade(&self.inner);
        let name = name.to_owned();
        tokio::spawn(async move { release_loop(broker, name, queue).await });
    }

    /// Stores releases in their targets (the resequence output for results, a parcel's own
    /// target), each target's in release order; releases a target already holds are left out
    /// there.
    async fn deliver(
        &self,
        origin: u64,
        output: Option<&Output>,
        items: Vec<Outgoing>,
    ) -> Result<()> {
        let mut messages: Grouped<Incoming> = Vec::new();
        let mut records: Grouped<NewRecord> = Vec::new();
        for item in items {
            let release = item.release();
            match route(output, item)? {
                Routed::Message(queue, m) => push_grouped(&mut messages, queue, (release, *m)),
                Routed::Record(stream, r) => push_grouped(&mut records, stream, (release, r)),
            }
        }
        for (queue, messages) in messages {
            let count = messages.len();
            let stored = match self.queue(&queue) {
                Ok(handle) => handle.import(origin, messages).await,
                Err(e) => Err(e),
            };
            tolerate_gone_target(&queue, count, stored)?;
        }
        let now = crate::clock::wall_now();
        for (stream, records) in records {
            let count = records.len();
            let stored = match self.stream(&stream) {
                Ok(live) => {
                    live.append_released(stream_origin(origin), records, now)
                        .await
                }
                Err(e) => Err(e),
            };
            tolerate_gone_target(&stream, count, stored)?;
        }
        Ok(())
    }
}

/// Releases by target name, each target's in release order.
type Grouped<T> = Vec<(String, Vec<(u64, T)>)>;

fn push_grouped<T>(groups: &mut Grouped<T>, target: String, item: (u64, T)) {
    match groups.iter_mut().find(|(name, _)| *name == target) {
        Some((_, list)) => list.push(item),
        None => groups.push((target, vec![item])),
    }
}

/// A target deleted since a transaction published to it: what it published has nowhere to
/// go, and waiting would hold up every later release of the queue, so it is dropped (logged).
/// Resequence outputs cannot be deleted while in use, so only parcels meet this.
fn tolerate_gone_target(target: &str, count: usize, stored: Result<()>) -> Result<()> {
    match stored {
        Err(e) if matches!(e.kind, ErrorKind::QueueNotFound | ErrorKind::StreamNotFound) => {
            tracing::error!(target, count, error = %e, "dropping published messages: their target was deleted");
            Ok(())
        }
        other => other,
    }
}

/// What a release becomes at its target: a message for a queue, or a record for a stream.
enum Routed {
    Message(String, Box<Incoming>),
    Record(String, NewRecord),
}

/// Where a release goes and what it becomes there.
fn route(output: Option<&Output>, item: Outgoing) -> Result<Routed> {
    match item {
        Outgoing::Result {
            key,
            body,
            attributes,
            completed_at,
            ..
        } => {
            let output = output.ok_or_else(|| {
                Error::new(
                    ErrorKind::Internal,
                    "results are waiting but the queue no longer resequences",
                )
            })?;
            Ok(match output {
                Output::Queue(queue) => Routed::Message(
                    queue.clone(),
                    Box::new(Incoming {
                        message: NewMessage {
                            body,
                            attributes,
                            group: key,
                            ..NewMessage::default()
                        },
                        dead_letter: None,
                    }),
                ),
                Output::Stream(stream) => Routed::Record(
                    stream.clone(),
                    NewRecord {
                        partition: None,
                        timestamp: Some(completed_at),
                        key: key.map(String::into_bytes),
                        value: Some(body.bytes),
                        headers: attributes
                            .into_iter()
                            .map(|(k, v)| (k, Some(v.into_bytes())))
                            .collect(),
                    },
                ),
            })
        }
        Outgoing::Parcel { parcel, .. } => Ok(match parcel {
            Parcel::Message {
                queue,
                body,
                attributes,
                delay_ms,
                deliver_at,
                dedup_id,
                group,
                priority,
                ttl_ms,
            } => {
                let message = NewMessage {
                    body,
                    attributes,
                    delay: delay_ms.map(Duration::from_millis),
                    deliver_at,
                    dedup_id,
                    group,
                    priority,
                    ttl: ttl_ms.map(Duration::from_millis),
                    ..NewMessage::default()
                };
                let incoming = Incoming {
                    message,
                    dead_letter: None,
                };
                Routed::Message(queue, Box::new(incoming))
            }
            Parcel::Record {
                stream,
                partition,
                key,
                value,
                headers,
                timestamp,
            } => {
                let record = NewRecord {
                    partition,
                    timestamp,
                    key,
                    value,
                    headers,
                };
                Routed::Record(stream, record)
            }
        }),
    }
}

/// Waits for durable releases and hands them to the output, until the queue's task ends.
async fn release_loop(broker: Weak<Inner>, name: String, queue: QueueHandle) {
    let mut durable = queue.releases();
    durable.mark_changed();
    let mut pause = RETRY_MIN;
    while durable.changed().await.is_ok() {
        loop {
            let Ok(outbox) = queue.outbox(RELEASE_BATCH).await else {
                return;
            };
            let Some(last) = outbox.items.last().map(Outgoing::release) else {
                break;
            };
            let output = outbox.output;
            let count = outbox.items.len();
            let delivered = match broker.upgrade() {
                Some(inner) => {
                    Broker { inner }
                        .deliver(outbox.origin, output.as_ref(), outbox.items)
                        .await
                }
                None => return,
            };
            match delivered {
                Ok(()) => {
                    pause = RETRY_MIN;
                    if queue.released(last).await.is_err() {
                        return;
                    }
                    tracing::debug!(queue = %name, count, through = last, "released results");
                }
                Err(e) => {
                    tracing::warn!(queue = %name, ?output, error = %e, "resequence output refused results; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RETRY_MAX);
                }
            }
        }
    }
}

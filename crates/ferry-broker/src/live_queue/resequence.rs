//! The queue task's side of the resequencer: completions, the outbox the releaser drains, and
//! the import of another queue's releases.
//!
//! A release is handed out only once the log is durable past the record that made it: a
//! release caused by a record a crash could take back (a completion, or an ack that opened a
//! gap) would otherwise reach the output and then be made again differently after restart.

use super::task::{LiveQueue, internal, rejection};
use super::{Incoming, Reply};
use crate::error::Result;
use crate::types::{BatchOutcome, Completion, Failure};
use ferry_core::queue::{
    BlobParts, Body, Output, Rejection, ResultSize, TypedAttributes, encode_blob_parts,
};
use ferry_core::{MessageId, Receipt, Timestamp};
use std::collections::BTreeMap;

/// What the releaser gets from a queue's outbox.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// The queue's origin id, which outputs remember its releases by.
    pub(crate) origin: u64,
    /// Where results go (`None`: the queue no longer resequences).
    pub(crate) output: Option<Output>,
    /// Durable releases not yet stored by the output, in release order.
    pub(crate) items: Vec<Outgoing>,
}

/// One released result (or gap marker).
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// Its release number.
    pub(crate) release: u64,
    /// The order key.
    pub(crate) key: Option<String>,
    /// The result (for a marker: the missing message's id as text).
    pub(crate) body: Body,
    /// The result's attributes, with `ferry-source-id` (and `ferry-gap` on a marker).
    pub(crate) attributes: BTreeMap<String, String>,
    /// When the result was completed.
    pub(crate) completed_at: Timestamp,
}

impl LiveQueue {
    pub(super) fn on_complete(&mut self, completions: Vec<Completion>, reply: Reply<BatchOutcome>) {
        let now = self.clock.now();
        let texts: Vec<String> = completions.iter().map(|c| c.receipt.clone()).collect();
        let (parsed, positions, mut failed) = self.parse_receipts(&texts);
        let mut blobs = Vec::with_capacity(parsed.len());
        let mut sizes = Vec::with_capacity(parsed.len());
        let no_typed = TypedAttributes::default();
        for &position in &positions {
            let Some(c) = completions.get(position) else {
                continue;
            };
            let parts = BlobParts {
                body: &c.body,
                attributes: &c.attributes,
                typed_attributes: &no_typed,
                dedup_id: None,
                dead_letter: None,
            };
            let blob = match encode_blob_parts(parts) {
                Ok(blob) => blob,
                Err(e) => {
                    let _ = reply.send(Err(internal(e)));
                    return;
                }
            };
            sizes.push(ResultSize {
                body_len: c.body.bytes.len(),
                blob_len: u32::try_from(blob.len()).unwrap_or(u32::MAX),
            });
            blobs.push(Some(blob));
        }
        let decision = match self.state.decide_complete(now, &parsed, &sizes) {
            Ok(decision) => decision,
            Err(r) => {
                let _ = reply.send(Err(rejection(&self.name, r)));
                return;
            }
        };
        failed.extend(self.failures(&texts, &positions, decision.failed));
        if let Some(command) = &decision.command {
            for &index in &decision.stored {
                let seq = parsed.get(index).map(|r| r.id.seq()).unwrap_or_default();
                if let Some(at) = self.state.enqueued_at(seq) {
                    self.events.on_ack(now, at);
                }
            }
            let stored: Vec<Vec<u8>> = decision
                .stored
                .iter()
                .filter_map(|&i| blobs.get_mut(i).and_then(Option::take))
                .collect();
            if let Err(e) = self.append_apply(command, &stored) {
                let _ = reply.send(Err(e));
                return;
            }
        }
        for f in &failed {
            self.events.on_rejected(f.error.kind, 1);
        }
        let ok = u32::try_from(completions.len() - failed.len()).unwrap_or(u32::MAX);
        let outcome = BatchOutcome { ok, failed };
        // Held-back results are durable: answer once the completions are on disk.
        self.after_sync(Box::new(move |r| {
            let _ = reply.send(r.map(|()| outcome));
        }));
    }

    /// Receipts parsed, their positions in the request, and the unparseable ones as failures.
    pub(super) fn parse_receipts(
        &self,
        texts: &[String],
    ) -> (Vec<Receipt>, Vec<usize>, Vec<Failure>) {
        let mut parsed = Vec::with_capacity(texts.len());
        let mut positions = Vec::with_capacity(texts.len());
        let mut failed = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            match Receipt::decode(text) {
                Some(r) => {
                    parsed.push(r);
                    positions.push(i);
                }
                None => failed.push(Failure {
                    receipt: text.clone(),
                    error: rejection(&self.name, Rejection::InvalidReceipt),
                }),
            }
        }
        (parsed, positions, failed)
    }

    /// Rejections by position among the parsed receipts, as failures naming the receipt sent.
    pub(super) fn failures(
        &self,
        texts: &[String],
        positions: &[usize],
        rejected: Vec<(usize, Rejection)>,
    ) -> Vec<Failure> {
        rejected
            .into_iter()
            .map(|(index, r)| Failure {
                receipt: positions
                    .get(index)
                    .and_then(|&p| texts.get(p))
                    .cloned()
                    .unwrap_or_default(),
                error: rejection(&self.name, r),
            })
            .collect()
    }

    /// Up to `max` durable releases, bodies read back.
    pub(super) fn on_outbox(&mut self, max: usize) -> Result<Outbox> {
        let uid = self.state.uid();
        let mut outbox = Outbox {
            origin: uid,
            output: self
                .state
                .config()
                .resequence
                .as_ref()
                .map(|r| r.output.clone()),
            items: Vec::new(),
        };
        for (release, r) in self.state.outbox(0, max) {
            if release > self.durable_release {
                break;
            }
            let source = MessageId::new(uid, r.seq);
            let mut attributes = BTreeMap::new();
            let body = match r.blob {
                Some(blob) => {
                    let blob = self.read_blob(blob)?;
                    attributes = blob.attributes;
                    blob.body
                }
                None => {
                    attributes.insert(
                        ferry_core::queue::GAP_MARKER_ATTRIBUTE.to_owned(),
                        source.to_string(),
                    );
                    Body::text(source.to_string())
                }
            };
            attributes.insert(
                ferry_core::queue::SOURCE_ID_ATTRIBUTE.to_owned(),
                source.to_string(),
            );
            outbox.items.push(Outgoing {
                release,
                key: r.key,
                body,
                attributes,
                completed_at: r.completed_at,
            });
        }
        Ok(outbox)
    }

    pub(super) fn on_released(&mut self, through: u64) -> Result<()> {
        let command = self.state.decide_released(self.clock.now(), through);
        self.append_apply(&command, &[])
    }

    pub(super) fn on_skip_gaps(&mut self, key: Option<String>, reply: Reply<u64>) {
        let before = self.blocked_gaps();
        let command = self
            .state
            .decide_skip_gaps(self.clock.now(), key)
            .map_err(|r| rejection(&self.name, r));
        if let Err(e) = command.and_then(|c| self.append_apply(&c, &[])) {
            let _ = reply.send(Err(e));
            return;
        }
        let skipped = before.saturating_sub(self.blocked_gaps());
        self.after_sync(Box::new(move |r| {
            let _ = reply.send(r.map(|()| skipped));
        }));
    }

    fn blocked_gaps(&self) -> u64 {
        self.state.stats().resequence.map_or(0, |s| s.blocked_gaps)
    }

    /// Enqueues another queue's releases (each with its release number), leaving out those
    /// already held; answers once durable.
    pub(super) fn on_import(&mut self, origin: u64, items: Vec<(u64, Incoming)>, reply: Reply<()>) {
        let now = self.clock.now();
        let (releases, incoming): (Vec<u64>, Vec<Incoming>) = items.into_iter().unzip();
        let (mut blobs, news) = match Self::encode_incoming(incoming) {
            Ok(encoded) => encoded,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let lens: Vec<u32> = blobs
            .iter()
            .map(|b| u32::try_from(b.as_ref().map_or(0, Vec::len)).unwrap_or(u32::MAX))
            .collect();
        let decided = self
            .state
            .decide_import(now, origin, &releases, &news, &lens)
            .map_err(|r| rejection(&self.name, r));
        match decided {
            Ok(Some((decision, fresh))) => {
                if let Some(command) = &decision.command {
                    let stored: Vec<(u64, Vec<u8>)> = decision
                        .stored
                        .iter()
                        .filter_map(|&i| {
                            let seq = decision.results.get(i)?.0;
                            let blob = blobs.get_mut(*fresh.get(i)?)?.take()?;
                            Some((seq, blob))
                        })
                        .collect();
                    let only_blobs: Vec<Vec<u8>> = stored.iter().map(|(_, b)| b.clone()).collect();
                    if let Err(e) = self.append_apply(command, &only_blobs) {
                        let _ = reply.send(Err(e));
                        return;
                    }
                    self.fresh.keep(stored.into_iter());
                }
            }
            Ok(None) => {}
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        }
        self.after_sync(Box::new(move |r| {
            let _ = reply.send(r);
        }));
    }
}

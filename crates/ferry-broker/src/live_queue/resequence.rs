//! The queue task's side of the resequencer: completions, the outbox the releaser drains, and
//! the import of another queue's releases.
//!
//! A release is handed out only once the log is durable past the record that made it: a
//! release caused by a record a crash could take back (a completion, or an ack that opened a
//! gap) would otherwise reach the output and then be made again differently after restart.

use super::Reply;
use super::task::{Blobs, LiveQueue, internal, rejection};
use crate::broker::ResultCheck;
use crate::error::{Error, ErrorKind, Result};
use crate::types::{BatchOutcome, Completion, Failure};
use ferry_core::queue::{
    BlobParts, Body, Command, NewMessage, Output, Parcel, Rejection, ReleaseKind, ResultSize,
    TypedAttributes, encode_blob_parts,
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

/// One release: a result (or gap marker) for the resequence output, or a transaction's parcel.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A result or gap marker.
    Result {
        /// Its release number.
        release: u64,
        /// The order key.
        key: Option<String>,
        /// The result (for a marker: the missing message's id as text).
        body: Body,
        /// The result's attributes, with `ferry-source-id` (and `ferry-gap` on a marker).
        attributes: BTreeMap<String, String>,
        /// When the result was completed.
        completed_at: Timestamp,
    },
    /// A message or record a transaction published.
    Parcel {
        /// Its release number.
        release: u64,
        /// What to publish where.
        parcel: Parcel,
    },
}

impl Outgoing {
    /// Its release number.
    pub(crate) fn release(&self) -> u64 {
        match self {
            Outgoing::Result { release, .. } | Outgoing::Parcel { release, .. } => *release,
        }
    }
}

impl LiveQueue {
    pub(super) fn on_complete(
        &mut self,
        completions: Vec<Completion>,
        check: &ResultCheck,
        reply: Reply<BatchOutcome>,
    ) {
        let now = self.clock.now();
        let texts: Vec<String> = completions.iter().map(|c| c.receipt.clone()).collect();
        let (parsed, positions, mut failed) = self.parse_receipts(&texts);
        // Results the output would refuse are refused here, with their message's order key.
        // A receipt of no stored message of this queue is left to `decide_complete`, which
        // says why (`already_completed`, `invalid_receipt`).
        let uid = self.state.uid();
        let (parsed, positions): (Vec<Receipt>, Vec<usize>) = parsed
            .into_iter()
            .zip(positions)
            .filter(|&(receipt, position)| {
                let stored = (receipt.id.queue_uid() == uid)
                    .then(|| self.state.group_of_message(receipt.id.seq()))
                    .flatten();
                let (Some(key), Some(c)) = (stored, completions.get(position)) else {
                    return true;
                };
                match check(position, key, c) {
                    Ok(()) => true,
                    Err(error) => {
                        failed.push(Failure {
                            receipt: c.receipt.clone(),
                            error,
                        });
                        false
                    }
                }
            })
            .unzip();
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
            if r.kind == ReleaseKind::Parcel {
                let bytes = match r.blob {
                    Some(blob) => self.read_bytes(blob)?,
                    None => Vec::new(),
                };
                let parcel = Parcel::decode(&bytes)
                    .map_err(|e| internal(format!("queue {:?}: {e}", self.name)))?;
                outbox.items.push(Outgoing::Parcel { release, parcel });
                continue;
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
            outbox.items.push(Outgoing::Result {
                release,
                key: r.key,
                body,
                attributes,
                completed_at: r.completed_at,
            });
        }
        Ok(outbox)
    }

    /// A transaction: acks every receipt and posts the parcels, or refuses it whole (naming
    /// each bad receipt). Answers how many messages were acked, once durable.
    pub(super) fn on_transact(
        &mut self,
        receipts: Vec<String>,
        parcels: Vec<Parcel>,
        reply: Reply<u32>,
    ) {
        let now = self.clock.now();
        let (parsed, positions, failed) = self.parse_receipts(&receipts);
        let mut blobs = Vec::with_capacity(parcels.len());
        let mut sizes = Vec::with_capacity(parcels.len());
        for parcel in &parcels {
            match parcel.encode() {
                Ok(blob) => {
                    let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                    sizes.push((len(blob.len()), len(parcel.payload_len())));
                    blobs.push(blob);
                }
                Err(e) => {
                    let _ = reply.send(Err(internal(e)));
                    return;
                }
            }
        }
        if !failed.is_empty() {
            let _ = reply.send(Err(transaction_refused(failed)));
            return;
        }
        let command = match self.state.decide_transact(now, &parsed, &sizes) {
            Ok(command) => command,
            Err(rejected) => {
                let failed = self.failures(&receipts, &positions, rejected);
                let _ = reply.send(Err(transaction_refused(failed)));
                return;
            }
        };
        let acked = match &command {
            Command::Transact { acks, .. } => {
                for &seq in acks {
                    if let Some(at) = self.state.enqueued_at(seq) {
                        self.events.on_ack(now, at);
                    }
                }
                u32::try_from(acks.len()).unwrap_or(u32::MAX)
            }
            _ => 0,
        };
        if let Err(e) = self.append_apply(&command, &blobs) {
            let _ = reply.send(Err(e));
            return;
        }
        self.after_sync(Box::new(move |r| {
            let _ = reply.send(r.map(|()| acked));
        }));
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
    pub(super) fn on_import(
        &mut self,
        origin: u64,
        releases: &[u64],
        mut blobs: Blobs,
        news: &[NewMessage],
        reply: Reply<()>,
    ) {
        let now = self.clock.now();
        let lens: Vec<u32> = blobs
            .iter()
            .map(|b| u32::try_from(b.as_ref().map_or(0, Vec::len)).unwrap_or(u32::MAX))
            .collect();
        let decided = self
            .state
            .decide_import(now, origin, releases, news, &lens)
            .map_err(|r| rejection(&self.name, r));
        match decided {
            Ok(Some((decision, fresh))) => {
                if let Some(command) = &decision.command {
                    let (seqs, stored): (Vec<u64>, Vec<Vec<u8>>) = decision
                        .stored
                        .iter()
                        .filter_map(|&i| {
                            let seq = decision.results.get(i)?.0;
                            let blob = blobs.get_mut(*fresh.get(i)?)?.take()?;
                            Some((seq, blob))
                        })
                        .unzip();
                    if let Err(e) = self.append_apply(command, &stored) {
                        let _ = reply.send(Err(e));
                        return;
                    }
                    self.fresh.keep(seqs.into_iter().zip(stored));
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

/// The error of a refused transaction: the first refusal's kind, every refusal named.
fn transaction_refused(failed: Vec<Failure>) -> Error {
    let kind = failed
        .first()
        .map_or(ErrorKind::InvalidReceipt, |f| f.error.kind);
    let reasons: Vec<String> = failed
        .iter()
        .map(|f| format!("receipt {:?}: {}", f.receipt, f.error.message))
        .collect();
    Error::new(
        kind,
        format!(
            "transaction refused, nothing was acked or published: {}",
            reasons.join("; ")
        ),
    )
}

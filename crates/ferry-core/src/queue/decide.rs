//! Deciding: checking a request against the current state and resolving it into a [`Command`].
//!
//! Each `decide_*` first advances the state to `now`, then reads it; it changes nothing else.
//! The caller logs the command and then applies it with [`QueueState::apply`].

use super::backoff::retry_delay;
use super::command::{BlobRef, Command, CompleteEntry, EnqueueEntry, RemoveCause};
use super::config::{DedupScope, MAX_RETENTION_MS, Overflow, QueueConfig};
use super::dedup::DedupKey;
use super::message::{BodyEncoding, MAX_PRIORITY, NewMessage};
use super::resequence::Output;
use super::state::{Phase, QueueState};
use crate::ids::{MessageId, Receipt};
use crate::time::Timestamp;
use std::collections::HashMap;
use std::time::Duration;

/// Most attributes a message may carry.
pub const MAX_ATTRIBUTES: usize = 64;
/// Longest attribute name, dedup id or group, in bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// Why a request was refused. Nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// A body over the queue's `max_message_bytes`.
    #[error(
        "message {index}: body of {bytes} bytes is larger than the queue's max_message_bytes ({max})"
    )]
    MessageTooLarge {
        /// Position in the batch.
        index: usize,
        /// The body's size.
        bytes: usize,
        /// The limit.
        max: u32,
    },
    /// A message breaking another rule.
    #[error("message {index}: {reason}")]
    InvalidMessage {
        /// Position in the batch.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// `max_length`/`max_bytes` reached and the overflow policy could not make room.
    #[error("queue is full: {0}")]
    QueueFull(String),
    /// A receipt this queue never issued.
    #[error("receipt was not issued by this queue")]
    InvalidReceipt,
    /// A receipt whose lease is over.
    #[error("receipt is stale: {0}")]
    StaleReceipt(&'static str),
    /// No such message.
    #[error("message {0} not found")]
    MessageNotFound(MessageId),
    /// The message is leased and cannot be cancelled.
    #[error("message {0} is in flight: ack or nack it with its receipt")]
    InFlight(MessageId),
    /// A completion for a queue without a `resequence` output.
    #[error("the queue has no resequence output: ack messages instead of completing them")]
    NotResequencing,
    /// A completion for a message already completed or gone (the first completion wins).
    #[error("message {0} was already completed, or has left the queue")]
    AlreadyCompleted(MessageId),
    /// A change the queue's current contents do not allow.
    #[error("{0}")]
    Conflict(String),
}

/// A result handed in with a completion: its body's length and its blob's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResultSize {
    /// Body bytes.
    pub body_len: usize,
    /// Blob bytes (body, attributes and header).
    pub blob_len: u32,
}

/// A decided completion.
#[derive(Clone, Debug, PartialEq)]
pub struct CompleteDecision {
    /// The command to log and apply, if any completion was good.
    pub command: Option<Command>,
    /// The refused completions by batch position.
    pub failed: Vec<(usize, Rejection)>,
    /// Which results are stored, in record order: their blobs follow the command.
    pub stored: Vec<usize>,
}

/// A decided enqueue.
#[derive(Clone, Debug, PartialEq)]
pub struct EnqueueDecision {
    /// The command to log and apply (`None` if every message was a duplicate and nothing is stored).
    pub command: Option<Command>,
    /// Per message of the batch: its seq (the original's for a duplicate) and whether it was one.
    pub results: Vec<(u64, bool)>,
    /// Which messages of the batch are stored, in record order: their blobs follow the command.
    pub stored: Vec<usize>,
}

/// What a consumer needs of a message it just received, besides the blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryMeta {
    /// The message's seq.
    pub seq: u64,
    /// Where its blob lies.
    pub blob: BlobRef,
    /// Its receive count, this delivery included.
    pub receive_count: u32,
    /// When it was enqueued.
    pub enqueued_at: Timestamp,
    /// When it was first delivered.
    pub first_received_at: Timestamp,
    /// Its group.
    pub group: Option<String>,
    /// Its priority.
    pub priority: u8,
}

fn invalid(index: usize, reason: impl Into<String>) -> Rejection {
    Rejection::InvalidMessage {
        index,
        reason: reason.into(),
    }
}

fn check_key(index: usize, what: &str, value: &str) -> Result<(), Rejection> {
    if value.is_empty() || value.len() > MAX_KEY_BYTES {
        return Err(invalid(
            index,
            format!("{what} must be 1 to {MAX_KEY_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Checks a message against a queue's config and Ferry's limits, as an enqueue does.
///
/// # Errors
/// The [`Rejection`] an enqueue would give (`index` names the message).
pub fn check_new_message(
    config: &QueueConfig,
    index: usize,
    m: &NewMessage,
) -> Result<(), Rejection> {
    let bytes = m.body.bytes.len();
    if bytes == 0 {
        return Err(invalid(index, "body is empty"));
    }
    if bytes > config.max_message_bytes as usize {
        return Err(Rejection::MessageTooLarge {
            index,
            bytes,
            max: config.max_message_bytes,
        });
    }
    if m.body.encoding == BodyEncoding::Text && std::str::from_utf8(&m.body.bytes).is_err() {
        return Err(invalid(
            index,
            "text body is not valid UTF-8 (send it as body_base64)",
        ));
    }
    if m.priority > MAX_PRIORITY {
        return Err(invalid(
            index,
            format!("priority {} is above {MAX_PRIORITY}", m.priority),
        ));
    }
    if m.priority > 0 && config.fifo {
        return Err(invalid(
            index,
            "priorities are not supported on FIFO queues",
        ));
    }
    if m.attributes.len() + m.typed_attributes.len() > MAX_ATTRIBUTES {
        return Err(invalid(
            index,
            format!("more than {MAX_ATTRIBUTES} attributes"),
        ));
    }
    for (name, value) in &m.attributes {
        check_key(index, "an attribute name", name)?;
        if value.len() > config.max_message_bytes as usize {
            return Err(invalid(
                index,
                format!("attribute {name:?} is larger than max_message_bytes"),
            ));
        }
    }
    for (name, _) in m.typed_attributes.iter() {
        check_key(index, "an attribute name", name)?;
    }
    if m.typed_attributes.size_bytes() > config.max_message_bytes as usize {
        return Err(invalid(
            index,
            "typed attributes are larger than max_message_bytes",
        ));
    }
    if let Some(id) = &m.dedup_id {
        check_key(index, "dedup_id", id)?;
    }
    if let Some(group) = &m.group {
        check_key(index, "group", group)?;
    }
    let max = Duration::from_millis(MAX_RETENTION_MS);
    if m.delay.is_some_and(|d| d > max) {
        return Err(invalid(
            index,
            format!("delay is longer than {MAX_RETENTION_MS} ms"),
        ));
    }
    if m.ttl.is_some_and(|t| t.is_zero() || t > max) {
        return Err(invalid(
            index,
            format!("ttl must be 1 to {MAX_RETENTION_MS} ms"),
        ));
    }
    Ok(())
}

impl QueueState {
    /// Decides an enqueue of `messages` whose blobs are `blob_lens` bytes long.
    ///
    /// # Errors
    /// A [`Rejection`] for the first bad message, or `QueueFull`; the whole batch is refused.
    pub fn decide_enqueue(
        &mut self,
        now: Timestamp,
        messages: &[NewMessage],
        blob_lens: &[u32],
    ) -> Result<EnqueueDecision, Rejection> {
        self.advance(now);
        let now = self.now;
        for (index, m) in messages.iter().enumerate() {
            check_new_message(&self.config, index, m)?;
        }
        let mut batch_keys: HashMap<DedupKey, u64> = HashMap::new();
        let mut decision = EnqueueDecision {
            command: None,
            results: Vec::with_capacity(messages.len()),
            stored: Vec::new(),
        };
        let mut entries = Vec::with_capacity(messages.len());
        let mut next_seq = self.next_seq;
        for (index, m) in messages.iter().enumerate() {
            let key = match &m.dedup_id {
                Some(id) => Some(DedupKey::of_id(id)),
                None if self.config.content_dedup => Some(DedupKey::of_body(&m.body.bytes)),
                None => None,
            };
            let key = match self.config.dedup_scope {
                DedupScope::Queue => key,
                DedupScope::Group => {
                    key.map(|k| k.within_group(m.group.as_deref().unwrap_or_default()))
                }
            };
            if let Some(original) = key.and_then(|k| {
                batch_keys
                    .get(&k)
                    .copied()
                    .or_else(|| self.dedup.get(&k, now))
            }) {
                decision.results.push((original, true));
                continue;
            }
            let seq = next_seq;
            next_seq += 1;
            if let Some(k) = key {
                batch_keys.insert(k, seq);
            }
            let delay = m
                .delay
                .unwrap_or(Duration::from_millis(self.config.delay_ms));
            let ttl = m
                .ttl
                .unwrap_or(Duration::from_millis(self.config.retention_ms));
            entries.push(EnqueueEntry {
                seq,
                visible_at: m.deliver_at.unwrap_or(now.plus(delay)).max(now),
                expires_at: now.plus(ttl),
                priority: m.priority,
                group: m.group.clone(),
                dedup: key,
                blob_len: blob_lens.get(index).copied().unwrap_or(0),
                body_len: u32::try_from(m.body.bytes.len()).unwrap_or(u32::MAX),
            });
            decision.results.push((seq, false));
            decision.stored.push(index);
        }
        let duplicates = u32::try_from(messages.len() - entries.len()).unwrap_or(u32::MAX);
        let dropped = self.make_room(&entries)?;
        if !entries.is_empty() || duplicates > 0 {
            decision.command = Some(Command::Enqueue {
                now,
                messages: entries,
                duplicates,
                dropped,
            });
        }
        Ok(decision)
    }

    /// Checks `max_length`/`max_bytes` for the new entries; under `drop_oldest`, picks the oldest
    /// waiting messages to push out.
    fn make_room(&self, entries: &[EnqueueEntry]) -> Result<Vec<u64>, Rejection> {
        let add_count = entries.len() as u64;
        let add_bytes: u64 = entries.iter().map(|e| u64::from(e.body_len)).sum();
        let max_len = self.config.max_length.unwrap_or(u64::MAX);
        let max_bytes = self.config.max_bytes.unwrap_or(u64::MAX);
        if self.entries.len() as u64 + add_count <= max_len && self.bytes + add_bytes <= max_bytes {
            // Within the limits even counting every stored message: the common case, decided
            // without looking at the dead letters.
            return Ok(Vec::new());
        }
        // Dead letters stay stored only until the dead-letter queue has them: they no longer
        // count here (and cannot be dropped to make room).
        let (leaving, leaving_bytes) = self
            .dead_lettering
            .iter()
            .filter_map(|seq| self.entries.get(seq))
            .fold((0u64, 0u64), |(n, b), e| (n + 1, b + u64::from(e.body_len)));
        let stored = (self.entries.len() as u64).saturating_sub(leaving);
        let stored_bytes = self.bytes.saturating_sub(leaving_bytes);
        let mut count = stored + add_count;
        let mut bytes = stored_bytes + add_bytes;
        if count <= max_len && bytes <= max_bytes {
            return Ok(Vec::new());
        }
        let full = || {
            Rejection::QueueFull(format!(
                "{stored} messages / {stored_bytes} bytes stored, max_length {} / max_bytes {}",
                self.config
                    .max_length
                    .map_or("none".into(), |v| v.to_string()),
                self.config
                    .max_bytes
                    .map_or("none".into(), |v| v.to_string()),
            ))
        };
        if self.config.overflow == Overflow::Reject || add_count > max_len || add_bytes > max_bytes
        {
            return Err(full());
        }
        let mut dropped = Vec::new();
        for (seq, entry) in self.entries.iter() {
            if count <= max_len && bytes <= max_bytes {
                break;
            }
            if entry.phase == Phase::Waiting {
                dropped.push(seq);
                count -= 1;
                bytes -= u64::from(entry.body_len);
            }
        }
        if count <= max_len && bytes <= max_bytes {
            Ok(dropped)
        } else {
            Err(full())
        }
    }

    /// Decides a receive of up to `max` messages leased for `visibility` (or removed, if
    /// `auto_ack`). Returns `None` when nothing can be delivered now.
    pub fn decide_receive(
        &mut self,
        now: Timestamp,
        max: u32,
        visibility: Duration,
        consumer: &str,
        auto_ack: bool,
    ) -> Option<(Command, Vec<DeliveryMeta>)> {
        self.advance(now);
        let in_flight_room = self.config.max_in_flight.map_or(u64::MAX, |m| {
            u64::from(m).saturating_sub(self.leases.len() as u64)
        });
        let limit = u64::from(max).min(in_flight_room).min(
            self.bucket
                .available(self.config.rate_limit_per_s, self.now),
        );
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let seqs = if self.config.fifo {
            self.pick_fifo(limit)
        } else {
            self.pick_standard(limit)
        };
        if seqs.is_empty() {
            return None;
        }
        let metas = seqs
            .iter()
            .filter_map(|&seq| self.delivery_meta(seq, self.now))
            .collect();
        let until = self.now.plus(visibility);
        let command = Command::Receive {
            now: self.now,
            consumer: consumer.to_owned(),
            until,
            seqs,
            auto_ack,
        };
        Some((command, metas))
    }

    fn pick_standard(&self, limit: usize) -> Vec<u64> {
        self.ready
            .iter()
            .map(|(_, seq)| seq)
            .filter(|&seq| seq < self.durable_below)
            .take(limit)
            .collect()
    }

    /// FIFO: whole runs of each available group, groups in the order of their heads.
    fn pick_fifo(&self, limit: usize) -> Vec<u64> {
        let mut picked = Vec::new();
        for &head in &self.ready_groups {
            if picked.len() >= limit {
                break;
            }
            let Some(group) = self
                .entries
                .get(&head)
                .map(|e| e.group.clone().unwrap_or_default())
            else {
                continue;
            };
            let Some(g) = self.groups.get(&group) else {
                continue;
            };
            for &seq in &g.seqs {
                let deliverable = seq < self.durable_below
                    && self
                        .entries
                        .get(&seq)
                        .is_some_and(|e| e.phase == Phase::Waiting && e.visible_at <= self.now);
                if !deliverable || picked.len() >= limit {
                    break;
                }
                picked.push(seq);
            }
        }
        picked
    }

    fn delivery_meta(&self, seq: u64, now: Timestamp) -> Option<DeliveryMeta> {
        let e = self.entries.get(&seq)?;
        Some(DeliveryMeta {
            seq,
            blob: e.blob,
            receive_count: e.receive_count + 1,
            enqueued_at: e.enqueued_at,
            first_received_at: if e.first_received_at == Timestamp::ZERO {
                now
            } else {
                e.first_received_at
            },
            group: e.group.clone(),
            priority: e.priority,
        })
    }

    /// Resolves a receipt to its message's seq, if it names the current delivery of a message
    /// that is leased (or whose lease ran out but which was not delivered again, when
    /// `allow_lapsed`).
    fn check_receipt(&self, receipt: &Receipt, allow_lapsed: bool) -> Result<u64, Rejection> {
        let seq = receipt.id.seq();
        if receipt.id.queue_uid() != self.uid || seq >= self.next_seq || receipt.receive_count == 0
        {
            return Err(Rejection::InvalidReceipt);
        }
        let entry = self.entries.get(&seq).ok_or(Rejection::StaleReceipt(
            "the message is no longer in the queue",
        ))?;
        if entry.receive_count != receipt.receive_count {
            return Err(Rejection::StaleReceipt(
                "the message was delivered again since",
            ));
        }
        match entry.phase {
            Phase::Leased { .. } => Ok(seq),
            Phase::Waiting if allow_lapsed => Ok(seq),
            Phase::Waiting => Err(Rejection::StaleReceipt("the lease has run out")),
            Phase::DeadLettering(_) => Err(Rejection::StaleReceipt(
                "the message was moved to the dead-letter queue",
            )),
        }
    }

    fn check_receipts(
        &self,
        receipts: &[Receipt],
        allow_lapsed: bool,
    ) -> (Vec<u64>, Vec<(usize, Rejection)>) {
        let mut seqs: Vec<u64> = Vec::with_capacity(receipts.len());
        let mut highest = 0;
        let mut failed = Vec::new();
        for (index, receipt) in receipts.iter().enumerate() {
            match self.check_receipt(receipt, allow_lapsed) {
                // Receipts mostly come in delivery order: a seq above all so far is new, and
                // only one that is not needs the search for a repeat.
                Ok(seq) if seq > highest || !seqs.contains(&seq) => {
                    highest = highest.max(seq);
                    seqs.push(seq);
                }
                Ok(_) => {}
                Err(e) => failed.push((index, e)),
            }
        }
        (seqs, failed)
    }

    /// Decides an ack. Returns the command (if any receipt was good) and the failed receipts by
    /// batch position.
    pub fn decide_ack(
        &mut self,
        now: Timestamp,
        receipts: &[Receipt],
    ) -> (Option<Command>, Vec<(usize, Rejection)>) {
        self.advance(now);
        let (seqs, failed) = self.check_receipts(receipts, true);
        let command = (!seqs.is_empty()).then_some(Command::Ack {
            now: self.now,
            seqs,
        });
        (command, failed)
    }

    /// Decides a nack: each message becomes visible after `delay`, or after the queue's backoff.
    pub fn decide_nack(
        &mut self,
        now: Timestamp,
        receipts: &[Receipt],
        delay: Option<Duration>,
        reason: Option<String>,
    ) -> (Option<Command>, Vec<(usize, Rejection)>) {
        self.advance(now);
        let now = self.now;
        let (seqs, failed) = self.check_receipts(receipts, false);
        let items: Vec<(u64, Timestamp)> = seqs
            .into_iter()
            .map(|seq| {
                let rc = self.entries.get(&seq).map_or(0, |e| e.receive_count);
                (
                    seq,
                    now.plus(delay.unwrap_or_else(|| retry_delay(&self.config, seq, rc))),
                )
            })
            .collect();
        let command = (!items.is_empty()).then_some(Command::Nack { now, items, reason });
        (command, failed)
    }

    /// Decides a visibility change: the leases end `timeout` from now. A zero timeout gives the
    /// messages back at once (a nack without backoff).
    pub fn decide_change_visibility(
        &mut self,
        now: Timestamp,
        receipts: &[Receipt],
        timeout: Duration,
    ) -> (Option<Command>, Vec<(usize, Rejection)>) {
        if timeout.is_zero() {
            return self.decide_nack(now, receipts, Some(Duration::ZERO), None);
        }
        self.advance(now);
        let (seqs, failed) = self.check_receipts(receipts, false);
        let until = self.now.plus(timeout);
        let items: Vec<(u64, Timestamp)> = seqs.into_iter().map(|seq| (seq, until)).collect();
        let command = (!items.is_empty()).then_some(Command::ChangeVisibility {
            now: self.now,
            items,
        });
        (command, failed)
    }

    /// Decides the cancellation of a message that is not in flight.
    ///
    /// # Errors
    /// `MessageNotFound` or `InFlight`.
    pub fn decide_cancel(&mut self, now: Timestamp, id: MessageId) -> Result<Command, Rejection> {
        self.advance(now);
        let seq = id.seq();
        let entry = self
            .entries
            .get(&seq)
            .filter(|_| id.queue_uid() == self.uid)
            .ok_or(Rejection::MessageNotFound(id))?;
        match entry.phase {
            Phase::Waiting => Ok(Command::Remove {
                now: self.now,
                seqs: vec![seq],
                cause: RemoveCause::Cancel,
            }),
            Phase::Leased { .. } => Err(Rejection::InFlight(id)),
            Phase::DeadLettering(_) => Err(Rejection::MessageNotFound(id)),
        }
    }

    /// Decides completions (resequencing queues): each takes its message out and parks
    /// `results[i]`. A receipt from any delivery of a message still in the queue may complete
    /// it, even one whose lease ran out: the first completion wins, later ones are refused.
    ///
    /// # Errors
    /// [`Rejection::NotResequencing`] when the queue has no resequence output.
    pub fn decide_complete(
        &mut self,
        now: Timestamp,
        receipts: &[Receipt],
        results: &[ResultSize],
    ) -> Result<CompleteDecision, Rejection> {
        let Some(resequence) = &self.config.resequence else {
            return Err(Rejection::NotResequencing);
        };
        let needs_body = matches!(resequence.output, Output::Queue(_));
        self.advance(now);
        let mut decision = CompleteDecision {
            command: None,
            failed: Vec::new(),
            stored: Vec::new(),
        };
        let mut items: Vec<CompleteEntry> = Vec::new();
        for (index, (receipt, size)) in receipts.iter().zip(results).enumerate() {
            match self.check_completion(index, receipt, *size, needs_body) {
                Ok(seq) if items.iter().all(|i| i.seq != seq) => {
                    items.push(CompleteEntry {
                        seq,
                        blob_len: size.blob_len,
                        body_len: u32::try_from(size.body_len).unwrap_or(u32::MAX),
                    });
                    decision.stored.push(index);
                }
                Ok(_) => decision
                    .failed
                    .push((index, Rejection::AlreadyCompleted(receipt.id))),
                Err(e) => decision.failed.push((index, e)),
            }
        }
        if !items.is_empty() {
            decision.command = Some(Command::Complete {
                now: self.now,
                items,
            });
        }
        Ok(decision)
    }

    fn check_completion(
        &self,
        index: usize,
        receipt: &Receipt,
        size: ResultSize,
        needs_body: bool,
    ) -> Result<u64, Rejection> {
        let seq = receipt.id.seq();
        if receipt.id.queue_uid() != self.uid || seq >= self.next_seq || receipt.receive_count == 0
        {
            return Err(Rejection::InvalidReceipt);
        }
        let entry = self
            .entries
            .get(&seq)
            .ok_or(Rejection::AlreadyCompleted(receipt.id))?;
        if receipt.receive_count > entry.receive_count {
            return Err(Rejection::InvalidReceipt);
        }
        if let Phase::DeadLettering(_) = entry.phase {
            return Err(Rejection::StaleReceipt(
                "the message was moved to the dead-letter queue",
            ));
        }
        if size.body_len > self.config.max_message_bytes as usize {
            return Err(Rejection::MessageTooLarge {
                index,
                bytes: size.body_len,
                max: self.config.max_message_bytes,
            });
        }
        if needs_body && size.body_len == 0 {
            return Err(invalid(
                index,
                "result body is empty (the output is a queue)",
            ));
        }
        Ok(seq)
    }

    /// Decides a transaction: acks every receipt and posts `parcels` (blob and payload
    /// lengths) to the outbox, or, if any receipt is refused, nothing at all.
    ///
    /// # Errors
    /// Every refused receipt by position; then nothing is to be logged.
    pub fn decide_transact(
        &mut self,
        now: Timestamp,
        receipts: &[Receipt],
        parcels: &[(u32, u32)],
    ) -> Result<Command, Vec<(usize, Rejection)>> {
        self.advance(now);
        let (acks, failed) = self.check_receipts(receipts, true);
        if !failed.is_empty() {
            return Err(failed);
        }
        Ok(Command::Transact {
            now: self.now,
            acks,
            parcels: parcels.to_vec(),
        })
    }

    /// Decides that the output stored every release up to `through`.
    pub fn decide_released(&mut self, now: Timestamp, through: u64) -> Command {
        self.advance(now);
        Command::Released {
            now: self.now,
            through,
        }
    }

    /// Decides an operator's skip of the blocked gaps of `key` (`None`: every key).
    ///
    /// # Errors
    /// [`Rejection::NotResequencing`] when the queue has no resequence output.
    pub fn decide_skip_gaps(
        &mut self,
        now: Timestamp,
        key: Option<String>,
    ) -> Result<Command, Rejection> {
        if self.config.resequence.is_none() {
            return Err(Rejection::NotResequencing);
        }
        self.advance(now);
        Ok(Command::SkipGaps { now: self.now, key })
    }

    /// Decides the enqueue of messages released by queue `origin`, each with its release
    /// number; those this queue already holds (a repeated hand-over) are left out. Returns
    /// `None` when nothing is new, else the decision as [`QueueState::decide_enqueue`] makes
    /// it, for the messages `fresh` picks out.
    ///
    /// # Errors
    /// As [`QueueState::decide_enqueue`].
    pub fn decide_import(
        &mut self,
        now: Timestamp,
        origin: u64,
        releases: &[u64],
        messages: &[NewMessage],
        blob_lens: &[u32],
    ) -> Result<Option<(EnqueueDecision, Vec<usize>)>, Rejection> {
        let mark = self.origin_mark(origin);
        let fresh: Vec<usize> = (0..messages.len())
            .filter(|&i| releases.get(i).is_some_and(|&n| n > mark))
            .collect();
        let Some(&through) = fresh.last().and_then(|&i| releases.get(i)) else {
            return Ok(None);
        };
        let news: Vec<NewMessage> = fresh
            .iter()
            .filter_map(|&i| messages.get(i).cloned())
            .collect();
        let lens: Vec<u32> = fresh
            .iter()
            .map(|&i| blob_lens.get(i).copied().unwrap_or(0))
            .collect();
        let mut decision = self.decide_enqueue(now, &news, &lens)?;
        if let Some(Command::Enqueue {
            now,
            messages,
            dropped,
            ..
        }) = decision.command.take()
        {
            decision.command = Some(Command::Import {
                now,
                origin,
                through,
                messages,
                dropped,
            });
        }
        Ok(Some((decision, fresh)))
    }

    /// The last release of queue `origin` this queue holds (0 if none).
    pub fn origin_mark(&self, origin: u64) -> u64 {
        self.origins.get(&origin).copied().unwrap_or(0)
    }

    /// Checks that `new` may replace the current config given what the queue holds: turning
    /// resequencing on or off needs an empty queue with nothing held back or releasing.
    ///
    /// # Errors
    /// [`Rejection::Conflict`] saying why.
    pub fn check_config_change(&self, new: &super::config::QueueConfig) -> Result<(), Rejection> {
        let was = self.config.resequence.is_some();
        let will = new.resequence.is_some();
        if was != will && !(self.entries.is_empty() && self.reseq.is_empty()) {
            return Err(Rejection::Conflict(format!(
                "resequence can only be turned {} while the queue is empty and no result is held back \
                 ({} messages stored)",
                if will { "on" } else { "off" },
                self.entries.len()
            )));
        }
        Ok(())
    }

    /// When a receive that finds nothing now could next succeed, besides a new message arriving:
    /// the next time-driven change, or the rate limiter refilling.
    pub fn next_wake(&self) -> Option<Timestamp> {
        let refill = (!self.ready.is_empty()).then(|| {
            self.bucket
                .ready_at(self.config.rate_limit_per_s, self.now, 1)
        });
        [self.next_deadline(), refill.filter(|t| *t > self.now)]
            .into_iter()
            .flatten()
            .min()
    }
}

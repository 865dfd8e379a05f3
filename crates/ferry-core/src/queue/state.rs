//! A queue's state and how commands change it: `apply` is a pure function of the state and a
//! resolved command, and `advance` carries out what the passage of time alone decides.
//!
//! Time-driven transitions (a lease running out, a delay passing, a TTL ending) take effect at
//! the instant stored in the data (`until`, `visible_at`, `expires_at`), never at the instant
//! they happen to be noticed, so advancing late gives the same state as advancing on time. That
//! is why timer ticks need not be logged: the next logged command's `now` catches replay up.

use super::backoff::retry_delay;
use super::command::{BlobRef, BlobsAt, Command, CompleteEntry, EnqueueEntry, RemoveCause};
use super::config::{ExpireAction, QueueConfig};
use super::dedup::DedupWindow;
use super::limits::TokenBucket;
use super::message::{DeadLetterCause, MAX_PRIORITY, MAX_REASONS, MessageState, QueueStats};
use super::resequence::{Held, Resequencer};
use super::seq_map::SeqMap;
use super::seq_set::SeqSet;
use super::stored_config::as_json;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What falls due at an instant, in the order [`QueueState::advance`] carries it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    /// A lease runs out.
    LeaseEnd,
    /// A delayed or backed-off message becomes visible.
    Visible,
    /// A message's time to live ends.
    Expiry,
}

/// Where a message stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Phase {
    /// Visible or delayed, by `visible_at`.
    Waiting,
    /// Leased to a consumer.
    Leased {
        /// Who holds the lease.
        consumer: String,
        /// When it began.
        since: Timestamp,
        /// When it runs out.
        until: Timestamp,
    },
    /// Waiting for the dead-letter queue to confirm it stored the message.
    DeadLettering(DeadLetterCause),
}

/// Failed deliveries of one message, kept for its dead-letter history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Failures {
    pub(crate) first_at: Timestamp,
    pub(crate) last_at: Timestamp,
    pub(crate) reasons: Vec<String>,
}

/// What the queue keeps in memory per message (the body stays in the log).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) blob: BlobRef,
    pub(crate) body_len: u32,
    pub(crate) enqueued_at: Timestamp,
    pub(crate) visible_at: Timestamp,
    pub(crate) expires_at: Timestamp,
    pub(crate) receive_count: u32,
    pub(crate) first_received_at: Timestamp,
    pub(crate) priority: u8,
    pub(crate) group: Option<String>,
    pub(crate) phase: Phase,
    pub(crate) failures: Option<Box<Failures>>,
}

/// A FIFO group: its messages in order, and how many of them are leased.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Group {
    pub(crate) seqs: BTreeSet<u64>,
    pub(crate) in_flight: u32,
    /// The head seq this group has in `ready_groups`, if any.
    pub(crate) ready_head: Option<u64>,
}

/// Running totals, part of the replayed state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counters {
    pub(crate) enqueued: u64,
    pub(crate) delivered: u64,
    pub(crate) acked: u64,
    pub(crate) nacked: u64,
    pub(crate) expired: u64,
    pub(crate) deduplicated: u64,
    pub(crate) removed: u64,
    pub(crate) dead_lettered: u64,
}

/// One queue's complete state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueueState {
    pub(crate) uid: u64,
    #[serde(with = "as_json")]
    pub(crate) config: QueueConfig,
    pub(crate) next_seq: u64,
    /// The latest instant the state has been advanced to.
    pub(crate) now: Timestamp,
    pub(crate) entries: SeqMap<Entry>,
    /// Visible waiting messages by (`MAX_PRIORITY - priority`, seq): the delivery order.
    pub(crate) ready: SeqSet<u8>,
    /// Waiting messages not yet visible, by (visible_at, seq).
    pub(crate) delayed: SeqSet<Timestamp>,
    /// Leased messages by (until, seq).
    pub(crate) leases: SeqSet<Timestamp>,
    /// Waiting messages by (expires_at, seq).
    pub(crate) expiries: SeqSet<Timestamp>,
    /// Messages on their way to the dead-letter queue.
    pub(crate) dead_lettering: BTreeSet<u64>,
    /// FIFO queues: groups by name.
    pub(crate) groups: HashMap<String, Group>,
    /// FIFO queues: the visible heads of groups with nothing in flight, in seq order.
    pub(crate) ready_groups: BTreeSet<u64>,
    pub(crate) dedup: DedupWindow,
    pub(crate) bucket: TokenBucket,
    pub(crate) bytes: u64,
    pub(crate) counters: Counters,
    /// Resequencing queues: lines by order key, and results on their way out.
    pub(crate) reseq: Resequencer,
    /// Per queue whose resequencer releases into this one (by its uid): the last release
    /// stored here, so that a hand-over repeated after a crash is not stored twice.
    pub(crate) origins: BTreeMap<u64, u64>,
    /// Messages with a seq at or above this are not yet durable and so not deliverable.
    /// Live-only: recovery marks everything replayed as durable.
    #[serde(skip)]
    pub(crate) durable_below: u64,
}

/// Where each of a record's blobs lies, given their lengths: back to back from `blobs`.
fn blob_refs(blobs: BlobsAt, lens: impl Iterator<Item = u32>) -> impl Iterator<Item = BlobRef> {
    lens.scan(blobs.position, move |position, len| {
        let blob = BlobRef {
            segment: blobs.segment,
            position: *position,
            len,
        };
        *position += u64::from(len);
        Some(blob)
    })
}

fn rank(priority: u8) -> u8 {
    MAX_PRIORITY.saturating_sub(priority)
}

impl QueueState {
    /// An empty queue with incarnation id `uid` (see [`crate::MessageId`]).
    pub fn new(uid: u64, config: QueueConfig) -> QueueState {
        QueueState {
            uid,
            config,
            next_seq: 1,
            now: Timestamp::ZERO,
            entries: SeqMap::new(),
            ready: SeqSet::new(),
            delayed: SeqSet::new(),
            leases: SeqSet::new(),
            expiries: SeqSet::new(),
            dead_lettering: BTreeSet::new(),
            groups: HashMap::new(),
            ready_groups: BTreeSet::new(),
            dedup: DedupWindow::default(),
            bucket: TokenBucket::default(),
            bytes: 0,
            counters: Counters::default(),
            reseq: Resequencer::default(),
            origins: BTreeMap::new(),
            durable_below: 1,
        }
    }

    /// The queue's config.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// The queue's incarnation id.
    pub fn uid(&self) -> u64 {
        self.uid
    }

    /// The latest instant the state has seen.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The sequence number the next message gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Makes messages below `seq` deliverable: their enqueue is durable.
    pub fn mark_durable(&mut self, below: u64) {
        self.durable_below = self.durable_below.max(below);
    }

    /// Marks everything stored as durable (after recovery).
    pub fn mark_all_durable(&mut self) {
        self.durable_below = self.next_seq;
    }

    /// Applies a resolved command (advancing time to its `now` first). `blobs` says where the
    /// record's blobs lie, for commands that carry some.
    pub fn apply(&mut self, command: &Command, blobs: BlobsAt) {
        self.advance(command.now());
        let now = self.now;
        match command {
            Command::LegacyConfigure { config, uid, .. } => {
                self.config = config.clone().into();
                self.uid = *uid;
            }
            Command::Configure { config, uid, .. } => {
                self.config = config.clone();
                self.uid = *uid;
            }
            Command::Enqueue {
                messages,
                duplicates,
                dropped,
                ..
            } => {
                self.counters.deduplicated += u64::from(*duplicates);
                self.apply_enqueue(messages, dropped, blobs, now);
            }
            Command::Import {
                origin,
                through,
                messages,
                dropped,
                ..
            } => {
                self.origins.insert(*origin, *through);
                self.apply_enqueue(messages, dropped, blobs, now);
            }
            Command::Complete { items, .. } => {
                let lens = items.iter().map(|i| i.blob_len);
                for (item, blob) in items.iter().zip(blob_refs(blobs, lens)) {
                    self.apply_complete(item, blob, now);
                }
            }
            Command::Released { through, .. } => self.reseq.released(*through),
            Command::Transact { acks, parcels, .. } => {
                for seq in acks {
                    if self.remove(*seq).is_some() {
                        self.counters.acked += 1;
                    }
                }
                let refs = blob_refs(blobs, parcels.iter().map(|p| p.0));
                let placed: Vec<(BlobRef, u32)> = refs.zip(parcels.iter().map(|p| p.1)).collect();
                self.reseq.post_parcels(placed, now);
            }
            Command::SkipGaps { key, .. } => {
                if let Some(config) = &self.config.resequence {
                    self.reseq
                        .skip_blocked(key.as_deref(), now, config.gap_markers);
                }
            }
            Command::Receive {
                consumer,
                until,
                seqs,
                auto_ack,
                ..
            } => {
                for seq in seqs {
                    self.apply_lease(*seq, consumer, now, *until);
                    if *auto_ack && self.remove(*seq).is_some() {
                        self.counters.acked += 1;
                    }
                }
                self.bucket
                    .spend(self.config.rate_limit_per_s, now, seqs.len() as u64);
            }
            Command::Ack { seqs, .. } => {
                for seq in seqs {
                    if self.remove(*seq).is_some() {
                        self.counters.acked += 1;
                    }
                }
            }
            Command::Nack { items, reason, .. } => {
                for (seq, visible_at) in items {
                    if self.end_lease(*seq).is_some() {
                        self.counters.nacked += 1;
                        self.on_failed_delivery(*seq, now, reason.as_deref(), *visible_at);
                    }
                }
            }
            Command::ChangeVisibility { items, .. } => {
                for (seq, new_until) in items {
                    self.apply_extend(*seq, *new_until);
                }
            }
            Command::Remove { seqs, cause, .. } => {
                for seq in seqs {
                    if self.remove(*seq).is_some() && *cause == RemoveCause::Cancel {
                        self.counters.removed += 1;
                    }
                }
            }
            Command::Purge { .. } => {
                let seqs: Vec<u64> = self.entries.keys().collect();
                for seq in seqs {
                    self.remove(seq);
                    self.counters.removed += 1;
                }
                self.reseq.unblock_all(now);
            }
            Command::Relocate { seqs, .. } => {
                let refs = blob_refs(blobs, seqs.iter().map(|s| s.1));
                for ((seq, _), blob) in seqs.iter().zip(refs) {
                    if let Some(entry) = self.entries.get_mut(seq) {
                        entry.blob = blob;
                    }
                }
            }
        }
    }

    fn apply_enqueue(
        &mut self,
        messages: &[EnqueueEntry],
        dropped: &[u64],
        blobs: BlobsAt,
        now: Timestamp,
    ) {
        let lens = messages.iter().map(|m| m.blob_len);
        for (entry, blob) in messages.iter().zip(blob_refs(blobs, lens)) {
            self.apply_enqueue_one(entry, blob, now);
        }
        for seq in dropped {
            self.dead_letter_or_drop(*seq, DeadLetterCause::Overflow);
        }
    }

    /// Takes a completed message out and parks its result in its line (which may release it).
    fn apply_complete(&mut self, item: &CompleteEntry, blob: BlobRef, now: Timestamp) {
        let Some(entry) = self.entries.get(&item.seq) else {
            return;
        };
        let held = Held {
            blob: Some(blob),
            body_len: item.body_len,
            enqueued_at: entry.enqueued_at,
            completed_at: now,
        };
        let group = entry.group.clone();
        self.reseq.complete(group.as_deref(), item.seq, held);
        if self.remove(item.seq).is_some() {
            self.counters.acked += 1;
        }
    }

    fn apply_enqueue_one(&mut self, entry: &EnqueueEntry, blob: BlobRef, now: Timestamp) {
        let seq = entry.seq;
        debug_assert!(seq >= self.next_seq, "seqs only grow");
        self.next_seq = self.next_seq.max(seq + 1);
        self.counters.enqueued += 1;
        self.bytes += u64::from(entry.body_len);
        if let Some(key) = entry.dedup {
            let window = std::time::Duration::from_millis(self.config.dedup_window_ms);
            self.dedup.insert(key, seq, now.plus(window));
        }
        if let Some(group) = self.fifo_group(entry.group.as_deref()) {
            self.groups.entry(group).or_default().seqs.insert(seq);
        }
        if self.config.resequence.is_some() {
            self.reseq.admit(entry.group.as_deref(), seq);
        }
        self.entries.insert(
            seq,
            Entry {
                blob,
                body_len: entry.body_len,
                enqueued_at: now,
                visible_at: entry.visible_at,
                expires_at: entry.expires_at,
                receive_count: 0,
                first_received_at: Timestamp::ZERO,
                priority: entry.priority,
                group: entry.group.clone(),
                phase: Phase::Waiting,
                failures: None,
            },
        );
        self.set_waiting(seq, entry.visible_at);
    }

    fn apply_lease(&mut self, seq: u64, consumer: &str, now: Timestamp, until: Timestamp) {
        let Some(entry) = self.entries.get_mut(&seq) else {
            return;
        };
        if entry.phase != Phase::Waiting {
            debug_assert!(false, "receive of a message that is not waiting: {seq}");
            return;
        }
        let key = (rank(entry.priority), seq);
        entry.receive_count += 1;
        if entry.first_received_at == Timestamp::ZERO {
            entry.first_received_at = now;
        }
        entry.phase = Phase::Leased {
            consumer: consumer.to_owned(),
            since: now,
            until,
        };
        let (visible_at, expires_at, group) =
            (entry.visible_at, entry.expires_at, entry.group.clone());
        self.ready.remove(&key);
        self.delayed.remove(&(visible_at, seq));
        self.expiries.remove(&(expires_at, seq));
        self.leases.insert((until, seq));
        self.counters.delivered += 1;
        if let Some(group) = self.fifo_group(group.as_deref()) {
            if let Some(g) = self.groups.get_mut(&group) {
                g.in_flight += 1;
            }
            self.fifo_refresh(&group);
        }
    }

    fn apply_extend(&mut self, seq: u64, new_until: Timestamp) {
        let Some(entry) = self.entries.get_mut(&seq) else {
            return;
        };
        if let Phase::Leased { until, .. } = &mut entry.phase {
            self.leases.remove(&(*until, seq));
            *until = new_until;
            self.leases.insert((new_until, seq));
        }
    }

    /// Carries out everything that time alone decides, up to `now`: leases running out, delays
    /// passing, TTLs ending, dedup keys being forgotten. Earlier instants are ignored (time never
    /// goes back).
    ///
    /// Events are carried out one at a time in the order they fall due, each at its own
    /// instant (at one instant: leases, then delays, then expiries, each by seq), so that
    /// advancing in one step or in many leaves the same state. A live queue advances at every
    /// deadline and replay only at each record's time, and what a resequencing queue releases,
    /// and under which number, depends on that order.
    pub fn advance(&mut self, now: Timestamp) {
        if now <= self.now {
            return;
        }
        while let Some((at, due, seq)) = self.next_due(now) {
            self.now = self.now.max(at);
            match due {
                Due::LeaseEnd => {
                    if self.end_lease(seq).is_some() {
                        let visible_at =
                            at.plus(retry_delay(&self.config, seq, self.receive_count(seq)));
                        self.on_failed_delivery(seq, at, None, visible_at);
                    }
                }
                Due::Visible => {
                    self.delayed.pop_first();
                    let priority = self.entries.get(&seq).map_or(0, |e| e.priority);
                    self.ready.insert((rank(priority), seq));
                    if let Some(group) = self.group_of(seq) {
                        self.fifo_refresh(&group);
                    }
                }
                Due::Expiry => {
                    self.expiries.pop_first();
                    self.expire(seq);
                }
            }
        }
        self.now = now;
        self.dedup.evict(now);
    }

    /// The earliest event due by `now`: (when, what, seq).
    fn next_due(&self, now: Timestamp) -> Option<(Timestamp, Due, u64)> {
        let lease = self
            .leases
            .first()
            .map(|(at, seq)| (at, Due::LeaseEnd, seq));
        let delay = self
            .delayed
            .first()
            .map(|(at, seq)| (at, Due::Visible, seq));
        let expiry = self
            .expiries
            .first()
            .map(|(at, seq)| (at, Due::Expiry, seq));
        [lease, delay, expiry]
            .into_iter()
            .flatten()
            .filter(|&(at, _, _)| at <= now)
            .min()
    }

    fn receive_count(&self, seq: u64) -> u32 {
        self.entries.get(&seq).map_or(0, |e| e.receive_count)
    }

    /// Ends a lease (nack or expiry): unindexes it, unblocks its FIFO group's count. Returns the
    /// lease's deadline, or `None` if the message was not leased.
    fn end_lease(&mut self, seq: u64) -> Option<Timestamp> {
        let entry = self.entries.get_mut(&seq)?;
        let Phase::Leased { until, .. } = entry.phase else {
            return None;
        };
        entry.phase = Phase::Waiting;
        self.leases.remove(&(until, seq));
        if let Some(group) = self.group_of(seq)
            && let Some(g) = self.groups.get_mut(&group)
        {
            g.in_flight = g.in_flight.saturating_sub(1);
        }
        Some(until)
    }

    /// After a failed delivery at `at`: dead-letter past `max_receives`, else wait until `visible_at`.
    fn on_failed_delivery(
        &mut self,
        seq: u64,
        at: Timestamp,
        reason: Option<&str>,
        visible_at: Timestamp,
    ) {
        let Some(entry) = self.entries.get_mut(&seq) else {
            return;
        };
        let failures = entry.failures.get_or_insert_with(|| {
            Box::new(Failures {
                first_at: at,
                ..Failures::default()
            })
        });
        failures.last_at = at;
        if let Some(reason) = reason {
            if failures.reasons.len() == MAX_REASONS {
                failures.reasons.remove(0);
            }
            failures.reasons.push(reason.to_owned());
        }
        if self
            .config
            .max_receives
            .is_some_and(|max| entry.receive_count >= max)
        {
            self.dead_letter_or_drop(seq, DeadLetterCause::MaxReceives);
        } else {
            self.set_waiting(seq, visible_at);
        }
    }

    /// Makes a message wait until `visible_at` (or be visible now if that has passed).
    fn set_waiting(&mut self, seq: u64, visible_at: Timestamp) {
        let Some(entry) = self.entries.get_mut(&seq) else {
            return;
        };
        entry.phase = Phase::Waiting;
        entry.visible_at = visible_at;
        let (priority, expires_at) = (entry.priority, entry.expires_at);
        if expires_at <= self.now {
            // Its time to live ran out while it was leased: it expires as its lease ends, not
            // after one more delivery.
            self.expire(seq);
            return;
        }
        if visible_at <= self.now {
            self.ready.insert((rank(priority), seq));
        } else {
            self.delayed.insert((visible_at, seq));
        }
        self.expiries.insert((expires_at, seq));
        if let Some(group) = self.group_of(seq) {
            self.fifo_refresh(&group);
        }
    }

    /// A message whose time to live ran out: dropped or dead-lettered, as `on_expire` says.
    fn expire(&mut self, seq: u64) {
        self.counters.expired += 1;
        match self.config.on_expire {
            ExpireAction::Drop => {
                self.remove(seq);
            }
            ExpireAction::DeadLetter => self.dead_letter_or_drop(seq, DeadLetterCause::Expired),
        }
    }

    /// Moves a message towards the dead-letter queue, or drops it if there is none.
    fn dead_letter_or_drop(&mut self, seq: u64, cause: DeadLetterCause) {
        if !self.entries.contains_key(&seq) {
            return;
        }
        let has_dlq = self.config.dead_letter_queue.is_some();
        match cause {
            _ if has_dlq => self.counters.dead_lettered += 1,
            DeadLetterCause::MaxReceives => self.counters.dead_lettered += 1,
            DeadLetterCause::Overflow => self.counters.removed += 1,
            DeadLetterCause::Expired => {}
        }
        if !has_dlq {
            self.remove(seq);
            return;
        }
        self.unindex(seq);
        if let Some(group) = self.group_of(seq) {
            if let Some(g) = self.groups.get_mut(&group) {
                g.seqs.remove(&seq);
            }
            self.fifo_refresh(&group);
        }
        if let Some(entry) = self.entries.get_mut(&seq) {
            entry.phase = Phase::DeadLettering(cause);
        }
        self.dead_lettering.insert(seq);
    }

    /// Removes a message from every index but `entries` (and its group's membership).
    fn unindex(&mut self, seq: u64) {
        let Some(entry) = self.entries.get(&seq) else {
            return;
        };
        self.ready.remove(&(rank(entry.priority), seq));
        self.delayed.remove(&(entry.visible_at, seq));
        self.expiries.remove(&(entry.expires_at, seq));
        if let Phase::Leased { until, .. } = entry.phase {
            self.leases.remove(&(until, seq));
        }
        self.dead_lettering.remove(&seq);
    }

    /// Removes a message for good. Returns it if it existed.
    pub(crate) fn remove(&mut self, seq: u64) -> Option<Entry> {
        self.unindex(seq);
        let entry = self.entries.remove(&seq)?;
        self.bytes = self.bytes.saturating_sub(u64::from(entry.body_len));
        if let Some(config) = &self.config.resequence {
            let (key, now) = (entry.group.as_deref(), self.now);
            self.reseq.leave(key, seq, now, config, entry.enqueued_at);
        }
        if let Some(group) = self.fifo_group(entry.group.as_deref()) {
            if let Some(g) = self.groups.get_mut(&group) {
                g.seqs.remove(&seq);
                if matches!(entry.phase, Phase::Leased { .. }) {
                    g.in_flight = g.in_flight.saturating_sub(1);
                }
            }
            self.fifo_refresh(&group);
        }
        Some(entry)
    }

    /// The FIFO group key of a message's group (`""` for none), or `None` on standard queues.
    fn fifo_group(&self, group: Option<&str>) -> Option<String> {
        self.config
            .fifo
            .then(|| group.unwrap_or_default().to_owned())
    }

    fn group_of(&self, seq: u64) -> Option<String> {
        self.fifo_group(self.entries.get(&seq).and_then(|e| e.group.as_deref()))
    }

    /// Recomputes whether a FIFO group offers its head for delivery: only when nothing of the
    /// group is in flight and its head is visible.
    fn fifo_refresh(&mut self, group: &str) {
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        if let Some(head) = g.ready_head.take() {
            self.ready_groups.remove(&head);
        }
        if g.seqs.is_empty() {
            if g.in_flight == 0 {
                self.groups.remove(group);
            }
            return;
        }
        if g.in_flight > 0 {
            return;
        }
        let Some(&head) = g.seqs.first() else { return };
        let Some(entry) = self.entries.get(&head) else {
            return;
        };
        if entry.phase == Phase::Waiting && self.ready.contains(&(rank(entry.priority), head)) {
            self.ready_groups.insert(head);
            g.ready_head = Some(head);
        }
    }

    /// Where a message stands now.
    pub(crate) fn state_of(&self, entry: &Entry) -> MessageState {
        match entry.phase {
            Phase::Leased { .. } => MessageState::InFlight,
            Phase::DeadLettering(_) => MessageState::DeadLettering,
            Phase::Waiting if entry.visible_at > self.now => MessageState::Delayed,
            Phase::Waiting => MessageState::Visible,
        }
    }

    /// The queue's numbers as of its latest instant.
    pub fn stats(&self) -> QueueStats {
        let c = &self.counters;
        QueueStats {
            visible: self.ready.len() as u64,
            delayed: self.delayed.len() as u64,
            in_flight: self.leases.len() as u64,
            dead_lettered: c.dead_lettered,
            oldest_age_ms: self
                .entries
                .values()
                .next()
                .map_or(0, |e| self.now.since(e.enqueued_at).as_millis() as u64),
            bytes: self.bytes,
            enqueued_total: c.enqueued,
            delivered_total: c.delivered,
            acked_total: c.acked,
            nacked_total: c.nacked,
            expired_total: c.expired,
            deduplicated_total: c.deduplicated,
            removed_total: c.removed,
            resequence: (self.config.resequence.is_some() || !self.reseq.is_empty())
                .then(|| self.reseq.stats(self.now)),
        }
    }

    /// How many messages are stored (in any phase).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no message is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The earliest instant at which time alone changes something (a lease, a delay or a TTL
    /// runs out), if any: when the owner should call [`QueueState::advance`] next.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        [
            self.leases.first().map(|k| k.0),
            self.delayed.first().map(|k| k.0),
            self.expiries.first().map(|k| k.0),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Messages waiting for the dead-letter queue to take them.
    pub fn dead_lettering(&self) -> impl Iterator<Item = u64> + '_ {
        self.dead_lettering.iter().copied()
    }

    /// Whether the messages' bodies all lie at or after `segment` (the lowest segment any live
    /// message needs, for reclaiming older ones).
    pub fn lowest_segment(&self) -> Option<u64> {
        let results = self.reseq.blobs().map(|b| b.segment);
        self.entries
            .values()
            .map(|e| e.blob.segment)
            .chain(results)
            .min()
    }
}

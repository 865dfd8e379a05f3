//! The resequencer: many workers complete the messages of one order key in parallel, and their
//! results leave the queue strictly in the order the messages arrived.
//!
//! Every message of a resequencing queue joins the *line* of its order key (its `group`, or one
//! line for the whole queue when it has none) at enqueue. A completion takes the message out of
//! the queue and parks its result in the line. Whenever the oldest thing in a line is a parked
//! result, it moves to the *outbox*, which numbers releases in order; the broker hands the
//! outbox to the output (a stream or a queue) and logs how far the output has stored it. A
//! message that leaves the queue without a completion (dead-lettered, expired, cancelled, acked
//! without a result) is a *gap*: under [`GapPolicy::Skip`] the line moves past it (optionally
//! releasing a marker in its place); under [`GapPolicy::Block`] it holds the line until an
//! operator skips it.
//!
//! All of this is part of the queue's state, so it is rebuilt by replaying the queue's log: a
//! parked result is durable because the completion that parked it is a logged command.

use super::command::BlobRef;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Where a resequencing queue releases its results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Output {
    /// Append to this stream, the order key as the record key (so one key stays in one
    /// partition).
    Stream(String),
    /// Enqueue in this queue, the order key as the message group.
    Queue(String),
}

/// What a gap (a message that will never be completed) does to its line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapPolicy {
    /// Release the next results as if the message had never been there.
    #[default]
    Skip,
    /// Hold the line until an operator skips the gap.
    Block,
}

/// A queue's `resequence` setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResequenceConfig {
    /// Where results go.
    pub output: Output,
    /// What a gap does.
    #[serde(default)]
    pub gap_policy: GapPolicy,
    /// Release an empty marker (attribute [`GAP_MARKER_ATTRIBUTE`]) where a gap was skipped, so
    /// that downstream sees every position of the order.
    #[serde(default)]
    pub gap_markers: bool,
}

/// The attribute (queue output) or header (stream output) a gap marker carries; its value says
/// which message id is missing.
pub const GAP_MARKER_ATTRIBUTE: &str = "ferry-gap";
/// The attribute or header carrying the id of the message a released result completes.
pub const SOURCE_ID_ATTRIBUTE: &str = "ferry-source-id";

/// A result parked in its line until everything before it has been released.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Held {
    /// Where the result lies in the log; `None` for a gap marker.
    pub(crate) blob: Option<BlobRef>,
    pub(crate) body_len: u32,
    pub(crate) enqueued_at: Timestamp,
    pub(crate) completed_at: Timestamp,
}

/// Everything of one order key still in the queue's hands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Line {
    /// Messages still in the queue (waiting, leased or on their way to the dead-letter queue).
    pending: BTreeSet<u64>,
    /// Completed messages' results (and gap markers) not yet released, by message seq.
    done: BTreeMap<u64, Held>,
    /// Gaps holding the line (block policy), with when they appeared.
    blocked: BTreeMap<u64, Timestamp>,
}

impl Line {
    fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.done.is_empty() && self.blocked.is_empty()
    }
}

/// What a release carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReleaseKind {
    /// A completed message's result, for the resequence output.
    Result,
    /// A marker where a gap was skipped, for the resequence output.
    GapMarker,
    /// A message or record a transaction published (a [`super::Parcel`] blob), for its own
    /// target.
    Parcel,
}

/// A result released in order (or a transaction's parcel), waiting for its target to store it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// What it carries.
    pub kind: ReleaseKind,
    /// The order key (the message's group).
    pub key: Option<String>,
    /// The completed message's seq.
    pub seq: u64,
    /// Where the result (or parcel) lies in the log; `None` for a gap marker.
    pub blob: Option<BlobRef>,
    /// The result's body length.
    pub body_len: u32,
    /// When the message was enqueued.
    pub enqueued_at: Timestamp,
    /// When it was completed.
    pub completed_at: Timestamp,
}

/// The resequencer's numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResequenceStats {
    /// Results completed but held back behind earlier messages of their key.
    pub held_back: u64,
    /// Their body bytes.
    pub held_back_bytes: u64,
    /// Results released in order and not yet stored by the output.
    pub releasing: u64,
    /// Gaps holding their line (block policy).
    pub blocked_gaps: u64,
    /// How long the oldest held-back result or blocked gap has waited, in milliseconds.
    pub oldest_gap_age_ms: u64,
    /// Messages completed.
    pub completed_total: u64,
    /// Results (and gap markers) stored by the output.
    pub released_total: u64,
    /// Gaps skipped (by policy or by an operator).
    pub gaps_total: u64,
}

/// The resequencer's state: the lines by order key and the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Resequencer {
    lines: HashMap<String, Line>,
    outbox: BTreeMap<u64, Release>,
    next_release: u64,
    held_back: u64,
    held_back_bytes: u64,
    completed: u64,
    released: u64,
    gaps: u64,
}

impl Default for Resequencer {
    fn default() -> Self {
        Resequencer {
            lines: HashMap::new(),
            outbox: BTreeMap::new(),
            next_release: 1,
            held_back: 0,
            held_back_bytes: 0,
            completed: 0,
            released: 0,
            gaps: 0,
        }
    }
}

/// The line name of a message's group: `""` for none (a group is never empty).
fn line_of(key: Option<&str>) -> &str {
    key.unwrap_or_default()
}

impl Resequencer {
    /// Whether nothing is tracked: no message, result or gap.
    pub(crate) fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.outbox.is_empty()
    }

    /// A new message joins its key's line.
    pub(crate) fn admit(&mut self, key: Option<&str>, seq: u64) {
        self.lines
            .entry(line_of(key).to_owned())
            .or_default()
            .pending
            .insert(seq);
    }

    /// A message was completed: park its result and release what that allows.
    pub(crate) fn complete(&mut self, key: Option<&str>, seq: u64, held: Held) {
        let name = line_of(key);
        let Some(line) = self.lines.get_mut(name) else {
            return;
        };
        if !line.pending.remove(&seq) {
            return;
        }
        self.completed += 1;
        self.held_back += 1;
        self.held_back_bytes += u64::from(held.body_len);
        line.done.insert(seq, held);
        self.pump(key);
    }

    /// A message left the queue without a completion. Nothing happens if it was completed.
    pub(crate) fn leave(
        &mut self,
        key: Option<&str>,
        seq: u64,
        now: Timestamp,
        config: &ResequenceConfig,
        enqueued_at: Timestamp,
    ) {
        let Some(line) = self.lines.get_mut(line_of(key)) else {
            return;
        };
        if !line.pending.remove(&seq) {
            return;
        }
        match config.gap_policy {
            GapPolicy::Block => {
                line.blocked.insert(seq, now);
            }
            GapPolicy::Skip => {
                self.gaps += 1;
                if config.gap_markers {
                    line.done.insert(seq, marker(enqueued_at, now));

                    self.held_back += 1;
                }
            }
        }
        self.pump(key);
    }

    /// Skips the blocked gaps of `key` (`""`: messages without a group; `None`: every key), so
    /// that their lines move on. Returns how many.
    pub(crate) fn skip_blocked(&mut self, key: Option<&str>, now: Timestamp, markers: bool) -> u64 {
        let names: Vec<String> = match key {
            Some(key) => vec![key.to_owned()],
            None => self
                .lines
                .iter()
                .filter(|(_, l)| !l.blocked.is_empty())
                .map(|(k, _)| k.clone())
                .collect(),
        };
        let mut skipped = 0;
        for name in names {
            let Some(line) = self.lines.get_mut(&name) else {
                continue;
            };
            for (seq, since) in std::mem::take(&mut line.blocked) {
                skipped += 1;
                if markers {
                    line.done.insert(seq, marker(since, now));
                    self.held_back += 1;
                }
            }
            let key = (!name.is_empty()).then_some(name.as_str());
            self.pump(key);
        }
        self.gaps += skipped;
        skipped
    }

    /// Treats every blocked gap as skipped, without markers (the queue was purged).
    pub(crate) fn unblock_all(&mut self, now: Timestamp) {
        self.skip_blocked(None, now, false);
    }

    /// Moves the results at the head of `key`'s line to the outbox, in order.
    fn pump(&mut self, key: Option<&str>) {
        let name = line_of(key);
        let Some(line) = self.lines.get_mut(name) else {
            return;
        };
        let bound = [line.pending.first(), line.blocked.keys().next()]
            .into_iter()
            .flatten()
            .min()
            .copied()
            .unwrap_or(u64::MAX);
        while let Some(entry) = line.done.first_entry() {
            if *entry.key() > bound {
                break;
            }
            let (seq, held) = entry.remove_entry();
            self.held_back -= 1;
            self.held_back_bytes -= u64::from(held.body_len);
            let kind = match held.blob {
                Some(_) => ReleaseKind::Result,
                None => ReleaseKind::GapMarker,
            };
            self.outbox.insert(
                self.next_release,
                Release {
                    kind,
                    key: key.map(str::to_owned),
                    seq,
                    blob: held.blob,
                    body_len: held.body_len,
                    enqueued_at: held.enqueued_at,
                    completed_at: held.completed_at,
                },
            );
            self.next_release += 1;
        }
        if line.is_empty() {
            self.lines.remove(name);
        }
    }

    /// Puts a transaction's parcels (blob and payload length each) in the outbox, in order.
    pub(crate) fn post_parcels(
        &mut self,
        parcels: impl IntoIterator<Item = (BlobRef, u32)>,
        now: Timestamp,
    ) {
        for (blob, len) in parcels {
            self.outbox.insert(
                self.next_release,
                Release {
                    kind: ReleaseKind::Parcel,
                    key: None,
                    seq: 0,
                    blob: Some(blob),
                    body_len: len,
                    enqueued_at: now,
                    completed_at: now,
                },
            );
            self.next_release += 1;
        }
    }

    /// The number of the latest release (0 if none yet).
    pub(crate) fn last_release(&self) -> u64 {
        self.next_release - 1
    }

    /// The output stored every release up to `through`.
    pub(crate) fn released(&mut self, through: u64) {
        let kept = self.outbox.split_off(&(through + 1));
        self.released += self.outbox.len() as u64;
        self.outbox = kept;
    }

    /// The outbox from release number `after` on (exclusive), in release order.
    pub(crate) fn outbox_after(&self, after: u64) -> impl Iterator<Item = (u64, &Release)> {
        self.outbox
            .range(after.saturating_add(1)..)
            .map(|(n, r)| (*n, r))
    }

    /// Every result blob still needed.
    pub(crate) fn blobs(&self) -> impl Iterator<Item = BlobRef> + '_ {
        let parked = self
            .lines
            .values()
            .flat_map(|l| l.done.values().filter_map(|h| h.blob));
        parked.chain(self.outbox.values().filter_map(|r| r.blob))
    }

    /// The numbers as of `now`.
    pub(crate) fn stats(&self, now: Timestamp) -> ResequenceStats {
        let oldest = self
            .lines
            .values()
            .flat_map(|l| {
                let parked = l.done.values().map(|h| h.completed_at).min();
                let blocked = l.blocked.values().min().copied();
                [parked, blocked]
            })
            .flatten()
            .min();
        ResequenceStats {
            held_back: self.held_back,
            held_back_bytes: self.held_back_bytes,
            releasing: self.outbox.len() as u64,
            blocked_gaps: self.lines.values().map(|l| l.blocked.len() as u64).sum(),
            oldest_gap_age_ms: oldest.map_or(0, |t| now.since(t).as_millis() as u64),
            completed_total: self.completed,
            released_total: self.released,
            gaps_total: self.gaps,
        }
    }
}

fn marker(enqueued_at: Timestamp, now: Timestamp) -> Held {
    Held {
        blob: None,
        body_len: 0,
        enqueued_at,
        completed_at: now,
    }
}

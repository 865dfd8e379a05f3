//! Read-only numbers about a queue for metrics that [`QueueStats`](super::QueueStats) does not
//! carry: messages and bytes per state, and the FIFO groups that hold work up.
//!
//! Everything here is derived from the state when asked (no bookkeeping on the hot path), so it
//! is exact; the price is a walk over the stored messages, paid per scrape, not per message.

use super::state::{Phase, QueueState};
use crate::time::Timestamp;

/// A count of messages and of their body bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Messages.
    pub messages: u64,
    /// Their body bytes.
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u32) {
        self.messages += 1;
        self.bytes += u64::from(bytes);
    }
}

/// Stored messages split by where they stand.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Breakdown {
    /// Receivable now.
    pub visible: Tally,
    /// Waiting for a delay or a retry backoff.
    pub delayed: Tally,
    /// Leased to consumers.
    pub in_flight: Tally,
    /// On their way to the dead-letter queue (stored here until it confirms).
    pub dead_lettering: Tally,
    /// FIFO queues only: how groups hold work up.
    pub fifo: Option<FifoBreakdown>,
}

/// The FIFO groups of a queue, as far as stuck work is concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FifoBreakdown {
    /// Groups with at least one stored message.
    pub groups: u64,
    /// Groups with a message in flight (each blocks the rest of its group).
    pub groups_in_flight: u64,
    /// The busiest groups (most stored messages, then oldest head), at most the number asked.
    pub busiest: Vec<GroupLoad>,
}

/// One FIFO group's load.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupLoad {
    /// The group's name (`""` for messages sent without one).
    pub group: String,
    /// Messages stored in it.
    pub messages: u64,
    /// Of those, in flight.
    pub in_flight: u64,
    /// When its oldest stored message was enqueued.
    pub oldest_enqueued_at: Timestamp,
}

impl QueueState {
    /// Messages and bytes per state, and for FIFO queues the `top_groups` busiest groups.
    ///
    /// Linear in the number of stored messages (and groups): meant for a metrics scrape, not
    /// for every request.
    pub fn breakdown(&self, top_groups: usize) -> Breakdown {
        let mut out = Breakdown::default();
        for entry in self.entries.values() {
            let tally = match entry.phase {
                Phase::Leased { .. } => &mut out.in_flight,
                Phase::DeadLettering(_) => &mut out.dead_lettering,
                Phase::Waiting if entry.visible_at > self.now => &mut out.delayed,
                Phase::Waiting => &mut out.visible,
            };
            tally.add(entry.body_len);
        }
        if self.config.fifo {
            out.fifo = Some(self.fifo_breakdown(top_groups));
        }
        out
    }

    fn fifo_breakdown(&self, top_groups: usize) -> FifoBreakdown {
        let mut loads: Vec<GroupLoad> = self
            .groups
            .iter()
            .filter(|(_, g)| !g.seqs.is_empty())
            .map(|(name, g)| GroupLoad {
                group: name.clone(),
                messages: g.seqs.len() as u64,
                in_flight: u64::from(g.in_flight),
                oldest_enqueued_at: g
                    .seqs
                    .first()
                    .and_then(|seq| self.entries.get(seq))
                    .map_or(Timestamp::ZERO, |e| e.enqueued_at),
            })
            .collect();
        let groups = loads.len() as u64;
        let groups_in_flight = self.groups.values().filter(|g| g.in_flight > 0).count() as u64;
        loads.sort_by(|a, b| {
            b.messages
                .cmp(&a.messages)
                .then(a.oldest_enqueued_at.cmp(&b.oldest_enqueued_at))
                .then_with(|| a.group.cmp(&b.group))
        });
        loads.truncate(top_groups);
        FifoBreakdown {
            groups,
            groups_in_flight,
            busiest: loads,
        }
    }

    /// When message `seq` was enqueued, if it is stored (for latency measurements).
    pub fn enqueued_at(&self, seq: u64) -> Option<Timestamp> {
        self.entries.get(&seq).map(|e| e.enqueued_at)
    }

    /// The group of message `seq`, if it is stored (`Some(None)`: stored without a group).
    pub fn group_of_message(&self, seq: u64) -> Option<Option<&str>> {
        self.entries.get(&seq).map(|e| e.group.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{BlobsAt, Command, EnqueueEntry, QueueConfig};

    fn entry(seq: u64, group: Option<&str>, visible_at: u64) -> EnqueueEntry {
        EnqueueEntry {
            seq,
            blob_len: 10,
            body_len: 4,
            visible_at: Timestamp(visible_at),
            expires_at: Timestamp(u64::MAX / 2),
            priority: 0,
            group: group.map(str::to_owned),
            dedup: None,
        }
    }

    fn enqueue(state: &mut QueueState, now: u64, messages: Vec<EnqueueEntry>) {
        let command = Command::Enqueue {
            now: Timestamp(now),
            messages,
            duplicates: 0,
            dropped: Vec::new(),
        };
        state.apply(&command, BlobsAt::default());
    }

    #[test]
    fn breakdown_splits_messages_and_bytes_by_state() {
        let mut state = QueueState::new(1, QueueConfig::default());
        enqueue(
            &mut state,
            1000,
            vec![
                entry(1, None, 1000),
                entry(2, None, 1000),
                entry(3, None, 9000),
            ],
        );
        state.mark_all_durable();
        let receive = Command::Receive {
            now: Timestamp(1000),
            consumer: "c".into(),
            until: Timestamp(5000),
            seqs: vec![1],
            auto_ack: false,
        };
        state.apply(&receive, BlobsAt::default());
        let b = state.breakdown(5);
        assert_eq!(
            b.visible,
            Tally {
                messages: 1,
                bytes: 4
            }
        );
        assert_eq!(
            b.delayed,
            Tally {
                messages: 1,
                bytes: 4
            }
        );
        assert_eq!(
            b.in_flight,
            Tally {
                messages: 1,
                bytes: 4
            }
        );
        assert_eq!(b.dead_lettering, Tally::default());
        assert!(b.fifo.is_none());
        assert_eq!(state.enqueued_at(2), Some(Timestamp(1000)));
        assert_eq!(state.enqueued_at(9), None);
    }

    #[test]
    fn fifo_breakdown_ranks_the_busiest_groups_and_counts_blocked_ones() {
        let config = QueueConfig {
            fifo: true,
            ..QueueConfig::default()
        };
        let mut state = QueueState::new(1, config);
        enqueue(&mut state, 1000, vec![entry(1, Some("a"), 1000)]);
        enqueue(
            &mut state,
            2000,
            vec![entry(2, Some("b"), 2000), entry(3, Some("b"), 2000)],
        );
        enqueue(&mut state, 3000, vec![entry(4, Some("c"), 3000)]);
        state.mark_all_durable();
        let receive = Command::Receive {
            now: Timestamp(3000),
            consumer: "c".into(),
            until: Timestamp(9000),
            seqs: vec![1],
            auto_ack: false,
        };
        state.apply(&receive, BlobsAt::default());
        let fifo = state.breakdown(2).fifo.unwrap_or_default();
        assert_eq!(fifo.groups, 3);
        assert_eq!(fifo.groups_in_flight, 1);
        let names: Vec<&str> = fifo.busiest.iter().map(|g| g.group.as_str()).collect();
        assert_eq!(
            names,
            ["b", "a"],
            "most messages first, then the oldest head"
        );
        assert_eq!(fifo.busiest[1].in_flight, 1);
        assert_eq!(fifo.busiest[1].oldest_enqueued_at, Timestamp(1000));
    }
}

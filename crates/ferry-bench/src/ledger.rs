//! The verification ledger: for every `(producer, seq)` sent, whether the broker acknowledged it
//! as durable and how often a consumer received it. From it come **lost** (acknowledged, never
//! received) and **duplicated** (received more than once).
//!
//! One byte per message: bit 0 says "acknowledged", bits 1 to 7 count deliveries (saturating at
//! 127, which is plenty to tell once from more than once). Memory is therefore one byte per
//! message sent.

use std::ops::Range;

/// Bit 0 of a message's byte.
const ACKNOWLEDGED: u8 = 1;
/// One delivery, in the counter held by bits 1 to 7.
const ONE_DELIVERY: u8 = 2;
/// The highest delivery count the byte holds.
const MAX_DELIVERIES: u8 = 127;

/// What one delivered message was, from the ledger's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Its first delivery.
    First,
    /// A repeat: it had been delivered before.
    Again,
    /// Not a message this run sent (unknown producer, or a number never issued).
    Unknown,
}

/// The outcome of verification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Messages the broker acknowledged as durable.
    pub(crate) acknowledged: u64,
    /// Distinct messages received at least once.
    pub(crate) received: u64,
    /// Acknowledged but never received.
    pub(crate) lost: u64,
    /// Received more than once.
    pub(crate) duplicated: u64,
    /// Deliveries beyond the first, summed over all messages.
    pub(crate) redeliveries: u64,
    /// Received although their send was never acknowledged (a failed or unanswered request).
    pub(crate) received_unacknowledged: u64,
}

/// Every message issued in a run and what became of it.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Per producer, one byte per sequence number issued so far.
    messages: Vec<Vec<u8>>,
    /// Acknowledged and not yet received: the run is drained when this reaches 0.
    pending: u64,
    /// Deliveries beyond the first (exact, unlike the saturating per-message counter).
    redeliveries: u64,
}

impl Ledger {
    /// An empty ledger for `producers` producers.
    pub(crate) fn new(producers: usize) -> Ledger {
        Ledger {
            messages: vec![Vec::new(); producers],
            pending: 0,
            redeliveries: 0,
        }
    }

    /// Records that `producer` is about to send sequence numbers below `end`, so that a
    /// consumer may see them even before the send's reply is processed.
    pub(crate) fn issue(&mut self, producer: u32, end: u64) {
        let Some(messages) = self.producer_mut(producer) else {
            debug_assert!(false, "producer {producer} out of range");
            return;
        };
        let end = usize::try_from(end).unwrap_or(usize::MAX);
        if end > messages.len() {
            messages.resize(end, 0);
        }
    }

    /// Records that the broker acknowledged `seqs` of `producer` as durable.
    pub(crate) fn acknowledge(&mut self, producer: u32, seqs: Range<u64>) {
        let Some(messages) = self.producer_mut(producer) else {
            debug_assert!(false, "producer {producer} out of range");
            return;
        };
        let mut newly_pending = 0;
        for seq in seqs {
            let Some(state) = usize::try_from(seq).ok().and_then(|i| messages.get_mut(i)) else {
                debug_assert!(false, "acknowledged {producer}/{seq} before issuing it");
                continue;
            };
            if *state & ACKNOWLEDGED == 0 {
                *state |= ACKNOWLEDGED;
                if *state < ONE_DELIVERY {
                    newly_pending += 1;
                }
            }
        }
        self.pending += newly_pending;
    }

    /// Records one delivery of `(producer, seq)`.
    pub(crate) fn receive(&mut self, producer: u32, seq: u64) -> Arrival {
        let Some(state) = self
            .producer_mut(producer)
            .and_then(|m| usize::try_from(seq).ok().and_then(|i| m.get_mut(i)))
        else {
            return Arrival::Unknown;
        };
        let deliveries = *state >> 1;
        if deliveries < MAX_DELIVERIES {
            *state += ONE_DELIVERY;
        }
        if deliveries > 0 {
            self.redeliveries += 1;
            return Arrival::Again;
        }
        if *state & ACKNOWLEDGED != 0 {
            debug_assert!(self.pending > 0, "pending count out of step");
            self.pending = self.pending.saturating_sub(1);
        }
        Arrival::First
    }

    /// Messages acknowledged by the broker and not yet received.
    pub(crate) fn pending(&self) -> u64 {
        self.pending
    }

    /// Counts lost and duplicated messages (a full pass: call it once, at the end).
    pub(crate) fn verdict(&self) -> Verdict {
        let mut verdict = Verdict {
            redeliveries: self.redeliveries,
            ..Verdict::default()
        };
        for &state in self.messages.iter().flatten() {
            let acknowledged = state & ACKNOWLEDGED != 0;
            let deliveries = state >> 1;
            verdict.acknowledged += u64::from(acknowledged);
            verdict.received += u64::from(deliveries > 0);
            verdict.lost += u64::from(acknowledged && deliveries == 0);
            verdict.duplicated += u64::from(deliveries > 1);
            verdict.received_unacknowledged += u64::from(!acknowledged && deliveries > 0);
        }
        debug_assert_eq!(
            verdict.lost, self.pending,
            "lost must equal what is still pending"
        );
        verdict
    }

    fn producer_mut(&mut self, producer: u32) -> Option<&mut Vec<u8>> {
        usize::try_from(producer)
            .ok()
            .and_then(|p| self.messages.get_mut(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_acknowledged_message_received_once_is_clean() {
        let mut ledger = Ledger::new(2);
        ledger.issue(0, 3);
        ledger.issue(1, 2);
        ledger.acknowledge(0, 0..3);
        ledger.acknowledge(1, 0..2);
        assert_eq!(ledger.pending(), 5);
        for (p, seq) in [(0, 0), (1, 1), (0, 2), (0, 1), (1, 0)] {
            assert_eq!(ledger.receive(p, seq), Arrival::First);
        }
        assert_eq!(ledger.pending(), 0);
        assert_eq!(
            ledger.verdict(),
            Verdict {
                acknowledged: 5,
                received: 5,
                ..Verdict::default()
            }
        );
    }

    #[test]
    fn unreceived_acknowledged_messages_are_lost() {
        let mut ledger = Ledger::new(1);
        ledger.issue(0, 4);
        ledger.acknowledge(0, 0..4);
        ledger.receive(0, 1);
        ledger.receive(0, 3);
        assert_eq!(ledger.pending(), 2);
        let verdict = ledger.verdict();
        assert_eq!(
            (verdict.acknowledged, verdict.received, verdict.lost),
            (4, 2, 2)
        );
    }

    #[test]
    fn repeats_are_duplicates_counted_once_per_message() {
        let mut ledger = Ledger::new(1);
        ledger.issue(0, 2);
        ledger.acknowledge(0, 0..2);
        assert_eq!(ledger.receive(0, 0), Arrival::First);
        assert_eq!(ledger.receive(0, 0), Arrival::Again);
        assert_eq!(ledger.receive(0, 0), Arrival::Again);
        assert_eq!(ledger.receive(0, 1), Arrival::First);
        let verdict = ledger.verdict();
        assert_eq!(
            (verdict.duplicated, verdict.redeliveries, verdict.lost),
            (1, 2, 0)
        );
    }

    #[test]
    fn a_delivery_may_overtake_the_send_reply() {
        let mut ledger = Ledger::new(1);
        ledger.issue(0, 1);
        assert_eq!(ledger.receive(0, 0), Arrival::First);
        assert_eq!(ledger.pending(), 0);
        ledger.acknowledge(0, 0..1);
        assert_eq!(ledger.pending(), 0, "already received, so not pending");
        assert_eq!(
            ledger.verdict(),
            Verdict {
                acknowledged: 1,
                received: 1,
                ..Verdict::default()
            }
        );
    }

    #[test]
    fn received_but_never_acknowledged_is_neither_lost_nor_duplicated() {
        let mut ledger = Ledger::new(1);
        ledger.issue(0, 2);
        ledger.acknowledge(0, 0..1);
        ledger.receive(0, 0);
        ledger.receive(0, 1);
        let verdict = ledger.verdict();
        assert_eq!(
            (
                verdict.lost,
                verdict.duplicated,
                verdict.received_unacknowledged
            ),
            (0, 0, 1)
        );
    }

    #[test]
    fn messages_this_run_never_issued_are_unknown() {
        let mut ledger = Ledger::new(1);
        ledger.issue(0, 1);
        assert_eq!(ledger.receive(1, 0), Arrival::Unknown);
        assert_eq!(ledger.receive(0, 1), Arrival::Unknown);
        assert_eq!(ledger.receive(0, u64::MAX), Arrival::Unknown);
        assert_eq!(ledger.verdict(), Verdict::default());
    }

    #[test]
    fn the_delivery_counter_saturates_but_redeliveries_stay_exact() {
        let mut ledger = Ledger::new(1);
        ledger.issue(0, 1);
        ledger.acknowledge(0, 0..1);
        for _ in 0..300 {
            ledger.receive(0, 0);
        }
        let verdict = ledger.verdict();
        assert_eq!(
            (verdict.received, verdict.duplicated, verdict.redeliveries),
            (1, 1, 299)
        );
        assert_eq!(
            verdict.acknowledged, 1,
            "the count never spills into the acknowledged bit"
        );
    }
}

//! Checks every message off: each `(producer, seq)` that was sent must come back once.

use serde::{Deserialize, Serialize};

use crate::payload::Header;

/// What became of one received body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Its first delivery.
    First,
    /// It had been received before.
    Duplicate,
    /// Not a body this run sent.
    Foreign,
}

/// Receive counts for every message of a run, by producer and sequence number.
#[derive(Debug)]
pub struct Ledger {
    /// `counts[producer][seq]`: deliveries so far, saturating at 255.
    counts: Vec<Vec<u8>>,
    /// Messages received at least once.
    unique: u64,
    /// Deliveries beyond the first.
    duplicated: u64,
    /// Bodies this run did not write.
    foreign: u64,
}

/// The verdict on a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Messages sent (and confirmed by the system).
    pub sent: u64,
    /// Sent, never received.
    pub lost: u64,
    /// Deliveries beyond the first.
    pub duplicated: u64,
    /// Received bodies this run did not write.
    pub foreign: u64,
}

impl Verification {
    /// Nothing lost, duplicated or foreign.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.foreign == 0
    }
}

impl Ledger {
    /// A ledger for `per_producer[p]` messages from each producer `p`.
    pub fn new(per_producer: &[u64]) -> Ledger {
        let counts = per_producer
            .iter()
            .map(|&n| vec![0; usize::try_from(n).unwrap_or(usize::MAX)])
            .collect();
        Ledger {
            counts,
            unique: 0,
            duplicated: 0,
            foreign: 0,
        }
    }

    /// Records one delivery.
    pub fn record(&mut self, header: Option<Header>) -> Seen {
        let slot = header.and_then(|h| {
            let seq = usize::try_from(h.seq).ok()?;
            self.counts.get_mut(usize::from(h.producer))?.get_mut(seq)
        });
        let Some(count) = slot else {
            self.foreign += 1;
            return Seen::Foreign;
        };
        *count = count.saturating_add(1);
        if *count == 1 {
            self.unique += 1;
            Seen::First
        } else {
            self.duplicated += 1;
            Seen::Duplicate
        }
    }

    /// Messages received at least once so far.
    pub fn unique(&self) -> u64 {
        self.unique
    }

    /// Messages the run expects in all.
    pub fn expected(&self) -> u64 {
        self.counts.iter().map(|c| c.len() as u64).sum()
    }

    /// The verdict, counting every message never received as lost.
    pub fn verify(&self) -> Verification {
        let expected = self.expected();
        Verification {
            sent: expected,
            lost: expected - self.unique,
            duplicated: self.duplicated,
            foreign: self.foreign,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(producer: u16, seq: u64) -> Option<Header> {
        Some(Header {
            producer,
            seq,
            sent_ns: 0,
        })
    }

    #[test]
    fn counts_lost_duplicated_and_foreign() {
        let mut ledger = Ledger::new(&[2, 1]);
        assert_eq!(ledger.record(header(0, 0)), Seen::First);
        assert_eq!(ledger.record(header(0, 0)), Seen::Duplicate);
        assert_eq!(ledger.record(header(1, 0)), Seen::First);
        assert_eq!(ledger.record(header(1, 1)), Seen::Foreign);
        assert_eq!(ledger.record(header(7, 0)), Seen::Foreign);
        assert_eq!(ledger.record(None), Seen::Foreign);
        let verdict = ledger.verify();
        assert_eq!(
            verdict,
            Verification {
                sent: 3,
                lost: 1,
                duplicated: 1,
                foreign: 3
            }
        );
        assert!(!verdict.is_clean());
    }

    #[test]
    fn a_complete_run_is_clean() {
        let mut ledger = Ledger::new(&[3]);
        for seq in 0..3 {
            ledger.record(header(0, seq));
        }
        assert_eq!(ledger.unique(), ledger.expected());
        assert!(ledger.verify().is_clean());
    }
}

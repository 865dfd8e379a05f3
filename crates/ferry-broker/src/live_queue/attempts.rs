//! Receive attempts: which receipts a receive with an attempt id handed out, so that a client
//! that lost the reply can repeat the receive and get the same messages (SQS
//! `ReceiveRequestAttemptId`). Kept in memory only: after a restart a repeated attempt simply
//! receives anew, which at-least-once delivery allows.

use super::read::Leased;
use super::task::LiveQueue;
use crate::error::Result;
use ferry_core::queue::DeliveryMeta;
use ferry_core::{Receipt, Timestamp};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// How long an attempt id can be repeated.
const ATTEMPT_TTL: Duration = Duration::from_secs(5 * 60);
/// Most attempts remembered per queue; the oldest are forgotten first.
const MAX_ATTEMPTS: usize = 10_000;
/// Longest attempt id accepted.
pub(crate) const MAX_ATTEMPT_ID_BYTES: usize = 128;

/// A delivery an attempt handed out: its receipt, and when its lease was to run out then.
pub(crate) type Handed = (Receipt, Timestamp);

/// Remembered attempts, by id.
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    by_id: HashMap<String, (Instant, Vec<Handed>)>,
}

impl Attempts {
    /// What the attempt `id` handed out, if it is recent.
    pub(crate) fn get(&self, id: &str, now: Instant) -> Option<&[Handed]> {
        let (at, handed) = self.by_id.get(id)?;
        (now.duration_since(*at) < ATTEMPT_TTL).then_some(handed.as_slice())
    }

    /// Remembers that the attempt `id` handed out `handed`.
    pub(crate) fn remember(&mut self, id: String, handed: Vec<Handed>, now: Instant) {
        if self.by_id.len() >= MAX_ATTEMPTS {
            self.by_id
                .retain(|_, (at, _)| now.duration_since(*at) < ATTEMPT_TTL);
        }
        if self.by_id.len() >= MAX_ATTEMPTS
            && let Some(oldest) = self
                .by_id
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            self.by_id.remove(&oldest);
        }
        self.by_id.insert(id, (now, handed));
    }
}

impl LiveQueue {
    /// Repeats the receive attempt `id` if it is recent and every message it returned is still
    /// leased under the receipts it returned, untouched since (no visibility change, as SQS
    /// requires): the same deliveries, leases extended by `visibility` (as SQS does). `None`
    /// when there is nothing to repeat, and for a visibility of 0, which would hand out
    /// messages it makes visible again.
    pub(super) fn repeat_attempt(
        &mut self,
        id: &str,
        now: Timestamp,
        visibility: Duration,
    ) -> Result<Option<Vec<Leased>>> {
        if visibility.is_zero() {
            return Ok(None);
        }
        let Some(handed) = self
            .attempts
            .get(id, Instant::now())
            .map(<[Handed]>::to_vec)
        else {
            return Ok(None);
        };
        let metas: Option<Vec<DeliveryMeta>> = handed
            .iter()
            .map(|(receipt, until)| {
                self.state
                    .leased_under(receipt)
                    .filter(|(_, now_until)| now_until == until)
                    .map(|(meta, _)| meta)
            })
            .collect();
        let Some(metas) = metas else { return Ok(None) };
        let receipts: Vec<Receipt> = handed.iter().map(|(r, _)| *r).collect();
        let (command, _) = self
            .state
            .decide_change_visibility(now, &receipts, visibility);
        if let Some(command) = command {
            self.append_apply(&command, &[])?;
        }
        self.remember_attempt(id, &receipts);
        let uid = self.state.uid();
        self.leased(uid, metas, false).map(Some)
    }

    /// Remembers what the attempt `id` handed out: `receipts`, with their leases as they are
    /// now.
    pub(super) fn remember_attempt(&mut self, id: &str, receipts: &[Receipt]) {
        let handed = receipts
            .iter()
            .filter_map(|r| Some((*r, self.state.leased_under(r)?.1)))
            .collect();
        self.attempts
            .remember(id.to_owned(), handed, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_core::MessageId;

    #[test]
    fn attempts_expire_and_stay_bounded() {
        let mut attempts = Attempts::default();
        let t0 = Instant::now();
        let receipt = Receipt {
            id: MessageId::new(1, 1),
            receive_count: 1,
        };
        let handed = (receipt, Timestamp(1_000));
        attempts.remember("a".into(), vec![handed], t0);
        assert_eq!(
            attempts.get("a", t0 + Duration::from_secs(1)),
            Some(&[handed][..])
        );
        assert_eq!(attempts.get("a", t0 + ATTEMPT_TTL), None);
        for i in 0..MAX_ATTEMPTS + 5 {
            attempts.remember(
                format!("k{i}"),
                Vec::new(),
                t0 + ATTEMPT_TTL + Duration::from_millis(i as u64),
            );
        }
        assert!(attempts.by_id.len() <= MAX_ATTEMPTS);
    }
}

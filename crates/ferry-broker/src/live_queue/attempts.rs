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

/// Remembered attempts, by id.
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    by_id: HashMap<String, (Instant, Vec<Receipt>)>,
}

impl Attempts {
    /// The receipts the attempt `id` handed out, if it is recent.
    pub(crate) fn get(&self, id: &str, now: Instant) -> Option<&[Receipt]> {
        let (at, receipts) = self.by_id.get(id)?;
        (now.duration_since(*at) < ATTEMPT_TTL).then_some(receipts.as_slice())
    }

    /// Remembers that the attempt `id` handed out `receipts`.
    pub(crate) fn remember(&mut self, id: String, receipts: Vec<Receipt>, now: Instant) {
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
        self.by_id.insert(id, (now, receipts));
    }
}

impl LiveQueue {
    /// Repeats the receive attempt `id` if it is recent and every message it returned is still
    /// leased under the receipts it returned: the same deliveries, leases extended by
    /// `visibility` (as SQS does). `None` when there is nothing to repeat.
    pub(super) fn repeat_attempt(
        &mut self,
        id: &str,
        now: Timestamp,
        visibility: Duration,
    ) -> Result<Option<Vec<Leased>>> {
        let Some(receipts) = self
            .attempts
            .get(id, Instant::now())
            .map(<[Receipt]>::to_vec)
        else {
            return Ok(None);
        };
        let metas: Option<Vec<DeliveryMeta>> = receipts
            .iter()
            .map(|r| self.state.leased_under(r))
            .collect();
        let Some(metas) = metas else { return Ok(None) };
        let (command, _) = self
            .state
            .decide_change_visibility(now, &receipts, visibility);
        if let Some(command) = command {
            self.append_apply(&command, &[])?;
        }
        let uid = self.state.uid();
        self.leased(uid, metas, false).map(Some)
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
        attempts.remember("a".into(), vec![receipt], t0);
        assert_eq!(
            attempts.get("a", t0 + Duration::from_secs(1)),
            Some(&[receipt][..])
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

//! Redrive: moving messages from a dead-letter queue back to the queues they failed in.
//!
//! Each round leases a batch from the dead-letter queue, enqueues every message durably into its
//! source queue, then acks it in the dead-letter queue. A crash between the two steps leaves a
//! copy in both (at-least-once), never none.

use crate::broker::Broker;
use crate::error::{Error, ErrorKind, Result};
use crate::live_queue::{Incoming, QueueHandle};
use crate::types::{AckMode, ReceiveOptions, RedriveOptions};
use ferry_core::queue::NewMessage;
use std::collections::BTreeMap;
use std::time::Duration;

/// Messages leased from the dead-letter queue per round.
pub(crate) const BATCH: u32 = 100;
/// How long a redrive round may hold its lease.
const LEASE: Duration = Duration::from_secs(60);
/// The slowest pace a redrive may be asked for: one message every 100 seconds.
pub(crate) const MIN_RATE_PER_S: f64 = 0.01;

pub(crate) async fn run(broker: &Broker, name: &str, options: RedriveOptions) -> Result<u64> {
    let dlq = broker.handle(name)?;
    if options
        .rate_per_s
        .is_some_and(|r| !(r.is_finite() && r >= MIN_RATE_PER_S))
    {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!("rate_per_s must be a number of at least {MIN_RATE_PER_S}"),
        ));
    }
    let limit = options.max.unwrap_or(u64::MAX);
    let started = tokio::time::Instant::now();
    let mut moved = 0u64;
    let mut skipped = Vec::new();
    while moved < limit {
        let want = u32::try_from((limit - moved).min(u64::from(BATCH))).unwrap_or(BATCH);
        let want = match options.rate_per_s {
            Some(rate) => want.min(rate.ceil().max(1.0) as u32),
            None => want,
        };
        let Some(count) = move_batch(broker, &dlq, want, None, &mut skipped).await? else {
            break;
        };
        moved += count;
        if let Some(rate) = options.rate_per_s {
            // Only beyond ~10^17 messages would the pace not fit a `Duration`.
            let due = Duration::try_from_secs_f64(moved as f64 / rate)
                .ok()
                .and_then(|pace| started.checked_add(pace));
            match due {
                Some(due) => tokio::time::sleep_until(due).await,
                None => break,
            }
        }
    }
    if !skipped.is_empty() {
        // Messages with no (live) source queue stay in the dead-letter queue, visible again.
        dlq.change_visibility(skipped, Duration::ZERO).await?;
    }
    Ok(moved)
}

/// Moves one batch of up to `want` messages out of dead-letter queue `dlq`: to `destination`
/// if given, else each to its source queue. Receipts of messages that cannot move (no or no
/// live source queue) are added to `skipped`; the caller makes them visible again.
/// Returns how many moved, or `None` once the dead-letter queue has nothing visible.
pub(crate) async fn move_batch(
    broker: &Broker,
    dlq: &QueueHandle,
    want: u32,
    destination: Option<&str>,
    skipped: &mut Vec<String>,
) -> Result<Option<u64>> {
    let options_receive = ReceiveOptions {
        max: want,
        wait: Duration::ZERO,
        visibility_timeout: Some(LEASE),
        ack_mode: AckMode::Manual,
        consumer: Some("ferry-redrive".into()),
        attempt_id: None,
    };
    let batch = dlq.receive(options_receive).await?;
    if batch.is_empty() {
        return Ok(None);
    }
    let mut by_target: BTreeMap<String, (Vec<Incoming>, Vec<String>)> = BTreeMap::new();
    for d in batch {
        let source = d.dead_letter.as_ref().map(|i| i.source_queue.clone());
        let Some(target) = destination.map(str::to_owned).or(source) else {
            skipped.push(d.receipt);
            continue;
        };
        let message = NewMessage {
            body: d.body,
            attributes: d.attributes,
            typed_attributes: d.typed_attributes,
            group: d.group,
            ..NewMessage::default()
        };
        let entry = by_target.entry(target).or_default();
        entry.0.push(Incoming {
            message,
            dead_letter: None,
        });
        entry.1.push(d.receipt);
    }
    let mut moved = 0;
    for (target, (messages, receipts)) in by_target {
        let count = messages.len() as u64;
        match broker.handle(&target) {
            Ok(queue) => {
                queue.send(messages).await?;
                dlq.ack(receipts).await?;
                moved += count;
            }
            Err(_) => skipped.extend(receipts),
        }
    }
    Ok(Some(moved))
}

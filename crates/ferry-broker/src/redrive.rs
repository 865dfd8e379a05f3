//! Redrive: moving messages from a dead-letter queue back to the queues they failed in.
//!
//! Each round leases a batch from the dead-letter queue, enqueues every message durably into its
//! source queue, then acks it in the dead-letter queue. A crash between the two steps leaves a
//! copy in both (at-least-once), never none.

use crate::broker::Broker;
use crate::error::{Error, ErrorKind, Result};
use crate::live_queue::Incoming;
use crate::types::{AckMode, ReceiveOptions, RedriveOptions};
use ferry_core::queue::NewMessage;
use std::collections::BTreeMap;
use std::time::Duration;

/// Messages leased from the dead-letter queue per round.
const BATCH: u32 = 100;
/// How long a redrive round may hold its lease.
const LEASE: Duration = Duration::from_secs(60);

pub(crate) async fn run(broker: &Broker, name: &str, options: RedriveOptions) -> Result<u64> {
    let dlq = broker.handle(name)?;
    if options
        .rate_per_s
        .is_some_and(|r| !(r.is_finite() && r > 0.0))
    {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            "rate_per_s must be a positive number",
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
        let options_receive = ReceiveOptions {
            max: want,
            wait: Duration::ZERO,
            visibility_timeout: Some(LEASE),
            ack_mode: AckMode::Manual,
            consumer: Some("ferry-redrive".into()),
        };
        let batch = dlq.receive(options_receive).await?;
        if batch.is_empty() {
            break;
        }
        let mut by_source: BTreeMap<String, (Vec<Incoming>, Vec<String>)> = BTreeMap::new();
        for d in batch {
            let Some(source) = d.dead_letter.as_ref().map(|i| i.source_queue.clone()) else {
                skipped.push(d.receipt);
                continue;
            };
            let message = NewMessage {
                body: d.body,
                attributes: d.attributes,
                group: d.group,
                ..NewMessage::default()
            };
            let entry = by_source.entry(source).or_default();
            entry.0.push(Incoming {
                message,
                dead_letter: None,
            });
            entry.1.push(d.receipt);
        }
        for (source, (messages, receipts)) in by_source {
            let count = messages.len() as u64;
            match broker.handle(&source) {
                Ok(queue) => {
                    queue.send(messages).await?;
                    dlq.ack(receipts).await?;
                    moved += count;
                }
                Err(_) => skipped.extend(receipts),
            }
        }
        if let Some(rate) = options.rate_per_s {
            let due = started + Duration::from_secs_f64(moved as f64 / rate);
            tokio::time::sleep_until(due).await;
        }
    }
    if !skipped.is_empty() {
        // Messages with no (live) source queue stay in the dead-letter queue, visible again.
        dlq.change_visibility(skipped, Duration::ZERO).await?;
    }
    Ok(moved)
}

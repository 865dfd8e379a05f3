//! Atomic ack and publish (consume-transform-produce): one request acks leased messages and
//! publishes messages and records, all or nothing.
//!
//! The transaction is one record in the log of the queue whose messages it acks: the acks and
//! the published messages and records (as parcels) are written and made durable together, and
//! the reply comes only then. The parcels then leave through that queue's outbox, the way a
//! resequencer's results do: each target stores them exactly once, in order, shortly after the
//! reply. All acks must therefore be in one queue.

use super::{Broker, invalid};
use crate::error::{Error, ErrorKind, Result};
use crate::live_queue::rejection;
use crate::live_stream::check_record;
use crate::stream_types::NewRecord;
use ferry_core::queue::{NewMessage, Parcel, check_new_message};
use std::collections::BTreeSet;

/// Most acks plus published messages and records in one transaction.
pub const MAX_TRANSACTION_ENTRIES: usize = 1_000;

/// A lease to settle in a transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransactionAck {
    /// The queue the message was received from.
    pub queue: String,
    /// The receipt of its lease.
    pub receipt: String,
}

/// What a transaction publishes to one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransactionPublish {
    /// Messages for a queue.
    Messages {
        /// The queue.
        queue: String,
        /// The messages.
        messages: Vec<NewMessage>,
    },
    /// Records for a stream.
    Records {
        /// The stream.
        stream: String,
        /// The records (a keyless record without a partition goes to partition 0).
        records: Vec<NewRecord>,
    },
}

/// One atomic transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transaction {
    /// Leases to ack, all of one queue (at least one).
    pub acks: Vec<TransactionAck>,
    /// What to publish.
    pub publish: Vec<TransactionPublish>,
}

/// What a committed transaction did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransactionOutcome {
    /// Messages acked.
    pub acked: u32,
    /// Messages and records published (stored by their targets shortly after the reply).
    pub published: u32,
}

impl Broker {
    /// Acks every receipt and publishes every message and record as one durable command:
    /// either all of it happens or none. Answers once the transaction is durable; targets
    /// store what was published right after, exactly once.
    ///
    /// # Errors
    /// `invalid_request` (no ack, acks in several queues, a bad message or record),
    /// `queue_not_found`, `stream_not_found`, `partition_not_found`, `message_too_large`,
    /// `batch_too_large`; for a refused receipt the receipt's error (`stale_receipt`,
    /// `invalid_receipt`), naming every refused receipt — and then nothing was done.
    pub async fn transact(&self, transaction: Transaction) -> Result<TransactionOutcome> {
        self.check_open()?;
        let queues: BTreeSet<&str> = transaction.acks.iter().map(|a| a.queue.as_str()).collect();
        let source = match queues.len() {
            0 => return Err(invalid("a transaction needs at least one ack")),
            1 => queues.first().copied().unwrap_or_default(),
            _ => {
                return Err(invalid(format!(
                    "a transaction acks receipts of one queue, not {}: {:?}",
                    queues.len(),
                    queues
                )));
            }
        };
        let handle = self.queue(source)?;
        let parcels = self.parcels(transaction.publish)?;
        let entries = transaction.acks.len() + parcels.len();
        if entries > MAX_TRANSACTION_ENTRIES {
            return Err(Error::new(
                ErrorKind::BatchTooLarge,
                format!(
                    "a transaction has {entries} acks and publishes, more than the maximum of {MAX_TRANSACTION_ENTRIES}"
                ),
            ));
        }
        let published = u32::try_from(parcels.len()).unwrap_or(u32::MAX);
        let receipts = transaction.acks.into_iter().map(|a| a.receipt).collect();
        let acked = handle.transact(receipts, parcels).await?;
        Ok(TransactionOutcome { acked, published })
    }

    /// Checks every message and record against its target, as a send or append would, and
    /// turns them into parcels.
    fn parcels(&self, publish: Vec<TransactionPublish>) -> Result<Vec<Parcel>> {
        let mut parcels = Vec::new();
        for target in publish {
            match target {
                TransactionPublish::Messages { queue, messages } => {
                    let config = self.record(&queue)?.config;
                    for (index, m) in messages.into_iter().enumerate() {
                        check_new_message(&config, index, &m).map_err(|r| rejection(&queue, r))?;
                        parcels.push(Parcel::Message {
                            queue: queue.clone(),
                            body: m.body,
                            attributes: m.attributes,
                            delay_ms: m.delay.map(|d| d.as_millis() as u64),
                            deliver_at: m.deliver_at,
                            dedup_id: m.dedup_id,
                            group: m.group,
                            priority: m.priority,
                            ttl_ms: m.ttl.map(|d| d.as_millis() as u64),
                        });
                    }
                }
                TransactionPublish::Records { stream, records } => {
                    let live = self.stream(&stream)?;
                    let config = live.config();
                    for (index, r) in records.into_iter().enumerate() {
                        check_record(&stream, index, &r, &config)?;
                        if let Some(p) = r.partition.filter(|&p| p >= config.partitions) {
                            return Err(Error::new(
                                ErrorKind::PartitionNotFound,
                                format!(
                                    "record {index}: stream {stream:?} has no partition {p}; it has partitions 0..{}",
                                    config.partitions
                                ),
                            ));
                        }
                        parcels.push(Parcel::Record {
                            stream: stream.clone(),
                            partition: r.partition,
                            key: r.key,
                            value: r.value,
                            headers: r.headers,
                            timestamp: r.timestamp,
                        });
                    }
                }
            }
        }
        Ok(parcels)
    }
}

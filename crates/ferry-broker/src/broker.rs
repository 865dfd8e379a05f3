//! The one API every front end calls.

use crate::config::BrokerConfig;
use crate::error::Result;
use crate::types::*;
use ferry_core::queue::{NewMessage, PeekedMessage, QueueConfig, Delivery};
use ferry_core::MessageId;
use std::time::Duration;

/// A running broker: cheap to clone, safe to share between tasks.
#[derive(Clone)]
pub struct Broker {}

#[allow(unused_variables, missing_docs, clippy::unused_async)]
impl Broker {
    /// Opens the data directory, recovers every queue, and starts their tasks.
    pub async fn open(config: BrokerConfig) -> Result<Broker> { todo!() }
    /// Flushes and stops every queue; later calls fail with `unavailable`.
    pub async fn shutdown(&self) { todo!() }
    /// Creates the queue, or replaces the config of an existing one.
    pub async fn put_queue(&self, name: &str, config: QueueConfig) -> Result<Upsert> { todo!() }
    /// Every queue, by name.
    pub async fn list_queues(&self) -> Vec<QueueSummary> { todo!() }
    /// One queue's config and stats.
    pub async fn queue_info(&self, name: &str) -> Result<QueueInfo> { todo!() }
    /// Deletes the queue and its messages.
    pub async fn delete_queue(&self, name: &str) -> Result<()> { todo!() }
    /// Enqueues a batch; answers once it is durable.
    pub async fn send(&self, name: &str, messages: Vec<NewMessage>) -> Result<Vec<Sent>> { todo!() }
    /// Receives up to `options.max` messages.
    pub async fn receive(&self, name: &str, options: ReceiveOptions) -> Result<Vec<Delivery>> { todo!() }
    /// Acks (deletes) leased messages.
    pub async fn ack(&self, name: &str, receipts: Vec<String>) -> Result<BatchOutcome> { todo!() }
    /// Gives leased messages back, after `delay` or the queue's backoff.
    pub async fn nack(&self, name: &str, receipts: Vec<String>, delay: Option<Duration>, reason: Option<String>) -> Result<BatchOutcome> { todo!() }
    /// Sets the remaining lease of leased messages to `timeout` from now.
    pub async fn change_visibility(&self, name: &str, receipts: Vec<String>, timeout: Duration) -> Result<BatchOutcome> { todo!() }
    /// Browses messages in queue order without leasing them.
    pub async fn peek(&self, name: &str, limit: usize) -> Result<Vec<PeekedMessage>> { todo!() }
    /// Removes one message that is not in flight.
    pub async fn cancel(&self, name: &str, id: MessageId) -> Result<()> { todo!() }
    /// Removes every message; returns how many.
    pub async fn purge(&self, name: &str) -> Result<u64> { todo!() }
    /// Moves messages from a dead-letter queue back to their source queues; returns how many.
    pub async fn redrive(&self, name: &str, options: RedriveOptions) -> Result<u64> { todo!() }
}

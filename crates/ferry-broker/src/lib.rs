//! Ferry's broker: owns the catalog and the live queues, binds each queue's pure state machine
//! to its log, runs its timers, routes dead letters, and offers the one API ([`Broker`]) that
//! every front end (native HTTP, SQS, Kafka, CLI) calls.
//!
//! It is not a protocol adapter: it knows nothing of HTTP or JSON.

mod broker;
mod config;
mod error;
mod types;

pub use broker::Broker;
pub use config::BrokerConfig;
pub use error::{Error, ErrorKind, Result};
pub use ferry_core::queue::{
    Body, BodyEncoding, DeadLetterCause, DeadLetterInfo, Delivery, ExpireAction, LeaseInfo, MessageState, NewMessage,
    Overflow, PeekedMessage, QueueConfig, QueueStats,
};
pub use ferry_core::{MessageId, QueueName, Timestamp};
pub use ferry_log::FsyncPolicy;
pub use types::*;

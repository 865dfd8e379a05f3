//! Ferry's broker: owns the catalog and the live queues, binds each queue's pure state machine
//! to its log, runs its timers, routes dead letters, and offers the one API ([`Broker`]) that
//! every front end (native HTTP, SQS, Kafka, CLI) calls.
//!
//! It is not a protocol adapter: it knows nothing of HTTP or JSON.
//!
//! ```
//! # async fn demo() -> Result<(), ferry_broker::Error> {
//! use ferry_broker::{Body, Broker, BrokerConfig, NewMessage, QueueConfig, ReceiveOptions};
//! let dir = std::env::temp_dir().join(format!("ferry-doc-{}", std::process::id()));
//! let broker = Broker::open(BrokerConfig { data_dir: dir, ..BrokerConfig::default() }).await?;
//! broker.put_queue("jobs", QueueConfig::default()).await?;
//! broker.send("jobs", vec![NewMessage { body: Body::text("hello"), ..NewMessage::default() }]).await?;
//! let got = broker.receive("jobs", ReceiveOptions { max: 10, ..ReceiveOptions::default() }).await?;
//! broker.ack("jobs", got.into_iter().map(|d| d.receipt).collect()).await?;
//! broker.shutdown().await;
//! # Ok(()) }
//! ```

mod broker;
mod catalog;
mod clock;
mod config;
mod error;
mod live_queue;
mod live_stream;
pub mod metrics;
mod redrive;
mod registry;
mod snapshot;
mod stream_types;
mod types;

pub use broker::{
    BatchAppend, BatchRead, Broker, ClassicGroupSummary, CommitError, GroupCommit,
    MAX_COMMIT_METADATA_BYTES, MAX_MOVE_RATE_PER_S, MAX_TAGS, MAX_TRANSACTION_ENTRIES, MoveTask,
    MoveTaskOptions, MoveTaskStatus, Transaction, TransactionAck, TransactionOutcome,
    TransactionPublish, WaitTarget,
};
pub use catalog::CommittedOffset;
pub use config::BrokerConfig;
pub use error::{Error, ErrorKind, Result};
pub use ferry_core::queue::{
    Body, BodyEncoding, DeadLetterCause, DeadLetterInfo, DedupScope, Delivery, ExpireAction,
    GAP_MARKER_ATTRIBUTE, GapPolicy, LeaseInfo, MessageState, NewMessage, Output, Overflow,
    PeekedMessage, QueueConfig, QueueStats, ResequenceConfig, ResequenceStats, SOURCE_ID_ATTRIBUTE,
    TypedAttribute, TypedAttributes, TypedValue,
};
pub use ferry_core::stream::{Cleanup, StreamConfig, StreamRecord};
pub use ferry_core::{MessageId, QueueName, Timestamp};
pub use ferry_log::FsyncPolicy;
pub use stream_types::*;
pub use types::*;

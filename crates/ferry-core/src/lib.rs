//! Ferry's pure state machines. Nothing here does I/O or reads a clock: every command carries
//! the time it happened at, so a queue's state is a function of its command log, which makes
//! recovery a replay and lets tests drive time by hand.
//!
//! [`queue`] holds the work-queue state machine; [`stream`] the pure parts of event streams:
//! their config, the Kafka v2 record batch codec, key partitioning and compaction planning.

mod ids;
pub mod queue;
pub mod stream;
mod time;

pub use ids::{
    FIFO_SUFFIX, GroupName, IdText, InvalidName, MAX_GROUP_NAME_CHARS, MAX_NAME_CHARS,
    MAX_STREAM_NAME_CHARS, MessageId, QueueName, Receipt, StreamName,
};
pub use time::Timestamp;

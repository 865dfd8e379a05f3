//! Ferry's pure state machines. Nothing here does I/O or reads a clock: every command carries
//! the time it happened at, so a queue's state is a function of its command log, which makes
//! recovery a replay and lets tests drive time by hand.

mod ids;
pub mod queue;
mod time;

pub use ids::{FIFO_SUFFIX, InvalidName, MAX_NAME_CHARS, MessageId, QueueName, Receipt};
pub use time::Timestamp;

//! Work queues: configuration, messages, and the pure state machine.
//!
//! The flow is *decide → log → apply*: a `decide_*` method checks a request against the state
//! and resolves it into a [`Command`]; the owner appends the command to the queue's log; then
//! [`QueueState::apply`] changes the state. Replaying the log through `apply` rebuilds it.

mod attribute;
mod backoff;
mod command;
mod config;
mod decide;
mod dedup;
mod limits;
mod message;
mod observe;
mod parcel;
pub mod resequence;
mod seq_map;
mod seq_set;
mod state;
mod stored_config;
mod view;

pub use attribute::{TypedAttribute, TypedAttributes, TypedValue};
pub use backoff::retry_delay;
pub use command::*;
pub use config::*;
pub use decide::*;
pub use dedup::{DedupKey, DedupWindow};
pub use limits::TokenBucket;
pub use message::*;
pub use observe::{Breakdown, FifoBreakdown, GroupLoad, Tally};
pub use parcel::{Parcel, ParcelError};
pub use resequence::{
    GAP_MARKER_ATTRIBUTE, GapPolicy, Output, Release, ReleaseKind, ResequenceConfig,
    ResequenceStats, SOURCE_ID_ATTRIBUTE,
};
pub use state::QueueState;
pub use stored_config::LegacyConfig;
pub use view::*;

#[cfg(test)]
mod props;
#[cfg(test)]
mod resequence_tests;
#[cfg(test)]
mod tests;

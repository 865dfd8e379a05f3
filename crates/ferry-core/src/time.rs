//! Wall-clock instants as plain data, so that state machines take time as an argument.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A point in time: milliseconds since the Unix epoch.
///
/// The state machines never read a clock; every command carries the `now` it happened at, which
/// makes them deterministic to replay and lets tests drive time by hand.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The earliest representable instant.
    pub const ZERO: Timestamp = Timestamp(0);
    /// Far enough in the future to mean "never".
    pub const NEVER: Timestamp = Timestamp(u64::MAX);

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// This instant plus `d`, saturating at [`Timestamp::NEVER`].
    pub fn plus(self, d: Duration) -> Timestamp {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }

    /// How long after `earlier` this instant is (zero if it is not after it).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

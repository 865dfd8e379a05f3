//! The one place the broker reads the wall clock.

use ferry_core::Timestamp;
use std::time::{SystemTime, UNIX_EPOCH};

/// The current wall-clock time.
pub(crate) fn wall_now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// A clock that never goes back, even if the wall clock does: commands in a log must carry
/// non-decreasing times for replay to match.
#[derive(Debug, Default)]
pub(crate) struct MonotonicClock {
    last: Timestamp,
}

impl MonotonicClock {
    /// Starts at least at `floor` (the latest time a recovered queue has seen).
    pub(crate) fn starting_at(floor: Timestamp) -> MonotonicClock {
        MonotonicClock { last: floor }
    }

    /// The current time, never earlier than any earlier answer.
    pub(crate) fn now(&mut self) -> Timestamp {
        self.last = self.last.max(wall_now());
        self.last
    }
}

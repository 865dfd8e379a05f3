//! One monotonic clock for the whole process, so that a send time written by a producer task
//! can be compared with a receive time read by a consumer task.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static ORIGIN: OnceLock<Instant> = OnceLock::new();

/// The clock's zero: the first time anything asked for it.
pub fn origin() -> Instant {
    *ORIGIN.get_or_init(Instant::now)
}

/// Nanoseconds since [`origin`].
pub fn now_ns() -> u64 {
    to_ns(origin().elapsed())
}

/// A duration in whole nanoseconds, saturating.
pub fn to_ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The instant `ns` nanoseconds after [`origin`].
pub fn at_ns(ns: u64) -> Instant {
    origin() + Duration::from_nanos(ns)
}
